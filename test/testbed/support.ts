/**
 * What an integration test gets from the test bed: the shared control plane (started once per run by
 * global-setup.ts), a namespace of its own per test, and the pinned kubectl and helm.
 *
 *   const cluster = await testCluster();
 *   test('…', async (t) => { const ns = await cluster.newNamespace(t, 'scale'); … });
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after } from 'node:test';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { execa } from 'execa';
import { cacheDir } from '../../lib/nats/server.ts';
import { requireBinaries, type Binaries } from './binaries.ts';
import { startTestbed } from './harness.ts';

/** The variable global-setup.ts sets for the test processes. */
export const KUBECONFIG_ENV = 'DWK_TEST_KUBECONFIG';

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  /** Resolve with a non-zero exit code instead of throwing: for tests of rejections. */
  allowFailure?: boolean;
}

/** The part of node:test's TestContext we need: cleanup after the test. */
export interface AfterHook {
  after(fn: () => Promise<void>): void;
}

export interface TestCluster {
  kubeconfigPath: string;
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  binaries: Binaries;
  /** A fresh namespace, ready for Pods (its default ServiceAccount exists), deleted after the test. */
  newNamespace(t: AfterHook, prefix: string, labels?: Record<string, string>): Promise<string>;
  kubectl(args: string[], options?: RunOptions): Promise<CommandResult>;
  helm(args: string[], options?: RunOptions): Promise<CommandResult>;
}

/**
 * Connects to the run's control plane; when a file runs alone (no global setup), starts one for this
 * file and stops it after.
 */
export async function testCluster(env: NodeJS.ProcessEnv = process.env): Promise<TestCluster> {
  const binaries = requireBinaries(cacheDir(env));
  let kubeconfigPath = env[KUBECONFIG_ENV];
  if (!kubeconfigPath) {
    const bed = await startTestbed({ binaries });
    after(() => bed.stop());
    kubeconfigPath = bed.kubeconfigPath;
  }
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const helmHome = mkdtempSync(join(tmpdir(), 'dwk-helm-'));
  after(() => rmSync(helmHome, { recursive: true, force: true }));
  const toolEnv = {
    KUBECONFIG: kubeconfigPath,
    // helm keeps its cache and config away from the person's home.
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
  const run = async (bin: string, args: string[], options: RunOptions = {}): Promise<CommandResult> => {
    const res = await execa(bin, args, { env: toolEnv, input: options.input ?? '', reject: false });
    const result = { exitCode: res.exitCode ?? -1, stdout: res.stdout, stderr: res.stderr };
    if (result.exitCode !== 0 && !options.allowFailure) {
      throw new Error(`${bin} ${args.join(' ')} exited with ${result.exitCode}: ${result.stderr}`);
    }
    return result;
  };

  return {
    kubeconfigPath,
    kc,
    core,
    apps: kc.makeApiClient(AppsV1Api),
    binaries,
    async newNamespace(t, prefix, labels = {}) {
      const name = `${prefix
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')
        .slice(0, 50)}-${randomBytes(3).toString('hex')}`;
      await core.createNamespace({
        body: { metadata: { name, labels: { 'dwk.dev/test': 'true', ...labels } } },
      });
      t.after(async () => {
        try {
          await core.deleteNamespace({ name });
        } catch (err) {
          // A test may have deleted it already.
          if ((err as { code?: number }).code !== 404) throw err;
        }
      });
      await eventually(`ServiceAccount ${name}/default`, () =>
        core.readNamespacedServiceAccount({ name: 'default', namespace: name }),
      );
      return name;
    },
    kubectl: (args, options) => run(binaries.kubectl, args, options),
    helm: (args, options) => run(binaries.helm, args, options),
  };
}

/**
 * Polls `probe` until it returns a value other than undefined or false (a thrown error counts as not yet),
 * and returns that value. For real asynchronous behaviour of the cluster; never a fixed sleep.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`, { cause: last });
    }
    await sleep(options.intervalMs ?? 200);
  }
}
