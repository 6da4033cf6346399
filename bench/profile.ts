/**
 * Where a mapper and the saver spend their CPU on the zero-work path: runs one pipeline with
 * `node --cpu-prof` on both and summarizes each profile over the span its process was working.
 *
 *   node bench/profile.ts [--mappers 1] [--objects 100000] [--keep DIR]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runPipeline } from './measure.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Inclusive groups: a sample counts once for each group found on its stack. JSON.parse and
 * JSON.stringify are builtins without frames of their own: they show as their caller's self time
 * (mapChunk in the mapper, idOfLine in the saver).
 */
const GROUPS: Array<[string, (f: ProfileNode['callFrame']) => boolean]> = [
  ['JSONata (transform)', (f) => f.url.includes('/jsonata/')],
  ['NATS client', (f) => f.url.includes('/@nats-io/')],
  ['jsonl sink write', (f) => f.url.endsWith('/jsonl-sink.ts') && f.functionName === 'write'],
  ['garbage collector', (f) => f.functionName === '(garbage collector)'],
  ['idle', (f) => f.functionName === '(idle)'],
];

export interface ProfileSummary {
  windowMs: number;
  groups: Array<{ name: string; share: number }>;
  top: Array<{ name: string; share: number }>;
}

/** Summarizes the samples between the first and the last one with `marker` on the stack. */
export function summarize(p: CpuProfile, marker: string, topN = 12): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stack = (id: number) => {
    const frames: ProfileNode['callFrame'][] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (n) frames.push(n.callFrame);
    }
    return frames;
  };
  let t = p.startTime;
  const times = p.timeDeltas.map((d) => (t += d));
  const marked = p.samples.flatMap((id, i) =>
    stack(id).some((f) => f.functionName === marker) ? [times[i] ?? 0] : [],
  );
  const from = Math.min(...marked);
  const to = Math.max(...marked);
  const group = new Map<string, number>();
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const at = times[i] ?? 0;
    if (at < from || at > to) return;
    const dt = p.timeDeltas[i + 1] ?? 0;
    total += dt;
    const frames = stack(id);
    for (const [name, match] of GROUPS) if (frames.some(match)) group.set(name, (group.get(name) ?? 0) + dt);
    const f = frames[0];
    if (f) {
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + dt);
    }
  });
  const share = (m: Map<string, number>) =>
    [...m].map(([name, v]) => ({ name, share: v / total })).sort((a, b) => b.share - a.share);
  return { windowMs: (to - from) / 1000, groups: share(group), top: share(self).slice(0, topN) };
}

const pct = (n: number) => `${(n * 100).toFixed(1).padStart(5)} %`;

function print(title: string, s: ProfileSummary): void {
  console.log(`\n## ${title}: ${Math.round(s.windowMs)} ms of work\n`);
  console.log('Inclusive:');
  for (const g of s.groups) console.log(`  ${pct(g.share)}  ${g.name}`);
  console.log('Self time, top functions:');
  for (const f of s.top) console.log(`  ${pct(f.share)}  ${f.name}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mappers: { type: 'string', default: '1' },
      objects: { type: 'string', default: '100000' },
      keep: { type: 'string' },
    },
  });
  const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'dwk-profile-'));
  const prof = (role: string) => ({ NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(dir, role)}` });
  try {
    const f = await runPipeline(dir, {
      name: 'profile',
      objects: Number(values.objects),
      chunkSize: 100,
      mappers: Number(values.mappers),
      concurrency: 4,
      waitMs: 0,
      extraEnv: { mapper: prof('mapper'), saver: prof('saver') },
    });
    console.log(`${Math.round(f.objectsPerSecond)} objects/s (profiled, so slower than the bench)`);
    for (const [role, marker] of [
      ['mapper', 'mapChunk'],
      ['saver', 'saveBatch'],
    ] as const) {
      const files = readdirSync(join(dir, role)).filter((n) => n.endsWith('.cpuprofile'));
      files.forEach((file, i) => {
        const p = JSON.parse(readFileSync(join(dir, role, file), 'utf8')) as CpuProfile;
        print(`${role}${files.length > 1 ? ` ${i}` : ''}`, summarize(p, marker));
      });
    }
  } finally {
    if (values.keep === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
