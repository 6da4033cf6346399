import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { examples, outputOf, requireLocal } from './common.ts';

export function statusCommand(ctx: CliContext): Command {
  return new Command('status')
    .summary('show replicas and progress of a pipeline')
    .description(
      'Show a running pipeline: desired and running replicas per component, chunks saved out of\n' +
        'the total, dead letters and the lag of each stage. On a terminal it refreshes every\n' +
        'second until q or Ctrl-C; --once, -o or a pipe print one snapshot.',
    )
    .argument('[pipeline]', 'name of the pipeline (default: the only one running)')
    .option('--local', 'a pipeline started with dwk up --local')
    .option('--once', 'print one snapshot and exit')
    .option('-o, --output <format>', 'json or yaml (default: a table)')
    .addHelpText(
      'after',
      examples(
        'dwk status --local',
        'dwk status --local --once -o json',
        'dwk status example --local -o yaml',
      ),
    )
    .action(
      async (
        pipeline: string | undefined,
        opts: { local?: boolean; once?: boolean; output?: string },
        cmd: Command,
      ) => {
        const { parseOutputFormat, parsePipelineName } = await import('../args.ts');
        const format = opts.output === undefined ? undefined : parseOutputFormat(opts.output);
        const name = pipeline === undefined ? undefined : parsePipelineName(pipeline);
        requireLocal(opts.local, 'status');
        const { statusLocal } = await import('../local/commands.ts');
        await statusLocal({ pipeline: name, format, once: opts.once === true }, ctx, outputOf(cmd, ctx));
      },
    );
}
