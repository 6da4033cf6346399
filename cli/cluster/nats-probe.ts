/**
 * `dwk status` in a cluster reads NATS itself: live progress, lag per stage, the server's own
 * figures and the broadcasters' outcomes. An in-cluster address (`nats.team.svc`) that does not
 * resolve here is reached through a port-forward to a NATS Pod, as `kubectl port-forward` would.
 * Never throws: an unreachable NATS is shown, not fatal.
 */
import { lookup } from 'node:dns/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isIP } from 'node:net';
import type { Progress } from '../../api/v1alpha1/status.ts';
import { natsAuthReader, type NatsAuthReader } from '../../lib/kube/nats-auth.ts';
import { forwardService, type Forward } from '../../lib/kube/port-forward.ts';
import type { BroadcastOutcomes } from '../../lib/nats/broadcast-outcomes.ts';
import { connectNats, type NatsAuth, type NatsConnection } from '../../lib/nats/connect.ts';
import { progressReader, type StageLag } from '../../lib/nats/progress.ts';
import {
  readServerFigures,
  ServerStatsTracker,
  type NatsServerFigures,
} from '../../lib/nats/server-stats.ts';
import type { Rate } from '../local/model.ts';
import { RateTracker } from '../local/rate.ts';
import type { Cluster } from './connect.ts';

export interface NatsReach {
  url: string;
  via: 'direct' | 'port-forward';
  /** The Pod a port-forward goes to. */
  pod?: string;
  reachable: boolean;
  error?: string;
}

export interface ClusterNatsFigures {
  nats: NatsReach;
  progress?: Progress;
  lag?: { mapper?: StageLag; saver?: StageLag };
  rate?: Rate;
  natsServer?: NatsServerFigures;
  broadcast?: BroadcastOutcomes;
}

export interface NatsOverrides {
  /** Use this URL as it is, instead of the Pipeline's. */
  natsUrl?: string | undefined;
  monitorUrl?: string | undefined;
}

export interface PipelineRef {
  name: string;
  natsUrl: string;
  credentialsSecret?: string | undefined;
  hasBroadcaster: boolean;
  knownTotal?: number | undefined;
}

/** A Service address of the cluster: `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`. Pure. */
export function serviceOf(
  host: string,
  defaultNamespace: string,
): { service: string; namespace: string } | undefined {
  const m =
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(?:\.([a-z0-9]([-a-z0-9]*[a-z0-9])?))?(?:\.svc(?:\.[a-z0-9.-]+)?)?$/.exec(
      host,
    );
  if (!m?.[1] || host === 'localhost') return undefined;
  return { service: m[1], namespace: m[3] ?? defaultNamespace };
}

const LOOKUP_TIMEOUT_MS = 1500;

class ForwardError extends Error {}

interface Access {
  url: string;
  reach: Omit<NatsReach, 'reachable' | 'error'>;
  monitorUrl: string | undefined;
  forward?: Forward;
}

export class NatsProbe {
  readonly #cluster: Cluster;
  readonly #overrides: NatsOverrides;
  readonly #clock: () => number;
  readonly #rate = new RateTracker();
  readonly #server = new ServerStatsTracker();
  #access: Access | undefined;
  #nc: NatsConnection | undefined;
  #authReader: NatsAuthReader | undefined;

  constructor(cluster: Cluster, overrides: NatsOverrides = {}, clock: () => number = Date.now) {
    this.#cluster = cluster;
    this.#overrides = overrides;
    this.#clock = clock;
  }

