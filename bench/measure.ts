/**
 * One bench run on its own nats-server (same pinned binary, fresh store): either the ceiling
 * (publish and consume, no processing) or the pipeline (fetcher, mappers, saver). The clock runs
 * from the first chunk stored to the last chunk acked (ceiling) or saved (pipeline); CPU is
 * counted over the same span, so process start-up is left out.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { PipelineSpec } from '../api/v1alpha1/pipeline.ts';
import { connectNats, type NatsConnection } from '../lib/nats/connect.ts';
import { startNatsServer, type RunningNatsServer } from '../lib/nats/server.ts';
import { ensurePipeline } from '../lib/nats/setup.ts';
import { topology } from '../lib/nats/topology.ts';
import type { ConsumeArgs, PublishArgs } from './ceiling.ts';
import { availableParallelism } from 'node:os';
import { busyCores, sampleProcess, sampleSystem, type ProcSample, type SystemSample } from './procstat.ts';
import { spawnNode, startWorkload, stopAll, waitReady, type BenchProcess } from './processes.ts';
import { resolveSpec } from '../api/v1alpha1/validate.ts';
import { chunkCount } from '../workloads/source/generate.ts';

const CEILING_MAIN = new URL('./ceiling.ts', import.meta.url).pathname;
const RUN_TIMEOUT_MS = 300_000;

export type Stage = 'fetcher' | 'mappers' | 'saver' | 'nats-server';

export interface StageFigures {
  stage: Stage;
  processes: number;
  /** CPU seconds over the measured span, summed over the stage's processes. */
  cpuSeconds: number;
  /** The largest VmHWM of the stage's processes. */
  peakRssBytes: number;
}

export interface RunFigures {
  objects: number;
  chunks: number;
  elapsedSeconds: number;
  objectsPerSecond: number;
  stages: StageFigures[];
  /** CPUs busy on average over the span, every process on the machine counted (others' too). */
  machineBusyCores: number;
  /** CPUs busy on average over the span with this run's processes alone. */
  runBusyCores: number;
}

export interface PipelineRunOptions {
  name: string;
  objects: number;
  chunkSize: number;
  mappers: number;
  concurrency: number;
  waitMs: number;
  /** Extra environment per component, e.g. NODE_OPTIONS for a CPU profile. */
  extraEnv?: Partial<Record<'fetcher' | 'mapper' | 'saver', Record<string, string>>>;
}

export interface CeilingRunOptions {
  name: string;
  objects: number;
  chunkSize: number;
  mode: ConsumeArgs['mode'];
  slots: number;
}

interface Tracked {
  stage: Stage;
  pid: number | undefined;
}

function stageFigures(tracked: Tracked[], before: Map<Tracked, ProcSample>): StageFigures[] {
  const stages: Stage[] = ['fetcher', 'mappers', 'saver', 'nats-server'];
  return stages.flatMap((stage) => {
    const members = tracked.filter((t) => t.stage === stage);
    if (members.length === 0) return [];
    let cpuSeconds = 0;
    let peakRssBytes = 0;
    for (const m of members) {
      const end = sampleProcess(m.pid);
      if (!end) throw new Error(`${stage} process ${m.pid} exited before the end of the run`);
      cpuSeconds += end.cpuSeconds - (before.get(m)?.cpuSeconds ?? 0);
      peakRssBytes = Math.max(peakRssBytes, end.peakRssBytes);
    }
    return [{ stage, processes: members.length, cpuSeconds, peakRssBytes }];
  });
}

function figures(
  objects: number,
  chunks: number,
  elapsedSeconds: number,
  stages: StageFigures[],
  span: { from: SystemSample; to: SystemSample; wallSeconds: number },
): RunFigures {
  const cpu = stages.reduce((a, s) => a + s.cpuSeconds, 0);
  return {
    objects,
    chunks,
    elapsedSeconds,
    objectsPerSecond: objects / elapsedSeconds,
    stages,
    machineBusyCores: busyCores(span.from, span.to, availableParallelism()),
    runBusyCores: cpu / span.wallSeconds,
  };
}

