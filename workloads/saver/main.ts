/**
 * The saver: takes mapped chunks in batches, writes their objects to the sink once by id, makes
 * the write durable, marks each chunk saved in KV, announces it, and only then acks.
 */
import { jetstream, type JsMsg } from '@nats-io/jetstream';
import { ensurePipeline } from '../../lib/nats/setup.ts';
import { HEADERS } from '../../lib/nats/topology.ts';
import type { SaverConfig } from '../config.ts';
import { deadLetter } from '../deadletter.ts';
import type { RoleContext } from '../role.ts';
import { idOfLine, logSink, openJsonlSink, type Sink, type SinkRecord } from './jsonl-sink.ts';

export async function runSaver(config: SaverConfig, ctx: RoleContext): Promise<void> {
  const { log, metrics } = ctx;
  const { topology: t, kvm } = await ensurePipeline(ctx.nc, config.pipeline, { saver: config });
  const js = jetstream(ctx.nc);
  const saved = await kvm.open(t.buckets.saved);
  const sink: Sink =
    config.sink.type === 'jsonl'
      ? await openJsonlSink(config.sink.path)
      : logSink((line) => process.stdout.write(`{"level":"info","msg":"Record","record":${line}}\n`));
  const skipChunksMarkedSaved = config.sink.type === 'log';
  ctx.onStop(() => sink.close());
  const consumer = await js.consumers.get(t.streams.results, t.consumers.saver);
  ctx.setReady(true);

  const saveBatch = async (batch: JsMsg[]) => {
    const started = performance.now();
    const live: JsMsg[] = [];
    for (const m of batch) {
      const chunk = Number(m.headers?.get(HEADERS.chunk) ?? -1);
      if (m.info.deliveryCount > 1) metrics.redeliveries.inc();
      if (m.info.deliveryCount > config.maxDeliver) {
        await deadLetter(js, t, metrics, {
          stage: 'saver',
          chunk,
          kind: 'max_deliver',
          reason: `delivered ${m.info.deliveryCount - 1} times without a verdict`,
          payload: m.string(),
        });
        m.term('dead-lettered');
      } else live.push(m);
    }
    try {
      // The log sink cannot read back what it printed: a chunk already marked saved was printed by
      // a saver that died (or lost NATS) before its ack, so it is not printed again. A saver that
      // dies between printing and marking still prints that chunk twice (docs/adr/0010).
      const marked = await Promise.all(
        live.map(async (m) => {
          if (!skipChunksMarkedSaved) return false;
          const entry = await saved.get(t.keys.saved(Number(m.headers?.get(HEADERS.chunk) ?? -1)));
          return entry?.operation === 'PUT';
        }),
      );
      const records: SinkRecord[] = [];
      let alreadySaved = 0;
      for (const [i, m] of live.entries()) {
        const lines = m
          .string()
          .split('\n')
          .filter((line) => line !== '');
        if (marked[i]) alreadySaved += lines.length;
        else for (const line of lines) records.push({ id: idOfLine(line) ?? line, line });
      }
      const result = await sink.write(records);
      metrics.objectsSaved.inc(result.written);
      metrics.objectsSkipped.inc(result.skipped + alreadySaved);
      await Promise.all(
        live.map(async (m) => {
          const chunk = Number(m.headers?.get(HEADERS.chunk) ?? -1);
          const objects = Number(m.headers?.get(HEADERS.objects) ?? 0);
          await saved.put(t.keys.saved(chunk), JSON.stringify({ objects, at: new Date().toISOString() }));
          await js.publish(
            t.subjects.event('saved'),
            JSON.stringify({ type: 'chunk.saved', chunk, objects }),
            {
              msgID: t.msgIds.event('saved', String(chunk)),
            },
          );
          await m.ackAck();
          metrics.chunksSaved.inc();
        }),
      );
      metrics.stageDuration.observe((performance.now() - started) / 1000);
    } catch (err) {
      log.error({ err, chunks: live.length }, 'Saving a batch failed; it will be retried');
      for (const m of live) {
        if (m.info.deliveryCount >= config.maxDeliver) {
          const chunk = Number(m.headers?.get(HEADERS.chunk) ?? -1);
          await deadLetter(js, t, metrics, {
            stage: 'saver',
            chunk,
            kind: 'error',
            reason: `failed ${m.info.deliveryCount} times, last: ${(err as Error).message}`,
            payload: m.string(),
          }).catch(() => undefined);
          m.term('dead-lettered');
        } else {
          metrics.naks.inc();
          m.nak(Math.min(1000 * 2 ** (m.info.deliveryCount - 1), 30_000));
        }
      }
    }
  };

  // consume() keeps messages flowing into a small local queue; each batch takes whatever has
  // arrived (up to batchSize), so one fsync covers many chunks without waiting for a full batch.
  const messages = await consumer.consume({ max_messages: config.batchSize });
  const queue: JsMsg[] = [];
  let wakeSaver: (() => void) | undefined;
  let wakeReader: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    if (ctx.stopping.aborted) resolve();
    ctx.stopping.addEventListener('abort', () => resolve(), { once: true });
  });
  void stopped.then(() => {
    void messages.close();
    wakeSaver?.();
    wakeReader?.();
  });
  const reader = (async () => {
    for await (const m of messages) {
      queue.push(m);
      wakeSaver?.();
      // Backpressure: stop taking from the consumer while a full batch waits.
      while (queue.length >= config.batchSize && !ctx.stopping.aborted) {
        await new Promise<void>((r) => (wakeReader = r));
      }
      if (ctx.stopping.aborted) m.nak();
    }
  })();
  while (!ctx.stopping.aborted) {
    if (queue.length === 0) {
      await new Promise<void>((r) => (wakeSaver = r));
      continue;
    }
    const batch = queue.splice(0, config.batchSize);
    wakeReader?.();
    // A batch in hand is finished even during shutdown: it is one fsync away from done.
    await saveBatch(batch);
  }
  // Queued but not started: hand back at once rather than wait for ackWait.
  for (const m of queue.splice(0)) m.nak();
  await Promise.race([reader, new Promise((r) => setTimeout(r, 1000))]);
}
