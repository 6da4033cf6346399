/**
 * What the test bed's fake nodes serve as their kubelet: kwok's server answers the apiserver's
 * Pod log, port-forward, exec and attach requests for what a test maps with kwok's objects
 * (kwok.x-k8s.io/v1alpha1, sigs.k8s.io/kwok@v0.8.0 pkg/apis/v1alpha1). No container runs, so
 * each mapping points at something on this machine: a file, a listening port, a local command.
 *
 *   await serveLogs(cluster.kc, { namespace: ns, pods: ['web'] }, { file });
 *   appendLogLines(file, ['started']);            // `kubectl logs web` prints "started"
 *   await forwardPorts(cluster.kc, { namespace: ns, pods: ['web'] }, { port: 8080, targetPort: 43125 });
 *
 * kwok learns of a mapping through a watch, a moment after these functions return, and nothing tells
 * when: map before creating the Pod (it takes a second to run), or retry a first one-shot read
 * (`eventually`); kubectl port-forward and attach exit at the first refusal. A mapping may name Pods
 * that do not exist yet. A later call for the same Pods replaces the earlier mapping of that kind.
 */
import { appendFileSync, closeSync, openSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, type KubeObject } from '../../lib/kube/client.ts';

const GROUP = '/apis/kwok.x-k8s.io/v1alpha1';
const FIELD_MANAGER = 'dwk-test-kwok';

/**
 * Which Pods a mapping is for. With `pods`, those Pods by name: one namespaced object per Pod, named
 * after it, deleted with the namespace. Without, every Pod of the namespace, present and future (a
 * Deployment's): one cluster-scoped object selecting the namespace, owned by the Namespace so that
 * the garbage collector deletes it with the namespace. (kwok matches by name and namespace only, not
 * by labels.) A Pod's own object wins over the namespace-wide one.
 */
export interface PodSelection {
  namespace: string;
  pods?: string[];
}

export interface LogSource {
  /**
   * A file on this machine whose lines are the container's log, in the CRI format
   * (`<RFC 3339 time> stdout|stderr F <text>`, what appendLogLines writes) or Docker's JSON lines.
   * Created empty if missing. `kubectl logs -f` keeps reading as it grows.
   */
  file: string;
  /** What `kubectl logs --previous` reads. */
  previousFile?: string;
  /** The containers it is the log of; omitted, every container without an entry of its own. */
  containers?: string[];
}

export interface PortMapping {
  /** The Pod's port, as `kubectl port-forward pod/x :<port>` names it; omitted, every port. */
  port?: number;
  /** Where kwok connects instead; the address defaults to 127.0.0.1. */
  targetPort: number;
  targetAddress?: string;
}

export interface LocalExec {
  /** `kubectl exec` runs its command on this machine, as kwok's user, in this directory (default kwok's). */
  workDir?: string;
  /** Variables added to kwok's environment for the command. */
  env?: Record<string, string>;
  /** The containers it is for; omitted, every container without an entry of its own. */
  containers?: string[];
}

export interface AttachSource {
  /** `kubectl attach` prints the lines appended to this file (same formats as LogSource.file) from then on. */
  file: string;
  containers?: string[];
}

type Kube = KubeConfig | KubeClient;

/** Serves files as the Pods' container logs: `kubectl logs`, `-f`, `--previous`, GET pods/{name}/log. */
export async function serveLogs(
  kube: Kube,
  pods: PodSelection,
  logs: LogSource | LogSource[],
): Promise<void> {
  const list = [logs].flat();
  for (const l of list) for (const f of [l.file, l.previousFile]) if (f) touch(f);
  await applyMapping(kube, pods, 'Logs', 'logs', {
    logs: list.map((l) => ({
      ...(l.containers ? { containers: l.containers } : {}),
      logsFile: l.file,
      ...(l.previousFile ? { previousLogsFile: l.previousFile } : {}),
    })),
  });
}

/** Forwards the Pods' ports to local listeners: `kubectl port-forward`, the pods/{name}/portforward API. */
export async function forwardPorts(
  kube: Kube,
  pods: PodSelection,
  ports: PortMapping | PortMapping[],
): Promise<void> {
  await applyMapping(kube, pods, 'PortForward', 'portforwards', {
    forwards: [ports].flat().map((p) => ({
      ...(p.port === undefined ? {} : { ports: [p.port] }),
      target: { address: p.targetAddress ?? '127.0.0.1', port: p.targetPort },
    })),
  });
}

/** Lets `kubectl exec` (pods/{name}/exec) run its command on this machine. */
export async function execLocally(kube: Kube, pods: PodSelection, exec: LocalExec = {}): Promise<void> {
  await applyMapping(kube, pods, 'Exec', 'execs', {
    execs: [
      {
        ...(exec.containers ? { containers: exec.containers } : {}),
        local: {
          ...(exec.workDir ? { workDir: exec.workDir } : {}),
          ...(exec.env ? { envs: Object.entries(exec.env).map(([name, value]) => ({ name, value })) } : {}),
        },
      },
    ],
  });
}

/** Serves what is appended to a file to `kubectl attach` (pods/{name}/attach). */
export async function serveAttach(
  kube: Kube,
  pods: PodSelection,
  sources: AttachSource | AttachSource[],
): Promise<void> {
  const list = [sources].flat();
  for (const s of list) touch(s.file);
  await applyMapping(kube, pods, 'Attach', 'attaches', {
    attaches: list.map((s) => ({ ...(s.containers ? { containers: s.containers } : {}), logsFile: s.file })),
  });
}

/** Appends lines to a log file in the CRI format kwok reads, time-stamped now. */
export function appendLogLines(file: string, lines: string[], stream: 'stdout' | 'stderr' = 'stdout'): void {
  const now = new Date().toISOString();
  appendFileSync(file, lines.map((line) => `${now} ${stream} F ${line}\n`).join(''));
}

function touch(file: string): void {
  closeSync(openSync(file, 'a'));
}

const clients = new WeakMap<KubeConfig, KubeClient>();
function clientOf(kube: Kube): KubeClient {
  if (kube instanceof KubeClient) return kube;
  let client = clients.get(kube);
  if (!client) clients.set(kube, (client = new KubeClient(kube)));
  return client;
}

/** Server-side applies the namespaced object of each named Pod, or the namespace's Cluster* object. */
async function applyMapping(
  kube: Kube,
  { namespace, pods }: PodSelection,
  kind: string,
  plural: string,
  spec: Record<string, unknown>,
): Promise<void> {
  const client = clientOf(kube);
  const apply = (path: string, obj: KubeObject) =>
    client.request(
      'PATCH',
      `${path}?fieldManager=${FIELD_MANAGER}&force=true`,
      { apiVersion: 'kwok.x-k8s.io/v1alpha1', ...obj },
      'application/apply-patch+yaml',
    );
  if (pods) {
    if (pods.length === 0) throw new Error(`${kind}: an empty list of Pods maps nothing`);
    await Promise.all(
      pods.map((name) =>
        apply(`${GROUP}/namespaces/${namespace}/${plural}/${name}`, {
          kind,
          metadata: { name, namespace },
          spec,
        }),
      ),
    );
    return;
  }
  const ns = await client.request<KubeObject>('GET', `/api/v1/namespaces/${namespace}`);
  await apply(`${GROUP}/cluster${plural}/${namespace}`, {
    kind: `Cluster${kind}`,
    metadata: {
      name: namespace,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Namespace', name: namespace, uid: ns.metadata?.uid }],
    },
    spec: { selector: { matchNamespaces: [namespace] }, ...spec },
  });
}
