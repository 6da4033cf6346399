/** Reads a pipeline's progress from NATS: what `dwk status`, local mode and the controller show. */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Progress } from '../../api/v1alpha1/status.ts';
import { readBroadcastOutcomes, type BroadcastOutcomes } from './broadcast-outcomes.ts';
import { topology } from './topology.ts';

/** What the fetcher records in the state bucket under `fetcher.progress`. */
export interface FetcherProgress {
  /** Chunks stored in the chunks stream, 0..published-1. */
  published: number;
  /** True once the source is exhausted: `published` is then the total. */
  done: boolean;
  updatedAt: string;
}

export interface StageLag {
  /** Messages in the stream that the consumer has not been given yet. */
  pending: number;
  /** Given to a worker, not yet acknowledged. */
  ackPending: number;
  redelivered: number;
  waiting: number;
}

export interface PipelineFigures {
  progress: Progress;
  lag: { mapper?: StageLag; saver?: StageLag };
}

const notFound = (err: unknown) => {
  const name = (err as { name?: string }).name;
  return name === 'StreamNotFoundError' || name === 'ConsumerNotFoundError';
};

export function decodeFetcherProgress(bytes: Uint8Array | undefined): FetcherProgress | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  return JSON.parse(new TextDecoder().decode(bytes)) as FetcherProgress;
}

export interface ProgressReader {
  read(): Promise<PipelineFigures>;
  /** What the broadcasters did, summed over every process; undefined before any reported. */
  broadcastOutcomes(): Promise<BroadcastOutcomes | undefined>;
}

/**
 * A reader that polls cheaply: stream and bucket info, no message scans.
 * `knownTotal` is the chunk count when the spec knows it up front (a generated dataset).
 */
export async function progressReader(
  nc: NatsConnection,
  pipeline: string,
  knownTotal?: number,
): Promise<ProgressReader> {
  const t = topology(pipeline);
  const jsm: JetStreamManager = await jetstreamManager(nc, { checkAPI: false });
  const kvm = new Kvm(nc);

  const lagOf = async (stream: string, consumer: string): Promise<StageLag | undefined> => {
    try {
      const ci = await jsm.consumers.info(stream, consumer);
      return {
        pending: ci.num_pending,
        ackPending: ci.num_ack_pending,
        redelivered: ci.num_redelivered,
        waiting: ci.num_waiting,
      };
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  };

  /** Messages in a stream; with a filter, those on matching subjects (state.messages is always the total). */
  const count = async (stream: string, filter?: string): Promise<{ messages: number; subjects: number }> => {
    try {
      const si = await jsm.streams.info(stream, filter ? { subjects_filter: filter } : undefined);
      if (!filter) return { messages: si.state.messages, subjects: si.state.num_subjects ?? 0 };
      const perSubject = Object.values(si.state.subjects ?? {});
      return { messages: perSubject.reduce((a, b) => a + b, 0), subjects: perSubject.length };
    } catch (err) {
      if (notFound(err)) return { messages: 0, subjects: 0 };
      throw err;
    }
  };

  const fetcherProgress = async (): Promise<FetcherProgress | undefined> => {
    try {
      const kv = await kvm.open(t.buckets.state);
      const e = await kv.get(t.keys.fetcherProgress);
      return decodeFetcherProgress(e?.value);
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  };

  return {
    async read() {
      const [fp, saved, dlqAll, dlqChunks, mapper, saver] = await Promise.all([
        fetcherProgress(),
        count(`KV_${t.buckets.saved}`),
        count(t.streams.dlq),
        count(t.streams.dlq, t.subjects.dlqChunks),
        lagOf(t.streams.chunks, t.consumers.mapper),
        lagOf(t.streams.results, t.consumers.saver),
      ]);
      const total = fp?.done ? fp.published : knownTotal;
      const progress: Progress = {
        ...(total !== undefined ? { chunksTotal: total } : {}),
        chunksPublished: fp?.published ?? 0,
        chunksSaved: saved.messages,
        chunksDeadLettered: dlqChunks.subjects,
        objectsDeadLettered: dlqAll.messages - dlqChunks.messages,
      };
      return { progress, lag: { ...(mapper ? { mapper } : {}), ...(saver ? { saver } : {}) } };
    },
    async broadcastOutcomes() {
      try {
        return await readBroadcastOutcomes(await kvm.open(t.buckets.state));
      } catch (err) {
        if (notFound(err)) return undefined;
        throw err;
      }
    },
  };
}
