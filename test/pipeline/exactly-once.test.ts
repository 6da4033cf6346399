import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '../../lib/nats/connect.ts';
import { progressReader } from '../../lib/nats/progress.ts';
import { topology } from '../../lib/nats/topology.ts';
import { generatedObject } from '../../workloads/source/generate.ts';
import { exactlyOnce, idCounts, spec, waitFor, workloadSet, natsFixture } from '../support/workloads.ts';

interface SavedEvent {
  type: string;
  chunk: number;
  objects: number;
}

/** Every `chunk.saved` event in the pipeline's events stream, once `expected` of them are there. */
async function savedEvents(nc: NatsConnection, pipeline: string, expected: number): Promise<SavedEvent[]> {
  const t = topology(pipeline);
  const subject = t.subjects.event('saved');
  const jsm = await jetstreamManager(nc);
  // The saver announces a chunk just after marking it saved: the last few may still be on their way.
  await waitFor(`${expected} chunk.saved events`, async () => {
    const si = await jsm.streams.info(t.streams.events, { subjects_filter: subject });
    return (si.state.subjects?.[subject] ?? 0) >= expected ? true : undefined;
  });
  const consumer = await jetstream(nc).consumers.get(t.streams.events, { filter_subjects: [subject] });
  const events: SavedEvent[] = [];
  for await (const m of await consumer.fetch({ max_messages: expected + 100, expires: 2000 })) {
    events.push(m.json<SavedEvent>());
    if (m.info.pending === 0) break;
  }
  return events;
}

describe('the pipeline stores every object exactly once', { timeout: 240_000 }, () => {
  const f = natsFixture('e2e');
  const dir = f.dir;

  it('moves 100,000 objects end to end, each once, transformed', async () => {
    const sink = join(dir, 'e2e.jsonl');
    const s = spec({ source: { generate: { objects: 100_000, seed: 7 } }, saver: { sink: { path: sink } } });
    const w = workloadSet('e2e', s, f.server.url, dir);
    try {
      w.start('fetcher', 'fetcher-0');
      for (let i = 0; i < 3; i++) w.start('mapper', `mapper-${i}`);
      w.start('saver', 'saver-0');
      const reader = await progressReader(f.nc, 'e2e', 1000);
      await waitFor(
        'all 1,000 chunks saved',
        async () => ((await reader.read()).progress.chunksSaved === 1000 ? true : undefined),
        120_000,
      );
    } finally {
      await w.stopAll();
    }
    const counts = idCounts(sink);
    assert.equal(exactlyOnce(counts, 100_000), '');
    const saved = await savedEvents(f.nc, 'e2e', 1000);
    assert.equal(saved.length, 1000, 'one chunk.saved event per chunk');
    assert.deepEqual(new Set(saved.map((e) => e.chunk)), new Set(Array.from({ length: 1000 }, (_, i) => i)));
    assert.ok(
      saved.every((e) => e.type === 'chunk.saved' && e.objects === 100),
      'each event names its chunk and 100 objects',
    );
    for (const line of readFileSync(sink, 'utf8').split('\n').filter(Boolean)) {
      const rec = JSON.parse(line) as { id: number; name: string };
      const src = generatedObject(7, rec.id, 100_000);
      assert.deepEqual(rec, { id: src.id, name: `${src.first} ${src.last}` });
    }
  });

  it('survives SIGKILLed mappers every 2 s, a killed saver and a restarted nats-server', async () => {
    const sink = join(dir, 'chaos.jsonl');
    const objects = 60_000;
    const s = spec({
      source: { generate: { objects } },
      mapper: { concurrency: 2, maxDeliver: 50, ackWaitSeconds: 3, work: { waitMs: { min: 50, max: 250 } } },
      saver: { sink: { path: sink } },
    });
    const w = workloadSet('chaos', s, f.server.url, dir);
    const reader = await progressReader(f.nc, 'chaos', objects / 100);
    const events: string[] = [];
    let mapperSeq = 4;
    try {
      w.start('fetcher', 'fetcher-0');
      for (let i = 0; i < 4; i++) w.start('mapper', `mapper-${i}`);
      w.start('saver', 'saver-0');
      const started = Date.now();
      let savedKilled = false;
      let natsRestarted = false;
      while (true) {
        await sleep(2000);
        const { progress } = await reader.read().catch(() => ({ progress: undefined }));
        if (progress && progress.chunksSaved >= objects / 100) break;
        assert.ok(
          Date.now() - started < 180_000,
          `chaos run did not finish; progress ${JSON.stringify(progress)}; faults: ${events.join(', ')}\n` +
            `warnings and errors of the workloads:\n${w.problems(40)}`,
        );
        const mappers = w.running('mapper');
        const victim = mappers[Math.floor(Math.random() * mappers.length)];
        if (victim) {
          await w.kill(victim);
          w.start('mapper', `mapper-${mapperSeq++}`);
          events.push(`kill -9 ${victim.name}`);
        }
        const elapsed = Date.now() - started;
        if (!savedKilled && elapsed > 4000) {
          const saver = w.running('saver')[0];
          if (saver) await w.kill(saver);
          w.start('saver', 'saver-1');
          savedKilled = true;
          events.push('kill -9 saver');
        }
        if (!natsRestarted && elapsed > 8000) {
          await f.server.kill();
          await sleep(1000);
          await f.server.start();
          natsRestarted = true;
          events.push('kill -9 nats-server, start again');
        }
      }
      assert.ok(savedKilled && natsRestarted, `the run ended before every fault: ${events.join(', ')}`);
      assert.ok(
        events.filter((e) => e.includes('mapper')).length >= 3,
        `too few mapper kills: ${events.join(', ')}`,
      );
    } finally {
      await w.stopAll();
    }
    assert.equal(exactlyOnce(idCounts(sink), objects), '', `faults: ${events.join(', ')}`);
  });
});
