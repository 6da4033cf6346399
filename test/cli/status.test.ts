// dwk status in a cluster: the snapshot for scripts matches the cluster, plain text without a
// terminal, and the live view in a real terminal (tmux): + on the mapper scales it, q exits 0.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ClusterStatus } from '../../cli/cluster/status.ts';
import { jetstream } from '@nats-io/jetstream';
import { KubeClient, type KubeObject } from '../../lib/kube/client.ts';
import { outcomesKey } from '../../lib/nats/broadcast-outcomes.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { startNatsServer } from '../../lib/nats/server.ts';
import { ensurePipeline } from '../../lib/nats/setup.ts';
import { forwardPorts } from '../support/kwok.ts';
import { eventually, testCluster } from '../testbed/support.ts';
import { DWK, dwkEnv, runDwk, tempDir, writePipeline, readyPipeline } from './helpers.ts';

const cluster = await testCluster();
const client = KubeClient.fromKubeconfig(cluster.kubeconfigPath);
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
/** The pane's text matches: a probe for eventually(). */
const screen = (session: string, re: RegExp) => () =>
  Promise.resolve(re.test(tmux('capture-pane', '-p', '-t', session)));

const mapperReplicas = async (ns: string, pipeline: string) =>
  (
    await client.get<KubeObject & { spec?: { replicas?: number } }>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: ns,
      name: `${pipeline}-mapper`,
    })
  ).spec?.replicas;

