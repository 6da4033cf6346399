/**
 * The fetcher: cuts the source into chunks and stores each in the chunks stream exactly once.
 * One replica leads (a KV lease); the others stand by. Progress is kept in KV, and on start the
 * leader checks the stream itself, chunk by chunk, for what a crashed predecessor stored.
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FetcherProgress } from '../lib/nats/progress.ts';
import { decodeFetcherProgress, progressReader } from '../lib/nats/progress.ts';
import { ensurePipeline } from '../lib/nats/setup.ts';
import { HEADERS, topology, type Topology } from '../lib/nats/topology.ts';
import type { FetcherConfig } from './config.ts';
import { Lease } from './lease.ts';
import type { RoleContext } from './role.ts';
import { chunkCount } from './source/generate.ts';
import { chunksFrom } from './source/index.ts';

const PROGRESS_EVERY_MS = 250;
const BACKLOG_CHECK_EVERY = 100;

/** Chunks stored but not yet given to a mapper (all of them while no mapper consumer exists). */
async function backlog(ctx: RoleContext, t: Topology): Promise<number> {
  try {
    return (await ctx.jsm.consumers.info(t.streams.chunks, t.consumers.mapper)).num_pending;
  } catch (err) {
    if ((err as { name?: string }).name !== 'ConsumerNotFoundError') throw err;
    return (await ctx.jsm.streams.info(t.streams.chunks)).state.messages;
  }
}

async function waitForBacklog(
  ctx: RoleContext,
  t: Topology,
  maxPending: number,
  halt: AbortSignal,
): Promise<void> {
  let paused = false;
  while (!halt.aborted && (await backlog(ctx, t)) > maxPending) {
    if (!paused) ctx.log.info({ maxPending }, 'Backlog is full; pausing until the mappers catch up');
    paused = true;
    await sleep(200, undefined, { signal: halt }).catch(() => undefined);
  }
  if (paused) ctx.log.info('Backlog drained; publishing again');
}

/** Indices in [from, to] that the stream does not hold yet. */
async function missingChunks(ctx: RoleContext, t: Topology, from: number, to: number): Promise<Set<number>> {
  const jsm = ctx.jsm;
  const missing = new Set<number>();
  for (let i = from; i <= to; i++) {
    try {
      await jsm.streams.getMessage(t.streams.chunks, { last_by_subj: t.subjects.chunk(i) });
    } catch (err) {
      if (!/no message found|message not found/i.test(String((err as Error).message))) throw err;
      missing.add(i);
    }
  }
  return missing;
}

/** Highest chunk index in the stream, or -1 when it is empty. */
async function lastStoredChunk(ctx: RoleContext, t: Topology): Promise<number> {
  const info = await ctx.jsm.streams.info(t.streams.chunks);
  if (info.state.messages === 0) return -1;
  const msg = await ctx.jsm.streams.getMessage(t.streams.chunks, { seq: info.state.last_seq });
  return Number(msg?.header.get(HEADERS.chunk) ?? -1);
}

async function publishWithRetry(
  js: JetStreamClient,
  ctx: RoleContext,
  subject: string,
  payload: string,
  msgID: string,
  index: number,
  objects: number,
): Promise<PubAck> {
  const h = natsHeaders();
  h.set(HEADERS.chunk, String(index));
  h.set(HEADERS.objects, String(objects));
  for (let attempt = 0; ; attempt++) {
    try {
      return await js.publish(subject, payload, { msgID, headers: h, timeout: 10_000 });
    } catch (err) {
      if (ctx.stopping.aborted) throw err;
      const delay = Math.min(100 * 2 ** attempt, 5000);
      ctx.log.warn({ err, chunk: index, attempt, delayMs: delay }, 'Publish failed; retrying');
      await sleep(delay);
    }
  }
}

