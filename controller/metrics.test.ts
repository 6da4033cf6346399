import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createControllerMetrics } from './metrics.ts';

describe('controller metrics', () => {
  it("serves the client's Kubernetes API requests as a counter that follows its totals", async () => {
    const requests = new Map([['GET', 5]]);
    const m = createControllerMetrics(
      () => 0,
      () => requests,
    );
    const value = async (verb: string) => {
      const text = await m.registry.metrics();
      const found = new RegExp(
        `^dwk_controller_kube_requests_total\\{verb="${verb}"[^}]*\\} (\\d+)$`,
        'm',
      ).exec(text);
      return found ? Number(found[1]) : undefined;
    };
    assert.match(await m.registry.metrics(), /^# TYPE dwk_controller_kube_requests_total counter$/m);
    assert.equal(await value('GET'), 5);
    assert.equal(await value('GET'), 5, 'a second scrape adds nothing');
    requests.set('GET', 8);
    requests.set('WATCH', 1);
    assert.equal(await value('GET'), 8);
    assert.equal(await value('WATCH'), 1);
  });
});
