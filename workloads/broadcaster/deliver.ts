/**
 * What happens to one event: claim it, POST it, record the outcome, ack. The claim comes first,
 * so no two replicas (and no redelivery after a crash) can send the same event; it is marked
 * "sending" once the connection is up, just before the body is written, and after that only a
 * certain "not sent" gives it back. A later delivery of the same message that finds the claim
 * still "claimed" knows its sender stopped before sending and takes it over; one that finds it
 * "sending" cannot know whether it was sent, so it is recorded unknown and never re-sent.
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TargetType } from '../../api/v1alpha1/pipeline.ts';
import type { Logger } from '../../lib/log.ts';
import { HEADERS, type Topology } from '../../lib/nats/topology.ts';
import type { Metrics } from '../metrics.ts';
import { judge, type ClaimEntry, type Claims } from './claims.ts';
import type { Gate } from './gate.ts';
import { describeEvent } from './message.ts';
import { classify, type Verdict } from './outcome.ts';
import type { Poster } from './post.ts';
import { scrub } from './target.ts';

export interface DeliverDeps {
  targetType: TargetType;
  body: (text: string) => string;
  poster: Poster;
  /** Undefined when claims are off (benchmark only: duplicates become possible). */
  claims: Claims | undefined;
  gate: Gate;
  js: JetStreamClient;
  topology: Topology;
  log: Logger;
  metrics: Metrics;
  secrets: readonly string[];
  now?: () => number;
}

const backoff = (failures: number, baseMs: number, maxMs: number) =>
  Math.min(baseMs * 2 ** Math.max(0, failures - 1), maxMs);
const jitter = () => Math.floor(Math.random() * 200);

export function eventIdOf(m: JsMsg): string {
  return m.headers?.get(HEADERS.msgId) || `${m.info.stream}:${m.seq}`;
}

