import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import type { ClusterFlags } from '../cluster/connect.ts';
import { examples, outputOf } from './common.ts';

export function downCommand(ctx: CliContext): Command {
  return new Command('down')
    .summary('remove a pipeline (and with --purge-nats its NATS)')
    .description(
      'Remove a pipeline from the cluster: delete the Pipeline, whose Deployments and Services go\n' +
        'with it, and with --purge-nats uninstall the NATS Helm release. The CRD and the controller\n' +
        'stay for other pipelines; --uninstall removes them too when no other Pipeline is left.\n' +
        'With --local: stop a running local pipeline; its data stays for the next dwk up unless\n' +
        '--purge deletes it (data directory, sink, streams on an external NATS).',
    )
    .argument('[pipeline]', 'name of the pipeline (default: the only one)')
    .option('--purge-nats', 'also uninstall the NATS Helm release (cluster)')
    .option('--nats-release <name>', 'Helm release name of NATS', 'nats')
    .option('--timeout <seconds>', 'how long to wait for the deletion', '120')
    .option('--local', 'a pipeline started with dwk up --local')
    .option('--purge', 'local: also delete the data of the pipeline')
    .option(
      '--uninstall',
      'cluster: also remove the controller, its RBAC and the CRD (only when no other Pipeline is left)',
    )
    .option(
      '--controller-namespace <namespace>',
      'namespace of the controller, for --uninstall',
      'dwk-system',
    )
    .addHelpText(
      'after',
      examples(
        'dwk down',
        'dwk down demo -n team --purge-nats',
        'dwk down demo -n team --purge-nats --uninstall',
        'dwk down --local',
        'dwk down example --local --purge',
      ),
    )
    .action(
      async (
        pipeline: string | undefined,
        opts: {
          local?: boolean;
          purge?: boolean;
          purgeNats?: boolean;
          natsRelease: string;
          timeout: string;
          uninstall?: boolean;
          controllerNamespace: string;
        },
        cmd: Command,
      ) => {
        const { parsePipelineName } = await import('../args.ts');
        const name = pipeline === undefined ? undefined : parsePipelineName(pipeline);
        const out = outputOf(cmd, ctx);
        if (opts.local) {
          const { downLocal } = await import('../local/commands.ts');
          await downLocal({ pipeline: name, purge: opts.purge === true }, ctx, out);
          return;
        }
        const [{ parseSeconds }, { connectCluster, serverVersion }, { downCluster }] = await Promise.all([
          import('../cluster/up-command.ts'),
          import('../cluster/connect.ts'),
          import('../cluster/down.ts'),
        ]);
        const timeoutSeconds = parseSeconds('--timeout', opts.timeout);
        const flags = cmd.optsWithGlobals<ClusterFlags>();
        const cluster = connectCluster(flags, ctx.config.env);
        await serverVersion(cluster);
        await downCluster(
          {
            pipeline: name,
            purgeNats: opts.purgeNats === true,
            natsRelease: opts.natsRelease,
            timeoutSeconds,
            ...(opts.uninstall ? { uninstall: { controllerNamespace: opts.controllerNamespace } } : {}),
          },
          cluster,
          { helm: ctx.config.helm, childEnv: ctx.config.childEnv, context: flags.context },
          out,
        );
      },
    );
}
