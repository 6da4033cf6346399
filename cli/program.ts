/** The dwk command tree and its single exit point. Heavy modules load inside the actions. */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { EXIT } from '../lib/errors.ts';
import { controllerCommand } from './commands/controller.ts';
import { dashboardCommand } from './commands/dashboard.ts';
import { doctorCommand } from './commands/doctor.ts';
import { downCommand } from './commands/down.ts';
import { completionCommand } from './commands/completion.ts';
import { logsCommand } from './commands/logs.ts';
import { manifestsCommand } from './commands/manifests.ts';
import { scaleCommand } from './commands/scale.ts';
import { statusCommand } from './commands/status.ts';
import { upCommand } from './commands/up.ts';
import type { CliContext } from './context.ts';
import { exitCodeFor } from './exit.ts';
import { createOutput } from './output.ts';

const version = (): string =>
  (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
    .version;

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('dwk')
    .description('Run NATS JetStream data pipelines (fetcher → mappers → savers) on Kubernetes or locally.')
    .version(version(), '--version', 'print the version of dwk')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('-n, --namespace <namespace>', 'Kubernetes namespace (cluster mode)')
    .option('--no-color', 'no colours in the output (also NO_COLOR=1)')
    .option('-v, --verbose', 'say more about what happens')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void ctx.stdout.write(s),
      writeErr: (s) => void ctx.stderr.write(s),
    })
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ dwk up                               # NATS, CRD, controller and the example, in your cluster\n' +
        '  $ dwk status                           # live: q quits, ↑↓ select, +/- scale, p pause\n' +
        "  $ dwk logs mapper -f                   # every mapper Pod's log, interleaved\n" +
        '  $ dwk doctor                           # what is missing, and how to fix it\n' +
        '  $ dwk up --local                       # the bundled example on this machine\n' +
        '  $ dwk scale mapper 8 --local\n' +
        '  $ dwk status --local --once -o json\n' +
        '  $ dwk down --local\n' +
        '  $ dwk scale mapper 10 -n team          # cluster: changes the Pipeline, the controller acts\n' +
        '  $ dwk controller                       # run the controller here, with your kubeconfig\n' +
        '\nExit codes: 0 ok, 1 failure, 2 usage, 3 invalid pipeline, 4 unavailable, 5 timeout, 70 bug.\n',
    );
  const commands = [
    upCommand(ctx),
    scaleCommand(ctx),
    statusCommand(ctx),
    logsCommand(ctx),
    downCommand(ctx),
    doctorCommand(ctx),
    completionCommand(ctx),
    controllerCommand(ctx),
    manifestsCommand(ctx),
    dashboardCommand(ctx),
  ];
  for (const cmd of commands) {
    program.addCommand(cmd.copyInheritedSettings(program));
  }
  return program;
}

/** Parses and runs one command line; returns the exit code. Never calls process.exit. */
export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx);
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    return await exitCodeFor(err, createOutput(ctx, globalFlags(argv)));
  }
}

// Commander may fail before it parses the globals, so read the two that shape error output here.
const globalFlags = (argv: string[]) => ({
  color: !argv.includes('--no-color'),
  verbose: argv.includes('-v') || argv.includes('--verbose'),
});
