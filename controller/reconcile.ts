/**
 * One reconcile of one Pipeline: observe (informer caches, the monitoring API, NATS progress),
 * plan (pure, controller/plan), apply what changed with server-side apply, write status only when
 * it changed. Returns a requeue delay or throws (the queue backs off).
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { V1Deployment } from '@kubernetes/client-node';
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
import type { Informer } from './informer.ts';
import type { ControllerMetrics } from './metrics.ts';
import { plan } from './plan/index.ts';
import { FIELD_MANAGER, objectName } from './plan/labels.ts';
import type { ObservedMonitoring, ObservedPrometheus } from './plan/monitoring.ts';

export const FINALIZER = 'dwk.dev/nats-cleanup';

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
  purge(pipeline: string, spec: PipelineSpec): Promise<string[]>;
}

export interface ReconcilerDeps {
  client: KubeClient;
  log: Logger;
  pipelines: Informer<PipelineObject>;
  deployments: Informer<V1Deployment & KubeObject>;
  metrics: ControllerMetrics;
  nats: NatsSide;
  now?: () => Date;
}

const hash = (o: unknown) => createHash('sha256').update(JSON.stringify(o)).digest('hex').slice(0, 16);

export class Reconciler {
  private readonly d: ReconcilerDeps;
  /** What we last applied per object, and the generation it had then: a change of either means apply. */
  private readonly applied = new Map<string, { hash: string; generation: number | undefined }>();
  private monitoringCache: { at: number; value: Omit<ObservedMonitoring, 'namespaceLabels'> } | undefined;
  private readonly namespaceLabels = new Map<string, { at: number; labels: Record<string, string> }>();

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
  }

  /** Forget what was applied: the next pass re-applies everything (periodic resync). */
  forgetApplied(): void {
    this.applied.clear();
    this.monitoringCache = undefined;
  }

  private async event(p: PipelineObject, type: 'Normal' | 'Warning', reason: string, message: string) {
    const now = (this.d.now?.() ?? new Date()).toISOString();
    const ns = p.metadata?.namespace ?? 'default';
    try {
      await this.d.client.request('POST', `/api/v1/namespaces/${ns}/events`, {
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
    } catch (err) {
      this.d.log.warn({ err, reason }, 'Could not record an event');
    }
  }

  private async observeMonitoring(namespace: string): Promise<ObservedMonitoring> {
    const now = Date.now();
    if (!this.monitoringCache || now - this.monitoringCache.at > 60_000) {
      const crdInstalled = await this.d.client.serves('monitoring.coreos.com/v1', 'ServiceMonitor');
      let prometheuses: ObservedPrometheus[] = [];
      if (crdInstalled && (await this.d.client.serves('monitoring.coreos.com/v1', 'Prometheus'))) {
        const list = await this.d.client.list<KubeObject & { spec?: Record<string, unknown> }>({
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'Prometheus',
        });
        prometheuses = list.items.map((x) => ({
          name: x.metadata?.name ?? '',
          namespace: x.metadata?.namespace ?? '',
          serviceMonitorSelector:
            (x.spec?.serviceMonitorSelector as ObservedPrometheus['serviceMonitorSelector']) ?? null,
          serviceMonitorNamespaceSelector:
            (x.spec
              ?.serviceMonitorNamespaceSelector as ObservedPrometheus['serviceMonitorNamespaceSelector']) ??
            null,
        }));
      }
      this.monitoringCache = { at: now, value: { crdInstalled, prometheuses } };
    }
    let ns = this.namespaceLabels.get(namespace);
    if (!ns || now - ns.at > 60_000) {
      const obj = await this.d.client.getOrUndefined({
        apiVersion: 'v1',
        kind: 'Namespace',
        name: namespace,
      });
      ns = { at: now, labels: obj?.metadata?.labels ?? {} };
      this.namespaceLabels.set(namespace, ns);
    }
    return { ...this.monitoringCache.value, namespaceLabels: ns.labels };
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
      const deleted = await this.d.nats.purge(name, spec);
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

  /** Applies what changed since the last pass; returns what could not be applied. */
  private async applyPlan(
    p: PipelineObject,
    draft: ReturnType<typeof plan>,
    deployments: Partial<Record<Component, V1Deployment>>,
    log: Logger,
  ): Promise<string[]> {
    const problems: string[] = [];
    for (const obj of draft.apply) {
      const objKey = `${obj.kind}/${obj.metadata?.namespace}/${obj.metadata?.name}`;
      const h = hash(obj);
      const live =
        obj.kind === 'Deployment'
          ? deployments[obj.metadata?.labels?.['app.kubernetes.io/name'] as Component]
          : undefined;
      const last = this.applied.get(objKey);
      const unchanged =
        last?.hash === h &&
        (obj.kind !== 'Deployment' || (live && live.metadata?.generation === last.generation));
      if (unchanged) continue;
      try {
        const result = await this.d.client.apply<KubeObject>(obj as KubeObject, FIELD_MANAGER);
        this.d.metrics.applies.inc({ kind: obj.kind ?? '' });
        this.applied.set(objKey, { hash: h, generation: result.metadata?.generation });
        const verb = !last && !live && obj.kind === 'Deployment' ? 'Created' : 'Applied';
        if (
          obj.kind === 'Deployment' &&
          (!live || live.spec?.replicas !== (obj as V1Deployment).spec?.replicas)
        ) {
          const message = `${verb} Deployment ${obj.metadata?.name} with ${(obj as V1Deployment).spec?.replicas} replicas`;
          log.info({ object: objKey }, message);
          await this.event(p, 'Normal', live ? 'Scaled' : 'Created', message);
        } else if (obj.kind === 'Deployment' && last) {
          log.info({ object: objKey }, 'Corrected drift or applied a change');
        }
      } catch (err) {
        const message = `could not apply ${obj.kind} ${obj.metadata?.name}: ${(err as Error).message}`;
        problems.push(message);
        log.error({ err, object: objKey }, 'Apply failed');
        await this.event(p, 'Warning', 'ApplyFailed', message);
      }
    }
    for (const r of draft.remove) {
      if (
        await this.d.client
          .delete(r)
          .catch((err: unknown) => (isNotFound(err) ? false : Promise.reject(err as Error)))
      ) {
        await this.event(p, 'Normal', 'Deleted', `Deleted ${r.kind} ${r.name}`);
      }
      this.applied.delete(`${r.kind}/${r.namespace}/${r.name}`);
    }

    return problems;
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const p = this.d.pipelines.get(key);
    if (!p) {
      this.d.nats.forget(key);
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
    for (const c of COMPONENTS) {
      const d = this.d.deployments.get(`${ref.namespace}/${objectName(ref.name, c)}`);
      if (d) deployments[c] = d;
    }
    const monitoring = await this.observeMonitoring(ref.namespace);
    const planWith = (progress: Progress | undefined, problems: string[]) =>
      plan({
        ref,
        generation: p.metadata?.generation ?? 0,
        spec,
        status: p.status,
        observed: { deployments, monitoring, progress, problems },
        now: this.d.now?.() ?? new Date(),
      });
    const progress = this.d.nats.progress(key, ref.name, spec);
    const problems = await this.applyPlan(p, planWith(progress, []), deployments, log);
    const final = planWith(progress, problems);
    await this.writeStatus(p, final.status);
    if (problems.length > 0) throw new Error(problems.join('; '));
    // Keep progress fresh while the run goes on; nothing to poll once it is complete.
    if (progress && !isComplete(progress)) return { requeueAfterMs: 5_000 };
    return {};
  }
}
