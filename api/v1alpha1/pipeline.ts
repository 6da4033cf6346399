/**
 * The Pipeline API, version dwk.dev/v1alpha1: the one source of truth for its types, defaults,
 * bounds and cross-field rules. The CLI, the controller, local mode and crds/pipeline.yaml all
 * derive from the schemas here. This module does no I/O.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NATS_URLS_PATTERN, NATS_URLS_RULE, isNatsUrls } from '../../lib/nats/url.ts';

export const GROUP = 'dwk.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'Pipeline';
export const PLURAL = 'pipelines';
export const SINGULAR = 'pipeline';
export const SHORT_NAMES = ['pl'];
export const CATEGORIES = ['dwk'];

/** The workloads image of this dwk version; bumped with package.json by the release. */
export const DEFAULT_IMAGE = 'ghcr.io/dwk-dev/dwk:0.1.0';

export const COMPONENTS = ['fetcher', 'mapper', 'saver', 'broadcaster'] as const;
export type Component = (typeof COMPONENTS)[number];

export const SINK_TYPES = ['jsonl', 'log'] as const;
export const TARGET_TYPES = ['discord', 'slack', 'telegram', 'generic'] as const;
export const DELETE_POLICIES = ['retain', 'delete'] as const;

/** The default transform of the classic example: `{id, name: first + " " + last}` in JSONata. */
export const DEFAULT_TRANSFORM = '{"id": id, "name": first & " " & last}';

/**
 * A rule that spans fields. `cel` goes into the CRD as an x-kubernetes-validations rule on the
 * object it is attached to; `check` is the same rule for local validation. Both must agree, and a
 * test runs each rule through the real API server.
 */
export interface CrossFieldRule {
  cel: string;
  message: string;
  /** Path of the field the message names, relative to the object, for CEL's fieldPath. */
  fieldPath?: string;
  check: (self: Record<string, unknown>) => boolean;
  /**
   * A rule about running in a cluster: the API server enforces it, local validation does not
   * (local mode, for one, reads `urlFromEnv` from its own environment).
   */
  clusterOnly?: true;
}

const RULES = Symbol.for('dwk.rules');
type WithRules = TSchema & { [RULES]?: CrossFieldRule[] };

function withRules<T extends TSchema>(schema: T, rules: CrossFieldRule[]): T {
  (schema as WithRules)[RULES] = rules;
  return schema;
}

export function rulesOf(schema: TSchema): CrossFieldRule[] {
  return (schema as WithRules)[RULES] ?? [];
}

const has = (o: unknown, key: string) =>
  typeof o === 'object' && o !== null && (o as Record<string, unknown>)[key] !== undefined;

const Replicas = (defaultReplicas: number) =>
  Type.Integer({
    minimum: 0,
    maximum: 1000,
    default: defaultReplicas,
    description: 'Number of replicas (0..1000).',
  });

const Quantity = Type.Union([Type.String(), Type.Integer()], {
  'x-kubernetes-int-or-string': true,
  pattern:
    '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
});

export const ResourcesSchema = Type.Object(
  {
    requests: Type.Optional(Type.Record(Type.String(), Quantity)),
    limits: Type.Optional(Type.Record(Type.String(), Quantity)),
  },
  { additionalProperties: false, description: 'Compute resources of the component container.' },
);

const SecretKeyRef = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 253 }),
    key: Type.String({ minLength: 1, maxLength: 253 }),
  },
  { additionalProperties: false },
);

export const SourceSchema = withRules(
  Type.Object(
    {
      generate: Type.Optional(
        Type.Object(
          {
            objects: Type.Integer({
              minimum: 1,
              maximum: 1_000_000_000,
              default: 100_000,
              description: 'How many generated objects the fetcher emits.',
            }),
            seed: Type.Integer({
              minimum: 0,
              default: 1,
              description: 'Seed of the deterministic generator.',
            }),
          },
          { additionalProperties: false },
        ),
      ),
      url: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 4096,
          description: 'NDJSON source: a file path, file:// URL or http(s):// URL, read as a stream.',
        }),
      ),
    },
    {
      additionalProperties: false,
      default: {},
      description: 'Where the objects come from: generate (the default, 100,000 objects) or url.',
    },
  ),
  [
    {
      cel: '!(has(self.generate) && has(self.url))',
      message: 'set either generate or url, not both',
      check: (s) => !(has(s, 'generate') && has(s, 'url')),
    },
  ],
);

export const FetcherSchema = Type.Object(
  {
    replicas: Replicas(1),
    maxInFlight: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 64,
      description: 'Chunks published but not yet acknowledged by the stream (backpressure).',
    }),
    maxPending: Type.Integer({
      minimum: 1,
      maximum: 10_000_000,
      default: 10_000,
      description: 'Chunks waiting for a mapper above which the fetcher pauses (the backlog bound).',
    }),
    resources: Type.Optional(ResourcesSchema),
  },
  { additionalProperties: false, default: {} },
);

