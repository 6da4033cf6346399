/**
 * One claim per event id, in a KV bucket, taken with an atomic create before the POST: whoever
 * creates the key is the only one who may send that event, ever (until the key expires). The
 * record then says how it ended: sent, failed (rejected), or unknown.
 */
import type { KV } from '@nats-io/kv';
import { createHash, randomUUID } from 'node:crypto';

export type ClaimState = 'claimed' | 'sent' | 'failed' | 'unknown';

export interface ClaimRecord {
  state: ClaimState;
  /** Instance and process that took the claim. */
  owner: string;
  /** Random per attempt: tells our own claim from anyone else's after an unclear create. */
  claim: string;
  eventId: string;
  stream: string;
  seq: number;
  at: string;
  reason?: string;
}

export type TakeResult =
  | { owned: true; key: string; revision: number; record: ClaimRecord }
  | { owned: false; key: string; revision: number; record: ClaimRecord };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** KV keys allow few characters: a plain id is kept readable, anything else is hashed. */
export function claimKey(eventId: string): string {
  return /^[-_=A-Za-z0-9]{1,200}$/.test(eventId)
    ? `e.${eventId}`
    : `h.${createHash('sha256').update(eventId).digest('hex')}`;
}

export class Claims {
  private readonly kv: KV;
  private readonly owner: string;

  constructor(kv: KV, owner: string) {
    this.kv = kv;
    this.owner = owner;
  }

  /** Takes the claim, or returns who has it. Throws when neither can be known (NATS away). */
  async take(eventId: string, where: { stream: string; seq: number }): Promise<TakeResult> {
    const key = claimKey(eventId);
    const record: ClaimRecord = {
      state: 'claimed',
      owner: this.owner,
      claim: randomUUID(),
      eventId,
      stream: where.stream,
      seq: where.seq,
      at: new Date().toISOString(),
    };
    try {
      const revision = await this.kv.create(key, encoder.encode(JSON.stringify(record)));
      return { owned: true, key, revision, record };
    } catch (err) {
      // The key exists, or the create timed out and may have been stored: look which.
      const entry = await this.kv.get(key);
      if (entry && entry.operation === 'PUT') {
        const found = JSON.parse(decoder.decode(entry.value)) as ClaimRecord;
        return { owned: found.claim === record.claim, key, revision: entry.revision, record: found };
      }
      throw err;
    }
  }

  /** Records how a claim ended. False when someone changed it meanwhile (it was judged abandoned). */
  async settle(taken: TakeResult, state: Exclude<ClaimState, 'claimed'>, reason?: string): Promise<boolean> {
    const record: ClaimRecord = { ...taken.record, state, at: new Date().toISOString(), reason };
    try {
      await this.kv.update(taken.key, encoder.encode(JSON.stringify(record)), taken.revision);
      return true;
    } catch (err) {
      if (/wrong last sequence/i.test(String((err as Error).message))) return false;
      throw err;
    }
  }

  /** Gives the claim back after a certain "not sent", so a later attempt can take it. */
  async release(taken: TakeResult): Promise<void> {
    await this.kv.delete(taken.key, { previousSeq: taken.revision });
  }

  async get(eventId: string): Promise<ClaimRecord | undefined> {
    const entry = await this.kv.get(claimKey(eventId));
    return entry && entry.operation === 'PUT'
      ? (JSON.parse(decoder.decode(entry.value)) as ClaimRecord)
      : undefined;
  }
}
