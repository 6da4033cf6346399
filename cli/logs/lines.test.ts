import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT, UserError } from '../../lib/errors.ts';
import {
  Interleaver,
  LinePrinter,
  formatLine,
  jsonLine,
  mergeByTime,
  parseLogComponents,
  parseSince,
  parseTail,
  pinoTime,
  selectLines,
  splitKubeletTimestamp,
  splitLines,
  timeOfDay,
  type LogLine,
} from './lines.ts';

const T0 = Date.parse('2026-03-04T05:06:07.000Z');
/** A pino line as the workloads write it (lib/log.ts): level label, ISO time, base fields, msg last. */
const pino = (instance: string, offsetMs: number, msg: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    level: 'info',
    time: new Date(T0 + offsetMs).toISOString(),
    pipeline: 'demo',
    component: instance.replace(/-\d+$/, ''),
    instance,
    ...extra,
    msg,
  });
const line = (source: string, offsetMs: number, msg: string): LogLine => ({
  source,
  text: pino(source, offsetMs, msg),
  time: T0 + offsetMs,
});
const plain = { color: false, timestamps: false };
const ESC = String.fromCharCode(27);

describe('dwk logs arguments', () => {
  it('takes a component or all; a typo names the closest', () => {
    assert.deepEqual(parseLogComponents('mapper'), ['mapper']);
    assert.deepEqual(parseLogComponents('all'), ['fetcher', 'mapper', 'saver', 'broadcaster']);
    assert.throws(
      () => parseLogComponents('mappr'),
      (e: unknown) =>
        e instanceof UserError &&
        e.exitCode === EXIT.usage &&
        e.message === 'unknown component "mappr"; did you mean "mapper"?' &&
        /or all/.test(e.hint ?? ''),
    );
    assert.throws(() => parseLogComponents('al'), /did you mean "all"\?/);
    assert.throws(() => parseLogComponents('zzzzzz'), /^UserError: unknown component "zzzzzz"$/);
  });

  it('--since takes durations with units, alone or combined', () => {
    assert.equal(parseSince('30s'), 30_000);
    assert.equal(parseSince('5m'), 300_000);
    assert.equal(parseSince('1h30m'), 5_400_000);
    assert.equal(parseSince('2d'), 172_800_000);
    assert.equal(parseSince('250ms'), 250);
    assert.equal(parseSince('1.5h'), 5_400_000);
    assert.throws(
      () => parseSince('5'),
      (e: unknown) => e instanceof UserError && e.hint === 'add a unit: --since 5s or --since 5m',
    );
    for (const bad of ['', 'm', '5x', '5m junk', '-5m', 'yesterday']) {
      assert.throws(() => parseSince(bad), /--since takes a duration like 30s, 5m, 1h30m or 2d/, bad);
    }
    assert.throws(() => parseSince('0s'), /--since must be longer than 0/);
  });

  it('--tail takes a whole number from 0', () => {
    assert.equal(parseTail('0'), 0);
    assert.equal(parseTail('20'), 20);
    for (const bad of ['-1', 'ten', '1.5', ''])
      assert.throws(() => parseTail(bad), /--tail takes a whole number/, bad);
  });
});

describe('reading log lines', () => {
  it('pinoTime reads the ISO time or epoch ms of a JSON line, nothing else', () => {
    assert.equal(pinoTime(pino('mapper-0', 5, 'x')), T0 + 5);
    assert.equal(pinoTime('{"level":30,"time":1700000000123,"msg":"x"}'), 1700000000123);
    assert.equal(pinoTime('    at main (file.ts:1:2)'), undefined);
    assert.equal(pinoTime('{"msg":"no time"}'), undefined);
    assert.equal(pinoTime('{not json'), undefined);
  });

  it('splits the kubelet timestamp (nanoseconds) off a line', () => {
    assert.deepEqual(splitKubeletTimestamp('2026-03-04T05:06:07.123456789Z {"msg":"hi"}'), {
      time: T0 + 123,
      text: '{"msg":"hi"}',
    });
    assert.deepEqual(splitKubeletTimestamp('2026-03-04T05:06:07Z '), { time: T0, text: '' });
    assert.deepEqual(splitKubeletTimestamp('no stamp here'), { time: undefined, text: 'no stamp here' });
  });

  it('splitLines keeps an unfinished last line for later and drops CRs', () => {
    assert.deepEqual(splitLines('a\nb\r\nc'), { lines: ['a', 'b'], rest: 'c' });
    assert.deepEqual(splitLines('a\n'), { lines: ['a'], rest: '' });
    assert.deepEqual(splitLines(''), { lines: [], rest: '' });
  });
});

