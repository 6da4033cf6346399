import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { examples, outputOf, requireLocal } from './common.ts';

export function downCommand(ctx: CliContext): Command {
  return new Command('down')
    .summary('stop a pipeline')
    .description(
      'Stop a running pipeline: every component drains and exits, then its nats-server stops.\n' +
        'The data stays for the next dwk up unless --purge deletes it (data directory, sink\n' +
        "inside it, and the pipeline's streams on an external NATS).",
    )
    .argument('[pipeline]', 'name of the pipeline (default: the only one running)')
    .option('--local', 'a pipeline started with dwk up --local')
    .option('--purge', 'also delete the data of the pipeline')
    .addHelpText('after', examples('dwk down --local', 'dwk down example --local --purge'))
    .action(
      async (pipeline: string | undefined, opts: { local?: boolean; purge?: boolean }, cmd: Command) => {
        const { parsePipelineName } = await import('../args.ts');
        const name = pipeline === undefined ? undefined : parsePipelineName(pipeline);
        requireLocal(opts.local, 'down');
        const { downLocal } = await import('../local/commands.ts');
        await downLocal({ pipeline: name, purge: opts.purge === true }, ctx, outputOf(cmd, ctx));
      },
    );
}
