import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  alive,
  DWK,
  livePids,
  processesUnder,
  projectDir,
  statusJson,
  waitFor,
  writePipeline,
} from './helpers.ts';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });

describe('dwk up --local in a real terminal', { skip: hasTmux ? false : 'tmux is not installed' }, () => {
  it('draws the live box, and Ctrl-C reaches dwk alone: the workloads get SIGTERM from it and drain', async () => {
    const dir = projectDir('tty');
    const file = writePipeline(dir, 'tty', {
      source: { generate: { objects: 20_000 } },
      mapper: { replicas: 2, concurrency: 1, work: { waitMs: { min: 200, max: 300 } } },
    });
    const session = `dwk-test-${process.pid}`;
    const exitFile = join(dir, 'exit-code');
    tmux(
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '100',
      '-y',
      '30',
      // A subshell, so that only dwk and what it starts have the project as working directory.
      `(cd '${dir}' && exec '${DWK}' up --local -f '${file}'); echo $? > '${exitFile}'; sleep 30`,
    );
    try {
      const s = await waitFor('chunks saved', async () => {
        const st = await statusJson(dir);
        return (st.progress?.chunksSaved ?? 0) >= 3 ? st : undefined;
      });
      const screen = await waitFor('the live box', () => {
        const text = tmux('capture-pane', '-p', '-t', session);
        return /╭─+╮/.test(text) && /\/200 chunks saved/.test(text) ? text : undefined;
      });
      assert.match(screen, /fetcher 1\/1 · mapper 2\/2 · saver 1\/1/);
      const pids = [
        ...(['fetcher', 'mapper', 'saver'] as const).flatMap((c) => livePids(s, c)),
        s.nats.pid ?? 0,
      ];

      tmux('send-keys', '-t', session, 'C-c');
      const code = await waitFor('dwk to exit', () =>
        existsSync(exitFile) ? readFileSync(exitFile, 'utf8').trim() : undefined,
      );
      assert.equal(code, '130');
      assert.deepEqual(pids.filter(alive), []);
      // The tmux server and the pane's shell carry the command line, with the exit-code file in it.
      assert.deepEqual(
        processesUnder(dir).filter((p) => !p.cmd.includes(exitFile)),
        [],
      );
      for (const m of ['mapper-0', 'mapper-1']) {
        const log = readFileSync(join(dir, `.dwk/tty/logs/${m}.log`), 'utf8');
        assert.match(log, /"signal":"SIGTERM"/, `${m} was stopped by dwk`);
        assert.doesNotMatch(log, /"signal":"SIGINT"/, `${m} did not get the terminal's Ctrl-C`);
      }
      assert.match(
        tmux('capture-pane', '-p', '-t', session),
        /tty: stopping \(SIGINT\); waiting for the workloads to drain/,
      );
    } finally {
      tmux('kill-session', '-t', session);
    }
  });
});
