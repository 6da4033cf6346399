// ServiceMonitor labels, leader election, RBAC and NATS cleanup, against the test bed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { jetstreamManager } from '@nats-io/jetstream';
import type { KubeObject } from '../../lib/kube/client.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { ensurePipeline } from '../../lib/nats/setup.ts';
import { freePort, startNatsServer } from '../../lib/nats/server.ts';
import { controllerManifests, CONTROLLER_NAME } from '../../controller/manifests.ts';
import { spec, tempDir, workloadSet } from '../support/workloads.ts';
import { eventually } from '../testbed/support.ts';
import { NATS_CHART } from '../cli/helpers.ts';
import { apply, client, cluster, controller, fixture, manifest, pipeline, replicasOf } from './support.ts';

const monitoringCondition = async (ns: string, name: string) =>
  (await pipeline(ns, name)).status?.conditions?.find((c) => c.type === 'MonitoringReady');

// Order matters: the monitoring CRDs are cluster-wide, so "absent" runs before they are installed.
describe('ServiceMonitors', { timeout: 120_000 }, () => {
  test('without the monitoring CRDs the rest works and MonitoringReady says why', async (t) => {
    const served = await client.serves('monitoring.coreos.com/v1', 'ServiceMonitor');
    if (served) {
      t.skip('the monitoring CRDs are already installed in this cluster');
      return;
    }
    const ns = await cluster.newNamespace(t, 'mon-absent');
    await controller(t, ns);
    await apply(ns, manifest('m'));
    const c = await eventually('MonitoringReady', () => monitoringCondition(ns, 'm'));
    assert.deepEqual([c.status, c.reason], ['False', 'ServiceMonitorCRDMissing']);
    assert.equal(await replicasOf(ns, 'm-mapper'), 3);
  });

  test('carry the release label of the Prometheus that is there, and say so; with none, a reason', async (t) => {
    await cluster.kubectl([
      'apply',
      '--server-side',
      '-f',
      fixture('../fixtures/crds/monitoring-coreos.yaml'),
    ]);
    await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/servicemonitors.monitoring.coreos.com',
      'crd/prometheuses.monitoring.coreos.com',
      'crd/podmonitors.monitoring.coreos.com',
    ]);
    const ns = await cluster.newNamespace(t, 'mon');
    await controller(t, ns);
    await apply(ns, manifest('none'));
    const none = await eventually(
      'MonitoringReady without a Prometheus',
      async () => {
        const c = await monitoringCondition(ns, 'none');
        return c?.reason === 'ServiceMonitorCRDMissing' ? undefined : c;
      },
      { timeoutMs: 90_000 },
    );
    assert.deepEqual([none.status, none.reason], ['False', 'NoPrometheus']);

    const promNs = await cluster.newNamespace(t, 'monitoring');
    const prometheus = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'Prometheus',
      metadata: { name: 'kube-prometheus-stack-prometheus', namespace: promNs },
      spec: {
        serviceMonitorSelector: { matchLabels: { release: 'kube-prometheus-stack-1714644114' } },
        serviceMonitorNamespaceSelector: {},
        podMonitorSelector: { matchLabels: { release: 'kube-prometheus-stack-1714644114' } },
        podMonitorNamespaceSelector: {},
      },
    };
    await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(prometheus) });
    // A new controller observes the Prometheus at once (the running one re-checks every minute).
    const ns2 = await cluster.newNamespace(t, 'mon-selected');
    await controller(t, ns2);
    await apply(ns2, manifest('sel'));
    const sm = await eventually('the workloads ServiceMonitor', () =>
      client.getOrUndefined<KubeObject & { spec?: { endpoints?: Array<{ port: string }> } }>({
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        namespace: ns2,
        name: 'sel-workloads',
      }),
    );
    assert.equal(sm.metadata?.labels?.release, 'kube-prometheus-stack-1714644114');
    assert.equal(sm.spec?.endpoints?.[0]?.port, 'metrics');
    const selected = await eventually('MonitoringReady True', async () => {
      const c = await monitoringCondition(ns2, 'sel');
      return c?.status === 'True' ? c : undefined;
    });
    assert.match(
      selected.message,
      new RegExp(`selected by Prometheus ${promNs}/kube-prometheus-stack-prometheus`),
    );
    const svc = await cluster.core.readNamespacedService({ name: 'sel-mapper', namespace: ns2 });
    assert.equal(svc.spec?.ports?.[0]?.name, 'metrics');

    // NATS from the chart (a stand-in with the official chart's labels, ports and exporter sidecar)
    // in a namespace of its own: the PodMonitor finds its Pod and the exporter's container port.
    const natsNs = await cluster.newNamespace(t, 'mon-nats');
    await cluster.helm([
      'install',
      'nats',
      NATS_CHART,
      '-n',
      natsNs,
      '--set',
      'promExporter.enabled=true',
      '--wait',
      '--timeout',
      '60s',
    ]);
    await apply(ns2, manifest('pm', { nats: { url: `nats://nats.${natsNs}.svc:4222` } }));
    type PodMonitorObj = KubeObject & {
      spec?: {
        selector?: { matchLabels?: Record<string, string> };
        namespaceSelector?: { matchNames?: string[] };
        podMetricsEndpoints?: Array<{ port: string }>;
      };
    };
    const pm = await eventually('the NATS PodMonitor', () =>
      client.getOrUndefined<PodMonitorObj>({
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PodMonitor',
        namespace: ns2,
        name: 'pm-nats',
      }),
    );
    assert.equal(pm.metadata?.labels?.release, 'kube-prometheus-stack-1714644114');
    assert.deepEqual(pm.spec?.namespaceSelector?.matchNames, [natsNs]);
    const selector = Object.entries(pm.spec?.selector?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = await cluster.core.listNamespacedPod({ namespace: natsNs, labelSelector: selector });
    assert.equal(pods.items.length, 1, `the PodMonitor selects the NATS Pod (${selector})`);
    const ports = (pods.items[0]?.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((x) => x.name));
    assert.ok(
      ports.includes(pm.spec?.podMetricsEndpoints?.[0]?.port),
      `a container port named it: ${ports.join(', ')}`,
    );
    // No Service of the chart carries the exporter port: a ServiceMonitor could not have reached it.
    const services = await cluster.core.listNamespacedService({ namespace: natsNs });
    const servicePorts = services.items.flatMap((x) => (x.spec?.ports ?? []).map((p) => p.name));
    assert.ok(!servicePorts.includes('prom-metrics'), servicePorts.join(', '));
    const ready = await eventually('MonitoringReady naming the PodMonitor', async () => {
      const c = await monitoringCondition(ns2, 'pm');
      return c?.status === 'True' && /PodMonitor/.test(c.message) ? c : undefined;
    });
    assert.match(
      ready.message,
      new RegExp(`PodMonitor pm-nats \\(NATS\\) is selected by ${promNs}/kube-prometheus-stack-prometheus`),
    );
  });
});

