/** `dwk status` in a cluster: a snapshot (--once, -o, no terminal) or the live view. */
import { API_VERSION, KIND } from '../../api/v1alpha1/pipeline.ts';
import type { OutputFormat } from '../args.ts';
import type { CliContext } from '../context.ts';
import type { Output } from '../output.ts';
import { connectCluster, serverVersion, type Cluster, type ClusterFlags } from './connect.ts';
import { NatsProbe } from './nats-probe.ts';
import { clusterStatusText, fetchClusterStatus, setPaused } from './status.ts';

export async function statusCluster(
  args: {
    pipeline: string | undefined;
    format: OutputFormat | undefined;
    once: boolean;
    /** false: skip NATS (only what the API server knows). */
    nats: boolean;
    natsUrl?: string | undefined;
    natsMonitorUrl?: string | undefined;
  },
  flags: ClusterFlags,
  ctx: CliContext,
  out: Output,
): Promise<void> {
  const cluster = connectCluster(flags, ctx.config.env);
  await serverVersion(cluster);
  const probe = args.nats
    ? new NatsProbe(cluster, { natsUrl: args.natsUrl, monitorUrl: args.natsMonitorUrl })
    : undefined;
  try {
    await show(cluster, probe, args, ctx, out);
  } finally {
    await probe?.close();
  }
}

async function show(
  cluster: Cluster,
  probe: NatsProbe | undefined,
  args: { pipeline: string | undefined; format: OutputFormat | undefined; once: boolean },
  ctx: CliContext,
  out: Output,
): Promise<void> {
  const first = await fetchClusterStatus(cluster, args.pipeline, probe);
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
      fetch: async () => fromCluster(await fetchClusterStatus(cluster, name, probe)),
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
