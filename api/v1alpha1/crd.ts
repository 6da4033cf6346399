/**
 * Renders the Pipeline CustomResourceDefinition from the TypeBox schemas. crds/pipeline.yaml is
 * this function's output (npm run crd), and a test fails when the two differ. No I/O.
 */
import type { TSchema } from '@sinclair/typebox';
import {
  CATEGORIES,
  GROUP,
  KIND,
  PipelineSpecSchema,
  PLURAL,
  rulesOf,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from './pipeline.ts';
import { PipelineStatusSchema } from './status.ts';

type Json = Record<string, unknown>;

const KEEP = new Set([
  'type',
  'description',
  'default',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'format',
  'enum',
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
]);

/** TypeBox's JSON Schema → a Kubernetes structural OpenAPI v3 schema. */
export function toStructural(schema: TSchema): Json {
  const s = schema as Json;
  const out: Json = {};
  for (const [k, v] of Object.entries(s)) if (KEEP.has(k)) out[k] = v;

  const anyOf = s.anyOf as TSchema[] | undefined;
  if (anyOf) {
    const consts = anyOf.map((b) => (b as Json).const);
    if (consts.every((c) => c !== undefined)) {
      out.type = typeof consts[0] === 'number' ? 'integer' : 'string';
      out.enum = consts;
    } else if (s['x-kubernetes-int-or-string']) {
      out.anyOf = [{ type: 'integer' }, { type: 'string' }];
    } else {
      throw new Error('unions other than enums and int-or-string have no structural form');
    }
  }
  if (s.const !== undefined) {
    out.type = typeof s.const;
    out.enum = [s.const];
  }
  if (s.type === 'object') {
    const props = s.properties as Record<string, TSchema> | undefined;
    const patternProps = s.patternProperties as Record<string, TSchema> | undefined;
    if (props) {
      out.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, toStructural(v)]));
      // Defaulted fields are filled in by the API server before validation: not required of people.
      const required = ((s.required as string[] | undefined) ?? []).filter(
        (k) => (props[k] as Json | undefined)?.default === undefined,
      );
      if (required.length > 0) out.required = required;
    } else if (patternProps) {
      const [value] = Object.values(patternProps);
      if (value) out.additionalProperties = toStructural(value);
    } else if (s.additionalProperties === true) {
      out['x-kubernetes-preserve-unknown-fields'] = true;
    }
  }
  if (s.type === 'array' && s.items) out.items = toStructural(s.items as TSchema);
  const rules = rulesOf(schema);
  if (rules.length > 0) {
    out['x-kubernetes-validations'] = rules.map((r) => ({
      rule: r.cel,
      message: r.message,
      ...(r.fieldPath ? { fieldPath: r.fieldPath } : {}),
    }));
  }
  return out;
}

const readyOf = (component: string) => `.status.summary.${component}`;

export function pipelineCrd(): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'dwk', 'app.kubernetes.io/managed-by': 'dwk' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: SHORT_NAMES,
        categories: CATEGORIES,
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.mapper.replicas',
              statusReplicasPath: '.status.replicas',
              labelSelectorPath: '.status.selector',
            },
          },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Fetcher', type: 'string', jsonPath: readyOf('fetcher') },
            { name: 'Mappers', type: 'string', jsonPath: readyOf('mapper') },
            { name: 'Savers', type: 'string', jsonPath: readyOf('saver') },
            { name: 'Broadcasters', type: 'string', jsonPath: readyOf('broadcaster') },
            { name: 'Progress', type: 'string', jsonPath: '.status.summary.progress' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'A NATS data pipeline: fetcher, mappers, savers and an optional broadcaster.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: {
                  type: 'object',
                  properties: {
                    name: { type: 'string', maxLength: 40, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
                  },
                },
                spec: toStructural(PipelineSpecSchema),
                status: toStructural(PipelineStatusSchema),
              },
            },
          },
        },
      ],
    },
  };
}
