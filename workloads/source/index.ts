/** The fetcher's source: the generated dataset or an NDJSON stream, as numbered chunks. */
import type { SourceConfig } from '../config.ts';
import { chunkCount, generatedChunk } from './generate.ts';
import { ndjsonChunks } from './ndjson.ts';

export interface Chunk {
  index: number;
  lines: string[];
}

export async function* chunksFrom(
  source: SourceConfig,
  chunkSize: number,
  start: number,
  signal?: AbortSignal,
): AsyncGenerator<Chunk> {
  if (source.kind === 'url') {
    yield* ndjsonChunks(source.url, chunkSize, start, signal);
    return;
  }
  const total = chunkCount(source.objects, chunkSize);
  for (let index = start; index < total; index++) {
    yield { index, lines: generatedChunk(source.seed, source.objects, chunkSize, index) };
  }
}
