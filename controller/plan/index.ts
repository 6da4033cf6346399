/**
 * Reconcile as a plan: from a Pipeline and what the controller observed, the objects that must
 * exist and the status to report. No I/O, no await: the controller applies the plan.
 */
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { componentsOf, COMPONENTS, type Component, type PipelineSpec } from '../../api/v1alpha1/pipeline.ts';
import type { PipelineStatus, Progress } from '../../api/v1alpha1/status.ts';
import { deploymentFor } from './deployment.ts';
import { objectName, type PipelineRef } from './labels.ts';
import {
  planMonitoring,
  type ObservedMonitoring,
  type OwnedRef,
  type PodMonitor,
  type ServiceMonitor,
} from './monitoring.ts';
import { serviceFor } from './service.ts';
import { computeStatus } from './status.ts';

export interface PlanInput {
  ref: PipelineRef;
  generation: number;
  spec: PipelineSpec;
  status: PipelineStatus | undefined;
  observed: {
    deployments: Partial<Record<Component, V1Deployment>>;
    services: Partial<Record<Component, V1Service>>;
    monitoring: ObservedMonitoring;
    progress: Progress | undefined;
    problems: string[];
  };
  now: Date;
}

export interface Plan {
  /** Objects to server-side apply, in order. */
  apply: Array<V1Deployment | V1Service | ServiceMonitor | PodMonitor>;
  /**
   * Owned objects that exist and must go: the broadcaster once it is removed from the spec, the
   * monitors once monitoring is disabled or NATS moves out of the cluster.
   */
  remove: OwnedRef[];
  status: PipelineStatus;
}

export function plan(input: PlanInput): Plan {
  const { ref, spec } = input;
  const wanted = componentsOf(spec);
  const apply: Plan['apply'] = [];
  for (const c of wanted) apply.push(serviceFor(ref, c), deploymentFor(ref, spec, c));
  const monitoring = planMonitoring(ref, spec, input.observed.monitoring);
  apply.push(...monitoring.monitors);

  const remove: Plan['remove'] = [];
  for (const c of COMPONENTS) {
    if (wanted.includes(c)) continue;
    const name = objectName(ref.name, c);
    if (input.observed.deployments[c])
      remove.push({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace: ref.namespace });
    if (input.observed.services[c])
      remove.push({ apiVersion: 'v1', kind: 'Service', name, namespace: ref.namespace });
  }
  remove.push(...monitoring.remove);

  const status = computeStatus({
    generation: input.generation,
    spec,
    pipeline: ref.name,
    deployments: input.observed.deployments,
    monitoring: monitoring.condition,
    progress: input.observed.progress,
    previous: input.status,
    problems: input.observed.problems,
    now: input.now,
  });
  return { apply, remove, status };
}

export type { PipelineSpec };
