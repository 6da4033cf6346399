/** Dead letters: the original payload and the reason, one message per object or chunk. */
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { HEADERS, type Topology } from '../lib/nats/topology.ts';
import type { Metrics } from './metrics.ts';

export interface DeadLetter {
  stage: 'mapper' | 'saver';
  chunk: number;
  /** Object index within the chunk; absent when the whole chunk is dead-lettered. */
  index?: number;
  kind: string;
  reason: string;
  payload: string;
}

export async function deadLetter(
  js: JetStreamClient,
  t: Topology,
  metrics: Metrics,
  d: DeadLetter,
): Promise<void> {
  const h = natsHeaders();
  h.set(HEADERS.stage, d.stage);
  h.set(HEADERS.chunk, String(d.chunk));
  h.set(HEADERS.reason, d.reason.replace(/[\r\n]+/g, ' ').slice(0, 1000));
  const whole = d.index === undefined;
  await js.publish(
    whole ? t.subjects.dlqChunk(d.chunk) : t.subjects.dlqObject(d.chunk, d.index ?? 0),
    d.payload,
    {
      msgID: whole ? t.msgIds.dlqChunk(d.chunk) : t.msgIds.dlqObject(d.chunk, d.index ?? 0),
      headers: h,
    },
  );
  metrics.deadLetters.inc({ kind: whole ? 'chunk' : 'object', reason: d.kind });
}
