// dwk logs in a cluster, for what the test bed cannot show (its KWOK node has no kubelet, so no Pod
// log is ever readable there, see test/cli/logs.test.ts): the log API answering, here from a small
// HTTP server that speaks the few API paths dwk logs uses.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { EXIT } from '../../lib/errors.ts';
import { KubeApiError } from '../../lib/kube/client.ts';
import { run } from '../program.ts';
import { captureContext } from '../testing.ts';
import { logQuery, podLine, podSelector, unavailableReason } from './cluster.ts';

describe('dwk logs in a cluster: the pure parts', () => {
  it('selects Pods by the labels the controller sets', () => {
    assert.equal(
      podSelector('demo', ['mapper']),
      'app.kubernetes.io/name=mapper,app.kubernetes.io/instance=demo',
    );
    assert.equal(
      podSelector('demo', ['fetcher', 'mapper', 'saver', 'broadcaster']),
      'app.kubernetes.io/name in (fetcher,mapper,saver,broadcaster),app.kubernetes.io/instance=demo',
    );
  });

  it('asks the log API for kubelet timestamps, and --since in whole seconds', () => {
    assert.equal(logQuery('mapper', { follow: false }), 'container=mapper&timestamps=true');
    assert.equal(
      logQuery('saver', { follow: true, sinceMs: 1500, tail: 0 }),
      'container=saver&timestamps=true&follow=true&sinceSeconds=2&tailLines=0',
    );
  });

  it("takes the workload's own time, else the kubelet's", () => {
    assert.deepEqual(podLine('p', '2026-01-01T00:00:01.5Z {"time":"2026-01-01T00:00:00.250Z","msg":"x"}'), {
      source: 'p',
      text: '{"time":"2026-01-01T00:00:00.250Z","msg":"x"}',
      time: Date.parse('2026-01-01T00:00:00.250Z'),
    });
    assert.equal(
      podLine('p', '2026-01-01T00:00:01.500000000Z plain').time,
      Date.parse('2026-01-01T00:00:01.500Z'),
    );
  });

  it("says why a Pod's log is unavailable", () => {
    const pod = { name: 'demo-mapper-1', node: 'n1' };
    const api = (status: number, message: string) =>
      new KubeApiError(status, `GET /api/v1/namespaces/x/pods/demo-mapper-1/log: ${status} ${message}`);
    assert.equal(
      unavailableReason(
        api(404, 'the server could not find the requested resource ( pods/log demo-mapper-1)'),
        pod,
        'a KWOK fake node',
      ),
      'the node n1 serves no logs (a KWOK fake node; the API server said: the server could not find the requested resource ( pods/log demo-mapper-1))',
    );
    assert.equal(
      unavailableReason(api(502, 'dial tcp 10.0.0.1:10250: connect: connection refused'), pod),
      'the node n1 serves no logs (the API server said: dial tcp 10.0.0.1:10250: connect: connection refused)',
    );
    assert.equal(
      unavailableReason(api(400, 'no logs found for container "mapper" in pod "x/demo-mapper-1"'), pod),
      'the node n1 serves no logs (the API server said: no logs found for container "mapper" in pod "x/demo-mapper-1")',
    );
    assert.equal(unavailableReason(api(404, 'pods "demo-mapper-1" not found'), pod), 'the Pod is gone');
    assert.equal(
      unavailableReason(api(404, 'pods "n1" not found'), pod),
      'its node n1 is gone (pods "n1" not found)',
    );
    assert.equal(
      unavailableReason(
        api(400, 'container "mapper" in pod "demo-mapper-1" is waiting to start: ContainerCreating'),
        pod,
      ),
      'the container has not started yet (container "mapper" in pod "demo-mapper-1" is waiting to start: ContainerCreating)',
    );
    assert.match(
      unavailableReason(api(403, 'pods "demo-mapper-1" is forbidden'), pod),
      /^not allowed to read Pod logs \(/,
    );
    assert.equal(
      unavailableReason(new Error('request timed out after 20 s'), pod),
      'the node n1 did not answer (request timed out after 20 s)',
    );
  });
});

const T = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const pinoAt = (s: number, msg: string) => JSON.stringify({ level: 'info', time: T(s), msg });
const pod = (name: string, node: string) => ({
  metadata: { name, labels: { 'app.kubernetes.io/name': 'mapper', 'app.kubernetes.io/instance': 'demo' } },
  spec: { nodeName: node },
  status: { containerStatuses: [{ name: 'mapper', containerID: `c-${name}`, state: { running: {} } }] },
});

/** The API paths of dwk logs: one Pipeline, three mapper Pods, two logs that answer and one that does not. */
async function fakeApi() {
  const asked: string[] = [];
  const open = new Set<ServerResponse>();
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    asked.push(`${url.pathname}?${url.searchParams.toString()}`);
    const p = url.pathname;
    if (p === '/apis/dwk.dev/v1alpha1/namespaces/team/pipelines') {
      return json(res, 200, { items: [{ metadata: { name: 'demo' }, spec: {} }], metadata: {} });
    }
    if (p === '/api/v1/namespaces/team/pods' && url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      open.add(res);
      return;
    }
    if (p === '/api/v1/namespaces/team/pods') {
      const items = [pod('demo-mapper-a', 'n1'), pod('demo-mapper-b', 'n2'), pod('demo-mapper-c', 'n3')];
      return json(res, 200, { items, metadata: { resourceVersion: '7' } });
    }
    if (p === '/api/v1/nodes/n3')
      return json(res, 403, { kind: 'Status', message: 'nodes "n3" is forbidden', code: 403 });
    if (p === '/api/v1/namespaces/team/pods/demo-mapper-c/log') {
      return json(res, 500, {
        kind: 'Status',
        message:
          'Get "https://10.0.0.3:10250/containerLogs/team/demo-mapper-c/mapper": dial tcp 10.0.0.3:10250: connect: connection refused',
        code: 500,
      });
    }
    const log = /^\/api\/v1\/namespaces\/team\/pods\/(demo-mapper-[ab])\/log$/.exec(p);
    if (log) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const a = log[1] === 'demo-mapper-a';
      // The kubelet's time comes first; the workload's own time orders the lines.
      res.write(`${T(50)} ${pinoAt(a ? 1 : 2, a ? 'a1' : 'b2')}\n`);
      res.write(`${T(50)} ${pinoAt(a ? 3 : 4, a ? 'a3' : 'b4')}\n`);
      if (url.searchParams.get('follow') !== 'true') return res.end();
      open.add(res);
      setTimeout(() => res.write(`${T(60)} ${pinoAt(a ? 10 : 11, a ? 'a10' : 'b11')}\n`), 300);
      return;
    }
    json(res, 404, { kind: 'Status', message: `no ${p}`, code: 404 });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'dwk-logs-api-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: fake, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: me, user: {}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: me, namespace: team}}]',
      'current-context: fake',
    ].join('\n'),
  );
  after(async () => {
    for (const r of open) r.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { asked, kubeconfig, dir };
}

const msgs = (out: string) =>
  out
    .trimEnd()
    .split('\n')
    .map((l) => l.replace(/ \d\d:\d\d:\d\d\.\d{3} INFO /, ' '));

describe('dwk logs in a cluster, the log API answering', () => {
  it('interleaves the Pods by time, prefixes each line with its Pod, names the Pod it cannot read; exit 0', async () => {
    const api = await fakeApi();
    const ctx = captureContext(api.dir);
    const code = await run(
      ['logs', 'mapper', '--kubeconfig', api.kubeconfig, '--tail', '5', '--since', '10m'],
      ctx,
    );
    assert.equal(code, EXIT.ok, ctx.err());
    assert.deepEqual(msgs(ctx.out()), [
      'demo-mapper-a  a1',
      'demo-mapper-b  b2',
      'demo-mapper-a  a3',
      'demo-mapper-b  b4',
    ]);
    assert.equal(
      ctx.err(),
      'warning: demo-mapper-c: logs unavailable: the node n3 serves no logs (the API server said: Get "https://10.0.0.3:10250/containerLogs/team/demo-mapper-c/mapper": dial tcp 10.0.0.3:10250: connect: connection refused)\n',
    );
    assert.ok(
      api.asked.includes(
        '/api/v1/namespaces/team/pods?labelSelector=app.kubernetes.io%2Fname%3Dmapper%2Capp.kubernetes.io%2Finstance%3Ddemo',
      ),
      api.asked.join('\n'),
    );
    assert.ok(
      api.asked.includes(
        '/api/v1/namespaces/team/pods/demo-mapper-a/log?container=mapper&timestamps=true&sinceSeconds=600&tailLines=5',
      ),
      api.asked.join('\n'),
    );
  });

  it('-f prints the lines of every Pod as they come until Ctrl-C, then exits 130', async () => {
    const api = await fakeApi();
    const ctx = captureContext(api.dir);
    const code = run(['logs', 'mapper', '-f', '--kubeconfig', api.kubeconfig, '-o', 'json'], ctx);
    const seen = () =>
      ctx
        .out()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { instance: string; msg: string });
    const deadline = Date.now() + 5000;
    while (seen().length < 6 && Date.now() < deadline) await sleep(20);
    assert.deepEqual(
      seen().map((l) => `${l.instance} ${l.msg}`),
      [
        'demo-mapper-a a1',
        'demo-mapper-b b2',
        'demo-mapper-a a3',
        'demo-mapper-b b4',
        'demo-mapper-a a10',
        'demo-mapper-b b11',
      ],
    );
    assert.match(ctx.err(), /^warning: demo-mapper-c: logs unavailable: the node n3 serves no logs/m);
    assert.ok(
      api.asked.some((a) => a.startsWith('/api/v1/namespaces/team/pods?') && a.includes('watch=true')),
    );
    ctx.signal('SIGINT');
    assert.equal(await code, 130);
  });
});
