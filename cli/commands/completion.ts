import { Command } from 'commander';
import { UserError } from '../../lib/errors.ts';
import type { CliContext } from '../context.ts';
import { examples, outputOf } from './common.ts';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

export function completionCommand(ctx: CliContext): Command {
  return new Command('completion')
    .summary('print a shell completion script (bash, zsh or fish)')
    .description('Print the completion script of dwk for a shell: commands, their flags and components.')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText(
      'after',
      examples(
        'source <(dwk completion bash)',
        'dwk completion zsh > "${fpath[1]}/_dwk"',
        'dwk completion fish > ~/.config/fish/completions/dwk.fish',
      ),
    )
    .action(async (shell: string, _opts: unknown, cmd: Command) => {
      if (!(SHELLS as readonly string[]).includes(shell)) {
        const { suggest } = await import('../args.ts');
        const guess = suggest(shell, SHELLS);
        throw new UserError(`unknown shell "${shell}"${guess ? `; did you mean "${guess}"?` : ''}`, {
          hint: 'dwk completion bash, zsh or fish',
        });
      }
      const { completionScript, treeOf } = await import('../completion.ts');
      const root = cmd.parent;
      if (!root) throw new Error('completion runs under the dwk program');
      outputOf(cmd, ctx).print(completionScript(shell as (typeof SHELLS)[number], treeOf(root)));
    });
}
