import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerStatsTracker, type NatsServerFigures } from './server-stats.ts';

const sample = (serverId: string, inMsgs: number, inBytes: number): NatsServerFigures => ({
  serverId,
  version: '2.14.5',
  uptime: '1m',
  connections: 3,
  slowConsumers: 0,
  totals: { inMsgs, outMsgs: inMsgs * 2, inBytes, outBytes: inBytes * 2 },
});

describe('ServerStatsTracker', () => {
  it('has no rate on the first sample, then per second from the one before', () => {
    const t = new ServerStatsTracker();
    assert.equal(t.add(1000, sample('A', 100, 1000)).rates, undefined);
    assert.deepEqual(t.add(3000, sample('A', 300, 5000)).rates, {
      inMsgs: 100,
      outMsgs: 200,
      inBytes: 2000,
      outBytes: 4000,
    });
  });

  it('gives no rate across a server restart (a new id, counters from zero)', () => {
    const t = new ServerStatsTracker();
    t.add(1000, sample('A', 5000, 50_000));
    assert.equal(t.add(2000, sample('B', 10, 100)).rates, undefined);
    assert.deepEqual(t.add(3000, sample('B', 20, 300)).rates?.inMsgs, 10);
  });

  it('never reports a negative rate', () => {
    const t = new ServerStatsTracker();
    t.add(1000, sample('A', 500, 500));
    assert.equal(t.add(2000, sample('A', 400, 400)).rates?.inMsgs, 0);
  });
});
