/**
 * `dwk up --local`: nats-server (or --nats-url), every component as supervised child processes,
 * a control API for scale/status/down, live progress; stops everything in order on Ctrl-C,
 * SIGTERM, `dwk down`, or when done with --exit-when-done.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import {
  componentsOf,
  desiredReplicas,
  knownTotalChunks,
  type Pipeline,
} from '../../api/v1alpha1/pipeline.ts';
import { EXIT, UnavailableError, UserError } from '../../lib/errors.ts';
import { connectNats, type NatsConnection } from '../../lib/nats/connect.ts';
import { progressReader } from '../../lib/nats/progress.ts';
import { freePort, requireNatsServer } from '../../lib/nats/server.ts';
import { deletePipeline } from '../../lib/nats/setup.ts';
import type { UpOptions } from '../commands/up.ts';
import { BUNDLED_EXAMPLE } from '../config.ts';
import { InterruptedError } from '../exit.ts';
import type { CliContext, StopSignal } from '../context.ts';
import { loadManifest } from '../manifest.ts';
import type { Output } from '../output.ts';
import { formatDuration, savedText } from '../views/format.ts';
import { systemClock } from './clock.ts';
import { serveControl } from './control.ts';
import type { LocalPhase } from './model.ts';
import { assembleStatus, ProgressMonitor, type RunInfo } from './monitor.ts';
import { readServerFigures } from '../../lib/nats/server-stats.ts';
import {
  componentEnv,
  dataShape,
  localPaths,
  localSourceFile,
  shapeChanges,
  unsafeDataDir,
  type LocalPaths,
} from './prepare.ts';
import { logFileOf, tailOf, workloadSpawner } from './processes.ts';
import { inkReporter, plainReporter, type Reporter } from './reporter.ts';
import { describeEvent, lastProblem } from './events.ts';
import { Supervisor, type SpawnFn } from './supervisor.ts';
import { localRoot, register, removeRunState, runningState, writeRunState } from './state.ts';
import { externalNats, managedNats } from './nats.ts';
import { findNatsExporter, findPrometheus, startLocalPrometheus, trackTargets } from './prometheus.ts';

const POLL_MS = 1000;

/** Checks NATS at a URL the user gave, quickly, with an error that says what to do. */
async function probeNats(url: string): Promise<void> {
  try {
    const nc = await connectNats({ servers: url, name: 'dwk-probe', timeoutMs: 3000 });
    await nc.close();
  } catch (err) {
    if (!(err instanceof UnavailableError)) throw err;
    throw new UserError(err.message, {
      exitCode: EXIT.unavailable,
      hint: 'check the URL and that nats-server runs there, or leave out --nats-url and dwk starts one',
      cause: err,
    });
  }
}

async function startFresh(
  opts: UpOptions,
  pipeline: Pipeline,
  paths: LocalPaths,
  out: Output,
): Promise<void> {
  if (opts.natsUrl !== undefined) {
    const nc = await connectNats({ servers: opts.natsUrl, name: 'dwk-fresh', timeoutMs: 3000 });
    try {
      const deleted = await deletePipeline(nc, pipeline.metadata.name);
      if (deleted.length) out.info(`deleted streams ${deleted.join(', ')} from ${opts.natsUrl}`);
    } finally {
      await nc.close();
    }
  }
  await rm(paths.dataDir, { recursive: true, force: true });
  out.info(`deleted the data of earlier runs in ${paths.dataDir}`);
}

