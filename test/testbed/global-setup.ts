/**
 * Global setup for `node --test --test-global-setup=test/testbed/global-setup.ts`: one control plane per
 * test run, shared by every test file through $DWK_TEST_KUBECONFIG (test processes inherit the runner's
 * environment). When the variable is already set, e.g. to a `npm run testbed -- up`, that one is used.
 */
import { fileURLToPath } from 'node:url';
import { UserError } from '../../lib/errors.ts';
import { cacheDir } from '../../lib/nats/server.ts';
import { requireBinaries } from './binaries.ts';
import { startTestbed, type Testbed } from './harness.ts';
import { KUBECONFIG_ENV } from './support.ts';

let bed: Testbed | undefined;

export async function globalSetup(): Promise<void> {
  if (process.env[KUBECONFIG_ENV]) {
    console.error(`[testbed] using the control plane of ${KUBECONFIG_ENV}=${process.env[KUBECONFIG_ENV]}`);
    return;
  }
  let binaries;
  try {
    binaries = requireBinaries(cacheDir());
  } catch (err) {
    // The runner prints only the message: put the hint in it.
    throw err instanceof UserError ? new Error(`${err.message}; ${err.hint}`, { cause: err }) : err;
  }
  bed = await startTestbed({
    binaries,
    // As in a cluster where dwk is installed; tests apply it again, which changes nothing.
    crds: [fileURLToPath(new URL('../../crds/pipeline.yaml', import.meta.url))],
    keepDir: process.env.DWK_TESTBED_KEEP === '1',
    log: (line) => console.error(`[testbed] ${line}`),
  });
  process.env[KUBECONFIG_ENV] = bed.kubeconfigPath;
}

export async function globalTeardown(): Promise<void> {
  await bed?.stop();
  if (bed && process.env.DWK_TESTBED_KEEP === '1') console.error(`[testbed] kept ${bed.dir}`);
}
