/**
 * A small Kubernetes REST client on the kubeconfig's TLS and credentials: server-side apply for
 * any kind (CRDs included), the status subresource, and watches that end cleanly. Used by the
 * controller and the CLI. Errors carry the HTTP status and the API's own message.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { UnavailableError } from '../errors.ts';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    finalizers?: string[];
    ownerReferences?: unknown[];
    creationTimestamp?: string;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface KubeList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

/** An error answer of the API server: `status` is the HTTP code, `message` the server's. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  constructor(status: number, message: string, reason?: string) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

/** The error of an answer with status >= 400: the Status object's message and reason when it is one. */
function apiError(method: string, path: string, status: number, text: string): KubeApiError {
  let message = text;
  let reason: string | undefined;
  try {
    const s = JSON.parse(text) as { message?: string; reason?: string };
    message = s.message ?? text;
    reason = s.reason;
  } catch {
    // not a Status object
  }
  return new KubeApiError(status, `${method} ${path}: ${status} ${message}`.trim(), reason);
}

export const isNotFound = (err: unknown) => err instanceof KubeApiError && err.status === 404;
export const isConflict = (err: unknown) => err instanceof KubeApiError && err.status === 409;

/** The REST path of a kind we use. Namespaced kinds take a namespace; names are optional for lists. */
const RESOURCES: Record<string, { group: string; plural: string; namespaced: boolean }> = {
  'dwk.dev/v1alpha1/Pipeline': { group: '/apis/dwk.dev/v1alpha1', plural: 'pipelines', namespaced: true },
  'apps/v1/Deployment': { group: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  'v1/Service': { group: '/api/v1', plural: 'services', namespaced: true },
  'v1/Pod': { group: '/api/v1', plural: 'pods', namespaced: true },
  'v1/Event': { group: '/api/v1', plural: 'events', namespaced: true },
  'v1/Namespace': { group: '/api/v1', plural: 'namespaces', namespaced: false },
  'v1/Node': { group: '/api/v1', plural: 'nodes', namespaced: false },
  'v1/Secret': { group: '/api/v1', plural: 'secrets', namespaced: true },
  'v1/ServiceAccount': { group: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  'v1/ConfigMap': { group: '/api/v1', plural: 'configmaps', namespaced: true },
  'coordination.k8s.io/v1/Lease': {
    group: '/apis/coordination.k8s.io/v1',
    plural: 'leases',
    namespaced: true,
  },
  'monitoring.coreos.com/v1/ServiceMonitor': {
    group: '/apis/monitoring.coreos.com/v1',
    plural: 'servicemonitors',
    namespaced: true,
  },
  'monitoring.coreos.com/v1/PodMonitor': {
    group: '/apis/monitoring.coreos.com/v1',
    plural: 'podmonitors',
    namespaced: true,
  },
  'monitoring.coreos.com/v1/Prometheus': {
    group: '/apis/monitoring.coreos.com/v1',
    plural: 'prometheuses',
    namespaced: true,
  },
  'apiextensions.k8s.io/v1/CustomResourceDefinition': {
    group: '/apis/apiextensions.k8s.io/v1',
    plural: 'customresourcedefinitions',
    namespaced: false,
  },
  'rbac.authorization.k8s.io/v1/ClusterRole': {
    group: '/apis/rbac.authorization.k8s.io/v1',
    plural: 'clusterroles',
    namespaced: false,
  },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': {
    group: '/apis/rbac.authorization.k8s.io/v1',
    plural: 'clusterrolebindings',
    namespaced: false,
  },
  'rbac.authorization.k8s.io/v1/Role': {
    group: '/apis/rbac.authorization.k8s.io/v1',
    plural: 'roles',
    namespaced: true,
  },
  'rbac.authorization.k8s.io/v1/RoleBinding': {
    group: '/apis/rbac.authorization.k8s.io/v1',
    plural: 'rolebindings',
    namespaced: true,
  },
};

export interface ResourceRef {
  apiVersion: string;
  kind: string;
  namespace?: string | undefined;
  name?: string | undefined;
}

export function pathOf(ref: ResourceRef, subresource?: string): string {
  const r = RESOURCES[`${ref.apiVersion}/${ref.kind}`];
  if (!r) throw new Error(`no REST mapping for ${ref.apiVersion} ${ref.kind}`);
  let path = r.group;
  if (r.namespaced && ref.namespace) path += `/namespaces/${encodeURIComponent(ref.namespace)}`;
  path += `/${r.plural}`;
  if (ref.name) path += `/${encodeURIComponent(ref.name)}`;
  if (subresource) path += `/${subresource}`;
  return path;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export class KubeClient {
  readonly kc: KubeConfig;
  readonly server: string;
  private agent: HttpsAgent | undefined;
  /** Requests sent, by verb: what the idle-traffic benchmark counts. */
  readonly requests = new Map<string, number>();

  constructor(kc: KubeConfig) {
    this.kc = kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new UnavailableError('kubernetes', 'the kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/$/, '');
  }

  static fromKubeconfig(path?: string, context?: string): KubeClient {
    const kc = new KubeConfig();
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
    if (context) kc.setCurrentContext(context);
    return new KubeClient(kc);
  }

  private async options(
    method: string,
    path: string,
    headers: Record<string, string>,
  ): Promise<RequestOptions> {
    const url = new URL(this.server + path);
    const opts: RequestOptions = {
      method,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { accept: 'application/json', ...headers },
    };
    await this.kc.applyToHTTPSOptions(opts);
    // The kubeconfig's agent opens a new TLS connection per request; reuse connections instead
    // (the same CA and client certificate; credentials in headers stay per request).
    if (this.server.startsWith('https:') && !this.kc.getCurrentCluster()?.proxyUrl) {
      this.agent ??= new HttpsAgent({
        keepAlive: true,
        maxSockets: 32,
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        pfx: opts.pfx,
        passphrase: opts.passphrase,
        rejectUnauthorized: opts.rejectUnauthorized,
      });
      opts.agent = this.agent;
    }
    return opts;
  }

  private send(opts: RequestOptions, body: string | undefined, timeoutMs = 30_000): Promise<IncomingMessage> {
    const req = (this.server.startsWith('https:') ? httpsRequest : httpRequest)(opts);
    return new Promise((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', (cause) =>
        reject(
          new UnavailableError(
            'kubernetes',
            `cannot reach the Kubernetes API at ${this.server}: ${cause.message}`,
            { cause },
          ),
        ),
      );
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () =>
          req.destroy(new Error(`request timed out after ${timeoutMs / 1000} s`)),
        );
      }
      req.end(body);
    });
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    this.requests.set(method, (this.requests.get(method) ?? 0) + 1);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    // Always a Content-Length: Node sends a DELETE body neither chunked nor sized, which on a
    // reused connection the server would read as the start of the next request.
    const headers: Record<string, string> = payload
      ? { 'content-type': contentType, 'content-length': String(Buffer.byteLength(payload)) }
      : {};
    const res = await this.send(await this.options(method, path, headers), payload);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const status = res.statusCode ?? 0;
    if (status >= 400) throw apiError(method, path, status, text);
    return (text ? JSON.parse(text) : {}) as T;
  }

  get<T extends KubeObject>(ref: ResourceRef): Promise<T> {
    return this.request<T>('GET', pathOf(ref));
  }

  async getOrUndefined<T extends KubeObject>(ref: ResourceRef): Promise<T | undefined> {
    try {
      return await this.get<T>(ref);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  list<T extends KubeObject>(ref: ResourceRef, labelSelector?: string): Promise<KubeList<T>> {
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    return this.request<KubeList<T>>('GET', pathOf(ref) + q);
  }

  /** Server-side apply under `fieldManager`; `force` takes fields over from other managers. */
  apply<T extends KubeObject>(
    obj: KubeObject,
    fieldManager: string,
    force = true,
    subresource?: string,
  ): Promise<T> {
    const ref = {
      apiVersion: obj.apiVersion ?? '',
      kind: obj.kind ?? '',
      namespace: obj.metadata?.namespace,
      name: obj.metadata?.name,
    };
    const q = `?fieldManager=${encodeURIComponent(fieldManager)}${force ? '&force=true' : ''}`;
    return this.request<T>('PATCH', pathOf(ref, subresource) + q, obj, 'application/apply-patch+yaml');
  }

  mergePatch<T extends KubeObject>(ref: ResourceRef, patch: unknown, subresource?: string): Promise<T> {
    return this.request<T>('PATCH', pathOf(ref, subresource), patch, 'application/merge-patch+json');
  }

  async delete(ref: ResourceRef, propagation: 'Background' | 'Foreground' = 'Background'): Promise<boolean> {
    try {
      await this.request('DELETE', pathOf(ref), {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: propagation,
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Whether the API server serves a group/version (discovery; no special permission needed). */
  async serves(groupVersion: string, kind: string): Promise<boolean> {
    try {
      const list = await this.request<{ resources?: Array<{ kind: string }> }>(
        'GET',
        `/apis/${groupVersion}`,
      );
      return (list.resources ?? []).some((r) => r.kind === kind);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * GETs a text stream, such as a Pod's log (`pathOf(pod, 'log')` with its query), and calls
   * `onLine` with each line as it arrives, until the server ends it or `signal` aborts; resolves
   * then. An error answer is a KubeApiError. `timeoutMs` bounds the wait for the answer and every
   * silence after it; 0 waits as long as the server keeps the stream open (`follow=true`), on a
   * connection of its own so that long streams never hold the shared pool.
   */
  async streamLines(
    path: string,
    onLine: (line: string) => void,
    signal: AbortSignal,
    timeoutMs = 30_000,
  ): Promise<void> {
    this.requests.set('GET', (this.requests.get('GET') ?? 0) + 1);
    const opts = await this.options('GET', path, { accept: '*/*' });
    if (timeoutMs === 0 && opts.agent === this.agent) opts.agent = false;
    opts.signal = signal;
    let res: IncomingMessage;
    try {
      res = await this.send(opts, undefined, timeoutMs);
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    const decoder = new TextDecoder();
    if ((res.statusCode ?? 0) >= 400) {
      let text = '';
      for await (const c of res) text += decoder.decode(c as Buffer, { stream: true });
      throw apiError('GET', path, res.statusCode ?? 0, text);
    }
    let buffer = '';
    try {
      for await (const chunk of res) {
        buffer += decoder.decode(chunk as Buffer, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          onLine(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    if (buffer !== '') onLine(buffer);
  }

  /**
   * Watches from `resourceVersion` until the server ends the stream, `signal` aborts, or an error;
   * resolves then. The caller re-lists on a 410 (an ERROR event with code 410).
   */
  async watch<T>(
    ref: ResourceRef,
    resourceVersion: string,
    onEvent: (e: WatchEvent<T>) => void,
    signal: AbortSignal,
    options: { labelSelector?: string; timeoutSeconds?: number } = {},
  ): Promise<void> {
    const q = new URLSearchParams({
      watch: 'true',
      resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(options.timeoutSeconds ?? 300),
      ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
    });
    this.requests.set('WATCH', (this.requests.get('WATCH') ?? 0) + 1);
    const opts = await this.options('GET', `${pathOf(ref)}?${q.toString()}`, {});
    opts.signal = signal;
    // A watch may be silent for long; the server ends it after timeoutSeconds anyway.
    const res = await this.send(opts, undefined, ((options.timeoutSeconds ?? 300) + 30) * 1000);
    if ((res.statusCode ?? 0) >= 400) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw new KubeApiError(
        res.statusCode ?? 0,
        `watch ${pathOf(ref)}: ${Buffer.concat(chunks).toString('utf8')}`,
      );
    }
    let buffer = '';
    try {
      for await (const chunk of res) {
        buffer += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line.trim()) onEvent(JSON.parse(line) as WatchEvent<T>);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
  }
}
