/**
 * The process edge of local mode: starts one workload as a child process with its environment,
 * its own HTTP port and a log file per instance. Each child gets its own process group, so a
 * Ctrl-C in the terminal reaches dwk alone and dwk stops the children in order.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { Component } from '../../api/v1alpha1/pipeline.ts';
import { ENV } from '../../workloads/env.ts';
import type { ProcessExit, SpawnFn } from './supervisor.ts';

export interface WorkloadSpawnerOptions {
  nodePath: string;
  entry: string;
  /** Inherited variables (PATH, HOME...), under the workload's own. */
  baseEnv: Record<string, string>;
  /** The workload variables of a component (workloadEnv plus the local NATS URL). */
  envOf: (component: Component) => Record<string, string>;
  logDir: string;
  logLevel: string;
  /** Working directory of the children. */
  cwd: string;
  allocatePort: () => Promise<number>;
}

export const logFileOf = (logDir: string, instance: string) => join(logDir, `${instance}.log`);

/** The last `bytes` of a file as text ('' when it cannot be read): enough for a crash's last lines. */
export function tailOf(file: string, bytes = 16_384): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(bytes, size));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function workloadSpawner(options: WorkloadSpawnerOptions): SpawnFn {
  mkdirSync(options.logDir, { recursive: true });
  return (request, onExit) => {
    let pid: number | undefined;
    let child: ReturnType<typeof spawn> | undefined;
    let killedEarly: 'SIGTERM' | 'SIGKILL' | undefined;
    let reported = false;
    const report = (exit: ProcessExit) => {
      if (reported) return;
      reported = true;
      onExit(exit);
    };

    const start = (port: number) => {
      if (killedEarly) return report({ code: null, signal: killedEarly });
      const env = {
        ...options.baseEnv,
        ...options.envOf(request.component),
        [ENV.instance]: request.instance,
        [ENV.httpPort]: String(port),
        // Local mode serves nothing beyond this machine.
        [ENV.httpHost]: '127.0.0.1',
        [ENV.logLevel]: options.logLevel,
        [ENV.parentPid]: String(process.pid),
      };
      const log = openSync(logFileOf(options.logDir, request.instance), 'a');
      try {
        child = spawn(options.nodePath, [options.entry], {
          env,
          cwd: options.cwd,
          stdio: ['ignore', log, log],
          detached: true,
        });
      } finally {
        closeSync(log);
      }
      pid = child.pid;
      child.once('exit', (code, signal) => report({ code, signal }));
      child.once('error', (err) => {
        if (child?.pid === undefined) report({ code: null, signal: null, error: err.message });
      });
    };

    options
      .allocatePort()
      .then(start)
      .catch((err: Error) => report({ code: null, signal: null, error: err.message }));

    return {
      get pid() {
        return pid;
      },
      kill(signal) {
        if (!child) {
          killedEarly = signal;
          return;
        }
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
  };
}
