/** Connecting to NATS: patient with backoff for workloads, quick and clear for the CLI. */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { credsAuthenticator } from '@nats-io/transport-node';
import { UnavailableError } from '../errors.ts';
import type { Logger } from '../log.ts';

export type { NatsConnection };

export interface NatsAuth {
  user?: string | undefined;
  password?: string | undefined;
  token?: string | undefined;
  credsFile?: string | undefined;
}

export interface ConnectOptions {
  servers: string;
  name: string;
  auth?: NatsAuth;
  /** Workloads: keep trying forever, first connect included, with exponential backoff; logs each failed first attempt. */
  persistent?: boolean;
  timeoutMs?: number;
  log?: Logger;
}

const authOptions = (auth: NatsAuth = {}) => ({
  ...(auth.user !== undefined ? { user: auth.user, pass: auth.password } : {}),
  ...(auth.token !== undefined ? { token: auth.token } : {}),
  ...(auth.credsFile !== undefined
    ? { authenticator: credsAuthenticator(readFileSync(auth.credsFile)) }
    : {}),
});

/** Reconnect and first-connect delay: 100 ms doubling to 5 s, jittered so replicas do not retry in lockstep. */
const backoffMs = (attempt: number) => Math.min(100 * 2 ** attempt, 5000) * (0.5 + Math.random() / 2);

/** host:port of each server, without any user:password a URL may carry. */
const hostsOf = (servers: string[]) =>
  servers.map((s) => {
    try {
      return new URL(s).host;
    } catch {
      return '?';
    }
  });

export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  const servers = options.servers.split(',').map((s) => s.trim());
  let reconnects = 0;
  const dial = () =>
    connect({
      servers,
      name: options.name,
      timeout: options.timeoutMs ?? 5000,
      ...authOptions(options.auth),
      ...(options.persistent
        ? { maxReconnectAttempts: -1, reconnectDelayHandler: () => backoffMs(reconnects++) }
        : { maxReconnectAttempts: 0 }),
    });
  if (!options.persistent) {
    try {
      return await dial();
    } catch (cause) {
      throw new UnavailableError(
        'nats',
        `cannot connect to NATS at ${options.servers}: ${String((cause as Error).message ?? cause)}`,
        { cause },
      );
    }
  }
  const nc = await dialUntilConnected(dial, hostsOf(servers), options.log);
  if (options.log) void watchStatus(nc, options.log, () => (reconnects = 0));
  return nc;
}

/**
 * The first connect of a workload, retried forever with backoff. Our own loop rather than the
 * client's waitOnFirstConnect, which retries silently at a fixed pace: whoever watches the logs of
 * a workload started before NATS sees each failed attempt and when the next one comes.
 */
async function dialUntilConnected(
  dial: () => Promise<NatsConnection>,
  hosts: string[],
  log: Logger | undefined,
): Promise<NatsConnection> {
  for (let failures = 0; ; failures++) {
    try {
      const nc = await dial();
      log?.info({ servers: hosts, attempts: failures + 1 }, 'Connected to NATS');
      return nc;
    } catch (err) {
      const retryInMs = Math.round(backoffMs(failures));
      log?.warn(
        { servers: hosts, attempt: failures + 1, retryInMs, err: String((err as Error).message ?? err) },
        `Cannot connect to NATS; retrying in ${(retryInMs / 1000).toFixed(1)} s`,
      );
      await sleep(retryInMs);
    }
  }
}

async function watchStatus(nc: NatsConnection, log: Logger, onReconnect: () => void): Promise<void> {
  for await (const s of nc.status()) {
    switch (s.type) {
      case 'disconnect':
        log.warn({ server: s.server }, 'Disconnected from NATS');
        break;
      case 'reconnect':
        onReconnect();
        log.info({ server: s.server }, 'Reconnected to NATS');
        break;
      case 'error':
        log.error({ err: s.error }, 'NATS connection error');
        break;
      default:
        break;
    }
  }
}
