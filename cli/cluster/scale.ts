/** `dwk scale` in a cluster: changes the Pipeline's spec (never the Deployment) and lets the controller act. */
import { setTimeout as sleep } from 'node:timers/promises';
import { API_VERSION, KIND, type Component } from '../../api/v1alpha1/pipeline.ts';
import { EXIT, UserError } from '../../lib/errors.ts';
import type { KubeObject } from '../../lib/kube/client.ts';
import type { Output } from '../output.ts';
import { connectCluster, type ClusterFlags } from './connect.ts';
import { findPipeline } from './pipelines.ts';

export interface ScaleRequest {
  component: Component;
  replicas: number;
  pipeline: string | undefined;
  wait: boolean;
  timeoutSeconds: number;
}

export async function scaleCluster(
  req: ScaleRequest,
  flags: ClusterFlags,
  env: Readonly<Record<string, string | undefined>>,
  out: Output,
): Promise<void> {
  const cluster = connectCluster(flags, env);
  const p = await findPipeline(cluster, req.pipeline);
  const name = p.metadata?.name ?? '';
  const section = p.spec[req.component] as { replicas?: number } | undefined;
  if (req.component === 'broadcaster' && section === undefined) {
    throw new UserError(`Pipeline ${name} has no broadcaster to scale`, {
      hint: 'add spec.broadcaster to the Pipeline first',
    });
  }
  const before = section?.replicas ?? (req.component === 'mapper' ? 3 : 1);
  await cluster.client.mergePatch(
    { apiVersion: API_VERSION, kind: KIND, namespace: cluster.namespace, name },
    { spec: { [req.component]: { replicas: req.replicas } } },
  );
  out.print(`${req.component}: ${before} → ${req.replicas}`);
  if (!req.wait) return;
  const deadline = Date.now() + req.timeoutSeconds * 1000;
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: cluster.namespace,
    name: `${name}-${req.component}`,
  };
  for (;;) {
    const d = await cluster.client.getOrUndefined<
      KubeObject & { spec?: { replicas?: number }; status?: { readyReplicas?: number; replicas?: number } }
    >(deployment);
    if (
      d?.spec?.replicas === req.replicas &&
      (d.status?.readyReplicas ?? 0) === req.replicas &&
      (d.status?.replicas ?? 0) === req.replicas
    ) {
      out.info(`${req.component}: ${req.replicas}/${req.replicas} ready`);
      return;
    }
    if (Date.now() > deadline) {
      throw new UserError(
        `timed out after ${req.timeoutSeconds} s waiting for ${req.replicas} ready ${req.component} replicas`,
        {
          exitCode: EXIT.timeout,
          hint: `is the controller running? see: kubectl describe pipeline ${name} -n ${cluster.namespace}`,
        },
      );
    }
    await sleep(500);
  }
}
