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

  constructor(options: InformerOptions) {
    this.o = options;
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
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    void this.run();
  }

  shutdown(): void {
    this.stop.abort();
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
        await this.o.client.watch<T>(
          resource,
          rv,
          (e) => {
            rv = this.apply(e) ?? rv;
          },
          this.stop.signal,
          {
            ...(this.o.labelSelector ? { labelSelector: this.o.labelSelector } : {}),
            timeoutSeconds: this.o.timeoutSeconds ?? 300,
          },
        );
        failures = 0; // the server closed a healthy watch: resume from rv
      } catch (err) {
        if (this.stop.signal.aborted) return;
        const expired = err instanceof KubeApiError && err.status === 410;
        rv = undefined; // re-list: the cache may have missed events
        if (!expired) {
          failures++;
          const delay = Math.min(500 * 2 ** failures, 30_000);
          log.warn({ err, kind: resource.kind, delayMs: delay }, 'Watch failed; re-listing after backoff');
          await sleep(delay, undefined, { signal: this.stop.signal }).catch(() => undefined);
        }
      }
    }
  }
}
