/**
 * NATS through Helm: which chart and values (a pure plan), and the helm binary run with the
 * cluster's kubeconfig. helm missing and a chart that cannot be fetched are errors with a fix.
 */
import { isDeepStrictEqual } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { EXIT, UserError } from '../../lib/errors.ts';

export const OFFICIAL_REPO = 'https://nats-io.github.io/k8s/helm/charts/';
export const BITNAMI_CHART = 'oci://registry-1.docker.io/bitnamicharts/nats';

type Values = Record<string, unknown>;

/** JetStream, monitoring and the Prometheus exporter on, in the official chart's words. */
export const OFFICIAL_VALUES: Values = {
  config: { jetstream: { enabled: true }, monitor: { enabled: true } },
  promExporter: { enabled: true },
};
/** The course's chart: no auth, metrics on (and JetStream, which the pipeline needs). */
export const BITNAMI_VALUES: Values = {
  auth: { enabled: false },
  metrics: { enabled: true },
  jetstream: { enabled: true },
};

export interface NatsChartOptions {
  /** `official` (default), `bitnami`, a chart directory or .tgz, or an oci:// reference. */
  chart?: string;
  /** Repository of the official chart (tests point it elsewhere). */
  repo?: string;
  version?: string;
  /** Values from --nats-values, merged over dwk's. */
  values?: Values;
  release: string;
  namespace: string;
}

export interface HelmPlan {
  release: string;
  namespace: string;
  /** What goes after the release name: a chart name with --repo, a path or an oci:// reference. */
  chart: string;
  repo?: string;
  version?: string;
  values: Values;
  /** `<name>-<version>` as `helm list` shows it, when known before installing (local charts). */
  expectedChart?: string;
  /** Name of the chart, for recognising the release. */
  chartName: string;
}

