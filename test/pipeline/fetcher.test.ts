import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { decodeFetcherProgress } from '../../lib/nats/progress.ts';
import { topology } from '../../lib/nats/topology.ts';
import { exactlyOnce, idCounts, spec, waitFor, workloadSet, natsFixture } from '../support/workloads.ts';

describe('the fetcher', { timeout: 180_000 }, () => {
  const f = natsFixture('fetcher');
  const dir = f.dir;

  const published = async (pipeline: string) => {
    const t = topology(pipeline);
    const kv = await new Kvm(f.nc).open(t.buckets.state);
    return decodeFetcherProgress((await kv.get(t.keys.fetcherProgress))?.value);
  };

  /** Per chunk subject, how many messages the stream holds. */
  const storedPerChunk = async (pipeline: string) => {
    const t = topology(pipeline);
    const jsm = await jetstreamManager(f.nc);
    const info = await jsm.streams.info(t.streams.chunks, { subjects_filter: t.subjects.chunks });
    return { messages: info.state.messages, subjects: info.state.subjects ?? {} };
  };

  it('killed mid-run three times, stores no chunk twice and the run completes', async () => {
    const objects = 50_000;
    const chunks = objects / 10;
    const sink = join(dir, 'restart.jsonl');
    // Publishing paced by a slow mapper through the backlog bound (maxPending), not by how fast
    // this machine is: the fetcher is still mid-way at every kill.
    const s = spec({
      source: { generate: { objects } },
      chunkSize: 10,
      fetcher: { maxInFlight: 1, maxPending: 100 },
      mapper: { work: { waitMs: { min: 20, max: 20 } } },
      saver: { sink: { path: sink } },
    });
    const w = workloadSet('restart', s, f.server.url, dir);
    const kills: number[] = [];
    try {
      w.start('mapper', 'mapper-slow', { DWK_MAPPER_CONCURRENCY: '1' });
      for (let round = 0; round < 3; round++) {
        // Each incarnation has a new name, as a new Pod would: it waits out the dead one's lease.
        const f = w.start('fetcher', `fetcher-${round}`, { DWK_LEASE_SECONDS: '2' });
        const before = (await published('restart').catch(() => undefined))?.published ?? 0;
        await waitFor('the fetcher to make progress', async () => {
          const p = await published('restart');
          return p && p.published > before + 30 ? true : undefined;
        });
        await sleep(50 + Math.random() * 200);
        await w.kill(f);
        kills.push((await published('restart'))?.published ?? -1);
      }
      assert.ok(
        (kills.at(-1) ?? 0) < chunks,
        'the fetcher finished before the last kill; the test proves nothing',
      );
      // The rest, at full speed: the chunks stream keeps every message (limits retention), so
      // what it holds per chunk subject still shows any chunk stored twice.
      w.start('fetcher', 'fetcher-final', { DWK_LEASE_SECONDS: '2' });
      w.start('mapper', 'mapper-0', { DWK_MAPPER_CONCURRENCY: '16' });
      w.start('mapper', 'mapper-1', { DWK_MAPPER_CONCURRENCY: '16' });
      w.start('saver', 'saver-0');
      await waitFor('the source to be fully published', async () =>
        (await published('restart'))?.done ? true : undefined,
      );
      const stored = await storedPerChunk('restart');
      assert.equal(stored.messages, chunks, `kills at ${kills.join(', ')}`);
      const twice = Object.entries(stored.subjects).filter(([, n]) => n !== 1);
      assert.deepEqual(twice, []);
      assert.equal(Object.keys(stored.subjects).length, chunks);
      // And the run completes: every object saved once.
      await waitFor(
        'every object saved',
        () => (idCounts(sink).size === objects ? true : undefined),
        150_000,
      );
    } finally {
      await w.stopAll();
    }
    assert.equal(exactlyOnce(idCounts(sink), objects), '');
  });

  it('with two replicas, one leads; when it dies the standby takes over and finishes', async () => {
    const objects = 100_000;
    // No mapper until the failover: the backlog bound (maxPending) holds the leader mid-way however
    // fast this machine publishes.
    const s = spec({
      source: { generate: { objects } },
      chunkSize: 10,
      fetcher: { maxInFlight: 1, maxPending: 200 },
    });
    const w = workloadSet('leader', s, f.server.url, dir);
    const lease = { DWK_LEASE_SECONDS: '3' };
    try {
      const a = w.start('fetcher', 'fetcher-a', lease);
      await waitFor(
        'fetcher-a to lead',
        async () => ((await published('leader'))?.published ?? 0) > 0 || undefined,
      );
      const b = w.start('fetcher', 'fetcher-b', lease);
      await waitFor('fetcher-b to stand by', () =>
        w.logs().includes('"instance":"fetcher-b"') && w.logs().includes('Standing by') ? true : undefined,
      );
      const atKill = (await published('leader'))?.published ?? 0;
      assert.ok(atKill < objects / 10, 'the leader finished before it could be killed');
      await w.kill(a);
      const killedAt = Date.now();
      await waitFor(
        'fetcher-b to take over',
        () => (/"instance":"fetcher-b".*Acquired the fetcher lease/.test(w.logs()) ? true : undefined),
        20_000,
      );
      const failover = Date.now() - killedAt;
      assert.ok(failover < 10_000, `failover took ${failover} ms with a 3 s lease`);
      w.start('mapper', 'mapper-0', { DWK_MAPPER_CONCURRENCY: '16' });
      w.start('mapper', 'mapper-1', { DWK_MAPPER_CONCURRENCY: '16' });
      await waitFor(
        'the source to be fully published',
        async () => ((await published('leader'))?.done ? true : undefined),
        120_000,
      );
      assert.equal(b.child.exitCode, null);
      const stored = await storedPerChunk('leader');
      assert.equal(stored.messages, objects / 10);
    } finally {
      await w.stopAll();
    }
  });

  it('pauses while the backlog is over maxPending and resumes when mappers catch up', async () => {
    const objects = 20_000;
    const sink = join(dir, 'backlog.jsonl');
    const s = spec({
      source: { generate: { objects } },
      chunkSize: 10,
      fetcher: { maxInFlight: 8, maxPending: 50 },
      saver: { sink: { path: sink } },
    });
    const w = workloadSet('backlog', s, f.server.url, dir);
    try {
      w.start('fetcher', 'fetcher-0');
      await waitFor('the fetcher to pause', () => (w.logs().includes('Backlog is full') ? true : undefined));
      await sleep(1500);
      const paused = (await published('backlog'))?.published ?? 0;
      // Bounded by maxPending plus one check interval (100 chunks) and the in-flight window.
      assert.ok(paused > 0 && paused <= 50 + 100 + 8, `published ${paused} of 2000 chunks with no mapper`);
      assert.equal((await published('backlog'))?.published, paused, 'still publishing while paused');
      w.start('mapper', 'mapper-0', { DWK_MAPPER_CONCURRENCY: '8' });
      w.start('saver', 'saver-0');
      await waitFor('every object saved', () => (idCounts(sink).size === objects ? true : undefined), 90_000);
    } finally {
      await w.stopAll();
    }
    assert.equal(exactlyOnce(idCounts(sink), objects), '');
  });
});
