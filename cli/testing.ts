/** In-memory builders for CLI tests: a context with captured output, and status values. */
import type { LocalStatus } from './local/model.ts';
import { readConfig } from './config.ts';
import type { CliContext, StopSignal } from './context.ts';

export interface CapturedContext extends CliContext {
  out: () => string;
  err: () => string;
  signal: (s: StopSignal) => void;
}

export function captureContext(
  cwd: string,
  options: { tty?: boolean; env?: NodeJS.ProcessEnv } = {},
): CapturedContext {
  let out = '';
  let err = '';
  const handlers = new Set<(s: StopSignal) => void>();
  return {
    cwd,
    config: readConfig(options.env ?? { PATH: process.env.PATH }, process.execPath),
    stdout: { write: (s: string) => (out += s), isTTY: options.tty ?? false, columns: 80 },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    onStopSignal(h) {
      handlers.add(h);
      return () => void handlers.delete(h);
    },
    onExit: () => () => {},
    out: () => out,
    err: () => err,
    signal: (s) => {
      for (const h of handlers) h(s);
    },
  };
}

export function statusOf(overrides: Partial<LocalStatus> = {}): LocalStatus {
  return {
    pipeline: 'example',
    mode: 'local',
    phase: 'Running',
    pid: 4242,
    startedAt: '2026-01-01T00:00:00.000Z',
    dataDir: '/work/.dwk/example',
    nats: { url: 'nats://127.0.0.1:4222', managed: true, pid: 4243, reachable: true },
    sink: { type: 'jsonl', path: '/work/.dwk/example/results.jsonl' },
    components: {
      fetcher: {
        desired: 1,
        running: 1,
        restarts: 0,
        instances: [{ name: 'fetcher-0', phase: 'running', pid: 10, restarts: 0 }],
      },
      mapper: {
        desired: 4,
        running: 3,
        restarts: 2,
        instances: [
          { name: 'mapper-0', phase: 'running', pid: 11, restarts: 0 },
          { name: 'mapper-1', phase: 'running', pid: 12, restarts: 2 },
          { name: 'mapper-2', phase: 'running', pid: 13, restarts: 0 },
          { name: 'mapper-3', phase: 'backoff', restarts: 0 },
        ],
      },
      saver: {
        desired: 1,
        running: 1,
        restarts: 0,
        instances: [{ name: 'saver-0', phase: 'running', pid: 14, restarts: 0 }],
      },
    },
    progress: {
      chunksTotal: 1000,
      chunksPublished: 1000,
      chunksSaved: 512,
      chunksDeadLettered: 3,
      objectsDeadLettered: 7,
    },
    lag: {
      mapper: { pending: 400, ackPending: 8, redelivered: 1, waiting: 2 },
      saver: { pending: 0, ackPending: 1, redelivered: 0, waiting: 1 },
    },
    rate: { chunksPerSecond: 40.25, etaSeconds: 13 },
    ...overrides,
  };
}
