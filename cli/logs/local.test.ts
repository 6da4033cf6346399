// dwk logs --local in-process, on log files laid out as dwk up --local lays them out.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { EXIT } from '../../lib/errors.ts';
import { localRoot, register } from '../local/state.ts';
import { run } from '../program.ts';
import { captureContext } from '../testing.ts';
import { instanceLogs } from './local.ts';

const pino = (instance: string, time: number, msg: string) =>
  `${JSON.stringify({ level: 'info', time: new Date(time).toISOString(), instance, msg })}\n`;

/** A project directory with a registered pipeline `name` and log files; returns the log dir. */
async function project(name: string, files: Record<string, string>) {
  const cwd = mkdtempSync(join(tmpdir(), 'dwk-logs-'));
  const dataDir = join(localRoot(cwd), name);
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(logDir, f), text);
  await register(localRoot(cwd), { pipeline: name, dataDir });
  return { cwd, logDir };
}

async function until(what: string, probe: () => boolean) {
  const deadline = Date.now() + 5000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('dwk logs --local', () => {
  it('lists the instance files of the components asked, in index order', async () => {
    const { logDir } = await project('order', {
      'mapper-10.log': '',
      'mapper-2.log': '',
      'saver-0.log': '',
      'mapper-x.log': '',
      'nats.log': '',
    });
    assert.deepEqual(
      (await instanceLogs(logDir, ['mapper'])).map((f) => f.instance),
      ['mapper-2', 'mapper-10'],
    );
    assert.deepEqual(
      (await instanceLogs(logDir, ['mapper', 'saver'])).map((f) => f.instance),
      ['mapper-2', 'mapper-10', 'saver-0'],
    );
    assert.deepEqual(await instanceLogs(join(logDir, 'missing'), ['mapper']), []);
  });

  it('the last run of the only pipeline here, interleaved; --tail per instance; errors say what is missing', async () => {
    const now = Date.now();
    const { cwd } = await project('demo', {
      'mapper-0.log': pino('mapper-0', now - 3000, 'a') + pino('mapper-0', now - 1000, 'c'),
      'mapper-1.log': pino('mapper-1', now - 2000, 'b') + pino('mapper-1', now - 500, 'd'),
      'saver-0.log': pino('saver-0', now - 2500, 'not a mapper'),
    });
    const ctx = captureContext(cwd);
    assert.equal(await run(['logs', 'mapper', '--local'], ctx), EXIT.ok, ctx.err());
    assert.deepEqual(
      ctx
        .out()
        .trimEnd()
        .split('\n')
        .map((l) => l.replace(/ \d\d:\d\d:\d\d\.\d{3} /, ' ')),
      ['mapper-0 INFO  a', 'mapper-1 INFO  b', 'mapper-0 INFO  c', 'mapper-1 INFO  d'],
    );
    const tail = captureContext(cwd);
    assert.equal(
      await run(['logs', 'mapper', 'demo', '--local', '--tail', '1', '-o', 'json'], tail),
      EXIT.ok,
    );
    assert.deepEqual(
      tail
        .out()
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { msg: string }).msg),
      ['c', 'd'],
    );

    const none = captureContext(cwd);
    assert.equal(await run(['logs', 'broadcaster', '--local'], none), EXIT.failure);
    assert.match(
      none.err(),
      /^error: no instance of broadcaster has a log in local pipeline "demo"\nhint: looked in /,
    );
    const other = captureContext(cwd);
    assert.equal(await run(['logs', 'mapper', 'other', '--local'], other), EXIT.failure);
    assert.equal(
      other.err(),
      'error: no local pipeline named "other" here\nhint: local pipelines here: demo\n',
    );
    const empty = captureContext(mkdtempSync(join(tmpdir(), 'dwk-logs-none-')));
    assert.equal(await run(['logs', 'mapper', '--local'], empty), EXIT.failure);
    assert.match(empty.err(), /^error: no local pipeline here\n/);
  });

  it('-f prints new lines and the lines of new instances until Ctrl-C, then exits 130', async () => {
    const now = Date.now();
    const { cwd, logDir } = await project('live', { 'mapper-0.log': pino('mapper-0', now - 1000, 'before') });
    const ctx = captureContext(cwd);
    const code = run(['logs', 'mapper', '--local', '-f', '-o', 'json'], ctx);
    const msgs = () =>
      ctx
        .out()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { msg: string }).msg);
    await until('the backlog', () => msgs().includes('before'));
    assert.match(ctx.err(), /live is not running; waiting for new lines/);
    // Half a line first: it is printed once it is whole.
    const half = pino('mapper-0', Date.now(), 'appended');
    appendFileSync(join(logDir, 'mapper-0.log'), half.slice(0, 20));
    await sleep(400);
    assert.deepEqual(msgs(), ['before']);
    appendFileSync(join(logDir, 'mapper-0.log'), half.slice(20));
    writeFileSync(join(logDir, 'mapper-1.log'), pino('mapper-1', Date.now(), 'new instance'));
    writeFileSync(join(logDir, 'saver-0.log'), pino('saver-0', Date.now(), 'not followed'));
    await until('the new lines', () => msgs().length === 3);
    assert.deepEqual(msgs().sort(), ['appended', 'before', 'new instance']);
    assert.match(ctx.err(), /^\+ mapper-1$/m);
    ctx.signal('SIGINT');
    assert.equal(await code, 130);
  });
});
