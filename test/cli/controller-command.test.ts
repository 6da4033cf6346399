// `dwk controller`: the controller run by a person with a kubeconfig, as a real process against
// the test bed, from a Pipeline applied with kubectl to Ctrl-C.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KubeClient, type KubeObject } from '../../lib/kube/client.ts';
import { freePort } from '../../lib/nats/server.ts';
import { eventually, testCluster } from '../testbed/support.ts';
import { dwkEnv, startDwk, tempDir, writePipeline } from './helpers.ts';

const cluster = await testCluster();
const client = KubeClient.fromKubeconfig(cluster.kubeconfigPath);

describe('dwk controller', { timeout: 120_000 }, () => {
  test('reconciles a Pipeline applied with kubectl, serves its metrics, and on Ctrl-C releases its Lease', async (t) => {
    const ns = await cluster.newNamespace(t, 'cli-ctrl-cmd');
    const dir = tempDir('cli-ctrl-cmd');
    const port = await freePort();
    const child = startDwk(
      dwkEnv(cluster, dir, { helm: false }),
      dir,
      'controller',
      '-n',
      ns,
      '--metrics-port',
      String(port),
    );
    t.after(() => child.kill('SIGKILL'));
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));

    const file = writePipeline(dir, 'byhand', { nats: { url: 'nats://unreachable.invalid:4222' } });
    await cluster.kubectl(['apply', '-n', ns, '-f', file]);
    const mapper = await eventually('the mapper Deployment', () =>
      client.getOrUndefined<KubeObject & { spec?: { replicas?: number } }>({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: ns,
        name: 'byhand-mapper',
      }),
    );
    assert.equal(mapper.spec?.replicas, 2);

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    // The Deployments appear before the reconcile that made them has finished and been counted.
    const reconciled = /^dwk_controller_reconciles_total\{.*result="success".*\} [1-9]/m;
    const metrics = await eventually('a successful reconcile counted', async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return reconciled.test(text) ? text : undefined;
    });
    assert.match(metrics, /^dwk_controller_queue_depth\{.*\} \d/m);

    const lease = () =>
      client.get<KubeObject & { spec?: { holderIdentity?: string } }>({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        namespace: ns,
        name: 'dwk-controller',
      });
    assert.ok((await lease()).spec?.holderIdentity, 'it leads');

    child.kill('SIGINT');
    const r = await child;
    assert.equal(r.exitCode, 130, r.stderr);
    assert.equal((await lease()).spec?.holderIdentity ?? '', '', 'the Lease is released for the next');
    // One way to log: JSON lines on stdout.
    const lines = stdout.trim().split('\n');
    assert.ok(lines.length > 0);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
  });
});
