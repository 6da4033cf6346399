import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeEvent } from './message.ts';

const msg = (subject: string, data: unknown, headers: Record<string, string> = {}) => ({
  subject,
  data: typeof data === 'string' ? data : JSON.stringify(data),
  header: (n: string) => headers[n],
});

describe('describeEvent', () => {
  it('says what happened to a todo, in words', () => {
    const e = { id: '1', title: 'Buy milk', done: false, at: '2026-01-01T00:00:00Z' };
    assert.equal(describeEvent(msg('todos.created', { ...e, action: 'created' })), 'Todo created: Buy milk');
    assert.equal(
      describeEvent(msg('todos.done', { ...e, done: true, action: 'done' })),
      'Todo done: Buy milk',
    );
    assert.equal(describeEvent(msg('todos.deleted', { ...e, action: 'deleted' })), 'Todo deleted: Buy milk');
  });
  it('reports the pipeline finishing and dead letters with their reason', () => {
    assert.equal(
      describeEvent(msg('dwk.demo.events.completed', { chunksSaved: 1000, chunksDeadLettered: 2 })),
      'Pipeline demo completed: 1,000 chunks saved, 2 chunks dead-lettered',
    );
    assert.equal(
      describeEvent(
        msg('dwk.demo.dlq.object.17.3', 'x', { 'Dwk-Stage': 'mapper', 'Dwk-Reason': 'bad\njson' }),
      ),
      'Pipeline demo: object 3 of chunk 17 dead-lettered by the mapper: bad json',
    );
  });
  it('falls back to the subject and payload for anything else', () => {
    assert.equal(describeEvent(msg('todos.created', 'not json')), 'Event on todos.created: not json');
  });
});
