// dwk logs in a cluster, against the test bed: its Pods run on a KWOK fake node, which has no
// kubelet, so every Pod's log is unavailable. dwk must say so per Pod, in words, and fail only
// because none could be read; with -f it keeps waiting and picks up new Pods.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { EXIT } from '../../lib/errors.ts';
import { KubeClient, type KubeObject } from '../../lib/kube/client.ts';
import { startController } from '../support/controller.ts';
import { eventually, testCluster } from '../testbed/support.ts';
import { dwkEnv, runDwk, startDwk, tempDir, writePipeline } from './helpers.ts';

const cluster = await testCluster();
const client = KubeClient.fromKubeconfig(cluster.kubeconfigPath);

/** A Ready Pipeline `name` (mapper 2) in a fresh namespace, made by dwk up. */
async function readyPipeline(t: TestContext, prefix: string, name: string) {
  const ns = await cluster.newNamespace(t, prefix);
  await startController(t, cluster.kubeconfigPath, ns);
  const dir = tempDir(prefix);
  const env = dwkEnv(cluster, dir, { helm: false });
  const file = writePipeline(dir, name);
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
    '--controller',
    'none',
  );
  assert.equal(up.code, 0, up.stderr);
  return { ns, dir, env };
}

const mapperPods = async (ns: string, pipeline: string) =>
  (
    await client.list<KubeObject & { spec?: { nodeName?: string } }>(
      { apiVersion: 'v1', kind: 'Pod', namespace: ns },
      `app.kubernetes.io/name=mapper,app.kubernetes.io/instance=${pipeline}`,
    )
  ).items.filter((p) => !p.metadata?.deletionTimestamp);

const unavailable = (pod: string) =>
  new RegExp(
    `^warning: ${pod}: logs unavailable: the node kwok-node-0 serves no logs \\(a KWOK fake node: it runs no containers and has no kubelet; the API server said: .+\\)$`,
    'm',
  );

describe('dwk logs in a cluster', { timeout: 180_000 }, () => {
  test('Pods on the KWOK node: a clear reason per Pod, exit 4 since none could be read; no Pods: exit 1', async (t) => {
    const { ns, dir, env } = await readyPipeline(t, 'cli-logs', 'lg');
    const pods = await eventually('2 scheduled mapper Pods', async () => {
      const p = await mapperPods(ns, 'lg');
      return p.length === 2 && p.every((x) => x.spec?.nodeName === 'kwok-node-0') ? p : undefined;
    });

    const r = await runDwk(env, dir, 'logs', 'mapper', '-n', ns);
    assert.equal(r.code, EXIT.unavailable, r.stderr);
    assert.equal(r.stdout, '');
    for (const p of pods) assert.match(r.stderr, unavailable(p.metadata?.name ?? '?'));
    assert.match(r.stderr, /^error: none of the logs of the 2 mapper Pods of lg could be read$/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stderr.trimEnd().split('\n').length, 3, r.stderr);

    // Named pipeline, every component: the fetcher and saver Pods are named too.
    const all = await runDwk(env, dir, 'logs', 'all', 'lg', '-n', ns, '--tail', '5', '--since', '1h');
    assert.equal(all.code, EXIT.unavailable, all.stderr);
    assert.match(all.stderr, /^warning: lg-fetcher-\S+: logs unavailable: the node kwok-node-0/m);
    assert.match(all.stderr, /^warning: lg-saver-\S+: logs unavailable: the node kwok-node-0/m);
    assert.match(all.stderr, /^error: none of the logs of the 4 Pods of lg could be read$/m);

    const typo = await runDwk(env, dir, 'logs', 'mappr', '-n', ns);
    assert.equal(typo.code, EXIT.usage);
    assert.equal(
      typo.stderr,
      'error: unknown component "mappr"; did you mean "mapper"?\nhint: the components are fetcher, mapper, saver, broadcaster, or all',
    );
    const noBroadcaster = await runDwk(env, dir, 'logs', 'broadcaster', '-n', ns);
    assert.equal(noBroadcaster.code, EXIT.failure);
    assert.match(noBroadcaster.stderr, /^error: Pipeline lg has no broadcaster\n/);

    const zero = await runDwk(env, dir, 'scale', 'mapper', '0', '-n', ns, '--wait');
    assert.equal(zero.code, 0, zero.stderr);
    await eventually('no mapper Pods', async () => (await mapperPods(ns, 'lg')).length === 0);
    const none = await runDwk(env, dir, 'logs', 'mapper', '-n', ns);
    assert.equal(none.code, EXIT.failure);
    assert.match(
      none.stderr,
      new RegExp(`^error: no mapper Pods of Pipeline lg in namespace ${ns}\\nhint: `),
    );
  });

  test('-f names each Pod it cannot read, picks up a new Pod after dwk scale, and Ctrl-C exits 130', async (t) => {
    const { ns, dir, env } = await readyPipeline(t, 'cli-logs-f', 'lf');
    const before = await eventually('2 running mapper Pods', async () => {
      const p = await mapperPods(ns, 'lf');
      return p.length === 2 && p.every((x) => x.spec?.nodeName) ? p : undefined;
    });
    const follow = startDwk(env, dir, 'logs', 'mapper', '-n', ns, '-f');
    let exited = false;
    const done = follow.then((r) => ((exited = true), r));
    let stderr = '';
    follow.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      for (const p of before) {
        await eventually(`the reason for ${p.metadata?.name}`, () =>
          Promise.resolve(unavailable(p.metadata?.name ?? '?').test(stderr)),
        );
      }
      assert.equal(exited, false, 'still following although no Pod could be read');
      const scaled = await runDwk(env, dir, 'scale', 'mapper', '3', '-n', ns);
      assert.equal(scaled.code, 0, scaled.stderr);
      const added = await eventually('a third mapper Pod', async () => {
        const names = (await mapperPods(ns, 'lf')).map((p) => p.metadata?.name ?? '');
        return names.find((n) => !before.some((p) => p.metadata?.name === n));
      });
      await eventually('dwk logs to pick up the new Pod', () =>
        Promise.resolve(new RegExp(`^\\+ ${added}$`, 'm').test(stderr) && unavailable(added).test(stderr)),
      );
    } finally {
      follow.kill('SIGINT');
    }
    const result = await done;
    assert.equal(result.exitCode, 130, stderr);
    assert.equal(result.stdout, '');
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });
});
