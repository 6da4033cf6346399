/** `dwk scale|status|down --local`: clients of the control API of a running `dwk up --local`. */
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Component } from '../../api/v1alpha1/pipeline.ts';
import { EXIT, UserError } from '../../lib/errors.ts';
import type { OutputFormat } from '../args.ts';
import type { CliContext } from '../context.ts';
import type { Output } from '../output.ts';
import { statusText } from '../views/format.ts';
import { controlClient } from './control.ts';
import type { LocalStatus } from './model.ts';
import {
  findRunning,
  isAlive,
  localRoot,
  registered,
  runningPipelines,
  unregister,
  type RegistryEntry,
  type RunState,
} from './state.ts';

export async function scaleLocal(
  args: { component: Component; replicas: number; pipeline: string | undefined },
  ctx: CliContext,
  out: Output,
): Promise<void> {
  const state = await findRunning(localRoot(ctx.cwd), args.pipeline);
  const r = await controlClient(state).scale(args.component, args.replicas);
  out.print(`${r.component}: ${r.from} → ${r.to}`);
}

export async function renderStatus(status: LocalStatus, format: OutputFormat | undefined): Promise<string> {
  if (format === 'json') return JSON.stringify(status, null, 2);
  if (format === 'yaml') return (await import('yaml')).stringify(status).trimEnd();
  return statusText(status);
}

export async function statusLocal(
  args: { pipeline: string | undefined; format: OutputFormat | undefined; once: boolean },
  ctx: CliContext,
  out: Output,
): Promise<void> {
  const state = await findRunning(localRoot(ctx.cwd), args.pipeline);
  const client = controlClient(state);
  if (args.once || args.format !== undefined || !out.interactive) {
    out.print(await renderStatus(await client.status(), args.format));
    return;
  }
  // The same live view as a cluster pipeline's, fed by the control API.
  const [{ runLive }, { fromLocal }] = await Promise.all([
    import('../cluster/live.ts'),
    import('../views/pipeline-view.ts'),
  ]);
  await runLive(
    {
      fetch: async () => fromLocal(await client.status()),
      actions: {
        async scale(component, replicas) {
          const r = await client.scale(component as Component, replicas);
          return `${r.component}: ${r.from} → ${r.to}`;
        },
        pause: () =>
          Promise.reject(new Error('pausing is for cluster pipelines; use dwk scale to 0 locally')),
      },
    },
    ctx,
    out,
  );
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

async function stopRun(state: RunState, out: Output): Promise<void> {
  out.info(`stopping ${state.pipeline} (dwk pid ${state.pid}); the workloads drain first`);
  await controlClient(state).stop();
  // The workloads have 10 s to drain, then nats-server 5 s: 30 s is ample.
  if (!(await waitGone(state.pid, 30_000))) {
    throw new UserError(`${state.pipeline} is still stopping after 30 s (dwk pid ${state.pid})`, {
      exitCode: EXIT.timeout,
      hint: `see its terminal; kill ${state.pid} stops it the same way`,
    });
  }
  out.print(`stopped ${state.pipeline}`);
}

async function purge(
  entry: RegistryEntry,
  root: string,
  out: Output,
  cwd: string,
  home?: string,
): Promise<void> {
  const { unsafeDataDir } = await import('./prepare.ts');
  const unsafe = unsafeDataDir(entry.dataDir, cwd, home);
  if (unsafe) {
    throw new UserError(`--purge would delete ${entry.dataDir}, and ${unsafe}`, {
      hint: `delete what you no longer need in it by hand`,
    });
  }
  if (entry.externalNatsUrl !== undefined) {
    const [{ connectNats }, { deletePipeline }] = await Promise.all([
      import('../../lib/nats/connect.ts'),
      import('../../lib/nats/setup.ts'),
    ]);
    const nc = await connectNats({ servers: entry.externalNatsUrl, name: 'dwk-down', timeoutMs: 3000 });
    try {
      const deleted = await deletePipeline(nc, entry.pipeline);
      out.print(`deleted ${deleted.length} streams of ${entry.pipeline} from ${entry.externalNatsUrl}`);
    } finally {
      await nc.close();
    }
  }
  await rm(entry.dataDir, { recursive: true, force: true });
  await unregister(root, entry.pipeline);
  out.print(`deleted ${entry.dataDir}`);
}

export async function downLocal(
  args: { pipeline: string | undefined; purge: boolean },
  ctx: CliContext,
  out: Output,
): Promise<void> {
  const root = localRoot(ctx.cwd);
  const running = await runningPipelines(root);
  let run: RunState | undefined;
  if (args.pipeline !== undefined) run = running.find((s) => s.pipeline === args.pipeline);
  else if (running.length > 1)
    await findRunning(root, undefined); // throws: say which one
  else run = running[0];
  if (run) await stopRun(run, out);
  if (!args.purge) {
    if (!run)
      out.info(
        `no local pipeline${args.pipeline ? ` named "${args.pipeline}"` : ''} is running here; nothing to stop`,
      );
    return;
  }
  const entries = await registered(root);
  const name = run?.pipeline ?? args.pipeline;
  const candidates = entries.filter((e) => name === undefined || e.pipeline === name);
  if (candidates.length > 1) {
    throw new UserError(`${candidates.length} local pipelines have data here; say which one to purge`, {
      hint: `pipelines: ${candidates.map((e) => e.pipeline).join(', ')}`,
    });
  }
  const [entry] = candidates;
  if (!entry) {
    out.info(`no local pipeline${name ? ` named "${name}"` : ''} has data here; nothing to purge`);
    return;
  }
  await purge(entry, root, out, ctx.cwd, ctx.config.env.HOME);
}
