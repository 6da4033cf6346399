import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UserError } from '../../lib/errors.ts';
import {
  findRunning,
  register,
  registered,
  removeRunState,
  runningPipelines,
  writeRunState,
  type RunState,
} from './state.ts';

const deadPid = () => spawnSync('true').pid ?? 999_999;

function run(root: string, pipeline: string, pid: number): RunState {
  return {
    pipeline,
    pid,
    port: 1,
    token: 't',
    natsUrl: 'nats://127.0.0.1:4222',
    natsManaged: true,
    dataDir: join(root, pipeline),
    startedAt: new Date(0).toISOString(),
  };
}

async function start(root: string, pipeline: string, pid = process.pid) {
  const state = run(root, pipeline, pid);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(state.dataDir, { recursive: true });
  await register(root, { pipeline, dataDir: state.dataDir });
  await writeRunState(state);
  return state;
}

describe('local run registry', () => {
  it('finds the only running pipeline without a name, and a named one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dwk-state-'));
    const a = await start(root, 'alpha');
    assert.deepEqual(await findRunning(root, undefined), a);
    assert.deepEqual(await findRunning(root, 'alpha'), a);
  });

  it('keeps the state file private to its owner: it holds the control token', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dwk-state-'));
    const a = await start(root, 'alpha');
    assert.equal(statSync(join(a.dataDir, 'state.json')).mode & 0o777, 0o600);
  });

  it('ignores a run whose dwk process is gone, and one that stopped', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dwk-state-'));
    await start(root, 'crashed', deadPid());
    const stopped = await start(root, 'stopped');
    await removeRunState(stopped.dataDir);
    assert.deepEqual(await runningPipelines(root), []);
    assert.deepEqual(
      (await registered(root)).map((e) => e.pipeline),
      ['crashed', 'stopped'],
    );
    await assert.rejects(findRunning(root, undefined), /no local pipeline is running here/);
  });

  it('asks which one when several run, and lists them when the named one does not run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dwk-state-'));
    await start(root, 'alpha');
    await start(root, 'beta');
    await assert.rejects(findRunning(root, undefined), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.equal(err.message, '2 local pipelines are running; say which one');
      assert.equal(err.hint, 'running: alpha, beta');
      return true;
    });
    await assert.rejects(findRunning(root, 'gamma'), /no local pipeline named "gamma" is running here/);
  });
});
