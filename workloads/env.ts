/**
 * The environment contract of the workloads: what a Deployment (or local mode) sets for each
 * component, derived from the spec. `config.ts` reads the same variables back. No I/O.
 */
import type { Component, PipelineSpec } from '../api/v1alpha1/pipeline.ts';
import { generatedObjects, DEFAULT_SEED } from '../api/v1alpha1/pipeline.ts';

export const ENV = {
  role: 'DWK_ROLE',
  pipeline: 'DWK_PIPELINE',
  instance: 'DWK_INSTANCE',
  httpPort: 'DWK_HTTP_PORT',
  httpHost: 'DWK_HTTP_HOST',
  parentPid: 'DWK_PARENT_PID',
  logLevel: 'DWK_LOG_LEVEL',
  natsUrl: 'DWK_NATS_URL',
  natsUser: 'DWK_NATS_USER',
  natsPassword: 'DWK_NATS_PASSWORD',
  natsToken: 'DWK_NATS_TOKEN',
  natsCredsFile: 'DWK_NATS_CREDS_FILE',
  chunkSize: 'DWK_CHUNK_SIZE',
  sourceObjects: 'DWK_SOURCE_OBJECTS',
  sourceSeed: 'DWK_SOURCE_SEED',
  sourceUrl: 'DWK_SOURCE_URL',
  fetcherMaxInFlight: 'DWK_FETCHER_MAX_IN_FLIGHT',
  fetcherMaxPending: 'DWK_FETCHER_MAX_PENDING',
  mapperConcurrency: 'DWK_MAPPER_CONCURRENCY',
  mapperTransform: 'DWK_MAPPER_TRANSFORM',
  workWaitMinMs: 'DWK_WORK_WAIT_MIN_MS',
  workWaitMaxMs: 'DWK_WORK_WAIT_MAX_MS',
  workCpuMs: 'DWK_WORK_CPU_MS',
  maxDeliver: 'DWK_MAX_DELIVER',
  ackWaitSeconds: 'DWK_ACK_WAIT_SECONDS',
  sinkType: 'DWK_SINK_TYPE',
  sinkPath: 'DWK_SINK_PATH',
  broadcastSubjects: 'DWK_BROADCAST_SUBJECTS',
  targetType: 'DWK_TARGET_TYPE',
  targetUrl: 'DWK_TARGET_URL',
  targetChatId: 'DWK_TARGET_CHAT_ID',
} as const;

/** Where the saver writes when the spec names no path. */
export const DEFAULT_SINK_PATH = 'results.jsonl';

/**
 * Variables a component needs, from the spec alone. Per-process values (instance, HTTP port,
 * NATS credentials, the target URL's secret) are added by whoever starts the process.
 */
export function workloadEnv(
  pipeline: string,
  spec: PipelineSpec,
  component: Component,
): Record<string, string> {
  const env: Record<string, string> = {
    [ENV.role]: component,
    [ENV.pipeline]: pipeline,
    [ENV.natsUrl]: spec.nats.url,
  };
  switch (component) {
    case 'fetcher':
      env[ENV.chunkSize] = String(spec.chunkSize);
      env[ENV.fetcherMaxInFlight] = String(spec.fetcher.maxInFlight);
      env[ENV.fetcherMaxPending] = String(spec.fetcher.maxPending);
      if (spec.source.url !== undefined) {
        env[ENV.sourceUrl] = spec.source.url;
      } else {
        env[ENV.sourceObjects] = String(generatedObjects(spec));
        env[ENV.sourceSeed] = String(spec.source.generate?.seed ?? DEFAULT_SEED);
      }
      break;
    case 'mapper':
      env[ENV.mapperConcurrency] = String(spec.mapper.concurrency);
      env[ENV.mapperTransform] = spec.mapper.transform;
      env[ENV.workWaitMinMs] = String(spec.mapper.work.waitMs.min);
      env[ENV.workWaitMaxMs] = String(spec.mapper.work.waitMs.max);
      env[ENV.workCpuMs] = String(spec.mapper.work.cpuMs);
      env[ENV.maxDeliver] = String(spec.mapper.maxDeliver);
      env[ENV.ackWaitSeconds] = String(spec.mapper.ackWaitSeconds);
      break;
    case 'saver':
      env[ENV.sinkType] = spec.saver.sink.type;
      env[ENV.maxDeliver] = String(spec.mapper.maxDeliver);
      env[ENV.ackWaitSeconds] = String(spec.mapper.ackWaitSeconds);
      if (spec.saver.sink.type === 'jsonl') env[ENV.sinkPath] = spec.saver.sink.path ?? DEFAULT_SINK_PATH;
      break;
    case 'broadcaster':
      if (spec.broadcaster) {
        env[ENV.broadcastSubjects] = spec.broadcaster.subjects.join(',');
        env[ENV.targetType] = spec.broadcaster.target.type;
        if (spec.broadcaster.target.chatId !== undefined)
          env[ENV.targetChatId] = spec.broadcaster.target.chatId;
      }
      break;
  }
  return env;
}
