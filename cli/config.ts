/** The one place the CLI reads its environment; everything else gets a CliConfig. */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CliConfig {
  /** NO_COLOR is set (https://no-color.org). */
  noColor: boolean;
  /** Node that runs the workloads: the one running dwk, so local mode uses the project's Node 24. */
  nodePath: string;
  /** Script of the workloads; DWK_WORKLOAD_ENTRY swaps it, for tests of the process edge. */
  workloadEntry: string;
  /** What child processes inherit: the environment without dwk's own DWK_* variables. */
  childEnv: Record<string, string>;
  /** The environment as read, for look-ups by name (nats-server location, urlFromEnv secrets). */
  env: Readonly<Record<string, string | undefined>>;
  /** helm: $DWK_HELM, else the first on $PATH; undefined when there is none. */
  helm: string | undefined;
}

/** The first executable file called `name` on `path` (a $PATH value). */
export function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not there, or not executable
    }
  }
  return undefined;
}

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLED_EXAMPLE = fileURLToPath(new URL('../examples/pipeline.yaml', import.meta.url));
const DEFAULT_ENTRY = fileURLToPath(new URL('../workloads/main.ts', import.meta.url));

export function readConfig(env: NodeJS.ProcessEnv, nodePath: string): CliConfig {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith('DWK_')) childEnv[k] = v;
  return {
    noColor: env.NO_COLOR !== undefined && env.NO_COLOR !== '',
    nodePath,
    workloadEntry: env.DWK_WORKLOAD_ENTRY || DEFAULT_ENTRY,
    childEnv,
    env: { ...env },
    helm: env.DWK_HELM || findOnPath('helm', env.PATH),
  };
}

export { REPO_ROOT };
