import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { resolveSpec } from '../../api/v1alpha1/validate.ts';
import {
  natsServiceOf,
  type ObservedMonitoring,
  type PodMonitor,
  type ServiceMonitor,
} from './monitoring.ts';
import { plan, type PlanInput } from './index.ts';

const ref = { name: 'demo', namespace: 'team', uid: 'uid-1' };
const noMonitoring: ObservedMonitoring = {
  crdInstalled: false,
  podMonitorCrdInstalled: false,
  prometheuses: [],
  namespaceLabels: {},
  existing: { serviceMonitor: false, podMonitor: false },
};

/** A builder for plan inputs: defaults everywhere, override what a test is about. */
function input(
  over: Partial<Omit<PlanInput, 'observed'>> & {
    observed?: Partial<PlanInput['observed']>;
    specIn?: unknown;
  } = {},
): PlanInput {
  return {
    ref,
    generation: 3,
    spec: resolveSpec(over.specIn ?? {}),
    status: undefined,
    now: new Date('2026-11-23T12:00:00Z'),
    ...over,
    observed: {
      deployments: {},
      services: {},
      monitoring: noMonitoring,
      progress: undefined,
      problems: [],
      ...over.observed,
    },
  };
}

const deployments = (p: ReturnType<typeof plan>) =>
  p.apply.filter((o): o is V1Deployment => o.kind === 'Deployment');
const byName = (p: ReturnType<typeof plan>, name: string) =>
  deployments(p).find((d) => d.metadata?.name === name);

/** An observed Deployment that has rolled out `ready` of `replicas`. */
function observed(replicas: number, ready = replicas, generation = 1): V1Deployment {
  return {
    metadata: { generation },
    status: { observedGeneration: generation, replicas, readyReplicas: ready, updatedReplicas: replicas },
  };
}

