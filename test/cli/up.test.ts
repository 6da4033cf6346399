// dwk up / scale / status / down in cluster mode, against the test bed with the real helm and a
// local chart standing in for the official NATS chart. A controller runs in the test process for
// each namespace: the one dwk installs is a KWOK Pod that runs nothing.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { KubeClient, type KubeObject } from '../../lib/kube/client.ts';
import { startController } from '../support/controller.ts';
import { eventually, testCluster } from '../testbed/support.ts';
import { dwkEnv, NATS_CHART, runDwk, startDwk, tempDir, writePipeline } from './helpers.ts';

const cluster = await testCluster();
const client = KubeClient.fromKubeconfig(cluster.kubeconfigPath);

const controller = (t: TestContext, namespace: string) =>
  startController(t, cluster.kubeconfigPath, namespace);

const get = (kind: string, apiVersion: string, namespace: string | undefined, name: string) =>
  client.getOrUndefined<KubeObject & { spec?: Record<string, unknown> }>({
    apiVersion,
    kind,
    namespace,
    name,
  });
const pipeline = (ns: string, name: string) => get('Pipeline', 'dwk.dev/v1alpha1', ns, name);
const deployment = (ns: string, name: string) =>
  get('Deployment', 'apps/v1', ns, name) as Promise<
    (KubeObject & { spec?: { replicas?: number } }) | undefined
  >;
const releases = async (ns: string) =>
  (JSON.parse((await cluster.helm(['list', '-n', ns, '-o', 'json'])).stdout) as Array<{ name: string }>).map(
    (r) => r.name,
  );

