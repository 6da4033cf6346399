/**
 * The --nats-url check, at parse time. Its own module with no heavy imports: commander calls it
 * while building the program, so it loads for `dwk --help` too.
 */
import { UserError } from '../lib/errors.ts';
import { NATS_URLS_RULE, isNatsUrls, normalizeNatsUrls, schemeOf } from '../lib/nats/url.ts';

/** NATS server URL(s), comma separated, by the rule the workloads and spec.nats.url follow; host:port gets nats://. */
export function parseNatsUrl(value: string): string {
  for (const url of value.split(',').map((u) => u.trim())) {
    if (isNatsUrls(url)) continue;
    const scheme = schemeOf(url);
    throw new UserError(`--nats-url: "${url}" is not a NATS URL`, {
      hint:
        scheme === 'http' || scheme === 'https'
          ? 'that is an HTTP address (the monitoring port?); clients use nats://HOST:4222'
          : scheme === 'ws' || scheme === 'wss'
            ? 'dwk cannot connect over websockets; use the client port, nats://HOST:4222'
            : `use ${NATS_URLS_RULE}`,
    });
  }
  return normalizeNatsUrls(value);
}
