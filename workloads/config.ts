/**
 * Reads a workload's configuration from its environment, once, and reports every bad variable
 * at the same time. The variables are the contract of env.ts. No other workload file reads env.
 */
import { readFileSync } from 'node:fs';
import {
  COMPONENTS,
  DEFAULT_TRANSFORM,
  SINK_TYPES,
  TARGET_TYPES,
  type Component,
  type SinkType,
  type TargetType,
} from '../api/v1alpha1/pipeline.ts';
import { ConfigError } from '../lib/errors.ts';
import { credsProblem, type NatsAuth } from '../lib/nats/connect.ts';
import { NATS_URLS_RULE, isNatsUrls, normalizeNatsUrls } from '../lib/nats/url.ts';
import { TELEGRAM_API, targetProblems } from './broadcaster/target.ts';
import { DEFAULT_SINK_PATH, ENV } from './env.ts';
import { compileTransform, type Transform } from './mapper/handler.ts';

export interface CommonConfig {
  role: Component;
  pipeline: string;
  instance: string;
  httpPort: number;
  httpHost: string;
  /** Local mode: stop when this process (dwk up) is gone, even if it was SIGKILLed. */
  parentPid: number | undefined;
  logLevel: string;
  /** Normalised: every server with its scheme. */
  natsUrl: string;
  natsAuth: NatsAuth;
}

export type SourceConfig = { kind: 'generate'; objects: number; seed: number } | { kind: 'url'; url: string };

export interface FetcherConfig extends CommonConfig {
  role: 'fetcher';
  chunkSize: number;
  maxInFlight: number;
  /** Backlog (chunks not yet given to a mapper) above which the fetcher pauses. */
  maxPending: number;
  source: SourceConfig;
  /** Seconds without renewal after which a standby takes the leader lease. */
  leaseSeconds: number;
}

export interface ConsumerTuning {
  maxDeliver: number;
  ackWaitSeconds: number;
}

export interface MapperConfig extends CommonConfig, ConsumerTuning {
  role: 'mapper';
  concurrency: number;
  transform: string;
  /** `transform` compiled, so a bad expression is one of the problems listed at start. */
  compiledTransform: Transform;
  waitMinMs: number;
  waitMaxMs: number;
  cpuMs: number;
}

export interface SaverConfig extends CommonConfig, ConsumerTuning {
  role: 'saver';
  sink: { type: SinkType; path: string };
  /** Result messages written per batch (one fsync per batch). */
  batchSize: number;
}

export interface BroadcasterConfig extends CommonConfig {
  role: 'broadcaster';
  subjects: string[];
  targetType: TargetType;
  /** The secret: webhook URL, or Telegram bot token or URL. */
  targetUrl: string;
  chatId: string | undefined;
  /** Telegram Bot API base (tests point it at a local server). */
  telegramApi: string;
  /** Events in flight per replica and stream. */
  concurrency: number;
  /** A POST without an answer by then is ambiguous; must stay below the ack wait. */
  timeoutMs: number;
  ackWaitSeconds: number;
  /** Claim each event before sending. Off only to measure what the claim costs. */
  claim: boolean;
}

export type WorkloadConfig = FetcherConfig | MapperConfig | SaverConfig | BroadcasterConfig;

type Env = Record<string, string | undefined>;

/** Collects problems instead of throwing at the first one. */
class Reader {
  readonly problems: string[] = [];
  private readonly env: Env;
  constructor(env: Env) {
    this.env = env;
  }

  string(name: string, fallback?: string): string {
    const v = this.env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    this.problems.push(`${name} is required`);
    return '';
  }

  optional(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v === '' ? undefined : v;
  }

