import { Command } from 'commander';
import { UserError } from '../../lib/errors.ts';
import type { ClusterFlags } from '../cluster/connect.ts';
import type { CliContext } from '../context.ts';
import { examples, outputOf } from './common.ts';

interface LogsOptions {
  follow?: boolean;
  since?: string;
  tail?: string;
  timestamps?: boolean;
  raw?: boolean;
  output?: string;
  local?: boolean;
}

export function logsCommand(ctx: CliContext): Command {
  return new Command('logs')
    .summary('print the logs of every replica of a component, interleaved')
    .description(
      'Print the logs of every replica of a component in time order, each line\n' +
        'prefixed by its Pod (cluster) or instance (local: mapper-0, mapper-1…). The\n' +
        "workloads' JSON lines become text: time, level, message, fields. -f follows\n" +
        'new lines and new replicas until Ctrl-C. Components: fetcher, mapper, saver,\n' +
        "broadcaster, or all. Exit 4 when no replica's log could be read.",
    )
    .argument('<component>', 'fetcher, mapper, saver, broadcaster or all')
    .argument('[pipeline]', 'name of the pipeline (default: the only one)')
    .option('-f, --follow', 'keep printing new lines, and the lines of new replicas, until Ctrl-C')
    .option('--since <duration>', 'only lines newer than this, e.g. 30s, 5m, 1h30m')
    .option('--tail <lines>', 'only the last lines of each replica')
    .option('--timestamps', 'the full date and time (UTC) of each line')
    .option('--raw', 'the lines as the workloads wrote them (JSON), prefixed')
    .option('-o, --output <format>', 'json: one JSON object per line, no prefix')
    .option('--local', 'a pipeline started with dwk up --local')
    .addHelpText(
      'after',
      examples(
        'dwk logs mapper',
        'dwk logs mapper -f --since 5m',
        'dwk logs saver my-pipeline -n team --tail 20',
        'dwk logs all --local -f',
        'dwk logs mapper --local -o json | jq .msg',
      ),
    )
    .action(async (component: string, pipeline: string | undefined, opts: LogsOptions, cmd: Command) => {
      const [{ parseOutputFormat, parsePipelineName }, { parseLogComponents, parseSince, parseTail }] =
        await Promise.all([import('../args.ts'), import('../logs/lines.ts')]);
      // Check the input before looking for a pipeline.
      const components = parseLogComponents(component);
      const name = pipeline === undefined ? undefined : parsePipelineName(pipeline);
      const sinceMs = opts.since === undefined ? undefined : parseSince(opts.since);
      const tail = opts.tail === undefined ? undefined : parseTail(opts.tail);
      if (opts.output !== undefined && parseOutputFormat(opts.output) !== 'json') {
        throw new UserError(`dwk logs prints -o json only (got "${opts.output}")`, {
          hint: '-o json prints one JSON object per line; --raw the lines as written',
        });
      }
      if (opts.output !== undefined && opts.raw) throw new UserError('-o json and --raw exclude each other');
      const req = {
        components,
        pipeline: name,
        follow: opts.follow === true,
        sinceMs,
        tail,
        mode:
          opts.output !== undefined ? ('json' as const) : opts.raw ? ('raw' as const) : ('pretty' as const),
        timestamps: opts.timestamps === true,
      };
      if (opts.local) {
        const { logsLocal } = await import('../logs/local.ts');
        await logsLocal(req, ctx, outputOf(cmd, ctx));
        return;
      }
      const { logsCluster } = await import('../logs/cluster.ts');
      await logsCluster(req, cmd.optsWithGlobals<ClusterFlags>(), ctx, outputOf(cmd, ctx));
    });
}
