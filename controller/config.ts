/** The controller's configuration, read once from its environment (in a cluster) or from flags (dwk controller). */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError } from '../lib/errors.ts';

export interface ControllerConfig {
  kubeconfig: string | undefined;
  context: string | undefined;
  /** Watch one namespace, or every namespace when undefined. */
  namespace: string | undefined;
  leaderElection: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  httpHost: string;
  httpPort: number;
  workers: number;
  resyncSeconds: number;
  logLevel: string;
}

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export function readControllerConfig(env: Record<string, string | undefined>): ControllerConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      problems.push(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
    return n;
  };
  let ownNamespace = 'default';
  try {
    ownNamespace = readFileSync(SA_NAMESPACE, 'utf8').trim();
  } catch {
    // outside a cluster
  }
  const config: ControllerConfig = {
    kubeconfig: env.KUBECONFIG || undefined,
    context: env.DWK_CONTEXT || undefined,
    namespace: env.DWK_WATCH_NAMESPACE || undefined,
    leaderElection: (env.DWK_LEADER_ELECT ?? 'true') !== 'false',
    leaseNamespace: env.DWK_LEASE_NAMESPACE || env.POD_NAMESPACE || ownNamespace,
    leaseName: env.DWK_LEASE_NAME || 'dwk-controller',
    identity: env.POD_NAME || `${hostname()}-${process.pid}`,
    httpHost: env.DWK_HTTP_HOST || '0.0.0.0',
    httpPort: int('DWK_HTTP_PORT', 8081, 0, 65535),
    workers: int('DWK_WORKERS', 4, 1, 64),
    resyncSeconds: int('DWK_RESYNC_SECONDS', 600, 10, 86_400),
    logLevel: env.DWK_LOG_LEVEL || 'info',
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
