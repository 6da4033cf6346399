/** What every role gets from main.ts: connections, logger, metrics and the shutdown signal. */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from './metrics.ts';

export interface RoleContext {
  nc: NatsConnection;
  jsm: JetStreamManager;
  log: Logger;
  metrics: Metrics;
  /** Aborted on SIGTERM/SIGINT: stop taking new work. */
  stopping: AbortSignal;
  setReady(ready: boolean): void;
  /** Runs during shutdown, before the connection drains. */
  onStop(fn: () => Promise<void> | void): void;
}
