/** Connecting to NATS: patient with backoff for workloads, quick and clear for the CLI. */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { readFileSync } from 'node:fs';
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
  /** Workloads: keep trying forever, first connect included, with exponential backoff. */
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

export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  const servers = options.servers.split(',').map((s) => s.trim());
  let attempt = 0;
  try {
    const nc = await connect({
      servers,
      name: options.name,
      timeout: options.timeoutMs ?? 5000,
      ...authOptions(options.auth),
      ...(options.persistent
        ? {
            waitOnFirstConnect: true,
            maxReconnectAttempts: -1,
            // 100 ms doubling to 5 s, with jitter so replicas do not reconnect in lockstep.
            reconnectDelayHandler: () => Math.min(100 * 2 ** attempt++, 5000) * (0.5 + Math.random() / 2),
          }
        : { maxReconnectAttempts: 0 }),
    });
    if (options.log) void watchStatus(nc, options.log, () => (attempt = 0));
    return nc;
  } catch (cause) {
    throw new UnavailableError(
      'nats',
      `cannot connect to NATS at ${options.servers}: ${String((cause as Error).message ?? cause)}`,
      {
        cause,
      },
    );
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
