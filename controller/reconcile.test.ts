import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import type { PipelineStatus } from '../api/v1alpha1/status.ts';
import { KubeApiError, type KubeClient, type KubeObject } from '../lib/kube/client.ts';
import { createLogger } from '../lib/log.ts';
import type { Informer, MonitoringState } from './informer.ts';
import { createControllerMetrics } from './metrics.ts';
import {
  describeChange,
  Reconciler,
  stillApplied,
  type PipelineObject,
  type ReconcilerDeps,
} from './reconcile.ts';

const pipeline: PipelineObject = {
  apiVersion: 'dwk.dev/v1alpha1',
  kind: 'Pipeline',
  metadata: { name: 'demo', namespace: 'team', uid: 'uid-1', generation: 1 },
  spec: { nats: { url: 'nats://nats:4222' } },
};

/** An informer that holds what the test gives it. */
const cacheOf = <T extends KubeObject>(objects: Record<string, T> = {}) =>
  ({ get: (key: string) => objects[key], list: () => Object.values(objects) }) as unknown as Informer<T>;

interface FakeOptions {
  failNamespaceGet?: boolean;
  /** Why a DELETE fails (a 403, say); deletes succeed without it. */
  deleteError?: Error;
  deployments?: Record<string, V1Deployment & KubeObject>;
}

/** A client that records every write and event, and fails the calls the test names. */
function recordingClient(o: FakeOptions) {
  const applied: KubeObject[] = [];
  const events: Array<Record<string, unknown>> = [];
  const client = {
    apply: (obj: KubeObject) => {
      applied.push(obj);
      return Promise.resolve({ ...obj, metadata: { ...obj.metadata, resourceVersion: '7', generation: 1 } });
    },
    getOrUndefined: () =>
      o.failNamespaceGet
        ? Promise.reject(new KubeApiError(403, 'namespaces "team" is forbidden'))
        : Promise.resolve({ metadata: { labels: {} } }),
    request: (_method: string, _path: string, body: Record<string, unknown>) => {
      events.push(body);
      return Promise.resolve({ metadata: { name: `event-${events.length}` } });
    },
    mergePatch: () => Promise.resolve({}),
    delete: () => (o.deleteError ? Promise.reject(o.deleteError) : Promise.resolve(true)),
  };
  return { client: client as unknown as KubeClient, applied, events };
}

function reconcilerWith(state: MonitoringState, o: FakeOptions = {}) {
  const { client, applied, events } = recordingClient(o);
  const pipelines: Record<string, PipelineObject> = { 'team/demo': pipeline };
  const deps: ReconcilerDeps = {
    client,
    log: createLogger({ level: 'silent' }),
    pipelines: cacheOf(pipelines),
    deployments: cacheOf(o.deployments),
    services: cacheOf(),
    monitoring: { state: () => state, owned: () => undefined },
    metrics: createControllerMetrics(
      () => 0,
      () => new Map(),
    ),
    nats: { progress: () => undefined, forget: () => undefined, purge: () => Promise.resolve([]) },
  };
  return { reconciler: new Reconciler(deps), applied, events, pipelines };
}

const statusOf = (applied: KubeObject[]) =>
  applied.find((o) => o.kind === 'Pipeline')?.status as PipelineStatus | undefined;
const kindsOf = (applied: KubeObject[]) =>
  applied.filter((o) => o.kind !== 'Pipeline').map((o) => `${o.kind}/${o.metadata?.name}`);

describe('a reconcile whose monitoring state cannot be read', () => {
  const served = new Set(['ServiceMonitor', 'PodMonitor', 'Prometheus'] as const);

  it('still applies the workloads when the Prometheus list failed, and says why in MonitoringReady', async () => {
    const { reconciler, applied } = reconcilerWith({
      served,
      prometheuses: [],
      error: 'cannot list Prometheus resources: prometheuses.monitoring.coreos.com is forbidden',
    });
    await reconciler.reconcile('team/demo');
    assert.deepEqual(kindsOf(applied), [
      'Service/demo-fetcher',
      'Deployment/demo-fetcher',
      'Service/demo-mapper',
      'Deployment/demo-mapper',
      'Service/demo-saver',
      'Deployment/demo-saver',
    ]);
    const c = statusOf(applied)?.conditions?.find((x) => x.type === 'MonitoringReady');
    assert.deepEqual([c?.status, c?.reason], ['False', 'ObservationFailed']);
    assert.match(c?.message ?? '', /prometheuses\.monitoring\.coreos\.com is forbidden/);
  });

  it('still applies the workloads when the Namespace cannot be read', async () => {
    const { reconciler, applied } = reconcilerWith({ served, prometheuses: [] }, { failNamespaceGet: true });
    await reconciler.reconcile('team/demo');
    assert.equal(kindsOf(applied).filter((k) => k.startsWith('Deployment/')).length, 3);
    const c = statusOf(applied)?.conditions?.find((x) => x.type === 'MonitoringReady');
    assert.deepEqual([c?.status, c?.reason], ['False', 'ObservationFailed']);
    assert.match(c?.message ?? '', /cannot read Namespace team: .*forbidden/);
  });
});

