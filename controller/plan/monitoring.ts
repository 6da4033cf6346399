/**
 * ServiceMonitors (and the NATS PodMonitor) whose labels the cluster's Prometheus actually
 * selects: the step people used to do by hand (`kubectl label servicemonitor … release=…`). No I/O.
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
  /** The same two for PodMonitors. */
  podMonitorSelector: V1LabelSelector | null;
  podMonitorNamespaceSelector: V1LabelSelector | null;
}

export interface ObservedMonitoring {
  /** Whether the monitoring.coreos.com ServiceMonitor CRD exists. */
  crdInstalled: boolean;
  /** Whether the PodMonitor CRD exists (kube-prometheus-stack installs both). */
  podMonitorCrdInstalled: boolean;
  prometheuses: ObservedPrometheus[];
  /** Labels of the Pipeline's namespace, for namespace selectors. */
  namespaceLabels: Record<string, string>;
  /** Which of the Pipeline's monitors exist now, so that the plan can remove stale ones. */
  existing: { serviceMonitor: boolean; podMonitor: boolean };
  /**
   * Why the monitoring state could not be read (a failed Prometheus list or Namespace get), if so.
   * The monitors are then left as they are: guessing would strip the labels Prometheus selects.
   */
  unobservable?: string;
}

/** An owned object the plan deletes. */
export interface OwnedRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
}

export const serviceMonitorName = (pipeline: string) => `${pipeline}-workloads`;
export const podMonitorName = (pipeline: string) => `${pipeline}-nats`;

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

/**
 * The NATS chart's exporter listens on a container port that no Service of the chart exposes, so
 * only a PodMonitor reaches it (the chart's own `promExporter.podMonitor` is one too).
 */
export interface PodMonitor {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'PodMonitor';
  metadata: ServiceMonitor['metadata'];
  spec: {
    selector: V1LabelSelector;
    namespaceSelector: { matchNames: string[] };
    podMetricsEndpoints: Array<{ port: string; path: string; interval: string }>;
  };
}

export interface MonitoringPlan {
  monitors: Array<ServiceMonitor | PodMonitor>;
  /** Monitors that exist but are no longer wanted (disabled, or NATS moved out of the cluster). */
  remove: OwnedRef[];
  condition: { status: 'True' | 'False'; reason: string; message: string };
}

const selectsNamespace = (p: ObservedPrometheus, namespace: string, nsLabels: Record<string, string>) =>
  p.serviceMonitorNamespaceSelector === null
    ? p.namespace === namespace
    : matches(p.serviceMonitorNamespaceSelector, nsLabels);

const selectsPodMonitorsIn = (p: ObservedPrometheus, namespace: string, nsLabels: Record<string, string>) =>
  p.podMonitorNamespaceSelector === null
    ? p.namespace === namespace
    : matches(p.podMonitorNamespaceSelector, nsLabels);

const id = (p: ObservedPrometheus) => `${p.namespace}/${p.name}`;

/** What the Prometheus' selector asks for, then the spec's labels, then dwk's own. */
function monitorLabels(
  p: PipelineRef,
  selector: V1LabelSelector | null | undefined,
  extra: Record<string, string> | undefined,
): Record<string, string> {
  return {
    ...(selector ? labelsSatisfying(selector) : {}),
    ...(extra ?? {}),
    'app.kubernetes.io/instance': p.name,
    'app.kubernetes.io/part-of': 'dwk',
    'app.kubernetes.io/managed-by': 'dwk',
  };
}

