/** Connecting to NATS: patient with backoff for workloads, quick and clear for the CLI. */
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { normalizeNatsUrls } from './url.ts';

export type { NatsConnection };

export interface NatsAuth {
  user?: string | undefined;
  password?: string | undefined;
  token?: string | undefined;
  /**
   * The contents of a .creds file (user JWT and seed). Bytes, not a path: the controller reads
   * them from a Secret and has no writable filesystem to put them on.
   */
  creds?: Uint8Array | undefined;
}

export interface ConnectOptions {
  servers: string;
  name: string;
  auth?: NatsAuth;
  /** Workloads: keep trying forever, first connect included, with exponential backoff; logs each failed first attempt. */
  persistent?: boolean;
  /** Persistent: stop trying to connect once aborted; the promise then rejects with the abort reason. */
  signal?: AbortSignal;
  timeoutMs?: number;
  log?: Logger;
}

const authOptions = (auth: NatsAuth = {}) => ({
  ...(auth.user !== undefined ? { user: auth.user, pass: auth.password } : {}),
  ...(auth.token !== undefined ? { token: auth.token } : {}),
  ...(auth.creds !== undefined ? { authenticator: credsAuthenticator(auth.creds) } : {}),
});

/**
 * Why these creds cannot log in anyone, or undefined when they can: the client parses a .creds
 * file only when it dials, and a file it cannot parse would fail every dial for ever.
 */
export function credsProblem(creds: Uint8Array): string | undefined {
  try {
    // Parses the JWT and the seed, and signs with the seed, as at a real login.
    credsAuthenticator(creds)('nonce');
    return undefined;
  } catch (err) {
    return String((err as Error).message ?? err);
  }
}

/** Reconnect and first-connect delay: 100 ms doubling to 5 s, jittered so replicas do not retry in lockstep. */
const backoffMs = (attempt: number) => Math.min(100 * 2 ** attempt, 5000) * (0.5 + Math.random() / 2);

/**
 * The reconnect delay, by dials made. The client asks for a delay on every pass of its dial loop,
 * failed first dials and passes that only wait included, and dials once its last dial is that long
 * ago: a delay that grew with every pass would stay ahead of the clock up to the 5 s cap, so it
 * grows with each dial (the client's `reconnecting` status) and starts over on `reconnect`.
 */
function reconnectBackoff() {
  let dials = 0;
  let delayMs = backoffMs(0);
  return {
    delayMs: () => delayMs,
    dialing() {
      delayMs = backoffMs(dials++);
    },
    reset() {
      dials = 0;
      delayMs = backoffMs(0);
    },
  };
}

/** host:port of each server, without any user:password a URL may carry. */
const hostsOf = (servers: string[]) =>
  servers.map((s) => {
    try {
      return new URL(normalizeNatsUrls(s)).host;
    } catch {
      return '?';
    }
  });

export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  const servers = options.servers.split(',').map((s) => s.trim());
  const backoff = reconnectBackoff();
  const dial = () =>
    connect({
      servers,
      name: options.name,
      timeout: options.timeoutMs ?? 5000,
      ...authOptions(options.auth),
      ...(options.persistent
        ? { maxReconnectAttempts: -1, reconnectDelayHandler: backoff.delayMs }
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
  const nc = await dialUntilConnected(dial, hostsOf(servers), options.log, options.signal);
  // The first real disconnect starts at 100 ms, not where a slow first connect left off.
  backoff.reset();
  void watchStatus(nc, backoff, options.log);
  return nc;
}

/**
 * The first connect of a workload, retried forever with backoff until `signal` aborts. Our own
 * loop rather than the client's waitOnFirstConnect, which retries silently at a fixed pace: whoever
 * watches the logs of a workload started before NATS sees each failed attempt and when the next one comes.
 */
async function dialUntilConnected(
  dial: () => Promise<NatsConnection>,
  hosts: string[],
  log: Logger | undefined,
  signal: AbortSignal | undefined,
): Promise<NatsConnection> {
  for (let failures = 0; ; failures++) {
    signal?.throwIfAborted();
    try {
      const nc = await dialUnlessAborted(dial, signal);
      log?.info({ servers: hosts, attempts: failures + 1 }, 'Connected to NATS');
      return nc;
    } catch (err) {
      signal?.throwIfAborted();
      const retryInMs = Math.round(backoffMs(failures));
      log?.warn(
        { servers: hosts, attempt: failures + 1, retryInMs, err: String((err as Error).message ?? err) },
        `Cannot connect to NATS; retrying in ${(retryInMs / 1000).toFixed(1)} s`,
      );
      await sleep(retryInMs, undefined, signal ? { signal } : {}).catch(() => signal?.throwIfAborted());
    }
  }
}

/** A dial that gives up at once when `signal` aborts; a connection that still comes is closed. */
async function dialUnlessAborted(
  dial: () => Promise<NatsConnection>,
  signal: AbortSignal | undefined,
): Promise<NatsConnection> {
  if (!signal) return dial();
  const dialing = dial();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const nc = await Promise.race([dialing, aborted]);
    if (signal.aborted) void nc.close();
    signal.throwIfAborted();
    return nc;
  } catch (err) {
    if (signal.aborted) void dialing.then((nc) => nc.close()).catch(() => undefined);
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function watchStatus(
  nc: NatsConnection,
  backoff: ReturnType<typeof reconnectBackoff>,
  log: Logger | undefined,
): Promise<void> {
  for await (const s of nc.status()) {
    switch (s.type) {
      case 'reconnecting':
        backoff.dialing();
        break;
      case 'disconnect':
        log?.warn({ server: s.server }, 'Disconnected from NATS');
        break;
      case 'reconnect':
        backoff.reset();
        log?.info({ server: s.server }, 'Reconnected to NATS');
        break;
      case 'error':
        log?.error({ err: s.error }, 'NATS connection error');
        break;
      default:
        break;
    }
  }
}
