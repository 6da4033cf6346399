import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { progressReader } from '../../lib/nats/progress.ts';
import { generatedObject } from '../../workloads/source/generate.ts';
import { exactlyOnce, idCounts, spec, waitFor, workloadSet, natsFixture } from '../support/workloads.ts';

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
