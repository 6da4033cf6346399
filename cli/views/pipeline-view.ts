/**
 * The live `dwk status` on a terminal, for a cluster and for local mode alike: one view model,
 * filled from either source. Pure: a function of its props; keys live in PipelineApp.
 */
import { Box, Text, useApp, useInput } from 'ink';
import React from 'react';
import { COMPONENTS } from '../../api/v1alpha1/pipeline.ts';
import type { ClusterStatus } from '../cluster/status.ts';
import { useStore, type Store } from '../hooks/use-store.ts';
import type { LocalStatus } from '../local/model.ts';
import type { StageLag } from '../../lib/nats/progress.ts';
import {
  broadcastText,
  formatCount,
  natsServerText,
  percent,
  rateOf,
  rateText,
  savedText,
} from './format.ts';
import { progressBar } from './up-view.ts';

const h = React.createElement;

export interface ViewRow {
  component: string;
  desired: number;
  ready: number;
  restarts: number;
}

export interface PipelineViewModel {
  title: string;
  rows: ViewRow[];
  progress?: { done: number; total?: number; text: string };
  rate?: string;
  lag: string[];
  /** NATS server figures, one line. */
  server?: string;
  broadcast?: string;
  conditions: Array<{ text: string; ok: boolean }>;
  events: Array<{ text: string; warn: boolean }>;
  paused: boolean;
}

const lagLines = (lag: { mapper?: StageLag; saver?: StageLag } | undefined) =>
  Object.entries(lag ?? {}).flatMap(([stage, l]) =>
    l ? [`${stage}: ${l.pending} pending, ${l.ackPending} ack pending, ${l.redelivered} redelivered`] : [],
  );

export function fromCluster(s: ClusterStatus): PipelineViewModel {
  const ready = s.conditions.find((c) => c.type === 'Ready');
  const p = s.progress;
  return {
    title: `${s.pipeline} · namespace ${s.namespace} · ${s.paused ? 'paused' : ready?.status === 'True' ? 'ready' : 'not ready'}`,
    rows: COMPONENTS.flatMap((c) => {
      const x = s.components[c];
      return x ? [{ component: c, desired: x.desired, ready: x.ready, restarts: x.restarts }] : [];
    }),
    ...(p
      ? {
          progress: {
            done: p.chunksSaved + p.chunksDeadLettered,
            ...(p.chunksTotal !== undefined ? { total: p.chunksTotal } : {}),
            text: `${formatCount(p.chunksSaved)}${p.chunksTotal === undefined ? '' : `/${formatCount(p.chunksTotal)}`} chunks saved · ${formatCount(p.chunksDeadLettered)} dead-lettered`,
          },
        }
      : {}),
    ...(rateOf(s.rate) ? { rate: rateOf(s.rate) } : {}),
    lag: lagLines(s.lag),
    ...(s.natsServer ? { server: natsServerText(s.natsServer) } : {}),
    ...(s.broadcast ? { broadcast: `broadcast: ${broadcastText(s.broadcast)}` } : {}),
    conditions: [
      ...(s.nats && !s.nats.reachable
        ? [{ text: `NATS unreachable: ${s.nats.error ?? ''}`, ok: false }]
        : []),
      ...s.conditions.map((c) => ({
        text: `${c.type}=${c.status} ${c.reason}: ${c.message}`,
        ok: c.status === 'True' || (c.type === 'Degraded' && c.status === 'False'),
      })),
    ],
    events: s.events.map((e) => ({
      text: `${e.lastSeen.slice(11, 19)} ${e.reason}: ${e.message}${e.count > 1 ? ` (×${e.count})` : ''}`,
      warn: e.type === 'Warning',
    })),
    paused: s.paused,
  };
}

export function fromLocal(s: LocalStatus): PipelineViewModel {
  const p = s.progress;
  const rate = rateText(s);
  return {
    title: `${s.pipeline} · local · ${s.phase.toLowerCase()}`,
    rows: COMPONENTS.flatMap((c) => {
      const x = s.components[c];
      return x ? [{ component: c, desired: x.desired, ready: x.running, restarts: x.restarts }] : [];
    }),
    ...(p
      ? {
          progress: {
            done: p.chunksSaved + p.chunksDeadLettered,
            ...(p.chunksTotal !== undefined ? { total: p.chunksTotal } : {}),
            text: `${savedText(s)} · ${formatCount(p.chunksDeadLettered)} dead-lettered`,
          },
        }
      : {}),
    ...(rate ? { rate } : {}),
    lag: lagLines(s.lag),
    ...(s.natsServer ? { server: natsServerText(s.natsServer) } : {}),
    ...(s.broadcast ? { broadcast: `broadcast: ${broadcastText(s.broadcast)}` } : {}),
    conditions: [
      {
        text: s.nats.reachable ? `NATS ${s.nats.url}` : `NATS unreachable: ${s.nats.error ?? ''}`,
        ok: s.nats.reachable,
      },
    ],
    events: [],
    paused: false,
  };
}

