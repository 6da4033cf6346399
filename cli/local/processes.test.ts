import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../lib/nats/server.ts';
import { logFileOf, workloadSpawner } from './processes.ts';
import type { ProcessExit } from './supervisor.ts';

const STUB = fileURLToPath(new URL('../../test/fixtures/workload-stub.ts', import.meta.url));

function spawner(extra: Record<string, string> = {}, nodePath = process.execPath) {
  const dir = mkdtempSync(join(tmpdir(), 'dwk-procs-'));
  const logDir = join(dir, 'logs');
  const spawn = workloadSpawner({
    nodePath,
    entry: STUB,
    baseEnv: { PATH: process.env.PATH ?? '', STUB_TAG: 'inherited', ...extra },
    envOf: (c) => ({ DWK_ROLE: c, DWK_PIPELINE: 'demo' }),
    logDir,
    logLevel: 'info',
    cwd: dir,
    allocatePort: freePort,
  });
  return { spawn, logDir };
}

const start = (spawn: ReturnType<typeof spawner>['spawn'], instance: string) => {
  let resolveExit: (e: ProcessExit) => void = () => {};
  const exited = new Promise<ProcessExit>((r) => (resolveExit = r));
  const handle = spawn({ component: 'mapper', instance, index: 0 }, resolveExit);
  return { handle, exited };
};

const logLines = (logDir: string, instance: string) =>
  readFileSync(logFileOf(logDir, instance), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; env?: Record<string, string> });

const waitFor = async (fn: () => boolean) => {
  for (let i = 0; i < 100 && !fn(); i++) await new Promise((r) => setTimeout(r, 50));
};

describe('workload processes', () => {
  it('starts a workload with its variables, a port of its own and a log file per instance', async () => {
    const { spawn, logDir } = spawner();
    const { handle, exited } = start(spawn, 'mapper-3');
    await waitFor(() => handle.pid !== undefined);
    await waitFor(() => {
      try {
        return logLines(logDir, 'mapper-3').length > 0;
      } catch {
        return false;
      }
    });
    const env = logLines(logDir, 'mapper-3')[0]?.env ?? {};
    assert.equal(env.DWK_INSTANCE, 'mapper-3');
    assert.equal(env.DWK_ROLE, 'mapper');
    assert.equal(env.DWK_HTTP_HOST, '127.0.0.1');
    assert.match(env.DWK_HTTP_PORT ?? '', /^\d+$/);
    assert.equal(env.STUB_TAG, 'inherited');
    handle.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.deepEqual(
      logLines(logDir, 'mapper-3').map((l) => l.msg),
      ['Starting', 'Stopped'],
    );
  });

  it('reports a SIGKILL as the exit signal', async () => {
    const { spawn } = spawner({ STUB_IGNORE_TERM: '1' });
    const { handle, exited } = start(spawn, 'mapper-0');
    await waitFor(() => handle.pid !== undefined);
    handle.kill('SIGKILL');
    assert.deepEqual(await exited, { code: null, signal: 'SIGKILL' });
  });

  it('reports the exit code of a workload that fails', async () => {
    const { spawn } = spawner({ STUB_EXIT_CODE: '3' });
    assert.deepEqual(await start(spawn, 'mapper-0').exited, { code: 3, signal: null });
  });

  it('a kill before the process exists means it never starts', async () => {
    const { spawn } = spawner();
    const { handle, exited } = start(spawn, 'mapper-0');
    handle.kill('SIGTERM');
    assert.deepEqual(await exited, { code: null, signal: 'SIGTERM' });
    assert.equal(handle.pid, undefined);
  });

  it('reports a binary that cannot be run as a start error', async () => {
    const { spawn } = spawner({}, '/nonexistent/node');
    const exit = await start(spawn, 'mapper-0').exited;
    assert.match(exit.error ?? '', /ENOENT/);
  });
});