describe('dwk status in a cluster', { timeout: 180_000 }, () => {
  test('--once -o json matches the cluster; yaml and plain text without a terminal', async (t) => {
    const { ns, dir, env } = await readyPipeline(cluster, t, 'cli-status', 'st');
    const json = await runDwk(env, dir, 'status', '-n', ns, '--once', '-o', 'json');
    assert.equal(json.code, 0, json.stderr);
    const s = JSON.parse(json.stdout) as ClusterStatus;
    assert.equal(s.pipeline, 'st');
    assert.equal(s.namespace, ns);
    assert.equal(s.mode, 'cluster');
    assert.equal(s.natsUrl, 'nats://n:4222');
    assert.deepEqual(s.components.mapper, { desired: 2, replicas: 2, ready: 2, updated: 2, restarts: 0 });
    assert.equal(s.components.fetcher?.desired, 1);
    assert.equal(s.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(s.observedGeneration, s.generation);
    assert.equal(await mapperReplicas(ns, 'st'), s.components.mapper?.desired);
    // `n` does not resolve here, so dwk tried a port-forward to Service n, which does not exist:
    // shown as a fact about NATS, while the rest of the status is still printed.
    assert.equal(s.nats?.url, 'nats://n:4222');
    assert.equal(s.nats.via, 'port-forward');
    assert.equal(s.nats.reachable, false);
    assert.match(s.nats.error ?? '', new RegExp(`cannot port-forward to Service ${ns}/n: .*not found`, 'i'));

    const yaml = await runDwk(env, dir, 'status', 'st', '-n', ns, '-o', 'yaml');
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.match(yaml.stdout, /^pipeline: st\n/);
    const text = await runDwk(env, dir, 'status', '-n', ns);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Pipeline: {2}st \(namespace \S+, ready, generation 1, observed 1\)/);
    assert.match(text.stdout, /mapper\s+2\s+2\s+2\s+0/);
    assert.match(text.stdout, /Ready\s+True\s+AllReplicasReady/);
    assert.match(text.stdout, /^NATS: {6}nats:\/\/n:4222 UNREACHABLE: cannot port-forward to Service/m);

    const none = await runDwk(env, dir, 'status', 'nope', '-n', ns, '--once');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no Pipeline "nope" in namespace/);
  });

  test('reads progress, lag, the NATS server and the broadcasters from NATS itself', async (t) => {
    const ns = await cluster.newNamespace(t, 'cli-nats');
    const dir = tempDir('cli-nats');
    const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    t.after(() => nats.stop());
    const nc = await connectNats({ servers: nats.url, name: 'test' });
    t.after(() => nc.close());
    const env = dwkEnv(cluster, dir, { helm: false });
    const file = writePipeline(dir, 'fig', {
      source: { generate: { objects: 1000 } },
      broadcaster: { target: { type: 'generic', urlFrom: { secretKeyRef: { name: 'hook', key: 'url' } } } },
    });
    const up = await runDwk(
      env,
      dir,
      'up',
      '-f',
      file,
      '-n',
      ns,
      '--nats-url',
      nats.url,
      '--controller',
      'none',
      '--no-wait',
    );
    assert.equal(up.code, 0, up.stderr);
    // What the workloads would have left in NATS: 3 chunks waiting for a mapper, one broadcaster's counts.
    const { topology: topo, kvm } = await ensurePipeline(nc, 'fig', {
      mapper: { maxDeliver: 5, ackWaitSeconds: 30 },
    });
    const js = jetstream(nc);
    for (let c = 0; c < 3; c++)
      await js.publish(topo.subjects.chunk(c), '[]', { msgID: topo.msgIds.chunk(c) });
    const state = await kvm.open(topo.buckets.state);
    await state.put(
      outcomesKey('fig-broadcaster-abc', '1234'),
      JSON.stringify({ delivered: 4, failed: 1, deadLettered: 0, skippedDuplicate: 2, unknown: 0 }),
    );

    const json = await runDwk(
      env,
      dir,
      'status',
      'fig',
      '-n',
      ns,
      '--once',
      '-o',
      'json',
      '--nats-monitor-url',
      nats.monitorUrl,
    );
    assert.equal(json.code, 0, json.stderr);
    const s = JSON.parse(json.stdout) as ClusterStatus;
    assert.deepEqual(s.nats, { url: nats.url, via: 'direct', reachable: true });
    assert.equal(s.lag?.mapper?.pending, 3);
    assert.equal(s.progress?.chunksTotal, 10);
    assert.deepEqual(s.broadcast, {
      delivered: 4,
      failed: 1,
      deadLettered: 0,
      skippedDuplicate: 2,
      unknown: 0,
    });
    assert.match(s.natsServer?.version ?? '', /^2\.\d+\.\d+$/);
    assert.ok((s.natsServer?.connections ?? 0) >= 2, 'the test and dwk itself');
    assert.ok((s.natsServer?.jetstream?.streams ?? 0) >= 5);

    const text = await runDwk(env, dir, 'status', 'fig', '-n', ns, '--nats-monitor-url', nats.monitorUrl);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^mapper\s+3\s+0\s+0$/m);
    assert.match(text.stdout, /^Server: {4}nats-server 2\.\d+\.\d+ · \d+ connections · 0 slow consumers/m);
    assert.match(
      text.stdout,
      /^Broadcast: 4 delivered · 1 failed \(retried\) · 0 dead-lettered · 2 skipped as duplicates · 0 unknown$/m,
    );

    const quiet = await runDwk(env, dir, 'status', 'fig', '-n', ns, '--once', '-o', 'json', '--no-nats');
    assert.equal(quiet.code, 0, quiet.stderr);
    const q = JSON.parse(quiet.stdout) as ClusterStatus;
    assert.equal(q.nats, undefined);
    assert.equal(q.lag, undefined);
  });

  test('an in-cluster NATS address is reached through a port-forward to the Pod behind its Service', async (t) => {
    const ns = await cluster.newNamespace(t, 'cli-pf');
    const dir = tempDir('cli-pf');
    const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    t.after(() => nats.stop());
    // The fake node forwards the Pod's client and monitoring ports to the nats-server on this machine.
    await forwardPorts(client, { namespace: ns, pods: ['nats-0'] }, [
      { port: 4222, targetPort: nats.port },
      { port: 8222, targetPort: nats.monitorPort },
    ]);
    await client.apply(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'nats-0', namespace: ns, labels: { app: 'nats' } },
        spec: {
          containers: [
            {
              name: 'nats',
              image: 'nats:2.14',
              ports: [
                { name: 'client', containerPort: 4222 },
                { name: 'monitor', containerPort: 8222 },
              ],
            },
          ],
        },
      },
      'test',
    );
    // Like the NATS chart's client Service: the monitoring port is not on it.
    await client.apply(
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'nats', namespace: ns },
        spec: { selector: { app: 'nats' }, ports: [{ name: 'nats', port: 4222, targetPort: 'client' }] },
      },
      'test',
    );
    await eventually('nats-0 Ready', async () => {
      const pod = await cluster.core.readNamespacedPod({ name: 'nats-0', namespace: ns });
      return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    });
    const env = dwkEnv(cluster, dir, { helm: false });
    const url = `nats://nats.${ns}.svc:4222`;
    const up = await runDwk(
      env,
      dir,
      'up',
      '-f',
      writePipeline(dir, 'pf'),
      '-n',
      ns,
      '--nats-url',
      url,
      '--controller',
      'none',
      '--no-wait',
    );
    assert.equal(up.code, 0, up.stderr);
    const nc = await connectNats({ servers: nats.url, name: 'test' });
    t.after(() => nc.close());
    const { topology: topo } = await ensurePipeline(nc, 'pf', {
      mapper: { maxDeliver: 5, ackWaitSeconds: 30 },
    });
    for (let c = 0; c < 2; c++)
      await jetstream(nc).publish(topo.subjects.chunk(c), '[]', { msgID: topo.msgIds.chunk(c) });

    // kwok sees the mapping through a watch a moment later: the first tries may be refused.
    const s = await eventually('NATS through the port-forward', async () => {
      const r = await runDwk(env, dir, 'status', 'pf', '-n', ns, '--once', '-o', 'json');
      const st = JSON.parse(r.stdout) as ClusterStatus;
      return st.nats?.reachable && st.natsServer ? st : undefined;
    });
    assert.deepEqual(s.nats, { url, via: 'port-forward', pod: 'nats-0', reachable: true });
    assert.equal(s.lag?.mapper?.pending, 2);
    assert.match(s.natsServer?.version ?? '', /^2\.\d+\.\d+$/);
    assert.ok((s.natsServer?.jetstream?.streams ?? 0) >= 5);
    const text = await runDwk(env, dir, 'status', 'pf', '-n', ns);
    assert.match(
      text.stdout,
      new RegExp(`^NATS: {6}nats://nats\\.${ns}\\.svc:4222 \\(through a port-forward to nats-0\\)$`, 'm'),
    );
  });

  test(
    'the live view in a real terminal: select the mapper, + scales it, q exits 0',
    { skip: hasTmux ? false : 'tmux is not installed' },
    async (t) => {
      const { ns, dir, env } = await readyPipeline(cluster, t, 'cli-live', 'live');
      const session = `dwk-status-${process.pid}`;
      const exitFile = join(dir, 'exit-code');
      const vars = Object.entries(env)
        .map(([k, v]) => `${k}='${v}'`)
        .join(' ');
      tmux(
        'new-session',
        '-d',
        '-s',
        session,
        '-x',
        '100',
        '-y',
        '30',
        `env -i ${vars} '${DWK}' status -n ${ns}; echo $? > '${exitFile}'; sleep 30`,
      );
      try {
        await eventually('the live view', screen(session, /› fetcher/), { timeoutMs: 30_000 });
        tmux('send-keys', '-t', session, 'Down');
        await eventually('the mapper selected', screen(session, /› mapper\s+2\s+2/));
        tmux('send-keys', '-t', session, '+');
        await eventually('the mapper Deployment at 3', async () => (await mapperReplicas(ns, 'live')) === 3);
        await eventually('the view showing 3 ready', screen(session, /› mapper\s+3\s+3/), {
          timeoutMs: 30_000,
        });
        tmux('send-keys', '-t', session, 'q');
        const code = await eventually('dwk to exit', () =>
          Promise.resolve(existsSync(exitFile) && readFileSync(exitFile, 'utf8').trim()),
        );
        assert.equal(code, '0');
      } finally {
        tmux('kill-session', '-t', session);
      }
    },
  );
});
