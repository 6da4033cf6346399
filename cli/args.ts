/** Parsing and checking of command-line values, with messages that say what was expected. No I/O. */
import { COMPONENTS, type Component } from '../api/v1alpha1/pipeline.ts';
import { UserError } from '../lib/errors.ts';

export const MAX_REPLICAS = 1000;
export const OUTPUT_FORMATS = ['json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Edit distance, for "did you mean". */
export function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((row[j - 1] ?? 0) + 1, (prev[j] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** The closest choice within a small distance, or undefined. */
export function suggest(word: string, choices: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const ranked = choices
    .map((c) => ({ c, d: c.startsWith(lower) && lower.length > 0 ? 0 : distance(lower, c) }))
    .sort((x, y) => x.d - y.d);
  const best = ranked[0];
  return best && best.d <= Math.max(1, Math.floor(best.c.length / 3)) ? best.c : undefined;
}

export function parseComponent(value: string): Component {
  if ((COMPONENTS as readonly string[]).includes(value)) return value as Component;
  const guess = suggest(value, COMPONENTS);
  throw new UserError(`unknown component "${value}"${guess ? `; did you mean "${guess}"?` : ''}`, {
    hint: `the components are ${COMPONENTS.join(', ')}`,
  });
}

export function parseReplicas(value: string): number {
  const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new UserError(`replicas must be a whole number from 0 to ${MAX_REPLICAS} (got "${value}")`);
  }
  if (n < 0)
    throw new UserError(`replicas cannot be negative (got ${n})`, { hint: 'use 0 to stop a component' });
  if (n > MAX_REPLICAS) throw new UserError(`replicas must be at most ${MAX_REPLICAS} (got ${n})`);
  return n;
}

export function parseOutputFormat(value: string): OutputFormat {
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  const guess = suggest(value, OUTPUT_FORMATS);
  throw new UserError(`unknown output format "${value}"${guess ? `; did you mean "${guess}"?` : ''}`, {
    hint: `use -o ${OUTPUT_FORMATS.join(' or -o ')}, or leave -o out for a table`,
  });
}

/** Kubernetes object names, which are also local pipeline names. */
export function parsePipelineName(value: string): string {
  if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value) && value.length <= 40) return value;
  throw new UserError(`"${value}" is not a pipeline name`, {
    hint: 'pipeline names are lower-case letters, digits and dashes, at most 40 characters',
  });
}
