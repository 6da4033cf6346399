/** The Pipeline's status from what the controller observed. Pure: the clock is a parameter. */
import type { V1Deployment } from '@kubernetes/client-node';
import {
  componentsOf,
  desiredReplicas,
  knownTotalChunks,
  type Component,
  type PipelineSpec,
} from '../../api/v1alpha1/pipeline.ts';
import type { ComponentStatus, Condition, PipelineStatus, Progress } from '../../api/v1alpha1/status.ts';
import { selectorLabels, selectorString } from './labels.ts';
import type { MonitoringPlan } from './monitoring.ts';

export interface StatusInput {
  generation: number;
  spec: PipelineSpec;
  pipeline: string;
  deployments: Partial<Record<Component, V1Deployment>>;
  monitoring: MonitoringPlan['condition'];
  progress: Progress | undefined;
  previous: PipelineStatus | undefined;
  /** Problems applying the plan, e.g. a missing Secret or a rejected object. */
  problems: string[];
  now: Date;
}

type ConditionStatus = Condition['status'];

function componentStatus(spec: PipelineSpec, c: Component, d: V1Deployment | undefined): ComponentStatus {
  return {
    desiredReplicas: desiredReplicas(spec, c),
    replicas: d?.status?.replicas ?? 0,
    readyReplicas: d?.status?.readyReplicas ?? 0,
    updatedReplicas: d?.status?.updatedReplicas ?? 0,
  };
}

/** A Deployment has caught up with its spec and all its Pods are ready. */
function rolledOut(d: V1Deployment | undefined, s: ComponentStatus): boolean {
  if (!d) return false;
  const observed = (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  return (
    observed &&
    s.updatedReplicas >= s.desiredReplicas &&
    s.readyReplicas >= s.desiredReplicas &&
    s.replicas === s.desiredReplicas
  );
}

function deadlineExceeded(d: V1Deployment | undefined): boolean {
  return (d?.status?.conditions ?? []).some(
    (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
  );
}

export function computeStatus(input: StatusInput): PipelineStatus {
  const { spec, generation, now, previous } = input;
  const components: Record<string, ComponentStatus> = {};
  const notReady: string[] = [];
  const stuck: string[] = [];
  for (const c of componentsOf(spec)) {
    const d = input.deployments[c];
    const s = componentStatus(spec, c, d);
    components[c] = s;
    if (!rolledOut(d, s)) notReady.push(`${c} ${s.readyReplicas}/${s.desiredReplicas}`);
    if (deadlineExceeded(d)) stuck.push(c);
  }

  const conditions: Array<Omit<Condition, 'lastTransitionTime'>> = [];
  const cond = (type: string, status: ConditionStatus, reason: string, message: string) =>
    conditions.push({ type, status, reason, message, observedGeneration: generation });

  if (input.problems.length > 0) {
    cond('Ready', 'False', 'ReconcileError', input.problems.join('; '));
  } else if (notReady.length === 0) {
    cond(
      'Ready',
      'True',
      spec.paused ? 'Paused' : 'AllReplicasReady',
      spec.paused ? 'paused: every component is scaled to 0' : 'every component has all its replicas ready',
    );
  } else {
    cond('Ready', 'False', 'ReplicasNotReady', `waiting for ${notReady.join(', ')}`);
  }
  cond(
    'Progressing',
    notReady.length > 0 ? 'True' : 'False',
    notReady.length > 0 ? 'RollingOut' : 'UpToDate',
    notReady.length > 0 ? `rolling out ${notReady.join(', ')}` : 'every Deployment matches the spec',
  );
  if (input.problems.length > 0 || stuck.length > 0) {
    const why = [...input.problems, ...stuck.map((c) => `${c}: progress deadline exceeded`)];
    cond(
      'Degraded',
      'True',
      input.problems.length > 0 ? 'ReconcileError' : 'ProgressDeadlineExceeded',
      why.join('; '),
    );
  } else {
    cond('Degraded', 'False', 'AsExpected', 'no component is failing');
  }
  cond('MonitoringReady', input.monitoring.status, input.monitoring.reason, input.monitoring.message);

  // lastTransitionTime moves only when a condition's status flips: no status churn.
  const stamped: Condition[] = conditions.map((c) => {
    const before = previous?.conditions?.find((p) => p.type === c.type);
    const lastTransitionTime =
      before && before.status === c.status ? before.lastTransitionTime : now.toISOString();
    return { ...c, lastTransitionTime };
  });

  const progress = input.progress ?? previous?.progress;
  const total = progress?.chunksTotal ?? knownTotalChunks(spec);
  const summary: Record<string, string> = {};
  for (const [c, s] of Object.entries(components)) summary[c] = `${s.readyReplicas}/${s.desiredReplicas}`;
  if (progress)
    summary.progress = total
      ? `${Math.floor((100 * progress.chunksSaved) / total)}%`
      : `${progress.chunksSaved} chunks`;

  return {
    observedGeneration: generation,
    conditions: stamped,
    components,
    ...(progress ? { progress } : {}),
    replicas: components.mapper?.replicas ?? 0,
    selector: selectorString(selectorLabels(input.pipeline, 'mapper')),
    summary,
  };
}
