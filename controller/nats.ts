/**
 * The controller's view into NATS: progress for status, and cleanup for deletePolicy: delete.
 * Progress is an observation like any other: read from a cache at once, refreshed in the
 * background, and a change re-queues the Pipeline. A slow or unreachable NATS never holds a worker.
 */
import { isDeepStrictEqual } from 'node:util';
import { knownTotalChunks, type PipelineSpec } from '../api/v1alpha1/pipeline.ts';
import type { Progress } from '../api/v1alpha1/status.ts';
import { connectNats, type NatsAuth, type NatsConnection } from '../lib/nats/connect.ts';
import { progressReader } from '../lib/nats/progress.ts';
import { deletePipeline } from '../lib/nats/setup.ts';
import { KubeApiError } from '../lib/kube/client.ts';
import type { Logger } from '../lib/log.ts';
import type { NatsSide } from './reconcile.ts';

const FRESH_MS = 4_000;
const RETRY_UNREACHABLE_MS = 30_000;

export function natsSide(
  log: Logger,
  onChange: (key: string) => void,
  readAuth?: (namespace: string, secretName: string) => Promise<NatsAuth>,
): NatsSide & { close(): Promise<void> } {
  const conns = new Map<string, Promise<NatsConnection>>();
  const failedAt = new Map<string, number>();
  const cache = new Map<string, { at: number; progress: Progress | undefined; refreshing: boolean }>();
  const unreadable = new Set<string>();

  /** The credentials of the Pipeline, when its Secret can be read; else none (said once). */
  const authOf = async (namespace: string, spec: PipelineSpec): Promise<NatsAuth | undefined> => {
    const secret = spec.nats.credentials?.secretRef.name;
    if (!secret || !readAuth) return undefined;
    try {
      return await readAuth(namespace, secret);
    } catch (err) {
      const id = `${namespace}/${secret}`;
      const refused = err instanceof KubeApiError && err.status === 403;
      if (!unreadable.has(id)) {
        unreadable.add(id);
        if (refused) {
          log.info(
            { secret: id },
            'The controller may not read the NATS credentials Secret (it is granted no Secrets unless you add it); connecting without them',
          );
        } else {
          log.warn({ err, secret: id }, 'Cannot read the NATS credentials Secret; connecting without them');
        }
      }
      return undefined;
    }
  };

  const conn = async (namespace: string, spec: PipelineSpec) => {
    const url = spec.nats.url;
    const secret = spec.nats.credentials?.secretRef.name;
    const id = secret ? `${url} as ${namespace}/${secret}` : url;
    const failed = failedAt.get(id);
    if (failed !== undefined && Date.now() - failed < RETRY_UNREACHABLE_MS) {
      throw new Error(`NATS at ${url} was unreachable moments ago`);
    }
    let c = conns.get(id);
    if (!c) {
      c = authOf(namespace, spec).then((auth) =>
        connectNats({ servers: url, name: 'dwk-controller', timeoutMs: 2000, ...(auth ? { auth } : {}) }),
      );
      conns.set(id, c);
    }
    try {
      const nc = await c;
      if (nc.isClosed()) throw new Error('closed');
      return nc;
    } catch (err) {
      conns.delete(id);
      failedAt.set(id, Date.now());
      log.debug({ err, url }, 'NATS unreachable from the controller');
      throw err;
    }
  };

  const refresh = async (key: string, pipeline: string, spec: PipelineSpec) => {
    const entry = cache.get(key) ?? { at: 0, progress: undefined, refreshing: false };
    entry.refreshing = true;
    cache.set(key, entry);
    try {
      const namespace = key.split('/')[0] ?? '';
      const reader = await progressReader(await conn(namespace, spec), pipeline, knownTotalChunks(spec));
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
    async purge(namespace: string, pipeline: string, spec: PipelineSpec) {
      return deletePipeline(await conn(namespace, spec), pipeline);
    },
    async close() {
      for (const c of conns.values()) await (await c.catch(() => undefined))?.close();
    },
  };
}
