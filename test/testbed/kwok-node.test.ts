// The fake nodes as kubelets: Pod logs, port-forward, exec and attach through the real apiserver and
// the pinned kubectl, for what a test maps with test/support/kwok.ts.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { appendLogLines, execLocally, forwardPorts, serveAttach, serveLogs } from '../support/kwok.ts';
import { eventually, testCluster } from './support.ts';

const cluster = await testCluster();

/** A directory of this machine for the files a test maps, removed after the test. */
function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `dwk-${prefix}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A Pod of one container `app` (port 8080), Running on a fake node. The tests map first: kwok sees a
 * mapping through a watch, long before the Pod runs, and kubectl port-forward and attach give up at
 * the first refusal.
 */
async function runningPod(namespace: string, name: string): Promise<V1Pod> {
  const body: V1Pod = {
    metadata: { name, labels: { app: name } },
    spec: {
      containers: [{ name: 'app', image: 'registry.invalid/app:1', ports: [{ containerPort: 8080 }] }],
    },
  };
  await cluster.core.createNamespacedPod({ namespace, body });
  return eventually(`Pod ${name} Running`, async () => {
    const pod = await cluster.core.readNamespacedPod({ name, namespace });
    return pod.status?.phase === 'Running' && pod;
  });
}

/** A long-running kubectl (logs -f, port-forward, attach) whose output a test reads as it comes. */
function kubectlStream(t: TestContext, args: string[]) {
  const child: ChildProcess = spawn(cluster.binaries.kubectl, args, {
    env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  t.after(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  return {
    child,
    /** Waits until stdout matches (calling `poke` on each look); fails at once, with stderr, if kubectl exits. */
    async output(re: RegExp, what: string, poke = () => {}): Promise<RegExpExecArray> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        poke();
        const m = re.exec(stdout);
        if (m) return m;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `kubectl ${args.join(' ')} ended (${child.exitCode ?? child.signalCode}): ${stderr}`,
          );
        }
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; stdout: ${stdout}; stderr: ${stderr}`);
        await sleep(100);
      }
    },
    get stdout() {
      return stdout;
    },
  };
}

describe('Pod logs from a fake node', () => {
  test('kubectl logs prints the lines of the file mapped to the container, and so does the log API', async (t) => {
    const ns = await cluster.newNamespace(t, 'kwok-logs');
    const file = join(tempDir(t, 'kwok-logs'), 'web.log');
    appendLogLines(file, ['first line', 'second line']);
    appendLogLines(file, ['a warning'], 'stderr');
    await serveLogs(cluster.kc, { namespace: ns, pods: ['web'] }, { file });
    await runningPod(ns, 'web');

    const { stdout } = await eventually('kubectl logs web', () => cluster.kubectl(['logs', '-n', ns, 'web']));
    assert.equal(stdout, 'first line\nsecond line\na warning');
    const tail = await cluster.kubectl(['logs', '-n', ns, 'pod/web', '-c', 'app', '--tail=1']);
    assert.equal(tail.stdout, 'a warning');

    const viaApi = await cluster.core.readNamespacedPodLog({ name: 'web', namespace: ns, container: 'app' });
    assert.equal(viaApi, 'first line\nsecond line\na warning\n');
  });

  test('kubectl logs -f prints a line appended to the file later', async (t) => {
    const ns = await cluster.newNamespace(t, 'kwok-follow');
    const file = join(tempDir(t, 'kwok-follow'), 'web.log');
    appendLogLines(file, ['before']);
    await serveLogs(cluster.kc, { namespace: ns, pods: ['web'] }, { file });
    await runningPod(ns, 'web');
    await eventually('the log served', () => cluster.kubectl(['logs', '-n', ns, 'web']));

    const follow = kubectlStream(t, ['logs', '-f', '-n', ns, 'web']);
    await follow.output(/^before\n/, 'the existing line');
    appendLogLines(file, ['after']);
    await follow.output(/^before\nafter\n/, 'the appended line');
    assert.equal(follow.child.exitCode, null, 'kubectl logs -f still follows');
  });

  test('a namespace-wide mapping serves the logs of the Pods of a Deployment, and goes with the namespace', async (t) => {
    const ns = await cluster.newNamespace(t, 'kwok-ns-logs');
    const file = join(tempDir(t, 'kwok-ns-logs'), 'all.log');
    appendLogLines(file, ['from every pod']);
    await serveLogs(cluster.kc, { namespace: ns }, { file });
    const deployment: V1Deployment = {
      metadata: { name: 'api' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'api' } },
        template: {
          metadata: { labels: { app: 'api' } },
          spec: { containers: [{ name: 'app', image: 'registry.invalid/api:1' }] },
        },
      },
    };
    await cluster.apps.createNamespacedDeployment({ namespace: ns, body: deployment });
    await eventually('2 available replicas', async () => {
      const d = await cluster.apps.readNamespacedDeployment({ name: 'api', namespace: ns });
      return d.status?.availableReplicas === 2;
    });
    const { stdout } = await eventually('logs of every Pod', () =>
      cluster.kubectl(['logs', '-n', ns, '-l', 'app=api', '--prefix']),
    );
    const lines = stdout.split('\n').sort();
    assert.equal(lines.length, 2);
    for (const line of lines) assert.match(line, /^\[pod\/api-[a-z0-9-]+\/app\] from every pod$/);

    await cluster.core.deleteNamespace({ name: ns });
    await eventually(
      'the ClusterLogs collected with its namespace',
      async () => {
        const res = await cluster.kubectl(['get', 'clusterlogs', ns], { allowFailure: true });
        return res.exitCode !== 0 && /NotFound/.test(res.stderr);
      },
      { timeoutMs: 90_000 },
    );
  });
});

