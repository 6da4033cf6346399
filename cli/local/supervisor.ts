/**
 * Keeps the right number of workload processes running per component, the way a Deployment
 * keeps its pods: a process that dies is started again with backoff, a scale-down stops the
 * highest-numbered instances with SIGTERM and a grace period. Processes and time are injected.
 */
import type { Component } from '../../api/v1alpha1/pipeline.ts';
import type { Clock } from './clock.ts';

export interface ProcessExit {
  code: number | null;
  signal: string | null;
  /** Set when the process could not be started at all. */
  error?: string;
}

export interface ProcessHandle {
  readonly pid: number | undefined;
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

export interface SpawnRequest {
  component: Component;
  /** e.g. `mapper-2`: the process's DWK_INSTANCE. */
  instance: string;
  index: number;
}

/** Starts a process; `onExit` is called exactly once, whatever happens, and never before it returns. */
export type SpawnFn = (request: SpawnRequest, onExit: (exit: ProcessExit) => void) => ProcessHandle;

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** A process that ran this long before dying starts again without delay growth. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 10_000, resetAfterMs: 10_000 };
export const DEFAULT_GRACE_MS = 10_000;

export type SupervisorEvent =
  | { type: 'started'; instance: string; pid: number | undefined; restarts: number }
  | { type: 'crashed'; instance: string; exit: ProcessExit; restartInMs: number; restarts: number }
  | { type: 'stopped'; instance: string; exit: ProcessExit }
  | { type: 'killed'; instance: string; graceMs: number }
  | { type: 'scaled'; component: Component; from: number; to: number };

export type InstancePhase = 'running' | 'backoff' | 'stopping';

export interface InstanceSnapshot {
  name: string;
  phase: InstancePhase;
  pid?: number;
  restarts: number;
  lastExit?: ProcessExit;
}

export interface ComponentSnapshot {
  desired: number;
  running: number;
  restarts: number;
  instances: InstanceSnapshot[];
}

interface Slot {
  component: Component;
  index: number;
  name: string;
  phase: InstancePhase;
  proc?: ProcessHandle;
  startedAt: number;
  failures: number;
  restarts: number;
  lastExit?: ProcessExit;
  timer?: unknown;
  /** Set when a stopping instance must start again once it is gone (scaled down, then up). */
  startAgain: boolean;
  exited?: () => void;
}

export interface SupervisorOptions {
  spawn: SpawnFn;
  clock: Clock;
  backoff?: Backoff;
  graceMs?: number;
  onEvent?: (event: SupervisorEvent) => void;
}

export function backoffDelay(failures: number, b: Backoff): number {
  return Math.min(b.initialMs * 2 ** Math.max(0, failures - 1), b.maxMs);
}

export class Supervisor {
  readonly #spawn: SpawnFn;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #graceMs: number;
  readonly #onEvent: (event: SupervisorEvent) => void;
  readonly #desired = new Map<Component, number>();
  readonly #slots = new Map<string, Slot>();
  readonly #restarts = new Map<Component, number>();
  #stopping: Promise<void> | undefined;

  constructor(options: SupervisorOptions) {
    this.#spawn = options.spawn;
    this.#clock = options.clock;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.#onEvent = options.onEvent ?? (() => {});
  }

