/** A metrics Service per component, for Prometheus ServiceMonitors. No I/O. */
import type { V1Service } from '@kubernetes/client-node';
import type { Component } from '../../api/v1alpha1/pipeline.ts';
import {
  componentLabels,
  METRICS_PORT,
  METRICS_PORT_NAME,
  objectName,
  ownerReference,
  selectorLabels,
  type PipelineRef,
} from './labels.ts';

export function serviceFor(p: PipelineRef, component: Component): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: objectName(p.name, component),
      namespace: p.namespace,
      labels: componentLabels(p.name, component),
      ownerReferences: [ownerReference(p)],
    },
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(p.name, component),
      ports: [
        { name: METRICS_PORT_NAME, port: METRICS_PORT, targetPort: METRICS_PORT_NAME, protocol: 'TCP' },
      ],
    },
  };
}
