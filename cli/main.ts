/** Entry point of the dwk CLI: builds the context from the real process, runs, sets the exit code. */
import { readConfig } from './config.ts';
import type { CliContext, StopSignal } from './context.ts';
import { run } from './program.ts';

const SIGNALS: StopSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const ctx: CliContext = {
  cwd: process.cwd(),
  config: readConfig(process.env, process.execPath),
  stdout: process.stdout,
  stderr: process.stderr,
  onStopSignal(handler) {
    for (const s of SIGNALS) process.on(s, handler);
    return () => {
      for (const s of SIGNALS) process.off(s, handler);
    };
  },
  onExit(handler) {
    process.on('exit', handler);
    return () => void process.off('exit', handler);
  },
};

// A closed pipe (dwk completion bash | head) ends the output, not dwk with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

process.exitCode = await run(process.argv.slice(2), ctx);
