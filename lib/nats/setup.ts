/**
 * Creates (or updates) the streams, consumers and buckets of a pipeline. Idempotent: every
 * workload calls it at start, so replicas may race; NATS accepts identical re-creates.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { TODOS, topology, type Topology } from './topology.ts';

/** Long enough to cover a fetcher or mapper restart; the fetcher also resumes from the stream. */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;

export interface ConsumerSettings {
  maxDeliver: number;
  ackWaitSeconds: number;
  /** Upper bound of unacked messages across all replicas. */
  maxAckPending?: number;
}

function streamConfigs(t: Topology): Array<Partial<StreamConfig> & { name: string }> {
  const common = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: 1,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  };
  return [
    { ...common, name: t.streams.chunks, subjects: [t.subjects.chunks] },
    { ...common, name: t.streams.results, subjects: [t.subjects.results] },
    // One message per dead-lettered object or chunk: a redelivery replaces, never adds.
    { ...common, name: t.streams.dlq, subjects: [t.subjects.dlq], max_msgs_per_subject: 1 },
    { ...common, name: t.streams.events, subjects: [t.subjects.events], max_age: nanos(7 * 24 * 3600_000) },
  ];
}

export function consumerConfig(name: string, s: ConsumerSettings): Partial<ConsumerConfig> {
  return {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(s.ackWaitSeconds * 1000),
    // One delivery more than the pipeline allows: a worker that receives it knows the earlier
    // attempts died without a verdict (crash, OOM) and dead-letters the message instead.
    max_deliver: s.maxDeliver + 1,
    max_ack_pending: s.maxAckPending ?? 10_000,
  };
}

export async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }) {
  try {
    await jsm.streams.info(cfg.name);
    await jsm.streams.update(cfg.name, cfg);
  } catch (err) {
    if ((err as { name?: string }).name !== 'StreamNotFoundError') throw err;
    try {
      await jsm.streams.add(cfg);
    } catch (raced) {
      // Another replica created it first.
      await jsm.streams.info(cfg.name).catch(() => {
        throw raced;
      });
    }
  }
}

async function ensureConsumer(jsm: JetStreamManager, stream: string, cfg: Partial<ConsumerConfig>) {
  const name = cfg.durable_name ?? '';
  try {
    const info = await jsm.consumers.info(stream, name);
    const c = info.config;
    if (
      c.max_deliver !== cfg.max_deliver ||
      c.ack_wait !== cfg.ack_wait ||
      c.max_ack_pending !== cfg.max_ack_pending
    ) {
      await jsm.consumers.update(stream, name, {
        max_deliver: cfg.max_deliver,
        ack_wait: cfg.ack_wait,
        max_ack_pending: cfg.max_ack_pending,
      });
    }
  } catch (err) {
    if ((err as { name?: string }).name !== 'ConsumerNotFoundError') throw err;
    await jsm.consumers.add(stream, cfg);
  }
}

export interface PipelineNats {
  jsm: JetStreamManager;
  kvm: Kvm;
  topology: Topology;
}

/** Ensures every stream and bucket of the pipeline exists, and the consumers given. */
export async function ensurePipeline(
  nc: NatsConnection,
  pipeline: string,
  consumers: { mapper?: ConsumerSettings; saver?: ConsumerSettings } = {},
): Promise<PipelineNats> {
  const t = topology(pipeline);
  const jsm = await jetstreamManager(nc);
  for (const cfg of streamConfigs(t)) await ensureStream(jsm, cfg);
  // Each consumer is tuned by the role that reads it, so a fetcher never resets a mapper's settings.
  if (consumers.mapper) {
    await ensureConsumer(jsm, t.streams.chunks, consumerConfig(t.consumers.mapper, consumers.mapper));
  }
  if (consumers.saver) {
    await ensureConsumer(jsm, t.streams.results, consumerConfig(t.consumers.saver, consumers.saver));
  }
  const kvm = new Kvm(nc);
  await kvm.create(t.buckets.state, { history: 1 });
  await kvm.create(t.buckets.saved, { history: 1 });
  return { jsm, kvm, topology: t };
}

/** Deletes every stream and bucket of the pipeline (deletePolicy: delete, `dwk down --purge`). */
export async function deletePipeline(nc: NatsConnection, pipeline: string): Promise<string[]> {
  const t = topology(pipeline);
  const jsm = await jetstreamManager(nc);
  const deleted: string[] = [];
  const names = [
    ...Object.values(t.streams),
    `KV_${t.buckets.state}`,
    `KV_${t.buckets.saved}`,
    `KV_${t.buckets.claims}`,
  ];
  // The todos stream is shared with other pipelines: only this pipeline's consumer goes.
  await jsm.consumers.delete(TODOS.stream, t.consumers.broadcaster).catch((err: unknown) => {
    const name = (err as { name?: string }).name;
    if (name !== 'StreamNotFoundError' && name !== 'ConsumerNotFoundError') throw err;
  });
  for (const name of names) {
    try {
      await jsm.streams.delete(name);
      deleted.push(name);
    } catch (err) {
      if ((err as { name?: string }).name !== 'StreamNotFoundError') throw err;
    }
  }
  return deleted;
}
