/**
 * Publishes this process's outcome counts (the same counters Prometheus scrapes) to its key in
 * the state bucket every few seconds when they changed, and once more on stop, for `dwk status`.
 */
import type { KV } from '@nats-io/kv';
import type { Counter } from 'prom-client';
import { outcomesKey, type BroadcastOutcomes } from '../../lib/nats/broadcast-outcomes.ts';
import type { Logger } from '../../lib/log.ts';
import type { Metrics } from '../metrics.ts';

const total = async (c: Counter) => (await c.get()).values.reduce((n, v) => n + v.value, 0);

export async function countOutcomes(m: Metrics): Promise<BroadcastOutcomes> {
  const [delivered, failed, deadLettered, skippedDuplicate, unknown] = await Promise.all([
    total(m.broadcastDelivered),
    total(m.broadcastFailed),
    total(m.broadcastDeadLettered),
    total(m.broadcastDuplicates),
    total(m.broadcastUnknown),
  ]);
  return { delivered, failed, deadLettered, skippedDuplicate, unknown };
}

export function reportOutcomes(o: {
  kv: KV;
  instance: string;
  processId: string;
  metrics: Metrics;
  log: Logger;
  intervalMs?: number;
}): { stop(): Promise<void> } {
  const key = outcomesKey(o.instance, o.processId);
  let last = '';
  const flush = async () => {
    const text = JSON.stringify(await countOutcomes(o.metrics));
    if (text === last) return;
    try {
      await o.kv.put(key, text);
      last = text;
    } catch (err) {
      o.log.debug({ err }, 'Could not publish outcome counts; trying again later');
    }
  };
  let running = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(flush);
  }, o.intervalMs ?? 2000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
      await flush();
    },
  };
}
