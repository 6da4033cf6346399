import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { examples, outputOf, requireLocal } from './common.ts';

export function scaleCommand(ctx: CliContext): Command {
  return new Command('scale')
    .summary('change the replicas of a component')
    .description(
      'Change the replicas of one component of a running pipeline and print the change.\n' +
        'Components: fetcher, mapper, saver, broadcaster. Replicas: 0 to 1000.',
    )
    .argument('<component>', 'fetcher, mapper, saver or broadcaster')
    .argument('<replicas>', 'the new number of replicas, 0 to 1000')
    .argument('[pipeline]', 'name of the pipeline (default: the only one running)')
    .option('--local', 'scale a pipeline started with dwk up --local')
    .addHelpText('after', examples('dwk scale mapper 10 --local', 'dwk scale saver 2 example --local'))
    .action(
      async (
        component: string,
        replicas: string,
        pipeline: string | undefined,
        opts: { local?: boolean },
        cmd: Command,
      ) => {
        const { parseComponent, parsePipelineName, parseReplicas } = await import('../args.ts');
        // Check the input before looking for a pipeline: bad input changes nothing.
        const c = parseComponent(component);
        const n = parseReplicas(replicas);
        const name = pipeline === undefined ? undefined : parsePipelineName(pipeline);
        requireLocal(opts.local, 'scale');
        const { scaleLocal } = await import('../local/commands.ts');
        await scaleLocal({ component: c, replicas: n, pipeline: name }, ctx, outputOf(cmd, ctx));
      },
    );
}
