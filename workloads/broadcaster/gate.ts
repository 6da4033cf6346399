/**
 * When the target says "wait" (429 with Retry-After) or cannot be reached, every replica waits:
 * the target's limit is per webhook, not per process. The pause is shared through a KV key that
 * all replicas watch; a replica that has not heard yet still learns from its own 429.
 */
import type { KV } from '@nats-io/kv';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../lib/log.ts';

const GATE_KEY = 'gate';

export class Gate {
  private until = 0;
  private readonly kv: KV | undefined;
  private readonly log: Logger;
  private readonly now: () => number;
  private stopWatch: (() => void) | undefined;

  constructor(kv: KV | undefined, log: Logger, now: () => number = Date.now) {
    this.kv = kv;
    this.log = log;
    this.now = now;
  }

  /** Follows the pauses that other replicas announce. */
  async start(): Promise<void> {
    if (!this.kv) return;
    const watch = await this.kv.watch({ key: GATE_KEY });
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const e of watch) {
        if (e.operation !== 'PUT') continue;
        try {
          const { until } = JSON.parse(e.string()) as { until: number };
          if (until > this.until) this.until = until;
        } catch {
          // a malformed value pauses nothing
        }
      }
    })().catch((err: unknown) => this.log.warn({ err }, 'Stopped following shared pauses'));
  }

  stop(): void {
    this.stopWatch?.();
  }

  /** Nothing is sent before `until` (epoch ms), by this replica or, once they hear, any other. */
  pause(until: number, reason: string): void {
    if (until <= this.until) return;
    this.until = until;
    this.kv
      ?.put(GATE_KEY, JSON.stringify({ until, reason }))
      .catch((err: unknown) => this.log.warn({ err }, 'Could not share a pause with the other replicas'));
  }

  remaining(): number {
    return Math.max(0, this.until - this.now());
  }

  async wait(signal: AbortSignal): Promise<void> {
    for (let ms = this.remaining(); ms > 0 && !signal.aborted; ms = this.remaining()) {
      await sleep(ms, undefined, { signal }).catch(() => undefined);
    }
  }
}
