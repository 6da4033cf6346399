/**
 * The dashboard proven against a real Prometheus: a local pipeline (fetcher, mappers, saver,
 * broadcaster) and prometheus-nats-exporter are scraped, then every query of every panel is
 * evaluated through the HTTP API, with the variables resolved the way Grafana resolves them.
 * Also: no broadcaster secret in any /metrics or stored label, and promtool on every workload's,
 * the exporter's and the controller's /metrics, with a sample of every dwk_ metric.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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
  type DashboardQuery,
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
const CHUNKS = OBJECTS / 100;
const BAD_EVERY = 500;
/** A stream of no pipeline that also stores a subject the broadcaster reads: its lag must show too. */
const OTHER_STREAM = 'MON_OTHER';
const OTHER_SUBJECTS = 'monitor.other.>';

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}
type Evaluation = { series: PromResult[] } | { error: string };

/** One instant query; Prometheus's rejection (or an unreachable Prometheus) is a value, not a throw. */
async function evaluate(prom: LocalPrometheus, expr: string): Promise<Evaluation> {
  try {
    const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as {
      status: string;
      errorType?: string;
      error?: string;
      data?: { result: PromResult[] };
    };
    if (body.status !== 'success') return { error: `${body.errorType ?? res.status}: ${body.error}` };
    return { series: body.data?.result ?? [] };
  } catch (err) {
    return { error: `no answer: ${(err as Error).message}` };
  }
}
async function promQuery(prom: LocalPrometheus, expr: string): Promise<PromResult[]> {
  const r = await evaluate(prom, expr);
  if ('error' in r) throw new Error(`Prometheus rejected ${expr}: ${r.error}`);
  return r.series;
}
async function labelValues(prom: LocalPrometheus, label: string, selector: string): Promise<string[]> {
  const q = selector ? `?match[]=${encodeURIComponent(selector)}` : '';
  const res = await fetch(`${prom.url}/api/v1/label/${label}/values${q}`);
  return ((await res.json()) as { data: string[] }).data;
}

/**
 * Every query that fails: a `$` left after substitution, rejected by Prometheus (with its error),
 * or still without a series when `timeoutMs` is up. Empty queries are asked again (rates need two
 * scrapes after the work); a rejected one is not, and never stops the others being checked.
 */
async function failingQueries(
  prom: LocalPrometheus,
  queries: DashboardQuery[],
  timeoutMs: number,
): Promise<string[]> {
  const name = (q: DashboardQuery) => `${q.panel} [${q.refId}]: ${q.expr}`;
  const failures = queries
    .filter((q) => q.expr.includes('$'))
    .map((q) => `unresolved variable in ${name(q)}`);
  let empty = queries.filter((q) => !q.expr.includes('$'));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stillEmpty: DashboardQuery[] = [];
    for (const q of empty) {
      const r = await evaluate(prom, q.expr);
      if ('error' in r) failures.push(`rejected ${name(q)}\n    ${r.error}`);
      else if (r.series.length === 0) stillEmpty.push(q);
    }
    empty = stillEmpty;
    if (empty.length === 0 || Date.now() >= deadline) break;
    await sleep(1000);
  }
  return [...failures, ...empty.map((q) => `no series from ${name(q)}`)];
}

/** Each dwk_ metric of a /metrics text, and whether it has a sample (promtool checks the labels only of those). */
function dwkMetrics(text: string): Map<string, boolean> {
  const samples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  return new Map(
    [...text.matchAll(/^# TYPE (dwk_\w+) (\w+)$/gm)].map(([, name = '', type]) => {
      const names = type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
      return [name, samples.some((l) => names.some((n) => l.startsWith(`${n}{`) || l.startsWith(`${n} `)))];
    }),
  );
}
const unsampled = (text: string) => [...dwkMetrics(text)].filter(([, sampled]) => !sampled).map(([n]) => n);

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

