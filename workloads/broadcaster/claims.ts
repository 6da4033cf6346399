/**
 * One claim per event id, in a KV bucket, taken in two steps: an atomic create ("claimed") before
 * the POST, then a compare-and-set to "sending" once the connection is up and just before the
 * request body is written. Whoever holds the claim at the revision it last wrote is the only one
 * who may send that event, ever (until the key expires). The record then says how it ended:
 * sent, failed (rejected), or unknown.
 *
 * The two steps tell a sender that stopped early from one that stopped mid-send: a claim still
 * "claimed" was provably never sent (its holder writes "sending" before any byte goes out), so a
 * later delivery of the same message may take it over; a claim left "sending" may have reached the
 * target and is never sent again. The takeover is itself a compare-and-set, which fences the old
 * holder: if it is only slow, its own write of "sending" fails and it sends nothing.
 */
import type { KV } from '@nats-io/kv';
import { createHash, randomUUID } from 'node:crypto';

export type ClaimState = 'claimed' | 'sending' | 'sent' | 'failed' | 'unknown';

export interface ClaimRecord {
  state: ClaimState;
  /** Instance and process that took the claim. */
  owner: string;
  /** Random per attempt: tells our own claim from anyone else's after an unclear create. */
  claim: string;
  eventId: string;
  stream: string;
  seq: number;
  /**
   * JetStream's delivery count of the message when it was claimed: only a later delivery may judge
   * the claim abandoned. Absent in claims written before "sending" existed.
   */
  delivery?: number;
  at: string;
  reason?: string;
  /** Owner of the unsent claim this one replaced. */
  tookOverFrom?: string;
}

/** The message being handled: where it is in its stream and how often it has been delivered. */
export interface Delivery {
  stream: string;
  seq: number;
  delivery: number;
}

/** A claim as last written or read, with the revision a compare-and-set must name. */
export interface ClaimEntry {
  key: string;
  revision: number;
  record: ClaimRecord;
}

export type TakeResult = ClaimEntry & { owned: boolean };

/** What a claim found held by someone else means for the delivery that found it. */
export type Finding =
  /** Settled, or held for another message with the same event id (a republish): skip it. */
  | 'duplicate'
  /** A later delivery of this message holds it: this copy waited too long; leave it to that one. */
  | 'newer_delivery'
  /** An earlier delivery claimed it and stopped before sending: take it over and send it. */
  | 'unsent'
  /** An earlier delivery stopped while sending, or an old-style claim: it may have been sent. */
  | 'ambiguous';

export function judge(found: ClaimRecord, here: Delivery): Finding {
  if (found.state !== 'claimed' && found.state !== 'sending') return 'duplicate';
  // The other message's own redelivery settles it: acking this copy loses nothing.
  if (found.stream !== here.stream || found.seq !== here.seq) return 'duplicate';
  // Written by a sender that did not mark "sending" before it posted (mixed versions in an upgrade).
  if (found.delivery === undefined) return 'ambiguous';
  if (found.delivery >= here.delivery) return 'newer_delivery';
  return found.state === 'claimed' ? 'unsent' : 'ambiguous';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** KV keys allow few characters: a plain id is kept readable, anything else is hashed. */
export function claimKey(eventId: string): string {
  return /^[-_=A-Za-z0-9]{1,200}$/.test(eventId)
    ? `e.${eventId}`
    : `h.${createHash('sha256').update(eventId).digest('hex')}`;
}

/** A compare-and-set that lost: someone else wrote (or deleted) the key since we read it. */
const lostRace = (err: unknown) => /wrong last sequence/i.test(String((err as Error).message));

export class Claims {
  private readonly kv: KV;
  private readonly owner: string;

  constructor(kv: KV, owner: string) {
    this.kv = kv;
    this.owner = owner;
  }

  private fresh(eventId: string, here: Delivery): ClaimRecord {
    return {
      state: 'claimed',
      owner: this.owner,
      claim: randomUUID(),
      eventId,
      stream: here.stream,
      seq: here.seq,
      delivery: here.delivery,
      at: new Date().toISOString(),
    };
  }

  /** Writes `record` over `from` if nobody changed it since; undefined when someone did. */
  private async swap(from: ClaimEntry, record: ClaimRecord): Promise<ClaimEntry | undefined> {
    try {
      const revision = await this.kv.update(from.key, encoder.encode(JSON.stringify(record)), from.revision);
      return { key: from.key, revision, record };
    } catch (err) {
      if (lostRace(err)) return undefined;
      throw err;
    }
  }

  /** Takes the claim, or returns who has it. Throws when neither can be known (NATS away). */
  async take(eventId: string, here: Delivery): Promise<TakeResult> {
    const key = claimKey(eventId);
    const record = this.fresh(eventId, here);
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

  /**
   * Replaces a claim that `judge` found "unsent" with a fresh one of ours. Undefined when someone
   * changed it first (its holder reached "sending", or another delivery took it over).
   */
  async takeOver(found: ClaimEntry, here: Delivery): Promise<ClaimEntry | undefined> {
    if (found.record.state !== 'claimed') return undefined;
    return this.swap(found, { ...this.fresh(found.record.eventId, here), tookOverFrom: found.record.owner });
  }

  /**
   * Marks our claim "sending": from here the event may reach the target. Undefined when the claim
   * was taken over meanwhile: then this attempt must not send. Throws when NATS did not answer
   * (the mark may or may not be stored; nothing may be sent either way).
   */
  async markSending(held: ClaimEntry): Promise<ClaimEntry | undefined> {
    return this.swap(held, { ...held.record, state: 'sending', at: new Date().toISOString() });
  }

  /** Records how a claim ended. False when someone changed it meanwhile (it was judged abandoned). */
  async settle(entry: ClaimEntry, state: 'sent' | 'failed' | 'unknown', reason?: string): Promise<boolean> {
    const record: ClaimRecord = { ...entry.record, state, at: new Date().toISOString(), reason };
    return (await this.swap(entry, record)) !== undefined;
  }

  /** Gives the claim back after a certain "not sent", so a later attempt can take it. */
  async release(held: ClaimEntry): Promise<void> {
    await this.kv.delete(held.key, { previousSeq: held.revision });
  }

  /**
   * Gives the claim back after a write whose outcome is unclear (a `markSending` that threw), when
   * this attempt certainly sent nothing: deletes it if it is still ours and unsettled, whatever
   * revision it is at. False when it is no longer ours to give.
   */
  async giveBack(held: ClaimEntry): Promise<boolean> {
    const entry = await this.kv.get(held.key);
    if (!entry || entry.operation !== 'PUT') return false;
    const found = JSON.parse(decoder.decode(entry.value)) as ClaimRecord;
    if (found.claim !== held.record.claim || (found.state !== 'claimed' && found.state !== 'sending')) {
      return false;
    }
    try {
      await this.kv.delete(held.key, { previousSeq: entry.revision });
      return true;
    } catch (err) {
      if (lostRace(err)) return false;
      throw err;
    }
  }

  async get(eventId: string): Promise<ClaimRecord | undefined> {
    const entry = await this.kv.get(claimKey(eventId));
    return entry && entry.operation === 'PUT'
      ? (JSON.parse(decoder.decode(entry.value)) as ClaimRecord)
      : undefined;
  }
}
