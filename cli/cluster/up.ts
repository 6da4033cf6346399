/**
 * `dwk up` in a cluster: runs the plan step by step (NATS, CRD, controller, Pipeline, Ready),
 * says per step what changed, and on a failure what was done and what was not.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { API_VERSION, KIND, PLURAL } from '../../api/v1alpha1/pipeline.ts';
import type { PipelineStatus } from '../../api/v1alpha1/status.ts';
import { EXIT, UserError } from '../../lib/errors.ts';
import { isNotFound, type KubeClient, type KubeObject } from '../../lib/kube/client.ts';
import type { CliContext } from '../context.ts';
import { InterruptedError } from '../exit.ts';
import type { Output } from '../output.ts';
import type { Cluster } from './connect.ts';
import { Helm, helmCommandLine, releaseMatches, upgradeArgs, type HelmPlan } from './helm.ts';
import { stepsFor, type Step, type Steps } from './steps.ts';
import { describeObject, planObjects, type ControllerMode, type UpPlan } from './up-plan.ts';

export const FIELD_MANAGER = 'dwk';

export type ApplyResult = 'created' | 'configured' | 'unchanged';

/** Server-side apply, telling created, configured and unchanged apart by resourceVersion. */
export async function applyObject(client: KubeClient, obj: KubeObject): Promise<ApplyResult> {
  const ref = {
    apiVersion: obj.apiVersion ?? '',
    kind: obj.kind ?? '',
    namespace: obj.metadata?.namespace,
    name: obj.metadata?.name,
  };
  const before = await client.getOrUndefined(ref);
  const after = await client.apply(obj, FIELD_MANAGER);
  if (!before) return 'created';
  return before.metadata?.resourceVersion === after.metadata?.resourceVersion ? 'unchanged' : 'configured';
}

export function summarize(results: ApplyResult[]): string {
  const count = (r: ApplyResult) => results.filter((x) => x === r).length;
  const parts = (['created', 'configured', 'unchanged'] as const)
    .filter((r) => count(r) > 0)
    .map((r) => `${count(r)} ${r}`);
  return parts.join(', ') || 'nothing to apply';
}

export interface UpRun {
  plan: UpPlan;
  cluster: Cluster;
  controller: ControllerMode;
  helmBinary: string | undefined;
  childEnv: Record<string, string>;
  context: string | undefined;
  timeoutSeconds: number;
  wait: boolean;
}

/** --dry-run: every object and the helm command, on stdout; nothing is sent anywhere. */
export function printDryRun(plan: UpPlan, timeoutSeconds: number, out: Output): void {
  const docs: string[] = [];
  if (plan.helm) {
    docs.push(
      `# NATS: ${helmCommandLine(plan.helm, timeoutSeconds)} <<'EOF'\n` +
        stringify(plan.helm.values)
          .trimEnd()
          .split('\n')
          .map((l) => `#   ${l}`)
          .join('\n') +
        '\n# EOF\n',
    );
  } else {
    docs.push(`# NATS: ${plan.natsUrl ?? '(the URL in the Pipeline)'}; Helm is not used\n`);
  }
  for (const o of planObjects(plan)) docs.push(stringify(o, { lineWidth: 0 }));
  out.print(docs.join('---\n').trimEnd());
}

