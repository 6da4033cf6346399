/** The figures `dwk status` shows beside the pipeline, read from a real nats-server. */
import { Kvm } from '@nats-io/kv';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outcomesKey, readBroadcastOutcomes } from '../../lib/nats/broadcast-outcomes.ts';
import { progressReader } from '../../lib/nats/progress.ts';
import { ensurePipeline } from '../../lib/nats/setup.ts';
import { freePort } from '../../lib/nats/server.ts';
import { readServerFigures, ServerStatsTracker } from '../../lib/nats/server-stats.ts';
import { natsFixture } from '../support/workloads.ts';

describe('NATS figures for dwk status', () => {
  const f = natsFixture('figures');

  it('reads connections, message and byte counters and JetStream usage from the monitoring port', async () => {
    await ensurePipeline(f.nc, 'figs');
    const tracker = new ServerStatsTracker();
    const first = tracker.add(Date.now(), await readServerFigures(f.server.monitorUrl));
    assert.match(first.version, /^2\.\d+\.\d+/);
    assert.ok(first.connections >= 1, `connections ${first.connections}`);
    assert.ok(first.jetstream && first.jetstream.streams >= 1, JSON.stringify(first.jetstream));
    const payload = new Uint8Array(1000);
    for (let i = 0; i < 500; i++) f.nc.publish('figures.load', payload);
    await f.nc.flush();
    await new Promise((r) => setTimeout(r, 300));
    const second = tracker.add(Date.now(), await readServerFigures(f.server.monitorUrl));
    assert.ok(second.totals.inMsgs - first.totals.inMsgs >= 500, JSON.stringify(second.totals));
    assert.ok(second.totals.inBytes - first.totals.inBytes >= 500_000, JSON.stringify(second.totals));
    assert.ok(second.rates && second.rates.inMsgs > 0, JSON.stringify(second.rates));
  });

  it('fails with the URL when the monitoring port is closed', async () => {
    const port = await freePort(); // nobody listens there
    await assert.rejects(
      readServerFigures(`http://127.0.0.1:${port}`, 500),
      new RegExp(`endpoint http://127\\.0\\.0\\.1:${port}/varz: ECONNREFUSED`),
    );
  });

  it('sums the outcome counts of every broadcaster process, and has none before any reported', async () => {
    await ensurePipeline(f.nc, 'bcast');
    const reader = await progressReader(f.nc, 'bcast');
    assert.equal(await reader.broadcastOutcomes(), undefined);
    const kv = await new Kvm(f.nc).open('DWK_BCAST_STATE');
    const counts = (delivered: number, skippedDuplicate: number) =>
      JSON.stringify({ delivered, failed: 1, deadLettered: 0, skippedDuplicate, unknown: 0 });
    await kv.put(outcomesKey('broadcaster-0', 'a1b2c3d4'), counts(10, 2));
    await kv.put(outcomesKey('broadcaster-0', 'e5f6a7b8'), counts(5, 0)); // the same pod, restarted
    await kv.put(outcomesKey('broadcaster-1', 'c9d0e1f2'), counts(7, 1));
    assert.deepEqual(await reader.broadcastOutcomes(), {
      delivered: 22,
      failed: 3,
      deadLettered: 0,
      skippedDuplicate: 3,
      unknown: 0,
    });
    assert.deepEqual(await readBroadcastOutcomes(kv), await reader.broadcastOutcomes());
  });
});
