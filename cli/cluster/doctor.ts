/** `dwk doctor`: checks what dwk needs in a cluster, one line each, with a fix for each failure. */
import type { V1LabelSelector } from '@kubernetes/client-node';
import { describeSelector } from '../../controller/plan/selector.ts';
import { execa } from 'execa';
import { GROUP, VERSION } from '../../api/v1alpha1/pipeline.ts';
import type { KubeObject } from '../../lib/kube/client.ts';
import { CONTROLLER_NAME } from '../../controller/manifests.ts';
import type { Output } from '../output.ts';
import { connectCluster, serverVersion, type Cluster, type ClusterFlags } from './connect.ts';

export type CheckState = 'ok' | 'fail' | 'info';

export interface Check {
  name: string;
  state: CheckState;
  detail: string;
  fix?: string;
}

export interface DoctorInput {
  flags: ClusterFlags;
  env: Readonly<Record<string, string | undefined>>;
  helm: string | undefined;
  controllerNamespace: string;
  natsUrl: string | undefined;
  now: () => number;
}

const fail = (name: string, detail: string, fix: string): Check => ({ name, state: 'fail', detail, fix });
const ok = (name: string, detail: string): Check => ({ name, state: 'ok', detail });
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function helmCheck(helm: string | undefined): Promise<Check> {
  if (!helm)
    return fail(
      'helm',
      'not found on PATH',
      'install helm (https://helm.sh/docs/intro/install/), or use dwk up --nats-url',
    );
  const r = await execa(helm, ['version', '--short'], { reject: false, timeout: 10_000 });
  return r.exitCode === 0
    ? ok('helm', `${r.stdout.trim()} (${helm})`)
    : fail('helm', `${helm} does not run: ${r.stderr}`, 'reinstall helm');
}

async function crdCheck(c: Cluster): Promise<Check> {
  const crd = await c.client.getOrUndefined<
    KubeObject & { spec?: { versions?: Array<{ name: string; served: boolean; storage: boolean }> } }
  >({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    name: `pipelines.${GROUP}`,
  });
  if (!crd)
    return fail(
      'Pipeline CRD',
      `pipelines.${GROUP} is not installed`,
      'dwk up, or: dwk manifests | kubectl apply --server-side -f -',
    );
  const served = (crd.spec?.versions ?? []).filter((v) => v.served).map((v) => v.name);
  return served.includes(VERSION)
    ? ok('Pipeline CRD', `pipelines.${GROUP} serves ${served.join(', ')}`)
    : fail('Pipeline CRD', `serves ${served.join(', ') || 'nothing'}, not ${VERSION}`, 'upgrade it: dwk up');
}

async function controllerChecks(c: Cluster, ns: string, now: number): Promise<Check[]> {
  const d = await c.client.getOrUndefined<
    KubeObject & { spec?: { replicas?: number }; status?: { readyReplicas?: number } }
  >({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: ns,
    name: CONTROLLER_NAME,
  });
  const checks: Check[] = [];
  if (!d) {
    checks.push(
      fail(
        'controller',
        `no Deployment ${CONTROLLER_NAME} in namespace ${ns}`,
        'dwk up (or run one here: dwk controller); --controller-namespace if it lives elsewhere',
      ),
    );
  } else {
    const ready = d.status?.readyReplicas ?? 0;
    checks.push(
      ready > 0
        ? ok('controller', `${ready}/${d.spec?.replicas ?? 0} replicas ready in ${ns}`)
        : fail(
            'controller',
            `0/${d.spec?.replicas ?? 0} replicas ready in ${ns}`,
            `kubectl describe deployment ${CONTROLLER_NAME} -n ${ns}`,
          ),
    );
  }
  const lease = await c.client.getOrUndefined<
    KubeObject & { spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } }
  >({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    namespace: ns,
    name: CONTROLLER_NAME,
  });
  const holder = lease?.spec?.holderIdentity;
  const renewed = lease?.spec?.renewTime ? Date.parse(lease.spec.renewTime) : NaN;
  const fresh = now - renewed < (lease?.spec?.leaseDurationSeconds ?? 15) * 2000;
  checks.push(
    holder && fresh
      ? ok('controller leader', `${holder}, renewed ${Math.round((now - renewed) / 1000)} s ago`)
      : fail(
          'controller leader',
          holder ? `${holder} stopped renewing the Lease` : `no leader (Lease ${ns}/${CONTROLLER_NAME})`,
          `kubectl logs -n ${ns} deployment/${CONTROLLER_NAME}`,
        ),
  );
  return checks;
}

