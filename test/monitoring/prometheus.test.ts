/**
 * The dashboard proven against a real Prometheus: a local pipeline (fetcher, mappers, saver,
 * broadcaster) and prometheus-nats-exporter are scraped, then every query of every panel is
 * evaluated through the HTTP API, with the variables resolved the way Grafana resolves them.
 * Also lints every workload's, the exporter's and the controller's /metrics with promtool.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findPromtool, startLocalPrometheus, type LocalPrometheus } from '../../cli/local/prometheus.ts';
import { createControllerMetrics } from '../../controller/metrics.ts';
import { publishTodoEvent, todoEventId, type TodoEvent } from '../../lib/events/todo.ts';
import { connectNats, type NatsConnection } from '../../lib/nats/connect.ts';
import { progressReader } from '../../lib/nats/progress.ts';
import { freePort, startNatsServer, type RunningNatsServer } from '../../lib/nats/server.ts';
import { TODOS, topology } from '../../lib/nats/topology.ts';
import {
  dashboardQueries,
  loadDashboard,
  parseLabelValues,
  queryVariables,
  substitute,
} from '../../monitoring/dashboard.ts';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { claimKey } from '../../workloads/broadcaster/claims.ts';
import { consumerReady } from '../broadcaster/support.ts';
import { startReceiver, type Receiver } from '../broadcaster/receiver.ts';
import { spec, tempDir, waitFor, workloadSet, type WorkloadSet } from '../support/workloads.ts';

const PIPELINE = 'mon-demo';
const TOKEN = 'mOnItOrInGsEcReT-0a1b2c3d';
const OBJECTS = 3000;
const BAD_EVERY = 500;

interface PromResult {
  metric: Record<string, string>;
}
async function promQuery(prom: LocalPrometheus, expr: string): Promise<PromResult[]> {
  const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: PromResult[] } };
  if (body.status !== 'success') throw new Error(`Prometheus rejected ${expr}: ${body.error}`);
  return body.data?.result ?? [];
}
async function labelValues(prom: LocalPrometheus, label: string, selector: string): Promise<string[]> {
  const q = selector ? `?match[]=${encodeURIComponent(selector)}` : '';
  const res = await fetch(`${prom.url}/api/v1/label/${label}/values${q}`);
  return ((await res.json()) as { data: string[] }).data;
}

/** promtool's findings, one per line. */
function promtool(text: string): string[] {
  const r = spawnSync(findPromtool(process.env), ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.ok(r.status === 0 || r.status === 3, `promtool failed: ${r.stderr}`); // 3: lint findings
  return `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
}

/** prom-client's default Node.js gauges carry a _total suffix; not ours to rename. */
const PROM_CLIENT_FINDINGS = [
  'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
];

describe('monitoring against a real Prometheus', { timeout: 300_000 }, () => {
  const dir = tempDir('monitoring');
  let nats: RunningNatsServer;
  let nc: NatsConnection;
  let prom: LocalPrometheus;
  let receiver: Receiver;
  let w: WorkloadSet;
  const ports = new Map<string, number>();

  before(async () => {
    nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    nc = await connectNats({ servers: nats.url, name: 'test', persistent: true });
    prom = await startLocalPrometheus({
      dir: join(dir, 'prometheus'),
      natsMonitorUrl: nats.monitorUrl,
      env: process.env,
      scrapeInterval: '1s',
    });
    // Every 429, 400 and 500 makes one broadcaster outcome; the rest are delivered.
    const answers = [{ status: 429, headers: { 'retry-after': '1' } }, { status: 400 }, { status: 500 }];
    receiver = await startReceiver({ type: 'generic', token: TOKEN, script: (_t, n) => answers[n - 1] });
    const lines = Array.from({ length: OBJECTS }, (_, i) =>
      i % BAD_EVERY === BAD_EVERY - 1
        ? `{"id": ${i}, "first": "cut off`
        : JSON.stringify({ id: i, first: `F${i}`, last: `L${i}`, friends: [] }),
    );
    const source = join(dir, 'source.ndjson');
    writeFileSync(source, `${lines.join('\n')}\n`);
    const s = spec({
      source: { url: source },
      chunkSize: 100,
      mapper: { work: { waitMs: { min: 20, max: 60 } } },
      saver: { sink: { path: join(dir, 'sink.jsonl') } },
      broadcaster: { subjects: ['todos.>'], target: { type: 'generic', urlFromEnv: 'HOOK' } },
    });
    w = workloadSet(PIPELINE, s, nats.url, dir);
    const start = async (component: 'fetcher' | 'mapper' | 'saver' | 'broadcaster', instance: string) => {
      const port = await freePort();
      ports.set(instance, port);
      w.start(component, instance, {
        DWK_HTTP_PORT: String(port),
        ...(component === 'broadcaster' ? { DWK_TARGET_URL: receiver.secret } : {}),
      });
    };
    await start('broadcaster', 'broadcaster-0');
    await start('fetcher', 'fetcher-0');
    await start('mapper', 'mapper-0');
    await start('mapper', 'mapper-1');
    await start('saver', 'saver-0');
    await prom.setTargets(
      [...ports].map(([instance, port]) => ({ instance, component: instance.split('-')[0] ?? '', port })),
    );
    await consumerReady(nc, PIPELINE, TODOS.stream);
    const js = jetstream(nc);
    // An event some earlier delivery already sent (its claim settled): skipped as a duplicate.
    const sentBefore: TodoEvent = {
      id: 'todo-sent',
      title: 'sent',
      done: false,
      action: 'created',
      at: '2026-01-01T00:00:00Z',
    };
    const bucket = topology(PIPELINE).buckets.claims;
    const jsm = await jetstreamManager(nc);
    await waitFor('the claims bucket', () => jsm.streams.info(`KV_${bucket}`).then(() => true));
    const claims = await new Kvm(nc).open(bucket);
    await claims.put(
      claimKey(todoEventId(sentBefore)),
      JSON.stringify({
        state: 'sent',
        owner: 'earlier',
        claim: 'c',
        eventId: todoEventId(sentBefore),
        stream: TODOS.stream,
        seq: 0,
        at: sentBefore.at,
      }),
    );
    await publishTodoEvent(js, sentBefore);
    for (let i = 0; i < 6; i++) {
      await publishTodoEvent(js, {
        id: `todo-${i}`,
        title: `item ${i}`,
        done: false,
        action: 'created',
        at: '2026-01-01T00:00:00Z',
      });
    }
    const reader = await progressReader(nc, PIPELINE);
    await waitFor(
      'every chunk saved',
      async () => ((await reader.read()).progress.chunksSaved === OBJECTS / 100 ? true : undefined),
      120_000,
    );
    await waitFor(
      'the broadcaster to finish',
      () => (receiver.requests.length >= 6 ? true : undefined),
      60_000,
    );
  });

  after(async () => {
    await w?.stopAll();
    await prom?.stop();
    await receiver?.close();
    await nc?.close();
    await nats?.stop();
  });

  it('returns series for every query of the dashboard', async () => {
    const d = loadDashboard();
    const values: Record<string, string> = { __rate_interval: '1m', __interval: '15s' };
    for (const v of queryVariables(d)) {
      const lv = parseLabelValues(v.query);
      assert.ok(lv, `variable ${v.name}: unsupported query ${v.query}`);
      const found = await waitFor(
        `values of $${v.name}`,
        async () => {
          const got = await labelValues(prom, lv.label, substitute(lv.selector, values));
          return got.length > 0 ? got : undefined;
        },
        60_000,
      );
      values[v.name] = v.name === 'pipeline' ? PIPELINE : (found[0] ?? '');
      assert.ok(found.includes(values[v.name] ?? ''), `$${v.name} offers ${found.join(', ')}`);
    }
    assert.equal(values.streams, 'DWK_MON_DEMO');
    const queries = dashboardQueries(d).map((q) => ({ ...q, expr: substitute(q.expr, values) }));
    assert.ok(queries.length >= 30, `only ${queries.length} queries`);
    // Rates need two scrapes after the work; give Prometheus time, then name every empty query.
    let empty: string[] = [];
    await waitFor(
      'every dashboard query to return a series',
      async () => {
        empty = [];
        for (const q of queries) {
          if ((await promQuery(prom, q.expr)).length === 0) empty.push(`${q.panel} [${q.refId}]: ${q.expr}`);
        }
        return empty.length === 0 ? true : undefined;
      },
      60_000,
    ).catch(() => undefined);
    assert.deepEqual(empty, [], `queries without series:\n${empty.join('\n')}`);
    // The figures behind them are the run's real ones, not just present.
    const saved = await promQuery(
      prom,
      `max(nats_stream_total_messages{stream_name="KV_DWK_MON_DEMO_SAVED"})`,
    );
    assert.equal((saved[0] as unknown as { value: [number, string] }).value[1], String(OBJECTS / 100));
    const dead = await promQuery(prom, `sum(dwk_dead_letter_total{pipeline="${PIPELINE}"})`);
    assert.equal((dead[0] as unknown as { value: [number, string] }).value[1], String(OBJECTS / BAD_EVERY));
    const replicas = await promQuery(
      prom,
      `count by (component) (dwk_pipeline_info{pipeline="${PIPELINE}"})`,
    );
    assert.deepEqual(
      Object.fromEntries(
        replicas.map((r) => [r.metric.component, (r as unknown as { value: [number, string] }).value[1]]),
      ),
      { broadcaster: '1', fetcher: '1', mapper: '2', saver: '1' },
    );
  });

  it('passes promtool check metrics for every workload and the controller (prom-client defaults aside)', async () => {
    const texts: Array<[string, string]> = [];
    for (const [instance, port] of ports) {
      texts.push([instance, await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()]);
    }
    const controller = createControllerMetrics(
      () => 3,
      () => new Map([['get', 5]]),
    );
    controller.reconciles.inc({ result: 'success' });
    texts.push(['controller', await controller.registry.metrics()]);
    for (const [what, text] of texts) {
      assert.match(text, /^dwk_/m, `${what} serves no dwk_ metric`);
      const findings = promtool(text);
      assert.deepEqual(
        findings.filter((f) => !PROM_CLIENT_FINDINGS.includes(f)),
        [],
        `promtool on ${what}`,
      );
      // Guard the filter itself: it must not hide a finding about a dwk_ metric.
      assert.ok(findings.every((f) => !f.startsWith('dwk_')));
    }
    // The exporter is upstream code: lint it too, and record what promtool says about it.
    const exporterFindings = promtool(await (await fetch(prom.exporterUrl)).text());
    console.log(
      `promtool on prometheus-nats-exporter: ${exporterFindings.length} findings`,
      exporterFindings,
    );
  });
});
