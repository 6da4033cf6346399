/**
 * The outcome classes through real processes: duplicates published by a backend, a target that
 * rate-limits, rejects, answers ambiguously, is down, or loses a sender mid-POST.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { publishTodoEvent, todoEventId, type TodoEvent } from '../../lib/events/todo.ts';
import { freePort } from '../../lib/nats/server.ts';
import { HEADERS, TODOS, topology } from '../../lib/nats/topology.ts';
import { waitFor } from '../support/workloads.ts';
import { startReceiver } from './receiver.ts';
import {
  assertNoSecretInLogs,
  broadcasters,
  claimStates,
  consumerReady,
  startBed,
  type Bed,
} from './support.ts';

const TOKEN = 'dElIvErYsEcReT-9f8e7d6c5b4a';

const todo = (id: string, title = `item ${id}`): TodoEvent => ({
  id,
  title,
  done: false,
  action: 'created',
  at: '2026-01-01T00:00:00Z',
});

/** Dead letters of a pipeline's broadcaster: verdict (subject tail) → event id → reason. */
async function deadLetters(bed: Bed, pipeline: string) {
  const jsm = await jetstreamManager(bed.nc);
  const t = topology(pipeline);
  const info = await jsm.streams.info(t.streams.broadcastDlq);
  const out: Array<{ verdict: string; eventId: string; reason: string }> = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(t.streams.broadcastDlq, { seq });
    if (!m) continue;
    out.push({
      verdict: m.subject.split('.').at(-1) ?? '',
      eventId: m.header.get(HEADERS.eventId),
      reason: m.header.get(HEADERS.reason),
    });
  }
  return out;
}

