/**
 * The controller's view into NATS: progress for status, and cleanup for deletePolicy: delete.
 * Progress is an observation like any other: read from a cache at once, refreshed in the
 * background, and a change re-queues the Pipeline. A slow or unreachable NATS never holds a worker.
 */
import { isDeepStrictEqual } from 'node:util';
import { knownTotalChunks, type PipelineSpec } from '../api/v1alpha1/pipeline.ts';
import type { Progress } from '../api/v1alpha1/status.ts';
import { connectNats, type NatsConnection } from '../lib/nats/connect.ts';
import { progressReader } from '../lib/nats/progress.ts';
import { deletePipeline } from '../lib/nats/setup.ts';
import type { Logger } from '../lib/log.ts';
import type { NatsSide } from './reconcile.ts';

const FRESH_MS = 4_000;
const RETRY_UNREACHABLE_MS = 30_000;

export function natsSide(
  log: Logger,
  onChange: (key: string) => void,
): NatsSide & { close(): Promise<void> } {
  const conns = new Map<string, Promise<NatsConnection>>();
  const failedAt = new Map<string, number>();
  const cache = new Map<string, { at: number; progress: Progress | undefined; refreshing: boolean }>();

  const conn = async (url: string) => {
    const failed = failedAt.get(url);
    if (failed !== undefined && Date.now() - failed < RETRY_UNREACHABLE_MS) {
      throw new Error(`NATS at ${url} was unreachable moments ago`);
    }
    let c = conns.get(url);
    if (!c) {
      c = connectNats({ servers: url, name: 'dwk-controller', timeoutMs: 2000 });
      conns.set(url, c);
    }
    try {
      const nc = await c;
      if (nc.isClosed()) throw new Error('closed');
      return nc;
    } catch (err) {
      conns.delete(url);
      failedAt.set(url, Date.now());
      log.debug({ err, url }, 'NATS unreachable from the controller');
      throw err;
    }
  };

  const refresh = async (key: string, pipeline: string, spec: PipelineSpec) => {
    const entry = cache.get(key) ?? { at: 0, progress: undefined, refreshing: false };
    entry.refreshing = true;
    cache.set(key, entry);
    try {
      const reader = await progressReader(await conn(spec.nats.url), pipeline, knownTotalChunks(spec));
      const { progress } = await reader.read();
      const changed = !isDeepStrictEqual(progress, entry.progress);
      entry.progress = progress;
      if (changed) onChange(key);
    } catch {
      // Unreachable: keep what we knew; status says nothing new.
    } finally {
      entry.at = Date.now();
      entry.refreshing = false;
    }
  };

  return {
    progress(key, pipeline, spec) {
      const entry = cache.get(key);
      if (!entry || (!entry.refreshing && Date.now() - entry.at > FRESH_MS))
        void refresh(key, pipeline, spec);
      return entry?.progress;
    },
    forget(key) {
      cache.delete(key);
    },
    async purge(pipeline: string, spec: PipelineSpec) {
      return deletePipeline(await conn(spec.nats.url), pipeline);
    },
    async close() {
      for (const c of conns.values()) await (await c.catch(() => undefined))?.close();
    },
  };
}
