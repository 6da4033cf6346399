import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXIT, UserError } from '../lib/errors.ts';
import { exitCodeFor, InterruptedError } from './exit.ts';
import { createOutput } from './output.ts';
import { run } from './program.ts';
import { captureContext } from './testing.ts';

const cwd = mkdtempSync(join(tmpdir(), 'dwk-program-'));

async function dwk(...argv: string[]) {
  const ctx = captureContext(cwd);
  const code = await run(argv, ctx);
  return { code, out: ctx.out(), err: ctx.err() };
}

describe('dwk command line', () => {
  it('prints help with examples and exit codes, exit 0', async () => {
    const r = await dwk('--help');
    assert.equal(r.code, EXIT.ok);
    for (const cmd of ['up', 'scale', 'status', 'down']) assert.match(r.out, new RegExp(`\\n  ${cmd} `));
    assert.match(r.out, /Examples:/);
    assert.match(r.out, /Exit codes: 0 ok/);
  });

  it('gives every command help with examples', async () => {
    for (const cmd of ['up', 'scale', 'status', 'down']) {
      const r = await dwk(cmd, '--help');
      assert.equal(r.code, EXIT.ok, cmd);
      assert.match(r.out, /Examples:\n {2}\$ dwk /, cmd);
    }
  });

  it('prints the version', async () => {
    const r = await dwk('--version');
    assert.equal(r.code, EXIT.ok);
    assert.match(r.out, /^\d+\.\d+\.\d+\n$/);
  });

  it('without a command shows help and exits with the usage code', async () => {
    const r = await dwk();
    assert.equal(r.code, EXIT.usage);
    assert.match(r.out, /Usage: dwk/);
  });

  it('an unknown command or option is a usage error with a suggestion', async () => {
    const cmd = await dwk('stauts');
    assert.equal(cmd.code, EXIT.usage);
    assert.match(cmd.err, /unknown command 'stauts'[\s\S]*status/);
    const opt = await dwk('up', '--lcoal');
    assert.equal(opt.code, EXIT.usage);
    assert.match(opt.err, /unknown option '--lcoal'[\s\S]*--local/);
  });

  it('scale rejects a negative, a non-number and a typo, each with its own message, before anything else', async () => {
    const neg = await dwk('scale', 'mapper', '-1', '--local');
    assert.equal(neg.code, EXIT.usage);
    assert.equal(neg.err, 'error: replicas cannot be negative (got -1)\nhint: use 0 to stop a component\n');
    const ten = await dwk('scale', 'mapper', 'ten', '--local');
    assert.equal(ten.code, EXIT.usage);
    assert.equal(ten.err, 'error: replicas must be a whole number from 0 to 1000 (got "ten")\n');
    const typo = await dwk('scale', 'mappr', '3', '--local');
    assert.equal(typo.code, EXIT.usage);
    assert.match(typo.err, /^error: unknown component "mappr"; did you mean "mapper"\?\n/);
  });

  it('scale with a missing argument is a usage error', async () => {
    const r = await dwk('scale', 'mapper');
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /missing required argument 'replicas'/);
  });

  it('says when no local pipeline is running', async () => {
    for (const argv of [
      ['scale', 'mapper', '3', '--local'],
      ['status', '--local', '--once'],
    ]) {
      const r = await dwk(...argv);
      assert.equal(r.code, EXIT.failure, argv.join(' '));
      assert.match(r.err, /error: no local pipeline is running here\nhint: start one with `dwk up --local`/);
    }
  });

  it('down with nothing running says so and succeeds', async () => {
    const r = await dwk('down', '--local');
    assert.equal(r.code, EXIT.ok);
    assert.match(r.err, /no local pipeline is running here; nothing to stop/);
  });

  it('down in cluster mode without a kubeconfig says so, exit 4', async () => {
    const r = await dwk('down', '--kubeconfig', join(cwd, 'no-such-kubeconfig'));
    assert.equal(r.code, EXIT.unavailable);
    assert.match(r.err, /no kubeconfig at /);
  });

  it('scale in cluster mode without a kubeconfig says so and how to fix it', async () => {
    const r = await dwk('scale', 'mapper', '3', '--kubeconfig', join(cwd, 'no-such-kubeconfig'));
    assert.equal(r.code, EXIT.unavailable);
    assert.match(
      r.err,
      /no kubeconfig at .*no-such-kubeconfig\nhint: point --kubeconfig or KUBECONFIG at one, or use --local/,
    );
  });

  it('rejects a bad output format', async () => {
    const r = await dwk('status', '--local', '-o', 'jsn');
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /unknown output format "jsn"; did you mean "json"\?/);
  });

  it('--nats-url must be a NATS URL: an HTTP address is a usage error saying which port to use', async () => {
    const r = await dwk('up', '--local', '--nats-url', 'http://127.0.0.1:8222');
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /--nats-url: "http:\/\/127\.0\.0\.1:8222" is not a NATS URL/);
    assert.match(
      r.err,
      /hint: that is an HTTP address \(the monitoring port\?\); clients use nats:\/\/HOST:4222/,
    );
    const list = await dwk('doctor', '--nats-url', 'nats://a:4222, ,tls://b:4222');
    assert.equal(list.code, EXIT.usage);
    assert.match(list.err, /--nats-url: "" is not a NATS URL/);
  });

  it('up names the bad field of an invalid manifest and exits with the invalid-spec code', async () => {
    const file = join(cwd, 'bad.yaml');
    writeFileSync(
      file,
      'apiVersion: dwk.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: bad}\nspec:\n  mapper: {replicas: -2}\n  chunkSize: lots\n',
    );
    const r = await dwk('up', '--local', '-f', file);
    assert.equal(r.code, EXIT.invalidSpec);
    assert.match(r.err, /invalid Pipeline:/);
    assert.match(r.err, /spec\.mapper\.replicas: must be at least 0 \(got -2\)/);
    assert.match(r.err, /spec\.chunkSize: must be an integer \(got "lots"\)/);
  });

  it('up says when the manifest file is missing or not YAML', async () => {
    const missing = await dwk('up', '--local', '-f', 'nope.yaml');
    assert.equal(missing.code, EXIT.invalidSpec);
    assert.match(missing.err, /error: nope\.yaml: no such file/);
    writeFileSync(join(cwd, 'broken.yaml'), 'spec: [unclosed\n');
    const broken = await dwk('up', '--local', '-f', 'broken.yaml');
    assert.equal(broken.code, EXIT.invalidSpec);
    assert.match(broken.err, /broken\.yaml: not valid YAML/);
  });
});

describe('exit codes', () => {
  const out = () => {
    const ctx = captureContext(cwd);
    return { ctx, out: createOutput(ctx, { verbose: false }) };
  };

  it('a user error prints its message and hint and exits with its code', async () => {
    const { ctx, out: o } = out();
    const code = await exitCodeFor(
      new UserError('nope', { hint: 'try this', exitCode: EXIT.unavailable }),
      o,
    );
    assert.equal(code, EXIT.unavailable);
    assert.equal(ctx.err(), 'error: nope\nhint: try this\n');
  });

  it('anything else is a bug: stack trace and exit 70', async () => {
    const { ctx, out: o } = out();
    const code = await exitCodeFor(new TypeError('x is undefined'), o);
    assert.equal(code, EXIT.bug);
    assert.match(ctx.err(), /^error: TypeError: x is undefined\n\s+at /);
    assert.match(ctx.err(), /this is a bug in dwk/);
  });

  it('an interrupted command exits 128 plus the signal number, silently', async () => {
    const { ctx, out: o } = out();
    assert.equal(await exitCodeFor(new InterruptedError('SIGINT'), o), 130);
    assert.equal(await exitCodeFor(new InterruptedError('SIGTERM'), o), 143);
    assert.equal(ctx.err(), '');
  });
});
