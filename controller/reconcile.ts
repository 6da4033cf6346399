/**
 * One reconcile of one Pipeline: observe (informer caches, the monitoring informers, NATS progress),
 * plan (pure, controller/plan), apply what changed with server-side apply, write status only when
 * it changed. Returns a requeue delay or throws (the queue backs off).
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import {
  API_VERSION,
  COMPONENTS,
  KIND,
  type Component,
  type PipelineSpec,
} from '../api/v1alpha1/pipeline.ts';
import { isComplete, type PipelineStatus, type Progress } from '../api/v1alpha1/status.ts';
import { InvalidPipelineError, resolveSpec } from '../api/v1alpha1/validate.ts';
import { isNotFound, type KubeClient, type KubeObject } from '../lib/kube/client.ts';
import type { Logger } from '../lib/log.ts';
import type { Informer, MonitoringState } from './informer.ts';
import type { ControllerMetrics } from './metrics.ts';
import { plan } from './plan/index.ts';
import { FIELD_MANAGER, objectName } from './plan/labels.ts';
import {
  podMonitorName,
  serviceMonitorName,
  type ObservedMonitoring,
  type ObservedPrometheus,
} from './plan/monitoring.ts';

export const FINALIZER = 'dwk.dev/nats-cleanup';

const EVENT_AGGREGATION_MS = 10 * 60_000;

export interface PipelineObject extends KubeObject {
  spec?: unknown;
  status?: PipelineStatus;
}

export interface NatsSide {
  /**
   * The last progress read from NATS (undefined until one succeeds); never waits. A refresh runs
   * in the background and re-queues `key` when the figures change.
   */
  progress(key: string, pipeline: string, spec: PipelineSpec): Progress | undefined;
  forget(key: string): void;
  /** Deletes the pipeline's streams and buckets (deletePolicy: delete). */
  purge(namespace: string, pipeline: string, spec: PipelineSpec): Promise<string[]>;
}

export interface ReconcilerDeps {
  client: KubeClient;
  log: Logger;
  pipelines: Informer<PipelineObject>;
  deployments: Informer<V1Deployment & KubeObject>;
  services: Informer<V1Service & KubeObject>;
  /** The monitoring API as the informers see it; never waits. */
  monitoring: {
    state(): MonitoringState;
    owned(kind: 'ServiceMonitor' | 'PodMonitor', key: string): KubeObject | undefined;
  };
  metrics: ControllerMetrics;
  nats: NatsSide;
  now?: () => Date;
}

const hash = (o: unknown) => createHash('sha256').update(JSON.stringify(o)).digest('hex').slice(0, 16);

interface Applied {
  hash: string;
  generation: number | undefined;
  resourceVersion: string | undefined;
  /** The informer has shown the object since: if it is missing now, it was deleted. */
  observed?: boolean;
}

/** Whether every key of `wanted` has the same value in `actual`. */
const isSubset = (wanted: Record<string, string> | undefined, actual: Record<string, string> | undefined) =>
  Object.entries(wanted ?? {}).every(([k, v]) => actual?.[k] === v);

/**
 * Whether the live object is still what we last applied. A Deployment is compared by generation
 * (its status churns the resourceVersion) and by its labels and annotations, which move no
 * generation; the rest by resourceVersion, so that anyone else's edit, even of a label, is put
 * back. A missing object (deleted, or not yet seen) is applied again.
 */
export function stillApplied(
  desired: KubeObject,
  desiredHash: string,
  last: Applied | undefined,
  live: KubeObject | undefined,
): boolean {
  if (!last || last.hash !== desiredHash || !live) return false;
  if (desired.kind !== 'Deployment') return live.metadata?.resourceVersion === last.resourceVersion;
  return (
    live.metadata?.generation === last.generation &&
    isSubset(desired.metadata?.labels, live.metadata?.labels) &&
    isSubset(desired.metadata?.annotations, live.metadata?.annotations)
  );
}

/**
 * What an apply did, for an Event: created the object, scaled a Deployment, or changed it (a
 * change of the spec, or someone's edit put back). Nothing when the server changed nothing, as
 * when a restarted controller applies what is already there: no Event then.
 */
