/**
 * A real Kubernetes control plane on loopback for the tests and for `npm run testbed -- up`:
 * etcd, kube-apiserver (TLS, RBAC, PodSecurity and the default admission plugins), kube-controller-manager,
 * kube-scheduler and KWOK with fake nodes, on free ports, in one directory. Nothing is mocked.
 * KWOK also serves as the fake nodes' kubelet (TLS on loopback), so Pod logs, port-forward, exec and
 * attach work through the apiserver for what a test maps with kwok's objects (test/support/kwok.ts).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiextensionsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { KubeClient, type KubeObject } from '../../lib/kube/client.ts';
import { freePort } from '../../lib/nats/server.ts';
import type { Binaries } from './binaries.ts';
import { makePki, type Pki } from './pki.ts';
import { signal, startProcess, stopProcess, waitUntil, type StartedProcess } from './processes.ts';

export interface TestbedOptions {
  binaries: Binaries;
  /** Where certificates, data and logs go; default a new temporary directory that stop() removes. */
  dir?: string;
  /** Fake KWOK nodes, named kwok-node-0 …; default 1. */
  nodes?: number;
  /** Processes outlive this one (for `testbed up`); no exit or signal handlers are installed. */
  detached?: boolean;
  /** Keep the directory after stop(), e.g. to read the logs. */
  keepDir?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Per readiness step; default 60 s (a cold page cache on 2 cores needs ~15 s for the apiserver). */
  stepTimeoutMs?: number;
  /**
   * More CRD files to create before the controller manager starts, as a cluster with them installed
   * would have: its garbage collector then knows their kinds from its first discovery instead of
   * its 30 s resync, so owner references to them are followed at once.
   */
  crds?: string[];
}

export interface Testbed {
  kubeconfigPath: string;
  dir: string;
  server: string;
  processes: readonly StartedProcess[];
  /** Milliseconds from start to everything ready. */
  startMs: number;
  /** Stops every process it started (clients, then the apiserver, then etcd); removes the directory unless kept. */
  stop(): Promise<void>;
}

/** Names of the KCM controllers we run: what dwk's objects need, and no more (2 cores). */
export const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'job-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'clusterrole-aggregation-controller',
  'pod-garbage-collector-controller',
  // Removes the not-ready taint TaintNodesByCondition puts on new nodes, so Pods can be scheduled.
  'node-lifecycle-controller',
];

export const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

/** kwok's objects that map what the fake nodes' kubelet serves; their CRDs are in Binaries.kwokCrds. */
export const KWOK_CRDS = [
  'Logs',
  'ClusterLogs',
  'PortForward',
  'ClusterPortForward',
  'Exec',
  'ClusterExec',
  'Attach',
  'ClusterAttach',
];

