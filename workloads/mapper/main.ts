/**
 * The mapper: a durable pull consumer shared by all replicas. Each chunk is transformed, its bad
 * objects dead-lettered, its results stored with the chunk's id as message id, and only then acked.
 */
import { jetstream, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { ensurePipeline } from '../../lib/nats/setup.ts';
import { HEADERS } from '../../lib/nats/topology.ts';
import type { MapperConfig } from '../config.ts';
import { deadLetter } from '../deadletter.ts';
import type { RoleContext } from '../role.ts';
import { pullLoop } from '../pull.ts';
import { mapChunk, simulateWork } from './handler.ts';

export async function runMapper(config: MapperConfig, ctx: RoleContext): Promise<void> {
  const { log, metrics } = ctx;
  const transform = config.compiledTransform;
  const { topology: t } = await ensurePipeline(ctx.nc, config.pipeline, { mapper: config });
  const js = jetstream(ctx.nc);
  const consumer = await js.consumers.get(t.streams.chunks, t.consumers.mapper);
  ctx.setReady(true);

  const handle = async (m: JsMsg, abort: AbortSignal) => {
    const chunk = Number(m.headers?.get(HEADERS.chunk) ?? -1);
    const deliveries = m.info.deliveryCount;
    if (deliveries > 1) metrics.redeliveries.inc();
    if (deliveries > config.maxDeliver) {
      await deadLetter(js, t, metrics, {
        stage: 'mapper',
        chunk,
        kind: 'max_deliver',
        reason: `delivered ${deliveries - 1} times without a verdict (the worker crashed or timed out)`,
        payload: m.string(),
      });
      m.term('dead-lettered');
      return;
    }
    const started = performance.now();
    // Tell JetStream we are alive during long work, well inside ackWait.
    const heartbeat = setInterval(() => m.working(), (config.ackWaitSeconds * 1000) / 3);
    try {
      const mapped = await mapChunk(m.string().split('\n'), transform);
      await simulateWork(config, Math.random, abort);
      await Promise.all(
        mapped.failures.map((f) =>
          deadLetter(js, t, metrics, {
            stage: 'mapper',
            chunk,
            index: f.index,
            kind: f.kind,
            reason: f.reason,
            payload: f.line,
          }),
        ),
      );
      const h = natsHeaders();
      h.set(HEADERS.chunk, String(chunk));
      h.set(HEADERS.objects, String(mapped.results.length));
      await js.publish(t.subjects.results, mapped.results.join('\n'), {
        msgID: t.msgIds.result(chunk),
        headers: h,
      });
      await m.ackAck();
      metrics.chunksMapped.inc();
      metrics.objectsMapped.inc(mapped.results.length);
      metrics.stageDuration.observe((performance.now() - started) / 1000);
    } catch (err) {
      if (abort.aborted) {
        m.nak(); // shutting down: let another replica have it now
        return;
      }
      if (deliveries >= config.maxDeliver) {
        await deadLetter(js, t, metrics, {
          stage: 'mapper',
          chunk,
          kind: 'error',
          reason: `failed ${deliveries} times, last: ${(err as Error).message}`,
          payload: m.string(),
        });
        m.term('dead-lettered');
      } else {
        log.warn({ err, chunk, deliveries }, 'Chunk failed; it will be retried');
        metrics.naks.inc();
        m.nak(Math.min(1000 * 2 ** (deliveries - 1), 30_000));
      }
    } finally {
      clearInterval(heartbeat);
    }
  };

  await pullLoop({
    consumer,
    slots: config.concurrency,
    stopping: ctx.stopping,
    log,
    inFlight: metrics.inFlight,
    handle,
  });
}