describe('leader election', { timeout: 120_000 }, () => {
  /** `controller/main.ts` as a process, as in a Pod: its log kept, its exit recorded, killed after the test. */
  const spawnController = (t: { after(fn: () => void): void }, ns: string, id: string) => {
    const child = spawn(process.execPath, [fixture('../../controller/main.ts')], {
      env: {
        PATH: process.env.PATH,
        KUBECONFIG: cluster.kubeconfigPath,
        DWK_WATCH_NAMESPACE: ns,
        DWK_LEASE_NAMESPACE: ns,
        DWK_HTTP_PORT: '0',
        DWK_HTTP_HOST: '127.0.0.1',
        POD_NAME: id,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let exit: { code: number | null } | undefined;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (exit = { code }));
    t.after(() => {
      child.kill('SIGKILL');
    });
    return { child, log: () => out, exit: () => exit };
  };
  const leases = (ns: string) => cluster.kubectl(['get', 'lease', CONTROLLER_NAME, '-n', ns, '-o', 'json']);
  const holderOf = async (ns: string) =>
    (JSON.parse((await leases(ns)).stdout) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity;

  test('two controller processes: one leads; kill it and the other takes over within 20 s', async (t) => {
    const ns = await cluster.newNamespace(t, 'leader');
    const a = spawnController(t, ns, 'controller-a');
    await eventually('controller-a to lead', () => Promise.resolve(a.log().includes('Became the leader')));
    const b = spawnController(t, ns, 'controller-b');
    await apply(ns, manifest('l', { mapper: { replicas: 2 } }));
    await eventually('the leader reconciles', async () => (await replicasOf(ns, 'l-mapper')) === 2);
    assert.ok(!b.log().includes('Became the leader'), 'both lead');
    a.child.kill('SIGKILL');
    const killedAt = Date.now();
    // A change made while nobody leads.
    await cluster.kubectl(['scale', '-n', ns, 'pipeline/l', '--replicas=6']);
    await eventually(
      'controller-b to take over and reconcile the change',
      async () => (await replicasOf(ns, 'l-mapper')) === 6,
      {
        timeoutMs: 30_000,
      },
    );
    const failover = Date.now() - killedAt;
    t.diagnostic(`failover after SIGKILL: ${failover} ms`);
    assert.ok(b.log().includes('Became the leader'));
    assert.ok(failover < 20_000, `failover took ${failover} ms`);
  });

  test('SIGTERM: the leader stops promptly, exits 0 and releases the Lease, so the standby leads at once', async (t) => {
    const ns = await cluster.newNamespace(t, 'leader-term');
    const a = spawnController(t, ns, 'controller-a');
    await eventually('controller-a to lead', () => Promise.resolve(a.log().includes('Became the leader')));
    // Work in the queue while it stops: a Pipeline whose Deployments never become available.
    await apply(ns, manifest('l', { mapper: { replicas: 2 } }));
    await eventually('the leader reconciles', async () => (await replicasOf(ns, 'l-mapper')) === 2);
    const b = spawnController(t, ns, 'controller-b');
    await eventually('controller-b to start', () => Promise.resolve(b.log().includes('Controller starting')));
    a.child.kill('SIGTERM');
    const termAt = Date.now();
    const exit = await eventually('controller-a to exit', () => Promise.resolve(a.exit()), {
      timeoutMs: 15_000,
    });
    const stopped = Date.now() - termAt;
    assert.equal(exit.code, 0, a.log());
    await eventually('controller-b to lead', () => Promise.resolve(b.log().includes('Became the leader')), {
      timeoutMs: 15_000,
    });
    const takeover = Date.now() - termAt;
    t.diagnostic(`after SIGTERM: leader exited in ${stopped} ms, standby led after ${takeover} ms`);
    // Had the Lease not been released, the standby would wait out most of its 10 s.
    assert.ok(takeover < 6_000, `takeover took ${takeover} ms`);
    assert.equal(await holderOf(ns), 'controller-b');
  });

  test('a leader that loses its Lease stops and exits non-zero, so that it is restarted', async (t) => {
    const ns = await cluster.newNamespace(t, 'leader-lost');
    const a = spawnController(t, ns, 'controller-a');
    await eventually('controller-a to lead', () => Promise.resolve(a.log().includes('Became the leader')));
    await cluster.kubectl([
      'patch',
      'lease',
      CONTROLLER_NAME,
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { holderIdentity: 'controller-elsewhere' } }),
    ]);
    const exit = await eventually('controller-a to exit', () => Promise.resolve(a.exit()), {
      timeoutMs: 15_000,
    });
    assert.equal(exit.code, 1, a.log());
    assert.match(a.log(), /Another controller took the lease/);
    assert.equal(await holderOf(ns), 'controller-elsewhere', 'not released: it is not ours');
  });
});

describe('RBAC', { timeout: 60_000 }, () => {
  test('the controller may do what it needs and no more', async (t) => {
    const ns = await cluster.newNamespace(t, 'rbac');
    const docs = controllerManifests({ namespace: ns }).filter((m) => m.kind !== 'Deployment');
    // Cluster-scoped objects are shared by the run: name them after the namespace.
    for (const d of docs) {
      const meta = d.metadata as { name: string };
      if (d.kind === 'ClusterRole' || d.kind === 'ClusterRoleBinding') meta.name = `${CONTROLLER_NAME}-${ns}`;
      if (d.kind === 'ClusterRoleBinding') (d.roleRef as { name: string }).name = `${CONTROLLER_NAME}-${ns}`;
    }
    await cluster.kubectl(['apply', '-f', '-'], { input: docs.map((d) => stringify(d)).join('---\n') });
    t.after(async () => {
      await cluster.kubectl([
        'delete',
        'clusterrole,clusterrolebinding',
        `${CONTROLLER_NAME}-${ns}`,
        '--ignore-not-found',
      ]);
    });
    const sa = `system:serviceaccount:${ns}:${CONTROLLER_NAME}`;
    const can = async (...args: string[]) =>
      (await cluster.kubectl(['auth', 'can-i', '--as', sa, ...args], { allowFailure: true })).stdout.trim();
    const allowed: string[][] = [
      ['watch', 'pipelines.dwk.dev', '--all-namespaces'],
      ['patch', 'pipelines.dwk.dev/status', '-n', 'default'],
      ['update', 'pipelines.dwk.dev/finalizers', '-n', 'default'],
      ['create', 'deployments.apps', '-n', 'default'],
      ['patch', 'services', '-n', 'default'],
      ['create', 'events', '-n', 'default'],
      ['patch', 'servicemonitors.monitoring.coreos.com', '-n', 'default'],
      ['patch', 'podmonitors.monitoring.coreos.com', '-n', 'default'],
      ['list', 'prometheuses.monitoring.coreos.com', '--all-namespaces'],
      ['update', 'leases.coordination.k8s.io', '-n', ns],
    ];
    const denied: string[][] = [
      ['list', 'secrets', '--all-namespaces'],
      ['get', 'secrets', '-n', 'default'],
      ['create', 'pods/exec', '-n', 'default'],
      ['create', 'pods', '-n', 'default'],
      ['update', 'leases.coordination.k8s.io', '-n', 'default'],
      ['delete', 'namespaces'],
      ['escalate', 'clusterroles'],
    ];
    for (const a of allowed) assert.equal(await can(...a), 'yes', `may ${a.join(' ')}`);
    for (const d of denied) assert.equal(await can(...d), 'no', `may not ${d.join(' ')}`);
  });
});

describe('deletePolicy', { timeout: 90_000 }, () => {
  test('delete: removing the Pipeline removes its streams and buckets, through a finalizer', async (t) => {
    const ns = await cluster.newNamespace(t, 'purge');
    const nats = await startNatsServer({ dataDir: join(tempDir('purge'), 'nats') });
    t.after(() => nats.stop());
    const nc = await connectNats({ servers: nats.url, name: 'test' });
    t.after(() => nc.close());
    await ensurePipeline(nc, 'gone');
    await ensurePipeline(nc, 'kept');
    await controller(t, ns);
    await apply(ns, manifest('gone', { nats: { url: nats.url, deletePolicy: 'delete' } }));
    await apply(ns, manifest('kept', { nats: { url: nats.url } }));
    await eventually('the finalizer', async () =>
      ((await pipeline(ns, 'gone')).metadata?.finalizers ?? []).includes('dwk.dev/nats-cleanup'),
    );
    assert.deepEqual(
      (await pipeline(ns, 'kept')).metadata?.finalizers ?? [],
      [],
      'no finalizer without outside state to clean',
    );
    await cluster.kubectl([
      'delete',
      '-n',
      ns,
      'pipeline/gone',
      'pipeline/kept',
      '--wait=true',
      '--timeout=60s',
    ]);
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const s of jsm.streams.names()) names.push(s);
    assert.deepEqual(
      names.filter((n) => n.includes('_GONE_')),
      [],
    );
    assert.ok(
      names.some((n) => n.includes('_KEPT_')),
      'retain keeps the other pipeline streams',
    );
  });
});

