// ServiceMonitor labels, leader election, RBAC and NATS cleanup, against the test bed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import type { KubeObject } from '../../lib/kube/client.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { ensurePipeline } from '../../lib/nats/setup.ts';
import { freePort, startNatsServer } from '../../lib/nats/server.ts';
import { CONTROLLER_NAME } from '../../controller/manifests.ts';
import { spec, tempDir, workloadSet } from '../support/workloads.ts';
import { eventually } from '../testbed/support.ts';
import { NATS_CHART } from '../cli/helpers.ts';
import {
  apply,
  client,
  cluster,
  controller,
  deployment,
  installControllerRbac,
  controllerProcess,
  installMonitoringCrds,
  manifest,
  pipeline,
  replicasOf,
  serviceAccountKubeconfig,
} from './support.ts';

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
    await installMonitoringCrds();
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
    // A controller started now sees the Prometheus in its first list (a running one, through its watch).
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
  test('two controller processes: one leads; kill it and the other takes over within 20 s', async (t) => {
    const ns = await cluster.newNamespace(t, 'leader');
    const start = (id: string) => {
      const child = controllerProcess(t, {
        kubeconfig: cluster.kubeconfigPath,
        watch: ns,
        lease: ns,
        name: id,
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      return { child, log: () => out };
    };
    const a = start('controller-a');
    await eventually('controller-a to lead', () => Promise.resolve(a.log().includes('Became the leader')));
    const b = start('controller-b');
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
    assert.ok(b.log().includes('Became the leader'));
    assert.ok(failover < 20_000, `failover took ${failover} ms`);
  });
});