/** A fresh nats-server and a connection to it, torn down after `body`. */
async function withNats<T>(
  dir: string,
  body: (nats: RunningNatsServer, nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
  const nc = await connectNats({ servers: nats.url, name: 'bench' });
  try {
    return await body(nats, nc);
  } finally {
    await nc.close();
    await nats.stop();
  }
}

/** Watches for the first chunk stored in the pipeline's chunks stream. */
async function watchFirstChunk(nc: NatsConnection, pipeline: string): Promise<{ arrived: Promise<void> }> {
  const sub = nc.subscribe(topology(pipeline).subjects.chunks, { max: 1 });
  const arrived = (async () => {
    for await (const _ of sub) return;
  })();
  await nc.flush(); // the server has the subscription before anyone publishes
  return { arrived };
}

/** Server time of the first chunk stored, in ms since the epoch. */
async function firstChunkTime(nc: NatsConnection, pipeline: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const msg = await jsm.streams.getMessage(topology(pipeline).streams.chunks, { seq: 1 });
  if (!msg) throw new Error('the chunks stream has no first message');
  return msg.time.getTime();
}

const sampleAll = (tracked: Tracked[]) =>
  new Map(
    tracked.flatMap((t) => {
      const s = sampleProcess(t.pid);
      return s ? [[t, s] as const] : [];
    }),
  );

export async function runCeiling(dir: string, o: CeilingRunOptions): Promise<RunFigures> {
  return withNats(dir, async (nats, nc) => {
    const spec = resolveSpec({});
    await ensurePipeline(nc, o.name, { mapper: spec.mapper });
    const chunks = chunkCount(o.objects, o.chunkSize);
    const base = { natsUrl: nats.url, pipeline: o.name };
    const consumeArgs: ConsumeArgs = { ...base, chunks, mode: o.mode, slots: o.slots };
    const env = { PATH: process.env.PATH };
    const consumer = spawnNode(
      dir,
      `${o.name}-consumer`,
      'consumer',
      [CEILING_MAIN, 'consume', JSON.stringify(consumeArgs)],
      env,
      'pipe',
    );
    const lines = createInterface({ input: consumer.child.stdout! })[Symbol.asyncIterator]();
    const nextLine = async () => {
      const { value, done } = await lines.next();
      if (done) throw new Error(`the ceiling consumer exited (code ${await consumer.exited})`);
      return JSON.parse(String(value)) as { ready?: boolean; doneAt?: number };
    };
    const processes: BenchProcess[] = [consumer];
    try {
      await nextLine();
      const first = await watchFirstChunk(nc, o.name);
      const publishArgs: PublishArgs = {
        ...base,
        objects: o.objects,
        chunkSize: o.chunkSize,
        maxInFlight: spec.fetcher.maxInFlight,
      };
      const publisher = spawnNode(
        dir,
        `${o.name}-publisher`,
        'publisher',
        [CEILING_MAIN, 'publish', JSON.stringify(publishArgs)],
        env,
      );
      processes.push(publisher);
      const tracked: Tracked[] = [
        { stage: 'fetcher', pid: publisher.child.pid },
        { stage: 'mappers', pid: consumer.child.pid },
        { stage: 'nats-server', pid: nats.pid },
      ];
      await first.arrived;
      const before = sampleAll(tracked);
      const from = sampleSystem();
      const wall = performance.now();
      const { doneAt } = await nextLine();
      const stages = stageFigures(tracked, before);
      const span = { from, to: sampleSystem(), wallSeconds: (performance.now() - wall) / 1000 };
      const elapsedSeconds = ((doneAt ?? NaN) - (await firstChunkTime(nc, o.name))) / 1000;
      return figures(o.objects, chunks, elapsedSeconds, stages, span);
    } finally {
      await stopAll(processes);
    }
  });
}

/** Resolves when every chunk has its `saved` event, the saver's last step before its ack. */
async function watchSaved(
  nc: NatsConnection,
  pipeline: string,
  chunks: number,
): Promise<{ all: Promise<void> }> {
  const sub = nc.subscribe(topology(pipeline).subjects.event('saved'));
  const saved = new Set<number>();
  const all = (async () => {
    for await (const m of sub) {
      saved.add(m.json<{ chunk: number }>().chunk);
      if (saved.size >= chunks) break;
    }
    sub.unsubscribe();
  })();
  await nc.flush();
  return { all };
}

/** Server time of the last `saved` event, in ms since the epoch. */
async function lastSavedTime(nc: NatsConnection, pipeline: string): Promise<number> {
  const t = topology(pipeline);
  const jsm = await jetstreamManager(nc);
  const msg = await jsm.streams.getMessage(t.streams.events, { last_by_subj: t.subjects.event('saved') });
  if (!msg) throw new Error('no saved event in the events stream');
  return msg.time.getTime();
}

/** Every object id in the sink exactly once, or an error saying what is wrong. */
function checkSink(path: string, objects: number): void {
  const ids = new Set<string>();
  let lines = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    lines++;
    ids.add(String((JSON.parse(line) as { id: unknown }).id));
  }
  if (lines !== objects || ids.size !== objects) {
    throw new Error(`sink ${path} holds ${lines} lines and ${ids.size} distinct ids; expected ${objects}`);
  }
}

