import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { InterruptedError } from '../exit.ts';
import { examples } from './common.ts';

export function controllerCommand(ctx: CliContext): Command {
  return new Command('controller')
    .summary('run the Pipeline controller here, outside the cluster')
    .description(
      'Run the controller in this process against the cluster of your kubeconfig: it reconciles\n' +
        'Pipelines into Deployments, Services and ServiceMonitors and reports their status.\n' +
        'Logs are JSON lines on stdout. Ctrl-C stops it and hands leadership over.',
    )
    .option('--all-namespaces', 'watch every namespace (default: the one of -n or the context)')
    .option('--no-leader-elect', 'do not take a Lease (only when a single controller runs)')
    .option('--metrics-port <port>', 'serve /metrics, /healthz and /readyz here', '8081')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .addHelpText(
      'after',
      examples('dwk controller -n team', 'dwk controller --all-namespaces --metrics-port 9090'),
    )
    .action(
      async (
        opts: { allNamespaces?: boolean; leaderElect: boolean; metricsPort: string; logLevel: string },
        cmd: Command,
      ) => {
        const { connectCluster } = await import('../cluster/connect.ts');
        const { readControllerConfig } = await import('../../controller/config.ts');
        const { runController } = await import('../../controller/run.ts');
        const globals = cmd.optsWithGlobals<{ kubeconfig?: string; context?: string; namespace?: string }>();
        const cluster = connectCluster(globals, ctx.config.env);
        const config = readControllerConfig({
          KUBECONFIG: cluster.kubeconfigPath,
          DWK_CONTEXT: globals.context,
          DWK_WATCH_NAMESPACE: opts.allNamespaces ? undefined : cluster.namespace,
          DWK_LEASE_NAMESPACE: cluster.namespace,
          DWK_LEADER_ELECT: String(opts.leaderElect),
          DWK_HTTP_PORT: opts.metricsPort,
          DWK_HTTP_HOST: '127.0.0.1',
          DWK_LOG_LEVEL: opts.logLevel,
        });
        const stop = new AbortController();
        let signal: string | undefined;
        const off = ctx.onStopSignal((s) => {
          signal = s;
          stop.abort();
        });
        try {
          const running = await runController(config, stop.signal);
          await running.done;
        } finally {
          off();
        }
        if (signal) throw new InterruptedError(signal);
      },
    );
}
