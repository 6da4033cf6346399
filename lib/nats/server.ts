/**
 * Runs a real nats-server with JetStream on loopback: used by `dwk up --local` and by the tests.
 * The binary comes from scripts/install-deps.sh (cached outside the repo), $DWK_NATS_SERVER or PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError, EXIT } from '../errors.ts';

/** Pinned in scripts/install-deps.sh too. */
export const NATS_SERVER_VERSION = 'v2.14.5';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DWK_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'dwk');
}

/** Path of the nats-server binary, or undefined when none is installed. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [
    env.DWK_NATS_SERVER,
    join(cacheDir(env), 'tools', `nats-server-${NATS_SERVER_VERSION}`, 'nats-server'),
    ...(env.PATH ?? '').split(':').map((dir) => join(dir, 'nats-server')),
  ];
  return candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
}

export function requireNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const bin = findNatsServer(env);
  if (!bin) {
    throw new UserError('nats-server is not installed', {
      exitCode: EXIT.unavailable,
      hint: 'run `npm run deps` (it builds the pinned nats-server with go install), or set DWK_NATS_SERVER',
    });
  }
  return bin;
}

/** A free TCP port on loopback (there is a small race until the caller binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface NatsServerOptions {
  /** JetStream store and logs live here; keep it to keep the data across restarts. */
  dataDir: string;
  port?: number;
  monitorPort?: number;
  binary?: string;
  /** Own process group: a Ctrl-C in the terminal then reaches the caller alone, which stops it in order. */
  detached?: boolean;
  /** Clients must present this token (tests of authenticated NATS). */
  token?: string;
  /**
   * SIGTERM the server once this process is gone, however it went: a detached server would
   * otherwise outlive a `dwk up` killed with SIGKILL, which runs no handler.
   */
  stopWhenGone?: number;
}

export interface RunningNatsServer {
  url: string;
  port: number;
  monitorUrl: string;
  monitorPort: number;
  readonly pid: number | undefined;
  /** SIGTERM, then SIGKILL after the grace period. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same ports with the same store. */
  start(): Promise<void>;
}

async function waitHealthy(monitorUrl: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`nats-server exited with code ${child.exitCode}; see ${logFile}`);
    }
    try {
      const res = await fetch(`${monitorUrl}/healthz?js-enabled-only=true`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`nats-server did not become healthy within 15 s; see ${logFile}`);
}

/** A detached shell that waits for `owner` to go, then SIGTERMs `pid`; it ends early if `pid` does. */
function stopWhenGone(owner: number, pid: number): ChildProcess {
  const script =
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -TERM "$2" 2>/dev/null';
  // Nothing of the run's directory or environment: it is no part of the run.
  const child = spawn('sh', ['-c', script, 'dwk-nats-watchdog', String(owner), String(pid)], {
    stdio: 'ignore',
    detached: true,
    cwd: '/',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  child.unref();
  return child;
}

export async function startNatsServer(options: NatsServerOptions): Promise<RunningNatsServer> {
  const binary = options.binary ?? requireNatsServer();
  const port = options.port ?? (await freePort());
  const monitorPort = options.monitorPort ?? (await freePort());
  const storeDir = join(options.dataDir, 'jetstream');
  mkdirSync(storeDir, { recursive: true });
  const logFile = join(options.dataDir, 'nats-server.log');
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  let child: ChildProcess | undefined;
  let watchdog: ChildProcess | undefined;

  const launch = async () => {
    const out = openSync(logFile, 'a');
    child = spawn(
      binary,
      [
        ...['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-js', '-sd', storeDir],
        ...(options.token !== undefined ? ['--auth', options.token] : []),
      ],
      { stdio: ['ignore', out, out], detached: options.detached ?? false },
    );
    closeSync(out);
    if (options.stopWhenGone !== undefined && child.pid !== undefined) {
      watchdog?.kill('SIGKILL');
      watchdog = stopWhenGone(options.stopWhenGone, child.pid);
    }
    await waitHealthy(monitorUrl, child, logFile);
  };

  const waitExit = (c: ChildProcess, ms: number) =>
    new Promise<boolean>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      c.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl,
    monitorPort,
    get pid() {
      return child?.pid;
    },
    async stop(graceMs = 5000) {
      watchdog?.kill('SIGKILL');
      const c = child;
      if (!c) return;
      c.kill('SIGTERM');
      if (!(await waitExit(c, graceMs))) {
        c.kill('SIGKILL');
        await waitExit(c, 5000);
      }
    },
    async kill() {
      const c = child;
      if (!c) return;
      c.kill('SIGKILL');
      await waitExit(c, 5000);
    },
    start: launch,
  };
}
