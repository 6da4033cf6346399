/**
 * List, then watch, into a cache; every watch is assumed to drop. A watch that ends is resumed
 * from the last resourceVersion; a 410 (expired) or an error re-lists, with backoff on errors.
 * The server ends each watch after `timeoutSeconds`, so a silently stalled stream is replaced too.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  KubeApiError,
  type KubeClient,
  type KubeObject,
  type ResourceRef,
  type WatchEvent,
} from '../lib/kube/client.ts';
import type { Logger } from '../lib/log.ts';

export const keyOf = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** The key of the Pipeline that controls an owned object (its owner reference, else its instance label). */
export function ownerKeyOf(o: KubeObject): string | undefined {
  const refs = (o.metadata?.ownerReferences ?? []) as Array<{
    kind?: string;
    name?: string;
    controller?: boolean;
  }>;
  const owner = refs.find((r) => r.kind === 'Pipeline' && r.controller);
  const name = owner?.name ?? o.metadata?.labels?.['app.kubernetes.io/instance'];
  return name ? `${o.metadata?.namespace ?? ''}/${name}` : undefined;
}

/** A watch that ends sooner than this without an event counts as a failure (backoff). */
const SHORT_WATCH_MS = 1_000;
const backoffMs = (failures: number) => Math.min(500 * 2 ** failures, 30_000);

export interface InformerOptions {
  client: KubeClient;
  resource: ResourceRef;
  labelSelector?: string;
  log: Logger;
  onChange: (obj: KubeObject, type: 'ADDED' | 'MODIFIED' | 'DELETED') => void;
  timeoutSeconds?: number;
}

export class Informer<T extends KubeObject = KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly o: InformerOptions;
  private synced = false;
  private readonly stop = new AbortController();
  private syncWaiters: Array<() => void> = [];
  /** Times the informer (re)listed: a restart after a drop shows here. */
  relists = 0;
  /** The last failed list or watch, until a list succeeds: why the cache may be missing or stale. */
  lastError: Error | undefined;

  constructor(options: InformerOptions) {
    this.o = options;
  }

  get kind(): string {
    return this.o.resource.kind;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced || this.stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    void this.run();
  }

  /** Stops the informer; a pending waitForSync() resolves (check hasSynced()), so no one waits forever. */
  shutdown(): void {
    this.stop.abort();
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private async relist(): Promise<string> {
    const { client, resource, labelSelector } = this.o;
    const list = await client.list<T>(resource, labelSelector);
    this.relists++;
    const seen = new Set<string>();
    for (const item of list.items) {
      // Lists omit apiVersion/kind on items; watches have them. Keep them uniform.
      const obj = { apiVersion: resource.apiVersion, kind: resource.kind, ...item } as T;
      const key = keyOf(obj);
      seen.add(key);
      const before = this.cache.get(key);
      this.cache.set(key, obj);
      if (before?.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
        this.o.onChange(obj, before ? 'MODIFIED' : 'ADDED');
      }
    }
    for (const [key, obj] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.o.onChange(obj, 'DELETED');
      }
    }
    this.lastError = undefined;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return list.metadata.resourceVersion ?? '';
  }

  private apply(e: WatchEvent<T>): string | undefined {
    if (e.type === 'BOOKMARK') return e.object.metadata?.resourceVersion;
    if (e.type === 'ERROR') {
      const status = e.object as unknown as { code?: number; message?: string };
      throw new KubeApiError(status.code ?? 500, status.message ?? 'watch error');
    }
    const key = keyOf(e.object);
    if (e.type === 'DELETED') this.cache.delete(key);
    else this.cache.set(key, e.object);
    this.o.onChange(e.object, e.type);
    return e.object.metadata?.resourceVersion;
  }

  private async run(): Promise<void> {
    const { log, resource } = this.o;
    let rv: string | undefined;
    let failures = 0;
    while (!this.stop.signal.aborted) {
      try {
        rv ??= await this.relist();
        const watchedAt = Date.now();
        let events = 0;
        await this.o.client.watch<T>(
          resource,
          rv,
          (e) => {
            events++;
            rv = this.apply(e) ?? rv;
          },
          this.stop.signal,
          {
            ...(this.o.labelSelector ? { labelSelector: this.o.labelSelector } : {}),
            timeoutSeconds: this.o.timeoutSeconds ?? 300,
          },
        );
        if (this.stop.signal.aborted) return;
        if (events === 0 && Date.now() - watchedAt < SHORT_WATCH_MS) {
          // Closed at once with nothing in it (as client-go's "very short watch"): back off rather
          // than spin against a server or proxy that ends every watch; rv stays valid.
          failures++;
          const delay = backoffMs(failures);
          log.warn({ kind: resource.kind, delayMs: delay }, 'Watch closed at once; resuming after backoff');
          await sleep(delay, undefined, { signal: this.stop.signal }).catch(() => undefined);
        } else failures = 0; // the server closed a healthy watch: resume from rv
      } catch (err) {
        if (this.stop.signal.aborted) return;
        this.lastError = err as Error;
        const expired = err instanceof KubeApiError && err.status === 410;
        rv = undefined; // re-list: the cache may have missed events
        if (!expired) {
          failures++;
          const delay = backoffMs(failures);
          log.warn({ err, kind: resource.kind, delayMs: delay }, 'Watch failed; re-listing after backoff');
          await sleep(delay, undefined, { signal: this.stop.signal }).catch(() => undefined);
        }
      }
    }
  }
}

