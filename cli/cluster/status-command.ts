/** `dwk status` in a cluster: a snapshot (--once, -o, no terminal) or the live view. */
import { API_VERSION, KIND } from '../../api/v1alpha1/pipeline.ts';
import type { OutputFormat } from '../args.ts';
import type { CliContext } from '../context.ts';
import type { Output } from '../output.ts';
import { connectCluster, serverVersion, type ClusterFlags } from './connect.ts';
import { clusterStatusText, fetchClusterStatus, setPaused } from './status.ts';

export async function statusCluster(
  args: { pipeline: string | undefined; format: OutputFormat | undefined; once: boolean },
  flags: ClusterFlags,
  ctx: CliContext,
  out: Output,
): Promise<void> {
  const cluster = connectCluster(flags, ctx.config.env);
  await serverVersion(cluster);
  const first = await fetchClusterStatus(cluster, args.pipeline);
  if (args.once || args.format !== undefined || !out.interactive) {
    if (args.format === 'json') out.print(JSON.stringify(first, null, 2));
    else if (args.format === 'yaml') out.print((await import('yaml')).stringify(first).trimEnd());
    else out.print(clusterStatusText(first));
    return;
  }
  const name = first.pipeline;
  const ref = { apiVersion: API_VERSION, kind: KIND, namespace: cluster.namespace, name };
  const [{ runLive }, { fromCluster }] = await Promise.all([
    import('./live.ts'),
    import('../views/pipeline-view.ts'),
  ]);
  await runLive(
    {
      fetch: async () => fromCluster(await fetchClusterStatus(cluster, name)),
      actions: {
        async scale(component, replicas) {
          // The spec, never the Deployment: the controller acts.
          await cluster.client.mergePatch(ref, { spec: { [component]: { replicas } } });
          return `${component} → ${replicas}`;
        },
        async pause(paused) {
          await setPaused(cluster, name, paused);
          return paused ? `${name} paused` : `${name} resumed`;
        },
      },
    },
    ctx,
    out,
  );
}
