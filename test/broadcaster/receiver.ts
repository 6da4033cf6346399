/**
 * Loopback stand-ins for the four chat services. Each checks a request the way the real API
 * documents it (path with the token, method, content type, body fields and limits) and answers
 * the way the real one does, so a wrong format fails the test rather than a real chat.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TargetType } from '../../api/v1alpha1/pipeline.ts';

export interface Delivery {
  text: string;
  body: Record<string, unknown>;
  at: number;
}

export interface RequestLog {
  at: number;
  status: number | 'hang' | 'destroy';
  text: string | undefined;
}

/** A scripted answer: an HTTP reply, a request left hanging, or a connection cut after reading. */
export type Scripted =
  { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'destroy';

export interface ReceiverOptions {
  type: TargetType;
  /** The secret part: webhook token, or the part of the Telegram bot token after the colon. */
  token: string;
  chatId?: string;
  /** Overrides the answer for a valid request; undefined keeps the normal success. */
  script?: (text: string, n: number) => Scripted | undefined;
  /** A fixed port, e.g. to come up where a broadcaster has been failing to connect. */
  port?: number;
}

export interface Receiver {
  /** What DWK_TARGET_URL holds (for Telegram: the bot token; DWK_TELEGRAM_API_URL is `base`). */
  secret: string;
  base: string;
  delivered: Delivery[];
  requests: RequestLog[];
  /** Format errors: anything here fails the test. */
  invalid: string[];
  counts(): Map<string, number>;
  close(): Promise<void>;
}

const DISCORD_ID = '112233445566778899';
const BOT_ID = '987654321';

const json = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
};
const text = (res: ServerResponse, status: number, value: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'text/html', ...headers });
  res.end(value);
};

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

type Checked =
  { text: string; body: Record<string, unknown> } | { status: number; reply: unknown; textual?: boolean };

interface Incoming {
  method: string | undefined;
  url: URL;
  isJson: boolean;
  body: Record<string, unknown> | undefined;
}

const tooLong = (t: string, max: number) => [...t].length > max;

/** POST /webhooks/{webhook.id}/{webhook.token}; wait=true so a 2xx means the message was saved. */
function checkDiscord(o: ReceiverOptions, r: Incoming): Checked {
  const empty = { status: 400, reply: { message: 'Cannot send an empty message', code: 50006 } };
  if (r.method !== 'POST' || r.url.pathname !== `/api/webhooks/${DISCORD_ID}/${o.token}`) {
    return { status: 401, reply: { message: 'Invalid Webhook Token', code: 50027 } };
  }
  if (r.url.searchParams.get('wait') !== 'true')
    return { status: 400, reply: { message: 'dwk expects wait=true' } };
  const content = r.body?.content;
  if (!r.isJson || typeof content !== 'string' || content.length === 0) return empty;
  if (tooLong(content, 2000)) return { status: 400, reply: { code: 50035, message: 'Invalid Form Body' } };
  const am = r.body?.allowed_mentions as { parse?: unknown } | undefined;
  const kinds = ['roles', 'users', 'everyone'];
  if (am !== undefined && (!Array.isArray(am.parse) || am.parse.some((p) => !kinds.includes(String(p))))) {
    return { status: 400, reply: { code: 50035, message: 'Invalid Form Body' } };
  }
  return { text: content, body: r.body ?? {} };
}

/** POST https://hooks.slack.com/services/T…/B…/…, JSON with `text`; success is 200 "ok". */
function checkSlack(o: ReceiverOptions, r: Incoming): Checked {
  if (r.method !== 'POST' || r.url.pathname !== `/services/T0DWK0000/B0DWK0000/${o.token}`) {
    return { status: 404, reply: 'no_service', textual: true };
  }
  if (!r.isJson || !r.body) return { status: 400, reply: 'invalid_payload', textual: true };
  if (typeof r.body.text !== 'string' || r.body.text === '')
    return { status: 400, reply: 'no_text', textual: true };
  return { text: r.body.text, body: r.body };
}