/** The exporter's container port in the official NATS Helm chart (prometheus-nats-exporter). */
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
  const monitorRef = (kind: 'ServiceMonitor' | 'PodMonitor'): OwnedRef => ({
    apiVersion: 'monitoring.coreos.com/v1',
    kind,
    name: kind === 'ServiceMonitor' ? serviceMonitorName(p.name) : podMonitorName(p.name),
    namespace: p.namespace,
  });
  const staleUnless = (keep: { serviceMonitor: boolean; podMonitor: boolean }): OwnedRef[] => [
    ...(observed.existing.serviceMonitor && !keep.serviceMonitor ? [monitorRef('ServiceMonitor')] : []),
    ...(observed.existing.podMonitor && !keep.podMonitor ? [monitorRef('PodMonitor')] : []),
  ];
  const sm = spec.monitoring.serviceMonitor;
  if (!sm.enabled) {
    return {
      monitors: [],
      remove: staleUnless({ serviceMonitor: false, podMonitor: false }),
      condition: {
        status: 'False',
        reason: 'Disabled',
        message: 'spec.monitoring.serviceMonitor.enabled is false',
      },
    };
  }
  if (observed.unobservable !== undefined) {
    return {
      monitors: [],
      remove: [],
      condition: {
        status: 'False',
        reason: 'ObservationFailed',
        message: `${observed.unobservable}; the ServiceMonitor and PodMonitor are left as they are until it can`,
      },
    };
  }
  if (!observed.crdInstalled) {
    return {
      monitors: [],
      remove: [],
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
  const labels = monitorLabels(p, source?.serviceMonitorSelector, sm.labels);
  const monitor: ServiceMonitor = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: {
      name: serviceMonitorName(p.name),
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
  const monitors: MonitoringPlan['monitors'] = [monitor];
  const nats = natsServiceOf(spec.nats.url, p.namespace);
  const natsMonitor =
    nats && observed.podMonitorCrdInstalled
      ? natsPodMonitor(p, nats, sm.labels, candidates, observed)
      : undefined;
  if (natsMonitor) monitors.push(natsMonitor.monitor);
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
      message: `ServiceMonitor ${monitor.metadata.name} is selected by Prometheus ${selecting.map(id).join(', ')}${natsMonitor ? `; ${natsMonitor.note}` : ''}`,
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
  return {
    monitors,
    remove: staleUnless({ serviceMonitor: true, podMonitor: natsMonitor !== undefined }),
    condition,
  };
}

/**
 * The NATS exporter's PodMonitor: the chart's Pods (`app.kubernetes.io/name: nats`,
 * `app.kubernetes.io/instance: <release>`, the Service being named after the release) on the port
 * `prom-metrics`, labelled for the podMonitorSelector of the Prometheus that will scrape it. Lives
 * beside the Pipeline (owner references stay in one namespace) and looks into the NATS namespace.
 */
function natsPodMonitor(
  p: PipelineRef,
  nats: { name: string; namespace: string },
  extraLabels: Record<string, string> | undefined,
  candidates: ObservedPrometheus[],
  observed: ObservedMonitoring,
): { monitor: PodMonitor; note: string } {
  const source = candidates.find(
    (x) => x.podMonitorSelector !== null && selectsPodMonitorsIn(x, p.namespace, observed.namespaceLabels),
  );
  const labels = monitorLabels(p, source?.podMonitorSelector, extraLabels);
  const monitor: PodMonitor = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: {
      name: podMonitorName(p.name),
      namespace: p.namespace,
      labels,
      ownerReferences: [ownerReference(p)],
    },
    spec: {
      selector: {
        matchLabels: { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/instance': nats.name },
      },
      namespaceSelector: { matchNames: [nats.namespace] },
      podMetricsEndpoints: [{ port: NATS_EXPORTER_PORT_NAME, path: '/metrics', interval: '15s' }],
    },
  };
  const selecting = candidates.filter(
    (x) =>
      x.podMonitorSelector !== null &&
      matches(x.podMonitorSelector, labels) &&
      selectsPodMonitorsIn(x, p.namespace, observed.namespaceLabels),
  );
  const note =
    selecting.length > 0
      ? `PodMonitor ${monitor.metadata.name} (NATS) is selected by ${selecting.map(id).join(', ')}`
      : `no Prometheus selects PodMonitor ${monitor.metadata.name} (NATS): ${
          candidates
            .map((x) =>
              x.podMonitorSelector === null
                ? `${id(x)} selects no PodMonitors (podMonitorSelector is unset)`
                : `${id(x)} wants ${describeSelector(x.podMonitorSelector)}`,
            )
            .join('; ') || 'none found'
        }`;
  return { monitor, note };
}
