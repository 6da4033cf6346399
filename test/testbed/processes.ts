/**
 * Starting and stopping the test bed's processes by pid. A process started detached (for `testbed up`)
 * outlives this one and is stopped later from its recorded pid, so stopping never needs a ChildProcess.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StartedProcess {
  name: string;
  pid: number;
  binary: string;
  logFile: string;
}

/** Starts `binary` with its output in `<logDir>/<name>.log`. */
export function startProcess(
  name: string,
  binary: string,
  args: string[],
  options: { logDir: string; detached: boolean },
): StartedProcess {
  const logFile = join(options.logDir, `${name}.log`);
  const out = openSync(logFile, 'a');
  try {
    const child = spawn(binary, args, { stdio: ['ignore', out, out], detached: options.detached });
    if (child.pid === undefined) throw new Error(`could not start ${binary}`);
    // A detached child must not keep `testbed up` alive; an attached one is reaped by libuv either way.
    child.unref();
    child.on('error', () => {
      // the pid check in waitUntil reports a process that died
    });
    return { name, pid: child.pid, binary, logFile };
  } finally {
    closeSync(out);
  }
}

/** True while `pid` runs `binary` (a zombie or a recycled pid does not count). */
export function isRunning(proc: Pick<StartedProcess, 'pid' | 'binary'>): boolean {
  try {
    const stat = readFileSync(`/proc/${proc.pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name, which may contain spaces.
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return false;
    const argv0 = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0')[0];
    // Right after spawn the kernel may not have set up the new program's arguments yet: empty, still ours.
    return argv0 === proc.binary || argv0 === '';
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(proc: StartedProcess, graceMs = 10_000): Promise<void> {
  if (!isRunning(proc)) return;
  signal(proc, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isRunning(proc)) {
    if (Date.now() > deadline) {
      signal(proc, 'SIGKILL');
      if (Date.now() > deadline + 5_000) throw new Error(`${proc.name} (pid ${proc.pid}) survived SIGKILL`);
    }
    await sleep(50);
  }
}

/** Sends a signal if the pid still runs our binary; for exit and signal handlers, which cannot wait. */
export function signal(proc: StartedProcess, sig: NodeJS.Signals): void {
  if (!isRunning(proc)) return;
  try {
    process.kill(proc.pid, sig);
  } catch {
    // it exited in between
  }
}

/** The last lines of a log, for error messages. */
export function logTail(logFile: string, lines = 15): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `check` until it returns true. Fails early when `proc` exits, and at the deadline,
 * with the tail of the process's log in the message.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs: number; proc?: StartedProcess; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (options.proc && !isRunning(options.proc)) {
      throw new Error(
        `${options.proc.name} exited while waiting for ${what}; log:\n${logTail(options.proc.logFile)}`,
      );
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const tail = options.proc ? `; log:\n${logTail(options.proc.logFile)}` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${tail}`, {
        cause: lastError,
      });
    }
    await sleep(options.intervalMs ?? 100);
  }
}
