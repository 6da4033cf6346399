/** Cluster mode: the kube client and namespace from --kubeconfig, --context and -n, with clear errors. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { EXIT, UserError } from '../../lib/errors.ts';
import { KubeClient } from '../../lib/kube/client.ts';

export interface ClusterFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

export interface Cluster {
  client: KubeClient;
  namespace: string;
  kubeconfigPath: string;
}

export function connectCluster(
  flags: ClusterFlags,
  env: Readonly<Record<string, string | undefined>>,
): Cluster {
  const path =
    flags.kubeconfig ?? env.KUBECONFIG?.split(':')[0] ?? join(env.HOME ?? homedir(), '.kube', 'config');
  if (!existsSync(path)) {
    throw new UserError(`no kubeconfig at ${path}`, {
      exitCode: EXIT.unavailable,
      hint: 'point --kubeconfig or KUBECONFIG at one, or use --local to run on this machine',
    });
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (cause) {
    throw new UserError(`cannot read the kubeconfig ${path}: ${(cause as Error).message}`, {
      exitCode: EXIT.usage,
      cause,
    });
  }
  if (flags.context) {
    if (!kc.getContextObject(flags.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new UserError(`no context "${flags.context}" in ${path}`, {
        hint: `contexts: ${known.join(', ') || '(none)'}`,
      });
    }
    kc.setCurrentContext(flags.context);
  }
  const namespace = flags.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return { client: new KubeClient(kc), namespace, kubeconfigPath: path };
}

/** The server's version; an unreachable cluster is an UnavailableError naming the server. */
export async function serverVersion(cluster: Cluster): Promise<string> {
  const v = await cluster.client.request<{ gitVersion?: string }>('GET', '/version');
  return v.gitVersion ?? 'unknown';
}
