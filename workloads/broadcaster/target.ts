/**
 * The four targets: where the POST goes and what it carries, as each service documents it.
 * Pure. The URL (or Telegram token) is a secret: nothing here puts it in an error message.
 */
import type { TargetType } from '../../api/v1alpha1/pipeline.ts';

export const TELEGRAM_API = 'https://api.telegram.org';

export interface Target {
  type: TargetType;
  /** The secret: a webhook URL, or for Telegram a bot token or a bot API URL. */
  secret: string;
  chatId: string | undefined;
  /** Telegram API base, overridable for tests. */
  telegramApi: string;
}

/** Telegram bot tokens look like `123456789:AAE...`. */
const TELEGRAM_TOKEN = /^\d+:[A-Za-z0-9_-]+$/;

const parseHttpUrl = (text: string): URL | undefined => {
  if (!URL.canParse(text)) return undefined;
  const url = new URL(text);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' ? url : undefined;
};

/** Problems with a target's configuration; never quotes the secret. */
export function targetProblems(t: Target, names: { url: string; chatId: string; api: string }): string[] {
  const problems: string[] = [];
  if (t.secret === '') return problems; // "required" is reported by the reader
  if (t.type === 'telegram') {
    if (!TELEGRAM_TOKEN.test(t.secret) && !parseHttpUrl(t.secret)) {
      problems.push(
        `${names.url} must be a Telegram bot token (123456:ABC...) or an http(s) URL; the value is a secret and is not shown`,
      );
    }
    if (t.chatId === undefined) problems.push(`${names.chatId} is required for a telegram target`);
    else if (!/^(-?\d+|@[A-Za-z0-9_]{4,})$/.test(t.chatId)) {
      problems.push(
        `${names.chatId} must be a numeric chat id or @channelusername (got ${JSON.stringify(t.chatId)})`,
      );
    }
    if (!parseHttpUrl(t.telegramApi)) problems.push(`${names.api} must be an http(s) URL`);
  } else if (!parseHttpUrl(t.secret)) {
    problems.push(
      `${names.url} is not a valid http(s) URL for the ${t.type} target; the value is a secret and is not shown`,
    );
  }
  return problems;
}

/** Where the POST goes. Assumes `targetProblems` found nothing. */
export function endpoint(t: Target): URL {
  if (t.type === 'telegram') {
    if (TELEGRAM_TOKEN.test(t.secret)) {
      return new URL(`${t.telegramApi.replace(/\/+$/, '')}/bot${t.secret}/sendMessage`);
    }
    const url = new URL(t.secret);
    if (!url.pathname.endsWith('/sendMessage'))
      url.pathname = `${url.pathname.replace(/\/+$/, '')}/sendMessage`;
    return url;
  }
  const url = new URL(t.secret);
  // Discord answers 204 before the message is saved unless asked to wait; with wait=true a 2xx means posted.
  if (t.type === 'discord' && !url.searchParams.has('wait')) url.searchParams.set('wait', 'true');
  return url;
}

/**
 * Every form in which the secret could show up in text: the value, the URL as normalised, its
 * path, each long path segment (a Discord or Telegram token alone), query values, the password.
 */
export function secretsOf(t: Pick<Target, 'type' | 'secret' | 'telegramApi'>): string[] {
  const out = new Set<string>([t.secret]);
  const token = TELEGRAM_TOKEN.test(t.secret) ? t.secret : undefined;
  if (token) {
    out.add(token.slice(token.indexOf(':') + 1));
  }
  const url = token
    ? parseHttpUrl(`${t.telegramApi.replace(/\/+$/, '')}/bot${token}/sendMessage`)
    : parseHttpUrl(t.secret);
  if (url) {
    out.add(url.href);
    out.add(url.pathname + url.search);
    if (url.password !== '') out.add(url.password);
    for (const segment of url.pathname.split('/')) {
      if (segment.length < 8 || /^[a-z]+$/i.test(segment)) continue; // "webhooks", "sendMessage"
      out.add(segment);
      out.add(decodeURIComponent(segment));
      if (/^bot\d+:/.test(segment)) {
        out.add(segment.slice(3));
        out.add(segment.slice(segment.indexOf(':') + 1));
      }
    }
    for (const value of url.searchParams.values()) if (value.length >= 8) out.add(value);
  }
  // Longest first, so a whole URL is redacted before its parts.
  return [...out].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

/** Removes every secret form from a text (error messages, response bodies). */
export function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((acc, s) => acc.split(s).join('[REDACTED]'), text);
}

const truncate = (text: string, max: number) => {
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
};

/** Slack treats &, < and > as control characters in `text`. */
const slackEscape = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** The JSON body of one message, in the target's own format and within its documented limits. */
export function requestBody(t: Pick<Target, 'type' | 'chatId'>, text: string): string {
  switch (t.type) {
    case 'discord':
      // content is at most 2000 characters; no mentions, so a todo titled "@everyone" pings nobody.
      return JSON.stringify({ content: truncate(text, 2000), allowed_mentions: { parse: [] } });
    case 'slack':
      return JSON.stringify({ text: slackEscape(truncate(text, 3000)) });
    case 'telegram': {
      const chatId = t.chatId ?? '';
      // text is 1-4096 characters; sent as plain text (no parse_mode), so nothing needs escaping.
      return JSON.stringify({
        chat_id: /^-?\d+$/.test(chatId) ? Number(chatId) : chatId,
        text: truncate(text, 4096),
      });
    }
    case 'generic':
      return JSON.stringify({ user: 'bot', message: text });
  }
}
