/**
 * The work queue: one key per Pipeline (namespace/name). A key is never worked on twice at once,
 * different keys run in parallel up to `workers`, a key added while queued is queued once. As in
 * client-go, only retries are rate limited: a failing key waits the larger of its own exponential
 * backoff (5 ms doubling to 1000 s) and a slot of an overall token bucket (10 per second, burst
 * 100), so many failing keys cannot hammer the API server, while fresh events never wait.
 * `stop()` drops what waits and lets only the handlers in progress finish, so shutdown is prompt.
 */

export interface QueueClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

export const systemClock: QueueClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export interface QueueOptions {
  workers: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  ratePerSecond?: number;
  burst?: number;
  clock?: QueueClock;
}

export type Handler = (key: string) => Promise<{ requeueAfterMs?: number } | void>;

export class WorkQueue {
  private readonly queued: string[] = [];
  private readonly queuedSet = new Set<string>();
  private readonly active = new Set<string>();
  /** Added while active: run again when the current pass ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { due: number; timer: unknown }>();
  private tokens: number;
  private lastRefill: number;
  private readonly o: Required<QueueOptions>;
  private handler: Handler | undefined;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(options: QueueOptions) {
    this.o = {
      baseDelayMs: 5,
      maxDelayMs: 1_000_000,
      ratePerSecond: 10,
      burst: 100,
      clock: systemClock,
      ...options,
    };
    this.tokens = this.o.burst;
    this.lastRefill = this.o.clock.now();
  }

  /** Number of keys waiting (not counting those being worked on or delayed). */
  get depth(): number {
    return this.queued.length;
  }

  get activeCount(): number {
    return this.active.size;
  }

  start(handler: Handler): void {
    this.handler = handler;
    this.pump();
  }

  /** Drops queued and delayed keys; handlers in progress finish, and `idle()` waits for them only. */
  stop(): void {
    this.stopped = true;
    this.queued.length = 0;
    this.queuedSet.clear();
    this.dirty.clear();
    for (const { timer } of this.delayed.values()) this.o.clock.clearTimeout(timer);
    this.delayed.clear();
    this.wakeIdleWaiters();
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queuedSet.has(key)) return;
    this.queuedSet.add(key);
    this.queued.push(key);
    this.pump();
  }

  /** Adds the key after a delay; an earlier pending delay for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const due = this.o.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing !== undefined && existing.due <= due) return;
    if (existing !== undefined) this.o.clock.clearTimeout(existing.timer);
    const timer = this.o.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { due, timer });
  }

  /**
   * Resolves when nothing is queued or active (for tests); once stopped, when the handlers in
   * progress have finished (for shutdown). Delayed keys are not waited for.
   */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.active.size === 0 && (this.stopped || this.queued.length === 0);
  }

  private wakeIdleWaiters(): void {
    if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }

  backoffOf(key: string): number {
    const n = this.failures.get(key) ?? 0;
    return Math.min(this.o.baseDelayMs * 2 ** n, this.o.maxDelayMs);
  }

  /** Reserves a token of the overall bucket; returns how long to wait for it (0 when one is free). */
  private reserveToken(): number {
    const now = this.o.clock.now();
    this.tokens = Math.min(
      this.o.burst,
      this.tokens + ((now - this.lastRefill) / 1000) * this.o.ratePerSecond,
    );
    this.lastRefill = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.o.ratePerSecond) * 1000);
  }

  private pump(): void {
    if (!this.handler || this.stopped) return;
    while (this.active.size < this.o.workers && this.queued.length > 0) {
      // First queued key that is not already being worked on.
      const i = this.queued.findIndex((k) => !this.active.has(k));
      if (i < 0) return;
      const [key] = this.queued.splice(i, 1);
      if (key === undefined) return;
      this.queuedSet.delete(key);
      this.active.add(key);
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    let requeueAfter: number | undefined;
    let failed = false;
    try {
      const result = await this.handler?.(key);
      requeueAfter = result ? result.requeueAfterMs : undefined;
      this.failures.delete(key);
    } catch {
      failed = true;
    }
    this.active.delete(key);
    if (failed) {
      const delay = Math.max(this.backoffOf(key), this.reserveToken());
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      this.addAfter(key, delay);
    } else if (requeueAfter !== undefined) {
      this.addAfter(key, requeueAfter);
    }
    if (this.dirty.delete(key)) this.add(key);
    this.pump();
    this.wakeIdleWaiters();
  }
}
