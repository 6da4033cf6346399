/** Runs real workload processes for integration tests, with the same env a Deployment would set. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Component, PipelineSpec } from '../../api/v1alpha1/pipeline.ts';
import { resolveSpec } from '../../api/v1alpha1/validate.ts';
import { connectNats, type NatsConnection } from '../../lib/nats/connect.ts';
import { startNatsServer, type RunningNatsServer } from '../../lib/nats/server.ts';
import { workloadEnv } from '../../workloads/env.ts';

const MAIN = new URL('../../workloads/main.ts', import.meta.url).pathname;

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `dwk-${prefix}-`));
}

export interface Workload {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

export interface WorkloadSet {
  start(component: Component, instance: string, extraEnv?: Record<string, string>): Workload;
  running(component?: Component): Workload[];
  kill(w: Workload, signal?: NodeJS.Signals): Promise<void>;
  stopAll(): Promise<void>;
  logs(): string;
  /** The last `n` warning and error lines of every workload, each prefixed by its instance: for failure messages. */
  problems(n: number): string;
}

/** Spawns workloads of one pipeline against `natsUrl`; logs go to files in `dir`. */
export function workloadSet(pipeline: string, spec: PipelineSpec, natsUrl: string, dir: string): WorkloadSet {
  const all: Workload[] = [];
  const alive = new Set<Workload>();
  return {
    start(component, instance, extraEnv = {}) {
      const logFile = join(dir, `${instance}.log`);
      const out = openSync(logFile, 'a');
      const env = {
        PATH: process.env.PATH,
        ...workloadEnv(pipeline, spec, component),
        DWK_NATS_URL: natsUrl,
        DWK_INSTANCE: instance,
        DWK_HTTP_PORT: '0',
        DWK_HTTP_HOST: '127.0.0.1',
        // A test runner killed outright leaves no workload behind: each exits when reparented.
        DWK_PARENT_PID: String(process.pid),
        ...extraEnv,
      };
      const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', out, out] });
      closeSync(out);
      const w: Workload = {
        name: instance,
        child,
        logFile,
        exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
      };
      all.push(w);
      alive.add(w);
      void w.exited.then(() => alive.delete(w));
      return w;
    },
    running(component) {
      return [...alive].filter((w) => component === undefined || w.name.startsWith(component));
    },
    async kill(w, signal = 'SIGKILL') {
      w.child.kill(signal);
      await w.exited;
    },
    async stopAll() {
      const live = [...alive];
      for (const w of live) w.child.kill('SIGTERM');
      await Promise.race([Promise.all(live.map((w) => w.exited)), sleep(12_000)]);
      for (const w of alive) w.child.kill('SIGKILL');
      await Promise.all(live.map((w) => w.exited));
    },
    logs() {
      return all.map((w) => readFileSync(w.logFile, 'utf8')).join('');
    },
    problems(n) {
      const lines = all.flatMap((w) =>
        readFileSync(w.logFile, 'utf8')
          .split('\n')
          .filter((l) => /"level":"(warn|error|fatal)"/.test(l) || (l !== '' && !l.startsWith('{')))
          .map((l) => `${w.name}: ${l}`),
      );
      return lines.slice(-n).join('\n');
    },
  };
}

export function spec(overrides: unknown): PipelineSpec {
  return resolveSpec(overrides);
}

/** Polls `check` until it returns a value, or fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}

/** Reads a JSONL sink and counts every id: the exactly-once check. */
export function idCounts(path: string): Map<string, number> {
  const counts = new Map<string, number>();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return counts;
  }
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const id = String((JSON.parse(line) as { id: unknown }).id);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Asserts ids 0..n-1 each appear exactly once; returns a description of what is wrong, or ''. */
export function exactlyOnce(counts: Map<string, number>, n: number, except: Set<string> = new Set()): string {
  const missing: string[] = [];
  const dupes: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = String(i);
    const c = counts.get(id) ?? 0;
    if (except.has(id)) {
      if (c !== 0) dupes.push(`${id} (dead-lettered, yet saved ${c}×)`);
      continue;
    }
    if (c === 0) missing.push(id);
    if (c > 1) dupes.push(`${id} (${c}×)`);
  }
  const extra = [...counts.keys()].filter((id) => !(Number(id) >= 0 && Number(id) < n));
  const parts = [];
  if (missing.length) parts.push(`${missing.length} missing, e.g. ${missing.slice(0, 5).join(', ')}`);
  if (dupes.length) parts.push(`${dupes.length} duplicated, e.g. ${dupes.slice(0, 5).join(', ')}`);
  if (extra.length) parts.push(`${extra.length} unexpected ids, e.g. ${extra.slice(0, 5).join(', ')}`);
  return parts.join('; ');
}

export interface NatsFixture {
  dir: string;
  server: RunningNatsServer;
  nc: NatsConnection;
}

/**
 * A real nats-server and a persistent connection for one describe block: started before its
 * tests, stopped after them. Call it inside `describe`.
 */
export function natsFixture(prefix: string): NatsFixture {
  const f = { dir: tempDir(prefix) } as NatsFixture;
  before(async () => {
    f.server = await startNatsServer({ dataDir: join(f.dir, 'nats') });
    f.nc = await connectNats({ servers: f.server.url, name: 'test', persistent: true });
  });
  after(async () => {
    await f.nc?.close();
    await f.server?.stop();
  });
  return f;
}
