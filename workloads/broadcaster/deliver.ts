/**
 * What happens to one event: claim it, POST it, record the outcome, ack. The claim comes first,
 * so no two replicas (and no redelivery after a crash) can send the same event; after that only
 * a certain "not sent" gives the claim back. A claim found unsettled on a redelivery of the same
 * message means its sender died after claiming: that may have been sent, so it is never re-sent.
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TargetType } from '../../api/v1alpha1/pipeline.ts';
import type { Logger } from '../../lib/log.ts';
import { HEADERS, type Topology } from '../../lib/nats/topology.ts';
import type { Metrics } from '../metrics.ts';
import type { Claims, TakeResult } from './claims.ts';
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
    taken: TakeResult | undefined,
    state: 'sent' | 'failed' | 'unknown',
    reason?: string,
  ) => {
    if (!d.claims || !taken) return;
    try {
      if (!(await d.claims.settle(taken, state, reason))) {
        d.log.warn({ eventId: taken.record.eventId, state }, 'Claim changed while sending; kept as found');
      }
    } catch (err) {
      // The claim stays "claimed": a redelivery would count it unknown and still not send it.
      d.log.warn({ err, eventId: taken.record.eventId, state }, 'Could not record the outcome');
    }
  };

  const release = async (taken: TakeResult | undefined) => {
    if (!d.claims || !taken) return;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await d.claims.release(taken);
        return;
      } catch (err) {
        if (attempt === 3) d.log.error({ err, eventId: taken.record.eventId }, 'Could not release a claim');
        else await sleep(100 * attempt);
      }
    }
  };

  /** Someone holds this event's claim: skip it, and say so when its sender died mid-send. */
  const alreadyClaimed = async (m: JsMsg, eventId: string, taken: TakeResult) => {
    const r = taken.record;
    const abandoned = r.state === 'claimed' && r.stream === m.info.stream && r.seq === m.seq;
    if (abandoned && d.claims && (await d.claims.settle(taken, 'unknown', `abandoned by ${r.owner}`))) {
      d.metrics.broadcastUnknown.inc({ ...target, reason: 'abandoned_claim' });
      d.log.error(
        { eventId, owner: r.owner, claimedAt: r.at, verdict: 'unknown' },
        'Event claimed by a sender that stopped before recording the outcome; it may have been sent, not sending again',
      );
      await deadLetter(
        m,
        eventId,
        'unknown',
        `claimed by ${r.owner} at ${r.at}, which never recorded an outcome`,
      );
    } else {
      d.metrics.broadcastDuplicates.inc(target);
      d.log.debug({ eventId, state: r.state, owner: r.owner }, 'Already claimed; skipped as duplicate');
    }
    m.ack();
  };

  const onVerdict = async (m: JsMsg, eventId: string, v: Verdict, taken: TakeResult | undefined) => {
    switch (v.kind) {
      case 'delivered':
        unreachable = 0;
        broken = 0;
        await settle(taken, 'sent');
        d.metrics.broadcastDelivered.inc(target);
        d.log.debug({ eventId }, 'Delivered');
        m.ack();
        return;
      case 'retry': {
        await release(taken);
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
        await settle(taken, 'failed', scrub(v.reason, d.secrets));
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
        await settle(taken, 'unknown', v.detail);
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
    let taken: TakeResult | undefined;
    if (d.claims) {
      try {
        taken = await d.claims.take(eventId, { stream: m.info.stream, seq: m.seq });
      } catch (err) {
        d.log.warn({ err, eventId }, 'Could not claim the event; will retry');
        m.nak(1000);
        return;
      }
      if (!taken.owned) return alreadyClaimed(m, eventId, taken);
    }
    const text = describeEvent({
      subject: m.subject,
      data: m.string(),
      header: (name) => m.headers?.get(name) || undefined,
    });
    const started = performance.now();
    const result = await d.poster.post(d.body(text));
    d.metrics.broadcastRequestDuration.observe(target, (performance.now() - started) / 1000);
    await onVerdict(m, eventId, classify(result, now()), taken);
  };
}
