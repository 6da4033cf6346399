// dwk logs in a cluster, against the test bed: its Pods run on a KWOK fake node, which runs no
// containers. Unless a test gives kwok a file to serve as a Pod's log, no Pod's log can be read:
// dwk must say so per Pod, in words, and fail only because none could be read; with -f it keeps
// waiting and picks up new Pods. When kwok serves files as logs, dwk interleaves and prefixes them.
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EXIT } from '../../lib/errors.ts';
import { KubeClient, type KubeObject } from '../../lib/kube/client.ts';
import { eventually, testCluster } from '../testbed/support.ts';
import { readyPipeline, runDwk, startDwk } from './helpers.ts';

const cluster = await testCluster();
const client = KubeClient.fromKubeconfig(cluster.kubeconfigPath);

const mapperPods = async (ns: string, pipeline: string) =>
  (
    await client.list<KubeObject & { spec?: { nodeName?: string } }>(
      { apiVersion: 'v1', kind: 'Pod', namespace: ns },
      `app.kubernetes.io/name=mapper,app.kubernetes.io/instance=${pipeline}`,
    )
  ).items.filter((p) => !p.metadata?.deletionTimestamp);

/**
 * Has kwok, as the fake node's kubelet, serve `file` (CRI lines) as the log of a Pod; the test bed
 * serves kwok's Logs kind when it runs kwok's server (see test/support/kwok.ts for all it maps).
 */
async function serveLog(ns: string, pod: string, file: string) {
  closeSync(openSync(file, 'a'));
  await client.request(
    'PATCH',
    `/apis/kwok.x-k8s.io/v1alpha1/namespaces/${ns}/logs/${pod}?fieldManager=dwk-test&force=true`,
    {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'Logs',
      metadata: { name: pod, namespace: ns },
      spec: { logs: [{ logsFile: file }] },
    },
    'application/apply-patch+yaml',
  );
}
const kwokServesLogs = await client.serves('kwok.x-k8s.io/v1alpha1', 'Logs');

/** A workload's pino line in the container runtime's format, `offsetMs` after `t0`. */
const criLine = (t0: number, offsetMs: number, msg: string) => {
  const time = new Date(t0 + offsetMs).toISOString();
  return `${time} stdout F ${JSON.stringify({ level: 'info', time, msg })}\n`;
};

const unavailable = (pod: string) =>
  new RegExp(
    `^warning: ${pod}: logs unavailable: the node kwok-node-0 serves no logs \\(a KWOK fake node, which runs no containers; the API server said: .+\\)$`,
    'm',
  );

describe('dwk logs in a cluster', { timeout: 180_000 }, () => {
  test('Pods on the KWOK node: a clear reason per Pod, exit 4 since none could be read; no Pods: exit 1', async (t) => {
    const { ns, dir, env } = await readyPipeline(cluster, t, 'cli-logs', 'lg');
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
    const { ns, dir, env } = await readyPipeline(cluster, t, 'cli-logs-f', 'lf');
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

  test(
    'Pods whose logs kwok serves: interleaved by time, each line prefixed by its Pod; --tail; -f sees a new line',
    { skip: kwokServesLogs ? false : "the test bed's kwok serves no Pod logs" },
    async (t) => {
      const { ns, dir, env } = await readyPipeline(cluster, t, 'cli-logs-ok', 'ok');
      const [a, b] = (
        await eventually('2 mapper Pods', async () => {
          const p = await mapperPods(ns, 'ok');
          return p.length === 2 ? p : undefined;
        })
      )
        .map((p) => p.metadata?.name ?? '')
        .sort();
      assert.ok(a && b);
      const t0 = Date.now() - 60_000;
      const fileA = join(dir, 'a.log');
      const fileB = join(dir, 'b.log');
      appendFileSync(fileA, criLine(t0, 0, 'a0') + criLine(t0, 2000, 'a2'));
      appendFileSync(fileB, criLine(t0, 1000, 'b1') + criLine(t0, 3000, 'b3'));
      await serveLog(ns, a, fileA);
      await serveLog(ns, b, fileB);

      // kwok learns of its Logs objects through a watch, a moment later.
      const r = await eventually('both logs served', async () => {
        const x = await runDwk(env, dir, 'logs', 'mapper', '-n', ns);
        return x.code === 0 && x.stdout.split('\n').length === 4 ? x : undefined;
      });
      const brief = (stdout: string) =>
        stdout.split('\n').map((l) => l.replace(/ +\d\d:\d\d:\d\d\.\d{3} INFO +/, ' '));
      assert.deepEqual(brief(r.stdout), [`${a} a0`, `${b} b1`, `${a} a2`, `${b} b3`]);
      assert.equal(r.stderr, '');

      const tail = await runDwk(env, dir, 'logs', 'mapper', 'ok', '-n', ns, '--tail', '1');
      assert.equal(tail.code, 0, tail.stderr);
      assert.deepEqual(brief(tail.stdout), [`${a} a2`, `${b} b3`]);

      const follow = startDwk(env, dir, 'logs', 'mapper', '-n', ns, '-f', '-o', 'json');
      let out = '';
      follow.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await eventually('the backlog', () => Promise.resolve(out.includes('"b3"')));
        appendFileSync(fileB, criLine(Date.now(), 0, 'b-live'));
        await eventually('the new line', () => Promise.resolve(out.includes('"b-live"')));
      } finally {
        follow.kill('SIGINT');
      }
      const result = await follow;
      assert.equal(result.exitCode, 130, result.stderr);
      const live = result.stdout
        .split('\n')
        .map((l) => JSON.parse(l) as { instance: string; msg: string })
        .find((l) => l.msg === 'b-live');
      assert.equal(live?.instance, b);
    },
  );
});
