import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import type { ClusterFlags } from '../cluster/connect.ts';
import { examples, outputOf } from './common.ts';
import { parseNatsUrl } from '../nats-url.ts';

export function statusCommand(ctx: CliContext): Command {
  return new Command('status')
    .summary('show replicas and progress of a pipeline')
    .description(
      'Show a pipeline: desired and ready replicas and restarts per component, chunks saved out\n' +
        'of the total, dead letters, conditions and the latest Events (cluster) or the lag of each\n' +
        'stage (local). On a terminal it refreshes every second: q quits, ↑↓ select a component,\n' +
        '+/- scale it, p pauses or resumes. --once, -o or a pipe print one snapshot.',
    )
    .argument('[pipeline]', 'name of the pipeline (default: the only one running)')
    .option('--local', 'a pipeline started with dwk up --local')
    .option('--once', 'print one snapshot and exit')
    .option('-o, --output <format>', 'json or yaml (default: a table)')
    .option(
      '--nats-url <url>',
      "cluster: read NATS here instead of at the Pipeline's spec.nats.url",
      parseNatsUrl,
    )
    .option(
      '--nats-monitor-url <url>',
      'cluster: the NATS monitoring endpoint (default: port 8222 of the NATS host)',
    )
    .option('--no-nats', 'cluster: only what the API server knows; do not connect to NATS')
    .addHelpText(
      'after',
      examples(
        'dwk status',
        'dwk status demo -n team --once -o json',
        'dwk status demo --nats-url nats://127.0.0.1:4222 --nats-monitor-url http://127.0.0.1:8222',
        'dwk status --local',
        'dwk status --local --once -o json',
        'dwk status example --local -o yaml',
      ),
    )
    .action(
      async (
        pipeline: string | undefined,
        opts: {
          local?: boolean;
          once?: boolean;
          output?: string;
          nats: boolean;
          natsUrl?: string;
          natsMonitorUrl?: string;
        },
        cmd: Command,
      ) => {
        const { parseOutputFormat, parsePipelineName } = await import('../args.ts');
        const format = opts.output === undefined ? undefined : parseOutputFormat(opts.output);
        const name = pipeline === undefined ? undefined : parsePipelineName(pipeline);
        if (!opts.local) {
          const { statusCluster } = await import('../cluster/status-command.ts');
          const args = {
            pipeline: name,
            format,
            once: opts.once === true,
            nats: opts.nats,
            natsUrl: opts.natsUrl,
            natsMonitorUrl: opts.natsMonitorUrl,
          };
          await statusCluster(args, cmd.optsWithGlobals<ClusterFlags>(), ctx, outputOf(cmd, ctx));
          return;
        }
        const { statusLocal } = await import('../local/commands.ts');
        await statusLocal({ pipeline: name, format, once: opts.once === true }, ctx, outputOf(cmd, ctx));
      },
    );
}
