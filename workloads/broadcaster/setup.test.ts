import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filtersFor, subjectCovers } from './setup.ts';

describe('subjects', () => {
  it('knows when one subject pattern covers another', () => {
    assert.ok(subjectCovers('todos.>', 'todos.created'));
    assert.ok(subjectCovers('todos.>', 'todos.*'));
    assert.ok(subjectCovers('dwk.p.events.>', 'dwk.p.events.completed'));
    assert.ok(!subjectCovers('todos.*', 'todos.>'));
    assert.ok(!subjectCovers('todos.created', 'todos.*'));
    assert.ok(!subjectCovers('todos.>', 'todos'));
  });
  it('filters a stream by the configured subjects, or by its own narrower ones', () => {
    assert.deepEqual(filtersFor(['todos.>'], ['todos.created', 'todos.done']), [
      'todos.created',
      'todos.done',
    ]);
    assert.deepEqual(filtersFor(['dwk.p.events.>'], ['dwk.p.>']), ['dwk.p.events.>']);
  });
});