  async read(p: PipelineRef): Promise<ClusterNatsFigures> {
    const url = this.#overrides.natsUrl ?? p.natsUrl;
    let access: Access | undefined;
    try {
      if (this.#access && this.#access.reach.url !== url) await this.#reset(); // the spec changed
      access = this.#access ??= await this.#open(url);
      if (!this.#nc || this.#nc.isClosed()) {
        this.#nc = await connectNats({
          servers: access.url,
          name: 'dwk-status',
          timeoutMs: 3000,
          auth: await this.#auth(p.credentialsSecret),
        });
      }
      const reader = await progressReader(this.#nc, p.name, p.knownTotal);
      const [figures, server, broadcast] = await Promise.all([
        reader.read(),
        access.monitorUrl ? readServerFigures(access.monitorUrl).catch(() => undefined) : undefined,
        p.hasBroadcaster ? reader.broadcastOutcomes().catch(() => undefined) : undefined,
      ]);
      const now = this.#clock();
      const rate = this.#rate.add(now, figures.progress);
      return {
        nats: { ...access.reach, reachable: true },
        progress: figures.progress,
        lag: figures.lag,
        // One sample has no rate: leave it out rather than print 0/s.
        ...(rate.chunksPerSecond > 0 || rate.etaSeconds === 0 ? { rate } : {}),
        ...(server ? { natsServer: this.#server.add(now, server) } : {}),
        ...(broadcast ? { broadcast } : {}),
      };
    } catch (err) {
      const forwardError = access?.forward?.lastError();
      await this.#reset();
      const message = (err as Error).message;
      const via = access?.reach.via ?? (err instanceof ForwardError ? 'port-forward' : 'direct');
      return {
        nats: {
          url,
          via,
          ...(access?.reach.pod ? { pod: access.reach.pod } : {}),
          reachable: false,
          error: forwardError
            ? `${message} (port-forward to ${access?.reach.pod}: ${forwardError})`
            : message,
        },
      };
    }
  }

  async close(): Promise<void> {
    await this.#reset();
    this.#authReader?.close();
  }

  async #reset(): Promise<void> {
    await this.#nc?.close().catch(() => undefined);
    this.#nc = undefined;
    await this.#access?.forward?.close();
    this.#access = undefined;
  }

  async #open(url: string): Promise<Access> {
    const first = url.split(',')[0]?.trim() ?? url;
    const parsed = new URL(first.includes('://') ? first : `nats://${first}`);
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(parsed.port || 4222);
    const direct = (): Access => ({
      url,
      reach: { url, via: 'direct' },
      monitorUrl: this.#overrides.monitorUrl ?? `http://${isIP(host) === 6 ? `[${host}]` : host}:8222`,
    });
    if (this.#overrides.natsUrl !== undefined || isIP(host) || host === 'localhost') return direct();
    const svc = serviceOf(host, this.#cluster.namespace);
    if (!svc) return direct();
    const resolves = await Promise.race([
      lookup(host).then(
        () => true,
        () => false,
      ),
      sleep(LOOKUP_TIMEOUT_MS, undefined, { ref: false }).then(() => false),
    ]);
    if (resolves) return direct(); // inside the cluster, or a name this machine knows
    const forward = await forwardService(this.#cluster.client, svc.namespace, svc.service, [
      { port },
      { port: 'monitor', fallback: ['monitor', 8222] },
    ]).catch((err: Error) => {
      throw new ForwardError(
        `cannot port-forward to Service ${svc.namespace}/${svc.service}: ${err.message}`,
      );
    });
    const [natsPort, monitorPort] = forward.localPorts;
    if (natsPort === undefined) {
      await forward.close();
      throw new Error(`Service ${svc.namespace}/${svc.service} has no port ${port}`);
    }
    const monitorUrl =
      this.#overrides.monitorUrl ??
      (monitorPort === undefined ? undefined : `http://127.0.0.1:${monitorPort}`);
    return {
      url: `nats://127.0.0.1:${natsPort}`,
      reach: { url, via: 'port-forward', pod: forward.pod },
      monitorUrl,
      forward,
    };
  }

  /** The Pipeline's NATS credentials, read from its Secret as the workloads get them. */
  async #auth(secretName: string | undefined): Promise<NatsAuth | undefined> {
    if (!secretName) return undefined;
    this.#authReader ??= natsAuthReader(this.#cluster.client);
    return this.#authReader.read(this.#cluster.namespace, secretName);
  }
}
