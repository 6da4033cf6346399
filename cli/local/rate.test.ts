import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Progress } from '../../api/v1alpha1/status.ts';
import { RateTracker } from './rate.ts';

const progress = (saved: number, total?: number, dead = 0): Progress => ({
  ...(total !== undefined ? { chunksTotal: total } : {}),
  chunksPublished: total ?? saved,
  chunksSaved: saved,
  chunksDeadLettered: dead,
  objectsDeadLettered: 0,
});

describe('RateTracker', () => {
  it('has no rate and no ETA from a single sample', () => {
    assert.deepEqual(new RateTracker().add(0, progress(10, 100)), { chunksPerSecond: 0 });
  });

  it('computes chunks per second and the ETA of the rest', () => {
    const r = new RateTracker();
    r.add(0, progress(0, 1000));
    assert.deepEqual(r.add(2000, progress(100, 1000)), { chunksPerSecond: 50, etaSeconds: 18 });
  });

  it('counts dead-lettered chunks as done', () => {
    const r = new RateTracker();
    r.add(0, progress(0, 100));
    assert.deepEqual(r.add(1000, progress(90, 100, 10)), { chunksPerSecond: 100, etaSeconds: 0 });
  });

  it('forgets samples older than the window', () => {
    const r = new RateTracker(10_000);
    r.add(0, progress(0, 10_000));
    r.add(1000, progress(1000, 10_000));
    for (let t = 2000; t <= 20_000; t += 1000) r.add(t, progress(1000, 10_000));
    assert.equal(r.add(21_000, progress(1000, 10_000)).chunksPerSecond, 0);
  });

  it('has a rate but no ETA when the total is unknown', () => {
    const r = new RateTracker();
    r.add(0, progress(0));
    assert.deepEqual(r.add(1000, progress(5)), { chunksPerSecond: 5 });
  });
});
