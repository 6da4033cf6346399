/**
 * The one logger of the controller and the workloads: JSON lines on stdout (pino), with secrets
 * redacted by key and by value. The CLI does not use it: it talks to people, see cli/output.ts.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT_KEYS = [
  'password',
  'token',
  'url',
  'targetUrl',
  'authorization',
  '*.password',
  '*.token',
  '*.targetUrl',
  '*.authorization',
];

export interface LogOptions {
  level?: string;
  /** Base fields on every line, e.g. pipeline, component, instance. */
  base?: Record<string, unknown>;
  /** Secret values that must never appear in a line, whatever key carries them. */
  secrets?: string[];
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LogOptions = {}): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const scrub = (line: string) => secrets.reduce((acc, s) => acc.split(s).join('[REDACTED]'), line);
  const destination = options.destination ?? process.stdout;
  const stream =
    secrets.length === 0 ? destination : { write: (line: string) => destination.write(scrub(line)) };
  return pino(
    {
      level: options.level ?? 'info',
      base: options.base ?? {},
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_KEYS, censor: '[REDACTED]' },
    },
    stream as NodeJS.WritableStream,
  );
}
