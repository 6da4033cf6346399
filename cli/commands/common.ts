/** Bits every command factory shares. */
import type { Command } from 'commander';
import { UserError } from '../../lib/errors.ts';
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

/** Cluster mode is issue 5; until then every command needs --local and says so. */
export function requireLocal(local: boolean | undefined, command: string): void {
  if (local) return;
  throw new UserError(`dwk ${command} works only in local mode for now`, {
    hint: `add --local (cluster mode is not built yet): dwk ${command} --local`,
  });
}
