/** The log sink cannot read back what it printed: the saver consults the SAVED bucket instead. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { connectNats } from '../../lib/nats/connect.ts';
import { ensurePipeline } from '../../lib/nats/setup.ts';
import { HEADERS } from '../../lib/nats/topology.ts';
import { startNatsServer } from '../../lib/nats/server.ts';
import { spec, tempDir, waitFor, workloadSet } from '../support/workloads.ts';

it('a log-sink saver does not print again a redelivered chunk that an earlier saver marked saved', async () => {
  const dir = tempDir('log-sink');
  const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
  const nc = await connectNats({ servers: nats.url, name: 'test' });
  const s = spec({ saver: { sink: { type: 'log' } } });
  const w = workloadSet('logs', s, nats.url, dir);
  try {
    const {
      topology: t,
      kvm,
      jsm,
    } = await ensurePipeline(nc, 'logs', {
      saver: { maxDeliver: s.mapper.maxDeliver, ackWaitSeconds: s.mapper.ackWaitSeconds },
    });
    // Chunk 0 as a saver that died after printing and marking it, before its ack, leaves it.
    const saved = await kvm.open(t.buckets.saved);
    await saved.put(t.keys.saved(0), JSON.stringify({ objects: 2, at: new Date().toISOString() }));
    const js = jetstream(nc);
    for (const [chunk, ids] of [
      [0, [0, 1]],
      [1, [100, 101]],
    ] as const) {
      const h = natsHeaders();
      h.set(HEADERS.chunk, String(chunk));
      h.set(HEADERS.objects, String(ids.length));
      await js.publish(t.subjects.results, ids.map((id) => JSON.stringify({ id })).join('\n'), {
        headers: h,
      });
    }
    const saver = w.start('saver', 'saver-0');
    await waitFor('both chunks acknowledged', async () => {
      const ci = await jsm.consumers.info(t.streams.results, t.consumers.saver);
      return ci.num_pending === 0 && ci.num_ack_pending === 0 && ci.ack_floor.stream_seq === 2
        ? true
        : undefined;
    });
    const printed = readFileSync(saver.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"msg":"Record"'))
      .map((l) => (JSON.parse(l) as { record: { id: number } }).record.id);
    assert.deepEqual(printed, [100, 101], 'chunk 1 printed once, chunk 0 not again');
    assert.notEqual(await saved.get(t.keys.saved(1)), null, 'chunk 1 marked saved');
  } finally {
    await w.stopAll();
    await nc.close();
    await nats.stop();
  }
});
