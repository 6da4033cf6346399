/**
 * ServiceMonitors whose labels the cluster's Prometheus actually selects: the step people used to
 * do by hand (`kubectl label servicemonitor … release=…`). No I/O.
 */
import type { V1LabelSelector } from '@kubernetes/client-node';
import type { PipelineSpec } from '../../api/v1alpha1/pipeline.ts';
import { METRICS_PORT_NAME, ownerReference, type PipelineRef } from './labels.ts';
import { describeSelector, labelsSatisfying, matches } from './selector.ts';

export interface ObservedPrometheus {
  name: string;
  namespace: string;
  /** null: selects no ServiceMonitor; {}: selects all (prometheus-operator semantics). */
  serviceMonitorSelector: V1LabelSelector | null;
  /** null: only its own namespace; {}: every namespace. */
  serviceMonitorNamespaceSelector: V1LabelSelector | null;
}

export interface ObservedMonitoring {
  /** Whether the monitoring.coreos.com ServiceMonitor CRD exists. */
  crdInstalled: boolean;
  prometheuses: ObservedPrometheus[];
  /** Labels of the Pipeline's namespace, for namespace selectors. */
  namespaceLabels: Record<string, string>;
}

export interface ServiceMonitor {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'ServiceMonitor';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    ownerReferences: ReturnType<typeof ownerReference>[];
  };
  spec: {
    selector: V1LabelSelector;
    namespaceSelector: { matchNames: string[] };
    endpoints: Array<{ port: string; path: string; interval: string }>;
  };
}

export interface MonitoringPlan {
  serviceMonitors: ServiceMonitor[];
  condition: { status: 'True' | 'False'; reason: string; message: string };
}

const selectsNamespace = (p: ObservedPrometheus, namespace: string, nsLabels: Record<string, string>) =>
  p.serviceMonitorNamespaceSelector === null
    ? p.namespace === namespace
    : matches(p.serviceMonitorNamespaceSelector, nsLabels);

const id = (p: ObservedPrometheus) => `${p.namespace}/${p.name}`;

/** The exporter port of the official NATS Helm chart (prometheus-nats-exporter, `-prefix=nats`). */
export const NATS_EXPORTER_PORT_NAME = 'prom-metrics';

/**
 * The Kubernetes Service behind `spec.nats.url`: `nats`, `nats.ns`, `nats.ns.svc[.cluster.local]`
 * (the first URL of a list). Undefined for an IP or a host outside the cluster: nothing to select.
 */
export function natsServiceOf(
  url: string,
  pipelineNamespace: string,
): { name: string; namespace: string } | undefined {
  const first = url.split(',')[0]?.trim() ?? '';
  let host: string;
  try {
    host = new URL(first.includes('://') ? first : `nats://${first}`).hostname;
  } catch {
    return undefined;
  }
  if (host === '' || /^[\d.]+$/.test(host) || host.includes(':') || host.startsWith('[')) return undefined;
  const [name, namespace, svc] = host.split('.');
  if (!name) return undefined;
  if (namespace === undefined) return { name, namespace: pipelineNamespace };
  if (svc === undefined || svc === 'svc') return { name, namespace };
  return undefined;
}

export function planMonitoring(
  p: PipelineRef,
  spec: PipelineSpec,
  observed: ObservedMonitoring,
): MonitoringPlan {
  const sm = spec.monitoring.serviceMonitor;
  if (!sm.enabled) {
    return {
      serviceMonitors: [],
      condition: {
        status: 'False',
        reason: 'Disabled',
        message: 'spec.monitoring.serviceMonitor.enabled is false',
      },
    };
  }
  if (!observed.crdInstalled) {
    return {
      serviceMonitors: [],
      condition: {
        status: 'False',
        reason: 'ServiceMonitorCRDMissing',
        message:
          'the monitoring.coreos.com ServiceMonitor CRD is not installed, so no ServiceMonitor was created',
      },
    };
  }
  const ref = sm.prometheusRef;
  const candidates = [...observed.prometheuses]
    .filter((x) => !ref || (x.name === ref.name && x.namespace === (ref.namespace ?? x.namespace)))
    .sort((a, b) => id(a).localeCompare(id(b)));
  // Take labels from the first Prometheus that can see this namespace and selects anything at all.
  const source = candidates.find(
    (x) => x.serviceMonitorSelector !== null && selectsNamespace(x, p.namespace, observed.namespaceLabels),
  );
  const labels = {
    ...(source?.serviceMonitorSelector ? labelsSatisfying(source.serviceMonitorSelector) : {}),
    ...(sm.labels ?? {}),
    'app.kubernetes.io/instance': p.name,
    'app.kubernetes.io/part-of': 'dwk',
    'app.kubernetes.io/managed-by': 'dwk',
  };
  const monitor: ServiceMonitor = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: {
      name: `${p.name}-workloads`,
      namespace: p.namespace,
      labels,
      ownerReferences: [ownerReference(p)],
    },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/instance': p.name, 'app.kubernetes.io/part-of': 'dwk' } },
      namespaceSelector: { matchNames: [p.namespace] },
      endpoints: [{ port: METRICS_PORT_NAME, path: '/metrics', interval: '15s' }],
    },
  };
  const monitors = [monitor];
  const nats = natsServiceOf(spec.nats.url, p.namespace);
  if (nats) {
    // The NATS chart labels its Services name=nats, instance=<release>; the Service is named after
    // the release by default. Lives beside the Pipeline (owner references stay in one namespace).
    monitors.push({
      ...monitor,
      metadata: { ...monitor.metadata, name: `${p.name}-nats` },
      spec: {
        selector: {
          matchLabels: { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/instance': nats.name },
        },
        namespaceSelector: { matchNames: [nats.namespace] },
        endpoints: [{ port: NATS_EXPORTER_PORT_NAME, path: '/metrics', interval: '15s' }],
      },
    });
  }
  const selecting = candidates.filter(
    (x) =>
      x.serviceMonitorSelector !== null &&
      matches(x.serviceMonitorSelector, labels) &&
      selectsNamespace(x, p.namespace, observed.namespaceLabels),
  );
  let condition: MonitoringPlan['condition'];
  if (selecting.length > 0) {
    condition = {
      status: 'True',
      reason: 'Selected',
      message: `ServiceMonitors ${monitors.map((m) => m.metadata.name).join(', ')} are selected by Prometheus ${selecting.map(id).join(', ')}`,
    };
  } else if (candidates.length === 0) {
    condition = {
      status: 'False',
      reason: ref ? 'PrometheusNotFound' : 'NoPrometheus',
      message: ref
        ? `Prometheus ${ref.namespace ?? '*'}/${ref.name} (spec.monitoring.serviceMonitor.prometheusRef) was not found`
        : 'no Prometheus resource was found in the cluster, so nothing will scrape the ServiceMonitor',
    };
  } else {
    const why = candidates
      .map((x) =>
        x.serviceMonitorSelector === null
          ? `${id(x)} selects no ServiceMonitors (serviceMonitorSelector is unset)`
          : !selectsNamespace(x, p.namespace, observed.namespaceLabels)
            ? `${id(x)} does not watch namespace ${p.namespace}`
            : `${id(x)} wants ${describeSelector(x.serviceMonitorSelector)}`,
      )
      .join('; ');
    condition = {
      status: 'False',
      reason: 'NotSelected',
      message: `no Prometheus selects ServiceMonitor ${monitor.metadata.name}: ${why}`,
    };
  }
  return { serviceMonitors: monitors, condition };
}