  /** Sets the replicas of a component; returns the previous desired count. */
  scale(component: Component, replicas: number): number {
    if (this.#stopping) throw new Error('the supervisor is stopping');
    if (!Number.isInteger(replicas) || replicas < 0) throw new RangeError(`bad replicas ${replicas}`);
    const from = this.#desired.get(component) ?? 0;
    this.#desired.set(component, replicas);
    if (!this.#restarts.has(component)) this.#restarts.set(component, 0);
    if (from !== replicas) this.#onEvent({ type: 'scaled', component, from, to: replicas });
    this.#reconcile(component);
    return from;
  }

  desired(component: Component): number | undefined {
    return this.#desired.get(component);
  }

  snapshot(): Partial<Record<Component, ComponentSnapshot>> {
    const out: Partial<Record<Component, ComponentSnapshot>> = {};
    for (const [component, desired] of this.#desired) {
      const slots = [...this.#slots.values()]
        .filter((s) => s.component === component)
        .sort((a, b) => a.index - b.index);
      out[component] = {
        desired,
        running: slots.filter((s) => s.phase === 'running').length,
        restarts: this.#restarts.get(component) ?? 0,
        instances: slots.map((s) => ({
          name: s.name,
          phase: s.phase,
          ...(s.proc?.pid !== undefined && s.phase !== 'backoff' ? { pid: s.proc.pid } : {}),
          restarts: s.restarts,
          ...(s.lastExit ? { lastExit: s.lastExit } : {}),
        })),
      };
    }
    return out;
  }

  /** Pids of every process that may be alive, for a last-resort kill when dwk itself exits. */
  pids(): number[] {
    return [...this.#slots.values()]
      .filter((s) => s.phase !== 'backoff' && s.proc?.pid !== undefined)
      .map((s) => s.proc?.pid as number);
  }

  /** SIGTERM to every process, SIGKILL after the grace period; resolves once all have exited. */
  stop(): Promise<void> {
    this.#stopping ??= Promise.all(
      [...this.#slots.values()].map(
        (slot) =>
          new Promise<void>((resolve) => {
            slot.startAgain = false;
            if (slot.phase === 'backoff') {
              this.#clock.clearTimeout(slot.timer);
              this.#slots.delete(slot.name);
              return resolve();
            }
            slot.exited = resolve;
            if (slot.phase === 'running') this.#terminate(slot);
          }),
      ),
    ).then(() => undefined);
    return this.#stopping;
  }

  /** Stop without grace (a second Ctrl-C): SIGKILL to every process; resolves once all are gone. */
  forceStop(): Promise<void> {
    const stopped = this.stop();
    for (const slot of this.#slots.values()) if (slot.phase === 'stopping') slot.proc?.kill('SIGKILL');
    return stopped;
  }

  #reconcile(component: Component): void {
    const desired = this.#desired.get(component) ?? 0;
    for (const slot of this.#slots.values()) {
      if (slot.component !== component) continue;
      if (slot.index >= desired) {
        slot.startAgain = false;
        if (slot.phase === 'running') this.#terminate(slot);
        else if (slot.phase === 'backoff') {
          this.#clock.clearTimeout(slot.timer);
          this.#slots.delete(slot.name);
        }
      } else if (slot.phase === 'stopping') {
        slot.startAgain = true;
      }
    }
    for (let index = 0; index < desired; index++) {
      const name = `${component}-${index}`;
      if (!this.#slots.has(name)) this.#start(this.#newSlot(component, index, name));
    }
  }

  #newSlot(component: Component, index: number, name: string): Slot {
    const slot: Slot = {
      component,
      index,
      name,
      phase: 'running',
      startedAt: 0,
      failures: 0,
      restarts: 0,
      startAgain: false,
    };
    this.#slots.set(name, slot);
    return slot;
  }

  #start(slot: Slot): void {
    slot.phase = 'running';
    slot.startedAt = this.#clock.now();
    let proc: ProcessHandle | undefined;
    try {
      proc = this.#spawn({ component: slot.component, instance: slot.name, index: slot.index }, (exit) =>
        this.#exited(slot, proc, exit),
      );
    } catch (err) {
      this.#exited(slot, undefined, { code: null, signal: null, error: (err as Error).message });
      return;
    }
    slot.proc = proc;
    this.#onEvent({ type: 'started', instance: slot.name, pid: proc.pid, restarts: slot.restarts });
  }

  #terminate(slot: Slot): void {
    slot.phase = 'stopping';
    slot.proc?.kill('SIGTERM');
    slot.timer = this.#clock.setTimeout(() => {
      this.#onEvent({ type: 'killed', instance: slot.name, graceMs: this.#graceMs });
      slot.proc?.kill('SIGKILL');
    }, this.#graceMs);
  }

  #exited(slot: Slot, proc: ProcessHandle | undefined, exit: ProcessExit): void {
    // A late exit from a process this slot already replaced.
    if (proc !== undefined && slot.proc !== undefined && slot.proc !== proc) return;
    slot.lastExit = exit;
    if (slot.phase === 'stopping') {
      this.#clock.clearTimeout(slot.timer);
      this.#onEvent({ type: 'stopped', instance: slot.name, exit });
      if (slot.startAgain && !this.#stopping) {
        slot.startAgain = false;
        slot.failures = 0;
        this.#start(slot);
        return;
      }
      this.#slots.delete(slot.name);
      slot.exited?.();
      return;
    }
    // Died on its own: a Deployment restarts its pod whatever the exit code.
    if (this.#clock.now() - slot.startedAt >= this.#backoff.resetAfterMs) slot.failures = 0;
    slot.failures++;
    slot.restarts++;
    this.#restarts.set(slot.component, (this.#restarts.get(slot.component) ?? 0) + 1);
    const delay = backoffDelay(slot.failures, this.#backoff);
    slot.phase = 'backoff';
    this.#onEvent({
      type: 'crashed',
      instance: slot.name,
      exit,
      restartInMs: delay,
      restarts: slot.restarts,
    });
    slot.timer = this.#clock.setTimeout(() => this.#start(slot), delay);
  }
}
