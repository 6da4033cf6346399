import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXIT } from '../../lib/errors.ts';
import {
  alive,
  dwk,
  livePids,
  processesUnder,
  projectDir,
  sinkIds,
  startUp,
  statusJson,
  waitFor,
  writePipeline,
} from './helpers.ts';

describe('Ctrl-C on dwk up --local', () => {
  it('SIGINT stops every process it started, and a second run finishes with every id once', async () => {
    const dir = projectDir('sigint');
    const file = writePipeline(dir, 'interrupted', {
      source: { generate: { objects: 10_000 } },
      chunkSize: 100,
      mapper: { replicas: 2, concurrency: 2, work: { waitMs: { min: 200, max: 400 } } },
    });
    const up = startUp(dir, '-f', file);
    const s = await waitFor('some chunks saved', async () => {
      const st = await statusJson(dir);
      return (st.progress?.chunksSaved ?? 0) >= 5 && livePids(st, 'mapper').length === 2 ? st : undefined;
    });
    const pids = [
      ...(['fetcher', 'mapper', 'saver'] as const).flatMap((c) => livePids(s, c)),
      s.nats.pid ?? 0,
      up.pid ?? 0,
    ];
    assert.equal(pids.length, 6);
    assert.ok(pids.every(alive));
    assert.ok(processesUnder(dir).length >= 5, 'the scan sees the workloads and nats-server');

    up.kill('SIGINT');
    const r = await up;
    assert.equal(r.exitCode, 130, r.stderr);
    assert.match(r.stderr, /stopping \(SIGINT\); waiting for the workloads to drain/);
    assert.deepEqual(pids.filter(alive), [], 'every pid is gone');
    assert.deepEqual(processesUnder(dir), [], 'no orphan under the project directory');
    assert.ok(!existsSync(join(dir, '.dwk/interrupted/state.json')));

    const again = await dwk(dir, 'up', '--local', '-f', file, '--exit-when-done');
    assert.equal(again.code, EXIT.ok, again.stderr);
    const ids = sinkIds(join(dir, '.dwk/interrupted/results.jsonl'));
    assert.equal(ids.size, 10_000);
    assert.ok(
      [...ids.values()].every((n) => n === 1),
      'no duplicates',
    );
    assert.deepEqual(processesUnder(dir), []);
  });
});

describe('dwk up --local killed with SIGKILL', () => {
  it('leaves nothing running: the workloads and the nats-server it started stop on their own', async () => {
    const dir = projectDir('sigkill');
    const file = writePipeline(dir, 'killed', {
      source: { generate: { objects: 10_000 } },
      chunkSize: 100,
      mapper: { replicas: 2, concurrency: 2, work: { waitMs: { min: 200, max: 400 } } },
    });
    const up = startUp(dir, '-f', file);
    const s = await waitFor('some chunks saved', async () => {
      const st = await statusJson(dir);
      return (st.progress?.chunksSaved ?? 0) >= 2 && livePids(st, 'mapper').length === 2 ? st : undefined;
    });
    const pids = [
      ...(['fetcher', 'mapper', 'saver'] as const).flatMap((c) => livePids(s, c)),
      s.nats.pid ?? 0,
    ];
    assert.equal(pids.length, 5);
    assert.ok(pids.every(alive));

    up.kill('SIGKILL'); // no handler runs
    await up;
    await waitFor(
      'every workload and the nats-server gone',
      () => Promise.resolve(pids.filter(alive).length === 0 ? true : undefined),
      20_000,
    );
    assert.deepEqual(processesUnder(dir), [], 'no orphan under the project directory');
  });
});
