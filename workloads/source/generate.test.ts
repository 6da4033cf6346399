import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkCount, generatedChunk, generatedObject } from './generate.ts';

describe('the generated dataset', () => {
  it('is deterministic by seed and id, and shaped like a record', () => {
    const a = generatedObject(1, 42, 100_000);
    assert.deepEqual(generatedObject(1, 42, 100_000), a);
    assert.notDeepEqual(generatedObject(2, 42, 100_000), a);
    assert.equal(a.id, 42);
    assert.ok(a.first.length > 0 && a.last.length > 0);
    assert.ok(a.friends.every((f) => Number.isInteger(f) && f >= 0 && f < 100_000));
  });

  it('cuts objects into chunks, the last one short', () => {
    assert.equal(chunkCount(1001, 100), 11);
    assert.equal(generatedChunk(1, 1001, 100, 0).length, 100);
    const last = generatedChunk(1, 1001, 100, 10);
    assert.equal(last.length, 1);
    assert.equal((JSON.parse(last[0] ?? '') as { id: number }).id, 1000);
  });
});
