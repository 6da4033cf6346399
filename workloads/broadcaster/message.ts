/**
 * What people read: one short line per event ("Todo created: Buy milk"). Pure; the subject, the
 * headers and the payload are all it needs.
 */
import { parseTodoEvent, type TodoAction } from '../../lib/events/todo.ts';
import { HEADERS } from '../../lib/nats/topology.ts';

export interface EventMessage {
  subject: string;
  data: string;
  header(name: string): string | undefined;
}

const TODO_VERBS: Record<TodoAction, string> = {
  created: 'created',
  updated: 'updated',
  done: 'done',
  deleted: 'deleted',
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const oneLine = (text: string, max: number) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

const count = (n: unknown, one: string, many = `${one}s`) =>
  typeof n === 'number' ? `${n.toLocaleString('en-US')} ${n === 1 ? one : many}` : `? ${many}`;

function pipelineEvent(pipeline: string, rest: string[], m: EventMessage): string | undefined {
  const [area, kind, a, b] = rest;
  const body = parseJson(m.data) as Record<string, unknown> | undefined;
  if (area === 'events' && kind === 'completed' && body) {
    const dead = Number(body.chunksDeadLettered ?? 0);
    const tail = dead > 0 ? `, ${count(dead, 'chunk')} dead-lettered` : '';
    return `Pipeline ${pipeline} completed: ${count(body.chunksSaved, 'chunk')} saved${tail}`;
  }
  if (area === 'events' && kind === 'saved' && body) {
    return `Pipeline ${pipeline}: chunk ${String(body.chunk)} saved (${count(body.objects, 'object')})`;
  }
  if (area === 'dlq') {
    const stage = m.header(HEADERS.stage) ?? 'pipeline';
    const reason = oneLine(m.header(HEADERS.reason) ?? 'no reason given', 300);
    if (kind === 'object' && a !== undefined && b !== undefined) {
      return `Pipeline ${pipeline}: object ${b} of chunk ${a} dead-lettered by the ${stage}: ${reason}`;
    }
    if (kind === 'chunk' && a !== undefined) {
      return `Pipeline ${pipeline}: chunk ${a} dead-lettered by the ${stage}: ${reason}`;
    }
  }
  return undefined;
}

/** The human-readable text of one event. */
export function describeEvent(m: EventMessage): string {
  const tokens = m.subject.split('.');
  if (tokens[0] === 'todos') {
    const todo = parseTodoEvent(parseJson(m.data));
    if (todo) {
      const title = oneLine(todo.title, 500) || '(untitled)';
      return `Todo ${TODO_VERBS[todo.action]}: ${title}`;
    }
  }
  if (tokens[0] === 'dwk' && tokens[1] !== undefined) {
    const text = pipelineEvent(tokens[1], tokens.slice(2), m);
    if (text) return text;
  }
  return `Event on ${m.subject}: ${oneLine(m.data, 300) || '(empty)'}`;
}