describe('time order', () => {
  it('interleaves the instances by time, each in its own order', () => {
    const a = [line('mapper-0', 0, 'a0'), line('mapper-0', 30, 'a30'), line('mapper-0', 50, 'a50')];
    const b = [line('mapper-1', 10, 'b10'), line('mapper-1', 40, 'b40')];
    const c = [line('mapper-2', 20, 'c20')];
    assert.deepEqual(
      mergeByTime([a, b, c]).map((l) => (JSON.parse(l.text) as { msg: string }).msg),
      ['a0', 'b10', 'c20', 'a30', 'b40', 'a50'],
    );
  });

  it('keeps a line without a time (a stack trace) after the line before it; ties go in source order', () => {
    const a = [
      line('mapper-0', 10, 'boom'),
      { source: 'mapper-0', text: '    at x (y.ts:1)', time: undefined },
    ];
    const b = [line('mapper-1', 10, 'same time'), line('mapper-1', 20, 'later')];
    assert.deepEqual(
      mergeByTime([a, b]).map((l) =>
        l.text.startsWith('{') ? (JSON.parse(l.text) as { msg: string }).msg : l.text,
      ),
      ['boom', '    at x (y.ts:1)', 'same time', 'later'],
    );
    assert.deepEqual(mergeByTime([[], []]), []);
  });

  it('--since drops older lines (and the untimed lines under them); --tail keeps the last N', () => {
    const lines = [
      line('saver-0', 0, 'old'),
      { source: 'saver-0', text: 'old trace', time: undefined },
      line('saver-0', 1000, 'new'),
      { source: 'saver-0', text: 'new trace', time: undefined },
      line('saver-0', 2000, 'newest'),
    ];
    assert.deepEqual(
      selectLines(lines, { notBefore: T0 + 500 }).map((l) => l.text.slice(-12)),
      lines.slice(2).map((l) => l.text.slice(-12)),
    );
    assert.deepEqual(selectLines(lines, { tail: 2 }), lines.slice(3));
    assert.deepEqual(selectLines(lines, { tail: 0 }), []);
    assert.deepEqual(selectLines(lines, { notBefore: T0 + 500, tail: 1 }), lines.slice(4));
    assert.deepEqual(selectLines(lines, {}), lines);
  });

  it('the live interleaver holds lines for a window and lets earlier lines of others pass', () => {
    const il = new Interleaver(100);
    il.push(line('mapper-1', 20, 'b'), 1000);
    il.push(line('mapper-0', 10, 'a'), 1050);
    assert.deepEqual(il.take(1099), [], 'nothing has waited 100 ms yet');
    assert.deepEqual(
      il.take(1100).map((l) => l.source),
      ['mapper-1'],
    );
    assert.deepEqual(
      il.take(1150).map((l) => l.source),
      ['mapper-0'],
    );
    // Both waited: they come out in time order, not in arrival order.
    il.push(line('mapper-1', 40, 'd'), 2000);
    il.push(line('mapper-0', 30, 'c'), 2001);
    il.push({ source: 'mapper-1', text: 'trace of d', time: undefined }, 2002);
    assert.equal(il.size, 3);
    assert.deepEqual(
      il.take(5000).map((l) => l.text.slice(-12)),
      [pino('mapper-0', 30, 'c'), pino('mapper-1', 40, 'd'), 'trace of d'].map((t) => t.slice(-12)),
    );
    il.push(line('mapper-0', 50, 'e'), 6000);
    assert.equal(il.take(6000, true).length, 1, 'all: empties the buffer at once');
    assert.equal(il.size, 0);
  });
});

