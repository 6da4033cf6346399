import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkQueue, type QueueClock } from './queue.ts';

/** A clock whose timers run when the test advances it. */
function manualClock(): QueueClock & { advance(ms: number): void; pending(): number } {
  let now = 0;
  const timers: Array<{ at: number; fn: () => void }> = [];
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const timer = { at: now + ms, fn };
      timers.push(timer);
      return timer;
    },
    clearTimeout: (timer) => {
      const i = timers.indexOf(timer as (typeof timers)[number]);
      if (i >= 0) timers.splice(i, 1);
    },
    advance(ms) {
      now += ms;
      for (const t of timers.filter((x) => x.at <= now)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
    },
    pending: () => timers.length,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

/** Whether the promise has settled after a few turns of the event loop. */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void p.then(() => (settled = true));
  for (let i = 0; i < 5; i++) await tick();
  return settled;
}

describe('the work queue', () => {
  it('never runs one key twice at once, and runs it again if it changed meanwhile', async () => {
    const q = new WorkQueue({ workers: 4 });
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let release: () => void = () => undefined;
    q.start(async () => {
      runs++;
      maxRunning = Math.max(maxRunning, ++running);
      if (runs === 1) await new Promise<void>((r) => (release = r));
      running--;
    });
    q.add('ns/a');
    await tick();
    q.add('ns/a');
    q.add('ns/a');
    await tick();
    assert.equal(runs, 1);
    release();
    await q.idle();
    assert.equal(runs, 2, 'coalesced into one more pass');
    assert.equal(maxRunning, 1);
  });

  it('runs different keys in parallel up to the worker count', async () => {
    const q = new WorkQueue({ workers: 2 });
    let running = 0;
    let maxRunning = 0;
    q.start(async () => {
      maxRunning = Math.max(maxRunning, ++running);
      await tick();
      running--;
    });
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    await q.idle();
    assert.equal(maxRunning, 2);
  });

  it('backs a failing key off exponentially and forgets its failures after a success', async () => {
    const clock = manualClock();
    const q = new WorkQueue({ workers: 1, clock });
    let calls = 0;
    q.start(() => {
      calls++;
      return calls <= 3 ? Promise.reject(new Error('boom')) : Promise.resolve();
    });
    q.add('k');
    await tick();
    assert.equal(calls, 1);
    assert.equal(q.backoffOf('k'), 10);
    clock.advance(5);
    await tick();
    assert.equal(calls, 2);
    clock.advance(9);
    await tick();
    assert.equal(calls, 2, 'the second delay is 10 ms');
    clock.advance(1);
    await tick();
    assert.equal(calls, 3);
    clock.advance(20);
    await tick();
    assert.equal(calls, 4);
    assert.equal(q.backoffOf('k'), 5);
  });

  it('requeues after the delay a reconcile asks for', async () => {
    const clock = manualClock();
    const q = new WorkQueue({ workers: 1, clock });
    let calls = 0;
    q.start(() => Promise.resolve(++calls === 1 ? { requeueAfterMs: 1000 } : undefined));
    q.add('k');
    await tick();
    clock.advance(999);
    await tick();
    assert.equal(calls, 1);
    clock.advance(1);
    await tick();
    assert.equal(calls, 2);
  });

  it('never delays fresh keys, but spreads the retries of many failing keys with a token bucket', async () => {
    const clock = manualClock();
    const q = new WorkQueue({ workers: 10, clock, ratePerSecond: 10, burst: 2 });
    const calls = new Map<string, number>();
    q.start((key) => {
      calls.set(key, (calls.get(key) ?? 0) + 1);
      return Promise.reject(new Error('down'));
    });
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    await tick();
    assert.equal(
      [...calls.values()].reduce((a, b) => a + b),
      4,
      'all four ran at once: adds are not rate limited',
    );
    const total = () => [...calls.values()].reduce((a, b) => a + b);
    clock.advance(5);
    await tick();
    assert.equal(total(), 6, 'two retries fit in the burst');
    clock.advance(95);
    await tick();
    assert.equal(total(), 7, 'the third waits for a token (100 ms at 10/s)');
    clock.advance(100);
    await tick();
    assert.equal(total(), 8);
  });

  it('stop drops queued and delayed keys, so idle resolves at once and none of them runs', async () => {
    const clock = manualClock();
    const q = new WorkQueue({ workers: 1, clock });
    // Informers add keys before the caches have synced and the handler starts.
    q.add('ns/a');
    q.add('ns/b');
    q.addAfter('ns/c', 1000);
    q.stop();
    assert.ok(await settles(q.idle()), 'idle resolves');
    assert.equal(q.depth, 0);
    assert.equal(clock.pending(), 0, 'the delayed key has no timer left');
    const calls: string[] = [];
    q.start((key) => Promise.resolve(void calls.push(key)));
    clock.advance(1000);
    await tick();
    assert.deepEqual(calls, []);
  });

  it('stop waits for the handler in progress, but not for the keys behind it or its retry', async () => {
    const clock = manualClock();
    const q = new WorkQueue({ workers: 1, clock });
    const calls: string[] = [];
    let release: () => void = () => undefined;
    q.start(async (key) => {
      calls.push(key);
      if (key === 'ns/slow') await new Promise<void>((r) => (release = r));
      throw new Error('down');
    });
    q.add('ns/failing');
    await tick(); // fails: now in backoff
    q.add('ns/slow');
    await tick(); // in progress
    q.add('ns/queued');
    q.add('ns/slow'); // changed while in progress
    q.stop();
    const idle = q.idle();
    assert.equal(await settles(idle), false, 'waits for the handler in progress');
    release();
    assert.ok(await settles(idle), 'resolves once it has finished');
    assert.equal(clock.pending(), 0, 'neither backoff was scheduled after stop');
    clock.advance(10_000);
    await tick();
    assert.deepEqual(calls, ['ns/failing', 'ns/slow']);
  });
});
