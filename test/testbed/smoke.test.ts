// Smoke tests of the test bed: each one shows a behaviour of the real control plane that dwk's tests rely on.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { eventually, testCluster } from './support.ts';

const cluster = await testCluster();
const CRD = fileURLToPath(new URL('../../crds/pipeline.yaml', import.meta.url));
const CHART = fileURLToPath(new URL('../fixtures/charts/hello', import.meta.url));

function deployment(name: string, replicas: number): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
      },
    },
  };
}

async function podsOf(namespace: string, app: string): Promise<V1Pod[]> {
  return (await cluster.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
}

async function available(namespace: string, name: string, replicas: number): Promise<V1Deployment | false> {
  const d = await cluster.apps.readNamespacedDeployment({ name, namespace });
  return d.status?.availableReplicas === replicas && d.status.replicas === replicas && d;
}

let crdApplied: Promise<unknown> | undefined;
/** The project's real CRD, applied once per file (other files may apply it too: apply is idempotent). */
function applyCrd(): Promise<unknown> {
  crdApplied ??= cluster
    .kubectl(['apply', '--server-side', '-f', CRD])
    .then(() =>
      cluster.kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd/pipelines.dwk.dev']),
    );
  return crdApplied;
}

function pipeline(name: string, patch: (spec: Record<string, unknown>) => void = () => {}): string {
  const spec: Record<string, unknown> = {
    source: { generate: { objects: 1000 } },
    chunkSize: 100,
    fetcher: { replicas: 1 },
    mapper: { replicas: 2 },
    saver: { replicas: 1, sink: { type: 'log' } },
  };
  patch(spec);
  return JSON.stringify({ apiVersion: 'dwk.dev/v1alpha1', kind: 'Pipeline', metadata: { name }, spec });
}

test('the apiserver reports the pinned Kubernetes version', async () => {
  const { stdout } = await cluster.kubectl(['version', '-o', 'json']);
  const versions = JSON.parse(stdout) as {
    serverVersion: { gitVersion: string };
    clientVersion: { gitVersion: string };
  };
  assert.equal(versions.serverVersion.gitVersion, cluster.binaries.versions.kubernetes);
  assert.equal(versions.clientVersion.gitVersion, cluster.binaries.versions.kubernetes);
});

describe('the Pipeline CRD', () => {
  // First in the file, before any test here re-applies it with kubectl.
  test('is created by the test bed with the whole schema of crds/pipeline.yaml: defaults, enums, CEL', async () => {
    const { stdout } = await cluster.kubectl(['get', 'crd', 'pipelines.dwk.dev', '-o', 'json']);
    type Crd = { spec: { versions: Array<{ name: string; schema: unknown }> } };
    const served = JSON.parse(stdout) as Crd;
    const file = parse(readFileSync(CRD, 'utf8')) as Crd;
    assert.deepEqual(served.spec.versions[0]?.schema, file.spec.versions[0]?.schema);
    assert.match(stdout, /x-kubernetes-validations/);
  });

  test('is served once applied, and a valid Pipeline is stored with its defaults', async (t) => {
    await applyCrd();
    const ns = await cluster.newNamespace(t, 'crd-valid');
    await cluster.kubectl(['apply', '-n', ns, '-f', '-'], { input: pipeline('good') });
    const { stdout } = await cluster.kubectl(['get', '-n', ns, 'pipeline', 'good', '-o', 'json']);
    const stored = JSON.parse(stdout) as {
      spec: {
        mapper: { replicas: number; concurrency: number };
        nats: { deletePolicy: string };
        paused: boolean;
      };
    };
    assert.equal(stored.spec.mapper.replicas, 2);
    // Left out of the manifest: filled in by the schema's defaults, so the CRD kept them.
    assert.equal(stored.spec.mapper.concurrency, 4);
    assert.equal(stored.spec.nats.deletePolicy, 'retain');
    assert.equal(stored.spec.paused, false);
  });

  test('rejects a negative mapper.replicas with a message naming the field', async (t) => {
    await applyCrd();
    const ns = await cluster.newNamespace(t, 'crd-invalid');
    const bad = pipeline('bad', (spec) => (spec.mapper = { replicas: -1 }));
    const res = await cluster.kubectl(['apply', '-n', ns, '-f', '-'], { input: bad, allowFailure: true });
    assert.notEqual(res.exitCode, 0);
    assert.match(res.stderr, /spec\.mapper\.replicas/);
    assert.match(res.stderr, /greater than or equal to 0/);
  });

  test('rejects chunkSize 0 with a message naming the field', async (t) => {
    await applyCrd();
    const ns = await cluster.newNamespace(t, 'crd-chunk');
    const bad = pipeline('bad', (spec) => (spec.chunkSize = 0));
    const res = await cluster.kubectl(['apply', '-n', ns, '-f', '-'], { input: bad, allowFailure: true });
    assert.notEqual(res.exitCode, 0);
    assert.match(res.stderr, /spec\.chunkSize/);
  });

  test('kubectl scale on a Pipeline sets spec.mapper.replicas through the scale subresource', async (t) => {
    await applyCrd();
    const ns = await cluster.newNamespace(t, 'crd-scale');
    await cluster.kubectl(['apply', '-n', ns, '-f', '-'], { input: pipeline('scaled') });
    await cluster.kubectl(['scale', '-n', ns, 'pipeline/scaled', '--replicas=5']);
    const { stdout } = await cluster.kubectl([
      'get',
      '-n',
      ns,
      'pipeline',
      'scaled',
      '-o',
      'jsonpath={.spec.mapper.replicas}',
    ]);
    assert.equal(stdout, '5');
  });
});

describe('workloads on the KWOK node', () => {
  test('a Deployment of 3 replicas gets 3 Running Pods on the fake node and reports 3 available', async (t) => {
    const ns = await cluster.newNamespace(t, 'deploy');
    await cluster.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', 3) });
    const d = await eventually('3 available replicas', () => available(ns, 'web', 3));
    assert.equal(d.status?.readyReplicas, 3);
    const pods = await podsOf(ns, 'web');
    assert.equal(pods.length, 3);
    for (const pod of pods) {
      assert.equal(pod.status?.phase, 'Running');
      assert.match(pod.spec?.nodeName ?? '', /^kwok-node-/);
      assert.match(pod.status?.podIP ?? '', /^10\.244\./);
    }
  });

  test('deleting a Deployment garbage-collects its ReplicaSet and Pods', async (t) => {
    const ns = await cluster.newNamespace(t, 'gc');
    await cluster.apps.createNamespacedDeployment({ namespace: ns, body: deployment('doomed', 2) });
    await eventually('2 available replicas', () => available(ns, 'doomed', 2));
    assert.equal((await cluster.apps.listNamespacedReplicaSet({ namespace: ns })).items.length, 1);

    // Background propagation: the Deployment goes at once; the garbage collector removes what it owned.
    await cluster.apps.deleteNamespacedDeployment({
      name: 'doomed',
      namespace: ns,
      propagationPolicy: 'Background',
    });
    await eventually('the ReplicaSet collected', async () => {
      return (await cluster.apps.listNamespacedReplicaSet({ namespace: ns })).items.length === 0;
    });
    await eventually('the Pods collected', async () => (await podsOf(ns, 'doomed')).length === 0);
  });

  test('kubectl scale changes a Deployment and its Pods follow', async (t) => {
    const ns = await cluster.newNamespace(t, 'scale');
    await cluster.apps.createNamespacedDeployment({ namespace: ns, body: deployment('api', 1) });
    await eventually('1 available replica', () => available(ns, 'api', 1));

    await cluster.kubectl(['scale', '-n', ns, 'deployment/api', '--replicas=4']);
    await eventually('4 available replicas', () => available(ns, 'api', 4));
    await cluster.kubectl(['scale', '-n', ns, 'deployment/api', '--replicas=2']);
    await eventually('2 available replicas', () => available(ns, 'api', 2));
    await eventually('2 Pods left', async () => (await podsOf(ns, 'api')).length === 2);
  });
});

describe('admission', () => {
  test('a namespace enforcing the restricted Pod Security level rejects a privileged Pod', async (t) => {
    const ns = await cluster.newNamespace(t, 'restricted', {
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    const privileged: V1Pod = {
      metadata: { name: 'root' },
      spec: {
        containers: [{ name: 'c', image: 'registry.invalid/c:1', securityContext: { privileged: true } }],
      },
    };
    await assert.rejects(
      cluster.core.createNamespacedPod({ namespace: ns, body: privileged }),
      (err: unknown) => {
        const { code, body } = err as { code?: number; body?: string };
        assert.equal(code, 403);
        const { message } = JSON.parse(body ?? '{}') as { message?: string };
        assert.match(message ?? '', /violates PodSecurity "restricted:latest": privileged/);
        return true;
      },
    );

    // The same namespace admits a Pod that meets the restricted level: the rejection was the policy.
    const compliant: V1Pod = {
      metadata: { name: 'ok' },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'c',
            image: 'registry.invalid/c:1',
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    };
    await cluster.core.createNamespacedPod({ namespace: ns, body: compliant });
  });
});

describe('helm and namespaces', () => {
  test('helm install of a local chart creates its objects, and uninstall removes them', async (t) => {
    const ns = await cluster.newNamespace(t, 'helm');
    await cluster.helm(['install', 'greeter', CHART, '--namespace', ns, '--wait', '--timeout', '60s']);
    const cm = await cluster.core.readNamespacedConfigMap({ name: 'greeter-greeting', namespace: ns });
    assert.equal(cm.data?.greeting, 'hello');
    assert.ok(await available(ns, 'greeter', 2), 'the chart Deployment has 2 available replicas');
    const { stdout } = await cluster.helm(['list', '--namespace', ns, '-o', 'json']);
    assert.deepEqual(
      (JSON.parse(stdout) as { name: string; status: string }[]).map((r) => [r.name, r.status]),
      [['greeter', 'deployed']],
    );

    await cluster.helm(['uninstall', 'greeter', '--namespace', ns, '--wait']);
    const res = await cluster.kubectl(['get', '-n', ns, 'configmap/greeter-greeting'], {
      allowFailure: true,
    });
    assert.match(res.stderr, /NotFound/);
  });

  test('the namespace controller really deletes a namespace and what it holds', async (t) => {
    const ns = await cluster.newNamespace(t, 'ns-delete');
    await cluster.core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'x' }, data: { a: 'b' } },
    });
    await cluster.core.deleteNamespace({ name: ns });
    await eventually(
      'the namespace gone',
      async () => {
        try {
          await cluster.core.readNamespace({ name: ns });
          return false;
        } catch (err) {
          return (err as { code?: number }).code === 404;
        }
      },
      { timeoutMs: 60_000 },
    );
  });
});
