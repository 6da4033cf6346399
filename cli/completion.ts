/** Shell completion scripts, generated from the command tree so they never drift from it. Pure. */
import type { Command } from 'commander';
import { COMPONENTS } from '../api/v1alpha1/pipeline.ts';

export interface CommandInfo {
  name: string;
  summary: string;
  flags: string[];
}

export interface Tree {
  globals: string[];
  commands: CommandInfo[];
}

const flagsOf = (c: Command) =>
  c.options.flatMap((o) => [o.long, o.short].filter((f): f is string => typeof f === 'string'));

export function treeOf(program: Command): Tree {
  return {
    globals: [...flagsOf(program), '--help'],
    commands: program.commands.map((c) => ({
      name: c.name(),
      summary: c.summary() || c.description(),
      flags: [...flagsOf(c), '--help'],
    })),
  };
}

// Commands whose first argument is a component: `dwk logs` also takes `all`.
const COMPONENT_ARGS: Record<string, string> = {
  scale: COMPONENTS.join(' '),
  logs: [...COMPONENTS, 'all'].join(' '),
};

export function completionScript(shell: 'bash' | 'zsh' | 'fish', t: Tree): string {
  const names = t.commands.map((c) => c.name).join(' ');
  if (shell === 'bash') {
    const cases = t.commands.map((c) => `    ${c.name}) opts="${c.flags.join(' ')}" ;;`).join('\n');
    return `# dwk completion for bash: source <(dwk completion bash)
_dwk() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  local opts="${t.globals.join(' ')}"
  case "$cmd" in
    "") COMPREPLY=($(compgen -W "${names} $opts" -- "$cur")); return ;;
${cases}
  esac
  case "$cmd" in ${Object.entries(COMPONENT_ARGS)
    .map(([cmd, words]) => `${cmd}) [[ "$cur" != -* ]] && opts="$opts ${words}" ;;`)
    .join(' ')} completion) opts="bash zsh fish" ;; esac
  COMPREPLY=($(compgen -W "$opts ${t.globals.join(' ')}" -- "$cur"))
}
complete -F _dwk dwk`;
  }
  if (shell === 'zsh') {
    const cmds = t.commands
      .map((c) => `    '${c.name}:${c.summary.replaceAll("'", "'\\''").replaceAll(':', '\\:')}'`)
      .join('\n');
    const cases = t.commands
      .map(
        (c) =>
          `    ${c.name}) compadd -- ${c.flags.join(' ')}${COMPONENT_ARGS[c.name] ? ` ${COMPONENT_ARGS[c.name]}` : ''}${c.name === 'completion' ? ' bash zsh fish' : ''} ;;`,
      )
      .join('\n');
    return `#compdef dwk
# dwk completion for zsh: dwk completion zsh > "\${fpath[1]}/_dwk"
_dwk() {
  local -a commands
  commands=(
${cmds}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    compadd -- ${t.globals.join(' ')}
    return
  fi
  case "\${words[2]}" in
${cases}
  esac
}
compdef _dwk dwk`;
  }
  const lines = [
    '# dwk completion for fish: dwk completion fish > ~/.config/fish/completions/dwk.fish',
    'complete -c dwk -f',
  ];
  for (const c of t.commands) {
    lines.push(
      `complete -c dwk -n __fish_use_subcommand -a ${c.name} -d '${c.summary.replaceAll("'", "\\'")}'`,
    );
    for (const f of c.flags.filter((x) => x.startsWith('--')))
      lines.push(`complete -c dwk -n '__fish_seen_subcommand_from ${c.name}' -l ${f.slice(2)}`);
    const words = COMPONENT_ARGS[c.name];
    if (words) lines.push(`complete -c dwk -n '__fish_seen_subcommand_from ${c.name}' -a '${words}'`);
  }
  lines.push(`complete -c dwk -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'`);
  for (const g of t.globals.filter((x) => x.startsWith('--'))) lines.push(`complete -c dwk -l ${g.slice(2)}`);
  return lines.join('\n');
}
