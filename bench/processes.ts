/** Child processes of a bench run: workloads with the env a Deployment sets, and the ceiling's clients. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Component, PipelineSpec } from '../api/v1alpha1/pipeline.ts';
import { freePort } from '../lib/nats/server.ts';
import { workloadEnv } from '../workloads/env.ts';

const WORKLOAD_MAIN = new URL('../workloads/main.ts', import.meta.url).pathname;

export interface BenchProcess {
  name: string;
  role: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Spawns `node <script> ...args` with `env`, output to `<dir>/<name>.log`. */
export function spawnNode(
  dir: string,
  name: string,
  role: string,
  args: string[],
  env: Record<string, string | undefined>,
  stdout: 'log' | 'pipe' = 'log',
): BenchProcess {
  const out = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(process.execPath, args, {
    env,
    stdio: ['ignore', stdout === 'pipe' ? 'pipe' : out, out],
  });
  closeSync(out);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, role, child, exited };
}

export interface StartedWorkload extends BenchProcess {
  readyUrl: string;
}

/** Starts one workload process of `pipeline`; its /readyz is on a port of its own. */
export async function startWorkload(
  dir: string,
  pipeline: string,
  spec: PipelineSpec,
  natsUrl: string,
  component: Component,
  instance: string,
  extraEnv: Record<string, string> = {},
): Promise<StartedWorkload> {
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    ...workloadEnv(pipeline, spec, component),
    DWK_NATS_URL: natsUrl,
    DWK_INSTANCE: instance,
    DWK_HTTP_PORT: String(port),
    DWK_HTTP_HOST: '127.0.0.1',
    ...extraEnv,
  };
  const p = spawnNode(dir, instance, component, [WORKLOAD_MAIN], env);
  return { ...p, readyUrl: `http://127.0.0.1:${port}/readyz` };
}

/** Resolves once every workload answers /readyz with 200; fails if one exits first. */
export async function waitReady(workloads: StartedWorkload[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(workloads);
  while (pending.size > 0) {
    if (Date.now() > deadline) {
      throw new Error(`not ready within ${timeoutMs} ms: ${[...pending].map((w) => w.name).join(', ')}`);
    }
    for (const w of [...pending]) {
      if (w.child.exitCode !== null) throw new Error(`${w.name} exited with code ${w.child.exitCode}`);
      const ok = await fetch(w.readyUrl).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) pending.delete(w);
    }
    if (pending.size > 0) await sleep(50);
  }
}

/** SIGTERM, then SIGKILL whatever is still running after `graceMs`. */
export async function stopAll(processes: BenchProcess[], graceMs = 12_000): Promise<void> {
  for (const p of processes) p.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }, graceMs);
  await Promise.all(processes.map((p) => p.exited));
  clearTimeout(timer);
}