export async function upLocal(opts: UpOptions, ctx: CliContext, out: Output): Promise<void> {
  const pipeline = await loadManifest(opts.file ?? BUNDLED_EXAMPLE, ctx.cwd);
  const name = pipeline.metadata.name;
  const root = localRoot(ctx.cwd);
  const paths = localPaths(pipeline, resolve(ctx.cwd, opts.dataDir ?? join(root, name)));
  const already = await runningState({ pipeline: name, dataDir: paths.dataDir });
  if (already) {
    throw new UserError(`pipeline "${name}" is already running here (dwk pid ${already.pid})`, {
      hint: `see it with \`dwk status --local ${name}\`, stop it with \`dwk down --local ${name}\``,
    });
  }
  if (opts.natsUrl !== undefined) await probeNats(opts.natsUrl);
  // Everything a workload needs is checked before anything starts.
  const natsBinary = opts.natsUrl === undefined ? requireNatsServer(ctx.config.env) : '';
  const check = {
    natsUrl: opts.natsUrl ?? 'nats://127.0.0.1:4222',
    paths,
    cwd: ctx.cwd,
    env: ctx.config.env,
  };
  for (const c of componentsOf(pipeline.spec)) componentEnv(pipeline, c, check);
  if (opts.prometheus) {
    findPrometheus(ctx.config.env);
    findNatsExporter(ctx.config.env);
  }

  const source = localSourceFile(pipeline, ctx.cwd);
  if (source !== undefined && !existsSync(source)) {
    throw new UserError(`spec.source.url: ${source}: no such file`, {
      exitCode: EXIT.invalidSpec,
      hint: 'name an NDJSON file that exists (relative to here), a file:// or an http(s):// URL',
    });
  }
  if (opts.fresh) {
    const unsafe = unsafeDataDir(paths.dataDir, ctx.cwd, ctx.config.env.HOME);
    if (unsafe) {
      throw new UserError(`--fresh would delete ${paths.dataDir}, and ${unsafe}`, {
        hint: 'give --data-dir a directory of its own, e.g. .dwk/<pipeline> (the default)',
      });
    }
  }
  const shapeFile = join(paths.dataDir, 'data-shape.json');
  const shape = dataShape(pipeline, paths, ctx.cwd);
  if (!opts.fresh && existsSync(shapeFile)) {
    let before: Record<string, unknown> | undefined;
    try {
      before = JSON.parse(await readFile(shapeFile, 'utf8')) as Record<string, unknown>;
    } catch {
      before = undefined; // half-written by a killed run: nothing to compare, it is written anew
    }
    const changes = before ? shapeChanges(before, shape) : [];
    if (changes.length > 0) {
      throw new UserError(
        `the data of "${name}" in ${relative(ctx.cwd, paths.dataDir) || '.'} was made from other values: ${changes.join('; ')}`,
        {
          exitCode: EXIT.invalidSpec,
          // On an external NATS the streams are named by the pipeline alone: another directory would share them.
          hint:
            opts.natsUrl === undefined
              ? 'start over with --fresh (deletes that data), or run beside it with --data-dir <another dir>'
              : `start over with --fresh (deletes that data and the pipeline's streams on ${opts.natsUrl})`,
        },
      );
    }
  }

  if (opts.fresh) await startFresh(opts, pipeline, paths, out);
  await mkdir(paths.logDir, { recursive: true });
  await writeFile(shapeFile, `${JSON.stringify(shape, null, 2)}\n`);
  await register(root, {
    pipeline: name,
    dataDir: paths.dataDir,
    ...(opts.natsUrl !== undefined ? { externalNatsUrl: opts.natsUrl } : {}),
  });
  await runPipeline({ opts, ctx, out, pipeline, paths, natsBinary });
}

interface RunArgs {
  opts: UpOptions;
  ctx: CliContext;
  out: Output;
  pipeline: Pipeline;
  paths: LocalPaths;
  natsBinary: string;
}

