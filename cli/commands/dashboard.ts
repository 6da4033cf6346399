import { Command } from 'commander';
import type { ClusterFlags } from '../cluster/connect.ts';
import type { CliContext } from '../context.ts';
import { UserError } from '../../lib/errors.ts';
import { examples, outputOf } from './common.ts';

/** The kubeconfig context's namespace when there is a kubeconfig; "default" without one. */
function namespaceOr(read: () => string): string {
  try {
    return read();
  } catch {
    return 'default';
  }
}

interface DashboardOptions {
  install?: boolean;
  configmap?: boolean;
  output?: string;
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
    .option('--configmap', 'print the ConfigMap that --install would apply (for GitOps), as YAML or -o json')
    .option('-o, --output <format>', 'json or yaml (default: JSON for the dashboard, YAML for --configmap)')
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
        'dwk dashboard --configmap -n monitoring > dwk-dashboard.yaml',
        'dwk dashboard --install -n monitoring --label grafana_dashboard=1 --label team=data',
      ),
    )
    .action(async (opts: DashboardOptions, cmd: Command) => {
      const out = outputOf(cmd, ctx);
      const { dashboardText } = await import('../../monitoring/dashboard.ts');
      const { parseOutputFormat } = await import('../args.ts');
      const format = opts.output === undefined ? undefined : parseOutputFormat(opts.output);
      if (opts.install && format !== undefined) {
        throw new UserError('--install prints one line of what it did; -o is for printing the dashboard', {
          hint: 'use --configmap -o yaml to see the ConfigMap --install applies',
        });
      }
      const { dashboardConfigMap, parseLabels } = await import('../../monitoring/configmap.ts');
      const labels = parseLabels(opts.label);
      if (!opts.install && !opts.configmap) {
        if (format === 'yaml') {
          const { stringify } = await import('yaml');
          return out.print(stringify(JSON.parse(dashboardText()), { lineWidth: 0 }).trimEnd());
        }
        return out.print(dashboardText().trimEnd());
      }
      const { connectCluster } = await import('../cluster/connect.ts');
      if (opts.configmap && !opts.install) {
        const flags = cmd.optsWithGlobals<ClusterFlags>();
        // Only the namespace matters here: -n, else the kubeconfig's, else "default"; no cluster call.
        const namespace =
          flags.namespace ?? namespaceOr(() => connectCluster(flags, ctx.config.env).namespace);
        const cm = dashboardConfigMap(dashboardText(), namespace, labels);
        if (format === 'json') return out.print(JSON.stringify(cm, null, 2));
        const { stringify } = await import('yaml');
        return out.print(stringify(cm, { lineWidth: 0 }).trimEnd());
      }
      const cluster = connectCluster(cmd.optsWithGlobals<ClusterFlags>(), ctx.config.env);
      const cm = dashboardConfigMap(dashboardText(), cluster.namespace, labels);
      await cluster.client.apply(cm, 'dwk');
      const shown = Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      out.print(`ConfigMap ${cluster.namespace}/${cm.metadata.name} applied, labelled ${shown}`);
    });
}
