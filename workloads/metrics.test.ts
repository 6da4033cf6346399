import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, METRIC_ROLES } from './metrics.ts';

const ROLES = ['fetcher', 'mapper', 'saver', 'broadcaster'] as const;

const dwkNames = async (role: string) =>
  (await createMetrics({ pipeline: 'demo-1', component: role }).registry.getMetricsAsJSON())
    .map((m) => m.name)
    .filter((n) => n.startsWith('dwk_'))
    .sort();

describe('workload metrics', () => {
  it('lists every dwk_ metric in METRIC_ROLES, so none is exposed by accident', async () => {
    const all = createMetrics({ pipeline: 'demo', component: 'none' });
    // With an unknown role every listed metric is removed: whatever is left is unlisted.
    const left = (await all.registry.getMetricsAsJSON())
      .map((m) => m.name)
      .filter((n) => n.startsWith('dwk_'));
    assert.deepEqual(left, []);
    const served = new Set((await Promise.all(ROLES.map(dwkNames))).flat());
    assert.deepEqual([...served].sort(), Object.keys(METRIC_ROLES).sort());
  });

  it('serves each role only its own metrics', async () => {
    assert.deepEqual(await dwkNames('fetcher'), [
      'dwk_chunks_duplicate_total',
      'dwk_chunks_published_total',
      'dwk_fetcher_leader',
      'dwk_objects_published_total',
      'dwk_pipeline_info',
      'dwk_source_chunks_dead_lettered',
      'dwk_source_chunks_expected',
    ]);
    const saver = await dwkNames('saver');
    assert.ok(saver.includes('dwk_chunks_saved_total'));
    assert.ok(!saver.includes('dwk_chunks_published_total'));
    assert.ok(!saver.includes('dwk_broadcast_delivered_total'));
    const broadcaster = await dwkNames('broadcaster');
    assert.ok(broadcaster.includes('dwk_broadcast_delivered_total'));
    assert.ok(!broadcaster.includes('dwk_stage_duration_seconds'));
  });

  it('labels every series with pipeline and component, and names the stream prefix', async () => {
    const m = createMetrics({ pipeline: 'demo-1', component: 'mapper' });
    m.chunksMapped.inc();
    const text = await m.registry.metrics();
    assert.match(text, /^dwk_chunks_mapped_total\{pipeline="demo-1",component="mapper"\} 1$/m);
    assert.match(
      text,
      /^dwk_pipeline_info\{stream_prefix="DWK_DEMO_1",pipeline="demo-1",component="mapper"\} 1$/m,
    );
  });

  it('still counts into a metric its role does not serve', () => {
    const m = createMetrics({ pipeline: 'demo', component: 'fetcher' });
    assert.doesNotThrow(() => m.chunksSaved.inc());
  });
});