describe('deletePolicy with NATS out of reach', { timeout: 90_000 }, () => {
  test('the Pipeline waits with a Warning Event that says why and how to let it go; retain lets it go', async (t) => {
    const ns = await cluster.newNamespace(t, 'purge-away');
    const closed = `nats://127.0.0.1:${await freePort()}`; // nobody listens there
    await controller(t, ns);
    await apply(ns, manifest('stuck', { nats: { url: closed, deletePolicy: 'delete' } }));
    await eventually('the finalizer', async () =>
      ((await pipeline(ns, 'stuck')).metadata?.finalizers ?? []).includes('dwk.dev/nats-cleanup'),
    );
    await cluster.kubectl(['delete', '-n', ns, 'pipeline/stuck', '--wait=false']);
    const warning = await eventually('a NatsCleanupFailed event', async () => {
      const events = await cluster.core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: 'involvedObject.name=stuck,reason=NatsCleanupFailed',
      });
      return events.items[0];
    });
    assert.equal(warning.type, 'Warning');
    assert.match(
      warning.message ?? '',
      new RegExp(
        `cannot delete the pipeline's streams and buckets at ${closed}: .*set spec.nats.deletePolicy to retain`,
      ),
    );
    assert.ok((await pipeline(ns, 'stuck')).metadata?.deletionTimestamp, 'still there, waiting');
    // Each retry counts on the one Event, as kubectl shows "x5 over 2s", rather than a new Event.
    const counted = await eventually('the Event counting the retries', async () => {
      const events = await cluster.core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: 'involvedObject.name=stuck,reason=NatsCleanupFailed',
      });
      return events.items.length === 1 && (events.items[0]?.count ?? 0) >= 3 ? events.items : undefined;
    });
    assert.equal(counted.length, 1);

    await cluster.kubectl([
      'patch',
      '-n',
      ns,
      'pipeline/stuck',
      '--type=merge',
      '-p',
      '{"spec":{"nats":{"deletePolicy":"retain"}}}',
    ]);
    await eventually(
      'the Pipeline gone',
      async () =>
        (await cluster.kubectl(['get', '-n', ns, 'pipeline/stuck'], { allowFailure: true })).exitCode !== 0,
      { timeoutMs: 60_000 },
    );
  });
});

