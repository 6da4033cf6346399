import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeEvent, lastProblem } from './events.ts';

const line = (o: Record<string, unknown>) => JSON.stringify({ time: '2026-12-01T00:00:00Z', ...o });

describe('why a workload crashed, from its log', () => {
  it('takes the last error line: the error’s message, else the message with its problems', () => {
    const log = [
      line({ level: 'info', msg: 'Starting' }),
      line({ level: 'error', msg: 'Workload failed', err: { message: 'cannot fetch http://h/x: bad port' } }),
      'a stack trace line that is not JSON',
      line({ level: 'info', msg: 'Stopped' }),
    ].join('\n');
    assert.equal(lastProblem(log), 'cannot fetch http://h/x: bad port');
    const config = line({
      level: 'fatal',
      msg: 'invalid configuration',
      problems: ['DWK_CHUNK_SIZE: not a number', 'DWK_NATS_URL: missing'],
    });
    assert.equal(
      lastProblem(`${config}\n`),
      'invalid configuration: DWK_CHUNK_SIZE: not a number; DWK_NATS_URL: missing',
    );
  });

  it('looks only at the last run: an older run’s error is not this crash’s reason', () => {
    const log = [
      line({ level: 'info', msg: 'Starting' }),
      line({ level: 'error', msg: 'Workload failed', err: { message: 'an old failure' } }),
      line({ level: 'info', msg: 'Starting' }),
      'file:///work/workloads/main.ts:12',
      'TypeError: Cannot read properties of undefined (reading "x")',
      '    at run (file:///work/workloads/main.ts:12:3)',
    ].join('\n');
    assert.equal(lastProblem(log), 'TypeError: Cannot read properties of undefined (reading "x")');
    assert.equal(lastProblem(`${line({ level: 'info', msg: 'Starting' })}\n`), undefined);
  });

  it('is undefined when the log holds no error, and long reasons are cut', () => {
    assert.equal(lastProblem(line({ level: 'warn', msg: 'slow' })), undefined);
    assert.equal(lastProblem(''), undefined);
    const long = lastProblem(line({ level: 'error', msg: 'x'.repeat(1000) }));
    assert.equal(long?.length, 300);
  });

  it('puts the reason in the crash line', () => {
    const e = {
      type: 'crashed' as const,
      instance: 'fetcher-0',
      exit: { code: 1, signal: null },
      restarts: 2,
      restartInMs: 1000,
    };
    const text = describeEvent(e, '/run/logs', false, '/run', 'bad port')?.text;
    assert.equal(
      text,
      'fetcher-0 exited with code 1: bad port; restarting in 1s (restart 2, log logs/fetcher-0.log)',
    );
  });
});