const WaitMs = withRules(
  Type.Object(
    {
      min: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 0 }),
      max: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 0 }),
    },
    {
      additionalProperties: false,
      // Spelled out: the API server checks a default against the CEL rule before nested defaults apply.
      default: { min: 0, max: 0 },
      description: 'Simulated wait per chunk, uniform between min and max milliseconds.',
    },
  ),
  [
    {
      cel: 'self.min <= self.max',
      message: 'min must not exceed max',
      fieldPath: '.min',
      check: (s) => (s.min as number) <= (s.max as number),
    },
  ],
);

export const MapperSchema = Type.Object(
  {
    replicas: Replicas(3),
    concurrency: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 4,
      description: 'Chunks each replica works on at once.',
    }),
    transform: Type.String({
      minLength: 1,
      maxLength: 65_536,
      default: DEFAULT_TRANSFORM,
      description: 'JSONata expression applied to every object.',
    }),
    work: Type.Object(
      {
        waitMs: WaitMs,
        cpuMs: Type.Integer({
          minimum: 0,
          maximum: 3_600_000,
          default: 0,
          description: 'Busy CPU per chunk, in milliseconds.',
        }),
      },
      { additionalProperties: false, default: {}, description: 'Simulated cost of each chunk.' },
    ),
    maxDeliver: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 5,
      description: 'Attempts per chunk before it is dead-lettered.',
    }),
    ackWaitSeconds: Type.Integer({
      minimum: 1,
      maximum: 3600,
      default: 30,
      description: 'Seconds without an ack or progress before a chunk is redelivered.',
    }),
    resources: Type.Optional(ResourcesSchema),
  },
  { additionalProperties: false, default: {} },
);

export const SinkSchema = withRules(
  Type.Object(
    {
      type: Type.Union(
        SINK_TYPES.map((t) => Type.Literal(t)),
        {
          default: 'jsonl',
          description: 'jsonl: a file of one JSON object per line; log: JSON lines on stdout.',
        },
      ),
      path: Type.Optional(
        Type.String({ minLength: 1, maxLength: 4096, description: 'File of the jsonl sink.' }),
      ),
    },
    { additionalProperties: false, default: {} },
  ),
  [],
);

export const SaverSchema = Type.Object(
  {
    replicas: Replicas(1),
    sink: SinkSchema,
    resources: Type.Optional(ResourcesSchema),
  },
  { additionalProperties: false, default: {} },
);

export const TargetSchema = withRules(
  Type.Object(
    {
      type: Type.Union(
        TARGET_TYPES.map((t) => Type.Literal(t)),
        { description: 'Chat service the events go to.' },
      ),
      urlFromEnv: Type.Optional(
        Type.String({
          pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
          description: 'Local mode: the environment variable that holds the webhook URL or bot token.',
        }),
      ),
      urlFrom: Type.Optional(
        Type.Object(
          { secretKeyRef: SecretKeyRef },
          {
            additionalProperties: false,
            description: 'Cluster: the Secret key that holds the URL or token.',
          },
        ),
      ),
      chatId: Type.Optional(Type.String({ minLength: 1, description: 'Telegram chat id.' })),
    },
    { additionalProperties: false },
  ),
  [
    {
      cel: 'has(self.urlFromEnv) || has(self.urlFrom)',
      message: 'a target needs its secret reference: set urlFrom.secretKeyRef (or urlFromEnv in local mode)',
      fieldPath: '.urlFrom',
      check: (s) => has(s, 'urlFromEnv') || has(s, 'urlFrom'),
    },
    {
      // No one sets a Pod's environment but the controller, so urlFromEnv alone would leave the
      // broadcaster without its URL.
      cel: 'has(self.urlFrom)',
      message:
        'in a cluster a target needs urlFrom.secretKeyRef: urlFromEnv is read only in local mode (dwk up --local)',
      fieldPath: '.urlFrom',
      check: (s) => has(s, 'urlFrom'),
      clusterOnly: true,
    },
    {
      cel: "self.type != 'telegram' || has(self.chatId)",
      message: 'a telegram target needs chatId',
      fieldPath: '.chatId',
      check: (s) => s.type !== 'telegram' || has(s, 'chatId'),
    },
  ],
);

export const BroadcasterSchema = Type.Object(
  {
    replicas: Replicas(1),
    subjects: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), {
      minItems: 1,
      maxItems: 64,
      default: ['todos.>'],
      description: 'NATS subjects whose events are broadcast.',
    }),
    target: TargetSchema,
    resources: Type.Optional(ResourcesSchema),
  },
  { additionalProperties: false },
);

/** Where the workloads find NATS when the spec does not say: the Helm release `nats` beside them. */
export const DEFAULT_NATS_URL = 'nats://nats:4222';

