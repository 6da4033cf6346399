import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT } from '../../lib/errors.ts';
import {
  alive,
  dwk,
  instanceOf,
  livePids,
  processesUnder,
  projectDir,
  startUp,
  statusJson,
  waitFor,
  writePipeline,
} from './helpers.ts';

/** Slow enough to stay running for the whole test: 200 chunks at 200-300 ms each on one mapper. */
const slowSpec = {
  source: { generate: { objects: 20_000 } },
  chunkSize: 100,
  mapper: { replicas: 1, concurrency: 1, work: { waitMs: { min: 200, max: 300 } } },
};

describe('dwk scale|status|down --local on a running pipeline', () => {
  it('scale changes the running mapper processes, status shows it, a killed mapper comes back, down stops all', async () => {
    const dir = projectDir('scale');
    const up = startUp(dir, '-f', writePipeline(dir, 'slow', slowSpec));
    try {
      let s = await waitFor('one mapper running', async () => {
        const st = await statusJson(dir);
        return st.components.mapper?.running === 1 ? st : undefined;
      });
      assert.equal(s.pipeline, 'slow');
      assert.equal(s.mode, 'local');
      assert.deepEqual(Object.fromEntries(Object.entries(s.components).map(([c, v]) => [c, v.desired])), {
        fetcher: 1,
        mapper: 1,
        saver: 1,
      });

      const scaled = await dwk(dir, 'scale', 'mapper', '3', '--local');
      assert.equal(scaled.code, EXIT.ok, scaled.stderr);
      assert.equal(scaled.stdout, 'mapper: 1 → 3');

      s = await waitFor('three mapper pids', async () => {
        const st = await statusJson(dir, 'slow');
        return livePids(st, 'mapper').length === 3 ? st : undefined;
      });
      assert.equal(s.components.mapper?.desired, 3);
      assert.equal(s.components.mapper?.running, 3);
      const pids = livePids(s, 'mapper');
      assert.equal(new Set(pids).size, 3);
      assert.deepEqual(
        pids.map(instanceOf),
        ['mapper-0', 'mapper-1', 'mapper-2'],
        'real processes with those instances',
      );

      // Chaos: SIGKILL a mapper; the supervisor starts it again as a new process.
      const victim = pids[1] ?? 0;
      process.kill(victim, 'SIGKILL');
      s = await waitFor('mapper-1 restarted', async () => {
        const st = await statusJson(dir);
        const m1 = st.components.mapper?.instances.find((i) => i.name === 'mapper-1');
        return m1?.pid !== undefined && m1.pid !== victim && m1.phase === 'running' && alive(m1.pid)
          ? st
          : undefined;
      });
      assert.equal(s.components.mapper?.restarts, 1);
      assert.equal(instanceOf(livePids(s, 'mapper')[1] ?? 0), 'mapper-1');

      const text = await dwk(dir, 'status', '--local', '--once');
      assert.equal(text.code, EXIT.ok);
      assert.match(text.stdout, /^mapper\s+3\s+3\s+1$/m);
      assert.match(text.stdout, /Chunks:\s+[\d,]+\/200 chunks saved/);

      const yaml = await dwk(dir, 'status', '--local', '-o', 'yaml');
      assert.match(yaml.stdout, /^pipeline: slow$/m);

      const down = await dwk(dir, 'scale', 'mapper', '1', '--local');
      assert.equal(down.stdout, 'mapper: 3 → 1');
      const gone = livePids(s, 'mapper').slice(1);
      await waitFor('scaled-down mappers gone', () => gone.every((p) => !alive(p)), 20_000);
      s = await statusJson(dir);
      assert.equal(s.components.mapper?.running, 1);
      assert.ok(s.progress !== undefined && s.progress.chunksSaved > 0, 'work went on');

      const bad = await dwk(dir, 'scale', 'broadcaster', '1', '--local');
      assert.equal(bad.code, EXIT.usage);
      assert.match(bad.stderr, /pipeline "slow" has no broadcaster/);
      const typo = await dwk(dir, 'scale', 'mappr', '3', '--local');
      assert.equal(typo.code, EXIT.usage);
      assert.match(typo.stderr, /did you mean "mapper"/);
      assert.equal((await statusJson(dir)).components.mapper?.desired, 1, 'bad input changed nothing');

      const stop = await dwk(dir, 'down', '--local');
      assert.equal(stop.code, EXIT.ok, stop.stderr);
      assert.match(stop.stdout, /^stopped slow$/m);
      const result = await up;
      assert.equal(result.exitCode, 0, result.stderr);
      assert.deepEqual(processesUnder(dir), [], 'no process left behind');

      const after = await dwk(dir, 'scale', 'mapper', '3', '--local');
      assert.equal(after.code, EXIT.failure);
      assert.match(after.stderr, /no local pipeline is running here/);
    } finally {
      up.kill('SIGTERM');
      await up;
    }
  });
});