export async function startTestbed(options: TestbedOptions): Promise<Testbed> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const since = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'dwk-testbed-'));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const bins = options.binaries;
  const timeoutMs = options.stepTimeoutMs ?? 60_000;
  const detached = options.detached ?? false;
  const procs: StartedProcess[] = [];
  const watchdog = detached ? undefined : startWatchdog(dir, ownsDir && !options.keepDir);
  const start = (name: string, binary: string, args: string[]) => {
    const proc = startProcess(name, binary, args, { logDir: join(dir, 'logs'), detached });
    procs.push(proc);
    watchdog?.watch(proc.pid);
    return proc;
  };

  // Exit and signal handlers cannot wait: they SIGKILL whatever still runs.
  const killAll = () => procs.forEach((p) => signal(p, 'SIGKILL'));
  const onSignal = (sig: NodeJS.Signals) => {
    killAll();
    removeHandlers();
    if (ownsDir && !options.keepDir) rmSync(dir, { recursive: true, force: true });
    reraise(sig);
  };
  const removeHandlers = () => {
    process.off('exit', killAll);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  if (!detached) {
    process.on('exit', killAll);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const [etcd, ...rest] = procs;
    // The apiserver's clients first, then the apiserver, then its storage.
    await Promise.all(rest.filter((p) => p.name !== 'kube-apiserver').map((p) => stopProcess(p)));
    await Promise.all(rest.filter((p) => p.name === 'kube-apiserver').map((p) => stopProcess(p)));
    if (etcd) await stopProcess(etcd);
    watchdog?.stop();
    removeHandlers();
    if (ownsDir && !options.keepDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const pki = await makePki(join(dir, 'pki'));
    log(`certificates made (${since()})`);

    const etcdPort = await freePort();
    const etcdPeerPort = await freePort();
    const etcd = start('etcd', bins.etcd, etcdArgs(dir, etcdPort, etcdPeerPort));
    await waitUntil('etcd /health', () => etcdHealthy(etcdPort), { timeoutMs, proc: etcd });
    log(`etcd ready on 127.0.0.1:${etcdPort} (${since()})`);

    const apiPort = await freePort();
    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = start('kube-apiserver', bins.kubeApiserver, apiserverArgs(dir, pki, apiPort, etcdPort));
    await waitUntil('kube-apiserver /readyz', () => apiReady(server, pki), { timeoutMs, proc: apiserver });
    log(`kube-apiserver ready at ${server} (${since()})`);

    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig(server, pki), { mode: 0o600 });

    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    // kwok's CRDs go in before the controller manager starts, so that its garbage collector's first
    // discovery is likely to see them (else it learns of them only at its 30 s resync).
    const crds = (
      await Promise.all([bins.kwokCrds, ...(options.crds ?? [])].map((file) => createCrds(kc, file)))
    ).flat();

    const [kcmPort, schedulerPort, kwokPort] = [await freePort(), await freePort(), await freePort()];
    const kcm = start('kube-controller-manager', bins.kubeControllerManager, [
      ...componentArgs(dir, 'kube-controller-manager', kubeconfigPath, kcmPort),
      `--controllers=${CONTROLLERS.join(',')}`,
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      '--kube-api-qps=100',
      '--kube-api-burst=200',
    ]);
    const scheduler = start(
      'kube-scheduler',
      bins.kubeScheduler,
      componentArgs(dir, 'kube-scheduler', kubeconfigPath, schedulerPort),
    );

    const nodeNames = Array.from({ length: options.nodes ?? 1 }, (_, i) => `kwok-node-${i}`);
    // kwok watches its objects from the start, and a watch of a kind not yet served backs off for
    // seconds: its CRDs are established first (the nodes are made meanwhile).
    await Promise.all([
      waitUntil(`CRDs ${crds.join(', ')} established`, () => established(kc, crds), {
        timeoutMs,
        intervalMs: 50,
      }),
      ...nodeNames.map((name) => core.createNode({ body: fakeNode(name) })),
    ]);
    log(`kwok's CRDs established (${since()})`);
    const kwok = start('kwok', bins.kwok, [
      `--kubeconfig=${kubeconfigPath}`,
      `--config=${bins.kwokStages}`,
      `--manage-nodes-with-annotation-selector=${FAKE_NODE_ANNOTATION}=fake`,
      '--cidr=10.244.0.0/16',
      // The nodes' InternalIP and kubelet port (status.daemonEndpoints): where the apiserver finds
      // kwok's server for logs, port-forward, exec and attach.
      '--node-ip=127.0.0.1',
      `--node-port=${kwokPort}`,
      `--server-address=127.0.0.1:${kwokPort}`,
      `--tls-cert-file=${pki.nodeCert}`,
      `--tls-private-key-file=${pki.nodeKey}`,
      `--enable-crds=${KWOK_CRDS.join(',')}`,
      '--node-lease-duration-seconds=40',
    ]);

    await Promise.all([
      waitUntil('kube-controller-manager /healthz', () => healthy(kcmPort), { timeoutMs, proc: kcm }),
      waitUntil('kube-scheduler /healthz', () => healthy(schedulerPort), { timeoutMs, proc: scheduler }),
    ]);
    // Behaviour, not only health: the serviceaccount controller made `default`, kwok made the nodes Ready.
    await waitUntil(
      'the default ServiceAccount',
      async () => !!(await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })),
      { timeoutMs, proc: kcm, intervalMs: 200 },
    );
    await waitUntil('fake nodes Ready', async () => nodesReady(core, nodeNames, kwokPort), {
      timeoutMs,
      proc: kwok,
      intervalMs: 200,
    });
    // The nodes' kubelet endpoint answers, with a certificate the apiserver accepts for 127.0.0.1.
    // (Not through the apiserver's node proxy, which refuses loopback addresses; the log,
    // port-forward, exec and attach paths do not.)
    await waitUntil(
      "kwok's kubelet server /healthz",
      async () =>
        (await httpsStatus(`https://127.0.0.1:${kwokPort}/healthz`, { ca: readFileSync(pki.caCert) })) ===
        200,
      { timeoutMs, proc: kwok },
    );
    const startMs = Date.now() - started;
    log(`control plane ready with ${nodeNames.length} fake node(s) in ${since()}`);
    return { kubeconfigPath, dir, server, processes: procs, startMs, stop };
  } catch (err) {
    await stop().catch(() => killAll());
    throw err;
  }
}

/**
 * A shell that outlives this process only to SIGKILL what it started once it is gone, however it
 * went (a SIGKILLed test runner runs no exit handler): no etcd or apiserver is left behind.
 */
