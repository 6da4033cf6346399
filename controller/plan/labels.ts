/** Names and labels of everything the controller makes for a Pipeline. No I/O. */
import type { V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND, type Component } from '../../api/v1alpha1/pipeline.ts';

export const FIELD_MANAGER = 'dwk-controller';
export const METRICS_PORT = 8080;
export const METRICS_PORT_NAME = 'metrics';

export interface PipelineRef {
  name: string;
  namespace: string;
  uid: string;
}

export const objectName = (pipeline: string, component: Component) => `${pipeline}-${component}`;

/** The Kubernetes recommended labels; the first two also select the component's Pods. */
export function selectorLabels(pipeline: string, component: Component): Record<string, string> {
  return { 'app.kubernetes.io/name': component, 'app.kubernetes.io/instance': pipeline };
}

export function componentLabels(pipeline: string, component: Component): Record<string, string> {
  return {
    ...selectorLabels(pipeline, component),
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'dwk',
    'app.kubernetes.io/managed-by': 'dwk',
  };
}

/** Label selector string (for status.selector and kubectl -l). */
export const selectorString = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

export function ownerReference(p: PipelineRef): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: p.name,
    uid: p.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}
