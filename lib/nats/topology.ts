/**
 * Names of everything a pipeline keeps in NATS: streams, subjects, consumers, buckets, headers.
 * The workloads, local mode, `dwk status` and the controller all derive names here. No I/O.
 */

/** Stream-safe token of a pipeline name (Kubernetes names allow only [a-z0-9-]). */
const token = (pipeline: string) => pipeline.toUpperCase().replaceAll('-', '_');

export interface Topology {
  pipeline: string;
  streams: { chunks: string; results: string; dlq: string; events: string; broadcastDlq: string };
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
    /** Events the broadcaster could not deliver: `rejected` (4xx) or `unknown` (may have been sent). */
    broadcastDlq: string;
    broadcastDlqOf: (verdict: 'rejected' | 'unknown') => string;
  };
  /** `broadcaster` also names the pipeline's consumer on the shared todos stream, hence the suffix. */
  consumers: { mapper: string; saver: string; broadcaster: string };
  /** `claims`: one key per broadcast event id, created before the POST (no two replicas send it). */
  buckets: { state: string; saved: string; claims: string };
  keys: { fetcherLeader: string; fetcherProgress: string; saved: (chunk: number) => string };
  msgIds: {
    chunk: (chunk: number) => string;
    result: (chunk: number) => string;
    dlqObject: (chunk: number, index: number) => string;
    dlqChunk: (chunk: number) => string;
    event: (kind: string, id: string) => string;
    broadcastDlq: (eventId: string) => string;
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
      broadcastDlq: `DWK_${t}_BROADCAST_DLQ`,
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
      broadcastDlq: `${base}.broadcast.dlq.>`,
      broadcastDlqOf: (verdict) => `${base}.broadcast.dlq.${verdict}`,
    },
    consumers: { mapper: 'mapper', saver: 'saver', broadcaster: `broadcaster-${pipeline}` },
    buckets: { state: `DWK_${t}_STATE`, saved: `DWK_${t}_SAVED`, claims: `DWK_${t}_CLAIMS` },
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
      broadcastDlq: (eventId) => `${pipeline}:broadcast-dlq:${eventId}`,
    },
  };
}

/**
 * Todo events are shared by every pipeline: backends publish `todos.<action>` once, and each
 * pipeline's broadcaster reads them through its own consumer. Deleting a pipeline keeps them.
 */
export const TODOS = {
  stream: 'DWK_TODOS',
  subjects: 'todos.>',
  subject: (action: string) => `todos.${action}`,
} as const;

/** Headers the workloads set on their messages. */
export const HEADERS = {
  msgId: 'Nats-Msg-Id',
  chunk: 'Dwk-Chunk',
  reason: 'Dwk-Reason',
  stage: 'Dwk-Stage',
  objects: 'Dwk-Objects',
  eventId: 'Dwk-Event-Id',
  subject: 'Dwk-Subject',
  status: 'Dwk-Status',
} as const;
