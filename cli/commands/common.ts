/** Bits every command factory shares. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { createOutput, type Output } from '../output.ts';

export interface GlobalOptions {
  namespace?: string;
  color?: boolean;
  verbose?: boolean;
}

export function outputOf(cmd: Command, ctx: CliContext): Output {
  return createOutput(ctx, cmd.optsWithGlobals<GlobalOptions>());
}

export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l.startsWith('#') ? l : `$ ${l}`}`).join('\n')}\n`;
}