describe('plan', () => {
  it('creates a Deployment and a Service per component, named <pipeline>-<component>, owned by the Pipeline', () => {
    const p = plan(input());
    assert.deepEqual(
      p.apply.map((o) => `${o.kind}/${o.metadata?.name}`),
      [
        'Service/demo-fetcher',
        'Deployment/demo-fetcher',
        'Service/demo-mapper',
        'Deployment/demo-mapper',
        'Service/demo-saver',
        'Deployment/demo-saver',
      ],
    );
    for (const o of p.apply) {
      assert.deepEqual(o.metadata?.ownerReferences, [
        {
          apiVersion: 'dwk.dev/v1alpha1',
          kind: 'Pipeline',
          name: 'demo',
          uid: 'uid-1',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      assert.equal(o.metadata?.labels?.['app.kubernetes.io/part-of'], 'dwk');
      assert.equal(o.metadata?.labels?.['app.kubernetes.io/managed-by'], 'dwk');
      assert.equal(o.metadata?.labels?.['app.kubernetes.io/instance'], 'demo');
    }
  });

  it('sets the spec replicas, and 0 everywhere when paused', () => {
    assert.equal(
      byName(plan(input({ specIn: { mapper: { replicas: 7 } } })), 'demo-mapper')?.spec?.replicas,
      7,
    );
    const paused = plan(input({ specIn: { paused: true, mapper: { replicas: 7 } } }));
    assert.deepEqual(
      deployments(paused).map((d) => d.spec?.replicas),
      [0, 0, 0],
    );
  });

  it('gives workloads the env of the spec, the pod name as instance, and a secret reference, never a secret value', () => {
    const p = plan(
      input({
        specIn: {
          broadcaster: {
            target: { type: 'slack', urlFrom: { secretKeyRef: { name: 'hooks', key: 'slack' } } },
          },
        },
      }),
    );
    const env = byName(p, 'demo-broadcaster')?.spec?.template.spec?.containers[0]?.env ?? [];
    assert.deepEqual(
      env.find((e) => e.name === 'DWK_TARGET_URL'),
      {
        name: 'DWK_TARGET_URL',
        valueFrom: { secretKeyRef: { name: 'hooks', key: 'slack' } },
      },
    );
    assert.deepEqual(env.find((e) => e.name === 'DWK_INSTANCE')?.valueFrom, {
      fieldRef: { fieldPath: 'metadata.name' },
    });
    const mapperEnv = byName(p, 'demo-mapper')?.spec?.template.spec?.containers[0]?.env ?? [];
    assert.equal(mapperEnv.find((e) => e.name === 'DWK_MAPPER_CONCURRENCY')?.value, '4');
  });

  it('hands workloads every kind of NATS credentials of the Secret: user/password and token as optional env references, creds as an optional read-only file', () => {
    const p = plan(input({ specIn: { nats: { credentials: { secretRef: { name: 'nats-auth' } } } } }));
    for (const d of deployments(p)) {
      const pod = d.spec?.template.spec;
      const container = pod?.containers[0];
      const env = container?.env ?? [];
      for (const [name, key] of [
        ['DWK_NATS_USER', 'user'],
        ['DWK_NATS_PASSWORD', 'password'],
        ['DWK_NATS_TOKEN', 'token'],
      ]) {
        assert.deepEqual(env.find((e) => e.name === name)?.valueFrom?.secretKeyRef, {
          name: 'nats-auth',
          key,
          optional: true,
        });
      }
      const credsFile = env.find((e) => e.name === 'DWK_NATS_CREDS_FILE')?.value;
      assert.equal(credsFile, '/var/run/secrets/dwk.dev/nats/nats.creds');
      const volume = pod?.volumes?.find((v) => v.secret);
      assert.deepEqual(volume, {
        name: 'nats-credentials',
        secret: {
          secretName: 'nats-auth',
          optional: true,
          items: [{ key: 'creds', path: 'nats.creds' }],
          defaultMode: 0o440,
        },
      });
      const mount = container?.volumeMounts?.find((m) => m.name === volume?.name);
      assert.deepEqual(mount, {
        name: 'nats-credentials',
        mountPath: '/var/run/secrets/dwk.dev/nats',
        readOnly: true,
      });
      assert.equal(`${mount?.mountPath}/${volume?.secret?.items?.[0]?.path}`, credsFile);
      // Still restricted: the root filesystem stays read-only, the Secret arrives as a volume.
      assert.equal(container?.securityContext?.readOnlyRootFilesystem, true);
    }
  });

  it('mounts no Secret and names no creds file without NATS credentials', () => {
    for (const d of deployments(plan(input()))) {
      const pod = d.spec?.template.spec;
      assert.deepEqual(
        pod?.volumes?.map((v) => v.name),
        ['data', 'tmp'],
      );
      assert.ok(!(pod?.containers[0]?.env ?? []).some((e) => e.name.startsWith('DWK_NATS_CREDS')));
    }
  });

  it('makes Pods that satisfy the restricted Pod Security Standard', () => {
    for (const d of deployments(plan(input()))) {
      const pod = d.spec?.template.spec;
      assert.equal(pod?.securityContext?.runAsNonRoot, true);
      assert.equal(pod?.securityContext?.seccompProfile?.type, 'RuntimeDefault');
      for (const c of pod?.containers ?? []) {
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
        assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
      }
    }
  });

  it('removes the broadcaster once it leaves the spec', () => {
    const p = plan(
      input({ observed: { deployments: { broadcaster: observed(1) }, services: { broadcaster: {} } } }),
    );
    assert.deepEqual(
      p.remove.map((r) => `${r.kind}/${r.name}`),
      ['Deployment/demo-broadcaster', 'Service/demo-broadcaster'],
    );
    // A Service left behind without its Deployment goes too; nothing that is not there is named.
    const serviceOnly = plan(input({ observed: { services: { broadcaster: {} } } }));
    assert.deepEqual(
      serviceOnly.remove.map((r) => `${r.kind}/${r.name}`),
      ['Service/demo-broadcaster'],
    );
    assert.deepEqual(plan(input()).remove, []);
  });
});

describe('status', () => {
  it('is Ready with observedGeneration once every Deployment has its replicas ready', () => {
    const all = { fetcher: observed(1), mapper: observed(3), saver: observed(1) };
    const s = plan(input({ observed: { deployments: all } })).status;
    assert.equal(s.observedGeneration, 3);
    const ready = s.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True');
    assert.equal(s.conditions?.find((c) => c.type === 'Progressing')?.status, 'False');
    assert.deepEqual(s.summary, { fetcher: '1/1', mapper: '3/3', saver: '1/1' });
    assert.equal(s.replicas, 3);
    assert.equal(s.selector, 'app.kubernetes.io/name=mapper,app.kubernetes.io/instance=demo');
  });

  it('is not Ready and Progressing while a component rolls out, naming it', () => {
    const s = plan(
      input({
        observed: { deployments: { fetcher: observed(1), mapper: observed(3, 1), saver: observed(1) } },
      }),
    ).status;
    const ready = s.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.message, 'waiting for mapper 1/3');
    assert.equal(s.conditions?.find((c) => c.type === 'Progressing')?.status, 'True');
  });

  it('keeps lastTransitionTime while a condition keeps its status (no status churn)', () => {
    const first = plan(input()).status;
    const later = plan(input({ status: first, now: new Date('2026-11-23T13:00:00Z') })).status;
    assert.deepEqual(later, first);
  });

  it('is Degraded with the reason when applying failed', () => {
    const s = plan(input({ observed: { problems: ['Secret team/hooks not found'] } })).status;
    const degraded = s.conditions?.find((c) => c.type === 'Degraded');
    assert.equal(degraded?.status, 'True');
    assert.match(degraded?.message ?? '', /Secret team\/hooks not found/);
  });
});

describe('ServiceMonitor labels', () => {
  const monitors = (p: ReturnType<typeof plan>) =>
    p.apply.filter((o): o is ServiceMonitor => o.kind === 'ServiceMonitor');
  const podMonitors = (p: ReturnType<typeof plan>) =>
    p.apply.filter((o): o is PodMonitor => o.kind === 'PodMonitor');
  const prom = (
    selector: Record<string, string> | null,
    namespace = 'monitoring',
    podSelector: Record<string, string> | null = selector,
  ) => ({
    name: 'kube-prometheus-stack-prometheus',
    namespace,
    serviceMonitorSelector: selector ? { matchLabels: selector } : null,
    serviceMonitorNamespaceSelector: {},
    podMonitorSelector: podSelector ? { matchLabels: podSelector } : null,
    podMonitorNamespaceSelector: {},
  });
  const monitoring = (prometheuses: ObservedMonitoring['prometheuses']): ObservedMonitoring => ({
    crdInstalled: true,
    podMonitorCrdInstalled: true,
    prometheuses,
    namespaceLabels: {},
    existing: { serviceMonitor: false, podMonitor: false },
  });
  const withProm = (prometheuses: ObservedMonitoring['prometheuses']) =>
    input({ observed: { monitoring: monitoring(prometheuses) } });

  it('carries the release label the cluster Prometheus selects, and says which Prometheus selects it', () => {
    const p = plan(withProm([prom({ release: 'kube-prometheus-stack-1714644114' })]));
    assert.equal(monitors(p)[0]?.metadata.labels.release, 'kube-prometheus-stack-1714644114');
    const c = p.status.conditions?.find((x) => x.type === 'MonitoringReady');
    assert.equal(c?.status, 'True');
    assert.match(c?.message ?? '', /selected by Prometheus monitoring\/kube-prometheus-stack-prometheus/);
  });

  it('is not MonitoringReady, with a reason, when no Prometheus exists', () => {
    const c = plan(withProm([])).status.conditions?.find((x) => x.type === 'MonitoringReady');
    assert.deepEqual([c?.status, c?.reason], ['False', 'NoPrometheus']);
  });

  it('creates nothing when the CRDs are absent, and says so', () => {
    const p = plan(input());
    assert.equal(monitors(p).length, 0);
    assert.equal(
      p.status.conditions?.find((x) => x.type === 'MonitoringReady')?.reason,
      'ServiceMonitorCRDMissing',
    );
  });

  it('explains why a Prometheus that selects no ServiceMonitors does not pick it up', () => {
    const c = plan(withProm([prom(null)])).status.conditions?.find((x) => x.type === 'MonitoringReady');
    assert.equal(c?.reason, 'NotSelected');
    assert.match(c?.message ?? '', /serviceMonitorSelector is unset/);
  });

  it('scrapes NATS with a PodMonitor on the exporter container port (no chart Service exposes it), labelled for the podMonitorSelector', () => {
    const p = plan(
      input({
        specIn: { nats: { url: 'nats://nats.messaging.svc.cluster.local:4222' } },
        observed: {
          monitoring: monitoring([prom({ release: 'kps' }, 'monitoring', { release: 'kps', pods: 'yes' })]),
        },
      }),
    );
    assert.deepEqual(
      monitors(p).map((m) => m.metadata.name),
      ['demo-workloads'],
    );
    const [nats] = podMonitors(p);
    assert.equal(nats?.metadata.name, 'demo-nats');
    assert.equal(nats?.metadata.namespace, 'team');
    assert.deepEqual(nats?.metadata.labels, {
      release: 'kps',
      pods: 'yes',
      'app.kubernetes.io/instance': 'demo',
      'app.kubernetes.io/part-of': 'dwk',
      'app.kubernetes.io/managed-by': 'dwk',
    });
    assert.deepEqual(nats?.spec, {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/instance': 'nats' } },
      namespaceSelector: { matchNames: ['messaging'] },
      podMetricsEndpoints: [{ port: 'prom-metrics', path: '/metrics', interval: '15s' }],
    });
    const c = p.status.conditions?.find((x) => x.type === 'MonitoringReady');
    assert.match(
      c?.message ?? '',
      /ServiceMonitor demo-workloads is selected by Prometheus monitoring\/kube-prometheus-stack-prometheus; PodMonitor demo-nats \(NATS\) is selected by monitoring\/kube-prometheus-stack-prometheus/,
    );
  });

  it('says so when no Prometheus selects PodMonitors, and makes none without the PodMonitor CRD', () => {
    const unset = plan(
      input({ observed: { monitoring: monitoring([prom({ release: 'kps' }, 'monitoring', null)]) } }),
    );
    assert.match(
      unset.status.conditions?.find((x) => x.type === 'MonitoringReady')?.message ?? '',
      /no Prometheus selects PodMonitor demo-nats \(NATS\): monitoring\/kube-prometheus-stack-prometheus selects no PodMonitors/,
    );
    const noCrd = plan(
      input({
        observed: {
          monitoring: { ...monitoring([prom({ release: 'kps' })]), podMonitorCrdInstalled: false },
        },
      }),
    );
    assert.deepEqual(podMonitors(noCrd), []);
  });

  it('finds the NATS Service from the URL forms people write, and none for an IP or outside host', () => {
    assert.deepEqual(natsServiceOf('nats://nats:4222', 'team'), { name: 'nats', namespace: 'team' });
    assert.deepEqual(natsServiceOf('nats://my-nats.msg:4222', 'team'), { name: 'my-nats', namespace: 'msg' });
    assert.deepEqual(natsServiceOf('tls://n.msg.svc:4222,nats://other:4222', 't'), {
      name: 'n',
      namespace: 'msg',
    });
    assert.equal(natsServiceOf('nats://10.0.0.7:4222', 'team'), undefined);
    assert.equal(natsServiceOf('nats://connect.ngs.global', 'team'), undefined);
    const p = plan(
      input({
        specIn: { nats: { url: 'nats://10.0.0.7:4222' } },
        observed: { monitoring: monitoring([]) },
      }),
    );
    assert.deepEqual(
      [...monitors(p), ...podMonitors(p)].map((m) => m.metadata.name),
      ['demo-workloads'],
    );
  });
  const inCluster = { nats: { url: 'nats://nats.messaging.svc:4222' } };
  const bothExist = { serviceMonitor: true, podMonitor: true };
  const removed = (p: ReturnType<typeof plan>) => p.remove.map((r) => `${r.apiVersion} ${r.kind}/${r.name}`);

  it('deletes the monitors once monitoring is disabled, and says Disabled', () => {
    const p = plan(
      input({
        specIn: { ...inCluster, monitoring: { serviceMonitor: { enabled: false } } },
        observed: { monitoring: { ...monitoring([prom({ release: 'kps' })]), existing: bothExist } },
      }),
    );
    assert.deepEqual([...monitors(p), ...podMonitors(p)], []);
    assert.deepEqual(removed(p), [
      'monitoring.coreos.com/v1 ServiceMonitor/demo-workloads',
      'monitoring.coreos.com/v1 PodMonitor/demo-nats',
    ]);
    const c = p.status.conditions?.find((x) => x.type === 'MonitoringReady');
    assert.deepEqual([c?.status, c?.reason], ['False', 'Disabled']);
  });

  it('deletes the NATS PodMonitor once NATS moves out of the cluster, and keeps the ServiceMonitor', () => {
    const observedBoth = { ...monitoring([prom({ release: 'kps' })]), existing: bothExist };
    const stays = plan(input({ specIn: inCluster, observed: { monitoring: observedBoth } }));
    assert.deepEqual(removed(stays), []);
    const moved = plan(
      input({
        specIn: { nats: { url: 'nats://connect.ngs.global' } },
        observed: { monitoring: observedBoth },
      }),
    );
    assert.deepEqual(
      monitors(moved).map((m) => m.metadata.name),
      ['demo-workloads'],
    );
    assert.deepEqual(removed(moved), ['monitoring.coreos.com/v1 PodMonitor/demo-nats']);
  });

  it('plans the workloads and leaves the monitors as they are when the monitoring state cannot be read', () => {
    const p = plan(
      input({
        specIn: inCluster,
        observed: {
          monitoring: {
            ...monitoring([]),
            existing: bothExist,
            unobservable: 'cannot list Prometheus resources: prometheuses is forbidden',
          },
        },
      }),
    );
    assert.deepEqual(
      deployments(p).map((d) => d.metadata?.name),
      ['demo-fetcher', 'demo-mapper', 'demo-saver'],
    );
    assert.deepEqual([...monitors(p), ...podMonitors(p)], []);
    assert.deepEqual(p.remove, []);
    const c = p.status.conditions?.find((x) => x.type === 'MonitoringReady');
    assert.deepEqual([c?.status, c?.reason], ['False', 'ObservationFailed']);
    assert.match(
      c?.message ?? '',
      /cannot list Prometheus resources: prometheuses is forbidden; .* left as they are/,
    );
  });
});