  int(name: string, min: number, max: number, fallback?: number): number {
    const raw = this.env[name];
    if ((raw === undefined || raw === '') && fallback !== undefined) return fallback;
    if (raw === undefined || raw === '') {
      this.problems.push(`${name} is required`);
      return min;
    }
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) {
      this.problems.push(`${name} must be an integer (got ${JSON.stringify(raw)})`);
      return min;
    }
    if (n < min || n > max) this.problems.push(`${name} must be between ${min} and ${max} (got ${n})`);
    return n;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
    const v = this.string(name, fallback);
    if (v !== '' && !allowed.includes(v as T)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
    }
    return v as T;
  }
}

/**
 * The creds file, read once. A Deployment names it whenever its Pipeline has a credentials Secret,
 * from a volume item that is optional: a Secret without a `creds` key leaves no file there, which
 * means no creds. A file that is there but no .creds file is a problem, not a login that fails for ever.
 */
function readCreds(r: Reader, path: string | undefined): Uint8Array | undefined {
  if (path === undefined) return undefined;
  let creds: Uint8Array;
  try {
    creds = new Uint8Array(readFileSync(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    r.problems.push(`${ENV.natsCredsFile} cannot be read: ${(err as Error).message}`);
    return undefined;
  }
  const problem = credsProblem(creds);
  if (problem !== undefined) {
    r.problems.push(`${ENV.natsCredsFile} ${path} is not a NATS .creds file: ${problem}`);
    return undefined;
  }
  return creds;
}

/** Compiled with the rest of the configuration, so its error is listed with the others. */
function compileMapperTransform(r: Reader, expression: string): Transform {
  try {
    return compileTransform(expression);
  } catch (err) {
    const error = err as Error;
    r.problems.push(`${ENV.mapperTransform} does not compile: ${error.message}`);
    // Never evaluated: the problem makes readConfig throw.
    return { evaluate: () => Promise.reject(error) };
  }
}

export function readConfig(env: Env): WorkloadConfig {
  const r = new Reader(env);
  const role = r.oneOf(ENV.role, COMPONENTS);
  const pipeline = r.string(ENV.pipeline);
  if (pipeline !== '' && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(pipeline)) {
    r.problems.push(`${ENV.pipeline} must be a lowercase DNS label (got ${JSON.stringify(pipeline)})`);
  }
  const natsUrl = r.string(ENV.natsUrl);
  if (natsUrl !== '' && !isNatsUrls(natsUrl)) {
    r.problems.push(`${ENV.natsUrl} must be ${NATS_URLS_RULE} (got ${JSON.stringify(natsUrl)})`);
  }
  const common: CommonConfig = {
    role,
    pipeline,
    instance: r.string(ENV.instance, `${role}-${process.pid}`),
    httpPort: r.int(ENV.httpPort, 0, 65535, 8080),
    httpHost: r.string(ENV.httpHost, '0.0.0.0'),
    parentPid: r.optional(ENV.parentPid) === undefined ? undefined : r.int(ENV.parentPid, 1, 2 ** 31),
    logLevel: r.oneOf(ENV.logLevel, ['trace', 'debug', 'info', 'warn', 'error'], 'info'),
    natsUrl: natsUrl === '' ? natsUrl : normalizeNatsUrls(natsUrl),
    natsAuth: {
      user: r.optional(ENV.natsUser),
      password: r.optional(ENV.natsPassword),
      token: r.optional(ENV.natsToken),
      creds: readCreds(r, r.optional(ENV.natsCredsFile)),
    },
  };
  const consumer = (): ConsumerTuning => ({
    maxDeliver: r.int(ENV.maxDeliver, 1, 100, 5),
    ackWaitSeconds: r.int(ENV.ackWaitSeconds, 1, 3600, 30),
  });

  let config: WorkloadConfig;
  switch (role) {
    case 'fetcher': {
      const url = r.optional(ENV.sourceUrl);
      const source: SourceConfig =
        url !== undefined
          ? { kind: 'url', url }
          : {
              kind: 'generate',
              objects: r.int(ENV.sourceObjects, 1, 1_000_000_000, 100_000),
              seed: r.int(ENV.sourceSeed, 0, Number.MAX_SAFE_INTEGER, 1),
            };
      if (url !== undefined && !/^(https?|file):\/\//.test(url) && url.includes('://')) {
        r.problems.push(`${ENV.sourceUrl} must be a file path, file://, http:// or https:// URL`);
      }
      config = {
        ...common,
        role,
        chunkSize: r.int(ENV.chunkSize, 1, 10_000, 100),
        maxInFlight: r.int(ENV.fetcherMaxInFlight, 1, 10_000, 64),
        maxPending: r.int(ENV.fetcherMaxPending, 1, 10_000_000, 10_000),
        source,
        leaseSeconds: r.int('DWK_LEASE_SECONDS', 2, 600, 10),
      };
      break;
    }
    case 'mapper': {
      const waitMinMs = r.int(ENV.workWaitMinMs, 0, 3_600_000, 0);
      const waitMaxMs = r.int(ENV.workWaitMaxMs, 0, 3_600_000, 0);
      if (waitMinMs > waitMaxMs) r.problems.push(`${ENV.workWaitMinMs} must not exceed ${ENV.workWaitMaxMs}`);
      const transform = r.string(ENV.mapperTransform, DEFAULT_TRANSFORM);
      config = {
        ...common,
        ...consumer(),
        role,
        concurrency: r.int(ENV.mapperConcurrency, 1, 1000, 4),
        transform,
        compiledTransform: compileMapperTransform(r, transform),
        waitMinMs,
        waitMaxMs,
        cpuMs: r.int(ENV.workCpuMs, 0, 3_600_000, 0),
      };
      break;
    }
    case 'saver': {
      const type = r.oneOf(ENV.sinkType, SINK_TYPES, 'jsonl');
      config = {
        ...common,
        ...consumer(),
        role,
        sink: { type, path: r.string(ENV.sinkPath, DEFAULT_SINK_PATH) },
        batchSize: r.int('DWK_SAVER_BATCH', 1, 1000, 32),
      };
      break;
    }
    case 'broadcaster': {
      const subjects = r
        .string(ENV.broadcastSubjects, 'todos.>')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const s of subjects) {
        if (!/^([^\s.*>]+|\*)(\.([^\s.*>]+|\*))*(\.>)?$|^>$/.test(s)) {
          r.problems.push(`${ENV.broadcastSubjects} has an invalid NATS subject ${JSON.stringify(s)}`);
        }
      }
      const targetType = r.oneOf(ENV.targetType, TARGET_TYPES);
      const targetUrl = r.string(ENV.targetUrl);
      const chatId = r.optional(ENV.targetChatId);
      const telegramApi = r.string('DWK_TELEGRAM_API_URL', TELEGRAM_API);
      if (TARGET_TYPES.includes(targetType)) {
        r.problems.push(
          ...targetProblems(
            { type: targetType, secret: targetUrl, chatId, telegramApi },
            { url: ENV.targetUrl, chatId: ENV.targetChatId, api: 'DWK_TELEGRAM_API_URL' },
          ),
        );
      }
      const ackWaitSeconds = r.int(ENV.ackWaitSeconds, 1, 3600, 30);
      const timeoutMs = r.int('DWK_TARGET_TIMEOUT_MS', 100, 60_000, Math.min(5000, ackWaitSeconds * 500));
      if (timeoutMs >= ackWaitSeconds * 1000) {
        r.problems.push(`DWK_TARGET_TIMEOUT_MS must be below ${ENV.ackWaitSeconds} (in ms)`);
      }
      config = {
        ...common,
        role,
        subjects,
        targetType,
        targetUrl,
        chatId,
        telegramApi,
        concurrency: r.int('DWK_BROADCAST_CONCURRENCY', 1, 64, 1),
        timeoutMs,
        ackWaitSeconds,
        claim: r.oneOf('DWK_BROADCAST_CLAIM', ['on', 'off'], 'on') === 'on',
      };
      break;
    }
    default:
      config = common as WorkloadConfig;
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
