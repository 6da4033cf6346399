import { Command } from 'commander';
import type { ClusterFlags } from '../cluster/connect.ts';
import type { CliContext } from '../context.ts';
import { examples, outputOf } from './common.ts';

interface DashboardOptions {
  install?: boolean;
  label: string[];
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function dashboardCommand(ctx: CliContext): Command {
  return new Command('dashboard')
    .summary('print the Grafana dashboard, or install it for the Grafana sidecar')
    .description(
      'Print the Grafana dashboard of a pipeline as JSON. With --install: create or update the\n' +
        'ConfigMap dwk-pipeline-dashboard, labelled grafana_dashboard: "1" (or --label), in the\n' +
        'namespace of -n / the kubeconfig context, where the Grafana dashboard sidecar loads it.',
    )
    .option('--install', 'apply the dashboard ConfigMap to the cluster')
    .option(
      '--label <key=value>',
      'label the sidecar selects, instead of grafana_dashboard=1 (repeatable)',
      collect,
      [],
    )
    .addHelpText(
      'after',
      examples(
        'dwk dashboard > dwk-pipeline.json',
        'dwk dashboard --install -n monitoring',
        'dwk dashboard --install -n monitoring --label grafana_dashboard=1 --label team=data',
      ),
    )
    .action(async (opts: DashboardOptions, cmd: Command) => {
      const out = outputOf(cmd, ctx);
      const { dashboardText } = await import('../../monitoring/dashboard.ts');
      if (!opts.install) return out.print(dashboardText().trimEnd());
      const { dashboardConfigMap, parseLabels } = await import('../../monitoring/configmap.ts');
      const { connectCluster } = await import('../cluster/connect.ts');
      const labels = parseLabels(opts.label);
      const cluster = connectCluster(cmd.optsWithGlobals<ClusterFlags>(), ctx.config.env);
      const cm = dashboardConfigMap(dashboardText(), cluster.namespace, labels);
      await cluster.client.apply(cm, 'dwk');
      const shown = Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      out.print(`ConfigMap ${cluster.namespace}/${cm.metadata.name} applied, labelled ${shown}`);
    });
}
