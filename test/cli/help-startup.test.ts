// `dwk --help` must start fast: the median of 15 runs of the real bin/dwk stays under 300 ms.
// Heavy modules load inside command actions, so help touches only commander and the factories.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { DWK } from './helpers.ts';

export function measureHelp(runs: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(DWK, ['--help'], { encoding: 'utf8' });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    assert.equal(r.status, 0, r.stderr);
  }
  return times.sort((a, b) => a - b);
}

describe('dwk --help start-up', () => {
  test('median under 300 ms over 15 runs', () => {
    measureHelp(2); // fills Node's compile cache
    const times = measureHelp(15);
    const median = times[Math.floor(times.length / 2)] ?? Infinity;
    console.log(
      `dwk --help: median ${median.toFixed(0)} ms, min ${times[0]?.toFixed(0)} ms, max ${times.at(-1)?.toFixed(0)} ms`,
    );
    assert.ok(median < 300, `median ${median.toFixed(0)} ms`);
  });
});
