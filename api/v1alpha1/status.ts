/** Status of a Pipeline: what the controller (or local mode) observed. No I/O. */
import { Type, type Static } from '@sinclair/typebox';

export const CONDITION_TYPES = ['Ready', 'Progressing', 'Degraded', 'MonitoringReady'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export const ConditionSchema = Type.Object({
  type: Type.String(),
  status: Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')]),
  reason: Type.String(),
  message: Type.String(),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const ComponentStatusSchema = Type.Object({
  replicas: Type.Integer({ minimum: 0 }),
  readyReplicas: Type.Integer({ minimum: 0 }),
  updatedReplicas: Type.Integer({ minimum: 0 }),
  desiredReplicas: Type.Integer({ minimum: 0 }),
});

export const ProgressSchema = Type.Object({
  chunksTotal: Type.Optional(Type.Integer({ minimum: 0 })),
  chunksPublished: Type.Integer({ minimum: 0 }),
  chunksSaved: Type.Integer({ minimum: 0 }),
  chunksDeadLettered: Type.Integer({ minimum: 0 }),
  objectsDeadLettered: Type.Integer({ minimum: 0 }),
});

export const PipelineStatusSchema = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  // One condition per type, as the Kubernetes API conventions have it: a map keyed by type.
  conditions: Type.Optional(
    Type.Array(ConditionSchema, {
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    }),
  ),
  components: Type.Optional(Type.Record(Type.String(), ComponentStatusSchema)),
  progress: Type.Optional(ProgressSchema),
  /** Mapper replicas and selector, for the scale subresource. */
  replicas: Type.Optional(Type.Integer({ minimum: 0 })),
  selector: Type.Optional(Type.String()),
  /** Short summaries for printer columns, e.g. "2/3". */
  summary: Type.Optional(Type.Record(Type.String(), Type.String())),
});

export type Condition = Static<typeof ConditionSchema>;
export type ComponentStatus = Static<typeof ComponentStatusSchema>;
export type Progress = Static<typeof ProgressSchema>;
export type PipelineStatus = Static<typeof PipelineStatusSchema>;

/** True once every chunk the source produced is saved or dead-lettered. */
export function isComplete(progress: Progress): boolean {
  return (
    progress.chunksTotal !== undefined &&
    progress.chunksSaved + progress.chunksDeadLettered >= progress.chunksTotal
  );
}