async function installNats(run: UpRun, helmPlan: HelmPlan, step: Step, deadline: number): Promise<boolean> {
  const helm = new Helm(run.helmBinary, run.childEnv, {
    kubeconfig: run.cluster.kubeconfigPath,
    ...(run.context ? { context: run.context } : {}),
  });
  const current = await helm.release(helmPlan.release, helmPlan.namespace);
  if (current && releaseMatches(helmPlan, current)) {
    step.done(`release ${helmPlan.release} (${current.chart}) unchanged`);
    return false;
  }
  step.update(`helm upgrade --install ${helmPlan.release} ${helmPlan.chart}`);
  const dir = await mkdtemp(join(tmpdir(), 'dwk-helm-values-'));
  try {
    const file = join(dir, 'values.yaml');
    await writeFile(file, stringify(helmPlan.values), { mode: 0o600 });
    const seconds = Math.max(1, (deadline - Date.now()) / 1000);
    await helm.run(upgradeArgs(helmPlan, file, seconds), seconds * 1000 + 15_000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const after = await helm.release(helmPlan.release, helmPlan.namespace);
  step.done(
    `release ${helmPlan.release} ${current ? 'upgraded' : 'installed'} (${after?.chart ?? helmPlan.chart}, revision ${after?.revision ?? '?'})`,
  );
  return true;
}

async function ensureNamespace(client: KubeClient, name: string): Promise<boolean> {
  const ref = { apiVersion: 'v1', kind: 'Namespace', name };
  if (await client.getOrUndefined(ref)) return false;
  await client.apply({ ...ref, metadata: { name } }, FIELD_MANAGER);
  return true;
}

async function waitEstablished(client: KubeClient, name: string, deadline: number): Promise<void> {
  for (;;) {
    const crd = await client.get<
      KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }
    >({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      name,
    });
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
    if (Date.now() > deadline) throw timeout(`the CRD ${name} to be established`);
    await sleep(200);
  }
  // A CRD just created is Established a moment before its REST path answers (a 404 page not
  // found): wait for the path too, or the Pipeline's apply would fail on a fresh cluster.
  for (;;) {
    try {
      await client.request('GET', `/apis/${API_VERSION}/${PLURAL}?limit=1`);
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (Date.now() > deadline) throw timeout(`the API server to serve ${API_VERSION} ${PLURAL}`);
    await sleep(200);
  }
}

const timeout = (what: string) =>
  new UserError(`timed out waiting for ${what}`, {
    exitCode: EXIT.timeout,
    hint: 'raise --timeout, or see kubectl get events',
  });

type PipelineObj = KubeObject & { status?: PipelineStatus };

/** Polls the Pipeline until Ready for its current generation; shows the Ready message meanwhile. */
export async function waitReady(
  client: KubeClient,
  ref: { namespace: string; name: string },
  step: Step,
  deadline: number,
  aborted: () => boolean,
): Promise<PipelineObj> {
  for (;;) {
    const p = await client.get<PipelineObj>({ apiVersion: API_VERSION, kind: KIND, ...ref });
    const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
    const current = p.status?.observedGeneration === p.metadata?.generation;
    if (current && ready?.status === 'True') return p;
    step.update(current && ready ? ready.message : 'waiting for the controller');
    if (aborted()) throw new InterruptedError('SIGINT');
    if (Date.now() > deadline) {
      throw new UserError(
        `timed out waiting for Pipeline ${ref.name} to be Ready: ${current && ready ? ready.message : 'the controller has not reconciled it'}`,
        {
          exitCode: EXIT.timeout,
          hint: `is the controller running? kubectl describe pipeline ${ref.name} -n ${ref.namespace}`,
        },
      );
    }
    await sleep(500);
  }
}

export interface UpOutcome {
  changed: boolean;
  /** Stops the in-process controller (--controller local). */
  stopController?: () => Promise<void>;
}

/** Runs every step; on failure reports what was and was not done, and rethrows. */
export async function upCluster(run: UpRun, ctx: CliContext, out: Output): Promise<UpOutcome> {
  const { plan, cluster } = run;
  const deadline = Date.now() + run.timeoutSeconds * 1000;
  const todo = [
    'NATS',
    'Pipeline CRD',
    run.controller === 'cluster'
      ? 'controller'
      : run.controller === 'local'
        ? 'controller (in this process)'
        : undefined,
    `Pipeline ${plan.pipeline.metadata?.name ?? ''}`,
    run.wait ? 'Ready' : undefined,
  ].filter((t): t is string => t !== undefined);
  const steps: Steps = await stepsFor(out);
  let signal: string | undefined;
  const off = ctx.onStopSignal((s) => (signal = s));
  let changed = false;
  let stopController: (() => Promise<void>) | undefined;
  let current: Step | undefined;
  const begin = (title: string) => (current = steps.start(title));
  try {
    const [natsTitle, crdTitle, ...rest] = todo;
    const s1 = begin(natsTitle ?? 'NATS');
    if (plan.helm) changed = (await installNats(run, plan.helm, s1, deadline)) || changed;
    else s1.done(`using ${plan.natsUrl ?? 'the URL in the Pipeline'}; Helm not used`);

    const s2 = begin(crdTitle ?? 'Pipeline CRD');
    const crd = await applyObject(cluster.client, plan.crd);
    await waitEstablished(cluster.client, plan.crd.metadata?.name ?? '', deadline);
    changed ||= crd !== 'unchanged';
    s2.done(`${plan.crd.metadata?.name ?? ''} ${crd}`);

    if (run.controller !== 'none') {
      const s3 = begin(rest.shift() ?? 'controller');
      if (run.controller === 'cluster') {
        const results: ApplyResult[] = [];
        for (const o of plan.controller) results.push(await applyObject(cluster.client, o));
        changed ||= results.some((r) => r !== 'unchanged');
        s3.done(`${plan.controller.length} objects: ${summarize(results)}`);
      } else {
        stopController = await startLocalController(run, out);
        s3.done('running, watching namespace ' + cluster.namespace);
      }
    }

    const s4 = begin(rest.shift() ?? 'Pipeline');
    const createdNs = await ensureNamespace(cluster.client, cluster.namespace);
    const p = await applyObject(cluster.client, plan.pipeline);
    changed ||= p !== 'unchanged' || createdNs;
    s4.done(
      `${describeObject(plan.pipeline)} ${p}${createdNs ? ` (namespace ${cluster.namespace} created)` : ''}`,
    );

    if (run.wait) {
      const s5 = begin(rest.shift() ?? 'Ready');
      const ready = await waitReady(
        cluster.client,
        { namespace: cluster.namespace, name: plan.pipeline.metadata?.name ?? '' },
        s5,
        deadline,
        () => signal !== undefined,
      );
      s5.done(ready.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? 'Ready');
    }
    current = undefined;
  } catch (err) {
    current?.fail(err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err));
    await steps.close();
    off();
    await stopController?.();
    const done = steps.finished;
    const notDone = todo.filter((t) => !done.includes(t));
    out.info(`done: ${done.join(', ') || 'nothing'}`);
    out.info(`not done: ${notDone.join(', ')}`);
    throw err;
  }
  await steps.close();
  off();
  return { changed, ...(stopController ? { stopController } : {}) };
}

async function startLocalController(run: UpRun, out: Output): Promise<() => Promise<void>> {
  const [{ readControllerConfig }, { runController }, { createLogger }] = await Promise.all([
    import('../../controller/config.ts'),
    import('../../controller/run.ts'),
    import('../../lib/log.ts'),
  ]);
  const config = readControllerConfig({
    KUBECONFIG: run.cluster.kubeconfigPath,
    DWK_CONTEXT: run.context,
    DWK_WATCH_NAMESPACE: run.cluster.namespace,
    DWK_LEADER_ELECT: 'false',
    DWK_HTTP_PORT: '0',
    DWK_HTTP_HOST: '127.0.0.1',
  });
  const stop = new AbortController();
  // Its JSON logs would bury the steps: only warnings, on stderr.
  const running = await runController(
    config,
    stop.signal,
    createLogger({
      level: 'warn',
      base: { component: 'controller' },
      destination: out.stderr as NodeJS.WritableStream,
    }),
  );
  return async () => {
    stop.abort();
    await running.done;
  };
}
