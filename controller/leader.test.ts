import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient, KubeObject } from '../lib/kube/client.ts';
import { createLogger } from '../lib/log.ts';
import { LeaderElector } from './leader.ts';

interface LeaseSpec {
  holderIdentity?: string;
}

/**
 * A Lease API in memory. `hangRenewal` makes the first renewal's PUT never answer, as a request
 * to an API server that stopped responding waits for its 30 s timeout.
 */
function leaseApi(hangRenewal: boolean) {
  let lease: (KubeObject & { spec?: LeaseSpec }) | undefined;
  let rv = 0;
  const puts: LeaseSpec[] = [];
  const store = (body: KubeObject & { spec?: LeaseSpec }) => {
    lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
    return Promise.resolve(lease);
  };
  const client = {
    getOrUndefined: () => Promise.resolve(lease),
    request: (method: string, _path: string, body: KubeObject & { spec?: LeaseSpec }) => {
      if (method === 'POST') return store(body);
      puts.push({ ...body.spec });
      if (hangRenewal && puts.length === 1) return new Promise(() => undefined);
      return store(body);
    },
  } as unknown as KubeClient;
  return { client, puts, holder: () => lease?.spec?.holderIdentity };
}

const elector = (client: KubeClient) =>
  new LeaderElector({
    client,
    namespace: 'dwk-system',
    name: 'dwk-controller',
    identity: 'me',
    log: createLogger({ level: 'silent' }),
    retryPeriodMs: 20,
    renewDeadlineMs: 60_000, // the hung renewal must not make it step down during the test
    releaseTimeoutMs: 200,
  });

describe('the leader elector', () => {
  it('releases the lease on shutdown without waiting out a renewal that hangs', async () => {
    const api = leaseApi(true);
    const stop = new AbortController();
    const running = elector(api.client).run(stop.signal, async (lost) => {
      await sleep(100); // a renewal is in flight (and hangs) by now
      stop.abort();
      assert.ok(lost.aborted, 'shutdown aborts the lead');
    });
    const outcome = await Promise.race([running.then(() => 'returned'), sleep(2_000, 'hung')]);
    assert.equal(outcome, 'returned');
    assert.equal(api.puts.length, 2, 'a renewal, then the release');
    assert.equal(api.holder(), '');
  });

  it('releases the lease when leading fails, and passes the error on', async () => {
    const api = leaseApi(false);
    const run = elector(api.client).run(new AbortController().signal, () =>
      Promise.reject(new Error('the caches did not sync')),
    );
    await assert.rejects(run, /the caches did not sync/);
    assert.equal(api.holder(), '');
  });
});
