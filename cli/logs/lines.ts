/**
 * The pure half of `dwk logs`: reading the workloads' pino lines, putting the lines of many
 * instances in time order, and drawing them (prefix, colour, a pino-pretty-like text). No I/O.
 */
import { styleText } from 'node:util';
import { COMPONENTS, type Component } from '../../api/v1alpha1/pipeline.ts';
import { UserError } from '../../lib/errors.ts';
import { suggest } from '../args.ts';

/** One line of one instance (a local process or a Pod). */
export interface LogLine {
  /** The instance: `mapper-0` locally, the Pod's name in a cluster. */
  source: string;
  /** The line as the workload wrote it, without the newline. */
  text: string;
  /** Its time in ms since the epoch: the pino `time`, else the kubelet's; undefined when unknown. */
  time: number | undefined;
}

// ---------------------------------------------------------------------------------------------
// Arguments

/** `mapper`, or `all` for every component. */
export function parseLogComponents(value: string): Component[] {
  if (value === 'all') return [...COMPONENTS];
  if ((COMPONENTS as readonly string[]).includes(value)) return [value as Component];
  const guess = suggest(value, [...COMPONENTS, 'all']);
  throw new UserError(`unknown component "${value}"${guess ? `; did you mean "${guess}"?` : ''}`, {
    hint: `the components are ${COMPONENTS.join(', ')}, or all`,
  });
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration like 30s, 5m, 1h30m or 2d, in milliseconds. */
export function parseSince(value: string): number {
  const v = value.trim();
  const parts = [...v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  const whole = parts.map((p) => p[0]).join('');
  if (parts.length === 0 || whole !== v) {
    throw new UserError(`--since takes a duration like 30s, 5m, 1h30m or 2d (got "${value}")`, {
      hint: /^\d+$/.test(v) ? `add a unit: --since ${v}s or --since ${v}m` : undefined,
    });
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS[p[2] ?? ''] ?? 0), 0);
  if (ms <= 0) throw new UserError(`--since must be longer than 0 (got "${value}")`);
  return ms;
}

/** `--tail`: how many of the last lines of each instance; a whole number from 0. */
export function parseTail(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new UserError(`--tail takes a whole number of lines, 0 or more (got "${value}")`, {
      hint: 'leave --tail out for every line',
    });
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Reading pino lines

type PinoRecord = Record<string, unknown>;

function parseRecord(text: string): PinoRecord | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as PinoRecord) : undefined;
  } catch {
    return undefined;
  }
}

const timeOfValue = (t: unknown): number | undefined => {
  const ms = typeof t === 'number' ? t : typeof t === 'string' ? Date.parse(t) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
};

/** The `time` of a pino JSON line (ISO string or epoch ms), or undefined for any other line. */
export function pinoTime(text: string): number | undefined {
  return timeOfValue(parseRecord(text)?.time);
}

/** Splits a kubelet line of `timestamps=true` (`2026-01-02T03:04:05.123456789Z text`). */
export function splitKubeletTimestamp(line: string): { time: number | undefined; text: string } {
  const space = line.indexOf(' ');
  const head = space < 0 ? line : line.slice(0, space);
  if (!/^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)$/.test(head)) return { time: undefined, text: line };
  // Date.parse takes milliseconds; the kubelet writes nanoseconds.
  const time = Date.parse(head.replace(/(\.\d{3})\d+/, '$1'));
  return { time: Number.isFinite(time) ? time : undefined, text: space < 0 ? '' : line.slice(space + 1) };
}

/** The lines of a chunk of text; the unfinished last line stays in `rest`. */
export function splitLines(buffered: string): { lines: string[]; rest: string } {
  const parts = buffered.split('\n');
  const rest = parts.pop() ?? '';
  return { lines: parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)), rest };
}

// ---------------------------------------------------------------------------------------------
// Time order

/**
 * The lines of each source in time order, keeping each source's own order: a line without a
 * time (a stack trace under a JSON line) stays after the line before it. Ties keep source order.
 */
