/** Prometheus metrics of the workloads: `dwk_` prefix, units in names, labels bounded. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { topology } from '../lib/nats/topology.ts';

/**
 * Which roles expose each dwk_ metric: a role serves only its own, so a saver never shows a
 * `dwk_chunks_published_total` stuck at 0. Every metric must be listed (metrics.test.ts checks).
 */
export const METRIC_ROLES: Record<string, readonly string[]> = {
  dwk_pipeline_info: ['fetcher', 'mapper', 'saver', 'broadcaster'],
  dwk_chunks_published_total: ['fetcher'],
  dwk_chunks_duplicate_total: ['fetcher'],
  dwk_objects_published_total: ['fetcher'],
  dwk_fetcher_leader: ['fetcher'],
  dwk_source_chunks_expected: ['fetcher'],
  dwk_source_chunks_dead_lettered: ['fetcher'],
  dwk_chunks_mapped_total: ['mapper'],
  dwk_objects_mapped_total: ['mapper'],
  dwk_chunks_in_flight: ['mapper'],
  dwk_chunks_saved_total: ['saver'],
  dwk_objects_saved_total: ['saver'],
  dwk_objects_skipped_duplicate_total: ['saver'],
  dwk_stage_duration_seconds: ['mapper', 'saver'],
  dwk_dead_letter_total: ['mapper', 'saver'],
  dwk_redeliveries_total: ['mapper', 'saver'],
  dwk_naks_total: ['mapper', 'saver'],
  dwk_broadcast_delivered_total: ['broadcaster'],
  dwk_broadcast_failed_total: ['broadcaster'],
  dwk_broadcast_dead_lettered_total: ['broadcaster'],
  dwk_broadcast_skipped_duplicate_total: ['broadcaster'],
  dwk_broadcast_unknown_outcome_total: ['broadcaster'],
  dwk_broadcast_request_duration_seconds: ['broadcaster'],
};

export function createMetrics(labels: { pipeline: string; component: string }) {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  const metrics = {
    registry,
    /** Joins dwk metrics to the NATS exporter's stream_name labels (stream names are upper case). */
    info: new Gauge({
      name: 'dwk_pipeline_info',
      help: "Always 1; stream_prefix is the prefix of this pipeline's JetStream stream names.",
      labelNames: ['stream_prefix'],
      registers: [registry],
    }),
    chunksPublished: counter('dwk_chunks_published_total', 'Chunks the fetcher stored in the chunks stream.'),
    chunksDuplicate: counter(
      'dwk_chunks_duplicate_total',
      'Publishes that JetStream recognised as duplicates (restarts, retries).',
    ),
    objectsPublished: counter('dwk_objects_published_total', 'Objects the fetcher published.'),
    chunksMapped: counter('dwk_chunks_mapped_total', 'Chunks a mapper finished and acknowledged.'),
    objectsMapped: counter('dwk_objects_mapped_total', 'Objects a mapper transformed.'),
    chunksSaved: counter('dwk_chunks_saved_total', 'Chunks a saver stored durably and acknowledged.'),
    objectsSaved: counter('dwk_objects_saved_total', 'Objects a saver wrote to its sink.'),
    objectsSkipped: counter(
      'dwk_objects_skipped_duplicate_total',
      'Objects a saver did not write again because the sink already had their id.',
    ),
    deadLetters: counter('dwk_dead_letter_total', 'Objects or chunks sent to the dead-letter stream.', [
      'kind',
      'reason',
    ]),
    redeliveries: counter('dwk_redeliveries_total', 'Messages received again after an earlier attempt.'),
    naks: counter('dwk_naks_total', 'Messages handed back for a later retry.'),
    stageDuration: new Histogram({
      name: 'dwk_stage_duration_seconds',
      help: 'Time to process one chunk in this stage.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'dwk_chunks_in_flight',
      help: 'Chunks being worked on now.',
      registers: [registry],
    }),
    broadcastDelivered: counter('dwk_broadcast_delivered_total', 'Events the chat target accepted (2xx).', [
      'target',
    ]),
    broadcastFailed: counter(
      'dwk_broadcast_failed_total',
      'Attempts that certainly did not reach the target, retried: rate_limited, unreachable, or claim_taken_over (its replica stopped after claiming, before sending; another sends it).',
      ['target', 'reason'],
    ),
    broadcastDeadLettered: counter(
      'dwk_broadcast_dead_lettered_total',
      'Events the target rejected (4xx other than 429), written to the broadcast dead-letter stream.',
      ['target'],
    ),
    broadcastDuplicates: counter(
      'dwk_broadcast_skipped_duplicate_total',
      'Events not sent because their id was already claimed (republished, redelivered).',
      ['target'],
    ),
    broadcastUnknown: counter(
      'dwk_broadcast_unknown_outcome_total',
      'Events that may or may not have been posted (timeout, reset, 5xx, a claim abandoned while sending); never re-sent. Alert on it.',
      ['target', 'reason'],
    ),
    broadcastRequestDuration: new Histogram({
      name: 'dwk_broadcast_request_duration_seconds',
      help: 'Time of one POST to the chat target.',
      labelNames: ['target'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'dwk_fetcher_leader',
      help: '1 while this fetcher holds the leader lease.',
      registers: [registry],
    }),
    /** What progress is measured against: chunks published so far would show 100 % mid-read. */
    sourceChunksExpected: new Gauge({
      name: 'dwk_source_chunks_expected',
      help: 'Chunks the whole source makes, once known: from the start for a generated source (objects / chunk size), once read to its end for a URL source. 0 while not known (a URL source being read, a standby fetcher).',
      registers: [registry],
    }),
    /** Done is saved or dead-lettered: without this, progress never reaches 100 % after a dead letter. */
    sourceChunksDeadLettered: new Gauge({
      name: 'dwk_source_chunks_dead_lettered',
      help: 'Chunks in the dead-letter stream (counted there, so restarts do not reset it), as the leading fetcher reads them each second from the end of the source until the run completes. 0 before, and on a standby fetcher.',
      registers: [registry],
    }),
  };
  metrics.info.set({ stream_prefix: topology(labels.pipeline).streams.chunks.replace(/_CHUNKS$/, '') }, 1);
  for (const [name, roles] of Object.entries(METRIC_ROLES)) {
    if (!roles.includes(labels.component)) registry.removeSingleMetric(name);
  }
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
