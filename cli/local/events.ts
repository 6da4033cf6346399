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
 * Why the last run of a workload ended badly, from its log text (appended to across restarts, so
 * only what follows its last "Starting" line counts): its last error (the error's message, or the
 * line's message and its listed problems), else the first line that is not JSON (an uncaught
 * exception's stack). Undefined when there is neither.
 */
export function lastProblem(logText: string): string | undefined {
  type Entry = { level?: unknown; msg?: unknown; err?: { message?: unknown }; problems?: unknown };
  const parse = (line: string): Entry | undefined => {
    try {
      const v = JSON.parse(line) as unknown;
      return v !== null && typeof v === 'object' ? v : undefined;
    } catch {
      return undefined;
    }
  };
  const lines = logText.trimEnd().split('\n');
  let from = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (parse(lines[i] ?? '')?.msg === 'Starting') {
      from = i + 1;
      break;
    }
  }
  const run = lines.slice(from);
  const cut = (text: string) => (text.length > 300 ? `${text.slice(0, 299)}…` : text);
  for (let i = run.length - 1; i >= 0; i--) {
    const entry = parse(run[i] ?? '');
    if (entry?.level !== 'error' && entry?.level !== 'fatal') continue;
    const problems = Array.isArray(entry.problems) ? `: ${entry.problems.join('; ')}` : '';
    return cut(
      typeof entry.err?.message === 'string' ? entry.err.message : `${String(entry.msg)}${problems}`,
    );
  }
  // Node prints an uncaught error as its source line, a caret, then "TypeError: …" and the stack.
  const raw = run.filter((line) => line.trim() !== '' && parse(line) === undefined);
  const error = raw.find((line) => /^[A-Z]\w*(Error|Exception)\b/.test(line.trim())) ?? raw[0];
  return error === undefined ? undefined : cut(error.trim());
}