export function mergeByTime(sources: LogLine[][]): LogLine[] {
  const keyed = sources.map((lines) => withOrderKeys(lines));
  const next = keyed.map(() => 0);
  const out: LogLine[] = [];
  for (;;) {
    let best = -1;
    for (let i = 0; i < keyed.length; i++) {
      const k = keyed[i]?.[next[i] ?? 0];
      if (!k) continue;
      const b = best < 0 ? undefined : keyed[best]?.[next[best] ?? 0];
      if (!b || k.at < b.at) best = i;
    }
    if (best < 0) return out;
    const k = keyed[best]?.[next[best] ?? 0];
    if (k) out.push(k.line);
    next[best] = (next[best] ?? 0) + 1;
  }
}

/** Each line with the time it sorts by: the latest time seen so far in its source. */
function withOrderKeys(lines: LogLine[]): Array<{ line: LogLine; at: number }> {
  let at = Number.NEGATIVE_INFINITY;
  return lines.map((line) => {
    if (line.time !== undefined && line.time > at) at = line.time;
    return { line, at };
  });
}

/**
 * `--since` and `--tail` on one source's lines: drops lines before `notBefore` (ms since the
 * epoch), then all but the last `tail`. A line without a time goes with the line before it.
 */
export function selectLines(lines: LogLine[], options: { notBefore?: number; tail?: number }): LogLine[] {
  let kept = lines;
  if (options.notBefore !== undefined) {
    const cutoff = options.notBefore;
    const keys = withOrderKeys(lines);
    kept = keys.filter((k) => k.at >= cutoff).map((k) => k.line);
  }
  if (options.tail !== undefined) kept = options.tail === 0 ? [] : kept.slice(-options.tail);
  return kept;
}

/**
 * Time order for lines that arrive live from many sources (`-f`): each line waits `windowMs`
 * after it arrived, so lines of other sources from the same moment can pass it. Pure: the
 * caller passes the clock.
 */
export class Interleaver {
  readonly #windowMs: number;
  #held: Array<{ line: LogLine; at: number; arrived: number; seq: number }> = [];
  #last = new Map<string, number>();
  #seq = 0;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  push(line: LogLine, now: number): void {
    let at = this.#last.get(line.source) ?? Number.NEGATIVE_INFINITY;
    if (line.time !== undefined && line.time > at) at = line.time;
    this.#last.set(line.source, at);
    this.#held.push({ line, at, arrived: now, seq: this.#seq++ });
  }

  /** The lines whose wait is over, in time order. `all` empties the buffer. */
  take(now: number, all = false): LogLine[] {
    const ready = all ? this.#held : this.#held.filter((h) => now - h.arrived >= this.#windowMs);
    if (ready.length === 0) return [];
    const readySet = new Set(ready);
    this.#held = all ? [] : this.#held.filter((h) => !readySet.has(h));
    return ready.sort((a, b) => a.at - b.at || a.seq - b.seq).map((h) => h.line);
  }

  get size(): number {
    return this.#held.length;
  }
}

// ---------------------------------------------------------------------------------------------
// Drawing

export interface FormatOptions {
  /** Colours for a terminal. */
  color: boolean;
  /** Full date and time (ISO 8601, UTC) instead of the time of day. */
  timestamps: boolean;
}

type Style = Parameters<typeof styleText>[0];

const paint = (color: boolean, style: Style, text: string) =>
  color ? styleText(style, text, { validateStream: false }) : text;

const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
const LEVEL_STYLE: Record<string, Style> = {
  trace: 'gray',
  debug: 'gray',
  info: 'green',
  warn: 'yellow',
  error: 'red',
  fatal: ['bgRed', 'white'],
};
/** Fields every line of a workload has, or that the layout shows already. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pipeline', 'component', 'instance', 'pid', 'hostname']);

const two = (n: number) => String(n).padStart(2, '0');
/** The local time of day with milliseconds: 14:03:27.125. */
export const timeOfDay = (ms: number) => {
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
};

const valueText = (v: unknown): string => {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  // undefined, a function or a symbol cannot come out of JSON.parse
  return JSON.stringify(v) ?? '';
};

/**
 * A pino JSON line as people read it: `14:03:27.125 INFO  Starting port=8080 role=mapper`; an
 * error's stack on the lines under it. Any other line is returned as written (with its time in
 * front under `timestamps`, when known).
 */
