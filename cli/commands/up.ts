import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { examples, outputOf, requireLocal } from './common.ts';

export interface UpOptions {
  local?: boolean;
  file?: string;
  natsUrl?: string;
  dataDir?: string;
  exitWhenDone?: boolean;
  fresh?: boolean;
  prometheus?: boolean;
}

export function upCommand(ctx: CliContext): Command {
  return new Command('up')
    .summary('run a pipeline')
    .description(
      'Run a pipeline. With --local: start nats-server and every component as processes on this\n' +
        'machine, restart any that die, and show progress until Ctrl-C (or until done with\n' +
        '--exit-when-done). State, logs and the jsonl sink live in the data directory.',
    )
    .option('--local', 'run on this machine, without a cluster')
    .option('-f, --file <pipeline.yaml>', 'Pipeline manifest (default: the bundled example)')
    .option('--nats-url <url>', 'use this NATS server instead of starting one')
    .option('--data-dir <dir>', 'state, logs and sink of the run (default: .dwk/<pipeline>)')
    .option('--exit-when-done', 'stop everything and exit 0 once every chunk is saved or dead-lettered')
    .option('--fresh', 'delete the data of an earlier run of this pipeline first')
    .option('--prometheus', 'also run Prometheus and the NATS exporter on loopback; prints its URL')
    .addHelpText(
      'after',
      examples(
        'dwk up --local',
        'dwk up --local -f my-pipeline.yaml --exit-when-done',
        'dwk up --local --nats-url nats://127.0.0.1:4222 --fresh',
      ),
    )
    .action(async (opts: UpOptions, cmd: Command) => {
      requireLocal(opts.local, 'up');
      const { upLocal } = await import('../local/up.ts');
      await upLocal(opts, ctx, outputOf(cmd, ctx));
    });
}
