import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../../lib/nats/connect.ts';
import { progressReader } from '../../lib/nats/progress.ts';
import { topology } from '../../lib/nats/topology.ts';
import { freePort, startNatsServer } from '../../lib/nats/server.ts';
import {
  exactlyOnce,
  idCounts,
  spec,
  tempDir,
  waitFor,
  workloadSet,
  type Workload,
} from '../support/workloads.ts';

/** The value of an unlabelled-or-labelled sample of `name` in a Prometheus text exposition. */
const metricValue = (text: string, name: string) => {
  const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name} is exposed`);
  return Number(m[2]);
};

const status = async (url: string) => (await fetch(url).catch(() => undefined))?.status;

/** The JSON log lines of one workload. */
const logLines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string } & Record<string, unknown>);

describe('resilience', { timeout: 120_000 }, () => {
  it('workloads started before NATS log each connect attempt with a growing delay, finish once it comes up, and reconnect after a restart', async () => {
    const dir = tempDir('late-nats');
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const sink = join(dir, 'out.jsonl');
    const s = spec({ source: { generate: { objects: 5000 } }, saver: { sink: { path: sink } } });
    const w = workloadSet('late', s, url, dir);
    const httpPort = await freePort();
    const readyz = () => status(`http://127.0.0.1:${httpPort}/readyz`);
    let nats;
    try {
      w.start('fetcher', 'fetcher-0');
      const mapper = w.start('mapper', 'mapper-0', { DWK_HTTP_PORT: String(httpPort) });
      w.start('saver', 'saver-0');
      const attempts = await waitFor('6 failed connect attempts in the mapper log', () => {
        const lines = logLines(mapper.logFile).filter((l) => l.msg.startsWith('Cannot connect to NATS'));
        return lines.length >= 6 ? lines.slice(0, 6) : undefined;
      });
      assert.deepEqual(
        attempts.map((a) => a.attempt),
        [1, 2, 3, 4, 5, 6],
      );
      const delays = attempts.map((a) => Number(a.retryInMs));
      for (let i = 1; i < delays.length; i++) {
        assert.ok(delays[i]! >= delays[i - 1]!, `delays grow: ${delays.join(', ')} ms`);
      }
      assert.ok(delays[5]! > 10 * delays[0]!, `delays grow: ${delays.join(', ')} ms`);
      assert.match(attempts[0]!.msg, /^Cannot connect to NATS; retrying in \d+\.\d s$/);
      assert.equal(await readyz(), 503);
      assert.equal(w.running().length, 3, 'a workload gave up while NATS was down');

      nats = await startNatsServer({ dataDir: join(dir, 'nats'), port });
      await waitFor(
        'the mapper to be ready',
        async () => ((await readyz()) === 200 ? true : undefined),
        30_000,
      );
      assert.ok(
        logLines(mapper.logFile).some((l) => l.msg === 'Connected to NATS'),
        'the mapper logs its first connect',
      );
      await waitFor('every object saved', () => (idCounts(sink).size === 5000 ? true : undefined));

      // A restart of nats-server: every workload must notice and come back by itself.
      const live = w.running();
      assert.ok(live.length >= 2, `mapper and saver still run: ${live.map((l) => l.name).join(', ')}`);
      const reconnected = (x: Workload) => logLines(x.logFile).some((l) => l.msg === 'Reconnected to NATS');
      assert.deepEqual(live.filter(reconnected), [], 'no reconnect before the restart');
      await nats.stop();
      await waitFor('the mapper to report not ready', async () =>
        (await readyz()) === 503 ? true : undefined,
      );
      await nats.start();
      await waitFor(
        'every workload to log its reconnect',
        () => (live.every(reconnected) ? true : undefined),
        30_000,
      );
      await waitFor('the mapper to be ready again', async () =>
        (await readyz()) === 200 ? true : undefined,
      );
    } finally {
      await w.stopAll();
      await nats?.stop();
    }
    assert.equal(exactlyOnce(idCounts(sink), 5000), '');
  });

  it('SIGTERM during long work exits within 10 s and hands the chunks back at once', async () => {
    const dir = tempDir('sigterm');
    const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    const nc = await connectNats({ servers: nats.url, name: 'test' });
    const s = spec({
      source: { generate: { objects: 400 } },
      saver: { sink: { path: join(dir, 'out.jsonl') } },
      mapper: { concurrency: 4, ackWaitSeconds: 60, work: { waitMs: { min: 60_000, max: 60_000 } } },
    });
    const w = workloadSet('sigterm', s, nats.url, dir);
    try {
      const reader = await progressReader(nc, 'sigterm', 4);
      w.start('fetcher', 'fetcher-0');
      const m = w.start('mapper', 'mapper-0');
      await waitFor('the mapper to hold 4 chunks', async () =>
        (await reader.read()).lag.mapper?.ackPending === 4 ? true : undefined,
      );
      const t0 = Date.now();
      m.child.kill('SIGTERM');
      const code = await m.exited;
      const took = Date.now() - t0;
      assert.equal(code, 0);
      assert.ok(took < 10_000, `exit took ${took} ms`);
      // Handed back (nak), not left to time out after 60 s of ackWait: a fresh mapper gets them now.
      w.start('mapper', 'mapper-1', { DWK_WORK_WAIT_MIN_MS: '0', DWK_WORK_WAIT_MAX_MS: '0' });
      w.start('saver', 'saver-0');
      await waitFor(
        'the 4 chunks to be saved well before ackWait',
        async () => ((await reader.read()).progress.chunksSaved === 4 ? true : undefined),
        15_000,
      );
    } finally {
      await w.stopAll();
      await nc.close();
      await nats.stop();
    }
  });
  it('a chunk whose work outlasts ackWait is kept by progress acks: never redelivered, saved once', async () => {
    const dir = tempDir('progress-acks');
    const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    const nc = await connectNats({ servers: nats.url, name: 'test' });
    const sink = join(dir, 'out.jsonl');
    const chunks = 8;
    // Each chunk takes 3.5 ackWaits: only m.working() every ackWait/3 keeps JetStream from redelivering it.
    const s = spec({
      source: { generate: { objects: chunks * 100 } },
      saver: { sink: { path: sink } },
      mapper: { concurrency: 4, ackWaitSeconds: 1, work: { waitMs: { min: 3500, max: 3500 } } },
    });
    const w = workloadSet('slow', s, nats.url, dir);
    const t = topology('slow');
    const metricsPort = await freePort();
    try {
      const reader = await progressReader(nc, 'slow', chunks);
      w.start('fetcher', 'fetcher-0');
      w.start('mapper', 'mapper-0', { DWK_HTTP_PORT: String(metricsPort) });
      w.start('saver', 'saver-0');
      let mostRedelivered = 0; // the consumer counts only unacked redeliveries, so sample it during the run
      await waitFor(
        `all ${chunks} chunks saved`,
        async () => {
          const { progress, lag } = await reader.read();
          mostRedelivered = Math.max(mostRedelivered, lag.mapper?.redelivered ?? 0);
          return progress.chunksSaved === chunks ? true : undefined;
        },
        60_000,
      );
      assert.equal(mostRedelivered, 0, 'the mapper consumer redelivered a chunk');
      const info = await (await jetstreamManager(nc)).consumers.info(t.streams.chunks, t.consumers.mapper);
      assert.equal(info.delivered.consumer_seq, chunks, 'one delivery per chunk, none again');
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.equal(metricValue(metrics, 'dwk_redeliveries_total'), 0);
      assert.equal(metricValue(metrics, 'dwk_chunks_mapped_total'), chunks);
    } finally {
      await w.stopAll();
      await nc.close();
      await nats.stop();
    }
    assert.equal(exactlyOnce(idCounts(sink), chunks * 100), '');
  });
});