export function formatLine(line: LogLine, options: FormatOptions): string {
  const rec = parseRecord(line.text);
  const when = (ms: number | undefined) =>
    ms === undefined ? undefined : options.timestamps ? new Date(ms).toISOString() : timeOfDay(ms);
  if (!rec) {
    const t = options.timestamps ? when(line.time) : undefined;
    return t === undefined ? line.text : `${paint(options.color, 'dim', t)} ${line.text}`;
  }
  const levelName =
    typeof rec.level === 'number'
      ? (LEVELS[rec.level] ?? String(rec.level))
      : typeof rec.level === 'string'
        ? rec.level
        : '';
  const parts: string[] = [];
  const t = when(timeOfValue(rec.time) ?? line.time);
  if (t !== undefined) parts.push(paint(options.color, 'dim', t));
  if (levelName) {
    parts.push(paint(options.color, LEVEL_STYLE[levelName] ?? 'reset', levelName.toUpperCase().padEnd(5)));
  }
  if (rec.msg !== undefined) parts.push(typeof rec.msg === 'string' ? rec.msg : valueText(rec.msg));
  const stacks: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (HIDDEN.has(k)) continue;
    if (v !== null && typeof v === 'object' && typeof (v as { stack?: unknown }).stack === 'string') {
      const e = v as { message?: unknown; stack: string };
      parts.push(`${paint(options.color, 'dim', `${k}=`)}${valueText(e.message ?? e.stack.split('\n')[0])}`);
      stacks.push(...e.stack.split('\n').map((s) => `    ${s.trim()}`));
      continue;
    }
    parts.push(`${paint(options.color, 'dim', `${k}=`)}${valueText(v)}`);
  }
  return [parts.join(' '), ...stacks].join('\n');
}

/** `-o json`: one JSON object per line, each naming its instance; a line that is not JSON is wrapped. */
export function jsonLine(line: LogLine): string {
  const rec = parseRecord(line.text);
  if (rec) return rec.instance === undefined ? JSON.stringify({ instance: line.source, ...rec }) : line.text;
  return JSON.stringify({
    ...(line.time !== undefined ? { time: new Date(line.time).toISOString() } : {}),
    instance: line.source,
    msg: line.text,
  });
}

const PALETTE: Style[] = [
  'cyan',
  'green',
  'magenta',
  'yellow',
  'blue',
  'cyanBright',
  'greenBright',
  'magentaBright',
  'yellowBright',
  'blueBright',
];

export type LogMode = 'pretty' | 'raw' | 'json';

/**
 * Draws lines for stdout: each prefixed by its instance, padded to the longest name known and
 * coloured per instance on a terminal; `json` mode prints objects without a prefix.
 */
export class LinePrinter {
  readonly #mode: LogMode;
  readonly #format: FormatOptions;
  readonly #colors = new Map<string, Style>();
  #width = 0;

  constructor(mode: LogMode, format: FormatOptions, sources: readonly string[] = []) {
    this.#mode = mode;
    this.#format = format;
    for (const s of [...sources].sort()) this.#add(s);
  }

  #add(source: string): Style {
    let style = this.#colors.get(source);
    if (style === undefined) {
      style = PALETTE[this.#colors.size % PALETTE.length] ?? 'cyan';
      this.#colors.set(source, style);
      this.#width = Math.max(this.#width, source.length);
    }
    return style;
  }

  /** The text of one line for stdout (several lines for a stack trace), without the last newline. */
  render(line: LogLine): string {
    if (this.#mode === 'json') return jsonLine(line);
    const style = this.#add(line.source);
    const prefix = paint(this.#format.color, style, line.source.padEnd(this.#width));
    const body =
      this.#mode === 'raw'
        ? this.#format.timestamps && line.time !== undefined
          ? `${new Date(line.time).toISOString()} ${line.text}`
          : line.text
        : formatLine(line, this.#format);
    return body
      .split('\n')
      .map((l) => `${prefix} ${l}`)
      .join('\n');
  }
}

/** What `dwk logs` was asked, checked. */
export interface LogsRequest {
  components: Component[];
  pipeline: string | undefined;
  follow: boolean;
  /** --since, in ms. */
  sinceMs: number | undefined;
  tail: number | undefined;
  mode: LogMode;
  timestamps: boolean;
}

/** The component named in messages (`no mapper Pods`), or undefined for all of them (`no Pods`). */
export const componentWord = (components: readonly Component[]) =>
  components.length === 1 ? components[0] : undefined;
