// dwk logs --local on a real local pipeline: the log files its workload processes write, read back
// in time order and prefixed by instance; --since and --tail; -f sees the lines of an instance that
// dwk scale starts later, and Ctrl-C ends it with 130.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import { EXIT } from '../../lib/errors.ts';
import { DWK, dwk, projectDir, startUp, statusJson, waitFor, writePipeline } from './helpers.ts';

/** Stays running for the whole test: 200 chunks at 200-300 ms each. */
const slowSpec = {
  source: { generate: { objects: 20_000 } },
  chunkSize: 100,
  mapper: { replicas: 2, concurrency: 1, work: { waitMs: { min: 200, max: 300 } } },
};

/** `mapper-0 14:03:27.125 INFO  Starting port=…` → `mapper-0 INFO Starting`. */
const PRETTY = /^(\S+) +\d\d:\d\d:\d\d\.\d{3} (\S+) +(\S+)/;
const brief = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = PRETTY.exec(l);
      assert.ok(m, `a prefixed, formatted line: ${l}`);
      return `${m[1]} ${m[2]} ${m[3]}`;
    });

describe('dwk logs --local on a running pipeline', () => {
  it('every mapper instance, prefixed and in time order; --since, --tail; -f follows a new instance until Ctrl-C', async () => {
    const dir = projectDir('logs');
    // A line of an earlier run, two hours old: dwk up --local appends to the same file.
    const logDir = join(dir, '.dwk', 'slowlogs', 'logs');
    mkdirSync(logDir, { recursive: true });
    const old = new Date(Date.now() - 2 * 3600_000).toISOString();
    writeFileSync(
      join(logDir, 'mapper-0.log'),
      `${JSON.stringify({ level: 'info', time: old, instance: 'mapper-0', msg: 'Earlier' })}\n`,
    );
    const up = startUp(dir, '-f', writePipeline(dir, 'slowlogs', slowSpec));
    try {
      await waitFor(
        'two mappers running',
        async () => (await statusJson(dir)).components.mapper?.running === 2,
      );
      await waitFor('both mappers logged', () =>
        ['mapper-0', 'mapper-1'].every((i) =>
          readFileSync(join(logDir, `${i}.log`), 'utf8').includes('"Starting"'),
        ),
      );

      const all = await dwk(dir, 'logs', 'mapper', '--local');
      assert.equal(all.code, EXIT.ok, all.stderr);
      const lines = brief(all.stdout);
      assert.equal(lines[0], 'mapper-0 INFO Earlier', 'the oldest line first');
      assert.ok(lines.includes('mapper-0 INFO Starting'), all.stdout);
      assert.ok(lines.includes('mapper-1 INFO Starting'), all.stdout);
      assert.ok(
        lines.every((l) => /^mapper-[01] /.test(l)),
        'mapper lines only, each prefixed by its instance',
      );
      const times = all.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => /\d\d:\d\d:\d\d\.\d{3}/.exec(l)?.[0] ?? '');
      assert.deepEqual(times.slice(1), [...times.slice(1)].sort(), 'this run in time order');

      const since = await dwk(dir, 'logs', 'mapper', 'slowlogs', '--local', '--since', '1h');
      assert.equal(since.code, EXIT.ok, since.stderr);
      assert.ok(!brief(since.stdout).includes('mapper-0 INFO Earlier'), since.stdout);
      assert.ok(brief(since.stdout).includes('mapper-0 INFO Starting'), since.stdout);

      const tail = await dwk(dir, 'logs', 'mapper', '--local', '--tail', '1', '-o', 'json');
      assert.equal(tail.code, EXIT.ok, tail.stderr);
      const lastOf = (i: string) =>
        readFileSync(join(logDir, `${i}.log`), 'utf8')
          .trimEnd()
          .split('\n')
          .at(-1);
      assert.deepEqual(tail.stdout.split('\n').sort(), [lastOf('mapper-0'), lastOf('mapper-1')].sort());

      const follow = execa(DWK, ['logs', 'mapper', '--local', '-f'], {
        cwd: dir,
        env: { ...process.env, NO_COLOR: '1' },
        reject: false,
      });
      let out = '';
      let err = '';
      follow.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      follow.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      try {
        await waitFor('the backlog', () => out.includes('Starting'));
        const scaled = await dwk(dir, 'scale', 'mapper', '3', '--local');
        assert.equal(scaled.code, EXIT.ok, scaled.stderr);
        await waitFor('the new instance followed', () => /^mapper-2 +\S+ INFO +Starting/m.test(out), 30_000);
        assert.match(err, /^\+ mapper-2$/m);
        const down = await dwk(dir, 'scale', 'mapper', '2', '--local');
        assert.equal(down.code, EXIT.ok, down.stderr);
        await waitFor(
          'mapper-2 shutting down, live',
          () => /^mapper-2 +\S+ INFO +Shutting down/m.test(out),
          30_000,
        );
      } finally {
        follow.kill('SIGINT');
      }
      const r = await follow;
      assert.equal(r.exitCode, 130, err);
      assert.doesNotMatch(err, /error|\n\s+at /);
    } finally {
      await dwk(dir, 'down', '--local');
      up.kill('SIGTERM');
      await up;
    }
  });
});
