/**
 * `dwk status --local` shows the nats-server's own figures (from the monitoring port of the
 * server dwk started) and what the broadcaster did, next to the pipeline.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ensureTodoStream, publishTodoEvent } from '../../lib/events/todo.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { EXIT } from '../../lib/errors.ts';
import { TODOS } from '../../lib/nats/topology.ts';
import { startReceiver } from '../broadcaster/receiver.ts';
import { consumerReady } from '../broadcaster/support.ts';
import { dwk, projectDir, startUpWithEnv, statusJson, waitFor, writePipeline } from './helpers.ts';

const TOKEN = 'fIgUrEsSeCrEt-5a6b7c';

describe('dwk status --local figures', () => {
  it('shows NATS server counters and rates and the broadcaster outcomes, in JSON and in text', async () => {
    const receiver = await startReceiver({ type: 'generic', token: TOKEN });
    const dir = projectDir('figures');
    const file = writePipeline(dir, 'figs', {
      source: { generate: { objects: 2000 } },
      mapper: { replicas: 1, work: { waitMs: { min: 100, max: 200 } } },
      broadcaster: { replicas: 2, target: { type: 'generic', urlFromEnv: 'FIGS_HOOK' } },
    });
    const up = startUpWithEnv(dir, { FIGS_HOOK: receiver.secret }, '-f', file);
    try {
      const running = await waitFor('the broadcasters running', async () => {
        const s = await statusJson(dir);
        return s.components.broadcaster?.running === 2 ? s : undefined;
      });
      const nc = await connectNats({ servers: running.nats.url, name: 'test' });
      try {
        await ensureTodoStream(await jetstreamManager(nc)); // as a backend does before publishing
        // The broadcaster sends events from when its consumer exists (deliver policy "new").
        await consumerReady(nc, 'figs', TODOS.stream);
        const js = jetstream(nc);
        for (let i = 0; i < 5; i++) {
          await publishTodoEvent(js, {
            id: `t${i}`,
            title: `item ${i}`,
            done: false,
            action: 'created',
            at: '2026-12-01T00:00:00Z',
          });
        }
        // The same event again (same event id): the stream drops it, nobody counts it.
        await publishTodoEvent(js, {
          id: 't0',
          title: 'item 0',
          done: false,
          action: 'created',
          at: '2026-12-01T00:00:00Z',
        });
      } finally {
        await nc.close();
      }
      const s = await waitFor(
        'five deliveries counted',
        async () => {
          const st = await statusJson(dir);
          return st.broadcast?.delivered === 5 && st.natsServer?.rates ? st : undefined;
        },
        30_000,
      ).catch(async (err: Error) => {
        throw new Error(
          `${err.message}; last status ${JSON.stringify(await statusJson(dir))}; receiver got ${receiver.delivered.length}, invalid ${receiver.invalid.join('; ')}`,
        );
      });
      assert.equal(receiver.delivered.length, 5);
      assert.deepEqual(s.broadcast, {
        delivered: 5,
        failed: 0,
        deadLettered: 0,
        skippedDuplicate: 0,
        unknown: 0,
      });
      const server = s.natsServer;
      assert.ok(server);
      assert.match(server.version, /^2\.\d+\.\d+$/);
      // dwk itself plus fetcher, mapper, saver and two broadcasters at least.
      assert.ok(server.connections >= 6, `connections: ${server.connections}`);
      assert.ok(server.totals.inMsgs > 0 && server.totals.outBytes > 0, JSON.stringify(server.totals));
      assert.ok(server.jetstream && server.jetstream.streams >= 5, JSON.stringify(server.jetstream));
      assert.equal(typeof server.rates?.inMsgs, 'number');

      const text = await dwk(dir, 'status', '--local', '--once');
      assert.equal(text.code, EXIT.ok, text.stderr);
      assert.match(
        text.stdout,
        /^Server:\s+nats-server 2\.\d+\.\d+ · \d+ connections · 0 slow consumers · in [\d,]+ msg\/s/m,
      );
      assert.match(
        text.stdout,
        /^Broadcast:\s+5 delivered · 0 failed \(retried\) · 0 dead-lettered · 0 skipped as duplicates · 0 unknown$/m,
      );
      assert.doesNotMatch(text.stdout + JSON.stringify(s), new RegExp(TOKEN));
    } finally {
      up.kill('SIGTERM');
      await up;
      await receiver.close();
    }
  });
});
