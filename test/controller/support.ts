/** What the controller tests share: the cluster with the CRD applied, a controller per test, manifests. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { KubeConfig, type V1Deployment, type V1PolicyRule as PolicyRule } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { controllerManifests, CONTROLLER_NAME } from '../../controller/manifests.ts';
import type { PipelineStatus } from '../../api/v1alpha1/status.ts';
import { KubeClient, type KubeObject } from '../../lib/kube/client.ts';
import { startController } from '../support/controller.ts';
import { testCluster } from '../testbed/support.ts';

export const cluster = await testCluster();
export const client = KubeClient.fromKubeconfig(cluster.kubeconfigPath);
export const fixture = (p: string) => fileURLToPath(new URL(p, import.meta.url));

await cluster.kubectl([
  'apply',
  '--server-side',
  '--force-conflicts',
  '-f',
  fixture('../../crds/pipeline.yaml'),
]);
await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd/pipelines.dwk.dev']);

/** Starts a controller that watches only `namespace`; stopped after the test. */
export const controller = (t: TestContext, namespace: string, env: Record<string, string> = {}) =>
  startController(t, cluster.kubeconfigPath, namespace, env);

/** A Pipeline manifest whose NATS is unreachable unless the spec says otherwise. */
export function manifest(name: string, spec: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'dwk.dev/v1alpha1',
    kind: 'Pipeline',
    metadata: { name },
    spec: { nats: { url: 'nats://nats.invalid:4222' }, saver: { sink: { type: 'log' } }, ...spec },
  });
}

export const apply = (ns: string, body: string) =>
  cluster.kubectl(['apply', '-n', ns, '-f', '-'], { input: body });

export const pipeline = (ns: string, name: string) =>
  client.get<KubeObject & { spec?: unknown; status?: PipelineStatus }>({
    apiVersion: 'dwk.dev/v1alpha1',
    kind: 'Pipeline',
    namespace: ns,
    name,
  });

export const deployment = (ns: string, name: string) =>
  client.getOrUndefined<V1Deployment & KubeObject>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: ns,
    name,
  });

export const replicasOf = async (ns: string, name: string) => (await deployment(ns, name))?.spec?.replicas;

/**
 * The controller's ServiceAccount, ClusterRole, Role and bindings from controllerManifests(), in
 * `ns`. The cluster-scoped ones are shared by the run, so they are named after the namespace here
 * (the production names stay as they are) and deleted after the test. `editRules` takes rights away.
 */
export async function installControllerRbac(
  t: TestContext,
  ns: string,
  editRules: (rules: PolicyRule[]) => PolicyRule[] = (rules) => rules,
): Promise<void> {
  const unique = `${CONTROLLER_NAME}-${ns}`;
  const docs = controllerManifests({ namespace: ns }).filter((m) => m.kind !== 'Deployment');
  for (const d of docs) {
    if (d.kind === 'ClusterRole') d.rules = editRules(d.rules as PolicyRule[]);
    if (d.kind === 'ClusterRole' || d.kind === 'ClusterRoleBinding')
      (d.metadata as { name: string }).name = unique;
    if (d.kind === 'ClusterRoleBinding') (d.roleRef as { name: string }).name = unique;
  }
  t.after(async () => {
    await cluster.kubectl(['delete', 'clusterrole,clusterrolebinding', unique, '--ignore-not-found']);
  });
  await cluster.kubectl(['apply', '-f', '-'], { input: docs.map((d) => stringify(d)).join('---\n') });
}

/** A kubeconfig for the test bed's API server that authenticates as the controller's ServiceAccount. */
export async function serviceAccountKubeconfig(ns: string, dir: string): Promise<string> {
  const token = (
    await cluster.kubectl(['create', 'token', CONTROLLER_NAME, '-n', ns, '--duration=1h'])
  ).stdout.trim();
  const admin = new KubeConfig();
  admin.loadFromFile(cluster.kubeconfigPath);
  const server = admin.getCurrentCluster();
  assert.ok(server, 'the test bed kubeconfig names a cluster');
  const ca = server.caData ?? readFileSync(server.caFile ?? '').toString('base64');
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'testbed', cluster: { server: server.server, 'certificate-authority-data': ca } }],
      users: [{ name: CONTROLLER_NAME, user: { token } }],
      contexts: [{ name: 'controller', context: { cluster: 'testbed', user: CONTROLLER_NAME } }],
      'current-context': 'controller',
    }),
    { mode: 0o600 },
  );
  return path;
}

/**
 * The Prometheus operator's CRDs (ServiceMonitor, PodMonitor, Prometheus), cluster-wide and kept
 * once installed: a test that needs them absent must run before any that installs them.
 */
export async function installMonitoringCrds(): Promise<void> {
  await cluster.kubectl(['apply', '--server-side', '-f', fixture('../fixtures/crds/monitoring-coreos.yaml')]);
  await cluster.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=30s',
    'crd/servicemonitors.monitoring.coreos.com',
    'crd/prometheuses.monitoring.coreos.com',
    'crd/podmonitors.monitoring.coreos.com',
  ]);
}

/**
 * The real controller as a process, as in its Pod (leader election on, metrics on a free port),
 * SIGKILLed after the test whatever happened.
 */
export function controllerProcess(
  t: TestContext,
  o: { kubeconfig: string; watch: string; lease: string; name: string },
): ChildProcessByStdio<null, Readable, Readable> {
  const child = spawn(process.execPath, [fixture('../../controller/main.ts')], {
    env: {
      PATH: process.env.PATH,
      KUBECONFIG: o.kubeconfig,
      DWK_WATCH_NAMESPACE: o.watch,
      DWK_LEASE_NAMESPACE: o.lease,
      POD_NAME: o.name,
      DWK_HTTP_PORT: '0',
      DWK_HTTP_HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    child.kill('SIGKILL');
  });
  return child;
}
