import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { UserError } from '../../lib/errors.ts';
import type { ClusterFlags } from '../cluster/connect.ts';
import { examples, outputOf } from './common.ts';

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
    .option('--wait', 'wait until the new replicas are ready (cluster mode)')
    .option('--timeout <seconds>', 'how long --wait waits', '120')
    .addHelpText(
      'after',
      examples(
        'dwk scale mapper 10',
        'dwk scale mapper 10 my-pipeline -n team --wait',
        'dwk scale saver 2 example --local',
      ),
    )
    .action(
      async (
        component: string,
        replicas: string,
        pipeline: string | undefined,
        opts: { local?: boolean; wait?: boolean; timeout: string },
        cmd: Command,
      ) => {
        const { parseComponent, parsePipelineName, parseReplicas } = await import('../args.ts');
        // Check the input before looking for a pipeline: bad input changes nothing.
        const c = parseComponent(component);
        const n = parseReplicas(replicas);
        const name = pipeline === undefined ? undefined : parsePipelineName(pipeline);
        if (!opts.local) {
          const { scaleCluster } = await import('../cluster/scale.ts');
          const timeoutSeconds = Number(opts.timeout);
          if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) {
            throw new UserError(
              `--timeout must be a whole number of seconds (got ${JSON.stringify(opts.timeout)})`,
            );
          }
          const req = { component: c, replicas: n, pipeline: name, wait: opts.wait === true, timeoutSeconds };
          await scaleCluster(req, cmd.optsWithGlobals<ClusterFlags>(), ctx.config.env, outputOf(cmd, ctx));
          return;
        }
        const { scaleLocal } = await import('../local/commands.ts');
        await scaleLocal({ component: c, replicas: n, pipeline: name }, ctx, outputOf(cmd, ctx));
      },
    );
}
