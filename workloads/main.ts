/**
 * The one entrypoint of every workload. DWK_ROLE picks fetcher, mapper, saver or broadcaster;
 * everything else comes from the environment (see env.ts). Fails fast listing every bad variable.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { Server } from 'node:http';
import { ConfigError } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import { connectNats } from '../lib/nats/connect.ts';
import { readConfig, type WorkloadConfig } from './config.ts';
import { runFetcher } from './fetcher.ts';
import { serveHttp } from './http.ts';
import { runMapper } from './mapper/main.ts';
import { createMetrics } from './metrics.ts';
import { broadcasterSecrets, runBroadcaster } from './broadcaster/main.ts';
import type { RoleContext } from './role.ts';
import { runSaver } from './saver/main.ts';

/** SIGTERM must end the process within 10 s (a Pod's default grace is 30 s; we promise less). */
const SHUTDOWN_DEADLINE_MS = 9500;

function runRole(config: WorkloadConfig, ctx: RoleContext): Promise<void> {
  switch (config.role) {
    case 'fetcher':
      return runFetcher(config, ctx);
    case 'mapper':
      return runMapper(config, ctx);
    case 'saver':
      return runSaver(config, ctx);
    case 'broadcaster':
      return runBroadcaster(config, ctx);
  }
}

async function run(config: WorkloadConfig): Promise<number> {
  const secrets = [
    config.natsAuth.password,
    config.natsAuth.token,
    ...(config.role === 'broadcaster' ? broadcasterSecrets(config) : []),
  ];
  const log = createLogger({
    level: config.logLevel,
    base: { pipeline: config.pipeline, component: config.role, instance: config.instance },
    secrets: secrets.filter((s): s is string => s !== undefined),
  });
  const metrics = createMetrics({ pipeline: config.pipeline, component: config.role });
  const stopper = new AbortController();
  const stopHooks: Array<() => Promise<void> | void> = [];
  let ready = false;
  let connected = false;

  const onSignal = (signal: string) => {
    if (stopper.signal.aborted) return;
    log.info({ signal }, 'Shutting down');
    stopper.abort();
    setTimeout(() => {
      log.error('Shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
  };
  if (config.parentPid !== undefined) {
    // Reparented means the parent died without stopping us (SIGKILL): do not linger as an orphan.
    const parent = config.parentPid;
    setInterval(() => {
      if (process.ppid !== parent) onSignal('parent exited');
    }, 1000).unref();
  }
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  let server: Server | undefined;
  try {
    server = await serveHttp(config.httpHost, config.httpPort, metrics.registry, {
      ready: () => ready && connected,
    });
    log.info({ port: config.httpPort, role: config.role }, 'Starting');
    const nc = await connectNats({
      servers: config.natsUrl,
      name: `dwk-${config.pipeline}-${config.instance}`,
      auth: config.natsAuth,
      persistent: true,
      signal: stopper.signal,
      log,
    }).catch((err: unknown) => {
      if (stopper.signal.aborted) return undefined;
      throw err;
    });
    if (!nc) {
      // Stopped while still waiting for NATS: nothing is in flight, so just go.
      log.info('Stopped before connecting to NATS');
      return 0;
    }
    connected = true;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') connected = false;
        if (s.type === 'reconnect') connected = true;
      }
    })();
    const ctx: RoleContext = {
      nc,
      jsm: await jetstreamManager(nc),
      log,
      metrics,
      stopping: stopper.signal,
      setReady: (r) => (ready = r),
      onStop: (fn) => stopHooks.push(fn),
    };
    await runRole(config, ctx);
    // A role returns when stopped (or when a fetcher lost its lease and must stand by again).
    for (const hook of stopHooks) await hook();
    await nc.drain();
    log.info('Stopped');
    return stopper.signal.aborted ? 0 : 1;
  } catch (err) {
    log.error({ err }, 'Workload failed');
    return 1;
  } finally {
    server?.close();
  }
}

async function main(): Promise<number> {
  let config: WorkloadConfig;
  try {
    config = readConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      // Before a logger exists: still one JSON line, so log collectors see it.
      process.stdout.write(
        `${JSON.stringify({ level: 'fatal', msg: err.message, problems: err.problems })}\n`,
      );
      return 78; // EX_CONFIG
    }
    throw err;
  }
  return run(config);
}

process.exitCode = await main();
// Lingering timers (backoff, heartbeats) must not keep a finished workload alive.
process.exit();
