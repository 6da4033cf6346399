import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { run } from './program.ts';
import { captureContext } from './testing.ts';

async function script(shell: string) {
  const ctx = captureContext(tmpdir());
  const code = await run(['completion', shell], ctx);
  return { code, out: ctx.out(), err: ctx.err() };
}

describe('dwk completion', () => {
  it('bash completes commands, their flags and components, in a real bash', async () => {
    const { code, out } = await script('bash');
    assert.equal(code, 0);
    const file = join(mkdtempSync(join(tmpdir(), 'dwk-completion-')), 'dwk.bash');
    writeFileSync(file, out);
    const complete = (...words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _dwk; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: 'utf8' },
      ).trim();
    assert.equal(complete('dwk', 'sta'), 'status');
    assert.equal(complete('dwk', 'scale', 'ma'), 'mapper');
    assert.equal(complete('dwk', 'scale', 'a'), '', 'scale takes no "all"');
    assert.equal(complete('dwk', 'logs', 'a'), 'all');
    assert.equal(complete('dwk', 'logs', 'sa'), 'saver');
    assert.match(
      complete('dwk', 'up', '--nats-'),
      /--nats-url --nats-chart --nats-repo --nats-version --nats-values --nats-release/,
    );
    assert.equal(complete('dwk', 'completion', 'z'), 'zsh');
  });

  it('zsh and fish scripts name every command', async () => {
    for (const shell of ['zsh', 'fish']) {
      const { code, out } = await script(shell);
      assert.equal(code, 0);
      for (const c of ['up', 'scale', 'status', 'down', 'doctor', 'manifests'])
        assert.match(out, new RegExp(`\\b${c}\\b`), `${shell}: ${c}`);
    }
    const fish = await script('fish');
    assert.match(
      fish.out,
      /complete -c dwk -n '__fish_seen_subcommand_from scale' -a 'fetcher mapper saver broadcaster'/,
    );
    if (spawnSync('fish', ['--version']).status === 0) {
      assert.equal(spawnSync('fish', ['-n'], { input: fish.out }).status, 0);
    }
  });

  it('an unknown shell is a usage error with a suggestion', async () => {
    const r = await script('bsh');
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown shell "bsh"; did you mean "bash"\?/);
  });
});
