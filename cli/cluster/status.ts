/** `dwk status` in a cluster: one snapshot from the Pipeline, its Deployments, Pods and Events. */
import {
  API_VERSION,
  COMPONENTS,
  DEFAULT_NATS_URL,
  KIND,
  knownTotalChunks,
  type Component,
} from '../../api/v1alpha1/pipeline.ts';
import { resolveSpec } from '../../api/v1alpha1/validate.ts';
import type { Condition, PipelineStatus, Progress } from '../../api/v1alpha1/status.ts';
import type { KubeObject } from '../../lib/kube/client.ts';
import type { Cluster } from './connect.ts';
import type { BroadcastOutcomes } from '../../lib/nats/broadcast-outcomes.ts';
import type { StageLag } from '../../lib/nats/progress.ts';
import type { NatsServerFigures } from '../../lib/nats/server-stats.ts';
import type { Rate } from '../local/model.ts';
import type { ClusterNatsFigures, NatsProbe, NatsReach, PipelineRef } from './nats-probe.ts';
import { findPipeline } from './pipelines.ts';
import { natsFiguresLines, rateOf } from '../views/format.ts';

export interface ClusterComponent {
  desired: number;
  replicas: number;
  ready: number;
  updated: number;
  restarts: number;
}

export interface ClusterEvent {
  type: string;
  reason: string;
  message: string;
  count: number;
  lastSeen: string;
}

/** The shape of `dwk status -o json` in a cluster. */
export interface ClusterStatus {
  pipeline: string;
  namespace: string;
  mode: 'cluster';
  paused: boolean;
  generation: number;
  observedGeneration?: number;
  natsUrl?: string;
  components: Partial<Record<Component, ClusterComponent>>;
  progress?: Progress;
  conditions: Array<Pick<Condition, 'type' | 'status' | 'reason' | 'message'>>;
  events: ClusterEvent[];
  /** How dwk reached NATS, when it tried: progress, lag and the figures below come from there. */
  nats?: NatsReach;
  lag?: { mapper?: StageLag; saver?: StageLag };
  /** From the second sample on (the live view). */
  rate?: Rate;
  natsServer?: NatsServerFigures;
  broadcast?: BroadcastOutcomes;
}

type Deployment = KubeObject & {
  spec?: { replicas?: number };
  status?: { replicas?: number; readyReplicas?: number; updatedReplicas?: number };
};
type Pod = KubeObject & { status?: { containerStatuses?: Array<{ restartCount?: number }> } };
type EventObj = KubeObject & {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
  series?: { count?: number; lastObservedTime?: string };
};

/** Pure: the snapshot from what the API server returned. */
export function clusterStatusOf(
  p: KubeObject & { spec: Record<string, unknown>; status?: PipelineStatus },
  deployments: Deployment[],
  pods: Pod[],
  events: EventObj[],
): ClusterStatus {
  const name = p.metadata?.name ?? '';
  const components: ClusterStatus['components'] = {};
  for (const c of COMPONENTS) {
    const d = deployments.find((x) => x.metadata?.labels?.['app.kubernetes.io/name'] === c);
    const s = p.status?.components?.[c];
    if (!d && !s) continue;
    const restarts = pods
      .filter((x) => x.metadata?.labels?.['app.kubernetes.io/name'] === c)
      .flatMap((x) => x.status?.containerStatuses ?? [])
      .reduce((n, cs) => n + (cs.restartCount ?? 0), 0);
    components[c] = {
      desired: d?.spec?.replicas ?? s?.desiredReplicas ?? 0,
      replicas: d?.status?.replicas ?? s?.replicas ?? 0,
      ready: d?.status?.readyReplicas ?? s?.readyReplicas ?? 0,
      updated: d?.status?.updatedReplicas ?? s?.updatedReplicas ?? 0,
      restarts,
    };
  }
  const when = (e: EventObj) => e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? '';
  return {
    pipeline: name,
    namespace: p.metadata?.namespace ?? '',
    mode: 'cluster',
    paused: p.spec.paused === true,
    generation: p.metadata?.generation ?? 0,
    ...(p.status?.observedGeneration !== undefined
      ? { observedGeneration: p.status.observedGeneration }
      : {}),
    ...(typeof (p.spec.nats as { url?: unknown } | undefined)?.url === 'string'
      ? { natsUrl: (p.spec.nats as { url: string }).url }
      : {}),
    components,
    ...(p.status?.progress ? { progress: p.status.progress } : {}),
    conditions: (p.status?.conditions ?? []).map(({ type, status, reason, message }) => ({
      type,
      status,
      reason,
      message,
    })),
    events: events
      .map((e) => ({
        type: e.type ?? 'Normal',
        reason: e.reason ?? '',
        message: e.message ?? '',
        count: e.series?.count ?? e.count ?? 1,
        lastSeen: when(e),
      }))
      .sort((a, b) => b.lastSeen.localeCompare(a.lastSeen))
      .slice(0, 10),
  };
}