export const MONITORING_GROUP_VERSION = 'monitoring.coreos.com/v1';
const MONITORING_KINDS = ['ServiceMonitor', 'PodMonitor', 'Prometheus'] as const;
export type MonitoringKind = (typeof MONITORING_KINDS)[number];

export interface MonitoringState {
  /** The monitoring.coreos.com kinds the API server serves. */
  served: ReadonlySet<MonitoringKind>;
  /** Every Prometheus in the cluster (when its CRD is served and the list succeeded). */
  prometheuses: KubeObject[];
  /** Why the state is unknown: discovery or the Prometheus list failed, or has not answered yet. */
  error?: string;
}

export interface MonitoringInformersOptions {
  client: KubeClient;
  /** Where the owned monitors live (all namespaces when undefined); Prometheuses are watched everywhere. */
  namespace?: string;
  log: Logger;
  /** A ServiceMonitor or PodMonitor of ours changed or went. */
  onOwnedChange: (obj: KubeObject) => void;
  /** The served CRDs or a Prometheus' spec changed: every Pipeline's monitoring may differ. */
  onObservationChange: () => void;
  /** How often the served CRDs are re-checked (CRDs installed later are noticed this fast). */
  discoveryIntervalMs?: number;
  /**
   * How long a new informer may take to list before the Pipelines are reconciled anyway (and say
   * that the monitoring state is unknown). A just-installed CRD answers 429 for a moment.
   */
  syncWaitMs?: number;
}

/**
 * Informers for the monitoring.coreos.com kinds, started when their CRDs become served and stopped
 * when they go. Discovery needs no permission, so it is polled rather than watching CRDs.
 */
export class MonitoringInformers {
  private readonly o: MonitoringInformersOptions;
  private served = new Set<MonitoringKind>();
  private discoveryError: string | undefined = 'the monitoring API has not been discovered yet';
  private readonly informers = new Map<MonitoringKind, Informer>();
  /** Prometheus generations seen: a status-only update selects nothing new. */
  private readonly prometheusGenerations = new Map<string, number | undefined>();
  private timer: NodeJS.Timeout | undefined;
  private discovering = false;
  private stopped = false;

  constructor(options: MonitoringInformersOptions) {
    this.o = options;
  }

  /** Discovers and starts the informers of the served kinds; resolves once they listed, or after syncWaitMs. */
  async start(): Promise<void> {
    await this.discover();
    if (this.stopped) return; // shut down while discovering: no timer nobody would clear
    this.timer = setInterval(() => {
      if (this.discovering) return; // the last one still waits for its informers
      this.discovering = true;
      void this.discover().finally(() => (this.discovering = false));
    }, this.o.discoveryIntervalMs ?? 15_000);
  }