describe('drawing log lines', () => {
  it('formats a pino line as time, level, message and the fields that are not on every line', () => {
    const text = pino('mapper-0', 125, 'Starting', {
      port: 8080,
      role: 'mapper',
      note: 'two words',
      ok: true,
    });
    const l = { source: 'mapper-0', text, time: T0 + 125 };
    assert.equal(
      formatLine(l, plain),
      `${timeOfDay(T0 + 125)} INFO  Starting port=8080 role=mapper note="two words" ok=true`,
    );
    assert.match(timeOfDay(T0 + 125), /^\d\d:\d\d:\d\d\.125$/);
    assert.equal(
      formatLine(l, { color: false, timestamps: true }),
      '2026-03-04T05:06:07.125Z INFO  Starting port=8080 role=mapper note="two words" ok=true',
    );
  });

  it('numeric levels, nested objects and an error with its stack under the line', () => {
    const text = JSON.stringify({
      level: 50,
      time: T0,
      msg: 'publish failed',
      chunk: { id: 3 },
      err: { type: 'Error', message: 'timeout', stack: 'Error: timeout\n    at publish (x.ts:1:1)' },
    });
    assert.equal(
      formatLine({ source: 's', text, time: T0 }, { color: false, timestamps: true }),
      '2026-03-04T05:06:07.000Z ERROR publish failed chunk={"id":3} err=timeout\n    Error: timeout\n    at publish (x.ts:1:1)',
    );
  });

  it('a line that is not JSON stays as written; --timestamps puts a known time in front', () => {
    const l = { source: 'p', text: 'node: bad option', time: undefined };
    assert.equal(formatLine(l, plain), 'node: bad option');
    assert.equal(
      formatLine({ ...l, time: T0 }, { color: false, timestamps: true }),
      '2026-03-04T05:06:07.000Z node: bad option',
    );
  });

  it('prefixes every line with its instance, padded to the longest name', () => {
    const p = new LinePrinter('pretty', plain, ['mapper-1', 'fetcher-0']);
    assert.equal(p.render(line('mapper-1', 0, 'hi')), `mapper-1  ${timeOfDay(T0)} INFO  hi`);
    const err = JSON.stringify({
      level: 'error',
      time: T0,
      msg: 'x',
      err: { message: 'm', stack: 'E: m\n at y' },
    });
    assert.deepEqual(
      p
        .render({ source: 'fetcher-0', text: err, time: T0 })
        .split('\n')
        .map((s) => s.slice(0, 10)),
      ['fetcher-0 ', 'fetcher-0 ', 'fetcher-0 '],
      'each line of a stack trace is prefixed',
    );
    const raw = new LinePrinter('raw', { color: false, timestamps: true });
    assert.equal(
      raw.render({ source: 'saver-0', text: '{"a":1}', time: T0 }),
      'saver-0 2026-03-04T05:06:07.000Z {"a":1}',
    );
  });

  it('colours each instance differently on a terminal, and nothing without colour', () => {
    const p = new LinePrinter('pretty', { color: true, timestamps: false }, ['mapper-0', 'mapper-1']);
    const a = p.render(line('mapper-0', 0, 'x'));
    const b = p.render(line('mapper-1', 0, 'x'));
    const colourOf = (s: string) => (s.startsWith(ESC) ? /^.\[(\d+)m/.exec(s)?.[1] : undefined);
    assert.ok(colourOf(a) && colourOf(b), 'both prefixes are coloured');
    assert.notEqual(colourOf(a), colourOf(b));
    assert.equal(new LinePrinter('pretty', plain).render(line('mapper-0', 0, 'x')).includes(ESC), false);
  });

  it("-o json: the workload's object, naming its instance; other lines wrapped", () => {
    const text = pino('mapper-0', 0, 'hi');
    assert.equal(jsonLine({ source: 'mapper-0', text, time: T0 }), text, 'unchanged');
    assert.deepEqual(JSON.parse(jsonLine({ source: 'pod-a', text: '{"msg":"x"}', time: undefined })), {
      instance: 'pod-a',
      msg: 'x',
    });
    assert.deepEqual(JSON.parse(jsonLine({ source: 'pod-a', text: 'panic', time: T0 })), {
      time: '2026-03-04T05:06:07.000Z',
      instance: 'pod-a',
      msg: 'panic',
    });
    assert.equal(
      new LinePrinter('json', plain).render({ source: 'x', text: '{"a":1}', time: undefined }),
      '{"instance":"x","a":1}',
    );
  });
});
