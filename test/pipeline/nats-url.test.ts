// spec.nats.url by the one NATS URL rule (lib/nats/url.ts), as the API server applies the CRD's
// CEL: what the CLI and the workloads take, it takes; what they refuse, it refuses, naming the field.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cluster, manifest } from '../controller/support.ts';

describe('spec.nats.url in the API server', { timeout: 60_000 }, () => {
  test('takes host:port and URL lists; refuses websockets and HTTP with the rule', async (t) => {
    const ns = await cluster.newNamespace(t, 'nats-url');
    const taken = ['nats://nats:4222', 'nats.infra.svc:4222', 'tls://a:4222, 10.0.0.7:4222'];
    for (const [i, url] of taken.entries()) {
      await cluster.kubectl(['apply', '-n', ns, '-f', '-'], {
        input: manifest(`ok-${i}`, { nats: { url } }),
      });
    }
    for (const url of ['ws://nats:8080', 'http://nats:8222', 'nats://a:4222,']) {
      const res = await cluster.kubectl(['apply', '-n', ns, '-f', '-'], {
        input: manifest('bad', { nats: { url } }),
        allowFailure: true,
      });
      assert.notEqual(res.exitCode, 0, `accepted ${url}`);
      assert.match(
        res.stderr,
        /spec\.nats\.url: Invalid value: .*must be nats:\/\/HOST:PORT, tls:\/\/HOST:PORT or HOST:PORT, several separated by commas/,
      );
    }
    const { stdout } = await cluster.kubectl(['get', 'pipelines', '-n', ns, '-o', 'name']);
    assert.deepEqual(
      stdout.trim().split('\n').sort(),
      taken.map((_, i) => `pipeline.dwk.dev/ok-${i}`),
    );
  });
});
