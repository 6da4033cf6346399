/**
 * The two-phase claim against a real nats-server: the KV compare-and-set rules in Claims, then the
 * deliverer's use of them with a real HTTP receiver (a sender that stopped after claiming, one
 * that stopped while sending, one that is only slow, a delivery that came too late).
 */
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { headers as natsHeaders } from '@nats-io/transport-node';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../lib/log.ts';
import { HEADERS, TODOS, topology } from '../../lib/nats/topology.ts';
import { Claims, type ClaimEntry } from '../../workloads/broadcaster/claims.ts';
import { createDeliverer } from '../../workloads/broadcaster/deliver.ts';
import { Gate } from '../../workloads/broadcaster/gate.ts';
import { createPoster, type Poster } from '../../workloads/broadcaster/post.ts';
import { ensureBroadcasterNats } from '../../workloads/broadcaster/setup.ts';
import { requestBody } from '../../workloads/broadcaster/target.ts';
import { createMetrics } from '../../workloads/metrics.ts';
import { natsFixture, waitFor } from '../support/workloads.ts';
import { startReceiver, type Receiver } from './receiver.ts';

const PIPELINE = 'claims';
const t = topology(PIPELINE);
const at = (seq: number, delivery: number) => ({ stream: TODOS.stream, seq, delivery });

describe('the two-phase claim', () => {
  const f = natsFixture('bc-claims');
  let kv: KV;
  before(async () => {
    kv = await new Kvm(f.nc).create(t.buckets.claims, { history: 1 });
  });

  it('is taken once: the create wins for one sender, the others see its record', async () => {
    const a = new Claims(kv, 'a');
    const b = new Claims(kv, 'b');
    const mine = await a.take('take', at(1, 1));
    assert.equal(mine.owned, true);
    assert.equal(mine.record.state, 'claimed');
    assert.equal(mine.record.delivery, 1);
    const theirs = await b.take('take', at(1, 1));
    assert.equal(theirs.owned, false);
    assert.equal(theirs.record.owner, 'a');
    assert.equal(theirs.revision, mine.revision);
  });

  it('is marked sending and settled on the revision it last wrote', async () => {
    const a = new Claims(kv, 'a');
    const held = await a.take('settle', at(2, 1));
    const sending = await a.markSending(held);
    assert.ok(sending);
    assert.equal(sending.record.state, 'sending');
    assert.ok(sending.revision > held.revision);
    assert.equal(await a.settle(held, 'sent'), false, 'the revision before "sending" is stale');
    assert.equal(await a.settle(sending, 'sent'), true);
    assert.equal((await a.get('settle'))?.state, 'sent');
  });

  it('is taken over from a sender that stopped before sending, and that sender is fenced', async () => {
    const a = new Claims(kv, 'a');
    const b = new Claims(kv, 'b');
    const stale = await a.take('fence', at(3, 1)); // a stops (or stalls) here
    const found = await b.take('fence', at(3, 2));
    assert.equal(found.owned, false);
    const mine = await b.takeOver(found, at(3, 2));
    assert.ok(mine);
    assert.deepEqual(
      [mine.record.state, mine.record.owner, mine.record.tookOverFrom, mine.record.delivery],
      ['claimed', 'b', 'a', 2],
    );
    assert.notEqual(mine.record.claim, stale.record.claim);
    // a was only slow: its step to "sending" fails, so it never writes the body.
    assert.equal(await a.markSending(stale), undefined);
    assert.equal(await a.settle(stale, 'sent'), false);
    const sending = await b.markSending(mine);
    assert.ok(sending);
    assert.equal(await b.settle(sending, 'sent'), true);
    assert.equal((await b.get('fence'))?.owner, 'b');
  });

  it('lets exactly one of two racing deliveries take over', async () => {
    const a = new Claims(kv, 'a');
    await a.take('race', at(4, 1));
    const b = new Claims(kv, 'b');
    const c = new Claims(kv, 'c');
    const [fb, fc] = [await b.take('race', at(4, 2)), await c.take('race', at(4, 3))];
    const won = await Promise.all([b.takeOver(fb, at(4, 2)), c.takeOver(fc, at(4, 3))]);
    assert.equal(won.filter(Boolean).length, 1);
  });

  it('is not taken over once its sender marked it sending, even from a read made before', async () => {
    const a = new Claims(kv, 'a');
    const b = new Claims(kv, 'b');
    const held = await a.take('late', at(5, 1));
    const found = await b.take('late', at(5, 2)); // read while still "claimed"
    assert.ok(await a.markSending(held));
    assert.equal(await b.takeOver(found, at(5, 2)), undefined);
    const again = await b.take('late', at(5, 2));
    assert.equal(again.record.state, 'sending');
    assert.equal(await b.takeOver(again, at(5, 2)), undefined, '"sending" is never taken over');
    // The redelivery records it unknown; the sender, if alive, can no longer claim it was its.
    assert.equal(await b.settle(again, 'unknown', 'abandoned by a while sending'), true);
    assert.equal((await b.get('late'))?.state, 'unknown');
  });

  it('is given back after an unclear "sending" only while it is still ours and unsettled', async () => {
    const a = new Claims(kv, 'a');
    const b = new Claims(kv, 'b');
    const held = await a.take('give', at(6, 1));
    await a.markSending(held); // stored, but a never heard: it holds the "claimed" revision
    assert.equal(await a.giveBack(held), true);
    assert.equal(await a.get('give'), undefined);
    assert.equal((await b.take('give', at(6, 2))).owned, true, 'the next delivery claims it afresh');

    const held2 = await a.take('give2', at(7, 1));
    const sending = await a.markSending(held2);
    assert.ok(sending);
    const found = await b.take('give2', at(7, 2));
    assert.ok(await b.settle(found, 'unknown', 'abandoned'));
    assert.equal(await a.giveBack(held2), false, 'recorded unknown by someone else: kept');
    assert.equal((await a.get('give2'))?.state, 'unknown');
  });

  it('is released after a certain "not sent" at whichever step it had reached', async () => {
    const a = new Claims(kv, 'a');
    const held = await a.take('release', at(8, 1));
    const sending = await a.markSending(held);
    assert.ok(sending);
    await assert.rejects(a.release(held), /wrong last sequence/i);
    await a.release(sending);
    assert.equal(await a.get('release'), undefined);
  });
});

