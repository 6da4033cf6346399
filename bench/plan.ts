/** What a bench run measures: the full run behind docs/benchmarks.md, or the quick smoke run. */

/** Ceiling and zero-work rows run `repeat` times each and show the fastest run, with the range. */
export interface Plan {
  chunkSize: number;
  ceiling: { objects: number; repeat: number; consumers: Array<{ mode: 'consume' | 'next'; slots: number }> };
  /** The last row raises the concurrency instead of the mappers: if round trips bound the path, it helps. */
  zeroWork: { objects: number; repeat: number; rows: Array<{ mappers: number; concurrency: number }> };
  /**
   * Each mapper slot gets `waves` chunks, so the ideal run takes waves × waitMs and no slot sits
   * out the last wave: objects = mappers × concurrency × waves × chunkSize. Rows vary the mappers
   * at one concurrency, then the concurrency at fixed mappers: throughput should follow the slots.
   */
  withWait: { waitMs: number; waves: number; rows: Array<{ mappers: number; concurrency: number }> };
}

export function benchPlan(quick: boolean): Plan {
  if (quick) {
    return {
      chunkSize: 100,
      ceiling: { objects: 2000, repeat: 1, consumers: [{ mode: 'consume', slots: 1 }] },
      zeroWork: {
        objects: 2000,
        repeat: 1,
        rows: [
          { mappers: 1, concurrency: 4 },
          { mappers: 2, concurrency: 4 },
        ],
      },
      withWait: {
        waitMs: 50,
        waves: 3,
        rows: [
          { mappers: 1, concurrency: 2 },
          { mappers: 2, concurrency: 2 },
          { mappers: 1, concurrency: 4 },
        ],
      },
    };
  }
  return {
    chunkSize: 100,
    ceiling: {
      objects: 100_000,
      repeat: 5,
      consumers: [
        { mode: 'consume', slots: 1 },
        { mode: 'next', slots: 4 },
      ],
    },
    zeroWork: {
      objects: 100_000,
      repeat: 3,
      rows: [
        { mappers: 1, concurrency: 4 },
        { mappers: 2, concurrency: 4 },
        { mappers: 4, concurrency: 4 },
        { mappers: 1, concurrency: 16 },
      ],
    },
    withWait: {
      waitMs: 1000,
      waves: 10,
      rows: [
        { mappers: 1, concurrency: 4 },
        { mappers: 4, concurrency: 4 },
        { mappers: 16, concurrency: 4 },
        { mappers: 1, concurrency: 16 },
        { mappers: 4, concurrency: 16 },
      ],
    },
  };
}

export const waitObjects = (p: Plan, mappers: number, concurrency: number) =>
  mappers * concurrency * p.withWait.waves * p.chunkSize;

/** Objects per second if every slot were busy waiting all the time and nothing else took time. */
export const idealWithWait = (p: Plan, mappers: number, concurrency: number) =>
  ((mappers * concurrency) / (p.withWait.waitMs / 1000)) * p.chunkSize;