describe('NATS with credentials', { timeout: 90_000 }, () => {
  test('the controller reads progress and cleans up with the credentials of the Pipeline Secret', async (t) => {
    const ns = await cluster.newNamespace(t, 'nats-auth');
    const token = 'cOnTrOlLeR-tOkEn-42';
    const nats = await startNatsServer({ dataDir: join(tempDir('nats-auth'), 'nats'), token });
    t.after(() => nats.stop());
    const nc = await connectNats({ servers: nats.url, name: 'test', auth: { token } });
    t.after(() => nc.close());
    await ensurePipeline(nc, 'locked');
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'nats-auth',
      '-n',
      ns,
      `--from-literal=token=${token}`,
    ]);
    await controller(t, ns);
    await apply(
      ns,
      manifest('locked', {
        source: { generate: { objects: 500 } },
        nats: { url: nats.url, deletePolicy: 'delete', credentials: { secretRef: { name: 'nats-auth' } } },
      }),
    );
    const p = await eventually('progress read with the token', async () => {
      const got = await pipeline(ns, 'locked');
      return got.status?.progress ? got : undefined;
    });
    assert.deepEqual(p.status?.progress, {
      chunksTotal: 5,
      chunksPublished: 0,
      chunksSaved: 0,
      chunksDeadLettered: 0,
      objectsDeadLettered: 0,
    });
    await cluster.kubectl(['delete', '-n', ns, 'pipeline/locked', '--wait=true', '--timeout=60s']);
    const names: string[] = [];
    for await (const n of (await jetstreamManager(nc)).streams.names()) names.push(n);
    assert.deepEqual(
      names.filter((n) => n.includes('_LOCKED_')),
      [],
      'the finalizer deleted the streams, logged in with the token',
    );
  });
});

