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
  /** Why it crashed, from its log (see lastProblem), so the person need not open it. */
  reason?: string,
): { text: string; warn?: boolean } | undefined {
  switch (e.type) {
    case 'crashed': {
      const log = relative(cwd, logFileOf(logDir, e.instance));
      return {
        text: `${e.instance} ${describeExit(e.exit)}${reason ? `: ${reason}` : ''}; restarting in ${seconds(e.restartInMs)} (restart ${e.restarts}, log ${log})`,
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

/**
 * The last error a workload logged, from the JSON lines of its log text: the error's message, or
 * the line's message and its listed problems. Undefined when it logged none.
 */
export function lastProblem(logText: string): string | undefined {
  const lines = logText.trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    let entry: { level?: unknown; msg?: unknown; err?: { message?: unknown }; problems?: unknown };
    try {
      entry = JSON.parse(lines[i] ?? '') as typeof entry;
    } catch {
      continue; // not a JSON line (a stack trace, a partial write)
    }
    if (entry.level !== 'error' && entry.level !== 'fatal') continue;
    const problems = Array.isArray(entry.problems) ? `: ${entry.problems.join('; ')}` : '';
    const text =
      typeof entry.err?.message === 'string' ? entry.err.message : `${String(entry.msg)}${problems}`;
    return text.length > 300 ? `${text.slice(0, 299)}…` : text;
  }
  return undefined;
}
