/**
 * `kubectl port-forward` for dwk: loopback ports that tunnel, one WebSocket per connection,
 * to ports of one ready Pod behind a Service. How `dwk status` reaches an in-cluster NATS and
 * its monitoring port from a laptop.
 */
import { PortForward } from '@kubernetes/client-node';
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { UnavailableError } from '../errors.ts';
import type { KubeClient, KubeObject } from './client.ts';

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
}
type Service = KubeObject & { spec?: { selector?: Record<string, string>; ports?: ServicePort[] } };
type Pod = KubeObject & {
  spec?: { containers?: Array<{ ports?: Array<{ name?: string; containerPort: number }> }> };
  status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
};

/** A port of the Service by number or name; `fallback` is tried on the Pod when the Service lacks it. */
export interface WantedPort {
  port: number | string;
  /** Pod port names or numbers to try when the Service does not expose `port` (e.g. a headless-only monitor port). */
  fallback?: Array<number | string>;
}

export interface Forward {
  pod: string;
  /** The loopback port for each wanted port, in order; undefined where the Pod has no such port. */
  localPorts: Array<number | undefined>;
  /** Why the last tunnel failed, if one did: the API server's answer (e.g. the node serves no port-forward). */
  lastError(): string | undefined;
  close(): Promise<void>;
}

const ready = (p: Pod) =>
  p.status?.phase === 'Running' &&
  (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Resolves a Service port (or a fallback) to the container port of `pod`. Pure. */
export function targetPortOf(service: Service, pod: Pod, wanted: WantedPort): number | undefined {
  const containerPorts = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  const onPod = (p: number | string) =>
    typeof p === 'number' ? p : containerPorts.find((c) => c.name === p)?.containerPort;
  const sp = (service.spec?.ports ?? []).find((p) =>
    typeof wanted.port === 'number' ? p.port === wanted.port : p.name === wanted.port,
  );
  if (sp) return onPod(sp.targetPort ?? sp.port);
  for (const f of wanted.fallback ?? []) {
    const port = onPod(f);
    if (port !== undefined) return port;
  }
  return undefined;
}

export async function forwardService(
  client: KubeClient,
  namespace: string,
  serviceName: string,
  wanted: WantedPort[],
): Promise<Forward> {
  const ns = encodeURIComponent(namespace);
  const service = await client.request<Service>(
    'GET',
    `/api/v1/namespaces/${ns}/services/${encodeURIComponent(serviceName)}`,
  );
  const selector = Object.entries(service.spec?.selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (selector === '') {
    throw new UnavailableError(
      'kubernetes',
      `Service ${namespace}/${serviceName} has no selector to find a Pod by`,
    );
  }
  const pods = await client.request<{ items: Pod[] }>(
    'GET',
    `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`,
  );
  const pod = pods.items.find(ready);
  if (!pod?.metadata?.name) {
    throw new UnavailableError('kubernetes', `no ready Pod behind Service ${namespace}/${serviceName}`);
  }
  const podName = pod.metadata.name;
  const pf = new PortForward(client.kc, true);
  let lastError: string | undefined;
  const sockets = new Set<Socket>();
  const servers: Server[] = [];

  const tunnel = (socket: Socket, target: number) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let errText = '';
    const errors = new Writable({
      write(chunk: Buffer, _enc, done) {
        errText += chunk.toString('utf8');
        lastError = errText.trim();
        done();
      },
    });
    pf.portForward(namespace, podName, [target], socket, errors, socket).then(
      (opened) => {
        if (typeof opened === 'function') return;
        // client-node leaves each side open when the other closes.
        const ws = opened as unknown as { on(event: 'close', fn: () => void): void; close(): void };
        ws.on('close', () => socket.destroy());
        socket.once('close', () => ws.close());
      },
      (err: unknown) => {
        lastError = describe(err);
        socket.destroy();
      },
    );
  };

  const localPorts: Array<number | undefined> = [];
  for (const w of wanted) {
    const target = targetPortOf(service, pod, w);
    if (target === undefined) {
      localPorts.push(undefined);
      continue;
    }
    const server = createServer((socket) => tunnel(socket, target));
    servers.push(server);
    localPorts.push(
      await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
      }),
    );
  }
  return {
    pod: podName,
    localPorts,
    lastError: () => lastError,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

/** The API server's refusal, readable: the WebSocket library puts the HTTP status in its message. */
function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  const e = err as { message?: unknown; error?: unknown; target?: unknown } | undefined;
  if (e && typeof e.message === 'string') return e.message;
  return String(err);
}
