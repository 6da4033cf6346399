import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_TRANSFORM } from '../../api/v1alpha1/pipeline.ts';
import { compileTransform, mapChunk, simulateWork } from './handler.ts';

describe('the mapper handler', () => {
  it('applies the default transform of the classic example', async () => {
    const lines = [JSON.stringify({ id: 1, first: 'Ada', last: 'Lovelace', friends: [2] })];
    const out = await mapChunk(lines, compileTransform(DEFAULT_TRANSFORM));
    assert.deepEqual(out, { results: ['{"id":1,"name":"Ada Lovelace"}'], failures: [] });
  });

  it('dead-letters malformed JSON, a missing id and a result without id, and keeps the rest', async () => {
    const lines = [
      '{"id": 1, "first": "A", "last": "B"}',
      '{"id": 2, "first": ',
      '{"first": "no id"}',
      '{"id": 4}',
    ];
    const out = await mapChunk(lines, compileTransform('id = 4 ? {"name": "lost"} : {"id": id}'));
    assert.deepEqual(out.results, ['{"id":1}']);
    assert.deepEqual(
      out.failures.map((f) => [f.index, f.kind, f.line]),
      [
        [1, 'parse', '{"id": 2, "first": '],
        [2, 'no_id', '{"first": "no id"}'],
        [3, 'no_id', '{"id": 4}'],
      ],
    );
    assert.match(out.failures[0]?.reason ?? '', /^malformed JSON/);
  });

  it('dead-letters an object whose transform throws', async () => {
    const out = await mapChunk(['{"id": 1}'], compileTransform('$error("no good")'));
    assert.equal(out.failures[0]?.kind, 'transform');
    assert.match(out.failures[0]?.reason ?? '', /no good/);
  });

  it('reports a JSONata syntax error with its position', () => {
    assert.throws(() => compileTransform('{"id": id,'), /invalid JSONata expression: .*position/);
  });

  it('simulated work waits within the range and stops when aborted', async () => {
    const t0 = performance.now();
    await simulateWork({ waitMinMs: 30, waitMaxMs: 30, cpuMs: 20 }, () => 0.5, new AbortController().signal);
    assert.ok(performance.now() - t0 >= 48);
    const abort = new AbortController();
    const pending = simulateWork({ waitMinMs: 10_000, waitMaxMs: 10_000, cpuMs: 0 }, () => 0, abort.signal);
    abort.abort();
    await assert.rejects(pending, /aborted/);
  });
});
