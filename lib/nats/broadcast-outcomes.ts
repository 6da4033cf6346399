/**
 * What the broadcasters of a pipeline did with their events, summed over every process that ever
 * ran: each one keeps its running counts under its own key in the pipeline's state bucket, so
 * `dwk status` reads them in a cluster and locally alike, without scraping each replica.
 */
import type { KV } from '@nats-io/kv';

export interface BroadcastOutcomes {
  delivered: number;
  /** POSTs certainly not sent (unreachable, 429), retried later. */
  failed: number;
  deadLettered: number;
  skippedDuplicate: number;
  unknown: number;
}

export const OUTCOME_KEYS = 'broadcaster.outcomes.>';

/** The key of one broadcaster process: its instance (pod) name and a per-process id. */
export function outcomesKey(instance: string, processId: string): string {
  return `broadcaster.outcomes.${instance.replace(/[^-\w]/g, '_')}.${processId.replace(/[^-\w]/g, '_')}`;
}

export const noOutcomes = (): BroadcastOutcomes => ({
  delivered: 0,
  failed: 0,
  deadLettered: 0,
  skippedDuplicate: 0,
  unknown: 0,
});

const decoder = new TextDecoder();

/** The sum over every process; undefined when no broadcaster has reported yet. */
export async function readBroadcastOutcomes(kv: KV): Promise<BroadcastOutcomes | undefined> {
  const keys: string[] = [];
  for await (const k of await kv.keys(OUTCOME_KEYS)) keys.push(k);
  if (keys.length === 0) return undefined;
  const entries = await Promise.all(keys.map((k) => kv.get(k)));
  const sum = noOutcomes();
  for (const e of entries) {
    if (!e || e.operation !== 'PUT') continue;
    const o = JSON.parse(decoder.decode(e.value)) as Partial<BroadcastOutcomes>;
    for (const k of Object.keys(sum) as Array<keyof BroadcastOutcomes>) sum[k] += Number(o[k] ?? 0);
  }
  return sum;
}
