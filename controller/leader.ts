/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: acquire when the lease is
 * free or expired (judged by our own clock since we last saw it change), renew every
 * `retryPeriod`, give up leading if renewal fails for `renewDeadline`, release on shutdown.
 *
 * Timing: a standby takes a dead leader's lease at most `leaseDuration` + 2 × `retryPeriod` after
 * the last renewal (it may see that renewal one poll late and acquire one poll late): 10 + 4 =
 * 14 s. A leader that cannot renew steps down after `renewDeadline` (7 s), before anyone may take
 * the lease (10 s). Idle traffic: the leader a GET and a PUT every `retryPeriod`, a standby a GET.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '../lib/errors.ts';
import { isConflict, isNotFound, type KubeClient, type KubeObject } from '../lib/kube/client.ts';
import type { Logger } from '../lib/log.ts';

export interface LeaderOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /**
   * How long shutdown waits for a renewal in flight, then for the release: a request may hang for
   * its 30 s timeout, longer than the process is given to exit (main.ts: 20 s).
   */
  releaseTimeoutMs?: number;
}

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** MicroTime: RFC 3339 with microseconds. */
const microTime = (d: Date) => d.toISOString().replace('Z', '000Z');

/** Waits for `p`, but no longer than `ms`; leaves no timer behind. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  const timer = new AbortController();
  try {
    await Promise.race([p, sleep(ms, undefined, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}

export class LeaderElector {
  private readonly o: Required<LeaderOptions>;
  private observed: { rv: string; at: number } | undefined;
  private leading = false;
  private lost = false;

  constructor(options: LeaderOptions) {
    this.o = {
      leaseDurationSeconds: 10,
      renewDeadlineMs: 7_000,
      retryPeriodMs: 2_000,
      releaseTimeoutMs: 3_000,
      ...options,
    };
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** True once this process has lost the leadership it had: it is only winding down to exit. */
  hasLostLeadership(): boolean {
    return this.lost;
  }

  private ref() {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace: this.o.namespace,
      name: this.o.name,
    };
  }

  /** One attempt to acquire or renew. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, identity, leaseDurationSeconds } = this.o;
    const now = new Date();
    const current = await client.getOrUndefined<Lease>(this.ref());
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: microTime(now),
      acquireTime: microTime(now),
      leaseTransitions: current?.spec?.leaseTransitions ?? 0,
    };
    if (!current) {
      try {
        await client.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec,
        });
        return true;
      } catch (err) {
        if (isConflict(err) || (err as { status?: number }).status === 409) return false;
        throw err;
      }
    }
    const rv = current.metadata?.resourceVersion ?? '';
    const holder = current.spec?.holderIdentity;
    if (holder && holder !== identity) {
      if (this.observed?.rv !== rv) {
        this.observed = { rv, at: Date.now() };
        return false;
      }
      const duration = (current.spec?.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
      if (Date.now() - this.observed.at < duration) return false;
    }
    if (holder === identity) spec.acquireTime = current.spec?.acquireTime ?? spec.acquireTime;
    else spec.leaseTransitions += 1;
    try {
      // PUT with the resourceVersion we read: the API server refuses it if someone else wrote first.
      await client.request(
        'PUT',
        `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases/${this.o.name}`,
        {
          ...current,
          spec,
        },
      );
      return true;
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Campaigns, then runs `lead` while this process leads; `lead` gets a signal that aborts when
   * `signal` does or leadership is lost. Resolves after `lead` on shutdown (`signal`), having
   * released the lease (rejects with its error, having released it, when `lead` fails). Rejects
   * after `lead` when leadership was lost: as with client-go and
   * controller-runtime, the process should exit and campaign anew after its restart, carrying no
   * cache or queue across terms.
   */
  async run(signal: AbortSignal, lead: (lost: AbortSignal) => Promise<void>): Promise<void> {
    const { log, identity, retryPeriodMs, renewDeadlineMs } = this.o;
    while (!signal.aborted) {
      let acquired = false;
      try {
        acquired = await this.tryAcquireOrRenew();
      } catch (err) {
        log.warn({ err }, 'Leader election attempt failed');
      }
      if (acquired) break;
      await sleep(retryPeriodMs, undefined, { signal }).catch(() => undefined);
    }
    if (signal.aborted) return;
    this.leading = true;
    log.info({ identity, lease: `${this.o.namespace}/${this.o.name}` }, 'Became the leader');
    const lost = new AbortController();
    const loseLeadership = (why: string) => {
      if (lost.signal.aborted) return;
      log.warn(why);
      this.leading = false;
      this.lost = true;
      lost.abort();
    };
    // A timer, not a check after each attempt: a renewal request may hang far longer than the
    // lease, and a standby may take the lease `leaseDuration` after it last saw it renewed.
    const stepDownIn = (ms: number) =>
      setTimeout(() => loseLeadership('Could not renew the lease in time; stepping down'), ms);
    let deadline = stepDownIn(renewDeadlineMs);
    const leadEnded = new AbortController();
    const renewing = (async () => {
      const stopRenewing = AbortSignal.any([signal, lost.signal, leadEnded.signal]);
      while (!stopRenewing.aborted) {
        await sleep(retryPeriodMs, undefined, { signal: stopRenewing }).catch(() => undefined);
        if (stopRenewing.aborted) break;
        const attemptAt = Date.now();
        try {
          if (!(await this.tryAcquireOrRenew())) loseLeadership('Another controller took the lease');
          else if (!lost.signal.aborted) {
            clearTimeout(deadline);
            deadline = stepDownIn(renewDeadlineMs - (Date.now() - attemptAt));
          }
        } catch (err) {
          log.warn({ err }, 'Renewing the lease failed');
        }
      }
    })();
    let failure: { err: unknown } | undefined;
    try {
      await lead(AbortSignal.any([signal, lost.signal]));
    } catch (err) {
      failure = { err };
    } finally {
      clearTimeout(deadline);
      leadEnded.abort();
      this.leading = false;
    }
    if (lost.signal.aborted && !signal.aborted) {
      // Lost: no release (the lease is another's, or will be), and no waiting for a renewal that
      // may hang; the caller exits.
      throw new UnavailableError(
        'leader lease',
        `lost the Lease ${this.o.namespace}/${this.o.name}; exiting so that a restart campaigns anew`,
      );
    }
    // Shut down, or `lead` failed: hand the lease back, each step bounded. A renewal landing after
    // the release conflicts with it (the resourceVersion moved) or, at worst, the lease expires.
    const { releaseTimeoutMs } = this.o;
    await within(renewing, releaseTimeoutMs);
    await within(this.release(), releaseTimeoutMs);
    if (failure) throw failure.err;
  }

  /** Lets a standby take over at once instead of waiting out the lease. */
  private async release(): Promise<void> {
    try {
      const current = await this.o.client.getOrUndefined<Lease>(this.ref());
      if (current?.spec?.holderIdentity !== this.o.identity) return;
      await this.o.client.request(
        'PUT',
        `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases/${this.o.name}`,
        {
          ...current,
          spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1 },
        },
      );
    } catch {
      // The lease expires on its own.
    }
  }
}
