/** `dwk logs -f`: lines as they come, in time order within a short window, until Ctrl-C. */
import type { CliContext, StopSignal } from '../context.ts';
import { InterruptedError } from '../exit.ts';
import type { Output } from '../output.ts';
import { Interleaver, type LinePrinter, type LogLine } from './lines.ts';

/** How long a line waits for lines of other instances from the same moment. */
export const WINDOW_MS = 250;

export interface LiveLines {
  push(line: LogLine): void;
  /** Prints what is still waiting and stops the timer. */
  close(): void;
}

export function liveLines(printer: LinePrinter, out: Output, windowMs = WINDOW_MS): LiveLines {
  const interleaver = new Interleaver(windowMs);
  const print = (lines: LogLine[]) => {
    for (const l of lines) out.print(printer.render(l));
  };
  const timer = setInterval(() => print(interleaver.take(Date.now())), Math.max(20, windowMs / 2));
  return {
    push: (line) => interleaver.push(line, Date.now()),
    close() {
      clearInterval(timer);
      print(interleaver.take(Date.now(), true));
    },
  };
}

/**
 * Runs `follow` until Ctrl-C (or SIGTERM, SIGHUP) or until stdout is closed (`| head`); then
 * aborts its signal and waits for it to return. A signal ends dwk with 128 + its number, as
 * `dwk up` does; a closed stdout ends it with 0.
 */
export async function untilStopped(
  ctx: CliContext,
  follow: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  let signal: StopSignal | undefined;
  const off = ctx.onStopSignal((s) => {
    signal ??= s;
    stop.abort();
  });
  const stdout = ctx.stdout as Partial<NodeJS.WriteStream>;
  const closed = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') stop.abort();
  };
  stdout.on?.('error', closed);
  try {
    await follow(stop.signal);
  } finally {
    off();
    stdout.off?.('error', closed);
  }
  if (signal !== undefined) throw new InterruptedError(signal);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
