/**
 * `dwk up --local --prometheus`: a Prometheus (Debian's package) and a prometheus-nats-exporter
 * (built by scripts/install-deps.sh) on free loopback ports, with their data in the given
 * directory. Workloads come and go on new ports, so they are file_sd targets that
 * Prometheus re-reads when the file changes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, UserError } from '../../lib/errors.ts';
import { cacheDir, freePort } from '../../lib/nats/server.ts';
import type { SpawnFn, SpawnRequest } from './supervisor.ts';

/** Pinned in scripts/install-deps.sh too. */
export const NATS_EXPORTER_VERSION = 'v0.12.0';

/** The flags the official NATS Helm chart gives its exporter: `nats_*` names, JetStream details. */
export const NATS_EXPORTER_ARGS = [
  '-connz',
  '-routez',
  '-subz',
  '-varz',
  '-prefix=nats',
  '-use_internal_server_id',
  '-jsz=all',
];

export interface ScrapeTarget {
  instance: string;
  component: string;
  port: number;
}

export interface LocalPrometheus {
  url: string;
  exporterUrl: string;
  /** Replaces the workload targets (written atomically; Prometheus notices the change). */
  setTargets(targets: ScrapeTarget[]): Promise<void>;
  pids(): number[];
  stop(): Promise<void>;
}

export interface LocalPrometheusOptions {
  dir: string;
  natsMonitorUrl: string;
  env: NodeJS.ProcessEnv;
  /** How often to scrape; short in tests. */
  scrapeInterval?: string;
}

function findBinary(name: string, override: string | undefined, env: NodeJS.ProcessEnv, extra: string[]) {
  const candidates = [override, ...extra, ...(env.PATH ?? '').split(':').map((d) => join(d, name))];
  const bin = candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
  if (!bin) {
    throw new UserError(`${name} is not installed`, {
      exitCode: EXIT.unavailable,
      hint: 'run `npm run deps` (it installs prometheus, promtool and prometheus-nats-exporter)',
    });
  }
  return bin;
}

export const findPrometheus = (env: NodeJS.ProcessEnv) =>
  findBinary('prometheus', env.DWK_PROMETHEUS, env, []);
export const findPromtool = (env: NodeJS.ProcessEnv) => findBinary('promtool', env.DWK_PROMTOOL, env, []);
export const findNatsExporter = (env: NodeJS.ProcessEnv) =>
  findBinary('prometheus-nats-exporter', env.DWK_NATS_EXPORTER, env, [
    join(
      cacheDir(env),
      'tools',
      `prometheus-nats-exporter-${NATS_EXPORTER_VERSION}`,
      'prometheus-nats-exporter',
    ),
  ]);

export function prometheusConfig(o: {
  targetsFile: string;
  exporterPort: number;
  scrapeInterval: string;
}): string {
  // JSON is YAML: no YAML writer needed for a config this small.
  return JSON.stringify(
    {
      global: { scrape_interval: o.scrapeInterval, evaluation_interval: o.scrapeInterval },
      scrape_configs: [
        {
          job_name: 'dwk-workloads',
          file_sd_configs: [{ files: [o.targetsFile], refresh_interval: '5s' }],
        },
        {
          job_name: 'nats',
          static_configs: [{ targets: [`127.0.0.1:${o.exporterPort}`] }],
        },
      ],
    },
    null,
    2,
  );
}

async function waitOk(url: string, child: ChildProcess, what: string, logFile: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${what} exited with code ${child.exitCode}; see ${logFile}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${what} did not answer ${url} within 30 s; see ${logFile}`);
}

function launch(bin: string, args: string[], logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  try {
    // Own process group, like the workloads: dwk stops it after they drain.
    return spawn(bin, args, { stdio: ['ignore', out, out], detached: true });
  } finally {
    closeSync(out);
  }
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function startLocalPrometheus(o: LocalPrometheusOptions): Promise<LocalPrometheus> {
  const prometheus = findPrometheus(o.env);
  const exporter = findNatsExporter(o.env);
  mkdirSync(join(o.dir, 'data'), { recursive: true });
  const targetsFile = join(o.dir, 'workloads.json');
  const configFile = join(o.dir, 'prometheus.yml');
  const exporterPort = await freePort();
  const port = await freePort();
  const children: ChildProcess[] = [];
  // Writes are chained: two at once would race on the temp file.
  let writing: Promise<void> = Promise.resolve();
  const setTargets = (targets: ScrapeTarget[]): Promise<void> => {
    const groups = targets.map((t) => ({
      targets: [`127.0.0.1:${t.port}`],
      labels: { instance: t.instance },
    }));
    const write = async () => {
      const tmp = `${targetsFile}.tmp`;
      await writeFile(tmp, JSON.stringify(groups));
      await rename(tmp, targetsFile);
    };
    writing = writing.then(write, write);
    return writing;
  };
  try {
    await setTargets([]);
    await writeFile(
      configFile,
      prometheusConfig({
        targetsFile,
        exporterPort,
        scrapeInterval: o.scrapeInterval ?? '5s',
      }),
    );
    const exporterLog = join(o.dir, 'prometheus-nats-exporter.log');
    const ex = launch(
      exporter,
      ['-a', '127.0.0.1', '-p', String(exporterPort), ...NATS_EXPORTER_ARGS, o.natsMonitorUrl],
      exporterLog,
    );
    children.push(ex);
    await waitOk(`http://127.0.0.1:${exporterPort}/metrics`, ex, 'prometheus-nats-exporter', exporterLog);
    const promLog = join(o.dir, 'prometheus.log');
    const prom = launch(
      prometheus,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(o.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1d',
      ],
      promLog,
    );
    children.push(prom);
    await waitOk(`http://127.0.0.1:${port}/-/ready`, prom, 'prometheus', promLog);
  } catch (err) {
    await Promise.all(children.map(stopChild));
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    exporterUrl: `http://127.0.0.1:${exporterPort}/metrics`,
    setTargets,
    pids: () => children.map((c) => c.pid).filter((p): p is number => p !== undefined),
    stop: async () => {
      await Promise.all(children.reverse().map(stopChild));
    },
  };
}

/**
 * Keeps Prometheus's workload targets in step with the supervisor: wraps its spawn function and
 * port allocator. The spawner asks for the port synchronously inside spawn(), which is how the
 * port is matched to the instance it was asked for.
 */
export function trackTargets(
  prom: Pick<LocalPrometheus, 'setTargets'>,
  allocate: () => Promise<number>,
  onError: (err: Error) => void,
) {
  const targets = new Map<string, ScrapeTarget>();
  let asking: SpawnRequest | undefined;
  const publish = () => void prom.setTargets([...targets.values()]).catch(onError);
  return {
    allocatePort: async (): Promise<number> => {
      const req = asking;
      const port = await allocate();
      if (req) {
        targets.set(req.instance, { instance: req.instance, component: req.component, port });
        publish();
      }
      return port;
    },
    wrap:
      (spawn: SpawnFn): SpawnFn =>
      (req, onExit) => {
        asking = req;
        try {
          return spawn(req, (exit) => {
            targets.delete(req.instance);
            publish();
            onExit(exit);
          });
        } finally {
          asking = undefined;
        }
      },
  };
}
