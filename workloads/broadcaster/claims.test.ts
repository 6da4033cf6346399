import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judge, type ClaimRecord } from './claims.ts';

const here = { stream: 'DWK_TODOS', seq: 7, delivery: 3 };
const record = (over: Partial<ClaimRecord>): ClaimRecord => ({
  state: 'claimed',
  owner: 'broadcaster-0/abcd1234',
  claim: 'c',
  eventId: 'e',
  stream: 'DWK_TODOS',
  seq: 7,
  delivery: 2,
  at: '2026-01-01T00:00:00Z',
  ...over,
});

describe('judging a claim held by someone else', () => {
  it('takes over a claim an earlier delivery never marked sending: nothing went out', () => {
    assert.equal(judge(record({}), here), 'unsent');
  });

  it('calls a claim left sending by an earlier delivery ambiguous', () => {
    assert.equal(judge(record({ state: 'sending' }), here), 'ambiguous');
  });

  it('leaves a claim of the same or a later delivery alone, whatever its state', () => {
    for (const state of ['claimed', 'sending'] as const) {
      assert.equal(judge(record({ state, delivery: 3 }), here), 'newer_delivery');
      assert.equal(judge(record({ state, delivery: 4 }), here), 'newer_delivery');
    }
  });

  it('skips a settled claim, and one held for another message with the same event id', () => {
    for (const state of ['sent', 'failed', 'unknown'] as const) {
      assert.equal(judge(record({ state }), here), 'duplicate');
    }
    assert.equal(judge(record({ seq: 8 }), here), 'duplicate');
    assert.equal(judge(record({ stream: 'DWK_DEMO_EVENTS' }), here), 'duplicate');
  });

  it('never takes over a claim written before "sending" existed: its sender may have posted', () => {
    assert.equal(judge(record({ delivery: undefined }), here), 'ambiguous');
  });
});