export function describeChange(
  desired: KubeObject,
  live: KubeObject | undefined,
  result: KubeObject,
): { reason: 'Created' | 'Scaled' | 'Updated'; message: string } | undefined {
  const what = `${desired.kind ?? ''} ${desired.metadata?.name ?? ''}`;
  const replicas = (o: KubeObject | undefined) => (o as V1Deployment | undefined)?.spec?.replicas;
  if (!live) {
    const size = desired.kind === 'Deployment' ? ` with ${replicas(desired)} replicas` : '';
    return { reason: 'Created', message: `Created ${what}${size}` };
  }
  // A Deployment's resourceVersion moves with its status; its generation only with its spec.
  const changed =
    desired.kind === 'Deployment'
      ? result.metadata?.generation !== live.metadata?.generation
      : result.metadata?.resourceVersion !== live.metadata?.resourceVersion;
  if (!changed) return undefined;
  if (desired.kind === 'Deployment' && replicas(live) !== replicas(desired)) {
    return {
      reason: 'Scaled',
      message: `Scaled Deployment ${desired.metadata?.name} to ${replicas(desired)} replicas`,
    };
  }
  return { reason: 'Updated', message: `Updated ${what} (a spec change, or an edit of it put back)` };
}

const prometheusOf = (x: KubeObject & { spec?: Record<string, unknown> }): ObservedPrometheus => ({
  name: x.metadata?.name ?? '',
  namespace: x.metadata?.namespace ?? '',
  serviceMonitorSelector:
    (x.spec?.serviceMonitorSelector as ObservedPrometheus['serviceMonitorSelector']) ?? null,
  serviceMonitorNamespaceSelector:
    (x.spec?.serviceMonitorNamespaceSelector as ObservedPrometheus['serviceMonitorNamespaceSelector']) ??
    null,
  podMonitorSelector: (x.spec?.podMonitorSelector as ObservedPrometheus['podMonitorSelector']) ?? null,
  podMonitorNamespaceSelector:
    (x.spec?.podMonitorNamespaceSelector as ObservedPrometheus['podMonitorNamespaceSelector']) ?? null,
});