describe('RBAC', { timeout: 180_000 }, () => {
  test('the controller may do what it needs and no more', async (t) => {
    await installMonitoringCrds(); // kubectl auth can-i knows their resources only once served
    const ns = await cluster.newNamespace(t, 'rbac');
    await installControllerRbac(t, ns);
    const sa = `system:serviceaccount:${ns}:${CONTROLLER_NAME}`;
    const can = async (...args: string[]) =>
      (await cluster.kubectl(['auth', 'can-i', '--as', sa, ...args], { allowFailure: true })).stdout.trim();
    const allowed: string[][] = [
      ['watch', 'pipelines.dwk.dev', '--all-namespaces'],
      // A subresource needs --subresource: "pipelines.dwk.dev/status" would ask about pipelines.
      ['patch', 'pipelines.dwk.dev', '--subresource=status', '-n', 'default'],
      ['update', 'pipelines.dwk.dev', '--subresource=finalizers', '-n', 'default'],
      ['create', 'deployments.apps', '-n', 'default'],
      ['patch', 'services', '-n', 'default'],
      ['create', 'events', '-n', 'default'],
      ['patch', 'servicemonitors.monitoring.coreos.com', '-n', 'default'],
      ['patch', 'podmonitors.monitoring.coreos.com', '-n', 'default'],
      ['watch', 'prometheuses.monitoring.coreos.com', '--all-namespaces'],
      ['watch', 'services', '-n', 'default'],
      ['delete', 'servicemonitors.monitoring.coreos.com', '-n', 'default'],
      ['update', 'leases.coordination.k8s.io', '-n', ns],
    ];
    const denied: string[][] = [
      ['list', 'secrets', '--all-namespaces'],
      ['get', 'secrets', '-n', 'default'],
      ['create', 'pods', '--subresource=exec', '-n', 'default'],
      ['create', 'pods', '-n', 'default'],
      ['update', 'leases.coordination.k8s.io', '-n', 'default'],
      ['delete', 'namespaces'],
      ['escalate', 'clusterroles'],
      // Server-side apply and merge patches need no update; the controller reads through informers.
      ['update', 'pipelines.dwk.dev', '-n', 'default'],
      ['update', 'pipelines.dwk.dev', '--subresource=status', '-n', 'default'],
      ['patch', 'pipelines.dwk.dev', '--subresource=finalizers', '-n', 'default'],
      ['update', 'deployments.apps', '-n', 'default'],
      ['update', 'services', '-n', 'default'],
      ['get', 'pipelines.dwk.dev', '-n', 'default'],
    ];
    for (const a of allowed) assert.equal(await can(...a), 'yes', `may ${a.join(' ')}`);
    for (const d of denied) assert.equal(await can(...d), 'no', `may not ${d.join(' ')}`);
  });

  test('with exactly those rights, as its ServiceAccount, the controller reconciles a Pipeline from creation to deletion', async (t) => {
    await installMonitoringCrds();
    const home = await cluster.newNamespace(t, 'rbac-home'); // its ServiceAccount and Lease
    const ns = await cluster.newNamespace(t, 'rbac-work'); // the Pipeline
    await installControllerRbac(t, home);
    const kubeconfig = await serviceAccountKubeconfig(home, tempDir('rbac-sa'));

    // The real controller, a process as in its Pod, with leader election. A refusal in its log
    // fails the test at once rather than at the end of a wait.
    const child = controllerProcess(t, { kubeconfig, watch: ns, lease: home, name: 'rbac-controller' });
    const lines: string[] = [];
    let refuse: (err: Error) => void = () => {};
    const refused = new Promise<never>((_, reject) => (refuse = reject));
    refused.catch(() => {}); // raced below; a refusal after the last race is checked at the end
    const refusals = () => lines.filter((l) => /forbidden|: 403\b/i.test(l));
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (d: Buffer) => {
        lines.push(...d.toString().split('\n').filter(Boolean));
        const r = refusals();
        if (r.length > 0) refuse(new Error(`the API server refused the controller: ${r.join('\n')}`));
      });
    }
    const until = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000) =>
      Promise.race([eventually(what, probe, { timeoutMs }), refused]);

    await until('the lead', () => Promise.resolve(lines.some((l) => l.includes('Became the leader'))));
    const lease = () =>
      client.get<KubeObject & { spec?: { holderIdentity?: string } }>({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        namespace: home,
        name: 'dwk-controller',
      });
    assert.equal((await lease()).spec?.holderIdentity, 'rbac-controller');

    // NATS out of reach on purpose: deletion then waits on the finalizer, retrying with one Event.
    await apply(
      ns,
      manifest('rb', {
        nats: { url: `nats://nats.${ns}.svc:4222`, deletePolicy: 'delete' },
        mapper: { replicas: 2 },
        broadcaster: {
          target: { type: 'slack', urlFrom: { secretKeyRef: { name: 'hooks', key: 'slack' } } },
        },
      }),
    );
    const components = ['fetcher', 'mapper', 'saver', 'broadcaster'];
    await until('a Deployment and a Service per component', async () => {
      const services = await cluster.core.listNamespacedService({ namespace: ns });
      const found = await Promise.all(components.map((c) => deployment(ns, `rb-${c}`)));
      return (
        found.every(Boolean) &&
        components.every((c) => services.items.some((s) => s.metadata?.name === `rb-${c}`))
      );
    });
    await until('the finalizer', async () =>
      ((await pipeline(ns, 'rb')).metadata?.finalizers ?? []).includes('dwk.dev/nats-cleanup'),
    );
    await until('the ServiceMonitor', () =>
      client.getOrUndefined({
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        namespace: ns,
        name: 'rb-workloads',
      }),
    );
    await until(
      'status Ready',
      async () =>
        (await pipeline(ns, 'rb')).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
      60_000,
    );

    await cluster.kubectl(['scale', '-n', ns, 'pipeline/rb', '--replicas=4']);
    await until('the scale applied', async () => (await replicasOf(ns, 'rb-mapper')) === 4);
    const events = async (reason: string) =>
      (
        await cluster.core.listNamespacedEvent({
          namespace: ns,
          fieldSelector: `involvedObject.name=rb,reason=${reason}`,
        })
      ).items;
    const scaled = await until('a Scaled Event', async () =>
      (await events('Scaled')).find((e) => /Scaled Deployment rb-mapper to 4 replicas/.test(e.message ?? '')),
    );
    assert.equal(scaled.source?.component, 'dwk-controller');

    // A component leaving the spec: its Deployment and Service are deleted.
    await cluster.kubectl([
      'patch',
      '-n',
      ns,
      'pipeline/rb',
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/spec/broadcaster"}]',
    ]);
    await until('the broadcaster gone', async () => {
      const services = await cluster.core.listNamespacedService({ namespace: ns });
      return (
        (await deployment(ns, 'rb-broadcaster')) === undefined &&
        !services.items.some((s) => s.metadata?.name === 'rb-broadcaster')
      );
    });

    // Deletion: the cleanup fails and its Event counts the retries (a patch of the Event), then
    // retain lets it go (the finalizer removed with a patch).
    await cluster.kubectl(['delete', '-n', ns, 'pipeline/rb', '--wait=false']);
    await until('the NatsCleanupFailed Event counting retries', async () => {
      const e = await events('NatsCleanupFailed');
      return e.length === 1 && (e[0]?.count ?? 0) >= 2;
    });
    await cluster.kubectl([
      'patch',
      '-n',
      ns,
      'pipeline/rb',
      '--type=merge',
      '-p',
      '{"spec":{"nats":{"deletePolicy":"retain"}}}',
    ]);
    await until(
      'the Pipeline gone',
      async () =>
        (await cluster.kubectl(['get', '-n', ns, 'pipeline/rb'], { allowFailure: true })).exitCode !== 0,
      60_000,
    );

    // Stopping hands the Lease back (a PUT), which must not be refused either.
    child.kill('SIGTERM');
    const exitCode = await until('the controller to exit', () =>
      Promise.resolve(child.exitCode ?? undefined),
    );
    assert.equal(exitCode, 0, lines.join('\n'));
    assert.equal((await lease()).spec?.holderIdentity, '');
    assert.deepEqual(refusals(), [], 'the API server refused the controller something');
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
    // A resync every 10 s (the least allowed), so that the quiet window below spans one.
    const running = await controller(t, ns, { DWK_RESYNC_SECONDS: '10' });
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
    await new Promise((r) => setTimeout(r, 11_000));
    assert.deepEqual(await counters(), before, 'the controller wrote while nothing changed, or at a resync');
  });
});
