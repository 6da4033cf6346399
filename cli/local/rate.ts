/** Throughput and ETA from a sliding window of progress samples. No I/O, time passed in. */
import type { Progress } from '../../api/v1alpha1/status.ts';
import type { Rate } from './model.ts';

const done = (p: Progress) => p.chunksSaved + p.chunksDeadLettered;

export class RateTracker {
  readonly #windowMs: number;
  #samples: Array<{ at: number; done: number }> = [];

  constructor(windowMs = 10_000) {
    this.#windowMs = windowMs;
  }

  add(at: number, progress: Progress): Rate {
    this.#samples.push({ at, done: done(progress) });
    // Keep one sample older than the window so the rate always spans it.
    while (this.#samples.length > 2 && (this.#samples[1]?.at ?? at) <= at - this.#windowMs)
      this.#samples.shift();
    const first = this.#samples[0];
    const seconds = first ? (at - first.at) / 1000 : 0;
    const chunksPerSecond = first && seconds > 0 ? Math.max(0, done(progress) - first.done) / seconds : 0;
    const left =
      progress.chunksTotal === undefined ? undefined : Math.max(0, progress.chunksTotal - done(progress));
    if (left === 0) return { chunksPerSecond, etaSeconds: 0 };
    if (left === undefined || chunksPerSecond <= 0) return { chunksPerSecond };
    return { chunksPerSecond, etaSeconds: Math.ceil(left / chunksPerSecond) };
  }
}
