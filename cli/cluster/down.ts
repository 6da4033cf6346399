/** `dwk down` in a cluster: deletes the Pipeline (its Deployments follow), and the NATS release with --purge-nats. */
import { setTimeout as sleep } from 'node:timers/promises';
import { API_VERSION, KIND } from '../../api/v1alpha1/pipeline.ts';
import { EXIT, UserError } from '../../lib/errors.ts';
import type { Output } from '../output.ts';
import type { Cluster } from './connect.ts';
import { Helm } from './helm.ts';
import { findPipeline } from './pipelines.ts';

export interface DownRequest {
  pipeline: string | undefined;
  purgeNats: boolean;
  natsRelease: string;
  timeoutSeconds: number;
}

export interface DownEnv {
  helm: string | undefined;
  childEnv: Record<string, string>;
  context: string | undefined;
}

export async function downCluster(
  req: DownRequest,
  cluster: Cluster,
  env: DownEnv,
  out: Output,
): Promise<void> {
  // helm is needed for the purge: say so before anything is deleted.
  const helm = req.purgeNats
    ? new Helm(env.helm, env.childEnv, {
        kubeconfig: cluster.kubeconfigPath,
        ...(env.context ? { context: env.context } : {}),
      })
    : undefined;
  const deadline = Date.now() + req.timeoutSeconds * 1000;
  let name: string | undefined;
  try {
    name = (await findPipeline(cluster, req.pipeline)).metadata?.name;
  } catch (err) {
    // Nothing to delete is not a failure of down, as with kubectl delete --ignore-not-found.
    if (!(err instanceof UserError) || !/^no Pipeline/.test(err.message)) throw err;
    out.info(`${err.message}; nothing to delete`);
  }
  if (name) {
    const ref = { apiVersion: API_VERSION, kind: KIND, namespace: cluster.namespace, name };
    await cluster.client.delete(ref);
    // A finalizer may clean NATS first (deletePolicy: delete): wait until it is gone.
    while (await cluster.client.getOrUndefined(ref)) {
      if (Date.now() > deadline) {
        throw new UserError(`Pipeline ${name} is still being deleted after ${req.timeoutSeconds} s`, {
          exitCode: EXIT.timeout,
          hint: `see its finalizers: kubectl get pipeline ${name} -n ${cluster.namespace} -o yaml`,
        });
      }
      await sleep(300);
    }
    out.print(`deleted Pipeline ${name} (namespace ${cluster.namespace}) and its Deployments and Services`);
  }
  if (!helm) return;
  const release = await helm.release(req.natsRelease, cluster.namespace);
  if (!release) {
    out.info(`no Helm release ${req.natsRelease} in namespace ${cluster.namespace}; nothing to uninstall`);
    return;
  }
  await helm.uninstall(
    req.natsRelease,
    cluster.namespace,
    Math.max(1, Math.round((deadline - Date.now()) / 1000)),
  );
  out.print(`uninstalled Helm release ${req.natsRelease} (namespace ${cluster.namespace})`);
}
