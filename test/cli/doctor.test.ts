// dwk doctor against the test bed: what is there is ✓, what is missing is ✗ with a fix, exit 1.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { testCluster } from '../testbed/support.ts';
import { dwkEnv, runDwk, tempDir } from './helpers.ts';

const cluster = await testCluster();
const CRD = fileURLToPath(new URL('../../crds/pipeline.yaml', import.meta.url));
await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', CRD]);

describe('dwk doctor', { timeout: 120_000 }, () => {
  test('checks context, version, helm and the CRD; a missing controller and NATS fail with a fix; exit 1', async (t) => {
    const ns = await cluster.newNamespace(t, 'cli-doctor');
    const dir = tempDir('cli-doctor');
    const r = await runDwk(dwkEnv(cluster, dir), dir, 'doctor', '-n', ns, '--controller-namespace', ns);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /✓ kube context: \S+ \(https:\/\/127\.0\.0\.1:\d+\), namespace cli-doctor-/);
    assert.match(r.stdout, /✓ server version: v1\.36\.3/);
    assert.match(r.stdout, /✓ helm: v4\.3\.1/);
    assert.match(r.stdout, /✓ Pipeline CRD: pipelines\.dwk\.dev serves v1alpha1/);
    assert.match(
      r.stdout,
      /✗ controller: no Deployment dwk-controller in namespace cli-doctor-\w+\n {4}fix: dwk up/,
    );
    assert.match(r.stdout, /✗ controller leader: no leader/);
    assert.match(r.stdout, /✗ NATS: no Service nats in namespace \S+\n {4}fix: dwk up installs it with Helm/);
    // The test bed gets the Prometheus operator's CRDs and a Prometheus from another test, or not yet.
    const prom = /Prometheus operator: (.*)/.exec(r.stdout)?.[1] ?? '';
    assert.match(
      prom,
      /^(not installed: .*|installed, but no Prometheus resource|(\S+\/\S+ selects (ServiceMonitors with .+|no ServiceMonitors \(selector unset\)) and (PodMonitors with .+|no PodMonitors \(selector unset\))(; )?)+)$/,
    );
    assert.match(r.stderr, /error: \d checks failed/);

    const json = await runDwk(dwkEnv(cluster, dir, { helm: false }), dir, 'doctor', '-n', ns, '-o', 'json');
    const checks = JSON.parse(json.stdout) as Array<{ name: string; state: string; fix?: string }>;
    assert.equal(checks.find((c) => c.name === 'helm')?.state, 'fail');
    assert.match(checks.find((c) => c.name === 'helm')?.fix ?? '', /install helm/);
  });

  test('an unreachable cluster is one failed check with a fix', async () => {
    const dir = tempDir('cli-doctor-dead');
    const r = await runDwk({ ...dwkEnv(cluster, dir), KUBECONFIG: `${dir}/none` }, dir, 'doctor');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /✗ kube context: no kubeconfig at .*none\n {4}fix: point --kubeconfig/);
  });
});
