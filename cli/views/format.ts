/** Plain-text renderings of a local pipeline's state: pure functions of the status. */
import { COMPONENTS } from '../../api/v1alpha1/pipeline.ts';
import type { BroadcastOutcomes } from '../../lib/nats/broadcast-outcomes.ts';
import type { NatsServerFigures } from '../../lib/nats/server-stats.ts';
import type { StageLag } from '../../lib/nats/progress.ts';
import type { LocalStatus, Rate } from '../local/model.ts';

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export const formatCount = (n: number) => n.toLocaleString('en-US');

export function percent(done: number, total: number | undefined): number | undefined {
  if (total === undefined) return undefined;
  if (total === 0) return 100;
  return Math.min(100, Math.floor((done / total) * 100));
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 || v >= 10 ? 0 : 1)} ${units[i]}`;
}

/** "nats-server 2.14.5 · 9 connections · 0 slow consumers · in 1,200 msg/s (96 KiB/s) · …". */
export function natsServerText(f: NatsServerFigures): string {
  const r = f.rates;
  const flow = r
    ? ` · in ${formatCount(Math.round(r.inMsgs))} msg/s (${formatBytes(r.inBytes)}/s) · out ${formatCount(Math.round(r.outMsgs))} msg/s (${formatBytes(r.outBytes)}/s)`
    : ` · ${formatCount(f.totals.inMsgs)} msgs in, ${formatCount(f.totals.outMsgs)} out`;
  const js = f.jetstream
    ? ` · JetStream ${formatCount(f.jetstream.streams)} streams, ${formatCount(f.jetstream.consumers)} consumers, ${formatBytes(f.jetstream.bytes)}`
    : '';
  return `nats-server ${f.version} · ${formatCount(f.connections)} connections · ${formatCount(f.slowConsumers)} slow consumers${flow}${js}`;
}

/** "1,234 delivered · 0 failed · 0 dead-lettered · 3 skipped · 0 unknown". */
export function broadcastText(o: BroadcastOutcomes): string {
  return [
    `${formatCount(o.delivered)} delivered`,
    `${formatCount(o.failed)} failed (retried)`,
    `${formatCount(o.deadLettered)} dead-lettered`,
    `${formatCount(o.skippedDuplicate)} skipped as duplicates`,
    `${formatCount(o.unknown)} unknown`,
  ].join(' · ');
}

/** "512/1,000 chunks saved (51%)", or without a total "512 chunks saved". */
export function savedText(status: LocalStatus): string {
  const p = status.progress;
  if (!p) return 'progress unknown';
  const pct = percent(p.chunksSaved + p.chunksDeadLettered, p.chunksTotal);
  const total = p.chunksTotal === undefined ? '' : `/${formatCount(p.chunksTotal)}`;
  return `${formatCount(p.chunksSaved)}${total} chunks saved${pct === undefined ? '' : ` (${pct}%)`}`;
}

export function rateText(status: LocalStatus): string {
  return rateOf(status.rate);
}

export function replicasText(status: LocalStatus): string {
  return COMPONENTS.flatMap((c) => {
    const s = status.components[c];
    if (!s) return [];
    const restarts = s.restarts > 0 ? ` (${s.restarts} restart${s.restarts === 1 ? '' : 's'})` : '';
    return [`${c} ${s.running}/${s.desired}${restarts}`];
  }).join(' · ');
}

/** One line, for the progress of `dwk up` without a terminal. */
export function progressLine(status: LocalStatus): string {
  const dead = status.progress?.chunksDeadLettered
    ? ` · ${status.progress.chunksDeadLettered} dead-lettered`
    : '';
  const nats = status.nats.reachable ? '' : ` · NATS unreachable: ${status.nats.error ?? 'unknown error'}`;
  const rate = rateText(status);
  return `${status.pipeline}: ${savedText(status)}${dead}${rate ? ` · ${rate}` : ''} · ${replicasText(status)}${nats}`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3)))
      .join('')
      .trimEnd(),
  );
}

/** Lag per stage, the NATS server and the broadcasters: the tail of `dwk status` in both modes. */
export function natsFiguresLines(s: {
  lag?: { mapper?: StageLag; saver?: StageLag };
  natsServer?: NatsServerFigures;
  broadcast?: BroadcastOutcomes;
}): string[] {
  const lines: string[] = [];
  const lag = s.lag;
  if (lag && (lag.mapper || lag.saver)) {
    lines.push('');
    const rows = [['STAGE', 'PENDING', 'ACK-PENDING', 'REDELIVERED']];
    for (const [stage, l] of Object.entries(lag)) {
      if (l) rows.push([stage, String(l.pending), String(l.ackPending), String(l.redelivered)]);
    }
    lines.push(...table(rows));
  }
  if (s.natsServer || s.broadcast) lines.push('');
  if (s.natsServer) lines.push(`Server:    ${natsServerText(s.natsServer)}`);
  if (s.broadcast) lines.push(`Broadcast: ${broadcastText(s.broadcast)}`);
  return lines;
}

/** "12 chunks/s · ETA 1m05s". */
export function rateOf(r: Rate | undefined): string {
  if (!r) return '';
  const rate = `${r.chunksPerSecond.toFixed(r.chunksPerSecond < 10 ? 1 : 0)} chunks/s`;
  return r.etaSeconds === undefined ? rate : `${rate} · ETA ${formatDuration(r.etaSeconds)}`;
}

/** The readable `dwk status --local` output. */
export function statusText(status: LocalStatus): string {
  const lines = [
    `Pipeline:  ${status.pipeline} (local, ${status.phase.toLowerCase()}, dwk pid ${status.pid})`,
    `NATS:      ${status.nats.url}${status.nats.managed ? ' (started by dwk)' : ''}${status.nats.reachable ? '' : ` UNREACHABLE: ${status.nats.error ?? ''}`}`,
    `Data:      ${status.dataDir}`,
    '',
  ];
  const rows = [['COMPONENT', 'DESIRED', 'RUNNING', 'RESTARTS']];
  for (const c of COMPONENTS) {
    const s = status.components[c];
    if (s) rows.push([c, String(s.desired), String(s.running), String(s.restarts)]);
  }
  lines.push(...table(rows), '');
  const p = status.progress;
  if (p) {
    const published = `${formatCount(p.chunksPublished)} published`;
    lines.push(
      `Chunks:    ${savedText(status)}, ${published}, ${formatCount(p.chunksDeadLettered)} dead-lettered`,
    );
    const rate = rateText(status);
    if (rate) lines.push(`Rate:      ${rate}`);
    if (p.objectsDeadLettered > 0)
      lines.push(`Objects:   ${formatCount(p.objectsDeadLettered)} dead-lettered`);
  } else {
    lines.push('Chunks:    unknown (NATS not reachable)');
  }
  lines.push(...natsFiguresLines(status));
  return lines.join('\n');
}
