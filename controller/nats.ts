/** The controller's view into NATS: progress for status, and cleanup for deletePolicy: delete. */
import { knownTotalChunks, type PipelineSpec } from '../api/v1alpha1/pipeline.ts';
import { connectNats, type NatsConnection } from '../lib/nats/connect.ts';
import { progressReader } from '../lib/nats/progress.ts';
import { deletePipeline } from '../lib/nats/setup.ts';
import type { Logger } from '../lib/log.ts';
import type { NatsSide } from './reconcile.ts';

/** One connection per NATS URL, opened on first use; unreachable NATS is retried after a pause. */
export function natsSide(log: Logger): NatsSide & { close(): Promise<void> } {
  const conns = new Map<string, Promise<NatsConnection>>();
  const failedAt = new Map<string, number>();
  const conn = async (url: string) => {
    const failed = failedAt.get(url);
    if (failed !== undefined && Date.now() - failed < 30_000)
      throw new Error(`NATS at ${url} was unreachable moments ago`);
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
  return {
    async progress(pipeline: string, spec: PipelineSpec) {
      const nc = await conn(spec.nats.url);
      const reader = await progressReader(nc, pipeline, knownTotalChunks(spec));
      return (await reader.read()).progress;
    },
    async purge(pipeline: string, spec: PipelineSpec) {
      return deletePipeline(await conn(spec.nats.url), pipeline);
    },
    async close() {
      for (const c of conns.values()) await (await c.catch(() => undefined))?.close();
    },
  };
}
