/** Runs the real dwk (bin/dwk) against the test bed, with the pinned helm on PATH, or without it. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { startController } from '../support/controller.ts';
import type { TestCluster } from '../testbed/support.ts';

export const DWK = fileURLToPath(new URL('../../bin/dwk', import.meta.url));
export const NATS_CHART = fileURLToPath(new URL('../fixtures/charts/nats', import.meta.url));
const NODE_DIR = dirname(process.execPath);

export interface DwkResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a dwk run: kubeconfig, helm on PATH unless `helm: false`, helm's homes in `dir`. */
export function dwkEnv(cluster: TestCluster, dir: string, options: { helm?: boolean } = {}) {
  const path = [NODE_DIR, '/usr/bin', '/bin'];
  if (options.helm !== false) path.unshift(dirname(cluster.binaries.helm));
  return {
    PATH: path.join(':'),
    HOME: dir,
    KUBECONFIG: cluster.kubeconfigPath,
    NO_COLOR: '1',
    HELM_CACHE_HOME: join(dir, 'helm/cache'),
    HELM_CONFIG_HOME: join(dir, 'helm/config'),
    HELM_DATA_HOME: join(dir, 'helm/data'),
  };
}

export async function runDwk(
  env: Record<string, string>,
  cwd: string,
  ...args: string[]
): Promise<DwkResult> {
  const r = await execa(DWK, args, { cwd, env, extendEnv: false, reject: false, timeout: 240_000 });
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function startDwk(
  env: Record<string, string>,
  cwd: string,
  ...args: string[]
): ResultPromise<{ reject: false }> {
  return execa(DWK, args, { cwd, env, extendEnv: false, reject: false });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `dwk-${prefix}-`));
}

/** A small Pipeline manifest in `dir`; no nats.url unless given, so dwk fills it in. */
export function writePipeline(dir: string, name: string, spec: Record<string, unknown> = {}): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'dwk.dev/v1alpha1',
      kind: 'Pipeline',
      metadata: { name },
      spec: { mapper: { replicas: 2 }, saver: { sink: { type: 'log' } }, ...spec },
    }),
  );
  return file;
}

/**
 * A Ready Pipeline `name` (mapper 2) in a fresh namespace, made by dwk up against an unresolvable
 * NATS address, with a controller in this process watching the namespace.
 */
export async function readyPipeline(cluster: TestCluster, t: TestContext, prefix: string, name: string) {
  const ns = await cluster.newNamespace(t, prefix);
  await startController(t, cluster.kubeconfigPath, ns);
  const dir = tempDir(prefix);
  const env = dwkEnv(cluster, dir, { helm: false });
  const file = writePipeline(dir, name);
  const up = await runDwk(
    env,
    dir,
    'up',
    '-f',
    file,
    '-n',
    ns,
    '--nats-url',
    'nats://n:4222',
    '--controller',
    'none',
  );
  assert.equal(up.code, 0, up.stderr);
  return { ns, dir, env };
}
