// A test runner killed with SIGKILL runs no exit handler: the test bed's watchdog still stops
// etcd, the apiserver and the rest, and removes the directory, instead of leaving them running.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { eventually } from './support.ts';

const SCRIPT = fileURLToPath(new URL('./fixtures/start-and-hang.ts', import.meta.url));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the test bed when its owner is SIGKILLed', { timeout: 120_000 }, () => {
  test('every process it started is killed and its directory removed within seconds', async () => {
    const child = spawn(process.execPath, [SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const started = await eventually(
      'the test bed to start',
      () => Promise.resolve(out.includes('\n') && (JSON.parse(out) as { dir: string; pids: number[] })),
      { timeoutMs: 90_000 },
    );
    assert.equal(started.pids.length, 5, 'etcd, apiserver, controller manager, scheduler, kwok');
    assert.ok(started.pids.every(alive));
    child.kill('SIGKILL');
    await eventually('every test bed process gone', () => Promise.resolve(!started.pids.some(alive)), {
      timeoutMs: 15_000,
    });
    await eventually('its directory removed', () => Promise.resolve(!existsSync(started.dir)), {
      timeoutMs: 15_000,
    });
  });
});