describe('port-forward, exec and attach on a fake node', () => {
  test('kubectl port-forward to a Pod port reaches the local server it is mapped to', async (t) => {
    const ns = await cluster.newNamespace(t, 'kwok-pf');
    const server = createServer((req, res) => res.end(`hello from ${req.url ?? ''}`));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const targetPort = (server.address() as AddressInfo).port;
    await forwardPorts(cluster.kc, { namespace: ns, pods: ['web'] }, { port: 8080, targetPort });
    await runningPod(ns, 'web');

    const pf = kubectlStream(t, ['port-forward', '-n', ns, 'pod/web', ':8080']);
    const [, localPort] = await pf.output(/Forwarding from 127\.0\.0\.1:(\d+) -> 8080/, 'the local port');
    const res = await fetch(`http://127.0.0.1:${localPort}/through-the-pod`);
    const body = await res.text();
    assert.equal(body, 'hello from /through-the-pod');
  });

  test('kubectl exec runs its command on this machine, in the mapped directory and environment', async (t) => {
    const ns = await cluster.newNamespace(t, 'kwok-exec');
    const dir = tempDir(t, 'kwok-exec');
    await execLocally(
      cluster.kc,
      { namespace: ns, pods: ['web'] },
      { workDir: dir, env: { GREETING: 'hi' } },
    );
    await runningPod(ns, 'web');

    const { stdout } = await eventually('kubectl exec', () =>
      cluster.kubectl(['exec', '-n', ns, 'web', '--', 'sh', '-c', 'echo "$GREETING from $(pwd)"']),
    );
    assert.equal(stdout, `hi from ${dir}`);
    const failed = await cluster.kubectl(['exec', '-n', ns, 'web', '--', 'sh', '-c', 'exit 3'], {
      allowFailure: true,
    });
    // kwok v0.8.0 reports a failed command as an error, not with its exit code.
    assert.notEqual(failed.exitCode, 0);
    assert.match(failed.stderr, /exit status 3/);
  });

  test('kubectl attach prints what is appended to the mapped file from then on', async (t) => {
    const ns = await cluster.newNamespace(t, 'kwok-attach');
    const file = join(tempDir(t, 'kwok-attach'), 'attach.log');
    appendLogLines(file, ['old news']);
    await serveAttach(cluster.kc, { namespace: ns, pods: ['web'] }, { file });
    await runningPod(ns, 'web');

    const attach = kubectlStream(t, ['attach', '-n', ns, 'web']);
    // Attach starts at the end of the file; keep appending until a line comes through.
    await attach.output(/ping\n/, 'a line through kubectl attach', () => appendLogLines(file, ['ping']));
    assert.doesNotMatch(attach.stdout, /old news/);
  });
});