export function deepMerge(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

const isObject = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

const isLocalChart = (chart: string) =>
  chart.startsWith('.') || chart.startsWith('/') || chart.endsWith('.tgz') || chart.includes('/');

/** Pure but for reading a local chart's Chart.yaml. */
export function natsChartPlan(o: NatsChartOptions, cwd: string): HelmPlan {
  const chart = o.chart ?? 'official';
  const common = { release: o.release, namespace: o.namespace, ...(o.version ? { version: o.version } : {}) };
  if (chart === 'official' || chart === 'nats') {
    return {
      ...common,
      chart: 'nats',
      repo: o.repo ?? OFFICIAL_REPO,
      chartName: 'nats',
      values: deepMerge(OFFICIAL_VALUES, o.values ?? {}),
    };
  }
  if (chart === 'bitnami') {
    return {
      ...common,
      chart: BITNAMI_CHART,
      chartName: 'nats',
      values: deepMerge(BITNAMI_VALUES, o.values ?? {}),
    };
  }
  if (chart.startsWith('oci://')) {
    return {
      ...common,
      chart,
      chartName: chart.split('/').pop() ?? 'nats',
      values: deepMerge(OFFICIAL_VALUES, o.values ?? {}),
    };
  }
  if (!isLocalChart(chart)) {
    throw new UserError(`unknown NATS chart "${chart}"`, {
      hint: 'use --nats-chart official, bitnami, a chart directory or .tgz, or an oci:// reference',
    });
  }
  const dir = resolve(cwd, chart);
  if (!existsSync(dir)) {
    throw new UserError(`--nats-chart ${chart}: no such chart directory or file`, {
      hint: 'leave --nats-chart out for the official NATS chart',
    });
  }
  let meta: { name?: string; version?: string } = {};
  if (existsSync(resolve(dir, 'Chart.yaml'))) {
    meta = parse(readFileSync(resolve(dir, 'Chart.yaml'), 'utf8')) as typeof meta;
  }
  return {
    ...common,
    chart: dir,
    chartName: meta.name ?? 'nats',
    ...(meta.name && meta.version ? { expectedChart: `${meta.name}-${meta.version}` } : {}),
    values: deepMerge(OFFICIAL_VALUES, o.values ?? {}),
  };
}

export interface KubeTarget {
  kubeconfig: string;
  context?: string;
}

/** The arguments of `helm upgrade --install`, values from `valuesFile`. */
export function upgradeArgs(plan: HelmPlan, valuesFile: string, timeoutSeconds: number): string[] {
  return [
    'upgrade',
    '--install',
    plan.release,
    plan.chart,
    ...(plan.repo ? ['--repo', plan.repo] : []),
    ...(plan.version ? ['--version', plan.version] : []),
    '--namespace',
    plan.namespace,
    '--create-namespace',
    '--values',
    valuesFile,
    '--wait',
    '--timeout',
    `${Math.max(1, Math.round(timeoutSeconds))}s`,
  ];
}

export interface Release {
  name: string;
  status: string;
  chart: string;
  revision: number;
}

// Lines of helm's errors that mean the chart could not be fetched, not that installing failed.
const UNREACHABLE =
  /is not a valid chart repository|could not be reached|failed to fetch|connection refused|no such host|dial tcp|i\/o timeout|failed to do request|chart ".*" not found|not found in .* repository|unable to locate|repo .* not found/i;

export class Helm {
  readonly binary: string;
  private readonly env: Record<string, string>;
  private readonly kube: KubeTarget;

  constructor(binary: string | undefined, env: Record<string, string>, kube: KubeTarget) {
    if (!binary) {
      throw new UserError('helm is not installed: it is not on PATH', {
        exitCode: EXIT.unavailable,
        hint: 'install helm (https://helm.sh/docs/intro/install/) or set DWK_HELM to its path; or pass --nats-url to use an existing NATS without Helm',
      });
    }
    this.binary = binary;
    this.env = env;
    this.kube = kube;
  }

  private kubeArgs(): string[] {
    return [
      '--kubeconfig',
      this.kube.kubeconfig,
      ...(this.kube.context ? ['--kube-context', this.kube.context] : []),
    ];
  }

  async run(args: string[], timeoutMs: number): Promise<string> {
    const r = await execa(this.binary, [...args, ...this.kubeArgs()], {
      env: this.env,
      extendEnv: false,
      reject: false,
      timeout: timeoutMs,
    });
    if (r.exitCode === 0) return r.stdout;
    const said = (r.stderr || r.stdout || `exit code ${r.exitCode ?? r.signal ?? '?'}`).trim();
    const first = said.split('\n').find((l) => l.trim()) ?? said;
    if (r.timedOut) {
      throw new UserError(`helm ${args[0]} did not finish within ${Math.round(timeoutMs / 1000)} s`, {
        exitCode: EXIT.timeout,
      });
    }
    if (UNREACHABLE.test(said)) {
      throw new UserError(`the NATS chart cannot be fetched: ${first.replace(/^Error: /, '')}`, {
        exitCode: EXIT.unavailable,
        hint: 'check access to the chart repository; or pass --nats-chart <dir|.tgz> for a chart on disk, or --nats-url for an existing NATS',
      });
    }
    throw new UserError(`helm ${args.slice(0, 2).join(' ')} failed: ${said.replace(/^Error: /, '')}`, {
      exitCode: EXIT.failure,
    });
  }

  async release(name: string, namespace: string): Promise<(Release & { values: Values }) | undefined> {
    const list = JSON.parse(
      await this.run(['list', '--namespace', namespace, '--filter', `^${name}$`, '--output', 'json'], 60_000),
    ) as Array<{ name: string; status: string; chart: string; revision: string }>;
    const r = list.find((x) => x.name === name);
    if (!r) return undefined;
    const values = JSON.parse(
      await this.run(['get', 'values', name, '--namespace', namespace, '--output', 'json'], 60_000),
    ) as Values | null;
    return {
      name: r.name,
      status: r.status,
      chart: r.chart,
      revision: Number(r.revision),
      values: values ?? {},
    };
  }

  uninstall(name: string, namespace: string, timeoutSeconds: number): Promise<string> {
    return this.run(
      ['uninstall', name, '--namespace', namespace, '--wait', '--timeout', `${timeoutSeconds}s`],
      timeoutSeconds * 1000 + 10_000,
    );
  }
}

/** Whether the installed release already is what the plan asks for: then `dwk up` leaves it. */
export function releaseMatches(plan: HelmPlan, r: Release & { values: Values }): boolean {
  if (r.status !== 'deployed') return false;
  if (plan.expectedChart ? r.chart !== plan.expectedChart : !r.chart.startsWith(`${plan.chartName}-`))
    return false;
  if (plan.version && !r.chart.endsWith(`-${plan.version}`)) return false;
  return isDeepStrictEqual(r.values, plan.values);
}

/** The helm command line for people (--dry-run): the values come on stdin (`--values -`). */
export function helmCommandLine(plan: HelmPlan, timeoutSeconds: number): string {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
  return ['helm', ...upgradeArgs(plan, '-', timeoutSeconds)].map(quote).join(' ');
}
