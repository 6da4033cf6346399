// The test bed's own life cycle: a start that fails half-way stops what it had started, and
// `npm run testbed -- up|down` gives a person a control plane and takes it away again.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { cacheDir } from '../../lib/nats/server.ts';
import { requireBinaries } from './binaries.ts';
import { startTestbed } from './harness.ts';
import { isRunning, type StartedProcess } from './processes.ts';

const CLI = fileURLToPath(new URL('../../scripts/testbed/cli.ts', import.meta.url));
const binaries = requireBinaries(cacheDir());

/** Alive and not a zombie (this sandbox's pid 1 may not reap). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('the test bed life cycle', { timeout: 180_000 }, () => {
  test('a start that fails half-way (kwok cannot run) stops etcd, the apiserver and the rest', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'dwk-testbed-fail-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const lines: string[] = [];
    await assert.rejects(
      startTestbed({ binaries: { ...binaries, kwok: '/bin/false' }, dir, log: (l) => lines.push(l) }),
      /kwok/,
    );
    // It got far enough to have started the other four before failing.
    assert.ok(
      lines.some((l) => l.startsWith('kube-apiserver ready')),
      lines.join('\n'),
    );
    // The watchdog's list: every pid the harness started, one per line.
    const pids = readFileSync(join(dir, 'pids'), 'utf8').trim().split('\n').map(Number);
    assert.equal(pids.length, 5, 'etcd, apiserver, controller manager, scheduler, kwok');
    assert.deepEqual(pids.filter(alive), [], 'no process of the failed start is left running');
  });

  test('npm run testbed -- up prints only the export line; kubectl works; down stops every process', async (t) => {
    const dir = join(mkdtempSync(join(tmpdir(), 'dwk-testbed-cli-')), 'bed');
    const env = { ...process.env, DWK_TESTBED_DIR: dir };
    const run = (...args: string[]) => promisify(execFile)(process.execPath, [CLI, ...args], { env });
    t.after(async () => {
      await run('down').catch(() => {});
      rmSync(join(dir, '..'), { recursive: true, force: true });
    });

    const up = await run('up');
    assert.equal(up.stdout, `export KUBECONFIG=${join(dir, 'kubeconfig')}\n`);
    assert.match(up.stderr, /control plane ready with 1 fake node/);
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
      processes: StartedProcess[];
    };
    assert.equal(state.processes.length, 5);
    assert.ok(state.processes.every(isRunning));

    const nodes = await promisify(execFile)(
      binaries.kubectl,
      ['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'],
      { env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig') } },
    );
    assert.equal(nodes.stdout, 'kwok-node-0');

    // A second up finds it running and says so, starting nothing new.
    const again = await run('up');
    assert.match(again.stderr, /already running/);
    assert.equal(again.stdout, up.stdout);

    const down = await run('down');
    assert.match(down.stderr, /stopped 5 processes/);
    assert.deepEqual(
      state.processes.filter((p) => alive(p.pid)),
      [],
    );
    assert.equal(existsSync(dir), false);
  });
});
