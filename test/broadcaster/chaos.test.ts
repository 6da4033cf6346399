/**
 * Six broadcaster processes, 10,000 todo events, one random replica SIGKILLed every second and
 * started again: the receiver must never see an event twice, and every event it never saw must
 * be on record as "unknown" (its replica died while sending), never silently lost. A replica
 * killed after claiming but before sending leaves a claim that a redelivery takes over and sends.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { publishTodoEvent, todoEventId, type TodoEvent } from '../../lib/events/todo.ts';
import { TODOS, topology } from '../../lib/nats/topology.ts';
import { waitFor } from '../support/workloads.ts';
import { startReceiver, type Receiver } from './receiver.ts';
import {
  assertNoSecretInLogs,
  broadcasters,
  claimStates,
  consumerReady,
  startBed,
  type Bed,
} from './support.ts';

const EVENTS = 10_000;
const REPLICAS = 6;
const TOKEN = 'cHaOsSeCrEt-0d1e2a3d4b5e6e7f';
const PIPELINE = 'chaos';

const todo = (i: number): TodoEvent => ({
  id: String(i),
  title: `item ${i}`,
  done: false,
  action: 'created',
  at: '2026-01-01T00:00:00Z',
});

describe('broadcaster under SIGKILL', { timeout: 420_000 }, () => {
  let bed: Bed;
  let receiver: Receiver;
  before(async () => {
    bed = await startBed('chaos');
    receiver = await startReceiver({ type: 'generic', token: TOKEN });
  });
  after(async () => {
    await receiver.close();
    await bed.close();
  });

  it('6 replicas, 10,000 events, a replica killed every second: no duplicates, every miss on record', async () => {
    const { set, env } = broadcasters(bed, PIPELINE, 'generic', receiver, {
      env: { DWK_ACK_WAIT_SECONDS: '3', DWK_TARGET_TIMEOUT_MS: '1000', DWK_LOG_LEVEL: 'info' },
    });
    const name = (i: number) => `broadcaster-${i}`;
    const live = new Map<number, ReturnType<typeof set.start>>();
    for (let i = 0; i < REPLICAS; i++) live.set(i, set.start('broadcaster', name(i), env));
    await consumerReady(bed.nc, PIPELINE, TODOS.stream);
    const jsm = await jetstreamManager(bed.nc);
    const t = topology(PIPELINE);

    let kills = 0;
    let chaos = true;
    const killer = (async () => {
      while (chaos) {
        await sleep(1000);
        if (!chaos) break;
        const i = Math.floor(Math.random() * REPLICAS);
        const w = live.get(i);
        if (w) await set.kill(w, 'SIGKILL');
        kills++;
        live.set(i, set.start('broadcaster', name(i), env));
      }
    })();

    // Published while the replicas die, in bursts, as a busy backend would.
    const started = Date.now();
    for (let i = 0; i < EVENTS; i += 250) {
      await Promise.all(
        Array.from({ length: Math.min(250, EVENTS - i) }, (_, k) => publishTodoEvent(bed.js, todo(i + k))),
      );
      await sleep(100);
    }
    await waitFor(
      'every event handled',
      async () => {
        const c = await jsm.consumers.info(TODOS.stream, t.consumers.broadcaster);
        return c.num_pending === 0 && c.num_ack_pending === 0 && c.delivered.stream_seq >= EVENTS
          ? c
          : undefined;
      },
      300_000,
    );
    chaos = false;
    await killer;
    const seconds = (Date.now() - started) / 1000;
    await set.stopAll();

    const counts = receiver.counts();
    const duplicates = [...counts].filter(([, n]) => n > 1);
    const states = await claimStates(bed.nc, PIPELINE);
    const byState = new Map<string, number>();
    for (const r of states.values()) byState.set(r.state, (byState.get(r.state) ?? 0) + 1);
    const takenOver = [...states.values()].filter((r) => r.tookOverFrom).length;
    const missing: number[] = [];
    for (let i = 0; i < EVENTS; i++) if (!counts.has(`Todo created: item ${i}`)) missing.push(i);
    const silentlyLost = missing.filter((i) => states.get(todoEventId(todo(i)))?.state !== 'unknown');
    console.log(
      `chaos: ${EVENTS} events, ${REPLICAS} replicas, ${kills} SIGKILLs in ${seconds.toFixed(1)} s; ` +
        `delivered ${counts.size}, duplicates ${duplicates.length}, missing ${missing.length} ` +
        `(${((100 * missing.length) / EVENTS).toFixed(3)}%); claims ${JSON.stringify(Object.fromEntries(byState))}, ` +
        `${takenOver} claims taken over`,
    );

    assert.deepEqual(receiver.invalid, []);
    assert.deepEqual(duplicates, [], 'no event reached the receiver twice');
    assert.equal(receiver.delivered.length, counts.size);
    assert.ok(kills >= 5, `replicas were killed during the run (${kills})`);
    assert.deepEqual(silentlyLost, [], 'every missing event is recorded as unknown');
    assert.equal(states.size, EVENTS, 'every event was claimed once');
    assert.ok(missing.length <= (byState.get('unknown') ?? 0));
    // The aim is under 0.1 % (measured 0.02-0.11 %, mean 0.06 %, over ten runs). What is left is
    // a kill between asking NATS for "sending" and writing the body, one NATS round trip per event,
    // so misses grow with the number of kills and the load: the bound leaves room for a slow machine.
    assert.ok(missing.length / EVENTS < 0.003, `missing ${missing.length} of ${EVENTS}`);
    assertNoSecretInLogs(bed.dir, [TOKEN]);
  });
});
