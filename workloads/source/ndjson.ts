/** NDJSON from a file or an http(s) URL, streamed line by line and cut into chunks: never loaded whole. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { UnavailableError } from '../../lib/errors.ts';

async function openLines(url: string, signal?: AbortSignal): Promise<AsyncIterable<string>> {
  if (/^https?:\/\//.test(url)) {
    let res: Response;
    try {
      res = await fetch(url, { signal: signal ?? null });
    } catch (err) {
      // fetch says only "fetch failed"; the reason (refused, DNS, TLS) is its cause. The message
      // carries it and no cause is chained, or the JSON log would print each reason twice.
      const reason = ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
      throw new UnavailableError('source', `cannot fetch ${url}: ${reason}`);
    }
    if (!res.ok || !res.body) throw new UnavailableError('source', `GET ${url} answered ${res.status}`);
    return createInterface({ input: Readable.fromWeb(res.body), crlfDelay: Infinity });
  }
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const stream = createReadStream(path, { encoding: 'utf8', signal });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (cause) =>
      reject(new UnavailableError('source', `cannot read ${path}: ${cause.message}`)),
    );
  });
  return createInterface({ input: stream, crlfDelay: Infinity });
}

/** Chunks of non-blank lines, starting at chunk `start` (earlier lines are skipped, not sent). */
export async function* ndjsonChunks(
  url: string,
  chunkSize: number,
  start: number,
  signal?: AbortSignal,
): AsyncGenerator<{ index: number; lines: string[] }> {
  const skip = start * chunkSize;
  let seen = 0;
  let index = start;
  let lines: string[] = [];
  for await (const line of await openLines(url, signal)) {
    // Blank lines are skipped; every other line travels as it is, so a dead letter is the original.
    if (line.trim() === '') continue;
    if (seen++ < skip) continue;
    lines.push(line);
    if (lines.length === chunkSize) {
      yield { index: index++, lines };
      lines = [];
    }
  }
  if (lines.length > 0) yield { index, lines };
}