async function natsCheck(c: Cluster, url: string | undefined): Promise<Check> {
  if (url) {
    const { connectNats } = await import('../../lib/nats/connect.ts');
    try {
      const nc = await connectNats({ servers: url, name: 'dwk-doctor', timeoutMs: 3000 });
      try {
        const { jetstreamManager } = await import('@nats-io/jetstream');
        const jsm = await jetstreamManager(nc);
        const info = await jsm.getAccountInfo();
        return ok('NATS', `${url} reachable, JetStream on (${info.streams} streams)`);
      } catch (err) {
        return fail(
          'NATS',
          `${url} reachable, JetStream not available: ${messageOf(err)}`,
          'enable JetStream (the official chart: config.jetstream.enabled=true)',
        );
      } finally {
        await nc.close();
      }
    } catch (err) {
      return fail(
        'NATS',
        messageOf(err),
        'check the URL; in a cluster: kubectl port-forward svc/nats 4222 and --nats-url nats://127.0.0.1:4222',
      );
    }
  }
  const svc = await c.client.getOrUndefined<KubeObject & { spec?: { ports?: Array<{ port: number }> } }>({
    apiVersion: 'v1',
    kind: 'Service',
    namespace: c.namespace,
    name: 'nats',
  });
  return svc
    ? ok(
        'NATS',
        `Service nats in ${c.namespace} (ports ${(svc.spec?.ports ?? []).map((p) => p.port).join(', ')}); pass --nats-url to check JetStream`,
      )
    : fail(
        'NATS',
        `no Service nats in namespace ${c.namespace}`,
        'dwk up installs it with Helm; or pass --nats-url to check another NATS',
      );
}

async function prometheusCheck(c: Cluster): Promise<Check> {
  if (!(await c.client.serves('monitoring.coreos.com/v1', 'Prometheus'))) {
    return {
      name: 'Prometheus operator',
      state: 'info',
      detail: 'not installed: no ServiceMonitors (dwk works without it)',
      fix: 'helm install kube-prometheus-stack for metrics',
    };
  }
  type Selector = V1LabelSelector | null | undefined;
  const list = await c.client.request<{
    items: Array<
      KubeObject & { spec?: { serviceMonitorSelector?: Selector; podMonitorSelector?: Selector } }
    >;
  }>('GET', '/apis/monitoring.coreos.com/v1/prometheuses');
  if (list.items.length === 0)
    return fail(
      'Prometheus operator',
      'installed, but no Prometheus resource',
      'create one, e.g. with kube-prometheus-stack',
    );
  // Unset selects nothing, {} everything: the Prometheus operator's rule.
  const wants = (what: string, s: Selector) =>
    s ? `${what} with ${describeSelector(s)}` : `no ${what} (selector unset)`;
  const selects = list.items.map(
    (p) =>
      `${p.metadata?.namespace}/${p.metadata?.name} selects ${wants('ServiceMonitors', p.spec?.serviceMonitorSelector)} and ${wants('PodMonitors', p.spec?.podMonitorSelector)}`,
  );
  return ok('Prometheus operator', selects.join('; '));
}

export async function runDoctor(i: DoctorInput): Promise<Check[]> {
  const checks: Check[] = [];
  let cluster: Cluster;
  try {
    cluster = connectCluster(i.flags, i.env);
    const version = await serverVersion(cluster);
    const kc = cluster.client.kc;
    checks.push(
      ok(
        'kube context',
        `${kc.getCurrentContext()} (${cluster.client.server}), namespace ${cluster.namespace}`,
      ),
    );
    checks.push(ok('server version', version));
  } catch (err) {
    checks.push(
      fail(
        'kube context',
        messageOf(err),
        (err as { hint?: string }).hint ??
          'check --kubeconfig, --context and that the cluster runs: kubectl cluster-info',
      ),
    );
    checks.push(await helmCheck(i.helm));
    return checks;
  }
  checks.push(await helmCheck(i.helm));
  const guarded = async (name: string, f: () => Promise<Check | Check[]>) => {
    try {
      checks.push(...[await f()].flat());
    } catch (err) {
      checks.push(fail(name, messageOf(err), 'see the error; kubectl auth can-i may tell what is missing'));
    }
  };
  await guarded('Pipeline CRD', () => crdCheck(cluster));
  await guarded('controller', () => controllerChecks(cluster, i.controllerNamespace, i.now()));
  await guarded('NATS', () => natsCheck(cluster, i.natsUrl));
  await guarded('Prometheus operator', () => prometheusCheck(cluster));
  return checks;
}

export function printChecks(checks: Check[], out: Output): void {
  for (const c of checks) {
    const mark =
      c.state === 'ok'
        ? out.paint('green', '✓')
        : c.state === 'fail'
          ? out.paint('red', '✗')
          : out.paint('dim', '-');
    out.print(`${mark} ${c.name}: ${c.detail}`);
    if (c.state === 'fail' && c.fix) out.print(`    fix: ${c.fix}`);
  }
}