export interface PipelineViewProps {
  model: PipelineViewModel | undefined;
  error: string | undefined;
  message: string | undefined;
  selected: number;
  width: number;
  height: number;
  color: boolean;
}

const fit = (text: string, width: number) =>
  text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;

export function PipelineView({ model, error, message, selected, width, height, color }: PipelineViewProps) {
  const w = Math.max(20, width);
  const c = (name: string) => (color ? name : undefined);
  const lines: React.ReactNode[] = [];
  const line = (key: string, text: string, props: Record<string, unknown> = {}) =>
    lines.push(h(Text, { key, wrap: 'truncate', ...props }, fit(text, w)));
  if (!model) line('loading', 'loading…');
  else {
    line('title', model.title, { bold: true });
    line('head', `  ${'COMPONENT'.padEnd(12)}${'DESIRED'.padEnd(9)}${'READY'.padEnd(7)}RESTARTS`, {
      dimColor: true,
    });
    model.rows.forEach((r, i) =>
      line(
        `row-${r.component}`,
        `${i === selected ? '›' : ' '} ${r.component.padEnd(12)}${String(r.desired).padEnd(9)}${String(r.ready).padEnd(7)}${r.restarts}`,
        i === selected ? { inverse: true } : { color: r.ready < r.desired ? c('yellow') : undefined },
      ),
    );
    if (model.progress) {
      const pct = percent(model.progress.done, model.progress.total);
      if (pct !== undefined)
        line('bar', `${progressBar(pct / 100, Math.min(w, 60) - 6)} ${pct}%`, { color: c('green') });
      line('progress', model.progress.text);
    }
    if (model.rate) line('rate', model.rate);
    model.lag.forEach((l, i) => line(`lag-${i}`, l, { dimColor: true }));
    if (model.server) line('server', model.server);
    if (model.broadcast) line('broadcast', model.broadcast);
    model.conditions.forEach((x, i) => line(`cond-${i}`, x.text, { color: x.ok ? c('green') : c('yellow') }));
    // Events fill what is left of the screen, newest first.
    const room = Math.max(0, height - lines.length - 3);
    model.events
      .slice(0, room)
      .forEach((e, i) =>
        line(`ev-${i}`, e.text, { color: e.warn ? c('red') : undefined, dimColor: !e.warn }),
      );
  }
  if (error) line('error', error, { color: c('red') });
  if (message) line('message', message, { color: c('cyan') });
  line('keys', `q quit · ↑↓ select · +/- scale · p ${model?.paused ? 'resume' : 'pause'}`, {
    dimColor: true,
  });
  return h(Box, { flexDirection: 'column', width: w }, ...lines);
}

export interface LiveModel {
  model: PipelineViewModel | undefined;
  error: string | undefined;
  message: string | undefined;
}

export interface LiveActions {
  scale(component: string, replicas: number): Promise<string>;
  pause(paused: boolean): Promise<string>;
}

export function PipelineApp({
  store,
  actions,
  color,
  size,
}: {
  store: Store<LiveModel>;
  actions: LiveActions;
  color: boolean;
  size: () => { width: number; height: number };
}) {
  const live = useStore(store);
  const app = useApp();
  const [selected, setSelected] = React.useState(0);
  const rows = live.model?.rows ?? [];
  const say = (p: Promise<string>) =>
    void p.then(
      (message) => store.update((m) => ({ ...m, message })),
      (err: Error) => store.update((m) => ({ ...m, message: `error: ${err.message}` })),
    );
  useInput((input, key) => {
    if (input === 'q' || (key.ctrl && input === 'c')) app.exit();
    else if (key.upArrow) setSelected((s) => Math.max(0, s - 1));
    else if (key.downArrow) setSelected((s) => Math.min(Math.max(0, rows.length - 1), s + 1));
    else if (input === '+' || input === '-') {
      const row = rows[Math.min(selected, rows.length - 1)];
      if (row) say(actions.scale(row.component, Math.max(0, row.desired + (input === '+' ? 1 : -1))));
    } else if (input === 'p' && live.model) say(actions.pause(!live.model.paused));
  });
  const { width, height } = size();
  return h(PipelineView, {
    ...live,
    selected: Math.min(selected, Math.max(0, rows.length - 1)),
    width,
    height,
    color,
  });
}
