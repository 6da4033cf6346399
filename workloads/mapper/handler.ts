/** The mapper's work on one chunk, free of I/O: parse each line, transform it, keep its id. */
import jsonata from 'jsonata';

export type FailureKind = 'parse' | 'transform' | 'no_id';

export interface ObjectFailure {
  index: number;
  line: string;
  kind: FailureKind;
  reason: string;
}

export interface MappedChunk {
  /** One JSON line per object that made it through. */
  results: string[];
  failures: ObjectFailure[];
}

export interface Transform {
  evaluate(input: unknown): Promise<unknown>;
}

/** Compiles a JSONata expression; throws with JSONata's own message on a syntax error. */
export function compileTransform(expression: string): Transform {
  try {
    const compiled = jsonata(expression);
    return { evaluate: (input) => compiled.evaluate(input) as Promise<unknown> };
  } catch (err) {
    const e = err as { message?: string; position?: number };
    throw new Error(
      `invalid JSONata expression: ${e.message ?? String(err)} (at position ${e.position ?? '?'})`,
      {
        cause: err,
      },
    );
  }
}

const hasId = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const id = (v as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number';
};

const oneLine = (s: string) => s.replace(/\s+/g, ' ').slice(0, 500);

export async function mapChunk(lines: string[], transform: Transform): Promise<MappedChunk> {
  const results: string[] = [];
  const failures: ObjectFailure[] = [];
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? '';
    let input: unknown;
    try {
      input = JSON.parse(line);
    } catch (err) {
      failures.push({
        index,
        line,
        kind: 'parse',
        reason: `malformed JSON: ${oneLine((err as Error).message)}`,
      });
      continue;
    }
    if (!hasId(input)) {
      failures.push({
        index,
        line,
        kind: 'no_id',
        reason: 'object has no id (a string or number) to store it once by',
      });
      continue;
    }
    let output: unknown;
    try {
      output = await transform.evaluate(input);
    } catch (err) {
      failures.push({
        index,
        line,
        kind: 'transform',
        reason: `transform failed: ${oneLine((err as Error).message)}`,
      });
      continue;
    }
    if (!hasId(output)) {
      failures.push({
        index,
        line,
        kind: 'no_id',
        reason: 'the transform result has no id; keep the id so the saver stores each object once',
      });
      continue;
    }
    results.push(JSON.stringify(output));
  }
  return { results, failures };
}

/** Simulated cost of a chunk: a uniform wait plus busy CPU, in slices so acks can still go out. */
export async function simulateWork(
  work: { waitMinMs: number; waitMaxMs: number; cpuMs: number },
  random: () => number,
  signal: AbortSignal,
): Promise<void> {
  const wait = work.waitMinMs + Math.floor(random() * (work.waitMaxMs - work.waitMinMs + 1));
  if (wait > 0) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, wait);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
  let left = work.cpuMs;
  while (left > 0 && !signal.aborted) {
    const slice = Math.min(left, 20);
    const end = performance.now() + slice;
    while (performance.now() < end) {
      // busy: this is the point
    }
    left -= slice;
    await new Promise((r) => setImmediate(r));
  }
  if (signal.aborted) throw new Error('aborted: shutting down');
}
