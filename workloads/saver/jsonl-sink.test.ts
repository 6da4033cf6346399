import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { openJsonlSink } from './jsonl-sink.ts';

const rec = (id: number) => ({ id: String(id), line: JSON.stringify({ id, v: `x${id}` }) });
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean);

describe('the JSONL sink', () => {
  it('writes each id once, across calls and reopenings (a crash between write and ack)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sink-')), 'out.jsonl');
    const a = await openJsonlSink(path);
    assert.deepEqual(await a.write([rec(1), rec(2)]), { written: 2, skipped: 0 });
    assert.deepEqual(await a.write([rec(2), rec(3)]), { written: 1, skipped: 1 });
    await a.close();
    const b = await openJsonlSink(path); // a restarted saver gets the same batch again
    assert.deepEqual(await b.write([rec(1), rec(2), rec(3)]), { written: 0, skipped: 3 });
    await b.close();
    assert.equal(lines(path).length, 3);
  });

  it('two writers on one file never write the same id twice', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sink-')), 'out.jsonl');
    const [a, b] = await Promise.all([openJsonlSink(path), openJsonlSink(path)]);
    const ids = Array.from({ length: 200 }, (_, i) => i);
    await Promise.all([...ids.map((i) => a.write([rec(i)])), ...ids.map((i) => b.write([rec(i)]))]);
    await Promise.all([a.close(), b.close()]);
    const seen = lines(path).map((l) => (JSON.parse(l) as { id: number }).id);
    assert.equal(seen.length, 200);
    assert.equal(new Set(seen).size, 200);
  });

  it('cuts off the partial last line a dead writer left, and takes over its stale lock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sink-'));
    const path = join(dir, 'out.jsonl');
    writeFileSync(path, `${rec(1).line}\n`);
    appendFileSync(path, '{"id": 2, "v": "x'); // died mid-line
    writeFileSync(`${path}.lock`, '999999999'); // and holding the lock
    const s = await openJsonlSink(path);
    assert.deepEqual(await s.write([rec(1), rec(2)]), { written: 1, skipped: 1 });
    await s.close();
    assert.deepEqual(lines(path), [rec(1).line, rec(2).line]);
  });

  it('takes over an empty lock file once it is old (a writer killed while creating it)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sink-')), 'out.jsonl');
    writeFileSync(`${path}.lock`, '');
    writeFileSync(`${path}.lock.999999999.abcd`, '999999999'); // the claim file of a killed writer
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${path}.lock`, old, old);
    const s = await openJsonlSink(path);
    assert.deepEqual(await s.write([rec(1)]), { written: 1, skipped: 0 });
    await s.close();
    assert.deepEqual(lines(path), [rec(1).line]);
    assert.deepEqual(readdirSync(dirname(path)), ['out.jsonl'], 'no lock or claim file is left behind');
  });
});
