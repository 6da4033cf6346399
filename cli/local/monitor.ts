/** Polls a pipeline's figures from NATS and keeps the latest; assembles the status. */
import type { Pipeline } from '../../api/v1alpha1/pipeline.ts';
import { isComplete } from '../../api/v1alpha1/status.ts';
import type { BroadcastOutcomes } from '../../lib/nats/broadcast-outcomes.ts';
import type { PipelineFigures } from '../../lib/nats/progress.ts';
import { ServerStatsTracker, type NatsServerFigures } from '../../lib/nats/server-stats.ts';
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
  server?: NatsServerFigures;
  broadcast?: BroadcastOutcomes;
}

/** Optional figures beside the pipeline's own; each may fail alone without hiding the rest. */
export interface ExtraReaders {
  server?: () => Promise<NatsServerFigures>;
  broadcast?: () => Promise<BroadcastOutcomes | undefined>;
}

export class ProgressMonitor {
  readonly #read: () => Promise<PipelineFigures>;
  readonly #clock: Clock;
  readonly #extra: ExtraReaders;
  readonly #rate = new RateTracker();
  readonly #serverRates = new ServerStatsTracker();
  #latest: Figures = { reachable: true };

  constructor(read: () => Promise<PipelineFigures>, clock: Clock, extra: ExtraReaders = {}) {
    this.#read = read;
    this.#clock = clock;
    this.#extra = extra;
  }

  get latest(): Figures {
    return this.#latest;
  }

  /** Never throws: an unreachable NATS is a state to show, not a reason to stop. */
  async poll(): Promise<Figures> {
    const [server, broadcast] = await Promise.all([
      this.#extra.server?.().catch(() => undefined),
      this.#extra.broadcast?.().catch(() => this.#latest.broadcast),
    ]);
    const extras = {
      ...(server ? { server: this.#serverRates.add(this.#clock.now(), server) } : {}),
      ...(broadcast ? { broadcast } : {}),
    };
    try {
      const figures = await this.#read();
      const rate = this.#rate.add(this.#clock.now(), figures.progress);
      this.#latest = { figures, rate, reachable: true, ...extras };
    } catch (err) {
      const { server: _stale, ...kept } = this.#latest;
      this.#latest = { ...kept, ...extras, reachable: false, error: (err as Error).message };
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
    ...(latest.server ? { natsServer: latest.server } : {}),
    ...(latest.broadcast ? { broadcast: latest.broadcast } : {}),
  };
}
