/**
 * A leader lease in a NATS KV bucket, so that one fetcher publishes and the others stand by,
 * without Kubernetes. Expiry is judged by the standby's own clock from when it last saw the
 * lease change (as client-go does), so clock skew between hosts does not matter.
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from '../lib/log.ts';

export interface LeaseRecord {
  holder: string;
  acquiredAt: string;
}

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    }),
};

const encode = (r: LeaseRecord) => new TextEncoder().encode(JSON.stringify(r));
const decode = (b: Uint8Array): LeaseRecord | undefined => {
  try {
    return JSON.parse(new TextDecoder().decode(b)) as LeaseRecord;
  } catch {
    return undefined;
  }
};

export interface LeaseOptions {
  kv: KV;
  key: string;
  holder: string;
  ttlMs: number;
  log: Logger;
  clock?: Clock;
}

export class Lease {
  private readonly o: Required<LeaseOptions>;
  private revision = 0;
  private observed: { revision: number; at: number } | undefined;
  private lastRenewed = 0;
  private renewer: AbortController | undefined;
  /** Aborted when leadership is lost (or given up); the leader's work must stop. */
  lost = new AbortController();

  constructor(options: LeaseOptions) {
    this.o = { clock: realClock, ...options };
  }

  /** One attempt: true when this holder now leads. */
  async tryAcquire(): Promise<boolean> {
    const { kv, key, holder, clock, ttlMs } = this.o;
    const record = encode({ holder, acquiredAt: new Date(clock.now()).toISOString() });
    const entry = await kv.get(key);
    if (!entry || entry.operation !== 'PUT') {
      try {
        this.revision = entry ? await kv.update(key, record, entry.revision) : await kv.create(key, record);
        return this.won();
      } catch {
        return false; // another replica was faster
      }
    }
    const current = decode(entry.value);
    const now = clock.now();
    if (current?.holder !== holder) {
      if (this.observed?.revision !== entry.revision) {
        this.observed = { revision: entry.revision, at: now };
        return false;
      }
      if (now - this.observed.at < ttlMs) return false;
    }
    try {
      this.revision = await kv.update(key, record, entry.revision);
      return this.won();
    } catch {
      return false;
    }
  }

  private won(): true {
    this.lastRenewed = this.o.clock.now();
    this.lost = new AbortController();
    return true;
  }

  /** Waits until this holder leads, then keeps renewing in the background. */
  async acquire(signal: AbortSignal): Promise<boolean> {
    const { clock, ttlMs, log, holder } = this.o;
    let announced = false;
    while (!signal.aborted) {
      try {
        if (await this.tryAcquire()) {
          log.info({ holder }, 'Acquired the fetcher lease');
          this.startRenewing();
          return true;
        }
      } catch (err) {
        log.warn({ err }, 'Lease check failed; retrying');
      }
      if (!announced) {
        log.info({ holder }, 'Standing by: another fetcher holds the lease');
        announced = true;
      }
      await clock.sleep(Math.max(200, ttlMs / 4), signal);
    }
    return false;
  }

  private startRenewing(): void {
    const { kv, key, holder, clock, ttlMs, log } = this.o;
    this.renewer = new AbortController();
    const stop = this.renewer.signal;
    const loop = async () => {
      while (!stop.aborted) {
        await clock.sleep(ttlMs / 3, stop);
        if (stop.aborted) return;
        try {
          this.revision = await kv.update(
            key,
            encode({ holder, acquiredAt: new Date(clock.now()).toISOString() }),
            this.revision,
          );
          this.lastRenewed = clock.now();
        } catch (err) {
          const wrongRevision = /wrong last sequence/i.test(String((err as Error).message));
          // Unreachable NATS: we may still lead, until the TTL says others may have taken over.
          if (wrongRevision || clock.now() - this.lastRenewed >= ttlMs) {
            log.warn({ err }, 'Lost the fetcher lease');
            this.lost.abort();
            return;
          }
        }
      }
    };
    void loop();
  }

  /** Gives the lease up so a standby takes over at once. */
  async release(): Promise<void> {
    this.renewer?.abort();
    this.lost.abort();
    try {
      await this.o.kv.delete(this.o.key, { previousSeq: this.revision });
    } catch {
      // Already taken or unreachable: the TTL hands it over anyway.
    }
  }
}
