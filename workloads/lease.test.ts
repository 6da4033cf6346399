import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KV, KvEntry } from '@nats-io/kv';
import { createLogger } from '../lib/log.ts';
import { Lease, type Clock } from './lease.ts';

/** An in-memory stand-in for a KV bucket's compare-and-set semantics (the NATS edge). */
function memoryKv() {
  let entry: { value: Uint8Array; revision: number; operation: 'PUT' | 'DEL' } | undefined;
  let seq = 0;
  const wrong = () => new Error('wrong last sequence');
  const kv = {
    get: (_k: string) => Promise.resolve(entry ? ({ ...entry } as unknown as KvEntry) : null),
    create: (_k: string, v: Uint8Array) => {
      if (entry && entry.operation === 'PUT') return Promise.reject(wrong());
      entry = { value: v, revision: ++seq, operation: 'PUT' };
      return Promise.resolve(seq);
    },
    update: (_k: string, v: Uint8Array, rev: number) => {
      if (!entry || entry.revision !== rev) return Promise.reject(wrong());
      entry = { value: v, revision: ++seq, operation: 'PUT' };
      return Promise.resolve(seq);
    },
    delete: (_k: string, o?: { previousSeq?: number }) => {
      if (entry && o?.previousSeq !== undefined && entry.revision !== o.previousSeq)
        return Promise.reject(wrong());
      if (entry) entry = { ...entry, operation: 'DEL', revision: ++seq };
      return Promise.resolve();
    },
  };
  return kv as unknown as KV;
}

function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return {
    now: () => now,
    advance: (ms) => (now += ms),
    sleep: () => new Promise((r) => setImmediate(r)),
  };
}

const log = createLogger({ level: 'silent' });

describe('the fetcher lease', () => {
  it('one holder wins; the other takes over only after a whole TTL without renewal', async () => {
    const kv = memoryKv();
    const clock = fakeClock();
    const a = new Lease({ kv, key: 'l', holder: 'a', ttlMs: 10_000, log, clock });
    const b = new Lease({ kv, key: 'l', holder: 'b', ttlMs: 10_000, log, clock });
    assert.equal(await a.tryAcquire(), true);
    assert.equal(await b.tryAcquire(), false); // first sighting of a's record
    clock.advance(9_000);
    assert.equal(await b.tryAcquire(), false); // not yet expired by b's own clock
    clock.advance(1_500);
    assert.equal(await b.tryAcquire(), true); // a went silent for a TTL: b leads
  });

  it('a renewal seen by the standby restarts its expiry clock', async () => {
    const kv = memoryKv();
    const clock = fakeClock();
    const a = new Lease({ kv, key: 'l', holder: 'a', ttlMs: 10_000, log, clock });
    const b = new Lease({ kv, key: 'l', holder: 'b', ttlMs: 10_000, log, clock });
    await a.tryAcquire();
    await b.tryAcquire();
    clock.advance(8_000);
    assert.equal(await a.tryAcquire(), true); // a renews (same holder updates in place)
    clock.advance(3_000);
    assert.equal(await b.tryAcquire(), false); // b sees a new revision: waits a full TTL again
    clock.advance(10_001);
    assert.equal(await b.tryAcquire(), true);
  });

  it('a released lease is taken at once', async () => {
    const kv = memoryKv();
    const clock = fakeClock();
    const a = new Lease({ kv, key: 'l', holder: 'a', ttlMs: 10_000, log, clock });
    const b = new Lease({ kv, key: 'l', holder: 'b', ttlMs: 10_000, log, clock });
    await a.tryAcquire();
    await a.release();
    assert.equal(await b.tryAcquire(), true);
  });
});
