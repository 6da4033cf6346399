import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusOf } from '../testing.ts';
import { formatDuration, progressLine, statusText } from './format.ts';
import { renderStatus } from '../local/commands.ts';
import { parse } from 'yaml';

describe('status rendering', () => {
  it('formats durations for people', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(59.4), '59s');
    assert.equal(formatDuration(61), '1m01s');
    assert.equal(formatDuration(3 * 3600 + 120), '3h02m');
  });

  it('renders the plain status as a readable table', () => {
    assert.equal(
      statusText(statusOf()),
      [
        'Pipeline:  example (local, running, dwk pid 4242)',
        'NATS:      nats://127.0.0.1:4222 (started by dwk)',
        'Data:      /work/.dwk/example',
        '',
        'COMPONENT   DESIRED   RUNNING   RESTARTS',
        'fetcher     1         1         0',
        'mapper      4         3         2',
        'saver       1         1         0',
        '',
        'Chunks:    512/1,000 chunks saved (51%), 1,000 published, 3 dead-lettered',
        'Rate:      40 chunks/s · ETA 13s',
        'Objects:   7 dead-lettered',
        '',
        'STAGE    PENDING   ACK-PENDING   REDELIVERED',
        'mapper   400       8             1',
        'saver    0         1             0',
      ].join('\n'),
    );
  });

  it('says when NATS cannot be reached instead of showing stale figures as fact', () => {
    const s = statusOf({ nats: { url: 'nats://x:1', managed: false, reachable: false, error: 'TIMEOUT' } });
    delete s.progress;
    delete s.lag;
    const text = statusText(s);
    assert.match(text, /NATS: {6}nats:\/\/x:1 UNREACHABLE: TIMEOUT/);
    assert.match(text, /Chunks: {4}unknown \(NATS not reachable\)/);
  });

  it('renders one progress line for logs without a terminal', () => {
    assert.equal(
      progressLine(statusOf()),
      'example: 512/1,000 chunks saved (51%) · 3 dead-lettered · 40 chunks/s · ETA 13s · ' +
        'fetcher 1/1 · mapper 3/4 (2 restarts) · saver 1/1',
    );
  });

  it('renders a source of unknown size without a percentage or ETA', () => {
    const s = statusOf({ rate: { chunksPerSecond: 2.5 } });
    s.progress = { chunksPublished: 80, chunksSaved: 40, chunksDeadLettered: 0, objectsDeadLettered: 0 };
    assert.match(progressLine(s), /^example: 40 chunks saved · 2\.5 chunks\/s · fetcher/);
  });

  it('prints JSON and YAML that parse back to the same status', async () => {
    const s = statusOf();
    assert.deepEqual(JSON.parse(await renderStatus(s, 'json')), s);
    assert.deepEqual(parse(await renderStatus(s, 'yaml')), s);
  });
});
