/** Polls a pipeline's figures from NATS and keeps the latest; assembles the status. */
import type { Pipeline } from '../../api/v1alpha1/pipeline.ts';
import { isComplete } from '../../api/v1alpha1/status.ts';
import type { PipelineFigures } from '../../lib/nats/progress.ts';
import type { Clock } from './clock.ts';
import type { LocalPhase, LocalStatus, Rate } from './model.ts';
import { RateTracker } from './rate.ts';
import type { ComponentSnapshot } from './supervisor.ts';
import type { Component } from '../../api/v1alpha1/pipeline.ts';

export interface Figures {
  figures?: PipelineFigures;
  rate?: Rate;
  reachable: boolean;
  error?: string;
}

export class ProgressMonitor {
  readonly #read: () => Promise<PipelineFigures>;
  readonly #clock: Clock;
  readonly #rate = new RateTracker();
  #latest: Figures = { reachable: true };

  constructor(read: () => Promise<PipelineFigures>, clock: Clock) {
    this.#read = read;
    this.#clock = clock;
  }

  get latest(): Figures {
    return this.#latest;
  }

  /** Never throws: an unreachable NATS is a state to show, not a reason to stop. */
  async poll(): Promise<Figures> {
    try {
      const figures = await this.#read();
      this.#latest = { figures, rate: this.#rate.add(this.#clock.now(), figures.progress), reachable: true };
    } catch (err) {
      this.#latest = { ...this.#latest, reachable: false, error: (err as Error).message };
    }
    return this.#latest;
  }

  complete(): boolean {
    const p = this.#latest.figures?.progress;
    return p !== undefined && isComplete(p);
  }
}

export interface RunInfo {
  pipeline: Pipeline;
  pid: number;
  startedAt: string;
  dataDir: string;
  natsUrl: string;
  natsManaged: boolean;
  natsPid?: () => number | undefined;
  natsMonitorUrl?: string;
  sinkPath: string | undefined;
}

export function assembleStatus(
  run: RunInfo,
  phase: LocalPhase,
  components: Partial<Record<Component, ComponentSnapshot>>,
  latest: Figures,
): LocalStatus {
  const sink = run.pipeline.spec.saver.sink;
  return {
    pipeline: run.pipeline.metadata.name,
    mode: 'local',
    phase,
    pid: run.pid,
    startedAt: run.startedAt,
    dataDir: run.dataDir,
    nats: {
      url: run.natsUrl,
      managed: run.natsManaged,
      ...(run.natsPid?.() !== undefined ? { pid: run.natsPid() } : {}),
      ...(run.natsMonitorUrl !== undefined ? { monitorUrl: run.natsMonitorUrl } : {}),
      reachable: latest.reachable,
      ...(latest.error !== undefined && !latest.reachable ? { error: latest.error } : {}),
    },
    sink: { type: sink.type, ...(run.sinkPath !== undefined ? { path: run.sinkPath } : {}) },
    components,
    ...(latest.figures ? { progress: latest.figures.progress, lag: latest.figures.lag } : {}),
    ...(latest.rate ? { rate: latest.rate } : {}),
  };
}
