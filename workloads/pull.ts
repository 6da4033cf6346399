/**
 * Runs `slots` workers, each pulling one message at a time with `next()`: a replica never holds
 * more than `slots` messages (the in-flight bound), and a free slot asks for work at once instead
 * of waiting for a batch to fill. On stop, workers stop pulling; in-flight work gets a grace
 * period and is then aborted (handlers nak what they cannot finish).
 */
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Gauge } from 'prom-client';
import type { Logger } from '../lib/log.ts';

export interface PullLoopOptions {
  consumer: Consumer;
  slots: number;
  stopping: AbortSignal;
  log: Logger;
  inFlight?: Gauge;
  /** Time in-flight work may take to finish after a stop before it is aborted. */
  graceMs?: number;
  handle: (m: JsMsg, abort: AbortSignal) => Promise<void>;
}

export async function pullLoop(o: PullLoopOptions): Promise<void> {
  const abort = new AbortController();
  let busy = 0;
  const worker = async () => {
    let failures = 0;
    while (!o.stopping.aborted) {
      let m: JsMsg | null;
      try {
        m = await o.consumer.next({ expires: 2000 });
        failures = 0;
      } catch (err) {
        if (o.stopping.aborted) return;
        failures++;
        const delay = Math.min(100 * 2 ** failures, 5000);
        o.log.warn({ err, delayMs: delay }, 'Pull failed; retrying');
        await sleep(delay);
        continue;
      }
      if (!m) continue;
      if (o.stopping.aborted) {
        m.nak(); // arrived as we stopped: someone else takes it now
        return;
      }
      o.inFlight?.set(++busy);
      try {
        await o.handle(m, abort.signal);
      } catch (err) {
        o.log.error({ err }, 'Handler failed');
      } finally {
        o.inFlight?.set(--busy);
      }
    }
  };
  const workers = Array.from({ length: o.slots }, () => worker());
  await new Promise<void>((resolve) => {
    if (o.stopping.aborted) resolve();
    o.stopping.addEventListener('abort', () => resolve(), { once: true });
  });
  if (busy > 0) o.log.info({ inFlight: busy }, 'Finishing in-flight work before exit');
  const grace = setTimeout(() => abort.abort(), o.graceMs ?? 6000);
  await Promise.all(workers);
  clearTimeout(grace);
}
