/** What a command may touch, injected by main.ts so tests can run commands in-process. */
import type { CliConfig } from './config.ts';

export interface TextStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

export interface CliContext {
  cwd: string;
  config: CliConfig;
  stdout: TextStream;
  stderr: TextStream;
  /** Subscribes to the signals that ask dwk to stop; returns the unsubscribe. */
  onStopSignal(handler: (signal: StopSignal) => void): () => void;
  /** Runs at process exit, synchronously: the last chance to kill children. */
  onExit(handler: () => void): () => void;
}