/** POST https://api.telegram.org/bot<token>/sendMessage with chat_id and text (1-4096 characters). */
function checkTelegram(o: ReceiverOptions, r: Incoming): Checked {
  const bad = (description: string) => ({ status: 400, reply: { ok: false, error_code: 400, description } });
  if (r.url.pathname !== `/bot${BOT_ID}:${o.token}/sendMessage`) {
    return { status: 401, reply: { ok: false, error_code: 401, description: 'Unauthorized' } };
  }
  if (r.method !== 'POST' || !r.isJson || !r.body) return bad('Bad Request: message text is empty');
  const chat = r.body.chat_id;
  const chatOk =
    (typeof chat === 'number' && Number.isInteger(chat)) ||
    (typeof chat === 'string' && chat.startsWith('@'));
  if (!chatOk || String(chat) !== o.chatId) return bad('Bad Request: chat not found');
  const t = r.body.text;
  if (typeof t !== 'string' || t.trim() === '' || tooLong(t, 4096))
    return bad('Bad Request: message text is empty');
  return { text: t, body: r.body };
}

/** The classic exercise's shape, exactly: {"user": "bot", "message": "..."}. */
function checkGeneric(o: ReceiverOptions, r: Incoming): Checked {
  if (r.method !== 'POST' || r.url.pathname !== '/notify' || r.url.searchParams.get('key') !== o.token) {
    return { status: 403, reply: { error: 'forbidden' } };
  }
  const b = r.body;
  const keys = b ? Object.keys(b).sort().join(',') : '';
  if (!r.isJson || !b || keys !== 'message,user' || b.user !== 'bot' || typeof b.message !== 'string') {
    return { status: 400, reply: { error: 'expected {"user":"bot","message":"..."}' } };
  }
  return { text: b.message, body: b };
}

const CHECKS = { discord: checkDiscord, slack: checkSlack, telegram: checkTelegram, generic: checkGeneric };

/** Checks one request: the message text, or the error the real service would answer. */
function check(o: ReceiverOptions, req: IncomingMessage, raw: string): Checked {
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      body = parsed as Record<string, unknown>;
    }
  } catch {
    body = undefined;
  }
  return CHECKS[o.type](o, {
    method: req.method,
    url: new URL(req.url ?? '/', 'http://x'),
    isJson: (req.headers['content-type'] ?? '').startsWith('application/json'),
    body,
  });
}

function success(o: ReceiverOptions, res: ServerResponse, t: string, n: number) {
  switch (o.type) {
    case 'discord':
      return json(res, 200, {
        id: String(1e17 + n),
        type: 0,
        content: t,
        channel_id: '1',
        webhook_id: DISCORD_ID,
      });
    case 'slack':
      return text(res, 200, 'ok');
    case 'telegram':
      return json(res, 200, {
        ok: true,
        result: {
          message_id: n,
          date: Math.floor(Date.now() / 1000),
          chat: { id: Number(o.chatId) },
          text: t,
        },
      });
    case 'generic':
      return json(res, 200, { ok: true });
  }
}

export async function startReceiver(o: ReceiverOptions): Promise<Receiver> {
  const delivered: Delivery[] = [];
  const requests: RequestLog[] = [];
  const invalid: string[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    void readBody(req).then((raw) => {
      const at = Date.now();
      const r = check(o, req, raw);
      if (!('text' in r)) {
        invalid.push(`${r.status} ${JSON.stringify(r.reply)}`);
        requests.push({ at, status: r.status, text: undefined });
        return r.textual ? text(res, r.status, String(r.reply)) : json(res, r.status, r.reply);
      }
      const scripted = o.script?.(r.text, n++);
      if (scripted === 'hang') {
        requests.push({ at, status: 'hang', text: r.text });
        return; // never answered; the broadcaster times out
      }
      if (scripted === 'destroy') {
        requests.push({ at, status: 'destroy', text: r.text });
        req.socket.destroy();
        return;
      }
      if (scripted) {
        requests.push({ at, status: scripted.status, text: r.text });
        res.writeHead(scripted.status, { 'content-type': 'application/json', ...scripted.headers });
        res.end(scripted.body ?? '');
        return;
      }
      requests.push({ at, status: 200, text: r.text });
      delivered.push({ text: r.text, body: r.body, at });
      success(o, res, r.text, n);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const secret = {
    discord: `${base}/api/webhooks/${DISCORD_ID}/${o.token}`,
    slack: `${base}/services/T0DWK0000/B0DWK0000/${o.token}`,
    telegram: `${BOT_ID}:${o.token}`,
    generic: `${base}/notify?key=${o.token}`,
  }[o.type];
  return {
    secret,
    base,
    delivered,
    requests,
    invalid,
    counts() {
      const c = new Map<string, number>();
      for (const d of delivered) c.set(d.text, (c.get(d.text) ?? 0) + 1);
      return c;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
