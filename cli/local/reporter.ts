/**
 * What `dwk up --local` shows while it runs: on a terminal an ink view redrawn as figures come
 * in; otherwise one plain progress line every few seconds on stdout, events on stderr.
 */
import type { Clock } from './clock.ts';
import type { LocalStatus } from './model.ts';
import type { Output } from '../output.ts';
import { progressLine } from '../views/format.ts';
import type { UpModel } from '../views/up-view.ts';

export interface Reporter {
  event(text: string, warn?: boolean): void;
  progress(status: LocalStatus): void;
  /** Draws the last frame and releases the terminal. */
  close(): Promise<void>;
}

export function plainReporter(out: Output, clock: Clock, everyMs = 5000): Reporter {
  let last = -Infinity;
  return {
    event: (text, warn) => (warn ? out.warn(text) : out.info(text)),
    progress(status) {
      if (clock.now() - last < everyMs) return;
      last = clock.now();
      out.print(progressLine(status));
    },
    close: () => Promise.resolve(),
  };
}

export async function inkReporter(out: Output): Promise<Reporter> {
  const [{ render }, React, { createStore }, { UpApp }] = await Promise.all([
    import('ink'),
    import('react'),
    import('../hooks/use-store.ts'),
    import('../views/up-view.ts'),
  ]);
  const store = createStore<UpModel>({ status: undefined, events: [] });
  let id = 0;
  const app = render(
    React.createElement(UpApp, { store, color: out.color, width: out.stdout.columns ?? 80 }),
    {
      stdout: out.stdout as NodeJS.WriteStream,
      stderr: out.stderr as NodeJS.WriteStream,
      exitOnCtrlC: false,
      patchConsole: false,
      // dwk decides from the terminal; ink alone would turn live drawing off whenever CI is set.
      interactive: out.interactive,
    },
  );
  return {
    event: (text, warn) => store.update((m) => ({ ...m, events: [...m.events, { id: id++, text, warn }] })),
    progress: (status) => store.update((m) => ({ ...m, status })),
    async close() {
      app.unmount();
      await app.waitUntilExit();
    },
  };
}
