// The controller against the test bed's real control plane: kube-apiserver, controller-manager,
// scheduler and KWOK. Each test runs its own namespace-scoped controller.
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { execa } from 'execa';
import type { PipelineStatus } from '../../api/v1alpha1/status.ts';
import { eventually } from '../testbed/support.ts';
import {
  apply,
  client,
  cluster,
  controller,
  deployment,
  fixture,
  manifest,
  pipeline,
  replicasOf,
} from './support.ts';

const condition = (p: { status?: PipelineStatus }, type: string) =>
  p.status?.conditions?.find((c) => c.type === type);

describe('the controller', { timeout: 120_000 }, () => {
  test('a Pipeline becomes Deployments with its replicas, env and owner; Pods run; status turns Ready', async (t) => {
    const ns = await cluster.newNamespace(t, 'ctrl-ready');
    const running = await controller(t, ns);
    await apply(ns, manifest('demo', { mapper: { replicas: 3 } }));
    const p = await pipeline(ns, 'demo');
    await eventually('the three Deployments', async () =>
      (await Promise.all(['fetcher', 'mapper', 'saver'].map((c) => deployment(ns, `demo-${c}`)))).every(
        Boolean,
      ),
    );
    const mapper = (await deployment(ns, 'demo-mapper')) as V1Deployment;
    assert.equal(mapper.spec?.replicas, 3);
    assert.equal((await deployment(ns, 'demo-fetcher'))?.spec?.replicas, 1);
    assert.equal((await deployment(ns, 'demo-saver'))?.spec?.replicas, 1);
    assert.equal(await deployment(ns, 'demo-broadcaster'), undefined);
    const owner = mapper.metadata?.ownerReferences?.[0] as {
      kind: string;
      name: string;
      uid: string;
      controller: boolean;
    };
    assert.deepEqual(
      [owner.kind, owner.name, owner.uid, owner.controller],
      ['Pipeline', 'demo', p.metadata?.uid, true],
    );
    const env = mapper.spec?.template.spec?.containers[0]?.env ?? [];
    assert.equal(env.find((e) => e.name === 'DWK_NATS_URL')?.value, 'nats://nats.invalid:4222');
    const ready = await eventually(
      'status Ready',
      async () => {
        const now = await pipeline(ns, 'demo');
        return condition(now, 'Ready')?.status === 'True' ? now : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(ready.status?.observedGeneration, ready.metadata?.generation);
    assert.deepEqual(ready.status?.summary, { fetcher: '1/1', mapper: '3/3', saver: '1/1' });
    const pods = await cluster.core.listNamespacedPod({
      namespace: ns,
      labelSelector: 'app.kubernetes.io/instance=demo',
    });
    assert.equal(pods.items.filter((x) => x.status?.phase === 'Running').length, 5);
    const { stdout } = await cluster.kubectl(['get', 'pl', '-n', ns]);
    assert.match(stdout, /NAME\s+READY\s+FETCHER\s+MAPPERS\s+SAVERS\s+BROADCASTERS\s+PROGRESS\s+AGE/);
    assert.match(stdout, /demo\s+True\s+1\/1\s+3\/3\s+1\/1/);
    // Events on the Pipeline say what the controller created.
    const events = await cluster.core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: 'involvedObject.name=demo',
    });
    const created = events.items.filter((e) => e.reason === 'Created').map((e) => e.message);
    assert.ok(created.includes('Created Deployment demo-mapper with 3 replicas'), JSON.stringify(created));
    // Its own health and metrics.
    const base = `http://127.0.0.1:${running.port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    // A reconcile is counted when it returns, a moment after the status it wrote: wait for it.
    const metrics = await eventually('a successful reconcile counted and the queue drained', async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const counted = /^dwk_controller_reconciles_total\{result="success",component="controller"\} [1-9]/m;
      return counted.test(text) && /^dwk_controller_queue_depth\{component="controller"\} 0$/m.test(text)
        ? text
        : undefined;
    });
    assert.match(metrics, /^dwk_controller_reconcile_duration_seconds_count\{.*\} [1-9]/m);
  });

  test('kubectl scale, dwk scale and kubectl edit each change the spec and the mapper Deployment follows', async (t) => {
    const ns = await cluster.newNamespace(t, 'ctrl-scale');
    await controller(t, ns);
    await apply(ns, manifest('s'));
    await eventually('the mapper Deployment', () => deployment(ns, 's-mapper'));

    await cluster.kubectl(['scale', '-n', ns, 'pipeline/s', '--replicas=7']);
    await eventually('7 mappers after kubectl scale', async () => (await replicasOf(ns, 's-mapper')) === 7);
    const scale = JSON.parse(
      (await cluster.kubectl(['get', '--raw', `/apis/dwk.dev/v1alpha1/namespaces/${ns}/pipelines/s/scale`]))
        .stdout,
    ) as {
      spec: { replicas: number };
      status: { selector: string };
    };
    assert.equal(scale.spec.replicas, 7);
    assert.equal(scale.status.selector, 'app.kubernetes.io/name=mapper,app.kubernetes.io/instance=s');

    // dwk scale changes the spec (never the Deployment) and waits for the controller's work.
    const dwk = await execa(
      fixture('../../bin/dwk'),
      ['scale', 'mapper', '2', '--wait', '--kubeconfig', cluster.kubeconfigPath, '-n', ns],
      { reject: false },
    );
    assert.equal(dwk.exitCode, 0, dwk.stderr);
    assert.equal(dwk.stdout, 'mapper: 7 → 2');
    assert.equal(((await pipeline(ns, 's')).spec as { mapper: { replicas: number } }).mapper.replicas, 2);
    assert.equal(await replicasOf(ns, 's-mapper'), 2);

    // kubectl edit with a scripted editor, as a person would change the file.
    const dir = mkdtempSync(join(tmpdir(), 'dwk-editor-'));
    const editor = join(dir, 'editor.sh');
    writeFileSync(editor, '#!/bin/sh\nsed -i "s/^\\(    replicas:\\) 2$/\\1 7/" "$1"\n');
    chmodSync(editor, 0o755);
    const edited = await execa(cluster.binaries.kubectl, ['edit', '-n', ns, 'pipeline/s'], {
      env: { KUBECONFIG: cluster.kubeconfigPath, KUBE_EDITOR: editor },
      reject: false,
    });
    assert.equal(edited.exitCode, 0, edited.stderr);
    await eventually('7 mappers after kubectl edit', async () => (await replicasOf(ns, 's-mapper')) === 7);
  });

  test('puts back a Deployment someone changed (drift), and garbage-collects everything when the Pipeline goes', async (t) => {
    const ns = await cluster.newNamespace(t, 'ctrl-drift');
    await controller(t, ns);
    await apply(ns, manifest('d', { mapper: { replicas: 4 } }));
    await eventually('the mapper Deployment', async () => (await replicasOf(ns, 'd-mapper')) === 4);
    await cluster.kubectl(['scale', '-n', ns, 'deployment/d-mapper', '--replicas=1']);
    await eventually('drift corrected back to 4', async () => (await replicasOf(ns, 'd-mapper')) === 4);
    await cluster.kubectl(['set', 'image', '-n', ns, 'deployment/d-saver', 'saver=registry.invalid/x:1']);
    const imageOf = async () =>
      (await cluster.apps.readNamespacedDeployment({ namespace: ns, name: 'd-saver' })).spec?.template.spec
        ?.containers[0]?.image;
    await eventually('the image put back', async () => (await imageOf()) !== 'registry.invalid/x:1');
    // A label edit moves no generation; it is put back all the same, long before any resync.
    await cluster.kubectl([
      'label',
      '-n',
      ns,
      'deployment/d-fetcher',
      'app.kubernetes.io/part-of=x',
      '--overwrite',
    ]);
    await eventually(
      'the label put back',
      async () =>
        (await deployment(ns, 'd-fetcher'))?.metadata?.labels?.['app.kubernetes.io/part-of'] === 'dwk',
      { timeoutMs: 10_000 },
    );
    const reasons = await eventually('Scaled and Updated Events', async () => {
      const events = await cluster.core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: 'involvedObject.name=d',
      });
      const messages = events.items.map((e) => `${e.reason}: ${e.message}`);
      return messages.some((m) => m.startsWith('Updated: Updated Deployment d-saver')) ? messages : undefined;
    });
    assert.ok(reasons.includes('Scaled: Scaled Deployment d-mapper to 4 replicas'), reasons.join('\n'));

    await cluster.kubectl(['delete', '-n', ns, 'pipeline/d', '--wait=true']);
    await eventually(
      'Deployments garbage-collected',
      async () => {
        const list = await client.list({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns });
        return list.items.length === 0;
      },
      { timeoutMs: 60_000 },
    );
  });

  test('a Service of the Pipeline that someone deletes comes back within seconds', async (t) => {
    const ns = await cluster.newNamespace(t, 'ctrl-svc');
    await controller(t, ns);
    await apply(ns, manifest('sv'));
    const before = await eventually('the mapper Service', () =>
      client.getOrUndefined({ apiVersion: 'v1', kind: 'Service', namespace: ns, name: 'sv-mapper' }),
    );
    await cluster.kubectl(['delete', 'service', '-n', ns, 'sv-mapper', '--wait=true']);
    const after = await eventually(
      'the mapper Service recreated',
      async () => {
        const svc = await client.getOrUndefined({
          apiVersion: 'v1',
          kind: 'Service',
          namespace: ns,
          name: 'sv-mapper',
        });
        return svc?.metadata?.uid !== before.metadata?.uid && svc;
      },
      { timeoutMs: 10_000 },
    );
    assert.equal(after.metadata?.labels?.['app.kubernetes.io/managed-by'], 'dwk');
    const created = await eventually('Created Events for the Service', async () => {
      const events = await cluster.core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: 'involvedObject.name=sv,reason=Created',
      });
      const service = events.items.find((e) => e.message === 'Created Service sv-mapper');
      return service && (service.count ?? 1) >= 2 ? service : undefined;
    });
    assert.equal(created.type, 'Normal');
  });

  test('secrets reach the Deployments only as references: the broadcaster URL and the NATS credentials', async (t) => {
    const ns = await cluster.newNamespace(t, 'ctrl-secrets');
    await controller(t, ns);
    const secretValue = 'https://hooks.slack.invalid/services/T000/B000/XXXXSECRET';
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'hooks',
      '-n',
      ns,
      `--from-literal=slack=${secretValue}`,
    ]);
    await apply(
      ns,
      manifest('sec', {
        nats: { url: 'nats://nats.invalid:4222', credentials: { secretRef: { name: 'nats-auth' } } },
        broadcaster: {
          replicas: 2,
          target: { type: 'slack', urlFrom: { secretKeyRef: { name: 'hooks', key: 'slack' } } },
        },
      }),
    );
    const b = await eventually('the broadcaster Deployment', () => deployment(ns, 'sec-broadcaster'));
    assert.equal(b.spec?.replicas, 2);
    const env = b.spec?.template.spec?.containers[0]?.env ?? [];
    assert.deepEqual(env.find((e) => e.name === 'DWK_TARGET_URL')?.valueFrom?.secretKeyRef, {
      name: 'hooks',
      key: 'slack',
    });
    assert.deepEqual(env.find((e) => e.name === 'DWK_NATS_PASSWORD')?.valueFrom?.secretKeyRef, {
      name: 'nats-auth',
      key: 'password',
      optional: true,
    });
    // The value itself is in none of the objects the controller wrote, nor in the status or events.
    const everything = (
      await cluster.kubectl(['get', 'deployments,services,pipelines,events', '-n', ns, '-o', 'json'])
    ).stdout;
    assert.ok(!everything.includes('XXXXSECRET'), 'the secret value leaked into an object');
  });

  test('paused scales every component to 0 and the Pipeline stays Ready', async (t) => {
    const ns = await cluster.newNamespace(t, 'ctrl-paused');
    await controller(t, ns);
    await apply(ns, manifest('p', { paused: true, mapper: { replicas: 5 } }));
    await eventually('paused Deployments', async () => (await replicasOf(ns, 'p-mapper')) === 0);
    assert.equal(await replicasOf(ns, 'p-fetcher'), 0);
    const p = await eventually('Ready while paused', async () => {
      const now = await pipeline(ns, 'p');
      return condition(now, 'Ready')?.reason === 'Paused' ? now : undefined;
    });
    assert.equal(condition(p, 'Ready')?.status, 'True');
  });

  test('the API server rejects bad specs with a message naming the field', async (t) => {
    const ns = await cluster.newNamespace(t, 'ctrl-invalid');
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        { mapper: { replicas: -1 } },
        /spec\.mapper\.replicas: Invalid value: -1: spec\.mapper\.replicas in body should be greater than or equal to 0/,
      ],
      [{ mapper: { replicaz: 2 } }, /unknown field "spec\.mapper\.replicaz"/],
      [{ chunkSize: 0 }, /spec\.chunkSize: Invalid value: 0/],
      [
        { broadcaster: { target: { type: 'slack' } } },
        /spec\.broadcaster\.target\.urlFrom: Invalid value: .*a target needs its secret reference/,
      ],
      [
        { saver: { sink: { type: 'csv' } } },
        /spec\.saver\.sink\.type: Unsupported value: "csv": supported values: "jsonl", "log"/,
      ],
      [
        { source: { generate: { objects: 10 }, url: 'https://data.invalid/x.ndjson' } },
        /spec\.source: Invalid value: .*set either generate or url, not both/,
      ],
      [
        { mapper: { work: { waitMs: { min: 10, max: 5 } } } },
        /spec\.mapper\.work\.waitMs\.min: Invalid value: .*min must not exceed max/,
      ],
      [
        {
          broadcaster: {
            target: { type: 'telegram', urlFrom: { secretKeyRef: { name: 'bot', key: 'token' } } },
          },
        },
        /spec\.broadcaster\.target\.chatId: Invalid value: .*a telegram target needs chatId/,
      ],
      [
        // The variable would be read from the environment of the Pod, which only the controller sets.
        { broadcaster: { target: { type: 'generic', urlFromEnv: 'HOOK' } } },
        /spec\.broadcaster\.target\.urlFrom: Invalid value: .*in a cluster a target needs urlFrom\.secretKeyRef: urlFromEnv is read only in local mode/,
      ],
    ];
    for (const [spec, message] of cases) {
      const res = await cluster.kubectl(['apply', '-n', ns, '-f', '-'], {
        input: manifest('bad', spec),
        allowFailure: true,
      });
      assert.notEqual(res.exitCode, 0, `accepted ${JSON.stringify(spec)}`);
      assert.match(res.stderr, message);
    }
    const { stdout } = await cluster.kubectl(['get', 'pipelines', '-n', ns, '-o', 'name']);
    assert.equal(stdout.trim(), '', 'nothing was created');
  });

  test('its Pods are admitted in a namespace that enforces the restricted Pod Security Standard', async (t) => {
    const ns = await cluster.newNamespace(t, 'ctrl-restricted', {
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    await controller(t, ns);
    await apply(ns, manifest('r', { mapper: { replicas: 2 } }));
    await eventually(
      '4 Pods admitted and running',
      async () => {
        const pods = await cluster.core.listNamespacedPod({ namespace: ns });
        return pods.items.filter((x) => x.status?.phase === 'Running').length === 4;
      },
      { timeoutMs: 60_000 },
    );
    const events = await cluster.core.listNamespacedEvent({ namespace: ns });
    assert.equal(events.items.filter((e) => e.reason === 'FailedCreate').length, 0);
  });
});
