/**
 * The fetcher's `dwk_source_chunks_expected`: what the dashboard's progress and ETA are measured
 * against, so that neither shows "done" while the source is still being read. A fetcher held by
 * the backlog bound (no mapper yet) is scraped mid-read.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../../lib/nats/server.ts';
import { natsFixture, spec, waitFor, workloadSet } from '../support/workloads.ts';

const CHUNK_SIZE = 10;
const CHUNKS = 2000;

async function scrape(port: number): Promise<string | undefined> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.text();
}

/** The value of a metric labelled only with pipeline and component. */
function sample(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

describe("the fetcher's count of the chunks in the source", { timeout: 120_000 }, () => {
  const f = natsFixture('source-size');

  /** Starts a fetcher held after its first chunks (no mapper, a backlog bound of 5); its port. */
  async function heldFetcher(pipeline: string, source: unknown) {
    const s = spec({
      source,
      chunkSize: CHUNK_SIZE,
      fetcher: { maxInFlight: 1, maxPending: 5 },
      mapper: { work: { waitMs: { min: 0, max: 0 } } },
    });
    const w = workloadSet(pipeline, s, f.server.url, f.dir);
    const port = await freePort();
    w.start('fetcher', 'fetcher-0', { DWK_HTTP_PORT: String(port) });
    // Published chunks stop growing once the backlog bound holds the fetcher.
    let before = -1;
    const text = await waitFor('the fetcher to be held by the backlog bound', async () => {
      const t = await scrape(port);
      const published = t === undefined ? undefined : sample(t, 'dwk_chunks_published_total');
      if (published === undefined || published === 0) return undefined;
      const held = published === before;
      before = published;
      return held ? t : undefined;
    });
    return { w, port, text };
  }

  it('is known from the start for a generated source, while most of it is still unpublished', async () => {
    const { w, text } = await heldFetcher('gen-size', { generate: { objects: CHUNKS * CHUNK_SIZE } });
    try {
      assert.ok((sample(text, 'dwk_chunks_published_total') ?? CHUNKS) < CHUNKS / 2, text);
      assert.equal(sample(text, 'dwk_source_chunks_expected'), CHUNKS);
    } finally {
      await w.stopAll();
    }
  });

  it('is 0 for a URL source until it is read to its end, then its number of chunks', async () => {
    const file = join(f.dir, 'source.ndjson');
    const lines = Array.from({ length: CHUNKS * CHUNK_SIZE }, (_, id) => JSON.stringify({ id, first: 'A' }));
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { w, port, text } = await heldFetcher('url-size', { url: file });
    try {
      assert.ok((sample(text, 'dwk_chunks_published_total') ?? CHUNKS) < CHUNKS / 2, text);
      assert.equal(sample(text, 'dwk_source_chunks_expected'), 0);
      w.start('mapper', 'mapper-0', { DWK_MAPPER_CONCURRENCY: '16' }); // drains the backlog
      const expected = await waitFor(
        'the source read to its end',
        async () => {
          const t = await scrape(port);
          const n = t === undefined ? undefined : sample(t, 'dwk_source_chunks_expected');
          return n ? n : undefined;
        },
        90_000,
      );
      assert.equal(expected, CHUNKS);
    } finally {
      await w.stopAll();
    }
  });
});
