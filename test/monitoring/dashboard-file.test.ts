import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dashboardQueries,
  loadDashboard,
  parseLabelValues,
  queryVariables,
  substitute,
} from '../../monitoring/dashboard.ts';
import { topology } from '../../lib/nats/topology.ts';

describe('the pipeline dashboard', () => {
  const d = loadDashboard();

  it('has queries for every section the issue lists', () => {
    const titles = new Set(dashboardQueries(d).map((q) => q.panel));
    for (const wanted of [
      'Chunks per second by stage',
      'ETA at the current saving rate',
      'Lag per stage (messages not yet delivered)',
      'Dead letters',
      'Replicas (processes serving metrics)',
      'Broadcaster outcomes per second',
      'Messages in / out per second',
      'Slow consumers',
      'JetStream storage used',
    ]) {
      assert.ok(titles.has(wanted), `no panel "${wanted}"`);
    }
  });

  it('never queries the old gnatsd_ names, and gives every panel a unique refId per query', () => {
    const queries = dashboardQueries(d);
    assert.ok(queries.length > 20);
    assert.deepEqual(
      queries.filter((q) => q.expr.includes('gnatsd_')),
      [],
    );
    const keys = queries.map((q) => `${q.panel}/${q.refId}`);
    assert.equal(new Set(keys).size, keys.length);
  });

  it("shows the lag of every stage's consumer, the broadcaster's on whatever stream holds its subjects", () => {
    const lag = dashboardQueries(d)
      .filter((q) => q.panel.startsWith('Lag per stage'))
      .map((q) => q.expr);
    for (const stream of ['CHUNKS', 'RESULTS']) {
      assert.ok(
        lag.some((q) => q.includes(stream)),
        `no ${stream} consumer`,
      );
    }
    // The broadcaster makes a consumer on any stream that stores its subjects: select by consumer only.
    const broadcaster = lag.filter((q) => q.includes('broadcaster'));
    assert.equal(broadcaster.length, 2, 'pending and awaiting ack');
    for (const q of broadcaster) {
      const selectors = [...q.matchAll(/\{([^}]*)\}/g)].map(([, inside]) => inside);
      assert.deepEqual(selectors, [`consumer_name="${topology('$pipeline').consumers.broadcaster}"`], q);
    }
  });

  it('measures progress and ETA against the size of the source, once the fetcher knows it', () => {
    for (const panel of ['Progress', 'ETA']) {
      const q = dashboardQueries(d).find((x) => x.panel.startsWith(panel));
      assert.ok(q?.expr.includes('dwk_source_chunks_expected'), `${panel}: ${q?.expr}`);
    }
  });

  it('counts a dead-lettered chunk as done in progress and ETA, in both the whole-source and the fallback query', () => {
    const deadLettered = '(max(dwk_source_chunks_dead_lettered{pipeline="$pipeline"}) or vector(0))';
    for (const panel of ['Progress', 'ETA']) {
      const q = dashboardQueries(d).find((x) => x.panel.startsWith(panel));
      assert.equal(q?.expr.split(deadLettered).length, panel === 'ETA' ? 5 : 3, `${panel}: ${q?.expr}`);
    }
  });

  it('resolves its variables in order with label_values', () => {
    assert.deepEqual(
      queryVariables(d).map((v) => [v.name, parseLabelValues(v.query)]),
      [
        ['pipeline', { selector: 'dwk_pipeline_info', label: 'pipeline' }],
        ['streams', { selector: 'dwk_pipeline_info{pipeline="$pipeline"}', label: 'stream_prefix' }],
      ],
    );
  });

  it('substitutes $name and ${name} the way Grafana does, leaving unknown ones alone', () => {
    assert.equal(
      substitute('a{p="$pipeline",s=~"${streams}_X"}[$__rate_interval] $other', {
        pipeline: 'demo',
        streams: 'DWK_DEMO',
        __rate_interval: '1m',
      }),
      'a{p="demo",s=~"DWK_DEMO_X"}[1m] $other',
    );
  });
});
