import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitForCaches } from './run.ts';

const never = new Promise<void>(() => undefined);

describe('waiting for the caches to sync', () => {
  it('ends when the controller is stopped, though a list keeps failing', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 20);
    const startedAt = Date.now();
    assert.equal(await waitForCaches(never, stop.signal, 60_000), 'stopped');
    assert.ok(Date.now() - startedAt < 1_000);
  });

  it('is stopped when stopped before it began', async () => {
    assert.equal(await waitForCaches(never, AbortSignal.abort(), 60_000), 'stopped');
  });

  it('times out', async () => {
    assert.equal(await waitForCaches(never, new AbortController().signal, 30), 'timeout');
  });

  it('says synced once the caches are', async () => {
    assert.equal(await waitForCaches(Promise.resolve(), new AbortController().signal, 60_000), 'synced');
  });
});