/** A message as the deliverer sees it, recording what it was told to do. */
function delivery(seq: number, count: number, title: string) {
  const calls: string[] = [];
  const h = natsHeaders();
  const eventId = `claims-test-${seq}`;
  h.set(HEADERS.msgId, eventId);
  const text = JSON.stringify({ id: String(seq), title, done: false, action: 'created', at: 'x' });
  const m = {
    subject: 'todos.created',
    seq,
    data: new TextEncoder().encode(text),
    headers: h,
    info: { stream: TODOS.stream, deliveryCount: count },
    string: () => text,
    ack: () => calls.push('ack'),
    nak: () => calls.push('nak'),
    working: () => calls.push('working'),
  } as unknown as JsMsg;
  return { m, calls, eventId };
}

/** A poster whose connection takes until `open` resolves before asking: a slow, live sender. */
const slowToConnect = (inner: Poster, open: Promise<void>): Poster => ({
  post: (body, o) =>
    inner.post(body, {
      beforeBody: async () => {
        await open;
        return o?.beforeBody ? o.beforeBody() : true;
      },
    }),
  close: () => inner.close(),
});

describe('the deliverer with two-phase claims', { timeout: 60_000 }, () => {
  const f = natsFixture('bc-claims-deliver');
  let kv: KV;
  let receiver: Receiver;
  const log = createLogger({ level: 'silent' });
  const posters: Poster[] = [];

  before(async () => {
    await ensureBroadcasterNats(await jetstreamManager(f.nc), t, ['todos.>'], 30);
    kv = await new Kvm(f.nc).create(t.buckets.claims, { history: 1 });
    receiver = await startReceiver({ type: 'generic', token: 'claims-test-token' });
  });
  after(async () => {
    for (const p of posters) p.close();
    await receiver.close();
  });

  const replica = (owner: string, wrap: (p: Poster) => Poster = (p) => p) => {
    const poster = wrap(createPoster(new URL(receiver.secret), { timeoutMs: 2000, maxSockets: 2 }));
    posters.push(poster);
    const claims = new Claims(kv, owner);
    const metrics = createMetrics({ pipeline: PIPELINE, component: 'broadcaster' });
    const deliver = createDeliverer({
      targetType: 'generic',
      body: (text) => requestBody({ type: 'generic', chatId: undefined }, text),
      poster,
      claims,
      gate: new Gate(undefined, log),
      js: jetstream(f.nc),
      topology: t,
      log,
      metrics,
      secrets: [],
    });
    const count = async (name: 'broadcastFailed' | 'broadcastUnknown', reason: string) =>
      (await metrics[name].get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
    return { deliver, claims, count };
  };
  const requestsFor = (title: string) =>
    receiver.requests.filter((r) => r.text === `Todo created: ${title}`).length;

  it('sends an event whose first sender stopped after claiming, once', async () => {
    const dead = new Claims(kv, 'dead');
    const first = delivery(101, 1, 'stopped early');
    await dead.take(first.eventId, at(101, 1)); // killed before "sending"
    const b = replica('b');
    const again = delivery(101, 2, 'stopped early');
    await b.deliver(again.m);
    assert.equal(requestsFor('stopped early'), 1);
    assert.deepEqual(again.calls, ['working', 'ack']);
    const r = await b.claims.get(again.eventId);
    assert.deepEqual([r?.state, r?.owner, r?.tookOverFrom], ['sent', 'b', 'dead']);
    assert.equal(await b.count('broadcastFailed', 'claim_taken_over'), 1);
  });

  it('fences a sender that was only slow: the one that took over sends, the slow one sends nothing', async () => {
    let open = () => undefined as void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const slow = replica('slow', (p) => slowToConnect(p, opened));
    const first = delivery(102, 1, 'slow sender');
    const slowDone = slow.deliver(first.m);
    await waitFor('the slow claim', async () => (await slow.claims.get(first.eventId)) ?? undefined);
    const b = replica('b');
    const again = delivery(102, 2, 'slow sender'); // redelivered after the ack wait
    await b.deliver(again.m);
    assert.deepEqual(again.calls, ['working', 'ack']);
    open();
    await slowDone;
    assert.deepEqual(first.calls, [], 'the fenced delivery neither acks nor naks');
    await sleep(200);
    assert.equal(requestsFor('slow sender'), 1);
    assert.equal((await b.claims.get(again.eventId))?.owner, 'b');
  });

  it('records a claim left "sending" as unknown, dead-letters it and never sends it', async () => {
    const dead = new Claims(kv, 'dead');
    const first = delivery(103, 1, 'stopped mid-send');
    const held = await dead.take(first.eventId, at(103, 1));
    assert.ok(await dead.markSending(held)); // killed after this, before the outcome
    const b = replica('b');
    const again = delivery(103, 2, 'stopped mid-send');
    await b.deliver(again.m);
    assert.equal(requestsFor('stopped mid-send'), 0);
    assert.deepEqual(again.calls, ['ack']);
    const r = await b.claims.get(again.eventId);
    assert.equal(r?.state, 'unknown');
    assert.match(r?.reason ?? '', /abandoned by dead while sending/);
    assert.equal(await b.count('broadcastUnknown', 'abandoned_claim'), 1);
    const jsm = await jetstreamManager(f.nc);
    const dlq = await jsm.streams.getMessage(t.streams.broadcastDlq, {
      last_by_subj: t.subjects.broadcastDlqOf('unknown'),
    });
    assert.equal(dlq?.header.get(HEADERS.eventId), again.eventId);
  });

  it('leaves a claim of a later delivery alone when an old copy of the message turns up', async () => {
    const newer = new Claims(kv, 'newer');
    const later = delivery(104, 3, 'old copy');
    await newer.take(later.eventId, at(104, 3));
    const a = replica('a');
    const old = delivery(104, 2, 'old copy');
    await a.deliver(old.m);
    assert.deepEqual(old.calls, [], 'no ack: the later delivery settles and acks');
    assert.equal(requestsFor('old copy'), 0);
    assert.equal((await a.claims.get(old.eventId))?.owner, 'newer');
  });

  it('gives its claim back and retries when it cannot tell whether "sending" was stored', async () => {
    class Unclear extends Claims {
      override async markSending(held: ClaimEntry): Promise<ClaimEntry | undefined> {
        await super.markSending(held);
        throw new Error('TIMEOUT'); // stored, but the answer was lost
      }
    }
    const a = replica('a');
    const poster = createPoster(new URL(receiver.secret), { timeoutMs: 2000, maxSockets: 1 });
    posters.push(poster);
    const deliver = createDeliverer({
      targetType: 'generic',
      body: (text) => requestBody({ type: 'generic', chatId: undefined }, text),
      poster,
      claims: new Unclear(kv, 'unclear'),
      gate: new Gate(undefined, log),
      js: jetstream(f.nc),
      topology: t,
      log,
      metrics: createMetrics({ pipeline: PIPELINE, component: 'broadcaster' }),
      secrets: [],
    });
    const first = delivery(105, 1, 'unclear mark');
    await deliver(first.m);
    assert.deepEqual(first.calls, ['nak']);
    assert.equal(requestsFor('unclear mark'), 0);
    assert.equal(await a.claims.get(first.eventId), undefined, 'given back: the retry claims it afresh');
    const again = delivery(105, 2, 'unclear mark');
    await a.deliver(again.m);
    assert.equal(requestsFor('unclear mark'), 1);
  });
});