describe('broadcaster outcomes', { timeout: 300_000 }, () => {
  let bed: Bed;
  before(async () => (bed = await startBed('delivery')));
  after(async () => {
    assertNoSecretInLogs(bed.dir, [TOKEN]);
    await bed.close();
  });

  it('sends an event published twice by a backend (same event id) once', async () => {
    const pipeline = 'twice';
    const receiver = await startReceiver({ type: 'generic', token: TOKEN });
    const { set, env } = broadcasters(bed, pipeline, 'generic', receiver, {
      env: { DWK_BROADCAST_CONCURRENCY: '4' },
    });
    try {
      set.start('broadcaster', 'broadcaster-a', env);
      set.start('broadcaster', 'broadcaster-b', env);
      await consumerReady(bed.nc, pipeline, TODOS.stream);
      const events = Array.from({ length: 200 }, (_, i) => todo(`t${i}`));
      // A retrying backend: every event twice at once, then all of them again later.
      const first = await Promise.all(
        events.flatMap((e) => [publishTodoEvent(bed.js, e), publishTodoEvent(bed.js, e)]),
      );
      assert.equal(first.filter((p) => p.duplicate).length, 200);
      await waitFor('200 deliveries', () => receiver.delivered.length >= 200 || undefined, 60_000);
      const again = await Promise.all(events.map((e) => publishTodoEvent(bed.js, e)));
      assert.ok(again.every((p) => p.duplicate));
      await sleep(2000);
      const counts = receiver.counts();
      assert.equal(counts.size, 200);
      assert.deepEqual(
        [...counts].filter(([, n]) => n !== 1),
        [],
      );
    } finally {
      await set.stopAll();
      await receiver.close();
    }
  });

  it('waits as long as a 429 says, and every event still arrives once', async () => {
    const pipeline = 'limited';
    const RETRY_S = 1;
    let windowEnd = 0;
    const limitedFor = 3000;
    const receiver = await startReceiver({
      type: 'discord',
      token: TOKEN,
      script: () => {
        const now = Date.now();
        if (windowEnd === 0) windowEnd = now + limitedFor;
        if (now >= windowEnd) return undefined;
        // Discord's shape: Retry-After header and retry_after (float seconds) in the body.
        return {
          status: 429,
          headers: { 'retry-after': String(RETRY_S), 'x-ratelimit-scope': 'user' },
          body: JSON.stringify({
            message: 'You are being rate limited.',
            retry_after: RETRY_S,
            global: false,
          }),
        };
      },
    });
    const { set, env } = broadcasters(bed, pipeline, 'discord', receiver, {
      env: { DWK_BROADCAST_CONCURRENCY: '2' },
    });
    try {
      set.start('broadcaster', 'broadcaster-a', env);
      set.start('broadcaster', 'broadcaster-b', env);
      await consumerReady(bed.nc, pipeline, TODOS.stream);
      await Promise.all(Array.from({ length: 100 }, (_, i) => publishTodoEvent(bed.js, todo(`r${i}`))));
      await waitFor('100 deliveries', () => receiver.delivered.length >= 100 || undefined, 60_000);
      await sleep(1000);
      const counts = receiver.counts();
      assert.equal(counts.size, 100);
      assert.deepEqual(
        [...counts].filter(([, n]) => n !== 1),
        [],
      );
      assert.ok(
        receiver.delivered.every((d) => d.at >= windowEnd),
        'nothing accepted before the wait ended',
      );
      // Honouring Retry-After: after a 429 goes out, no request comes until it has passed (a
      // request already on its way when the 429 left may still arrive just after it).
      const limited = receiver.requests.filter((r) => r.status === 429).map((r) => r.at);
      const early = receiver.requests.filter((r) =>
        limited.some((t) => r.at > t + 300 && r.at < t + RETRY_S * 1000 - 50),
      );
      assert.deepEqual(early, [], 'requests made while asked to wait');
      assert.ok(limited.length <= 24, `${limited.length} requests were answered 429`);
    } finally {
      await set.stopAll();
      await receiver.close();
    }
  });

  it('dead-letters a rejected event with its reason, and never re-sends an ambiguous one', async () => {
    const pipeline = 'verdicts';
    const receiver = await startReceiver({
      type: 'slack',
      token: TOKEN,
      script: (text) => {
        if (text.endsWith('reject me')) return { status: 400, body: 'invalid_blocks' };
        if (text.endsWith('server error')) return { status: 500, body: 'rollup_error' };
        if (text.endsWith('slow')) return 'hang';
        if (text.endsWith('cut')) return 'destroy';
        return undefined;
      },
    });
    const { set, env } = broadcasters(bed, pipeline, 'slack', receiver, {
      env: { DWK_TARGET_TIMEOUT_MS: '1000', DWK_ACK_WAIT_SECONDS: '3' },
    });
    try {
      set.start('broadcaster', 'broadcaster-a', env);
      await consumerReady(bed.nc, pipeline, TODOS.stream);
      const titles = ['ok 1', 'reject me', 'server error', 'slow', 'cut', 'ok 2'];
      for (const [i, title] of titles.entries()) await publishTodoEvent(bed.js, todo(`v${i}`, title));
      const states = await waitFor('six settled claims', async () => {
        const s = await claimStates(bed.nc, pipeline);
        return [...s.values()].filter((r) => r.state !== 'claimed').length === 6 ? s : undefined;
      });
      await sleep(4000); // longer than the ack wait: a redelivery would show now
      const state = (i: number) => states.get(todoEventId(todo(`v${i}`)))?.state;
      assert.deepEqual([0, 1, 2, 3, 4, 5].map(state), [
        'sent',
        'failed',
        'unknown',
        'unknown',
        'unknown',
        'sent',
      ]);
      for (const title of titles) {
        assert.equal(
          receiver.requests.filter((r) => r.text === `Todo created: ${title}`).length,
          1,
          `${title} was requested once`,
        );
      }
      const dlq = await deadLetters(bed, pipeline);
      assert.deepEqual(dlq.map((d) => `${d.verdict} ${d.eventId}`).sort(), [
        `rejected ${todoEventId(todo('v1'))}`,
        `unknown ${todoEventId(todo('v2'))}`,
        `unknown ${todoEventId(todo('v3'))}`,
        `unknown ${todoEventId(todo('v4'))}`,
      ]);
      assert.match(dlq.find((d) => d.verdict === 'rejected')?.reason ?? '', /HTTP 400: invalid_blocks/);
    } finally {
      await set.stopAll();
      await receiver.close();
    }
  });

  it('keeps events while the target is down and sends each once when it comes back', async () => {
    const pipeline = 'down';
    const port = await freePort();
    const placeholder = await startReceiver({ type: 'telegram', token: TOKEN, chatId: '123', port });
    await placeholder.close(); // the URL is known, nothing listens there yet
    const { set, env } = broadcasters(bed, pipeline, 'telegram', placeholder, { chatId: '123' });
    try {
      set.start('broadcaster', 'broadcaster-a', env);
      set.start('broadcaster', 'broadcaster-b', env);
      await consumerReady(bed.nc, pipeline, TODOS.stream);
      await Promise.all(Array.from({ length: 20 }, (_, i) => publishTodoEvent(bed.js, todo(`d${i}`))));
      await sleep(4000);
      const receiver = await startReceiver({ type: 'telegram', token: TOKEN, chatId: '123', port });
      try {
        await waitFor('20 deliveries', () => receiver.delivered.length >= 20 || undefined, 90_000);
        await sleep(1000);
        assert.equal(receiver.counts().size, 20);
        assert.ok([...receiver.counts().values()].every((n) => n === 1));
      } finally {
        await receiver.close();
      }
    } finally {
      await set.stopAll();
    }
  });

  it('records a claim left by a replica killed mid-POST as unknown and never sends it again', async () => {
    const pipeline = 'orphan';
    const receiver = await startReceiver({
      type: 'generic',
      token: TOKEN,
      script: (text) => (text.endsWith('orphan') ? 'hang' : undefined),
    });
    const { set, env } = broadcasters(bed, pipeline, 'generic', receiver, {
      env: { DWK_TARGET_TIMEOUT_MS: '3000', DWK_ACK_WAIT_SECONDS: '4' },
    });
    try {
      const first = set.start('broadcaster', 'broadcaster-a', env);
      await consumerReady(bed.nc, pipeline, TODOS.stream);
      await publishTodoEvent(bed.js, todo('o1', 'orphan'));
      await waitFor('the POST at the receiver', () => receiver.requests.length > 0 || undefined);
      await set.kill(first, 'SIGKILL');
      set.start('broadcaster', 'broadcaster-b', env);
      const record = await waitFor(
        'the claim recorded unknown',
        async () => {
          const r = (await claimStates(bed.nc, pipeline)).get(todoEventId(todo('o1')));
          return r?.state === 'unknown' ? r : undefined;
        },
        30_000,
      );
      assert.match(record.reason ?? '', /abandoned by broadcaster-a/);
      await publishTodoEvent(bed.js, todo('o2', 'after'));
      await waitFor('the next event', () => receiver.delivered.length > 0 || undefined);
      assert.equal(receiver.requests.filter((r) => r.text === 'Todo created: orphan').length, 1);
      const dlq = await deadLetters(bed, pipeline);
      assert.deepEqual(
        dlq.map((d) => d.verdict),
        ['unknown'],
      );
    } finally {
      await set.stopAll();
      await receiver.close();
    }
  });
});
