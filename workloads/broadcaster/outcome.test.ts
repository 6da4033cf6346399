import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, MAX_RETRY_AFTER_MS, retryAfterMs } from './outcome.ts';

const response = (status: number, headers: Record<string, string> = {}, body = '') =>
  ({ kind: 'response', status, headers, body }) as const;

describe('classify', () => {
  it('retries what certainly was not sent: a refused connection and a 429', () => {
    assert.deepEqual(classify({ kind: 'error', sent: false, code: 'ECONNREFUSED' }, 0), {
      kind: 'retry',
      reason: 'unreachable',
      delayMs: undefined,
    });
    assert.deepEqual(classify(response(429, { 'retry-after': '3' }), 0), {
      kind: 'retry',
      reason: 'rate_limited',
      delayMs: 3000,
    });
  });
  it('calls a timeout, a reset after sending and a 5xx unknown', () => {
    assert.equal(classify({ kind: 'error', sent: true, code: 'TIMEOUT' }, 0).kind, 'unknown');
    assert.equal(classify({ kind: 'error', sent: true, code: 'ECONNRESET' }, 0).kind, 'unknown');
    assert.equal(classify(response(502), 0).kind, 'unknown');
  });
  it('rejects a 4xx, and flags the ones that mean the target itself is wrong', () => {
    const v = classify(response(400, {}, '{"code":50006}'), 0);
    assert.deepEqual(v, {
      kind: 'rejected',
      status: 400,
      reason: 'HTTP 400: {"code":50006}',
      targetBroken: false,
    });
    assert.equal((classify(response(404), 0) as { targetBroken: boolean }).targetBroken, true);
  });
  it('delivers on 2xx', () => assert.equal(classify(response(204), 0).kind, 'delivered'));
});

describe('retryAfterMs', () => {
  it('takes the largest of Retry-After, Discord retry_after and Telegram parameters.retry_after', () => {
    assert.equal(retryAfterMs({ 'retry-after': '1' }, '{"retry_after": 2.5}', 0), 2500);
    assert.equal(retryAfterMs({}, '{"ok":false,"parameters":{"retry_after":7}}', 0), 7000);
    assert.equal(retryAfterMs({ 'x-ratelimit-reset-after': '0.25' }, '', 0), 250);
  });
  it('reads an HTTP date and caps absurd waits', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(retryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:04 GMT' }, '', now), 4000);
    assert.equal(retryAfterMs({ 'retry-after': '999999' }, '', 0), MAX_RETRY_AFTER_MS);
  });
  it('is undefined when nothing says how long', () =>
    assert.equal(retryAfterMs({}, 'slow down', 0), undefined));
});
