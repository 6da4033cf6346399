// dwk down --uninstall removes the controller, its RBAC and the CRD. It deletes cluster-wide
// objects that every other test file shares, so it runs on a control plane of its own.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KubeClient } from '../../lib/kube/client.ts';
import { eventually, KUBECONFIG_ENV, testCluster } from '../testbed/support.ts';
import { dwkEnv, runDwk, tempDir, writePipeline } from './helpers.ts';

const cluster = await testCluster({ ...process.env, [KUBECONFIG_ENV]: '' });
const client = KubeClient.fromKubeconfig(cluster.kubeconfigPath);
const exists = async (apiVersion: string, kind: string, name: string, namespace?: string) =>
  (await client.getOrUndefined({ apiVersion, kind, name, namespace })) !== undefined;
const crdExists = () => exists('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'pipelines.dwk.dev');

describe('dwk down --uninstall', { timeout: 240_000 }, () => {
  test('refuses while another Pipeline uses the CRD, changing nothing; then removes controller, RBAC, CRD and its namespace', async (t) => {
    const ns = await cluster.newNamespace(t, 'un');
    const otherNs = await cluster.newNamespace(t, 'un-other');
    const dir = tempDir('uninstall');
    const env = dwkEnv(cluster, dir, { helm: false });
    const common = ['--nats-url', 'nats://n:4222', '--controller-namespace', 'dwk-system', '--no-wait'];
    const up = await runDwk(env, dir, 'up', '-f', writePipeline(dir, 'demo'), '-n', ns, ...common);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const other = await runDwk(env, dir, 'up', '-f', writePipeline(dir, 'other'), '-n', otherNs, ...common);
    assert.equal(other.code, 0, other.stderr);
    assert.ok(await exists('apps/v1', 'Deployment', 'dwk-controller', 'dwk-system'));

    const refused = await runDwk(env, dir, 'down', '-n', ns, '--uninstall');
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, new RegExp(`1 other Pipeline still uses: ${otherNs}/other`));
    assert.match(refused.stderr, /nothing was changed/);
    assert.ok(await exists('dwk.dev/v1alpha1', 'Pipeline', 'demo', ns), 'the Pipeline is still there');
    assert.ok(await crdExists());

    const dropOther = await runDwk(env, dir, 'down', '-n', otherNs);
    assert.equal(dropOther.code, 0, dropOther.stderr);
    const down = await runDwk(env, dir, 'down', '-n', ns, '--uninstall');
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /^deleted Pipeline demo/m);
    assert.match(
      down.stdout,
      /^uninstalled dwk: deleted Deployment dwk-system\/dwk-controller, RoleBinding dwk-system\/dwk-controller-leader, Role dwk-system\/dwk-controller-leader, ClusterRoleBinding dwk-controller, ClusterRole dwk-controller, ServiceAccount dwk-system\/dwk-controller, CustomResourceDefinition pipelines\.dwk\.dev, Namespace dwk-system$/m,
    );
    await eventually('the CRD to be gone', async () => !(await crdExists()), { timeoutMs: 60_000 });
    assert.equal(await exists('rbac.authorization.k8s.io/v1', 'ClusterRole', 'dwk-controller'), false);
    assert.equal(await exists('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'dwk-controller'), false);

    const again = await runDwk(env, dir, 'down', '-n', ns, '--uninstall');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /dwk is not installed in this cluster; nothing to uninstall/);
    assert.match(again.stderr, /the Pipeline CRD is not installed in this cluster; no Pipeline to delete/);
  });
});
