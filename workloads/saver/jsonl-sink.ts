/**
 * A JSONL file that holds each object id at most once, even with several saver processes and
 * crashes between a write and its ack. Writers take a lock file, read what others appended since
 * (their ids), append only new ids, fsync, and unlock. A writer that died mid-line leaves a
 * partial last line, which the next writer cuts off before appending.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readdir, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SinkRecord {
  /** The object id the sink must hold once. */
  id: string;
  line: string;
}

export interface WriteResult {
  written: number;
  skipped: number;
}

export interface Sink {
  write(records: SinkRecord[]): Promise<WriteResult>;
  close(): Promise<void>;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * A lock whose holder is dead. A lock without a pid (left by an older dwk that wrote it in two
 * steps) counts as stale once it is a few seconds old: no writer holds it that long.
 */
async function stale(lockPath: string): Promise<boolean> {
  try {
    const text = await readFile(lockPath, 'utf8');
    const holder = Number(text);
    if (Number.isInteger(holder) && holder > 0) return holder !== process.pid && !alive(holder);
    return Date.now() - (await stat(lockPath)).mtimeMs > STALE_EMPTY_LOCK_MS;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // just released: try again
    throw err;
  }
}

const STALE_EMPTY_LOCK_MS = 5000;

/** Claim files of writers that were killed (`<lock>.<pid>.<random>`): litter, never a lock. */
async function removeDeadClaims(lockPath: string): Promise<void> {
  const prefix = `${basename(lockPath)}.`;
  for (const name of await readdir(dirname(lockPath))) {
    const pid = Number(name.startsWith(prefix) ? name.slice(prefix.length).split('.')[0] : NaN);
    if (Number.isInteger(pid) && pid > 0 && !alive(pid))
      await rm(join(dirname(lockPath), name), { force: true });
  }
}

/** Extracts the id of a stored line (the transformed object's `id`). */
export function idOfLine(line: string): string | undefined {
  try {
    const id = (JSON.parse(line) as { id?: unknown }).id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  } catch {
    return undefined;
  }
}

export async function openJsonlSink(path: string): Promise<Sink> {
  mkdirSync(dirname(path), { recursive: true });
  const lockPath = `${path}.lock`;
  const ids = new Set<string>();
  let offset = 0; // bytes of the file whose ids are in `ids`
  let fh: FileHandle = await open(path, 'a+');

  // The lock is taken by hard-linking a file that already holds our pid: it appears whole or not
  // at all, so a writer killed while locking never leaves an empty lock that nobody can judge.
  const claimPath = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(claimPath, String(process.pid));
  await removeDeadClaims(lockPath);
  const lock = async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(claimPath, lockPath);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (await stale(lockPath)) {
          await rm(lockPath, { force: true }); // its holder died: take it over
          continue;
        }
        await sleep(Math.min(2 + attempt, 20));
      }
    }
  };
  const unlock = () => rm(lockPath, { force: true });

  /** Reads bytes appended since `offset`, learning their ids; cuts a partial last line. */
  const catchUp = async () => {
    const { size } = await fh.stat();
    if (size <= offset) return;
    const buf = Buffer.alloc(size - offset);
    await fh.read(buf, 0, buf.length, offset);
    const lastNewline = buf.lastIndexOf(0x0a);
    const complete = lastNewline + 1;
    for (const line of buf.subarray(0, complete).toString('utf8').split('\n')) {
      if (line === '') continue;
      const id = idOfLine(line);
      if (id !== undefined) ids.add(id);
    }
    if (complete < buf.length) {
      // A writer died mid-line; we hold the lock, so nobody is writing it any more.
      await fh.truncate(offset + complete);
      await fh.close();
      fh = await open(path, 'a+');
    }
    offset += complete;
  };

  const writeLocked = async (records: SinkRecord[]): Promise<WriteResult> => {
    await lock();
    try {
      await catchUp();
      const fresh: string[] = [];
      for (const r of records) {
        if (ids.has(r.id)) continue;
        ids.add(r.id);
        fresh.push(r.line);
      }
      if (fresh.length > 0) {
        const data = Buffer.from(fresh.join('\n') + '\n');
        await fh.write(data, 0, data.length, null);
        await fh.sync(); // durable before anyone acks
        offset += data.length;
      }
      return { written: fresh.length, skipped: records.length - fresh.length };
    } finally {
      await unlock();
    }
  };

  // Writes of this process queue here, so only one of them at a time polls the file lock.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    write(records) {
      const result = queue.then(() => writeLocked(records));
      queue = result.catch(() => undefined);
      return result;
    },
    async close() {
      await fh.close();
      await rm(claimPath, { force: true });
    },
  };
}

/** The `log` sink: each record as a JSON line on stdout; ids are remembered for this process only. */
export function logSink(writeLine: (line: string) => void): Sink {
  const ids = new Set<string>();
  return {
    write(records) {
      let written = 0;
      for (const r of records) {
        if (ids.has(r.id)) continue;
        ids.add(r.id);
        writeLine(r.line);
        written++;
      }
      return Promise.resolve({ written, skipped: records.length - written });
    },
    close: () => Promise.resolve(),
  };
}