export const NatsSchema = withRules(
  Type.Object(
    {
      url: Type.String({
        minLength: 1,
        // Bounds the cost of the CEL rule below, which the API server estimates from the longest string.
        maxLength: 1024,
        default: DEFAULT_NATS_URL,
        description: `NATS server URL(s): ${NATS_URLS_RULE}.`,
      }),
      credentials: Type.Optional(
        Type.Object(
          {
            secretRef: Type.Object(
              { name: Type.String({ minLength: 1, maxLength: 253 }) },
              {
                additionalProperties: false,
                description: 'Secret with keys user and password, or token, or creds (a .creds file).',
              },
            ),
          },
          { additionalProperties: false },
        ),
      ),
      deletePolicy: Type.Union(
        DELETE_POLICIES.map((p) => Type.Literal(p)),
        {
          default: 'retain',
          description: "What happens to the pipeline's streams and buckets when the Pipeline is deleted.",
        },
      ),
    },
    { additionalProperties: false, default: {} },
  ),
  [
    {
      // The same pattern the CLI and the workloads check: a URL the apiserver takes, a workload runs with.
      cel: `!has(self.url) || self.url.matches(r'${NATS_URLS_PATTERN}')`,
      message: `must be ${NATS_URLS_RULE}`,
      fieldPath: '.url',
      check: (s) => typeof s.url !== 'string' || isNatsUrls(s.url),
    },
  ],
);

export const MonitoringSchema = Type.Object(
  {
    serviceMonitor: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        labels: Type.Optional(Type.Record(Type.String(), Type.String())),
        prometheusRef: Type.Optional(
          Type.Object(
            { name: Type.String({ minLength: 1 }), namespace: Type.Optional(Type.String({ minLength: 1 })) },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const PipelineSpecSchema = Type.Object(
  {
    image: Type.String({ minLength: 1, default: DEFAULT_IMAGE, description: 'Workloads image.' }),
    paused: Type.Boolean({ default: false, description: 'Scale every component to zero.' }),
    source: SourceSchema,
    chunkSize: Type.Integer({ minimum: 1, maximum: 10_000, default: 100, description: 'Objects per chunk.' }),
    nats: NatsSchema,
    fetcher: FetcherSchema,
    mapper: MapperSchema,
    saver: SaverSchema,
    broadcaster: Type.Optional(BroadcasterSchema),
    monitoring: MonitoringSchema,
  },
  { additionalProperties: false, default: {} },
);

export const PipelineSchema = Type.Object(
  {
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal(KIND),
    metadata: Type.Object(
      {
        name: Type.String({
          minLength: 1,
          maxLength: 40,
          pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
        }),
        namespace: Type.Optional(Type.String()),
      },
      { additionalProperties: true },
    ),
    spec: PipelineSpecSchema,
  },
  { additionalProperties: true },
);

/** A spec with every default filled in. */
export type PipelineSpec = Static<typeof PipelineSpecSchema>;
export type Pipeline = Static<typeof PipelineSchema>;
export type SourceSpec = Static<typeof SourceSchema>;
export type MapperSpec = Static<typeof MapperSchema>;
export type SaverSpec = Static<typeof SaverSchema>;
export type SinkSpec = Static<typeof SinkSchema>;
export type BroadcasterSpec = Static<typeof BroadcasterSchema>;
export type TargetSpec = Static<typeof TargetSchema>;
export type ResourcesSpec = Static<typeof ResourcesSchema>;
export type SinkType = (typeof SINK_TYPES)[number];
export type TargetType = (typeof TARGET_TYPES)[number];

/** Desired replicas of a component as the spec says, before `paused` is applied. */
export function specReplicas(spec: PipelineSpec, component: Component): number {
  if (component === 'broadcaster') return spec.broadcaster?.replicas ?? 0;
  return spec[component].replicas;
}

/** Desired replicas after `paused`: what should actually run. */
export function desiredReplicas(spec: PipelineSpec, component: Component): number {
  return spec.paused ? 0 : specReplicas(spec, component);
}

/** Components that the spec asks for (the broadcaster only when configured). */
export function componentsOf(spec: PipelineSpec): Component[] {
  return COMPONENTS.filter((c) => c !== 'broadcaster' || spec.broadcaster !== undefined);
}

/** Total chunks when the source says so up front (a generated dataset); undefined for streams. */
export function knownTotalChunks(spec: PipelineSpec): number | undefined {
  if (spec.source.url !== undefined) return undefined;
  return Math.ceil(generatedObjects(spec) / spec.chunkSize);
}

export const DEFAULT_OBJECTS = 100_000;
export const DEFAULT_SEED = 1;

/** Objects of the generated dataset; absent `generate` and `url` mean the default dataset. */
export function generatedObjects(spec: PipelineSpec): number {
  return spec.source.generate?.objects ?? DEFAULT_OBJECTS;
}
