/**
 * The broadcaster's NATS objects: the shared todos stream, its own dead-letter stream and claims
 * bucket, and one durable consumer per stream that holds its subjects, shared by all replicas.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { ensureTodoStream, TODO_RETENTION_MS } from '../../lib/events/todo.ts';
import { DUPLICATE_WINDOW_MS, ensureStream } from '../../lib/nats/setup.ts';
import { TODOS, type Topology } from '../../lib/nats/topology.ts';

/** Longer than any stream the broadcaster reads keeps an event: a replay never finds no claim. */
export const CLAIM_TTL_MS = TODO_RETENTION_MS + 24 * 3600_000;

/** True when every subject `subject` matches is also matched by `pattern` (NATS wildcards). */
export function subjectCovers(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return i < s.length;
    if (i >= s.length || s[i] === '>') return false;
    if (p[i] !== '*' && (p[i] !== s[i] || s[i] === '*')) return false;
  }
  return p.length === s.length;
}

export interface Source {
  stream: string;
  consumer: string;
  filters: string[];
}

/** Filters of one stream for the configured subjects: each subject, or the stream's narrower ones. */
export function filtersFor(streamSubjects: string[], subjects: string[]): string[] {
  const out = new Set<string>();
  for (const s of subjects) {
    if (streamSubjects.some((ss) => subjectCovers(ss, s))) out.add(s);
    else for (const ss of streamSubjects) if (subjectCovers(s, ss)) out.add(ss);
  }
  return [...out].sort();
}

export async function ensureBroadcasterNats(
  jsm: JetStreamManager,
  t: Topology,
  subjects: string[],
  ackWaitSeconds: number,
): Promise<Source[]> {
  await ensureTodoStream(jsm);
  await ensureStream(jsm, {
    name: t.streams.broadcastDlq,
    subjects: [t.subjects.broadcastDlq],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: 1,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    max_age: nanos(CLAIM_TTL_MS),
  });
  const byStream = new Map<string, string[]>();
  for (const subject of subjects) {
    let found = false;
    for await (const name of jsm.streams.names(subject)) {
      // Never our own dead letters (a loop) nor KV buckets.
      if (name === t.streams.broadcastDlq || name.startsWith('KV_')) continue;
      const info = await jsm.streams.info(name);
      const filters = filtersFor(info.config.subjects ?? [], [subject]);
      if (filters.length === 0) continue;
      byStream.set(name, [...(byStream.get(name) ?? []), ...filters]);
      found = true;
    }
    if (!found) {
      throw new Error(
        `no JetStream stream stores subject ${subject}: publish todo events on todos.<action>, pipeline events are on dwk.<pipeline>.events.>, or create a stream for it`,
      );
    }
  }
  const sources: Source[] = [];
  for (const [stream, filters] of byStream) {
    const unique = [...new Set(filters)].sort();
    await ensureConsumer(jsm, stream, {
      durable_name: t.consumers.broadcaster,
      ack_policy: AckPolicy.Explicit,
      // The shared todos stream keeps a week of history that a new broadcaster must not replay
      // into a chat; a pipeline's own streams start with the pipeline.
      deliver_policy: stream === TODOS.stream ? DeliverPolicy.New : DeliverPolicy.All,
      ack_wait: nanos(ackWaitSeconds * 1000),
      // A target that is down must not make us drop events: retry for as long as the stream keeps them.
      max_deliver: -1,
      max_ack_pending: 1000,
      filter_subjects: unique,
    });
    sources.push({ stream, consumer: t.consumers.broadcaster, filters: unique });
  }
  return sources;
}

async function ensureConsumer(jsm: JetStreamManager, stream: string, cfg: Partial<ConsumerConfig>) {
  const name = cfg.durable_name ?? '';
  try {
    const c = (await jsm.consumers.info(stream, name)).config;
    const filters = c.filter_subjects ?? (c.filter_subject ? [c.filter_subject] : []);
    if (c.ack_wait !== cfg.ack_wait || [...filters].sort().join(',') !== cfg.filter_subjects?.join(',')) {
      await jsm.consumers.update(stream, name, {
        ack_wait: cfg.ack_wait,
        filter_subjects: cfg.filter_subjects,
      });
    }
  } catch (err) {
    if ((err as { name?: string }).name !== 'ConsumerNotFoundError') throw err;
    try {
      await jsm.consumers.add(stream, cfg);
    } catch (raced) {
      await jsm.consumers.info(stream, name).catch(() => {
        throw raced;
      });
    }
  }
}
