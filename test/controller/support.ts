/** What the controller tests share: the cluster with the CRD applied, a controller per test, manifests. */
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import type { PipelineStatus } from '../../api/v1alpha1/status.ts';
import { readControllerConfig } from '../../controller/config.ts';
import { runController } from '../../controller/run.ts';
import { KubeClient, type KubeObject } from '../../lib/kube/client.ts';
import { createLogger } from '../../lib/log.ts';
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
export async function controller(t: TestContext, namespace: string, env: Record<string, string> = {}) {
  const stop = new AbortController();
  const config = readControllerConfig({
    KUBECONFIG: cluster.kubeconfigPath,
    DWK_WATCH_NAMESPACE: namespace,
    DWK_LEADER_ELECT: 'false',
    DWK_HTTP_PORT: '0',
    DWK_HTTP_HOST: '127.0.0.1',
    ...env,
  });
  const running = await runController(config, stop.signal, createLogger({ level: 'warn' }));
  t.after(async () => {
    stop.abort();
    await running.done;
  });
  return running;
}

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