export async function runFetcher(config: FetcherConfig, ctx: RoleContext): Promise<void> {
  const { log, metrics } = ctx;
  const { topology: t, kvm } = await ensurePipeline(ctx.nc, config.pipeline);
  const state: KV = await kvm.open(t.buckets.state);
  const js = jetstream(ctx.nc);
  const lease = new Lease({
    kv: state,
    key: t.keys.fetcherLeader,
    holder: config.instance,
    ttlMs: config.leaseSeconds * 1000,
    log,
  });
  ctx.setReady(true); // a standby is ready too: it is doing its job, which is to wait

  if (!(await lease.acquire(ctx.stopping))) return;
  metrics.leader.set(1);
  ctx.onStop(() => lease.release());
  const halt = AbortSignal.any([ctx.stopping, lease.lost.signal]);

  const saved = decodeFetcherProgress((await state.get(t.keys.fetcherProgress))?.value);
  if (saved?.done) {
    metrics.sourceChunksExpected.set(saved.published);
    log.info({ chunks: saved.published }, 'Source already fully published; nothing to do');
    await waitForCompletion(config, ctx, saved.published, halt);
    return;
  }
  // A generated source knows its size up front; a URL source only once read to its end.
  if (config.source.kind === 'generate') {
    metrics.sourceChunksExpected.set(chunkCount(config.source.objects, config.chunkSize));
  }
  const start = saved?.published ?? 0;
  const last = await lastStoredChunk(ctx, t);
  // Chunks after the recorded progress may have been stored before a crash: look, do not guess.
  const missing = last >= start ? await missingChunks(ctx, t, start, last) : new Set<number>();
  const alreadyStored = last >= start ? last - start + 1 - missing.size : 0;
  log.info({ start, lastStored: last, alreadyStored }, saved ? 'Resuming the source' : 'Starting the source');

  let contiguous = start; // every chunk below this is stored
  let sinceCheck = 0;
  let lastCheck = 0;
  let lastSaved = Date.now();
  const acked = new Set<number>();
  const window: Array<Promise<void>> = [];
  const writeProgress = async (done: boolean) => {
    const p: FetcherProgress = { published: contiguous, done, updatedAt: new Date().toISOString() };
    await state.put(t.keys.fetcherProgress, JSON.stringify(p));
  };
  const advance = () => {
    while (acked.delete(contiguous)) contiguous++;
  };

  for await (const chunk of chunksFrom(config.source, config.chunkSize, start, halt)) {
    if (halt.aborted) break;
    if (chunk.index <= last && !missing.has(chunk.index)) {
      acked.add(chunk.index);
      advance();
      continue;
    }
    const payload = chunk.lines.join('\n');
    const task = publishWithRetry(
      js,
      ctx,
      t.subjects.chunk(chunk.index),
      payload,
      t.msgIds.chunk(chunk.index),
      chunk.index,
      chunk.lines.length,
    ).then((ack) => {
      if (ack.duplicate) metrics.chunksDuplicate.inc();
      else {
        metrics.chunksPublished.inc();
        metrics.objectsPublished.inc(chunk.lines.length);
      }
      acked.add(chunk.index);
      advance();
    });
    // A publish is only abandoned when we stop; its chunk is then republished by the next leader.
    window.push(
      task.catch((err: unknown) => {
        if (!halt.aborted) throw err;
      }),
    );
    // Backpressure: never more than maxInFlight chunks unacknowledged by the stream,
    if (window.length >= config.maxInFlight) await window.shift();
    if (Date.now() - lastSaved >= PROGRESS_EVERY_MS) {
      lastSaved = Date.now();
      await writeProgress(false);
    }
    // And a bounded backlog: wait while the mappers have more than maxPending chunks to go.
    if (++sinceCheck >= BACKLOG_CHECK_EVERY || Date.now() - lastCheck >= PROGRESS_EVERY_MS) {
      sinceCheck = 0;
      lastCheck = Date.now();
      if ((await backlog(ctx, t)) > config.maxPending) {
        await Promise.all(window.splice(0)); // settle what is in flight, so progress is exact while paused
        await writeProgress(false);
        await waitForBacklog(ctx, t, config.maxPending, halt);
      }
    }
  }
  await Promise.all(window);
  if (halt.aborted) {
    await writeProgress(false).catch(() => undefined);
    log.info({ published: contiguous }, 'Stopped publishing');
    return;
  }
  await writeProgress(true);
  metrics.sourceChunksExpected.set(contiguous);
  log.info({ chunks: contiguous }, 'Source fully published');
  await waitForCompletion(config, ctx, contiguous, halt);
}

/** The leader announces once that every chunk is saved or dead-lettered: the pipeline's own event. */
async function waitForCompletion(config: FetcherConfig, ctx: RoleContext, total: number, halt: AbortSignal) {
  const t = topology(config.pipeline);
  const reader = await progressReader(ctx.nc, config.pipeline, total);
  const js = jetstream(ctx.nc);
  while (!halt.aborted) {
    const { progress } = await reader.read().catch(() => ({ progress: undefined }));
    if (progress) ctx.metrics.sourceChunksDeadLettered.set(progress.chunksDeadLettered);
    if (progress && progress.chunksSaved + progress.chunksDeadLettered >= total) {
      const event = {
        type: 'pipeline.completed',
        pipeline: config.pipeline,
        ...progress,
        at: new Date().toISOString(),
      };
      await js.publish(t.subjects.event('completed'), JSON.stringify(event), {
        msgID: t.msgIds.event('completed', String(total)),
      });
      ctx.log.info(progress, 'Pipeline completed');
      break;
    }
    await sleep(1000, undefined, { signal: halt }).catch(() => undefined);
  }
  // Stay up and idle: a Deployment would restart a fetcher that exits.
  if (!halt.aborted) {
    await new Promise<void>((resolve) => halt.addEventListener('abort', () => resolve(), { once: true }));
  }
}
