/**
 * Names of everything a pipeline keeps in NATS: streams, subjects, consumers, buckets, headers.
 * The workloads, local mode, `dwk status` and the controller all derive names here. No I/O.
 */

/** Stream-safe token of a pipeline name (Kubernetes names allow only [a-z0-9-]). */
const token = (pipeline: string) => pipeline.toUpperCase().replaceAll('-', '_');

export interface Topology {
  pipeline: string;
  streams: { chunks: string; results: string; dlq: string; events: string };
  subjects: {
    /** Every chunk has its own subject, so the fetcher can tell exactly which ones are stored. */
    chunks: string;
    chunk: (chunk: number) => string;
    results: string;
    /** All dead letters; one object is `dlq.object.<chunk>.<index>`, one chunk `dlq.chunk.<chunk>`. */
    dlq: string;
    dlqObject: (chunk: number, index: number) => string;
    dlqChunk: (chunk: number) => string;
    dlqChunks: string;
    events: string;
    event: (kind: string) => string;
  };
  consumers: { mapper: string; saver: string };
  buckets: { state: string; saved: string };
  keys: { fetcherLeader: string; fetcherProgress: string; saved: (chunk: number) => string };
  msgIds: {
    chunk: (chunk: number) => string;
    result: (chunk: number) => string;
    dlqObject: (chunk: number, index: number) => string;
    dlqChunk: (chunk: number) => string;
    event: (kind: string, id: string) => string;
  };
}

export function topology(pipeline: string): Topology {
  const t = token(pipeline);
  const base = `dwk.${pipeline}`;
  return {
    pipeline,
    streams: {
      chunks: `DWK_${t}_CHUNKS`,
      results: `DWK_${t}_RESULTS`,
      dlq: `DWK_${t}_DLQ`,
      events: `DWK_${t}_EVENTS`,
    },
    subjects: {
      chunks: `${base}.chunks.*`,
      chunk: (chunk) => `${base}.chunks.${chunk}`,
      results: `${base}.results`,
      dlq: `${base}.dlq.>`,
      dlqObject: (chunk, index) => `${base}.dlq.object.${chunk}.${index}`,
      dlqChunk: (chunk) => `${base}.dlq.chunk.${chunk}`,
      dlqChunks: `${base}.dlq.chunk.>`,
      events: `${base}.events.>`,
      event: (kind) => `${base}.events.${kind}`,
    },
    consumers: { mapper: 'mapper', saver: 'saver' },
    buckets: { state: `DWK_${t}_STATE`, saved: `DWK_${t}_SAVED` },
    keys: {
      fetcherLeader: 'fetcher.leader',
      fetcherProgress: 'fetcher.progress',
      saved: (chunk) => `c.${chunk}`,
    },
    msgIds: {
      chunk: (chunk) => `${pipeline}:chunk:${chunk}`,
      result: (chunk) => `${pipeline}:result:${chunk}`,
      dlqObject: (chunk, index) => `${pipeline}:dlq:${chunk}:${index}`,
      dlqChunk: (chunk) => `${pipeline}:dlq:${chunk}`,
      event: (kind, id) => `${pipeline}:event:${kind}:${id}`,
    },
  };
}

/** Headers the workloads set on their messages. */
export const HEADERS = {
  msgId: 'Nats-Msg-Id',
  chunk: 'Dwk-Chunk',
  reason: 'Dwk-Reason',
  stage: 'Dwk-Stage',
  objects: 'Dwk-Objects',
} as const;