export class Reconciler {
  private readonly d: ReconcilerDeps;
  /**
   * By Pipeline key, then by object: what we last applied, and the generation and resourceVersion
   * it had then. A Pipeline's entries go with it.
   */
  private readonly applied = new Map<string, Map<string, Applied>>();
  private readonly namespaceLabels = new Map<string, { at: number; labels: Record<string, string> }>();
  private readonly recentEvents = new Map<string, { name: string; count: number; at: number }>();

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
  }

  /** How many objects the apply cache holds, over every Pipeline (for tests). */
  appliedCount(): number {
    let n = 0;
    for (const objects of this.applied.values()) n += objects.size;
    return n;
  }

  /**
   * Records an Event. The same event again within ten minutes raises the count of the one recorded
   * (kubectl shows "x12 over 3m"), as client-go's correlator does, instead of a new object each retry.
   */
  private async event(p: PipelineObject, type: 'Normal' | 'Warning', reason: string, message: string) {
    const at = this.d.now?.() ?? new Date();
    const now = at.toISOString();
    const ns = p.metadata?.namespace ?? 'default';
    const key = `${p.metadata?.uid ?? ''}\u0000${type}\u0000${reason}\u0000${message}`;
    for (const [k, e] of this.recentEvents)
      if (at.getTime() - e.at > EVENT_AGGREGATION_MS) this.recentEvents.delete(k);
    const seen = this.recentEvents.get(key);
    try {
      if (seen) {
        seen.count++;
        seen.at = at.getTime();
        try {
          await this.d.client.mergePatch(
            { apiVersion: 'v1', kind: 'Event', namespace: ns, name: seen.name },
            { count: seen.count, lastTimestamp: now },
          );
          return;
        } catch (err) {
          if (!isNotFound(err)) throw err; // gone (an Event's TTL): record a new one
        }
      }
      const created = await this.d.client.request<KubeObject>('POST', `/api/v1/namespaces/${ns}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${p.metadata?.name}.`, namespace: ns },
        involvedObject: {
          apiVersion: API_VERSION,
          kind: KIND,
          name: p.metadata?.name,
          namespace: ns,
          uid: p.metadata?.uid,
        },
        type,
        reason,
        message,
        source: { component: FIELD_MANAGER },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
      if (created.metadata?.name)
        this.recentEvents.set(key, { name: created.metadata.name, count: 1, at: at.getTime() });
    } catch (err) {
      this.d.log.warn({ err, reason }, 'Could not record an event');
    }
  }

  /** What the plan needs to know about monitoring; a failure to read it is reported, never thrown. */
  private async observeMonitoring(ref: { name: string; namespace: string }): Promise<ObservedMonitoring> {
    const state = this.d.monitoring.state();
    const existing = {
      serviceMonitor: !!this.d.monitoring.owned(
        'ServiceMonitor',
        `${ref.namespace}/${serviceMonitorName(ref.name)}`,
      ),
      podMonitor: !!this.d.monitoring.owned('PodMonitor', `${ref.namespace}/${podMonitorName(ref.name)}`),
    };
    const observed: ObservedMonitoring = {
      crdInstalled: state.served.has('ServiceMonitor'),
      podMonitorCrdInstalled: state.served.has('PodMonitor'),
      prometheuses: state.prometheuses.map(prometheusOf),
      namespaceLabels: {},
      existing,
      ...(state.error !== undefined ? { unobservable: state.error } : {}),
    };
    if (state.error !== undefined || !observed.crdInstalled) return observed;
    const now = Date.now();
    let ns = this.namespaceLabels.get(ref.namespace);
    if (!ns || now - ns.at > 60_000) {
      try {
        const obj = await this.d.client.getOrUndefined({
          apiVersion: 'v1',
          kind: 'Namespace',
          name: ref.namespace,
        });
        ns = { at: now, labels: obj?.metadata?.labels ?? {} };
        this.namespaceLabels.set(ref.namespace, ns);
      } catch (err) {
        return {
          ...observed,
          unobservable: `cannot read Namespace ${ref.namespace}: ${(err as Error).message}`,
        };
      }
    }
    return { ...observed, namespaceLabels: ns.labels };
  }

  private async writeStatus(p: PipelineObject, status: PipelineStatus): Promise<void> {
    if (isDeepStrictEqual(p.status, status)) return;
    await this.d.client
      .apply(
        {
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace },
          status,
        },
        FIELD_MANAGER,
        true,
        'status',
      )
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err; // deleted meanwhile: nothing to report on
      });
    this.d.metrics.statusWrites.inc();
  }

  private async finalize(p: PipelineObject, spec: PipelineSpec | undefined): Promise<void> {
    const name = p.metadata?.name ?? '';
    if (!(p.metadata?.finalizers ?? []).includes(FINALIZER)) return;
    if (spec?.nats.deletePolicy === 'delete') {
      let deleted: string[];
      try {
        deleted = await this.d.nats.purge(p.metadata?.namespace ?? '', name, spec);
      } catch (err) {
        // Retried with backoff; the person deleting it learns why it waits and how to let it go.
        await this.event(
          p,
          'Warning',
          'NatsCleanupFailed',
          `cannot delete the pipeline's streams and buckets at ${spec.nats.url}: ${(err as Error).message}; ` +
            'retrying. To delete the Pipeline and keep them, set spec.nats.deletePolicy to retain',
        );
        throw err;
      }
      this.d.log.info({ pipeline: name, deleted }, 'Deleted the pipeline streams and buckets');
    }
    await this.d.client
      .mergePatch(
        { apiVersion: API_VERSION, kind: KIND, namespace: p.metadata?.namespace, name },
        {
          metadata: {
            finalizers: (p.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER),
            resourceVersion: p.metadata?.resourceVersion,
          },
        },
      )
      .catch((err: unknown) => {
        // Gone already (our earlier patch went through and the API server deleted it): done.
        if (!isNotFound(err)) throw err;
      });
  }

  /** A finalizer only where there is outside state to clean up; true when it had to be changed. */
  private async syncFinalizer(p: PipelineObject, spec: PipelineSpec): Promise<boolean> {
    const finalizers = p.metadata?.finalizers ?? [];
    const wantsFinalizer = spec.nats.deletePolicy === 'delete';
    if (wantsFinalizer === finalizers.includes(FINALIZER)) return false;
    await this.d.client.mergePatch(
      { apiVersion: API_VERSION, kind: KIND, namespace: p.metadata?.namespace, name: p.metadata?.name },
      {
        metadata: {
          finalizers: wantsFinalizer ? [...finalizers, FINALIZER] : finalizers.filter((f) => f !== FINALIZER),
          resourceVersion: p.metadata?.resourceVersion,
        },
      },
    );
    return true;
  }

  /** The object as the informers last saw it. */
  private liveOf(obj: KubeObject): KubeObject | undefined {
    const key = `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    switch (obj.kind) {
      case 'Deployment':
        return this.d.deployments.get(key);
      case 'Service':
        return this.d.services.get(key);
      case 'ServiceMonitor':
      case 'PodMonitor':
        return this.d.monitoring.owned(obj.kind, key);
      default:
        return undefined;
    }
  }

  /** Applies what changed since the last pass; returns what could not be applied. */
  private async applyPlan(
    key: string,
    p: PipelineObject,
    draft: ReturnType<typeof plan>,
    log: Logger,
  ): Promise<string[]> {
    const problems: string[] = [];
    let applied = this.applied.get(key);
    if (!applied) this.applied.set(key, (applied = new Map<string, Applied>()));
    for (const obj of draft.apply) {
      const objKey = `${obj.kind}/${obj.metadata?.namespace}/${obj.metadata?.name}`;
      const h = hash(obj);
      const live = this.liveOf(obj as KubeObject);
      const last = applied.get(objKey);
      if (last && live) last.observed = true;
      if (stillApplied(obj as KubeObject, h, last, live)) continue;
      try {
        const result = await this.d.client.apply<KubeObject>(obj as KubeObject, FIELD_MANAGER);
        this.d.metrics.applies.inc({ kind: obj.kind ?? '' });
        applied.set(objKey, {
          hash: h,
          generation: result.metadata?.generation,
          resourceVersion: result.metadata?.resourceVersion,
        });
        // The informer may not have seen our own last write yet: then that write is the live state.
        const seen =
          live ??
          (last && !last.observed
            ? {
                kind: obj.kind,
                metadata: { generation: last.generation, resourceVersion: last.resourceVersion },
              }
            : undefined);
        const change = describeChange(obj as KubeObject, seen, result);
        if (change) {
          log.info({ object: objKey }, change.message);
          await this.event(p, 'Normal', change.reason, change.message);
        }
      } catch (err) {
        const message = `could not apply ${obj.kind} ${obj.metadata?.name}: ${(err as Error).message}`;
        problems.push(message);
        log.error({ err, object: objKey }, 'Apply failed');
        await this.event(p, 'Warning', 'ApplyFailed', message);
      }
    }
    for (const r of draft.remove) {
      let deleted: boolean;
      try {
        deleted = await this.d.client.delete(r); // false when already gone
      } catch (err) {
        const message = `could not delete ${r.kind} ${r.name}: ${(err as Error).message}`;
        problems.push(message);
        log.error({ err, object: `${r.kind}/${r.namespace}/${r.name}` }, 'Delete failed');
        await this.event(p, 'Warning', 'DeleteFailed', message);
        continue;
      }
      if (deleted) await this.event(p, 'Normal', 'Deleted', `Deleted ${r.kind} ${r.name}`);
      applied.delete(`${r.kind}/${r.namespace}/${r.name}`);
    }

    return problems;
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const p = this.d.pipelines.get(key);
    if (!p) {
      this.d.nats.forget(key);
      this.applied.delete(key);
      return {}; // deleted: owner references let the garbage collector remove the rest
    }
    const ref = {
      name: p.metadata?.name ?? '',
      namespace: p.metadata?.namespace ?? '',
      uid: p.metadata?.uid ?? '',
    };
    const log = this.d.log.child({ pipeline: key });
    let spec: PipelineSpec;
    try {
      spec = resolveSpec(p.spec, `pipeline ${key}`);
    } catch (err) {
      if (!(err instanceof InvalidPipelineError)) throw err;
      // The CRD schema should have refused it; if not (an older CRD), say so and do not retry.
      if (p.metadata?.deletionTimestamp) {
        await this.finalize(p, undefined);
        return {};
      }
      await this.event(p, 'Warning', 'InvalidSpec', err.message);
      return {};
    }
    if (p.metadata?.deletionTimestamp) {
      await this.finalize(p, spec);
      return {};
    }
    if (await this.syncFinalizer(p, spec)) return {}; // the update comes back through the informer

    const deployments: Partial<Record<Component, V1Deployment>> = {};
    const services: Partial<Record<Component, V1Service>> = {};
    for (const c of COMPONENTS) {
      const d = this.d.deployments.get(`${ref.namespace}/${objectName(ref.name, c)}`);
      if (d) deployments[c] = d;
      const s = this.d.services.get(`${ref.namespace}/${objectName(ref.name, c)}`);
      if (s) services[c] = s;
    }
    const monitoring = await this.observeMonitoring(ref);
    const planWith = (progress: Progress | undefined, problems: string[]) =>
      plan({
        ref,
        generation: p.metadata?.generation ?? 0,
        spec,
        status: p.status,
        observed: { deployments, services, monitoring, progress, problems },
        now: this.d.now?.() ?? new Date(),
      });
    const progress = this.d.nats.progress(key, ref.name, spec);
    const problems = await this.applyPlan(key, p, planWith(progress, []), log);
    const final = planWith(progress, problems);
    await this.writeStatus(p, final.status);
    if (problems.length > 0) throw new Error(problems.join('; '));
    // Keep progress fresh while the run goes on; nothing to poll once it is complete.
    if (progress && !isComplete(progress)) return { requeueAfterMs: 5_000 };
    return {};
  }
}
