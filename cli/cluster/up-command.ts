/** `dwk up` without --local: checks every input first, then plans and runs (or prints, with --dry-run). */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { EXIT, UserError } from '../../lib/errors.ts';
import { suggest } from '../args.ts';
import type { ClusterUpOptions } from '../commands/up.ts';
import { BUNDLED_EXAMPLE } from '../config.ts';
import type { CliContext } from '../context.ts';
import { InterruptedError } from '../exit.ts';
import { loadManifestDocument } from '../manifest.ts';
import type { Output } from '../output.ts';
import { connectCluster, serverVersion, type ClusterFlags } from './connect.ts';
import { natsChartPlan } from './helm.ts';
import { CONTROLLER_MODES, planUp, type ControllerMode } from './up-plan.ts';
import { printDryRun, upCluster } from './up.ts';

export function parseSeconds(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new UserError(
      `${flag} must be a whole number of seconds, at least 1 (got ${JSON.stringify(value)})`,
    );
  }
  return n;
}

function parseControllerMode(value: string): ControllerMode {
  if ((CONTROLLER_MODES as readonly string[]).includes(value)) return value as ControllerMode;
  const guess = suggest(value, CONTROLLER_MODES);
  throw new UserError(`unknown --controller "${value}"${guess ? `; did you mean "${guess}"?` : ''}`, {
    hint: 'cluster (a Deployment), local (in this process) or none (one runs already)',
  });
}

async function readValues(file: string, cwd: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(resolve(cwd, file), 'utf8');
  } catch (cause) {
    throw new UserError(
      `--nats-values ${file}: cannot read it (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`,
      {
        cause,
      },
    );
  }
  let values: unknown;
  try {
    values = parse(text);
  } catch (cause) {
    throw new UserError(`--nats-values ${file}: not valid YAML: ${(cause as Error).message}`, { cause });
  }
  if (values === null || values === undefined) return {};
  if (typeof values !== 'object' || Array.isArray(values)) {
    throw new UserError(`--nats-values ${file}: must be a map of Helm values`);
  }
  return values as Record<string, unknown>;
}

export async function upInCluster(
  opts: ClusterUpOptions,
  flags: ClusterFlags,
  ctx: CliContext,
  out: Output,
): Promise<void> {
  // Everything a person typed is checked before anything is looked up or changed.
  const timeoutSeconds = parseSeconds('--timeout', opts.timeout);
  const controller = parseControllerMode(opts.controller);
  if (opts.dataDir || opts.exitWhenDone || opts.fresh) {
    throw new UserError('--data-dir, --exit-when-done and --fresh are for local mode', {
      hint: 'add --local',
    });
  }
  const values = opts.natsValues ? await readValues(opts.natsValues, ctx.cwd) : undefined;
  const { document } = await loadManifestDocument(opts.file ?? BUNDLED_EXAMPLE, ctx.cwd);
  const cluster = connectCluster(flags, ctx.config.env);
  const helm =
    opts.natsUrl === undefined
      ? natsChartPlan(
          {
            chart: opts.natsChart,
            ...(opts.natsRepo ? { repo: opts.natsRepo } : {}),
            ...(opts.natsVersion ? { version: opts.natsVersion } : {}),
            ...(values ? { values } : {}),
            release: opts.natsRelease,
            namespace: cluster.namespace,
          },
          ctx.cwd,
        )
      : undefined;
  const plan = planUp({
    document,
    namespace: cluster.namespace,
    ...(helm ? { helm } : {}),
    ...(opts.natsUrl !== undefined ? { natsUrl: opts.natsUrl } : {}),
    controller,
    controllerNamespace: opts.controllerNamespace,
    ...(opts.image !== undefined ? { image: opts.image } : {}),
  });
  if (opts.dryRun) {
    printDryRun(plan, timeoutSeconds, out);
    return;
  }
  if (helm && !ctx.config.helm) {
    // Found before anything changes, not after the CRD is in.
    throw new UserError('helm is not installed: it is not on PATH', {
      exitCode: EXIT.unavailable,
      hint: 'install helm (https://helm.sh/docs/intro/install/) or set DWK_HELM to its path; or pass --nats-url to use an existing NATS without Helm',
    });
  }
  await serverVersion(cluster);
  const name = plan.pipeline.metadata?.name ?? '';
  const outcome = await upCluster(
    {
      plan,
      cluster,
      controller,
      helmBinary: ctx.config.helm,
      childEnv: ctx.config.childEnv,
      context: flags.context,
      timeoutSeconds,
      wait: opts.wait,
    },
    ctx,
    out,
  );
  out.print(
    outcome.changed
      ? `Pipeline ${name} is up in namespace ${cluster.namespace}`
      : `Pipeline ${name} is up in namespace ${cluster.namespace}; nothing changed`,
  );
  if (!outcome.stopController) return;
  out.info('the controller runs in this process: Ctrl-C stops it (the Pipeline stays)');
  const signal = await new Promise<string>((done) => {
    const off = ctx.onStopSignal((s) => {
      off();
      done(s);
    });
  });
  await outcome.stopController();
  throw new InterruptedError(signal);
}