function timeout(ms: number, what: string): { promise: Promise<never>; clear: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return { promise, clear: () => clearTimeout(timer) };
}

function pipelineSpec(o: PipelineRunOptions, natsUrl: string, sinkPath: string): PipelineSpec {
  return resolveSpec({
    source: { generate: { objects: o.objects } },
    chunkSize: o.chunkSize,
    nats: { url: natsUrl },
    mapper: {
      replicas: o.mappers,
      concurrency: o.concurrency,
      work: { waitMs: { min: o.waitMs, max: o.waitMs } },
    },
    saver: { sink: { type: 'jsonl', path: sinkPath } },
  });
}

export async function runPipeline(dir: string, o: PipelineRunOptions): Promise<RunFigures> {
  return withNats(dir, async (nats, nc) => {
    const sinkPath = join(dir, `${o.name}.jsonl`);
    const spec = pipelineSpec(o, nats.url, sinkPath);
    const chunks = chunkCount(o.objects, o.chunkSize);
    const processes: BenchProcess[] = [];
    try {
      const start = (component: 'fetcher' | 'mapper' | 'saver', instance: string) =>
        startWorkload(
          dir,
          o.name,
          spec,
          nats.url,
          component,
          `${o.name}-${instance}`,
          o.extraEnv?.[component],
        );
      const consumers = [await start('saver', 'saver-0')];
      for (let i = 0; i < o.mappers; i++) consumers.push(await start('mapper', `mapper-${i}`));
      processes.push(...consumers);
      await waitReady(consumers);
      const first = await watchFirstChunk(nc, o.name);
      const saved = await watchSaved(nc, o.name, chunks);
      const fetcher = await start('fetcher', 'fetcher-0');
      processes.push(fetcher);
      const tracked: Tracked[] = [
        ...processes.map((p) => ({
          stage: (p.role === 'mapper' ? 'mappers' : p.role) as Stage,
          pid: p.child.pid,
        })),
        { stage: 'nats-server', pid: nats.pid },
      ];
      const limit = timeout(RUN_TIMEOUT_MS, o.name);
      const died = Promise.race(
        processes.map(async (p) => {
          const code = await p.exited;
          throw new Error(
            `${p.name} exited during the run with code ${code}; see ${join(dir, `${p.name}.log`)}`,
          );
        }),
      );
      try {
        await Promise.race([first.arrived, limit.promise, died]);
        const before = sampleAll(tracked);
        const from = sampleSystem();
        const wall = performance.now();
        await Promise.race([saved.all, limit.promise, died]);
        const stages = stageFigures(tracked, before);
        const span = { from, to: sampleSystem(), wallSeconds: (performance.now() - wall) / 1000 };
        const elapsedSeconds =
          ((await lastSavedTime(nc, o.name)) - (await firstChunkTime(nc, o.name))) / 1000;
        checkSink(sinkPath, o.objects);
        return figures(o.objects, chunks, elapsedSeconds, stages, span);
      } finally {
        limit.clear();
        died.catch(() => undefined);
      }
    } finally {
      await stopAll(processes);
      rmSync(sinkPath, { force: true });
    }
  });
}