function startWatchdog(dir: string, removeDir: boolean): { watch(pid: number): void; stop(): void } {
  const pidFile = join(dir, 'pids');
  writeFileSync(pidFile, '');
  const script =
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -9 $(cat "$2") 2>/dev/null;' +
    (removeDir ? ' sleep 1; rm -rf "$3"' : '');
  const child = spawn('sh', ['-c', script, 'dwk-testbed-watchdog', String(process.pid), pidFile, dir], {
    stdio: 'ignore',
    detached: true,
  });
  child.unref();
  return {
    watch: (pid) => appendFileSync(pidFile, `${pid}\n`),
    stop: () => {
      try {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

/** After our cleanup, the signal does what it would have done: kill us, unless someone else handles it. */
function reraise(sig: NodeJS.Signals): void {
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function etcdArgs(dir: string, port: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    '--name=testbed',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=testbed=${peer}`,
    // Throwaway data: no fsync makes every write cheap on CI disks.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

function apiserverArgs(dir: string, pki: Pki, port: number, etcdPort: number): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${join(dir, 'kube-apiserver')}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    // Publishes the front-proxy CA that the controller manager and scheduler look for at start.
    `--requestheader-client-ca-file=${pki.caCert}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    '--authorization-mode=Node,RBAC',
    // The default plugins (NamespaceLifecycle, ServiceAccount, PodSecurity, TaintNodesByCondition, …) plus:
    '--enable-admission-plugins=NodeRestriction',
    '--service-cluster-ip-range=10.96.0.0/16',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    '--allow-privileged=true',
    // The fake nodes' kubelet is kwok's server at the node's InternalIP (127.0.0.1; the Hostname
    // address, the node name, resolves nowhere), with a serving certificate from our CA.
    '--kubelet-preferred-address-types=InternalIP',
    `--kubelet-certificate-authority=${pki.caCert}`,
    // Endpoints may not hold a loopback address, so the `kubernetes` Service gets none.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
  ];
}

/** Flags shared by the controller manager and the scheduler: loopback, no leader election. */
function componentArgs(dir: string, name: string, kubeconfigPath: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    `--authentication-kubeconfig=${kubeconfigPath}`,
    `--authorization-kubeconfig=${kubeconfigPath}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${join(dir, name)}`,
  ];
}

function kubeconfig(server: string, pki: Pki): string {
  const b64 = (file: string) => readFileSync(file).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
  - name: dwk-testbed
    cluster:
      server: ${server}
      certificate-authority-data: ${b64(pki.caCert)}
users:
  - name: dwk-admin
    user:
      client-certificate-data: ${b64(pki.adminCert)}
      client-key-data: ${b64(pki.adminKey)}
contexts:
  - name: dwk-testbed
    context:
      cluster: dwk-testbed
      user: dwk-admin
current-context: dwk-testbed
`;
}

function fakeNode(name: string) {
  return {
    metadata: {
      name,
      annotations: { [FAKE_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
      },
    },
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  };
}

/** Creates the CRDs of a multi-document YAML file; returns their names. */
/**
 * Applies the CRDs of a file as written. Not through the typed client: its serializer knows only
 * its own field names (`_default`, `xKubernetesValidations`) and silently drops `default`, `enum`
 * and `x-kubernetes-*` from a plain object. Field manager `kubectl`, as `kubectl apply
 * --server-side` in the tests, so re-applying the same file there owns the same fields.
 */
async function createCrds(kc: KubeConfig, file: string): Promise<string[]> {
  const client = new KubeClient(kc);
  const crds = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((crd): crd is KubeObject => crd?.kind === 'CustomResourceDefinition');
  if (crds.length === 0) throw new Error(`${file} holds no CustomResourceDefinition`);
  await Promise.all(crds.map((crd) => client.apply(crd, 'kubectl')));
  return crds.map((crd) => crd.metadata?.name ?? '');
}

async function established(kc: KubeConfig, names: string[]): Promise<boolean> {
  const list = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
  return names.every((name) =>
    list.items
      .find((crd) => crd.metadata?.name === name)
      ?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'),
  );
}

/** Ready, untainted, and with kwok's server as the kubelet endpoint the apiserver will dial. */
async function nodesReady(core: CoreV1Api, names: string[], kubeletPort: number): Promise<boolean> {
  const nodes = await core.listNode();
  return names.every((name) => {
    const node = nodes.items.find((n) => n.metadata?.name === name);
    const ready = node?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    const tainted = (node?.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
    const kubelet =
      node?.status?.daemonEndpoints?.kubeletEndpoint?.Port === kubeletPort &&
      !!node.status.addresses?.some((a) => a.type === 'InternalIP' && a.address === '127.0.0.1');
    return ready && !tainted && kubelet;
  });
}

async function etcdHealthy(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return res.ok && ((await res.json()) as { health?: string }).health === 'true';
}

async function apiReady(server: string, pki: Pki): Promise<boolean> {
  const status = await httpsStatus(`${server}/readyz`, {
    ca: readFileSync(pki.caCert),
    cert: readFileSync(pki.adminCert),
    key: readFileSync(pki.adminKey),
  });
  return status === 200;
}

/** The controller manager and scheduler serve health with a self-signed certificate on loopback. */
async function healthy(port: number): Promise<boolean> {
  return (await httpsStatus(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false })) === 200;
}

function httpsStatus(
  url: string,
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}
