// The controller keeps the ServiceMonitor and the NATS PodMonitor as the spec and the cluster's
// Prometheus say, against the test bed. It installs the monitoring CRDs, which are cluster-wide and
// stay: this file sorts after test/controller/operations.test.ts, whose first test needs them absent.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../lib/kube/client.ts';
import {
  apply,
  client,
  cluster,
  controller,
  installMonitoringCrds,
  manifest,
  pipeline,
} from '../controller/support.ts';
import { eventually } from '../testbed/support.ts';

await installMonitoringCrds();

const monitoringReady = async (ns: string, name: string) =>
  (await pipeline(ns, name)).status?.conditions?.find((c) => c.type === 'MonitoringReady');

const monitor = (kind: 'ServiceMonitor' | 'PodMonitor', namespace: string, name: string) =>
  client.getOrUndefined<KubeObject>({ apiVersion: 'monitoring.coreos.com/v1', kind, namespace, name });

describe('the controller and the monitors', { timeout: 120_000 }, () => {
  test('a ServiceMonitor someone edits or deletes is put back within seconds', async (t) => {
    const ns = await cluster.newNamespace(t, 'mon-drift');
    await controller(t, ns);
    await apply(ns, manifest('md', { monitoring: { serviceMonitor: { labels: { team: 'data' } } } }));
    const first = await eventually('the ServiceMonitor', () => monitor('ServiceMonitor', ns, 'md-workloads'));
    assert.equal(first.metadata?.labels?.team, 'data');

    await cluster.kubectl(['label', 'servicemonitor', '-n', ns, 'md-workloads', 'team=other', '--overwrite']);
    await eventually(
      'the label put back',
      async () => (await monitor('ServiceMonitor', ns, 'md-workloads'))?.metadata?.labels?.team === 'data',
      { timeoutMs: 10_000 },
    );

    await cluster.kubectl(['delete', 'servicemonitor', '-n', ns, 'md-workloads', '--wait=true']);
    await eventually(
      'the ServiceMonitor recreated',
      async () => {
        const now = await monitor('ServiceMonitor', ns, 'md-workloads');
        return now !== undefined && now.metadata?.uid !== first.metadata?.uid;
      },
      { timeoutMs: 10_000 },
    );
  });

  test('NATS moving out of the cluster deletes its PodMonitor; disabling monitoring deletes both', async (t) => {
    const ns = await cluster.newNamespace(t, 'mon-stale');
    await controller(t, ns);
    const withNats = (url: string, enabled = true) =>
      manifest('ms', { nats: { url }, monitoring: { serviceMonitor: { enabled } } });
    await apply(ns, withNats(`nats://nats.${ns}.svc:4222`));
    await eventually('both monitors', async () =>
      Boolean(
        (await monitor('ServiceMonitor', ns, 'ms-workloads')) && (await monitor('PodMonitor', ns, 'ms-nats')),
      ),
    );

    await apply(ns, withNats('nats://connect.ngs.invalid:4222'));
    await eventually('the PodMonitor deleted', async () => !(await monitor('PodMonitor', ns, 'ms-nats')));
    assert.ok(await monitor('ServiceMonitor', ns, 'ms-workloads'), 'the ServiceMonitor stays');

    await apply(ns, withNats(`nats://nats.${ns}.svc:4222`, false));
    await eventually(
      'the ServiceMonitor deleted',
      async () => !(await monitor('ServiceMonitor', ns, 'ms-workloads')),
    );
    assert.equal(await monitor('PodMonitor', ns, 'ms-nats'), undefined);
    const c = await eventually('MonitoringReady Disabled', async () => {
      const now = await monitoringReady(ns, 'ms');
      return now?.reason === 'Disabled' && now;
    });
    assert.equal(c.status, 'False');
    const events = await cluster.core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: 'involvedObject.name=ms',
    });
    const deleted = events.items.filter((e) => e.reason === 'Deleted').map((e) => e.message);
    assert.deepEqual(deleted.sort(), ['Deleted PodMonitor ms-nats', 'Deleted ServiceMonitor ms-workloads']);
  });

  test('a Prometheus created while the controller runs is noticed within seconds', async (t) => {
    const ns = await cluster.newNamespace(t, 'mon-late');
    const promNs = await cluster.newNamespace(t, 'mon-late-prom');
    await controller(t, ns);
    // Named, so that a Prometheus another test leaves in the shared cluster cannot select it first.
    await apply(
      ns,
      manifest('ml', {
        monitoring: { serviceMonitor: { prometheusRef: { name: 'k8s', namespace: promNs } } },
      }),
    );
    const missing = await eventually('MonitoringReady without the Prometheus', () =>
      monitoringReady(ns, 'ml'),
    );
    assert.deepEqual([missing.status, missing.reason], ['False', 'PrometheusNotFound']);

    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'Prometheus',
        metadata: { name: 'k8s', namespace: promNs },
        spec: {
          serviceMonitorSelector: { matchLabels: { release: 'late' } },
          serviceMonitorNamespaceSelector: {},
        },
      }),
    });
    const selected = await eventually(
      'MonitoringReady True',
      async () => {
        const now = await monitoringReady(ns, 'ml');
        return now?.status === 'True' && now;
      },
      { timeoutMs: 10_000 },
    );
    assert.match(selected.message, new RegExp(`selected by Prometheus ${promNs}/k8s`));
    const sm = await monitor('ServiceMonitor', ns, 'ml-workloads');
    assert.equal(sm?.metadata?.labels?.release, 'late');
  });
});
