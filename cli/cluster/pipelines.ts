/** Finding and changing Pipelines in a cluster. */
import { API_VERSION, KIND } from '../../api/v1alpha1/pipeline.ts';
import type { PipelineStatus } from '../../api/v1alpha1/status.ts';
import { EXIT, UserError } from '../../lib/errors.ts';
import type { KubeObject } from '../../lib/kube/client.ts';
import type { Cluster } from './connect.ts';

export interface PipelineResource extends KubeObject {
  spec: Record<string, unknown> & { [component: string]: unknown };
  status?: PipelineStatus;
}

/** The named Pipeline, or the only one in the namespace. */
export async function findPipeline(cluster: Cluster, name: string | undefined): Promise<PipelineResource> {
  const ref = { apiVersion: API_VERSION, kind: KIND, namespace: cluster.namespace };
  if (name) {
    const p = await cluster.client.getOrUndefined<PipelineResource>({ ...ref, name });
    if (!p)
      throw new UserError(`no Pipeline "${name}" in namespace ${cluster.namespace}`, {
        exitCode: EXIT.failure,
        hint: 'list them with: kubectl get pipelines -A',
      });
    return p;
  }
  const list = await cluster.client.list<PipelineResource>(ref);
  if (list.items.length === 1 && list.items[0]) return list.items[0];
  if (list.items.length === 0) {
    throw new UserError(`no Pipeline in namespace ${cluster.namespace}`, {
      exitCode: EXIT.failure,
      hint: 'create one with dwk up, or name the namespace with -n',
    });
  }
  throw new UserError(`${list.items.length} Pipelines in namespace ${cluster.namespace}: name one`, {
    hint: list.items.map((p) => p.metadata?.name).join(', '),
  });
}
