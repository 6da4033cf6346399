/** What `dwk status --local` reports: the shape of `-o json`, shared by the views. Types only. */
import type { Component } from '../../api/v1alpha1/pipeline.ts';
import type { Progress } from '../../api/v1alpha1/status.ts';
import type { BroadcastOutcomes } from '../../lib/nats/broadcast-outcomes.ts';
import type { StageLag } from '../../lib/nats/progress.ts';
import type { NatsServerFigures } from '../../lib/nats/server-stats.ts';
import type { ComponentSnapshot } from './supervisor.ts';

export type LocalPhase = 'Starting' | 'Running' | 'Complete' | 'Stopping';

export interface Rate {
  /** Chunks saved or dead-lettered per second, over the last few seconds. */
  chunksPerSecond: number;
  /** Seconds until every chunk is done at that rate; absent while unknown. */
  etaSeconds?: number;
}

export interface LocalStatus {
  pipeline: string;
  mode: 'local';
  phase: LocalPhase;
  pid: number;
  startedAt: string;
  dataDir: string;
  nats: {
    url: string;
    /** True when dwk started the nats-server; its pid and monitoring URL are then known. */
    managed: boolean;
    pid?: number;
    monitorUrl?: string;
    reachable: boolean;
    error?: string;
  };
  sink?: { type: string; path?: string };
  components: Partial<Record<Component, ComponentSnapshot>>;
  progress?: Progress;
  lag?: { mapper?: StageLag; saver?: StageLag };
  rate?: Rate;
  /** From the nats-server's monitoring port, when dwk knows it (it started the server). */
  natsServer?: NatsServerFigures;
  /** Present once a broadcaster has reported. */
  broadcast?: BroadcastOutcomes;
}
