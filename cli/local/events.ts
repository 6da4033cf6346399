/** Supervisor events as lines for people. Pure. */
import { relative } from 'node:path';
import { formatDuration } from '../views/format.ts';
import { logFileOf } from './processes.ts';
import type { ProcessExit, SupervisorEvent } from './supervisor.ts';

export function describeExit(exit: ProcessExit): string {
  if (exit.error !== undefined) return `could not start: ${exit.error}`;
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return `exited with code ${exit.code ?? '?'}`;
}

const seconds = (ms: number) => (ms < 1000 ? `${ms / 1000}s` : formatDuration(ms / 1000));

/** The line for an event, or undefined when it is only worth showing with -v. */
export function describeEvent(
  e: SupervisorEvent,
  logDir: string,
  verbose: boolean,
  cwd: string,
): { text: string; warn?: boolean } | undefined {
  switch (e.type) {
    case 'crashed': {
      const log = relative(cwd, logFileOf(logDir, e.instance));
      return {
        text: `${e.instance} ${describeExit(e.exit)}; restarting in ${seconds(e.restartInMs)} (restart ${e.restarts}, log ${log})`,
        warn: true,
      };
    }
    case 'killed':
      return { text: `${e.instance} did not stop within ${seconds(e.graceMs)}; killed it`, warn: true };
    case 'scaled':
      return e.from === 0 && !verbose ? undefined : { text: `${e.component}: ${e.from} → ${e.to}` };
    case 'started':
      return verbose
        ? { text: `${e.instance} starting${e.restarts ? ` (restart ${e.restarts})` : ''}` }
        : undefined;
    case 'stopped':
      return verbose ? { text: `${e.instance} stopped (${describeExit(e.exit)})` } : undefined;
  }
}
