/** The default dataset: deterministic records shaped like real ones. Chunk i is computed, not stored. */

const FIRST = [
  'Ada',
  'Alan',
  'Barbara',
  'Claude',
  'Donald',
  'Edsger',
  'Frances',
  'Grace',
  'Hedy',
  'Ivan',
  'John',
  'Katherine',
  'Linus',
  'Margaret',
  'Niklaus',
  'Radia',
  'Ken',
  'Dennis',
  'Sophie',
  'Tim',
];
const LAST = [
  'Lovelace',
  'Turing',
  'Liskov',
  'Shannon',
  'Knuth',
  'Dijkstra',
  'Allen',
  'Hopper',
  'Lamarr',
  'Sutherland',
  'McCarthy',
  'Johnson',
  'Torvalds',
  'Hamilton',
  'Wirth',
  'Perlman',
  'Thompson',
  'Ritchie',
  'Wilson',
  'Berners-Lee',
];

export interface GeneratedObject {
  id: number;
  first: string;
  last: string;
  friends: number[];
}

/** mulberry32: a tiny, fast PRNG; quality is plenty for fake names. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generatedObject(seed: number, id: number, total: number): GeneratedObject {
  const next = rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ id);
  const pick = (list: string[]) => list[Math.floor(next() * list.length)] ?? '';
  const friends = Array.from({ length: Math.floor(next() * 5) }, () => Math.floor(next() * total));
  return { id, first: pick(FIRST), last: pick(LAST), friends };
}

export function chunkCount(objects: number, chunkSize: number): number {
  return Math.ceil(objects / chunkSize);
}

/** The NDJSON payload of chunk `index`: objects index*chunkSize .. min(objects, (index+1)*chunkSize)-1. */
export function generatedChunk(seed: number, objects: number, chunkSize: number, index: number): string[] {
  const lines: string[] = [];
  const end = Math.min(objects, (index + 1) * chunkSize);
  for (let id = index * chunkSize; id < end; id++)
    lines.push(JSON.stringify(generatedObject(seed, id, objects)));
  return lines;
}
