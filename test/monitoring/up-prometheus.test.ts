/** `dwk up --local --prometheus` through the real CLI: its Prometheus scrapes every workload and NATS. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dwk, processesUnder, projectDir, startUp, waitFor, writePipeline } from '../local/helpers.ts';

const query = async (url: string, expr: string) => {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (
    (await res.json()) as {
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    }
  ).data.result;
};

describe('dwk up --local --prometheus', { timeout: 180_000 }, () => {
  it('prints a Prometheus URL that scrapes each workload instance and the NATS exporter, follows a scale, and stops with the run', async () => {
    const dir = projectDir('up-prom');
    const file = writePipeline(dir, 'promdemo', {
      source: { generate: { objects: 200_000 } },
      mapper: { replicas: 2, work: { waitMs: { min: 20, max: 40 } } },
    });
    const up = startUp(dir, '-f', file, '--prometheus');
    let stdout = '';
    up.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    try {
      const url = await waitFor(
        'the Prometheus URL',
        () => /Prometheus: (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1],
      );
      const replicas = async (): Promise<Record<string, string>> =>
        Object.fromEntries(
          (await query(url, 'count by (component) (dwk_pipeline_info{pipeline="promdemo"})')).map(
            (r): [string, string] => [r.metric.component ?? '', r.value[1]],
          ),
        );
      assert.deepEqual(
        await waitFor('every instance scraped', async () => {
          const r = await replicas();
          return r.mapper === '2' && r.fetcher && r.saver ? r : undefined;
        }),
        { fetcher: '1', mapper: '2', saver: '1' },
      );
      const nats = await waitFor('NATS metrics', async () => {
        const r = await query(url, 'nats_varz_connections');
        return r.length ? r : undefined;
      });
      assert.equal(nats[0]?.metric.job, 'nats');
      // A new instance on a new port becomes a target without restarting Prometheus.
      const scaled = await dwk(dir, 'scale', 'mapper', '3', '--local');
      assert.equal(scaled.code, 0, scaled.stderr);
      await waitFor('the third mapper scraped', async () =>
        (await replicas()).mapper === '3' ? true : undefined,
      );
      assert.equal((await dwk(dir, 'down', '--local')).code, 0);
      const result = await up;
      assert.equal(result.exitCode, 0, result.stderr);
      assert.doesNotMatch(result.stderr, /prometheus targets/);
      await assert.rejects(fetch(`${url}/-/ready`));
      assert.deepEqual(
        processesUnder(dir).filter((p) => /prometheus/.test(p.cmd)),
        [],
      );
    } finally {
      up.kill('SIGKILL');
    }
  });
});
