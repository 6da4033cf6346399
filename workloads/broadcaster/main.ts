/**
 * The broadcaster: events from JetStream to one chat target (Discord, Slack, Telegram or a
 * generic webhook), from any number of replicas, never twice. Wiring only; the rules are in
 * deliver.ts, the formats in target.ts and message.ts.
 */
import { jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../lib/log.ts';
import { ensurePipeline } from '../../lib/nats/setup.ts';
import type { BroadcasterConfig } from '../config.ts';
import type { RoleContext } from '../role.ts';
import { Claims } from './claims.ts';
import { createDeliverer } from './deliver.ts';
import { Gate } from './gate.ts';
import { reportOutcomes } from './outcomes.ts';
import { createPoster } from './post.ts';
import { CLAIM_TTL_MS, ensureBroadcasterNats } from './setup.ts';
import { endpoint, requestBody, secretsOf, type Target } from './target.ts';

export function targetOf(config: BroadcasterConfig): Target {
  return {
    type: config.targetType,
    secret: config.targetUrl,
    chatId: config.chatId,
    telegramApi: config.telegramApi,
  };
}

/** Every form of the target's secret, for the logger to redact. */
export const broadcasterSecrets = (config: BroadcasterConfig): string[] => secretsOf(targetOf(config));

export async function runBroadcaster(config: BroadcasterConfig, ctx: RoleContext): Promise<void> {
  const { log } = ctx;
  const target = targetOf(config);
  const { topology: t, kvm } = await ensurePipeline(ctx.nc, config.pipeline);
  const sources = await ensureBroadcasterNats(ctx.jsm, t, config.subjects, config.ackWaitSeconds);
  const bucket = await kvm.create(t.buckets.claims, { history: 1, ttl: CLAIM_TTL_MS });
  const js = jetstream(ctx.nc);
  const gate = new Gate(bucket, log);
  await gate.start();
  ctx.onStop(() => gate.stop());
  const poster = createPoster(endpoint(target), {
    timeoutMs: config.timeoutMs,
    maxSockets: config.concurrency * sources.length,
  });
  ctx.onStop(() => poster.close());
  const deliver = createDeliverer({
    targetType: config.targetType,
    body: (text) => requestBody(target, text),
    poster,
    claims: config.claim ? new Claims(bucket, `${config.instance}/${randomUUID().slice(0, 8)}`) : undefined,
    gate,
    js,
    topology: t,
    log,
    metrics: ctx.metrics,
    secrets: secretsOf(target),
  });
  if (!config.claim) log.warn('Claims are off: a crash or redelivery can send an event twice');
  log.info(
    { target: config.targetType, subjects: config.subjects, streams: sources.map((s) => s.stream) },
    'Broadcasting',
  );
  const outcomes = reportOutcomes({
    kv: await kvm.open(t.buckets.state),
    instance: config.instance,
    processId: randomUUID().slice(0, 8),
    metrics: ctx.metrics,
    log,
  });
  ctx.onStop(() => outcomes.stop());
  ctx.setReady(true);
  await Promise.all(
    sources.map(async (s) =>
      pullLoop({
        consumer: await js.consumers.get(s.stream, s.consumer),
        slots: config.concurrency,
        stopping: ctx.stopping,
        gate,
        log,
        handle: deliver,
      }),
    ),
  );
}

/**
 * `slots` workers share one `consume()` of the stream (a small prefetch, no pull request per
 * event) and take the next event only while the target is not asking us to wait: events not
 * taken stay unclaimed. On stop, workers finish the event in hand (a POST is bounded by the
 * target timeout, well inside the shutdown deadline); prefetched ones return after the ack wait.
 */
async function pullLoop(o: {
  consumer: Consumer;
  slots: number;
  stopping: AbortSignal;
  gate: Gate;
  log: Logger;
  handle: (m: JsMsg) => Promise<void>;
}): Promise<void> {
  while (!o.stopping.aborted) {
    const messages = await o.consumer.consume({ max_messages: Math.max(2, o.slots * 2) });
    const close = () => void messages.close();
    o.stopping.addEventListener('abort', close, { once: true });
    const it = messages[Symbol.asyncIterator]();
    const worker = async () => {
      while (!o.stopping.aborted) {
        await o.gate.wait(o.stopping);
        const next = await it.next();
        if (next.done) return;
        const m = next.value;
        if (o.stopping.aborted) {
          m.nak(); // arrived as we stopped, not claimed: someone else takes it now
          return;
        }
        try {
          await o.handle(m);
        } catch (err) {
          o.log.error({ err }, 'Handling an event failed');
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: o.slots }, () => worker()));
    } catch (err) {
      o.log.warn({ err }, 'Consuming stopped; starting again');
      await sleep(1000);
    } finally {
      o.stopping.removeEventListener('abort', close);
      close();
    }
  }
}