export function createDeliverer(d: DeliverDeps): (m: JsMsg) => Promise<void> {
  const now = d.now ?? Date.now;
  const target = { target: d.targetType };
  let unreachable = 0; // consecutive certain failures to connect
  let broken = 0; // consecutive "this target is wrong" rejections

  const deadLetter = async (m: JsMsg, eventId: string, verdict: 'rejected' | 'unknown', reason: string) => {
    const h = natsHeaders();
    h.set(HEADERS.eventId, eventId);
    h.set(HEADERS.subject, m.subject);
    h.set(
      HEADERS.reason,
      scrub(reason, d.secrets)
        .replace(/[\r\n]+/g, ' ')
        .slice(0, 1000),
    );
    h.set(HEADERS.stage, 'broadcaster');
    for (let attempt = 1; ; attempt++) {
      try {
        await d.js.publish(d.topology.subjects.broadcastDlqOf(verdict), m.data, {
          msgID: d.topology.msgIds.broadcastDlq(eventId),
          headers: h,
        });
        return;
      } catch (err) {
        if (attempt >= 3) {
          d.log.error({ err, eventId }, 'Could not write the dead letter');
          return;
        }
        await sleep(200 * attempt);
      }
    }
  };

  const settle = async (
    held: ClaimEntry | undefined,
    state: 'sent' | 'failed' | 'unknown',
    reason?: string,
  ) => {
    if (!d.claims || !held) return;
    try {
      if (!(await d.claims.settle(held, state, reason))) {
        d.log.warn({ eventId: held.record.eventId, state }, 'Claim changed while sending; kept as found');
      }
    } catch (err) {
      // The claim stays "sending": a redelivery would count it unknown and still not send it.
      d.log.warn({ err, eventId: held.record.eventId, state }, 'Could not record the outcome');
    }
  };

  /**
   * Gives a claim back after a certain "not sent": at the revision we hold, or, after a write whose
   * outcome is unclear, at whatever revision it is if it is still ours.
   */
  const letGo = async (held: ClaimEntry | undefined, afterUnclearWrite = false) => {
    if (!d.claims || !held) return;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        if (afterUnclearWrite) await d.claims.giveBack(held);
        else await d.claims.release(held);
        return;
      } catch (err) {
        // Left "claimed", a redelivery takes it over; left "sending", it is counted unknown.
        if (attempt === 3) d.log.error({ err, eventId: held.record.eventId }, 'Could not release a claim');
        else await sleep(100 * attempt);
      }
    }
  };

  /** A sender stopped while sending (or may have): record it unknown, never send it again. */
  const abandoned = async (m: JsMsg, eventId: string, claims: Claims, found: ClaimEntry) => {
    const r = found.record;
    if (!(await claims.settle(found, 'unknown', `abandoned by ${r.owner} while sending`))) return false;
    d.metrics.broadcastUnknown.inc({ ...target, reason: 'abandoned_claim' });
    d.log.error(
      { eventId, owner: r.owner, claimedAt: r.at, verdict: 'unknown' },
      'Event claimed by a sender that stopped while sending; it may have been sent, not sending again',
    );
    await deadLetter(
      m,
      eventId,
      'unknown',
      `${r.state} by ${r.owner} at ${r.at}, which never recorded an outcome`,
    );
    m.ack();
    return true;
  };

  /**
   * This delivery's claim on the event: taken, or taken over from a sender that provably sent
   * nothing. Undefined when this delivery has nothing more to do (it acked, or left the message
   * to a later delivery). Throws when NATS cannot say.
   */
  const acquire = async (m: JsMsg, eventId: string, claims: Claims): Promise<ClaimEntry | undefined> => {
    const here = { stream: m.info.stream, seq: m.seq, delivery: m.info.deliveryCount };
    // Each lost race means another write landed in between: look again at what it left.
    for (let look = 1; look <= 3; look++) {
      const found = await claims.take(eventId, here);
      if (found.owned) return found;
      const r = found.record;
      switch (judge(r, here)) {
        case 'duplicate':
          d.metrics.broadcastDuplicates.inc(target);
          d.log.debug({ eventId, state: r.state, owner: r.owner }, 'Already claimed; skipped as duplicate');
          m.ack();
          return undefined;
        case 'newer_delivery':
          // This copy waited past the ack wait and was redelivered: the later delivery decides and
          // acks. Acking here could lose the event if that one dies before settling it.
          d.log.debug(
            { eventId, owner: r.owner },
            'A later delivery holds the claim; leaving it to that one',
          );
          return undefined;
        case 'unsent': {
          const mine = await claims.takeOver(found, here);
          if (!mine) continue;
          d.metrics.broadcastFailed.inc({ ...target, reason: 'claim_taken_over' });
          d.log.info(
            { eventId, from: r.owner, claimedAt: r.at },
            'Took over a claim whose sender stopped before sending; sending it',
          );
          return mine;
        }
        case 'ambiguous':
          if (await abandoned(m, eventId, claims, found)) return undefined;
          continue;
      }
    }
    d.log.warn({ eventId }, 'Claim kept changing while we looked; will look again');
    m.nak(1000);
    return undefined;
  };

  const onVerdict = async (m: JsMsg, eventId: string, v: Verdict, held: ClaimEntry | undefined) => {
    switch (v.kind) {
      case 'delivered':
        unreachable = 0;
        broken = 0;
        await settle(held, 'sent');
        d.metrics.broadcastDelivered.inc(target);
        d.log.debug({ eventId }, 'Delivered');
        m.ack();
        return;
      case 'retry': {
        await letGo(held);
        if (v.reason === 'unreachable') unreachable++;
        const delay = v.delayMs ?? backoff(unreachable || 1, 1000, 60_000);
        d.gate.pause(now() + delay, v.reason);
        d.metrics.broadcastFailed.inc({ ...target, reason: v.reason });
        d.log.warn({ eventId, reason: v.reason, retryInMs: delay }, 'Not sent; will retry');
        m.nak(delay + jitter());
        return;
      }
      case 'rejected': {
        await deadLetter(m, eventId, 'rejected', v.reason);
        await settle(held, 'failed', scrub(v.reason, d.secrets));
        d.metrics.broadcastDeadLettered.inc(target);
        d.log.warn(
          { eventId, status: v.status, reason: scrub(v.reason, d.secrets) },
          'Target rejected the event; dead-lettered',
        );
        if (v.targetBroken) {
          // A deleted webhook or a bad token fails every event: slow down rather than burn the queue.
          const pause = backoff(++broken, 5000, 300_000);
          d.gate.pause(now() + pause, 'target_rejects');
          d.log.error(
            { status: v.status, pauseMs: pause },
            'Target refuses our requests; check its URL or token',
          );
        }
        m.ack();
        return;
      }
      case 'unknown':
        await settle(held, 'unknown', v.detail);
        d.metrics.broadcastUnknown.inc({ ...target, reason: v.reason });
        d.log.error(
          { eventId, reason: v.reason, detail: scrub(v.detail, d.secrets), verdict: 'unknown' },
          'Outcome unknown; it may have been sent, not sending again',
        );
        await deadLetter(m, eventId, 'unknown', v.detail);
        m.ack();
        return;
    }
  };

  return async (m: JsMsg) => {
    const eventId = eventIdOf(m);
    const wait = d.gate.remaining();
    if (wait > 0) {
      m.nak(wait + jitter()); // not claimed: anyone may take it once the pause is over
      return;
    }
    const claims = d.claims;
    let held: ClaimEntry | undefined;
    if (claims) {
      try {
        held = await acquire(m, eventId, claims);
      } catch (err) {
        d.log.warn({ err, eventId }, 'Could not claim the event; will retry');
        m.nak(1000);
        return;
      }
      if (!held) return;
    }
    const text = describeEvent({
      subject: m.subject,
      data: m.string(),
      header: (name) => m.headers?.get(name) || undefined,
    });
    let fenced = false;
    let markFailed: unknown;
    let markMs = 0; // NATS time inside the POST, left out of its duration
    // The last step before the body can reach the target: if a later delivery took the claim over
    // meanwhile (we were slow, not dead), this write fails and nothing is sent.
    const beforeBody = claims
      ? async () => {
          if (!held) return true;
          const asked = performance.now();
          try {
            const sending = await claims.markSending(held);
            markMs = performance.now() - asked;
            if (!sending) {
              fenced = true;
              return false;
            }
            held = sending;
            // A fresh ack wait for the POST and the outcome, so that a slow but live sender is not
            // judged abandoned by a redelivery and counted unknown.
            m.working();
            return true;
          } catch (err) {
            markFailed = err;
            return false;
          }
        }
      : undefined;
    const started = performance.now();
    const result = await d.poster.post(d.body(text), { beforeBody });
    if (result.kind === 'withheld') {
      if (fenced) {
        // No ack: the delivery that took the claim over acks once it has settled it.
        d.log.info({ eventId }, 'Claim taken over by a later delivery before sending; not sent by this one');
        return;
      }
      d.log.warn({ err: markFailed, eventId }, 'Could not mark the claim as sending; not sent, will retry');
      await letGo(held, true);
      m.nak(1000);
      return;
    }
    d.metrics.broadcastRequestDuration.observe(target, (performance.now() - started - markMs) / 1000);
    await onVerdict(m, eventId, classify(result, now()), held);
  };
}
