/**
 * Sorts what happened to one POST into the three classes that decide what the broadcaster may do
 * next. None of the services takes an idempotency key, so only a certain "not sent" is retried.
 * Pure.
 */

/** What the HTTP client saw. */
export type PostResult =
  | { kind: 'response'; status: number; headers: Record<string, string | string[] | undefined>; body: string }
  /** `sent` is false only when no byte of the request can have reached the target. */
  | { kind: 'error'; sent: boolean; code: string };

export type Verdict =
  | { kind: 'delivered' }
  /** Not sent, for certain: release the claim and try again after `delayMs` (when the target said). */
  | { kind: 'retry'; reason: 'rate_limited' | 'unreachable'; delayMs: number | undefined }
  /** The target refused this event (4xx other than 429): dead-letter it. */
  | { kind: 'rejected'; status: number; reason: string; targetBroken: boolean }
  /** It may have been posted: record it, never send it again. */
  | { kind: 'unknown'; reason: 'timeout' | 'connection_lost' | 'server_error'; detail: string };

/** Longest wait a target may impose; guards against a `retry_after` sent in milliseconds. */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

const header = (h: Record<string, string | string[] | undefined>, name: string) => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The wait a 429 asks for, in ms: the largest of `Retry-After` (seconds or an HTTP date),
 * Discord's `retry_after` and `X-RateLimit-Reset-After` (seconds, with decimals) and Telegram's
 * `parameters.retry_after`. Undefined when the response says nothing usable.
 */
export function retryAfterMs(
  headers: Record<string, string | string[] | undefined>,
  body: string,
  now: number,
): number | undefined {
  const waits: number[] = [];
  const retryAfter = header(headers, 'retry-after');
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (retryAfter.trim() !== '' && Number.isFinite(seconds)) waits.push(seconds * 1000);
    else if (!Number.isNaN(Date.parse(retryAfter))) waits.push(Date.parse(retryAfter) - now);
  }
  const resetAfter = Number(header(headers, 'x-ratelimit-reset-after'));
  if (Number.isFinite(resetAfter)) waits.push(resetAfter * 1000);
  try {
    const json = JSON.parse(body) as { retry_after?: unknown; parameters?: { retry_after?: unknown } };
    for (const v of [json.retry_after, json.parameters?.retry_after]) {
      if (typeof v === 'number' && Number.isFinite(v)) waits.push(v * 1000);
    }
  } catch {
    // not JSON: Slack answers text
  }
  const valid = waits.filter((w) => w >= 0);
  if (valid.length === 0) return undefined;
  return Math.min(Math.ceil(Math.max(...valid)), MAX_RETRY_AFTER_MS);
}

/** A 4xx that says the target itself is wrong (deleted webhook, bad token): every event would fail. */
const TARGET_BROKEN = new Set([401, 403, 404, 410]);

export function classify(result: PostResult, now: number): Verdict {
  if (result.kind === 'error') {
    if (!result.sent) return { kind: 'retry', reason: 'unreachable', delayMs: undefined };
    return result.code === 'TIMEOUT'
      ? { kind: 'unknown', reason: 'timeout', detail: 'no answer in time after the request was sent' }
      : {
          kind: 'unknown',
          reason: 'connection_lost',
          detail: `connection lost after sending (${result.code})`,
        };
  }
  const { status } = result;
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 429) {
    return { kind: 'retry', reason: 'rate_limited', delayMs: retryAfterMs(result.headers, result.body, now) };
  }
  if (status >= 500) {
    return { kind: 'unknown', reason: 'server_error', detail: `HTTP ${status}: ${snippet(result.body)}` };
  }
  // 4xx, and 1xx/3xx that a webhook never sends on success: the target did not take it.
  return {
    kind: 'rejected',
    status,
    reason: `HTTP ${status}: ${snippet(result.body)}`,
    targetBroken: TARGET_BROKEN.has(status),
  };
}

const snippet = (body: string) => body.replace(/\s+/g, ' ').trim().slice(0, 300) || '(empty body)';
