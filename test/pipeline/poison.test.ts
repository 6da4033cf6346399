import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { writeFileSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { progressReader } from '../../lib/nats/progress.ts';
import { HEADERS, topology } from '../../lib/nats/topology.ts';
import { exactlyOnce, idCounts, spec, waitFor, workloadSet, natsFixture } from '../support/workloads.ts';

describe('poison input', { timeout: 120_000 }, () => {
  const f = natsFixture('poison');
  const dir = f.dir;
  let http: Server;
  let baseUrl = '';

  before(async () => {
    // A real HTTP server streams the NDJSON file, as a remote source would.
    http = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      createReadStream(join(dir, (req.url ?? '/').slice(1))).pipe(res);
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const addr = http.address();
    baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(() => {
    http?.close();
  });

  it('dead-letters each malformed object of an NDJSON stream with its reason; saves every other once', async () => {
    const n = 20_000;
    const bad = new Map<number, string>(); // line number → the malformed line
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      if (i % 1000 === 999) {
        const line = `{"id": ${i}, "first": "Broken", "last": `; // 0.1%: cut off mid-object
        bad.set(i, line);
        lines.push(line);
      } else {
        lines.push(JSON.stringify({ id: i, first: `F${i}`, last: `L${i}`, friends: [] }));
      }
    }
    writeFileSync(join(dir, 'source.ndjson'), lines.join('\n') + '\n');
    const sink = join(dir, 'ndjson.jsonl');
    const s = spec({
      source: { url: `${baseUrl}/source.ndjson` },
      chunkSize: 100,
      saver: { sink: { path: sink } },
    });
    const w = workloadSet('poison', s, f.server.url, dir);
    const reader = await progressReader(f.nc, 'poison');
    try {
      w.start('fetcher', 'fetcher-0');
      w.start('mapper', 'mapper-0');
      w.start('mapper', 'mapper-1');
      w.start('saver', 'saver-0');
      const done = await waitFor('the stream to be processed', async () => {
        const { progress } = await reader.read();
        return progress.chunksTotal === 200 && progress.chunksSaved === 200 ? progress : undefined;
      });
      assert.equal(done.objectsDeadLettered, bad.size);
      assert.equal(done.chunksDeadLettered, 0);
    } finally {
      await w.stopAll();
    }
    const t = topology('poison');
    const jsm = await jetstreamManager(f.nc);
    for (const [lineNo, line] of bad) {
      const m = await jsm.streams.getMessage(t.streams.dlq, {
        last_by_subj: t.subjects.dlqObject(Math.floor(lineNo / 100), lineNo % 100),
      });
      assert.ok(m, `line ${lineNo} is not in the dead-letter stream`);
      assert.equal(m.string(), line);
      assert.match(m.header.get(HEADERS.reason), /^malformed JSON/);
      assert.equal(m.header.get(HEADERS.stage), 'mapper');
    }
    assert.equal(exactlyOnce(idCounts(sink), n, new Set([...bad.keys()].map(String))), '');
  });

  it('dead-letters a chunk whose worker died more than maxDeliver times, and the run still completes', async () => {
    const sink = join(dir, 'maxdeliver.jsonl');
    const s = spec({
      source: { generate: { objects: 2000 } },
      chunkSize: 100,
      mapper: {
        concurrency: 2,
        maxDeliver: 1,
        ackWaitSeconds: 2,
        work: { waitMs: { min: 20_000, max: 20_000 } },
      },
      saver: { sink: { path: sink } },
    });
    const w = workloadSet('maxdeliver', s, f.server.url, dir);
    const reader = await progressReader(f.nc, 'maxdeliver', 20);
    try {
      w.start('fetcher', 'fetcher-0');
      w.start('saver', 'saver-0');
      const slow = w.start('mapper', 'mapper-slow');
      await waitFor('the slow mapper to hold two chunks', async () =>
        ((await reader.read()).lag.mapper?.ackPending ?? 0) === 2 ? true : undefined,
      );
      await w.kill(slow); // dies mid-chunk, twice over: no verdict for either chunk
      w.start('mapper', 'mapper-fast', { DWK_WORK_WAIT_MIN_MS: '0', DWK_WORK_WAIT_MAX_MS: '0' });
      const done = await waitFor('the run to complete', async () => {
        const { progress } = await reader.read();
        return progress.chunksSaved + progress.chunksDeadLettered === 20 ? progress : undefined;
      });
      assert.equal(done.chunksDeadLettered, 2);
      assert.equal(done.chunksSaved, 18);
    } finally {
      await w.stopAll();
    }
    const t = topology('maxdeliver');
    const jsm = await jetstreamManager(f.nc);
    const info = await jsm.streams.info(t.streams.dlq, { subjects_filter: t.subjects.dlqChunks });
    const chunks = Object.keys(info.state.subjects ?? {});
    assert.equal(chunks.length, 2);
    for (const subject of chunks) {
      const m = await jsm.streams.getMessage(t.streams.dlq, { last_by_subj: subject });
      assert.match(m?.header.get(HEADERS.reason) ?? '', /without a verdict/);
      assert.equal(m?.string().split('\n').length, 100, 'the dead letter carries the whole original chunk');
    }
    assert.equal(idCounts(sink).size, 1800);
  });
});