describe('the apply cache', () => {
  const last = { hash: 'h1', generation: 2, resourceVersion: '10' };
  const labels = { 'app.kubernetes.io/part-of': 'dwk' };
  const desired = (kind: string): KubeObject => ({ kind, metadata: { labels } });
  const live = (generation: number, resourceVersion: string, metadata: KubeObject['metadata'] = {}) => ({
    metadata: { generation, resourceVersion, labels, ...metadata },
  });

  it('skips an object that is as we applied it', () => {
    assert.equal(stillApplied(desired('Service'), 'h1', last, live(2, '10')), true);
    assert.equal(stillApplied(desired('Deployment'), 'h1', last, live(2, '10')), true);
  });

  it('applies again what someone deleted or edited, or what we now want differently', () => {
    const service = desired('Service');
    assert.equal(stillApplied(service, 'h1', last, undefined), false, 'deleted');
    assert.equal(stillApplied(desired('ServiceMonitor'), 'h1', last, live(2, '11')), false, 'labels edited');
    assert.equal(stillApplied(desired('Deployment'), 'h1', last, live(3, '11')), false, 'spec edited');
    assert.equal(stillApplied(service, 'h2', last, live(2, '10')), false, 'desired changed');
    assert.equal(stillApplied(service, 'h1', undefined, live(2, '10')), false, 'never applied');
  });

  it("ignores a Deployment's status updates (resourceVersion moves, generation stays)", () => {
    assert.equal(stillApplied(desired('Deployment'), 'h1', last, live(2, '99')), true);
  });

  it('applies again a Deployment whose labels or annotations someone edited (its generation stays)', () => {
    const deployment = { kind: 'Deployment', metadata: { labels, annotations: { 'dwk.dev/a': '1' } } };
    const edited = (metadata: KubeObject['metadata']) => live(2, '11', metadata);
    assert.equal(
      stillApplied(deployment, 'h1', last, edited({ labels: { 'app.kubernetes.io/part-of': 'x' } })),
      false,
      'label changed',
    );
    assert.equal(stillApplied(deployment, 'h1', last, edited({ labels: {} })), false, 'label removed');
    assert.equal(
      stillApplied(deployment, 'h1', last, edited({ annotations: {} })),
      false,
      'annotation removed',
    );
    // What others add (the Deployment controller's revision annotation, a person's label) is theirs.
    const added = edited({
      labels: { ...labels, team: 'a' },
      annotations: { 'dwk.dev/a': '1', 'deployment.kubernetes.io/revision': '3' },
    });
    assert.equal(stillApplied(deployment, 'h1', last, added), true);
  });
});

describe('a reconcile', () => {
  const noMonitoring: MonitoringState = { served: new Set(), prometheuses: [] };

  it('reports a failed delete of a stale object: Degraded, a Warning Event, and a retry', async () => {
    const stale: V1Deployment & KubeObject = {
      kind: 'Deployment',
      metadata: { name: 'demo-broadcaster', namespace: 'team' },
    };
    const { reconciler, applied, events } = reconcilerWith(noMonitoring, {
      deployments: { 'team/demo-broadcaster': stale },
      deleteError: new KubeApiError(403, 'deployments.apps "demo-broadcaster" is forbidden'),
    });
    await assert.rejects(reconciler.reconcile('team/demo'), /could not delete Deployment demo-broadcaster/);
    const degraded = statusOf(applied)?.conditions?.find((c) => c.type === 'Degraded');
    assert.equal(degraded?.status, 'True');
    assert.match(degraded?.message ?? '', /could not delete Deployment demo-broadcaster: .*forbidden/);
    const warning = events.find((e) => e.reason === 'DeleteFailed');
    assert.equal(warning?.type, 'Warning');
    assert.match(String(warning?.message), /demo-broadcaster: .*forbidden/);
  });

  it('forgets what it applied for a Pipeline once the Pipeline is gone', async () => {
    const { reconciler, pipelines } = reconcilerWith(noMonitoring);
    await reconciler.reconcile('team/demo');
    assert.ok(reconciler.appliedCount() > 0);
    delete pipelines['team/demo'];
    await reconciler.reconcile('team/demo');
    assert.equal(reconciler.appliedCount(), 0);
  });
});

describe('the Event for an apply', () => {
  const deployment = (replicas: number, generation: number, image = 'a') =>
    ({
      kind: 'Deployment',
      metadata: { name: 'p-mapper', generation, resourceVersion: String(100 + generation) },
      spec: { replicas, template: { spec: { containers: [{ image }] } } },
    }) as KubeObject;
  const service = (resourceVersion: string) =>
    ({ kind: 'Service', metadata: { name: 'p-mapper', resourceVersion } }) as KubeObject;

  it('Created for a new object, with the replicas of a Deployment', () => {
    assert.deepEqual(describeChange(deployment(3, 1), undefined, deployment(3, 1)), {
      reason: 'Created',
      message: 'Created Deployment p-mapper with 3 replicas',
    });
    assert.equal(describeChange(service('1'), undefined, service('1'))?.message, 'Created Service p-mapper');
  });

  it('Scaled when the replicas moved, Updated for any other change', () => {
    assert.equal(describeChange(deployment(5, 1), deployment(3, 1), deployment(5, 2))?.reason, 'Scaled');
    assert.equal(
      describeChange(deployment(3, 1, 'b'), deployment(3, 1), deployment(3, 2, 'b'))?.reason,
      'Updated',
    );
    assert.equal(describeChange(service('1'), service('7'), service('8'))?.reason, 'Updated');
  });

  it('nothing when the server changed nothing (a restarted controller re-applying)', () => {
    // A Deployment's resourceVersion moves with its status: only its generation counts.
    const live = deployment(3, 4);
    const result = {
      ...deployment(3, 4),
      metadata: { name: 'p-mapper', generation: 4, resourceVersion: '999' },
    };
    assert.equal(describeChange(deployment(3, 4), live, result), undefined);
    assert.equal(describeChange(service('7'), service('7'), service('7')), undefined);
  });
});