describe('status from NATS and quiet when idle', { timeout: 120_000 }, () => {
  test('progress comes from the pipeline streams; nothing is written while nothing changes', async (t) => {
    const ns = await cluster.newNamespace(t, 'progress');
    const dir = tempDir('ctrl-progress');
    const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    t.after(() => nats.stop());
    // Real workloads on this machine move the data; the Pipeline in the cluster points at the same NATS.
    const s = spec({
      source: { generate: { objects: 3000 } },
      saver: { sink: { path: join(dir, 'out.jsonl') } },
    });
    const w = workloadSet('flow', s, nats.url, dir);
    t.after(() => w.stopAll());
    w.start('fetcher', 'fetcher-0');
    w.start('mapper', 'mapper-0');
    w.start('saver', 'saver-0');
    const running = await controller(t, ns);
    await apply(ns, manifest('flow', { source: { generate: { objects: 3000 } }, nats: { url: nats.url } }));
    const done = await eventually(
      'progress 30/30 in status',
      async () => {
        const p = await pipeline(ns, 'flow');
        return p.status?.progress?.chunksSaved === 30 ? p : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(done.status?.progress?.chunksTotal, 30);
    assert.equal(done.status?.progress?.chunksDeadLettered, 0);
    assert.equal(done.status?.summary?.progress, '100%');

    const counters = async () => {
      const text = await (await fetch(`http://127.0.0.1:${running.port}/metrics`)).text();
      const sum = (name: string) =>
        [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce(
          (a, m) => a + Number(m[1]),
          0,
        );
      return {
        applies: sum('dwk_controller_applies_total'),
        statusWrites: sum('dwk_controller_status_writes_total'),
      };
    };
    await eventually(
      'Ready',
      async () =>
        (await pipeline(ns, 'flow')).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
    );
    await new Promise((r) => setTimeout(r, 3000));
    const before = await counters();
    await new Promise((r) => setTimeout(r, 8000));
    assert.deepEqual(await counters(), before, 'the controller wrote while nothing changed');
  });
});