async function runPipeline({ opts, ctx, out, pipeline, paths, natsBinary }: RunArgs): Promise<void> {
  const name = pipeline.metadata.name;
  const cleanups: Array<[string, () => Promise<void>]> = [];
  const startedAt = Date.now();
  let phase: LocalPhase = 'Starting';
  let reporter: Reporter | undefined;
  // While the live view draws, lines go through it; text written around ink would garble the frame.
  const say = (text: string, warn = false) =>
    reporter ? reporter.event(text, warn) : warn ? out.warn(text) : out.info(text);
  const summary: Array<() => void> = [];
  let refresh = () => {};
  const kill: { pids: () => number[] } = { pids: () => [] };
  const offExit = ctx.onExit(() => {
    // Last resort when dwk dies with children alive (an uncaught error): they must not outlive it.
    for (const pid of kill.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  let stopRequested: (why: string) => void = () => {};
  const stopped = new Promise<string>((r) => (stopRequested = r));
  let signals = 0;
  let interrupted: string | undefined;
  let supervisor: Supervisor | undefined;
  const offSignal = ctx.onStopSignal((signal: StopSignal) => {
    signals++;
    if (signals === 1) stopRequested(signal);
    else {
      say('stopping now (second signal): killing every process', true);
      void supervisor?.forceStop();
    }
  });

  try {
    const nats =
      opts.natsUrl === undefined ? await managedNats(paths.natsDir, natsBinary) : externalNats(opts.natsUrl);
    cleanups.push(['nats-server', () => nats.stop()]);
    const natsUrl = nats.url;
    // NATS answered the probe a moment ago; should it be gone now, say so and let Ctrl-C end the wait.
    const slow = setTimeout(() => say(`waiting for NATS at ${natsUrl} …`, true), 3000);
    const nc: NatsConnection = await Promise.race([
      connectNats({ servers: natsUrl, name: `dwk-up-${name}`, persistent: true }).finally(() =>
        clearTimeout(slow),
      ),
      stopped.then((signal) => Promise.reject(new InterruptedError(signal))),
    ]);
    cleanups.push(['NATS connection', () => nc.close()]);
    const reader = await progressReader(nc, name, knownTotalChunks(pipeline.spec));
    const monitorUrl = nats.monitorUrl;
    const monitor = new ProgressMonitor(() => reader.read(), systemClock, {
      ...(monitorUrl !== undefined ? { server: () => readServerFigures(monitorUrl) } : {}),
      ...(componentsOf(pipeline.spec).includes('broadcaster')
        ? { broadcast: () => reader.broadcastOutcomes() }
        : {}),
    });

    let tracked: ReturnType<typeof trackTargets> | undefined;
    if (opts.prometheus) {
      if (nats.monitorUrl === undefined) {
        throw new UserError('--prometheus needs the nats-server that dwk starts (its monitoring port)', {
          hint: 'leave out --nats-url, or run prometheus-nats-exporter against your server yourself',
        });
      }
      const prom = await startLocalPrometheus({
        dir: join(paths.dataDir, 'prometheus'),
        natsMonitorUrl: nats.monitorUrl,
        env: ctx.config.env,
      });
      cleanups.push(['prometheus', () => prom.stop()]);
      kill.pids = () => prom.pids();
      tracked = trackTargets(prom, freePort, (err) => say(`prometheus targets: ${err.message}`, true));
      out.print(`Prometheus: ${prom.url} (scraping the workloads and prometheus-nats-exporter)`);
    }
    reporter = out.interactive ? await inkReporter(out) : plainReporter(out, systemClock);
    const report = reporter;
    const url = natsUrl;
    const wrap = tracked?.wrap ?? ((s: SpawnFn) => s);
    supervisor = new Supervisor({
      clock: systemClock,
      spawn: wrap(
        workloadSpawner({
          nodePath: ctx.config.nodePath,
          entry: ctx.config.workloadEntry,
          baseEnv: ctx.config.childEnv,
          envOf: (c) => componentEnv(pipeline, c, { natsUrl: url, paths, cwd: ctx.cwd, env: ctx.config.env }),
          logDir: paths.logDir,
          logLevel: out.verbose ? 'debug' : 'info',
          cwd: ctx.cwd,
          allocatePort: tracked?.allocatePort ?? freePort,
        }),
      ),
      onEvent: (e) => {
        const reason =
          e.type === 'crashed' ? lastProblem(tailOf(logFileOf(paths.logDir, e.instance))) : undefined;
        const line = describeEvent(e, paths.logDir, out.verbose, ctx.cwd, reason);
        if (line) report.event(line.text, line.warn);
      },
    });
    const sup = supervisor;
    const extraPids = kill.pids;
    kill.pids = () => [
      ...sup.pids(),
      ...[nats.pid()].filter((p): p is number => p !== undefined),
      ...extraPids(),
    ];
    cleanups.push(['workloads', () => sup.stop()]);

    const run: RunInfo = {
      pipeline,
      pid: process.pid,
      startedAt: new Date(startedAt).toISOString(),
      dataDir: paths.dataDir,
      natsUrl,
      natsManaged: nats.managed,
      natsPid: nats.pid,
      ...(nats.monitorUrl !== undefined ? { natsMonitorUrl: nats.monitorUrl } : {}),
      sinkPath: paths.sinkPath,
    };
    const status = () => assembleStatus(run, phase, sup.snapshot(), monitor.latest);
    refresh = () => report.progress(status());
    const token = randomBytes(24).toString('hex');
    const control = await serveControl(
      {
        status: () => Promise.resolve(status()),
        scale: (component, replicas) => {
          if (phase === 'Stopping') throw new UserError(`pipeline "${name}" is stopping`);
          if (!componentsOf(pipeline.spec).includes(component)) {
            throw new UserError(`pipeline "${name}" has no ${component}`, {
              hint: `add spec.${component} to the manifest and run dwk up --local again`,
            });
          }
          return { component, from: sup.scale(component, replicas), to: replicas };
        },
        stop: () => stopRequested('dwk down'),
      },
      token,
    );
    cleanups.push(['control API', () => control.close()]);
    await writeRunState({
      pipeline: name,
      pid: process.pid,
      port: control.port,
      token,
      natsUrl,
      natsManaged: run.natsManaged,
      dataDir: paths.dataDir,
      startedAt: run.startedAt,
    });
    cleanups.push(['state file', () => removeRunState(paths.dataDir)]);

    const replicas = componentsOf(pipeline.spec).map((c) => `${c} ×${desiredReplicas(pipeline.spec, c)}`);
    say(
      `${name}: NATS ${natsUrl}${run.natsManaged ? ' (started by dwk)' : ''}; ${replicas.join(', ')}; ` +
        `logs in ${relative(ctx.cwd, paths.logDir) || '.'}. Ctrl-C stops.`,
    );
    for (const c of componentsOf(pipeline.spec)) sup.scale(c, desiredReplicas(pipeline.spec, c));
    phase = 'Running';

    const done = pollUntilDone(
      async () => {
        await nats.keepUp(say);
        await monitor.poll();
      },
      () => {
        if (phase !== 'Stopping') phase = monitor.complete() ? 'Complete' : 'Running';
        report.progress(status());
        return opts.exitWhenDone === true && monitor.complete();
      },
    );
    const why = await Promise.race([stopped, done.finished.then(() => 'done')]);
    done.cancel();
    phase = 'Stopping';
    report.progress(status());
    if (why === 'done') {
      const p = monitor.latest.figures?.progress;
      const dead = p?.chunksDeadLettered ? `, ${p.chunksDeadLettered} dead-lettered` : '';
      const where = paths.sinkPath ? `; results in ${relative(ctx.cwd, paths.sinkPath)}` : '';
      const line = `${name}: done, ${savedText(status())}${dead} in ${formatDuration((Date.now() - startedAt) / 1000)}${where}`;
      summary.push(() => out.print(line));
      if (p?.chunksDeadLettered) {
        const n = p.chunksDeadLettered;
        summary.push(() => out.warn(`${n} chunks were dead-lettered; see the DLQ stream`));
      }
    } else {
      say(`${name}: stopping (${why}); waiting for the workloads to drain`);
      if (why !== 'dwk down') interrupted = why;
    }
  } finally {
    offSignal();
    // The view keeps drawing while the workloads drain; the summary comes once it is gone.
    const ticker = setInterval(() => refresh(), 500);
    try {
      await runCleanups(cleanups, out, say);
    } finally {
      clearInterval(ticker);
      await reporter?.close();
      reporter = undefined;
      offExit();
    }
    for (const line of summary) line();
  }
  if (interrupted !== undefined) throw new InterruptedError(interrupted);
}

async function runCleanups(
  cleanups: Array<[string, () => Promise<void>]>,
  out: Output,
  say: (text: string, warn?: boolean) => void,
): Promise<void> {
  const failures: unknown[] = [];
  for (const [what, fn] of cleanups.reverse()) {
    try {
      await fn();
      if (out.verbose) say(`stopped ${what}`);
    } catch (err) {
      say(`could not stop ${what}: ${(err as Error).message}`, true);
      failures.push(err);
    }
  }
  if (failures.length) throw new AggregateError(failures, 'local mode did not stop cleanly');
}

/** Polls every second; `finished` resolves when `tick` says done. */
function pollUntilDone(poll: () => Promise<void>, tick: () => boolean) {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const finished = new Promise<void>((resolveDone) => {
    const loop = async () => {
      await poll();
      if (cancelled) return;
      if (tick()) return resolveDone();
      timer = setTimeout(() => void loop(), POLL_MS);
    };
    void loop();
  });
  return {
    finished,
    cancel: () => {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}
