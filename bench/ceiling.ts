/**
 * The ceiling of a bench run: the pipeline's chunk payloads published into the chunks stream and
 * consumed by its durable pull consumer (explicit acks), with no processing in between.
 *
 *   node bench/ceiling.ts publish '{"natsUrl":…,"pipeline":…,"objects":…,"chunkSize":…,"maxInFlight":…}'
 *   node bench/ceiling.ts consume '{"natsUrl":…,"pipeline":…,"chunks":…,"mode":"consume"|"next","slots":4}'
 *
 * The stream and consumer are the pipeline's own (run.ts creates them with ensurePipeline). The
 * consumer prints one JSON line when ready and one when every chunk is acked.
 */
import { jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { DEFAULT_SEED } from '../api/v1alpha1/pipeline.ts';
import { HEADERS, topology } from '../lib/nats/topology.ts';
import { chunkCount, generatedChunk } from '../workloads/source/generate.ts';

export interface PublishArgs {
  natsUrl: string;
  pipeline: string;
  objects: number;
  chunkSize: number;
  maxInFlight: number;
}

export interface ConsumeArgs {
  natsUrl: string;
  pipeline: string;
  chunks: number;
  /** consume(): a flowing pull with plain acks; next(): the mapper's one-at-a-time pulls with ackAck. */
  mode: 'consume' | 'next';
  slots: number;
}

/** Publishes like the fetcher: one subject, message id and headers per chunk, bounded in flight. */
async function publish(a: PublishArgs): Promise<void> {
  const t = topology(a.pipeline);
  const total = chunkCount(a.objects, a.chunkSize);
  // Generated up front: the ceiling measures NATS, not the generator.
  const payloads = Array.from({ length: total }, (_, i) =>
    generatedChunk(DEFAULT_SEED, a.objects, a.chunkSize, i),
  );
  const nc = await connect({ servers: a.natsUrl, name: 'bench-ceiling-publisher' });
  const js = jetstream(nc);
  const window: Array<Promise<unknown>> = [];
  for (let i = 0; i < total; i++) {
    const lines = payloads[i] ?? [];
    const h = natsHeaders();
    h.set(HEADERS.chunk, String(i));
    h.set(HEADERS.objects, String(lines.length));
    window.push(js.publish(t.subjects.chunk(i), lines.join('\n'), { msgID: t.msgIds.chunk(i), headers: h }));
    if (window.length >= a.maxInFlight) await window.shift();
  }
  await Promise.all(window);
  await nc.drain();
}

async function consumeAll(consumer: Consumer, chunks: number): Promise<void> {
  const messages = await consumer.consume();
  let seen = 0;
  for await (const m of messages) {
    m.ack();
    if (++seen >= chunks) break;
  }
  await messages.close();
}

/** Resolves when `chunks` messages are acked; the workers left waiting die with the connection. */
function nextAll(consumer: Consumer, chunks: number, slots: number): Promise<void> {
  let pulled = 0;
  let acked = 0;
  return new Promise<void>((resolve, reject) => {
    const worker = async () => {
      while (pulled < chunks) {
        const m: JsMsg | null = await consumer.next({ expires: 2000 });
        if (!m) continue;
        pulled++;
        await m.ackAck();
        if (++acked >= chunks) resolve();
      }
    };
    for (let i = 0; i < slots; i++) worker().catch(reject);
  });
}

async function consume(a: ConsumeArgs): Promise<void> {
  const t = topology(a.pipeline);
  const nc = await connect({ servers: a.natsUrl, name: 'bench-ceiling-consumer' });
  const consumer = await jetstream(nc).consumers.get(t.streams.chunks, t.consumers.mapper);
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  if (a.mode === 'consume') await consumeAll(consumer, a.chunks);
  else await nextAll(consumer, a.chunks, a.slots);
  await nc.flush(); // every ack has reached the server
  process.stdout.write(`${JSON.stringify({ doneAt: Date.now() })}\n`);
  await nc.close();
}

const [command, json] = process.argv.slice(2);
if (command === 'publish') await publish(JSON.parse(json ?? '{}') as PublishArgs);
else if (command === 'consume') await consume(JSON.parse(json ?? '{}') as ConsumeArgs);
else throw new Error(`usage: node bench/ceiling.ts publish|consume '<json>'`);
// Stay up until SIGTERM: the bench reads this process's CPU and peak RSS after the run.
setInterval(() => undefined, 1 << 30);
