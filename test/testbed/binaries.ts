/**
 * Where the test bed's programs are: scripts/testbed/build.sh builds them into the dwk cache,
 * one directory per tool and version, with the versions pinned in scripts/testbed/versions.env.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, UserError } from '../../lib/errors.ts';

export const VERSIONS_FILE = fileURLToPath(new URL('../../scripts/testbed/versions.env', import.meta.url));

export interface Versions {
  kubernetes: string;
  etcd: string;
  kwok: string;
  helm: string;
}

export interface Binaries {
  versions: Versions;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  /** kwok's Stage definitions, copied from its module by build.sh. */
  kwokStages: string;
  /** kwok's CRDs for Logs, PortForward, Exec and Attach (namespaced and Cluster*), copied by build.sh. */
  kwokCrds: string;
  helm: string;
}

/** Parses the KEY=VALUE lines of versions.env (comments and blank lines ignored). */
export function parseVersions(text: string): Versions {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(\S+)\s*$/.exec(line.trim());
    if (m?.[1] && m[2]) values.set(m[1], m[2]);
  }
  const get = (key: string): string => {
    const value = values.get(key);
    if (!value) throw new Error(`${VERSIONS_FILE} has no ${key}`);
    return value;
  };
  return {
    kubernetes: get('KUBERNETES_VERSION'),
    etcd: get('ETCD_VERSION'),
    kwok: get('KWOK_VERSION'),
    helm: get('HELM_VERSION'),
  };
}

/** The paths the binaries have in `cache` for the pinned versions; they may not exist yet. */
export function binaryPaths(
  cache: string,
  versions = parseVersions(readFileSync(VERSIONS_FILE, 'utf8')),
): Binaries {
  const tools = join(cache, 'tools');
  const k8s = join(tools, `kubernetes-${versions.kubernetes}`);
  return {
    versions,
    etcd: join(tools, `etcd-${versions.etcd}`, 'etcd'),
    kubeApiserver: join(k8s, 'kube-apiserver'),
    kubeControllerManager: join(k8s, 'kube-controller-manager'),
    kubeScheduler: join(k8s, 'kube-scheduler'),
    kubectl: join(k8s, 'kubectl'),
    kwok: join(tools, `kwok-${versions.kwok}`, 'kwok'),
    kwokStages: join(tools, `kwok-${versions.kwok}`, 'stages.yaml'),
    kwokCrds: join(tools, `kwok-${versions.kwok}`, 'crds.yaml'),
    helm: join(tools, `helm-${versions.helm}`, 'helm'),
  };
}

/** Like binaryPaths, but every file must exist. */
export function requireBinaries(cache: string): Binaries {
  const bins = binaryPaths(cache);
  const missing = Object.entries(bins)
    .filter(([key, path]) => key !== 'versions' && typeof path === 'string' && !existsSync(path))
    .map(([, path]) => path as string);
  if (missing.length > 0) {
    throw new UserError(`the Kubernetes test bed is not built: missing ${missing.join(', ')}`, {
      exitCode: EXIT.unavailable,
      hint: 'run `bash scripts/testbed/build.sh` (about 30 min the first time, seconds afterwards)',
    });
  }
  return bins;
}