describe('dwk up and down in a cluster', { timeout: 300_000 }, () => {
  test('up installs NATS with helm, the CRD, the controller and the Pipeline, reaches Ready; a second up changes nothing; scale, status and down follow', async (t) => {
    const ns = await cluster.newNamespace(t, 'cli-up');
    const ctrlNs = await cluster.newNamespace(t, 'cli-ctrl');
    await controller(t, ns);
    const dir = tempDir('cli-up');
    const env = dwkEnv(cluster, dir);
    const file = writePipeline(dir, 'demo');
    const up = ['up', '-f', file, '-n', ns, '--nats-chart', NATS_CHART, '--controller-namespace', ctrlNs];

    const first = await runDwk(env, dir, ...up);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /✓ NATS: release nats installed \(nats-1\.3\.0-dwk\.test, revision 1\)/);
    assert.match(first.stderr, /✓ Pipeline demo: Pipeline .*\/demo created/);
    assert.match(first.stderr, /✓ Ready: /);
    assert.equal(first.stdout, `Pipeline demo is up in namespace ${ns}`);

    const values = JSON.parse(
      (await cluster.helm(['get', 'values', 'nats', '-n', ns, '-o', 'json'])).stdout,
    ) as {
      config: { jetstream: { enabled: boolean }; monitor: { enabled: boolean } };
      promExporter: { enabled: boolean };
    };
    assert.equal(values.config.jetstream.enabled, true);
    assert.equal(values.config.monitor.enabled, true);
    assert.equal(values.promExporter.enabled, true);
    assert.equal(
      (await cluster.kubectl(['get', 'statefulset/nats', '-n', ns, '-o', 'name'])).stdout,
      'statefulset.apps/nats',
    );
    assert.ok(
      await get('CustomResourceDefinition', 'apiextensions.k8s.io/v1', undefined, 'pipelines.dwk.dev'),
    );
    assert.ok(await deployment(ctrlNs, 'dwk-controller'), 'the controller Deployment');
    const p = await pipeline(ns, 'demo');
    assert.equal((p?.spec?.nats as { url: string }).url, `nats://nats.${ns}.svc:4222`);

    const second = await runDwk(env, dir, ...up);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, `Pipeline demo is up in namespace ${ns}; nothing changed`);
    assert.match(second.stderr, /release nats \(nats-1\.3\.0-dwk\.test\) unchanged/);
    assert.match(second.stderr, /controller: 7 objects: 7 unchanged/);
    assert.match(second.stderr, /Pipeline .*\/demo unchanged/);
    assert.equal((await pipeline(ns, 'demo'))?.metadata?.generation, p?.metadata?.generation);

    const scale = await runDwk(env, dir, 'scale', 'mapper', '10', '-n', ns, '--wait');
    assert.equal(scale.code, 0, scale.stderr);
    assert.equal(scale.stdout, 'mapper: 2 → 10');
    assert.equal((await deployment(ns, 'demo-mapper'))?.spec?.replicas, 10);

    const down = await runDwk(env, dir, 'down', '-n', ns, '--purge-nats');
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /deleted Pipeline demo/);
    assert.match(down.stdout, /uninstalled Helm release nats/);
    assert.equal(await pipeline(ns, 'demo'), undefined);
    assert.deepEqual(await releases(ns), []);
    await eventually(
      'the Deployments to be collected',
      async () => (await deployment(ns, 'demo-mapper')) === undefined,
      { timeoutMs: 120_000 },
    );
  });

  test('--nats-url skips helm, even when helm is not installed', async (t) => {
    const ns = await cluster.newNamespace(t, 'cli-url');
    await controller(t, ns);
    const dir = tempDir('cli-url');
    const file = writePipeline(dir, 'byurl');
    const r = await runDwk(
      dwkEnv(cluster, dir, { helm: false }),
      dir,
      ...['up', '-f', file, '-n', ns, '--nats-url', 'nats://shared-nats.infra:4222', '--controller', 'none'],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✓ NATS: using nats:\/\/shared-nats\.infra:4222; Helm not used/);
    const p = await pipeline(ns, 'byurl');
    assert.equal((p?.spec?.nats as { url: string }).url, 'nats://shared-nats.infra:4222');
  });

  test('NATS credentials: up lets the controller read exactly that Secret; down takes it back', async (t) => {
    const ns = await cluster.newNamespace(t, 'cli-creds');
    const ctrlNs = await cluster.newNamespace(t, 'cli-creds-ctrl');
    const dir = tempDir('cli-creds');
    const env = dwkEnv(cluster, dir, { helm: false });
    const file = writePipeline(dir, 'auth', { nats: { credentials: { secretRef: { name: 'nats-auth' } } } });
    const up = await runDwk(
      env,
      dir,
      'up',
      '-f',
      file,
      '-n',
      ns,
      '--nats-url',
      'nats://n:4222',
      '--controller-namespace',
      ctrlNs,
      '--no-wait',
    );
    assert.equal(up.code, 0, up.stderr);
    const sa = `system:serviceaccount:${ctrlNs}:dwk-controller`;
    const can = async (...args: string[]) =>
      (
        await cluster.kubectl(['auth', 'can-i', '--as', sa, '-n', ns, ...args], { allowFailure: true })
      ).stdout.trim();
    assert.equal(await can('get', 'secret/nats-auth'), 'yes');
    assert.equal(await can('get', 'secret/other'), 'no');
    assert.equal(await can('list', 'secrets'), 'no');

    const down = await runDwk(env, dir, 'down', 'auth', '-n', ns);
    assert.equal(down.code, 0, down.stderr);
    assert.match(
      down.stdout,
      /deleted Role and RoleBinding dwk-nats-credentials-auth \(its NATS credentials access\)/,
    );
    assert.equal(await can('get', 'secret/nats-auth'), 'no');
  });

  test('dwk manifests -f renders the same credentials access for GitOps; applied, it grants exactly that Secret', async (t) => {
    const ns = await cluster.newNamespace(t, 'cli-gitops');
    const ctrlNs = await cluster.newNamespace(t, 'cli-gitops-ctrl');
    const dir = tempDir('cli-gitops');
    const env = dwkEnv(cluster, dir, { helm: false });
    const file = writePipeline(dir, 'git', {
      nats: { url: 'nats://n:4222', credentials: { secretRef: { name: 'nats-git' } } },
    });
    const r = await runDwk(env, dir, 'manifests', '-f', file, '-n', ns, '--controller-namespace', ctrlNs);
    assert.equal(r.code, 0, r.stderr);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as KubeObject);
    const named = docs.map((d) => `${d.kind} ${d.metadata?.namespace ?? ''}/${d.metadata?.name ?? ''}`);
    for (const expected of [
      `Role ${ns}/dwk-nats-credentials-git`,
      `RoleBinding ${ns}/dwk-nats-credentials-git`,
      `Pipeline ${ns}/git`,
      `ServiceAccount ${ctrlNs}/dwk-controller`,
    ])
      assert.ok(named.includes(expected), `${expected} missing from: ${named.join(', ')}`);
    // The cluster-scoped objects are shared by every test on this control plane; apply the rest.
    const namespaced = docs.filter((d) => d.metadata?.namespace !== undefined);
    const out = `${dir}/namespaced.json`;
    writeFileSync(out, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: namespaced }));
    await cluster.kubectl(['apply', '--server-side', '-f', out]);
    const sa = `system:serviceaccount:${ctrlNs}:dwk-controller`;
    const can = async (...args: string[]) =>
      (
        await cluster.kubectl(['auth', 'can-i', '--as', sa, '-n', ns, ...args], { allowFailure: true })
      ).stdout.trim();
    assert.equal(await can('get', 'secret/nats-git'), 'yes');
    assert.equal(await can('get', 'secret/other'), 'no');
    assert.equal(await can('list', 'secrets'), 'no');
    assert.equal((await pipeline(ns, 'git'))?.metadata?.name, 'git');

    const bad = await runDwk(env, dir, 'manifests', '-f', `${dir}/missing.yaml`);
    assert.equal(bad.code, 3, bad.stderr);
    assert.match(bad.stderr, /missing\.yaml: no such file/);
    assert.equal(bad.stdout, '');
  });

  test('--controller local runs the controller in dwk until Ctrl-C', async (t) => {
    const ns = await cluster.newNamespace(t, 'cli-local-ctrl');
    const dir = tempDir('cli-local-ctrl');
    const file = writePipeline(dir, 'here');
    const env = dwkEnv(cluster, dir, { helm: false });
    const child = startDwk(
      env,
      dir,
      'up',
      '-f',
      file,
      '-n',
      ns,
      '--nats-url',
      'nats://x:4222',
      '--controller',
      'local',
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await eventually(
      'dwk to say the controller runs here',
      () => Promise.resolve(/Ctrl-C stops it/.test(stderr)),
      {
        timeoutMs: 90_000,
      },
    );
    assert.match(stderr, /✓ Ready: /);
    child.kill('SIGINT');
    const r = await child;
    assert.equal(r.exitCode, 130);
    assert.ok(await pipeline(ns, 'here'), 'the Pipeline stays');
  });

  test('helm not installed, the chart unreachable, a bad file, no kubeconfig, an unreachable cluster: a clear error, nothing changed', async (t) => {
    const ns = await cluster.newNamespace(t, 'cli-bad');
    const dir = tempDir('cli-bad');
    const file = writePipeline(dir, 'bad');
    const env = dwkEnv(cluster, dir);

    const noHelm = await runDwk(dwkEnv(cluster, dir, { helm: false }), dir, 'up', '-f', file, '-n', ns);
    assert.equal(noHelm.code, 4);
    assert.match(noHelm.stderr, /error: helm is not installed: it is not on PATH\nhint: install helm/);

    const offline = await runDwk(
      env,
      dir,
      'up',
      '-f',
      file,
      '-n',
      ns,
      '--nats-repo',
      'http://127.0.0.1:9/charts/',
      '--timeout',
      '60',
    );
    assert.equal(offline.code, 4, offline.stderr);
    assert.match(offline.stderr, /✗ NATS: the NATS chart cannot be fetched: /);
    assert.match(
      offline.stderr,
      /done: nothing\nnot done: NATS, Pipeline CRD, controller, Pipeline bad, Ready/,
    );

    writePipelineFile(
      dir,
      'invalid.yaml',
      'apiVersion: dwk.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: x}\nspec:\n  chunkSize: 0\n',
    );
    const invalid = await runDwk(env, dir, 'up', '-f', 'invalid.yaml', '-n', ns);
    assert.equal(invalid.code, 3);
    assert.match(invalid.stderr, /spec\.chunkSize: must be at least 1/);
    const missing = await runDwk(env, dir, 'up', '-f', 'missing.yaml', '-n', ns);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /missing\.yaml: no such file/);

    const noConfig = await runDwk({ ...env, KUBECONFIG: `${dir}/nope` }, dir, 'up', '-f', file);
    assert.equal(noConfig.code, 4);
    assert.match(noConfig.stderr, /no kubeconfig at .*nope/);

    writePipelineFile(
      dir,
      'dead.kubeconfig',
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n',
    );
    const dead = await runDwk({ ...env, KUBECONFIG: `${dir}/dead.kubeconfig` }, dir, 'up', '-f', file);
    assert.equal(dead.code, 4);
    assert.match(dead.stderr, /cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:9/);

    assert.equal(await pipeline(ns, 'bad'), undefined);
    assert.deepEqual(await releases(ns), []);
  });

  test('--dry-run prints every object and the helm command, and changes nothing', async (t) => {
    const ns = await cluster.newNamespace(t, 'cli-dry');
    const dir = tempDir('cli-dry');
    const file = writePipeline(dir, 'dry');
    const dry = await runDwk(dwkEnv(cluster, dir), dir, 'up', '-f', file, '-n', `${ns}-x`, '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /^# NATS: helm upgrade --install nats nats --repo https:\/\/nats-io\.github\.io\/k8s\/helm\/charts\/ --namespace \S+ --create-namespace --values - --wait --timeout 300s <<'EOF'/,
    );
    assert.match(dry.stdout, /#\s+promExporter:\n#\s+enabled: true/);
    const kinds = parseAllDocuments(dry.stdout).map((d) => (d.toJS() as { kind?: string } | null)?.kind);
    assert.deepEqual(kinds.filter(Boolean), [
      'CustomResourceDefinition',
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Deployment',
      'Pipeline',
    ]);
    assert.equal(await pipeline(`${ns}-x`, 'dry'), undefined);
  });
});

function writePipelineFile(dir: string, name: string, text: string) {
  writeFileSync(`${dir}/${name}`, text);
}
