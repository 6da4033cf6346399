import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, type KubeClient } from '../lib/kube/client.ts';
import { createLogger } from '../lib/log.ts';
import { Informer, MonitoringInformers } from './informer.ts';

const log = createLogger({ level: 'silent' });
const resource = { apiVersion: 'v1', kind: 'Service', namespace: 'team' };

/** Resolves to 'pending' if `p` has not settled within `ms`. */
const settledWithin = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.then(() => 'settled'), sleep(ms, 'pending')]);

describe('the informer', () => {
  it('resolves a pending waitForSync on shutdown, so that nobody waits on a list that keeps failing', async () => {
    const client = {
      list: () => Promise.reject(new KubeApiError(403, 'services is forbidden')),
    } as unknown as KubeClient;
    const informer = new Informer({ client, resource, log, onChange: () => undefined });
    informer.start();
    const synced = informer.waitForSync();
    assert.equal(await settledWithin(synced, 50), 'pending', 'a failing list does not sync');
    informer.shutdown();
    assert.equal(await settledWithin(synced, 50), 'settled');
    assert.equal(informer.hasSynced(), false);
    assert.equal(await settledWithin(informer.waitForSync(), 50), 'settled', 'a later wait too');
  });

  it('backs off when the server closes every watch at once, instead of spinning', async () => {
    let watches = 0;
    const client = {
      list: () => Promise.resolve({ metadata: { resourceVersion: '1' }, items: [] }),
      // Ends at once, with no event (a proxy that cuts every watch); yields to the event loop.
      watch: async () => {
        watches++;
        await new Promise((resolve) => setImmediate(resolve));
      },
    } as unknown as KubeClient;
    const informer = new Informer({ client, resource, log, onChange: () => undefined });
    informer.start();
    await sleep(700);
    informer.shutdown();
    // 500 ms after the first, then 1 s, 2 s...: two watches in 700 ms, never hundreds.
    assert.ok(watches >= 1 && watches <= 3, `${watches} watches in 700 ms`);
  });

  it('resumes at once after a watch that lasted (the server ending it after timeoutSeconds)', async () => {
    let watches = 0;
    const client = {
      list: () => Promise.resolve({ metadata: { resourceVersion: '1' }, items: [] }),
      watch: async (_r: unknown, _rv: string, onEvent: (e: unknown) => void) => {
        watches++;
        onEvent({ type: 'BOOKMARK', object: { metadata: { resourceVersion: String(watches + 1) } } });
        await sleep(20);
      },
    } as unknown as KubeClient;
    const informer = new Informer({ client, resource, log, onChange: () => undefined });
    informer.start();
    await sleep(300);
    informer.shutdown();
    assert.ok(watches >= 5, `${watches} watches in 300 ms`);
  });
});

describe('the monitoring informers', () => {
  it('start no discovery timer when shut down while the first discovery ran', async () => {
    let discoveries = 0;
    let answer: () => void = () => undefined;
    const client = {
      request: () => {
        discoveries++;
        return new Promise((resolve) => (answer = () => resolve({ resources: [] })));
      },
    } as unknown as KubeClient;
    const monitoring = new MonitoringInformers({
      client,
      log,
      onOwnedChange: () => undefined,
      onObservationChange: () => undefined,
      discoveryIntervalMs: 10,
    });
    const started = monitoring.start();
    monitoring.shutdown();
    answer();
    await started;
    await sleep(100);
    assert.equal(discoveries, 1, 'discovery went on after shutdown');
  });
});
