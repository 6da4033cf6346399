/** How the CLI talks to people: data on stdout, diagnostics on stderr, colour only on a terminal. */
import { styleText } from 'node:util';
import type { CliContext, TextStream } from './context.ts';

type Style = 'red' | 'yellow' | 'green' | 'cyan' | 'dim' | 'bold';

export interface Output {
  readonly stdout: TextStream;
  readonly stderr: TextStream;
  readonly verbose: boolean;
  /** True when stdout is a terminal: live views instead of plain lines. */
  readonly interactive: boolean;
  readonly color: boolean;
  /** A line of data on stdout. */
  print(text: string): void;
  /** A diagnostic line on stderr. */
  info(text: string): void;
  /** A diagnostic line shown only with -v. */
  debug(text: string): void;
  warn(text: string): void;
  paint(style: Style, text: string): string;
}

export interface OutputFlags {
  color?: boolean;
  verbose?: boolean;
}

export function createOutput(ctx: CliContext, flags: OutputFlags): Output {
  const color = flags.color !== false && !ctx.config.noColor && ctx.stderr.isTTY === true;
  const paint = (style: Style, text: string) =>
    color ? styleText(style, text, { validateStream: false }) : text;
  return {
    stdout: ctx.stdout,
    stderr: ctx.stderr,
    verbose: flags.verbose === true,
    interactive: ctx.stdout.isTTY === true,
    color,
    print: (text) => void ctx.stdout.write(`${text}\n`),
    info: (text) => void ctx.stderr.write(`${text}\n`),
    debug: (text) => {
      if (flags.verbose === true) ctx.stderr.write(`${paint('dim', text)}\n`);
    },
    warn: (text) => void ctx.stderr.write(`${paint('yellow', 'warning:')} ${text}\n`),
    paint,
  };
}