function assertLintClean(what: string, text: string): void {
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
      // maxDeliver 1: the chunk a killed mapper held is dead-lettered at its next delivery.
      mapper: { maxDeliver: 1, ackWaitSeconds: 2, work: { waitMs: { min: 20, max: 60 } } },
      saver: { sink: { path: join(dir, 'sink.jsonl') } },
      broadcaster: {
        subjects: ['todos.>', OTHER_SUBJECTS],
        target: { type: 'generic', urlFromEnv: 'HOOK' },
      },
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
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: OTHER_STREAM, subjects: [OTHER_SUBJECTS] });
    await start('broadcaster', 'broadcaster-0');
    await start('fetcher', 'fetcher-0');
    await start('saver', 'saver-0');
    // A mapper that dies holding the first chunk: that chunk is dead-lettered, not saved. It is
    // not a Prometheus target (it is gone before the first scrape).
    const reader = await progressReader(nc, PIPELINE);
    const doomed = w.start('mapper', 'mapper-doomed', {
      DWK_MAPPER_CONCURRENCY: '1',
      DWK_WORK_WAIT_MIN_MS: '600000',
      DWK_WORK_WAIT_MAX_MS: '600000',
    });
    await waitFor('the doomed mapper to hold a chunk', async () =>
      ((await reader.read()).lag.mapper?.ackPending ?? 0) === 1 ? true : undefined,
    );
    await w.kill(doomed);
    await start('mapper', 'mapper-0');
    await start('mapper', 'mapper-1');
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
    await waitFor(
      'every chunk saved or dead-lettered',
      async () => {
        const { progress } = await reader.read();
        return progress.chunksSaved + progress.chunksDeadLettered === CHUNKS ? true : undefined;
      },
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
    const failures = await failingQueries(prom, queries, 60_000);
    assert.deepEqual(
      failures,
      [],
      `${failures.length} of ${queries.length} queries fail:\n${failures.join('\n')}`,
    );

    const query = (panel: string, refId: string) => {
      const q = queries.find((x) => x.panel.startsWith(panel) && x.refId === refId);
      assert.ok(q, `no query ${panel} [${refId}]`);
      return q.expr;
    };
    const only = async (expr: string) => {
      const r = await promQuery(prom, expr);
      assert.equal(r.length, 1, `${expr}: ${JSON.stringify(r)}`);
      return r[0] as PromResult;
    };
    // The figures behind them are the run's real ones, not just present. The leading fetcher
    // counts dead-lettered chunks when the setup saw them: allow Prometheus a scrape or two.
    await waitFor('Prometheus to have scraped the dead-lettered chunk', async () =>
      (await promQuery(prom, query('Chunks saved', 'D')))[0]?.value[1] === '1' ? true : undefined,
    );
    const saved = await only(`max(nats_stream_total_messages{stream_name="KV_DWK_MON_DEMO_SAVED"})`);
    assert.equal(saved.value[1], String(CHUNKS - 1));
    const dead = await promQuery(prom, `sum by (kind) (dwk_dead_letter_total{pipeline="${PIPELINE}"})`);
    assert.deepEqual(Object.fromEntries(dead.map((r) => [r.metric.kind, r.value[1]])), {
      chunk: '1',
      object: String(OBJECTS / BAD_EVERY),
    });
    const replicas = await promQuery(
      prom,
      `count by (component) (dwk_pipeline_info{pipeline="${PIPELINE}"})`,
    );
    assert.deepEqual(Object.fromEntries(replicas.map((r) => [r.metric.component, r.value[1]])), {
      broadcaster: '1',
      fetcher: '1',
      mapper: '2',
      saver: '1',
    });
    // Progress is measured against the whole source once the fetcher knows its size (here: read
    // to its end), and against what is published so far, labelled so, while it does not.
    // A dead-lettered chunk is done too (as `dwk up --exit-when-done` counts it): progress reaches
    // 100 % and the ETA 0, not 29/30 and +Inf.
    assert.equal((await only(query('Chunks saved', 'C'))).value[1], String(CHUNKS));
    assert.equal((await only(query('Chunks saved', 'D'))).value[1], '1');
    const progress = await only(query('Progress', 'A'));
    assert.deepEqual([progress.metric.basis, progress.value[1]], ['of the whole source', '1']);
    const eta = await only(query('ETA', 'A'));
    assert.deepEqual([eta.metric.basis, eta.value[1]], ['for the whole source', '0']);
    // The ETA is remaining chunks / saving rate, 0 when done even at a rate of 0 (no such counter
    // here), and no value, not +Inf, while chunks are left at a rate of 0 (here: 5 more in the source).
    const savingRate = `sum(rate(dwk_chunks_saved_total{pipeline="${PIPELINE}"}[5m]))`;
    const atRate = (rate: string, expr: string) => expr.replaceAll(savingRate, rate);
    const fiveMore = (expr: string) =>
      expr.replaceAll(
        `max(dwk_source_chunks_expected{pipeline="${PIPELINE}"})`,
        `(max(dwk_source_chunks_expected{pipeline="${PIPELINE}"}) + 5)`,
      );
    assert.ok(query('ETA', 'A').includes(savingRate));
    assert.equal((await only(atRate('sum(dwk_no_such_metric)', query('ETA', 'A')))).value[1], '0');
    assert.deepEqual(
      await promQuery(prom, atRate('sum(dwk_no_such_metric)', fiveMore(query('ETA', 'A')))),
      [],
    );
    assert.equal((await only(atRate('vector(2)', fiveMore(query('ETA', 'A'))))).value[1], '2.5');
    const unknownTotal = (panel: string) =>
      query(panel, 'A').replaceAll('dwk_source_chunks_expected', 'dwk_no_such_metric');
    const fallbackProgress = await only(unknownTotal('Progress'));
    assert.deepEqual(
      [fallbackProgress.metric.basis, fallbackProgress.value[1]],
      ['of the chunks published so far (size of the source not known yet)', '1'],
    );
    const fallbackEta = await only(unknownTotal('ETA'));
    assert.deepEqual(
      [fallbackEta.metric.basis, fallbackEta.value[1]],
      ['at least (size of the source not known yet)', '0'],
    );
    // The broadcaster's lag is its consumer on every stream that stores its subjects.
    const broadcaster = topology(PIPELINE).consumers.broadcaster;
    const broadcasterLag = await promQuery(prom, query('Lag per stage', 'C'));
    assert.deepEqual(broadcasterLag.map((r) => `${r.metric.stream_name} ${r.metric.consumer_name}`).sort(), [
      `${TODOS.stream} ${broadcaster}`,
      `${OTHER_STREAM} ${broadcaster}`,
    ]);
  });

  it("keeps the broadcaster target's token and URL out of every /metrics and every label Prometheus stored", async () => {
    const target = new URL(receiver.secret);
    const secrets = [TOKEN, receiver.secret, `${target.host}${target.pathname}`];
    assert.ok(receiver.secret.includes(TOKEN), 'the broadcaster was given the token');
    for (const [instance, port] of ports) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(text, /^dwk_pipeline_info\{/m, `${instance} served its metrics`);
      for (const secret of secrets)
        assert.ok(!text.includes(secret), `${instance}'s /metrics holds ${secret}`);
    }
    const broadcaster = await (await fetch(`http://127.0.0.1:${ports.get('broadcaster-0')}/metrics`)).text();
    assert.match(broadcaster, /^dwk_broadcast_delivered_total\{target="generic",.*\} [1-9]/m);
    // Run alone, this test may come before Prometheus's first scrapes: wait until it has them all.
    const names = await waitFor('Prometheus to have scraped every instance and a target label', async () => {
      const stored = ((await (await fetch(`${prom.url}/api/v1/labels`)).json()) as { data: string[] }).data;
      const instances = await labelValues(prom, 'instance', '');
      return stored.includes('target') && [...ports.keys()].every((i) => instances.includes(i))
        ? stored
        : undefined;
    });
    let checked = 0;
    for (const name of names) {
      for (const value of await labelValues(prom, name, '')) {
        checked++;
        for (const secret of secrets)
          assert.ok(!value.includes(secret), `label ${name}="${value}" holds ${secret}`);
      }
    }
    assert.ok(checked > 100, `only ${checked} label values`);
  });

  it('passes promtool check metrics for every workload, and serves a sample of every dwk_ metric', async () => {
    const scrapeAll = () =>
      Promise.all(
        [...ports].map(async ([instance, port]) => {
          const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return [instance, text] as const;
        }),
      );
    // A labelled metric without a sample lints only its HELP and TYPE: across the run every dwk_
    // metric must have one, so promtool sees each metric's labels. The broadcaster counts an
    // outcome just after the answer the setup waited for: allow it a few scrapes.
    const neverSampled = (texts: ReadonlyArray<readonly [string, string]>) => {
      const all = texts.map(([, text]) => dwkMetrics(text));
      const names = new Set(all.flatMap((m) => [...m.keys()]));
      return [...names].filter((n) => !all.some((m) => m.get(n) === true));
    };
    let texts = await scrapeAll();
    for (const deadline = Date.now() + 20_000; neverSampled(texts).length > 0 && Date.now() < deadline;) {
      await sleep(500);
      texts = await scrapeAll();
    }
    assert.deepEqual(neverSampled(texts), []);
    assert.ok(dwkMetrics(texts.map(([, t]) => t).join('\n')).size >= 20, 'too few dwk_ metrics found');
    for (const [what, text] of texts) assertLintClean(what, text);
    // The exporter is upstream code: lint it too, and record what promtool says about it.
    const exporterFindings = promtool(await (await fetch(prom.exporterUrl)).text());
    console.log(
      `promtool on prometheus-nats-exporter: ${exporterFindings.length} findings`,
      exporterFindings,
    );
  });
});

describe('the controller metrics', () => {
  it('pass promtool check metrics with a sample of every metric, each label included', async () => {
    const requests = new Map([
      ['GET', 5],
      ['WATCH', 2],
    ]);
    const controller = createControllerMetrics(
      () => 3,
      () => requests,
    );
    for (const result of ['success', 'requeue', 'conflict', 'error']) controller.reconciles.inc({ result });
    controller.reconcileDuration.observe(0.02);
    controller.applies.inc({ kind: 'Deployment' });
    controller.statusWrites.inc();
    controller.leader.set(1);
    const text = await controller.registry.metrics();
    assert.deepEqual(unsampled(text), [], 'a controller metric without a sample: give it one above');
    assert.match(text, /^dwk_controller_kube_requests_total\{verb="GET",component="controller"\} 5$/m);
    assertLintClean('controller', text);
  });
});