  shutdown(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const i of this.informers.values()) i.shutdown();
    this.informers.clear();
  }

  /** A ServiceMonitor or PodMonitor of ours as last seen, by namespace/name. */
  owned(kind: 'ServiceMonitor' | 'PodMonitor', key: string): KubeObject | undefined {
    return this.informers.get(kind)?.get(key);
  }

  state(): MonitoringState {
    if (this.discoveryError !== undefined)
      return { served: this.served, prometheuses: [], error: this.discoveryError };
    const prometheuses = this.informers.get('Prometheus');
    if (!prometheuses) return { served: this.served, prometheuses: [] };
    if (!prometheuses.hasSynced()) {
      const why = prometheuses.lastError?.message ?? 'no answer yet';
      return { served: this.served, prometheuses: [], error: `cannot list Prometheus resources: ${why}` };
    }
    return { served: this.served, prometheuses: prometheuses.list() };
  }

  private async discover(): Promise<void> {
    const { client, log } = this.o;
    let served: Set<MonitoringKind>;
    try {
      const list = await client.request<{ resources?: Array<{ kind: string; name: string }> }>(
        'GET',
        `/apis/${MONITORING_GROUP_VERSION}`,
      );
      // Subresources (prometheuses/status) repeat the kind; the resource itself has no slash.
      const kinds = (list.resources ?? []).filter((r) => !r.name.includes('/')).map((r) => r.kind);
      served = new Set(MONITORING_KINDS.filter((k) => kinds.includes(k)));
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) served = new Set();
      else {
        log.warn({ err }, 'Cannot discover the monitoring API; keeping what was seen before');
        if (this.discoveryError !== undefined)
          this.discoveryError = `cannot discover ${MONITORING_GROUP_VERSION}: ${(err as Error).message}`;
        return;
      }
    }
    const changed =
      this.discoveryError !== undefined ||
      served.size !== this.served.size ||
      [...served].some((k) => !this.served.has(k));
    // New informers list first, so that no reconcile meanwhile takes their empty cache for the truth.
    const started = new Map<MonitoringKind, Informer>();
    for (const kind of MONITORING_KINDS)
      if (served.has(kind) && !this.informers.has(kind)) started.set(kind, this.informerFor(kind));
    if (started.size > 0) {
      await Promise.race([
        Promise.all([...started.values()].map((i) => i.waitForSync())),
        sleep(this.o.syncWaitMs ?? 5_000, undefined, { ref: false }),
      ]);
    }
    if (this.stopped) {
      for (const i of started.values()) i.shutdown();
      return;
    }
    for (const [kind, informer] of started) this.informers.set(kind, informer);
    for (const [kind, running] of this.informers) {
      if (served.has(kind)) continue;
      running.shutdown();
      this.informers.delete(kind);
      if (kind === 'Prometheus') this.prometheusGenerations.clear();
    }
    this.discoveryError = undefined;
    this.served = served;
    if (changed) {
      log.info({ served: [...served] }, 'Monitoring API changed; reconciling every Pipeline');
      this.o.onObservationChange();
    }
  }

  private informerFor(kind: MonitoringKind): Informer {
    const { client, log, namespace } = this.o;
    const resource = { apiVersion: MONITORING_GROUP_VERSION, kind };
    const informer =
      kind === 'Prometheus'
        ? new Informer({
            client,
            resource,
            log,
            onChange: (obj, type) => {
              const key = keyOf(obj);
              const generation = obj.metadata?.generation;
              const before = this.prometheusGenerations.get(key);
              if (type === 'DELETED') this.prometheusGenerations.delete(key);
              else this.prometheusGenerations.set(key, generation);
              if (type !== 'MODIFIED' || before !== generation) this.o.onObservationChange();
            },
          })
        : new Informer({
            client,
            resource: { ...resource, ...(namespace ? { namespace } : {}) },
            labelSelector: 'app.kubernetes.io/managed-by=dwk',
            log,
            onChange: (obj) => this.o.onOwnedChange(obj),
          });
    informer.start();
    // Until the first list, state() says the Prometheuses are unknown: reconcile again once known.
    if (kind === 'Prometheus') void informer.waitForSync().then(() => this.o.onObservationChange());
    return informer;
  }
}