/** The status with what NATS says merged in: its progress is fresher than the controller's copy. Pure. */
export function withNats(s: ClusterStatus, n: ClusterNatsFigures): ClusterStatus {
  return {
    ...s,
    nats: n.nats,
    ...(n.progress ? { progress: n.progress } : {}),
    ...(n.lag ? { lag: n.lag } : {}),
    ...(n.rate ? { rate: n.rate } : {}),
    ...(n.natsServer ? { natsServer: n.natsServer } : {}),
    ...(n.broadcast ? { broadcast: n.broadcast } : {}),
  };
}

type PipelineObj = KubeObject & {
  spec: { nats?: { url?: string; credentials?: { secretRef?: { name?: string } } }; broadcaster?: unknown };
};

/** Chunks of a generated source, from the spec with its defaults; undefined for a URL source. */
function totalOf(spec: unknown): number | undefined {
  try {
    return knownTotalChunks(resolveSpec(spec));
  } catch {
    return undefined; // a spec this dwk cannot read (a newer version's): no total
  }
}

export function pipelineRefOf(p: PipelineObj, s: ClusterStatus): PipelineRef {
  return {
    name: s.pipeline,
    natsUrl: p.spec.nats?.url ?? DEFAULT_NATS_URL,
    credentialsSecret: p.spec.nats?.credentials?.secretRef?.name,
    hasBroadcaster: p.spec.broadcaster !== undefined,
    knownTotal: s.progress?.chunksTotal ?? totalOf(p.spec),
  };
}

export async function fetchClusterStatus(
  cluster: Cluster,
  name: string | undefined,
  probe?: NatsProbe,
): Promise<ClusterStatus> {
  const p = await findPipeline(cluster, name);
  const pipeline = p.metadata?.name ?? '';
  const selector = `app.kubernetes.io/instance=${pipeline},app.kubernetes.io/part-of=dwk`;
  const ns = cluster.namespace;
  const fields = encodeURIComponent(`involvedObject.kind=${KIND},involvedObject.name=${pipeline}`);
  const [deployments, pods, events] = await Promise.all([
    cluster.client.list<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns }, selector),
    cluster.client.list<Pod>({ apiVersion: 'v1', kind: 'Pod', namespace: ns }, selector),
    cluster.client.request<{ items: EventObj[] }>(
      'GET',
      `/api/v1/namespaces/${encodeURIComponent(ns)}/events?fieldSelector=${fields}`,
    ),
  ]);
  const status = clusterStatusOf(p, deployments.items, pods.items, events.items);
  if (!probe) return status;
  return withNats(status, await probe.read(pipelineRefOf(p, status)));
}

export async function setPaused(cluster: Cluster, name: string, paused: boolean): Promise<void> {
  await cluster.client.mergePatch(
    { apiVersion: API_VERSION, kind: KIND, namespace: cluster.namespace, name },
    { spec: { paused } },
  );
}

const pad = (rows: string[][]) => {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join(''));
};

function natsLine(s: ClusterStatus): string {
  const n = s.nats;
  if (!n) return s.natsUrl ?? '(default)';
  const via = n.via === 'port-forward' && n.pod ? ` (through a port-forward to ${n.pod})` : '';
  return `${n.url}${via}${n.reachable ? '' : ` UNREACHABLE: ${n.error ?? ''}`}`;
}

/** The readable `dwk status` of a cluster pipeline, for pipes and --once. */
export function clusterStatusText(s: ClusterStatus): string {
  const ready = s.conditions.find((c) => c.type === 'Ready');
  const lines = [
    `Pipeline:  ${s.pipeline} (namespace ${s.namespace}, ${s.paused ? 'paused' : ready?.status === 'True' ? 'ready' : 'not ready'}, generation ${s.generation}, observed ${s.observedGeneration ?? '-'})`,
    `NATS:      ${natsLine(s)}`,
    '',
    ...pad([
      ['COMPONENT', 'DESIRED', 'READY', 'UPDATED', 'RESTARTS'],
      ...COMPONENTS.flatMap((c) => {
        const x = s.components[c];
        return x ? [[c, String(x.desired), String(x.ready), String(x.updated), String(x.restarts)]] : [];
      }),
    ]),
    '',
  ];
  const p = s.progress;
  lines.push(
    p
      ? `Chunks:    ${p.chunksSaved}${p.chunksTotal === undefined ? '' : `/${p.chunksTotal}`} saved, ${p.chunksPublished} published, ${p.chunksDeadLettered} dead-lettered`
      : 'Chunks:    unknown (the controller has not read NATS)',
  );
  const rate = rateOf(s.rate);
  if (rate) lines.push(`Rate:      ${rate}`);
  lines.push(...natsFiguresLines(s));
  if (s.conditions.length) {
    lines.push(
      '',
      ...pad([
        ['CONDITION', 'STATUS', 'REASON', 'MESSAGE'],
        ...s.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
      ]),
    );
  }
  if (s.events.length) {
    lines.push(
      '',
      'Events:',
      ...s.events.slice(0, 5).map((e) => `  ${e.lastSeen}  ${e.type}  ${e.reason}: ${e.message}`),
    );
  }
  return lines.join('\n');
}
