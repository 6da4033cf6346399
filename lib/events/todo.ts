/**
 * Todo events: what a backend publishes when it saves a todo, and what the broadcaster reads.
 * The schema is documented in docs/events.md. One event per change, on `todos.<action>`, with an
 * event id (the `Nats-Msg-Id` header) derived from the change itself, so a retried publish of the
 * same change is the same event: JetStream drops it inside its duplicate window and the
 * broadcaster's claim drops it after that.
 */
import {
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { DUPLICATE_WINDOW_MS, ensureStream } from '../nats/setup.ts';
import { TODOS } from '../nats/topology.ts';

export const TODO_ACTIONS = ['created', 'updated', 'done', 'deleted'] as const;
export type TodoAction = (typeof TODO_ACTIONS)[number];

/** The payload of a todo event (JSON). */
export interface TodoEvent {
  /** The todo's id in the backend. */
  id: string;
  title: string;
  done: boolean;
  action: TodoAction;
  /** When the change happened (ISO 8601), as the backend stored it. */
  at: string;
}

/** How long todo events stay readable: a broadcaster down for less than this loses nothing. */
export const TODO_RETENTION_MS = 7 * 24 * 3600_000;

export const todoSubject = (action: TodoAction): string => TODOS.subject(action);

/**
 * The idempotent id of one change: the same todo, action and change time give the same id, so
 * a backend that retries after a lost reply (or replays its outbox) publishes the same event.
 */
export function todoEventId(event: Pick<TodoEvent, 'id' | 'action' | 'at'>): string {
  return `todo:${event.id}:${event.action}:${event.at}`;
}

/** The event, or undefined when `value` is not a todo event. */
export function parseTodoEvent(value: unknown): TodoEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const id = typeof v.id === 'number' ? String(v.id) : v.id;
  if (typeof id !== 'string' || id === '') return undefined;
  if (typeof v.title !== 'string') return undefined;
  if (typeof v.done !== 'boolean') return undefined;
  if (typeof v.action !== 'string' || !TODO_ACTIONS.includes(v.action as TodoAction)) return undefined;
  if (typeof v.at !== 'string') return undefined;
  return { id, title: v.title, done: v.done, action: v.action as TodoAction, at: v.at };
}

/** Creates the shared todos stream if it is missing (backends and broadcasters both call it). */
export async function ensureTodoStream(jsm: JetStreamManager): Promise<void> {
  await ensureStream(jsm, {
    name: TODOS.stream,
    subjects: [TODOS.subjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: 1,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    max_age: nanos(TODO_RETENTION_MS),
  });
}

export interface PublishedTodoEvent {
  eventId: string;
  /** True when JetStream already had this event id: nothing new was stored. */
  duplicate: boolean;
  seq: number;
}

/**
 * Publishes one todo event and waits for JetStream to store it. Throws when it is not stored
 * (the caller retries with the same event; the id makes the retry harmless).
 */
export async function publishTodoEvent(
  js: JetStreamClient,
  event: TodoEvent,
  options: { eventId?: string; timeoutMs?: number } = {},
): Promise<PublishedTodoEvent> {
  const eventId = options.eventId ?? todoEventId(event);
  const ack = await js.publish(todoSubject(event.action), JSON.stringify(event), {
    msgID: eventId,
    timeout: options.timeoutMs ?? 5000,
  });
  return { eventId, duplicate: ack.duplicate, seq: ack.seq };
}
