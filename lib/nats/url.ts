/**
 * The one rule for NATS server URLs, used by `--nats-url`, `spec.nats.url` (the CRD's CEL and
 * local validation) and the workloads' DWK_NATS_URL. No imports: the CLI loads it for `dwk --help`.
 */

/**
 * One server as the Node client dials it: nats:// or tls://, or a bare host[:port] as the nats
 * CLI takes it (the client's default port is 4222). No ws:// or wss://: the Node transport cannot
 * connect over websockets. No user:password@: the client ignores it; credentials go in a Secret.
 */
const SERVER =
  '((nats|tls)://)?([A-Za-z0-9_]([-A-Za-z0-9_.]*[A-Za-z0-9_])?|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?';

/** Servers separated by commas. RE2 (CEL's `matches`) and JavaScript read it alike. */
export const NATS_URLS_PATTERN = `^ *${SERVER} *(, *${SERVER} *)*$`;

/** What the rule asks for, for messages. */
export const NATS_URLS_RULE = 'nats://HOST:PORT, tls://HOST:PORT or HOST:PORT, several separated by commas';

const natsUrls = new RegExp(NATS_URLS_PATTERN);

export function isNatsUrls(value: string): boolean {
  return natsUrls.test(value);
}

/** The scheme of one server URL, lowercase, if it has one. */
export function schemeOf(url: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(url.trim())?.[1]?.toLowerCase();
}

/** Valid URLs as the client and logs like them: trimmed, and nats:// where no scheme was given. */
export function normalizeNatsUrls(value: string): string {
  return value
    .split(',')
    .map((u) => u.trim())
    .map((u) => (schemeOf(u) === undefined ? `nats://${u}` : u))
    .join(',');
}
