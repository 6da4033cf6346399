// A controller whose caches cannot sync (its Service list refused): it still stops when told, hands
// its Lease back, and gives up after the cache sync timeout. Against the test bed.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { V1PolicyRule } from '@kubernetes/client-node';
import { readControllerConfig } from '../../controller/config.ts';
import { runController } from '../../controller/run.ts';
import type { KubeObject } from '../../lib/kube/client.ts';
import { createLogger } from '../../lib/log.ts';
import { tempDir } from '../support/workloads.ts';
import { eventually } from '../testbed/support.ts';
import {
  client,
  cluster,
  controllerProcess,
  installControllerRbac,
  serviceAccountKubeconfig,
} from './support.ts';

const withoutServiceReads = (rules: V1PolicyRule[]) =>
  rules.map((r) =>
    r.resources?.includes('services')
      ? { ...r, verbs: r.verbs.filter((v) => v !== 'list' && v !== 'watch') }
      : r,
  );

/** Namespaces for the Lease and the work, and a kubeconfig of a ServiceAccount that may not list Services. */
async function crippledController(t: TestContext, name: string) {
  const home = await cluster.newNamespace(t, `${name}-home`);
  const work = await cluster.newNamespace(t, `${name}-work`);
  await installControllerRbac(t, home, withoutServiceReads);
  const kubeconfig = await serviceAccountKubeconfig(home, tempDir(name));
  const holder = async () =>
    (
      await client.getOrUndefined<KubeObject & { spec?: { holderIdentity?: string } }>({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        namespace: home,
        name: 'dwk-controller',
      })
    )?.spec?.holderIdentity;
  return { home, work, kubeconfig, holder };
}

describe('a controller whose caches cannot sync', { timeout: 90_000 }, () => {
  test('exits at once on SIGTERM, releasing its Lease', async (t) => {
    const { home, work, kubeconfig, holder } = await crippledController(t, 'nosync');
    const child = controllerProcess(t, { kubeconfig, watch: work, lease: home, name: 'nosync-controller' });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually('the lead, and the Service list refused', () =>
      Promise.resolve(out.includes('Became the leader') && /services is forbidden/.test(out)),
    );
    assert.equal(await holder(), 'nosync-controller');
    assert.ok(!out.includes('Caches synced'), out);

    child.kill('SIGTERM');
    const stoppedAt = Date.now();
    const code = await exited;
    const took = Date.now() - stoppedAt;
    assert.equal(code, 0, out);
    assert.ok(took < 8_000, `it took ${took} ms to stop`);
    assert.equal(await holder(), '', 'the Lease released');
  });

  test('gives up after the cache sync timeout with the reason, releasing its Lease', async (t) => {
    const { home, work, kubeconfig, holder } = await crippledController(t, 'synctimeout');
    const config = readControllerConfig({
      KUBECONFIG: kubeconfig,
      DWK_WATCH_NAMESPACE: work,
      DWK_LEASE_NAMESPACE: home,
      POD_NAME: 'synctimeout-controller',
      DWK_HTTP_PORT: '0',
      DWK_HTTP_HOST: '127.0.0.1',
    });
    const stop = new AbortController();
    const running = await runController(config, stop.signal, createLogger({ level: 'silent' }), {
      cacheSyncTimeoutMs: 3_000,
    });
    t.after(() => stop.abort());
    const outcome = await Promise.race([
      running.done.then(
        () => 'resolved',
        (err: Error) => err.message,
      ),
      new Promise((resolve) => setTimeout(resolve, 20_000, 'still running after 20 s').unref()),
    ]);
    assert.match(String(outcome), /caches did not sync within 3 s \(Service: .*services is forbidden/);
    assert.equal(await holder(), '', 'the Lease released');
  });
});
