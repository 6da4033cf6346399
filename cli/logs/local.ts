/**
 * `dwk logs --local`: the log files of a local pipeline's instances (`<data-dir>/logs/mapper-0.log`…),
 * in time order, each line prefixed by its instance; with -f, new lines and new instances as they come.
 */
import { open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { COMPONENTS, type Component } from '../../api/v1alpha1/pipeline.ts';
import { EXIT, UserError } from '../../lib/errors.ts';
import type { CliContext } from '../context.ts';
import type { Output } from '../output.ts';
import { localRoot, registered, runningPipelines } from '../local/state.ts';
import { liveLines, pause, untilStopped, type LiveLines } from './follow.ts';
import {
  LinePrinter,
  componentWord,
  mergeByTime,
  pinoTime,
  selectLines,
  splitLines,
  type LogsRequest,
} from './lines.ts';

/** How often -f looks for new lines and new instances. */
const POLL_MS = 200;

interface LocalTarget {
  pipeline: string;
  dataDir: string;
  running: boolean;
}

/** The pipeline meant: the named one, else the only one running, else the only one with data here. */
export async function findLocalLogs(root: string, pipeline: string | undefined): Promise<LocalTarget> {
  const [entries, running] = await Promise.all([registered(root), runningPipelines(root)]);
  const isRunning = (name: string) => running.some((s) => s.pipeline === name);
  if (pipeline !== undefined) {
    const entry = entries.find((e) => e.pipeline === pipeline);
    if (entry) return { pipeline, dataDir: entry.dataDir, running: isRunning(pipeline) };
    throw new UserError(`no local pipeline named "${pipeline}" here`, {
      exitCode: EXIT.failure,
      hint: entries.length
        ? `local pipelines here: ${entries.map((e) => e.pipeline).join(', ')}`
        : `start it with \`dwk up --local\` in this directory (looked in ${root})`,
    });
  }
  const [one, ...more] = running;
  if (one && more.length === 0) return { pipeline: one.pipeline, dataDir: one.dataDir, running: true };
  if (one) {
    throw new UserError(`${running.length} local pipelines are running; say which one`, {
      hint: `running: ${running.map((s) => s.pipeline).join(', ')}`,
    });
  }
  const [last, ...others] = entries;
  if (last && others.length === 0) return { pipeline: last.pipeline, dataDir: last.dataDir, running: false };
  if (last) {
    throw new UserError(`no local pipeline is running and ${entries.length} have logs here; say which one`, {
      hint: `local pipelines here: ${entries.map((e) => e.pipeline).join(', ')}`,
    });
  }
  throw new UserError('no local pipeline here', {
    exitCode: EXIT.failure,
    hint: `start one with \`dwk up --local\` in this directory (looked in ${root})`,
  });
}

const FILE = new RegExp(`^(${COMPONENTS.join('|')})-(\\d+)\\.log$`);

/** The instances of `components` that have a log file, in component then index order. */
export async function instanceLogs(
  logDir: string,
  components: readonly Component[],
): Promise<Array<{ instance: string; file: string }>> {
  let names: string[];
  try {
    names = await readdir(logDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((n) => ({ n, m: FILE.exec(n) }))
    .filter((x) => x.m && components.includes(x.m[1] as Component))
    .map((x) => ({
      instance: x.n.slice(0, -'.log'.length),
      file: join(logDir, x.n),
      c: COMPONENTS.indexOf(x.m?.[1] as Component),
      i: Number(x.m?.[2]),
    }))
    .sort((a, b) => a.c - b.c || a.i - b.i)
    .map(({ instance, file }) => ({ instance, file }));
}

/** A log file's bytes; one removed meanwhile (dwk down --purge) is empty. */
async function readLog(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`, {
      exitCode: EXIT.failure,
      cause: err,
    });
  }
}

const toLine = (source: string) => (text: string) => ({ source, text, time: pinoTime(text) });

/** A log file followed from an offset; bytes are decoded across reads. */
interface Tail {
  instance: string;
  file: string;
  offset: number;
  decoder: StringDecoder;
  rest: string;
}

/** Reads what was added to the file since the last read; a file that shrank is read again from 0. */
async function readNew(tail: Tail): Promise<string[]> {
  let size: number;
  try {
    size = (await stat(tail.file)).size;
  } catch {
    return [];
  }
  if (size < tail.offset) Object.assign(tail, { offset: 0, rest: '', decoder: new StringDecoder('utf8') });
  if (size === tail.offset) return [];
  let fh: FileHandle;
  try {
    fh = await open(tail.file, 'r');
  } catch {
    return []; // removed since the stat; a new one is read from 0 once it grows
  }
  try {
    const buf = Buffer.alloc(size - tail.offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, tail.offset);
    tail.offset += bytesRead;
    const { lines, rest } = splitLines(tail.rest + tail.decoder.write(buf.subarray(0, bytesRead)));
    tail.rest = rest;
    return lines;
  } finally {
    await fh.close();
  }
}

export async function logsLocal(req: LogsRequest, ctx: CliContext, out: Output): Promise<void> {
  const root = localRoot(ctx.cwd);
  const target = await findLocalLogs(root, req.pipeline);
  const logDir = join(target.dataDir, 'logs');
  const where = relative(ctx.cwd, logDir) || '.';
  const word = componentWord(req.components);
  const what = word === undefined ? 'instance' : `instance of ${word}`;
  const files = await instanceLogs(logDir, req.components);
  if (files.length === 0 && !req.follow) {
    throw new UserError(`no ${what} has a log in local pipeline "${target.pipeline}"`, {
      exitCode: EXIT.failure,
      hint: `looked in ${where}; ${
        target.running
          ? `see its replicas with \`dwk status --local ${target.pipeline}\``
          : `${target.pipeline} is not running: \`dwk up --local\` starts it`
      }`,
    });
  }
  const printer = new LinePrinter(
    req.mode,
    { color: out.color && out.interactive, timestamps: req.timestamps },
    files.map((f) => f.instance),
  );
  const notBefore = req.sinceMs === undefined ? undefined : Date.now() - req.sinceMs;
  const tails: Tail[] = [];
  const backlog = await Promise.all(
    files.map(async ({ instance, file }) => {
      const buf = await readLog(file);
      const tail: Tail = { instance, file, offset: buf.length, decoder: new StringDecoder('utf8'), rest: '' };
      tails.push(tail);
      const { lines, rest } = splitLines(tail.decoder.write(buf));
      // Without -f a last line still being written is shown as it is; with -f it waits for its end.
      if (req.follow) tail.rest = rest;
      else if (rest !== '') lines.push(rest);
      return selectLines(lines.map(toLine(instance)), { notBefore, tail: req.tail });
    }),
  );
  for (const line of mergeByTime(backlog)) out.print(printer.render(line));
  if (!req.follow) return;

  if (!target.running) {
    out.info(`${target.pipeline} is not running; waiting for new lines (Ctrl-C stops)`);
  } else if (files.length === 0) {
    out.info(`no ${what} has logged yet in ${target.pipeline}; waiting (Ctrl-C stops)`);
  }
  const live = liveLines(printer, out);
  await untilStopped(ctx, async (signal) => {
    try {
      await followFiles(logDir, req.components, tails, live, out, signal);
    } finally {
      live.close();
    }
  });
}

async function followFiles(
  logDir: string,
  components: readonly Component[],
  tails: Tail[],
  live: LiveLines,
  out: Output,
  signal: AbortSignal,
): Promise<void> {
  const known = new Map(tails.map((t) => [t.file, t]));
  while (!signal.aborted) {
    for (const { instance, file } of await instanceLogs(logDir, components)) {
      if (known.has(file)) continue;
      // An instance that started after dwk logs did (dwk scale): every line of it is new.
      known.set(file, { instance, file, offset: 0, decoder: new StringDecoder('utf8'), rest: '' });
      out.info(`+ ${instance}`);
    }
    for (const tail of known.values()) {
      for (const text of await readNew(tail)) live.push(toLine(tail.instance)(text));
    }
    await pause(POLL_MS, signal);
  }
}
