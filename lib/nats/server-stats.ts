/**
 * NATS server figures from its monitoring endpoint (`/varz`, `/jsz`): what `dwk status` shows
 * next to the pipeline. Counters are totals since the server started; rates need two samples,
 * which `ServerStatsTracker` keeps (a restarted server resets its counters: no negative rates).
 */

export interface NatsServerTotals {
  inMsgs: number;
  outMsgs: number;
  inBytes: number;
  outBytes: number;
}

export interface NatsServerFigures {
  serverId: string;
  version: string;
  uptime: string;
  connections: number;
  slowConsumers: number;
  totals: NatsServerTotals;
  /** Per second since the previous sample; absent on the first one. */
  rates?: NatsServerTotals;
  jetstream?: { streams: number; consumers: number; messages: number; bytes: number };
}

interface Varz {
  server_id?: string;
  version?: string;
  uptime?: string;
  connections?: number;
  slow_consumers?: number;
  in_msgs?: number;
  out_msgs?: number;
  in_bytes?: number;
  out_bytes?: number;
}

interface Jsz {
  streams?: number;
  consumers?: number;
  messages?: number;
  bytes?: number;
}

async function getJson<T>(url: string, timeoutMs: number): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new Error(`cannot read the NATS monitoring endpoint ${url}: ${cause}`, { cause: err });
  }
  if (!res.ok) throw new Error(`the NATS monitoring endpoint ${url} answered ${res.status}`);
  return (await res.json()) as T;
}

/** One sample. Throws when the monitoring port cannot be read. */
export async function readServerFigures(monitorUrl: string, timeoutMs = 2000): Promise<NatsServerFigures> {
  const base = monitorUrl.replace(/\/+$/, '');
  const [varz, jsz] = await Promise.all([
    getJson<Varz>(`${base}/varz`, timeoutMs),
    // JetStream may be off on a shared server: its figures are optional.
    getJson<Jsz>(`${base}/jsz`, timeoutMs).catch(() => undefined),
  ]);
  return {
    serverId: varz.server_id ?? '',
    version: varz.version ?? '',
    uptime: varz.uptime ?? '',
    connections: varz.connections ?? 0,
    slowConsumers: varz.slow_consumers ?? 0,
    totals: {
      inMsgs: varz.in_msgs ?? 0,
      outMsgs: varz.out_msgs ?? 0,
      inBytes: varz.in_bytes ?? 0,
      outBytes: varz.out_bytes ?? 0,
    },
    ...(jsz
      ? {
          jetstream: {
            streams: jsz.streams ?? 0,
            consumers: jsz.consumers ?? 0,
            messages: jsz.messages ?? 0,
            bytes: jsz.bytes ?? 0,
          },
        }
      : {}),
  };
}

/** Adds per-second rates to each sample from the one before. Pure but for the clock passed in. */
export class ServerStatsTracker {
  #previous: { at: number; serverId: string; totals: NatsServerTotals } | undefined;

  add(at: number, figures: NatsServerFigures): NatsServerFigures {
    const prev = this.#previous;
    this.#previous = { at, serverId: figures.serverId, totals: figures.totals };
    const seconds = prev ? (at - prev.at) / 1000 : 0;
    // Another server, or the same one restarted, starts its counters again: no rate this time.
    if (!prev || seconds <= 0 || prev.serverId !== figures.serverId) return figures;
    const per = (k: keyof NatsServerTotals) => Math.max(0, figures.totals[k] - prev.totals[k]) / seconds;
    return {
      ...figures,
      rates: {
        inMsgs: per('inMsgs'),
        outMsgs: per('outMsgs'),
        inBytes: per('inBytes'),
        outBytes: per('outBytes'),
      },
    };
  }
}
