/**
 * Each target's request format, checked by a local server that validates it as the real service
 * documents it, through real broadcaster processes and a real nats-server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TARGET_TYPES, type TargetType } from '../../api/v1alpha1/pipeline.ts';
import { publishTodoEvent, type TodoAction } from '../../lib/events/todo.ts';
import { TODOS, topology } from '../../lib/nats/topology.ts';
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

const TOKENS: Record<TargetType, string> = {
  discord: 'dIsCoRdSeCrEt_tok3n-A1b2C3d4E5f6G7h8I9j0',
  slack: 'sLaCkSeCrEtXoXb9a8b7c6d5e4f3',
  telegram: 'AAHteLeGrAmSeCrEt_0123456789abcdefXYZ',
  generic: 'gEnErIcSeCrEtKey7777abcd',
};

describe('broadcaster targets', { timeout: 240_000 }, () => {
  let bed: Bed;
  before(async () => (bed = await startBed('targets')));
  after(async () => {
    const lines = assertNoSecretInLogs(bed.dir, Object.values(TOKENS));
    console.log(`checked ${lines} log lines for ${Object.keys(TOKENS).length} secrets: none found`);
    await bed.close();
  });

  for (const type of TARGET_TYPES) {
    it(`posts todo and pipeline events to ${type} in its documented format`, async () => {
      const pipeline = `fmt-${type}`;
      const chatId = type === 'telegram' ? '-1001234567890' : undefined;
      const receiver = await startReceiver({ type, token: TOKENS[type], chatId });
      const { set, env } = broadcasters(bed, pipeline, type, receiver, {
        subjects: ['todos.>', `dwk.${pipeline}.events.completed`],
        chatId,
      });
      try {
        set.start('broadcaster', `broadcaster-${type}`, env);
        await consumerReady(bed.nc, pipeline, TODOS.stream);
        const actions: TodoAction[] = ['created', 'updated', 'done', 'deleted'];
        for (const [i, action] of actions.entries()) {
          await publishTodoEvent(bed.js, {
            id: `42-${type}`,
            title: 'Buy milk',
            done: action === 'done',
            action,
            at: `2026-01-01T00:00:0${i}Z`,
          });
        }
        const completed = { type: 'pipeline.completed', pipeline, chunksSaved: 10, chunksDeadLettered: 0 };
        await bed.js.publish(topology(pipeline).subjects.event('completed'), JSON.stringify(completed), {
          msgID: topology(pipeline).msgIds.event('completed', '10'),
        });
        await waitFor(
          '5 messages at the receiver',
          () => receiver.delivered.length >= 5 || undefined,
          30_000,
        );
        assert.deepEqual(receiver.invalid, []);
        assert.deepEqual(receiver.delivered.map((d) => d.text).sort(), [
          `Pipeline ${pipeline} completed: 10 chunks saved`,
          'Todo created: Buy milk',
          'Todo deleted: Buy milk',
          'Todo done: Buy milk',
          'Todo updated: Buy milk',
        ]);
        if (type === 'telegram') assert.equal(receiver.delivered[0]?.body.chat_id, -1001234567890);
        if (type === 'discord') assert.deepEqual(receiver.delivered[0]?.body.allowed_mentions, { parse: [] });
        const states = await waitFor('every claim settled as sent', async () => {
          const s = await claimStates(bed.nc, pipeline);
          return [...s.values()].filter((r) => r.state === 'sent').length === 5 ? s : undefined;
        });
        assert.equal(states.size, 5);
      } finally {
        await set.stopAll();
        await receiver.close();
      }
    });
  }

  it('escapes Slack control characters and keeps Discord mentions silent', async () => {
    for (const type of ['slack', 'discord'] as const) {
      const pipeline = `esc-${type}`;
      const receiver = await startReceiver({ type, token: TOKENS[type] });
      const { set, env } = broadcasters(bed, pipeline, type, receiver);
      try {
        set.start('broadcaster', `broadcaster-esc-${type}`, env);
        await consumerReady(bed.nc, pipeline, TODOS.stream);
        await publishTodoEvent(bed.js, {
          id: `7-${type}`,
          title: 'Milk & <eggs> @everyone',
          done: false,
          action: 'created',
          at: '2026-01-01T00:00:00Z',
        });
        await waitFor('the message', () => receiver.delivered[0]);
        assert.equal(
          receiver.delivered[0]?.text,
          type === 'slack'
            ? 'Todo created: Milk &amp; &lt;eggs&gt; @everyone'
            : 'Todo created: Milk & <eggs> @everyone',
        );
      } finally {
        await set.stopAll();
        await receiver.close();
      }
    }
  });
});
