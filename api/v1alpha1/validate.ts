/** Defaults and validation of Pipeline manifests, with messages that name the field. No I/O. */
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import jsonata from 'jsonata';
import { PipelineSchema, PipelineSpecSchema, rulesOf, type Pipeline, type PipelineSpec } from './pipeline.ts';

export interface FieldError {
  /** Dotted path, e.g. `spec.mapper.replicas`. */
  field: string;
  message: string;
}

/** A manifest that does not satisfy the schema; `errors` names every bad field. */
export class InvalidPipelineError extends Error {
  readonly errors: FieldError[];
  constructor(errors: FieldError[], source?: string) {
    const where = source ? `${source}: ` : '';
    super(`${where}invalid Pipeline:\n${errors.map((e) => `  ${e.field}: ${e.message}`).join('\n')}`);
    this.name = 'InvalidPipelineError';
    this.errors = errors;
  }
}

const dotted = (pointer: string, prefix: string) => {
  const parts = pointer.split('/').filter(Boolean);
  return [prefix, ...parts]
    .filter(Boolean)
    .join('.')
    .replace(/\.(\d+)(?=\.|$)/g, '[$1]');
};

function describe(schema: TSchema, value: unknown, fallback: string): string {
  if (fallback === 'Unexpected property') return 'unknown field';
  const anyOf = (schema as { anyOf?: Array<{ const?: unknown }> }).anyOf;
  if (anyOf?.every((s) => s.const !== undefined)) {
    return `must be one of ${anyOf.map((s) => JSON.stringify(s.const)).join(', ')} (got ${JSON.stringify(value)})`;
  }
  const s = schema as { minimum?: number; maximum?: number; type?: string; pattern?: string };
  if (typeof value === 'number' && s.type === 'integer' && Number.isInteger(value)) {
    if (s.minimum !== undefined && value < s.minimum) return `must be at least ${s.minimum} (got ${value})`;
    if (s.maximum !== undefined && value > s.maximum) return `must be at most ${s.maximum} (got ${value})`;
  }
  if (s.type !== undefined && value !== undefined && !matchesType(s.type, value)) {
    return `must be ${article(s.type)} (got ${JSON.stringify(value)})`;
  }
  if (s.pattern !== undefined && typeof value === 'string')
    return `must match ${s.pattern} (got ${JSON.stringify(value)})`;
  return fallback.replace(/^Expected/, 'must be');
}

const article = (t: string) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);

function matchesType(type: string, value: unknown): boolean {
  switch (type) {
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return typeof value === type;
  }
}

/** Applies every cross-field rule found in the schema tree, the same rules the CRD carries as CEL. */
function checkRules(schema: TSchema, value: unknown, path: string, out: FieldError[]): void {
  if (typeof value !== 'object' || value === null) return;
  for (const rule of rulesOf(schema)) {
    if (rule.clusterOnly) continue;
    if (!rule.check(value as Record<string, unknown>)) {
      out.push({ field: path + (rule.fieldPath ?? ''), message: rule.message });
    }
  }
  const props = (schema as { properties?: Record<string, TSchema> }).properties;
  if (!props) return;
  for (const [key, child] of Object.entries(props)) {
    checkRules(child, (value as Record<string, unknown>)[key], path ? `${path}.${key}` : key, out);
  }
}

/** Rules no schema can express: the transform must compile. */
function checkSemantics(spec: unknown, prefix: string, out: FieldError[]): void {
  const transform = (spec as { mapper?: { transform?: unknown } } | undefined)?.mapper?.transform;
  if (typeof transform !== 'string') return;
  try {
    jsonata(transform);
  } catch (err) {
    const e = err as { message?: string; position?: number };
    out.push({
      field: `${prefix}.mapper.transform`,
      message: `invalid JSONata expression: ${e.message ?? String(err)} (at position ${e.position ?? '?'})`,
    });
  }
}

function validate(schema: TSchema, input: unknown, prefix: string): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(schema, input)) {
    const field = dotted(e.path, prefix);
    // A union reports once per branch; one line per field is what people can read.
    if (seen.has(field)) continue;
    seen.add(field);
    errors.push({ field, message: describe(e.schema, e.value, e.message) });
  }
  if (errors.length === 0) checkRules(schema, input, prefix, errors);
  return errors;
}

/** Fills in every default of a spec, then validates it; throws InvalidPipelineError. */
export function resolveSpec(spec: unknown, source?: string): PipelineSpec {
  const withDefaults = Value.Default(PipelineSpecSchema, structuredClone(spec ?? {}));
  const errors = validate(PipelineSpecSchema, withDefaults, 'spec');
  if (errors.length === 0) checkSemantics(withDefaults, 'spec', errors);
  if (errors.length > 0) throw new InvalidPipelineError(errors, source);
  return withDefaults as PipelineSpec;
}

/** Parses a whole manifest (already decoded from YAML/JSON); throws InvalidPipelineError. */
export function parsePipeline(doc: unknown, source?: string): Pipeline {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new InvalidPipelineError([{ field: '(document)', message: 'must be a Pipeline object' }], source);
  }
  const manifest = structuredClone(doc) as Record<string, unknown>;
  manifest.spec = Value.Default(PipelineSpecSchema, manifest.spec ?? {});
  const errors = validate(PipelineSchema, manifest, '');
  if (errors.length === 0) checkSemantics(manifest.spec, 'spec', errors);
  if (errors.length > 0) throw new InvalidPipelineError(errors, source);
  return manifest as Pipeline;
}
