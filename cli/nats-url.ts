/**
 * The --nats-url check, at parse time. Its own module with no heavy imports: commander calls it
 * while building the program, so it loads for `dwk --help` too.
 */
import { UserError } from '../lib/errors.ts';

/** NATS server URL(s), comma separated, as the NATS client takes them: nats:// or tls://, or host:port. */
export function parseNatsUrl(value: string): string {
  const urls = value.split(',').map((u) => u.trim());
  for (const url of urls) {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
    if (url === '' || (scheme !== undefined && scheme !== 'nats' && scheme !== 'tls')) {
      throw new UserError(`--nats-url: "${url}" is not a NATS URL`, {
        hint:
          scheme === 'http' || scheme === 'https'
            ? 'that is an HTTP address (the monitoring port?); clients use nats://HOST:4222'
            : 'use nats://HOST:PORT or tls://HOST:PORT, several separated by commas',
      });
    }
  }
  return urls.join(',');
}
