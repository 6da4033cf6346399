/** `dwk dashboard --install` against the test bed's real kube-apiserver, through the real CLI process. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { dashboardQueries, loadDashboard, type Dashboard } from '../../monitoring/dashboard.ts';
import { testCluster } from '../testbed/support.ts';

const cluster = await testCluster();
const DWK = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const dwk = (args: string[]) =>
  promisify(execFile)(process.execPath, [DWK, '--kubeconfig', cluster.kubeconfigPath, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });

const readConfigMap = (namespace: string) =>
  cluster.core.readNamespacedConfigMap({ name: 'dwk-pipeline-dashboard', namespace });

describe('dwk dashboard --install', { timeout: 120_000 }, () => {
  test('creates a ConfigMap with the grafana_dashboard label and the dashboard as valid JSON', async (t) => {
    const ns = await cluster.newNamespace(t, 'dash');
    const { stdout } = await dwk(['dashboard', '--install', '-n', ns]);
    assert.match(
      stdout,
      new RegExp(`ConfigMap ${ns}/dwk-pipeline-dashboard applied, labelled grafana_dashboard=1`),
    );
    const cm = await readConfigMap(ns);
    assert.equal(cm.metadata?.labels?.grafana_dashboard, '1');
    const json = cm.data?.['dwk-pipeline.json'] ?? '';
    const parsed = JSON.parse(json) as Dashboard;
    assert.equal(parsed.uid, 'dwk-pipeline');
    assert.deepEqual(dashboardQueries(parsed), dashboardQueries(loadDashboard()));
    // The sidecar finds it by label, as Grafana's would.
    const listed = await cluster.kubectl([
      'get',
      'configmap',
      '-n',
      ns,
      '-l',
      'grafana_dashboard=1',
      '-o',
      'name',
    ]);
    assert.equal(listed.stdout.trim(), 'configmap/dwk-pipeline-dashboard');
  });

  test('updates it in place and takes --label instead of the default', async (t) => {
    const ns = await cluster.newNamespace(t, 'dash-label');
    await dwk(['dashboard', '--install', '-n', ns]);
    await dwk(['dashboard', '--install', '-n', ns, '--label', 'dashboards=dwk', '--label', 'team=data']);
    const cm = await readConfigMap(ns);
    assert.equal(cm.metadata?.labels?.dashboards, 'dwk');
    assert.equal(cm.metadata?.labels?.team, 'data');
    // Server-side apply under one field manager: a label left out is removed.
    assert.equal(cm.metadata?.labels?.grafana_dashboard, undefined);
    assert.doesNotThrow(() => JSON.parse(cm.data?.['dwk-pipeline.json'] ?? ''));
  });

  test('--configmap prints for GitOps what --install applies; kubectl applies it', async (t) => {
    const ns = await cluster.newNamespace(t, 'dash-gitops');
    const { stdout } = await dwk(['dashboard', '--configmap', '-n', ns]);
    const file = join(mkdtempSync(join(tmpdir(), 'dwk-dash-')), 'cm.yaml');
    writeFileSync(file, stdout);
    await cluster.kubectl(['apply', '-f', file]);
    const cm = await readConfigMap(ns);
    assert.equal(cm.metadata?.labels?.grafana_dashboard, '1');
    assert.deepEqual(JSON.parse(cm.data?.['dwk-pipeline.json'] ?? ''), loadDashboard());
    const json = await dwk(['dashboard', '--configmap', '-n', ns, '-o', 'json']);
    assert.deepEqual(JSON.parse(json.stdout), parse(stdout));
    const yaml = await dwk(['dashboard', '-o', 'yaml']);
    assert.deepEqual(parse(yaml.stdout), loadDashboard());
  });

  test('dwk manifests -o json is a List of the same objects as the YAML stream, and the API server takes it', async (t) => {
    // A namespace that exists, so the server's dry run can place the namespaced objects in it.
    const ns = await cluster.newNamespace(t, 'manifests');
    const yaml = await dwk(['manifests', '--controller-namespace', ns]);
    const json = await dwk(['manifests', '--controller-namespace', ns, '-o', 'json']);
    const list = JSON.parse(json.stdout) as { kind: string; items: unknown[] };
    assert.equal(list.kind, 'List');
    assert.deepEqual(
      list.items,
      parseAllDocuments(yaml.stdout).map((d) => d.toJS() as unknown),
    );
    const file = join(mkdtempSync(join(tmpdir(), 'dwk-manifests-')), 'all.json');
    writeFileSync(file, json.stdout);
    const applied = await cluster.kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '--dry-run=server',
      '-f',
      file,
    ]);
    assert.match(
      applied.stdout,
      /customresourcedefinition.apiextensions.k8s.io\/pipelines.dwk.dev serverside-applied/,
    );
  });

  test('prints the same dashboard without --install', async () => {
    const { stdout } = await dwk(['dashboard']);
    assert.deepEqual(JSON.parse(stdout), loadDashboard());
  });
});
