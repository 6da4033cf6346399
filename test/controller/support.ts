/** What the controller tests share: the cluster with the CRD applied, a controller per test, manifests. */
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
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
