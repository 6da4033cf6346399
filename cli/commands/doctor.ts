import { Command } from 'commander';
import { EXIT, UserError } from '../../lib/errors.ts';
import type { CliContext } from '../context.ts';
import type { ClusterFlags } from '../cluster/connect.ts';
import { examples, outputOf } from './common.ts';
import { parseNatsUrl } from '../nats-url.ts';

export function doctorCommand(ctx: CliContext): Command {
  return new Command('doctor')
    .summary('check the cluster, helm, the CRD, the controller, NATS and Prometheus')
    .description(
      'Check what dwk needs: the kube context and server version, helm, the Pipeline CRD and its\n' +
        'version, the controller and its leader, NATS (with --nats-url: reachable and JetStream on),\n' +
        'the Prometheus operator and which labels its Prometheus selects. Prints a fix for each\n' +
        'failure and exits 1 if any check fails.',
    )
    .option('--controller-namespace <namespace>', 'namespace of the controller', 'dwk-system')
    .option('--nats-url <url>', 'connect to this NATS and check JetStream', parseNatsUrl)
    .option('-o, --output <format>', 'json or yaml (default: one line per check)')
    .addHelpText(
      'after',
      examples('dwk doctor', 'dwk doctor -n team --nats-url nats://127.0.0.1:4222', 'dwk doctor -o json'),
    )
    .action(
      async (opts: { controllerNamespace: string; natsUrl?: string; output?: string }, cmd: Command) => {
        const { parseOutputFormat } = await import('../args.ts');
        const format = opts.output === undefined ? undefined : parseOutputFormat(opts.output);
        const { runDoctor, printChecks } = await import('../cluster/doctor.ts');
        const out = outputOf(cmd, ctx);
        const checks = await runDoctor({
          flags: cmd.optsWithGlobals<ClusterFlags>(),
          env: ctx.config.env,
          helm: ctx.config.helm,
          controllerNamespace: opts.controllerNamespace,
          natsUrl: opts.natsUrl,
          now: Date.now,
        });
        if (format === 'json') out.print(JSON.stringify(checks, null, 2));
        else if (format === 'yaml') out.print((await import('yaml')).stringify(checks).trimEnd());
        else printChecks(checks, out);
        const failed = checks.filter((c) => c.state === 'fail').length;
        if (failed > 0)
          throw new UserError(`${failed} check${failed === 1 ? '' : 's'} failed`, { exitCode: EXIT.failure });
      },
    );
}
