/**
 * Progress of long work, one step at a time: on a terminal a live list with a spinner and the
 * elapsed time; otherwise a line on stderr per finished step. Remembers what was done, so a
 * failure can say what was and what was not.
 */
import type { Output } from '../output.ts';
import type { StepLine, StepsModel } from '../views/steps-view.ts';
import { stepText } from '../views/steps-view.ts';

export interface Step {
  /** Changes the text after the title while the step runs. */
  update(detail: string): void;
  done(detail?: string): void;
  fail(detail: string): void;
}

export interface Steps {
  start(title: string): Step;
  /** Titles of the finished steps. */
  readonly finished: string[];
  close(): Promise<void>;
}

type Sink = (steps: StepLine[], changed: StepLine) => void;

function stepsOver(sink: Sink, now: () => number, onClose: () => Promise<void>): Steps {
  const lines: StepLine[] = [];
  const finished: string[] = [];
  return {
    finished,
    start(title) {
      const started = now();
      const line: StepLine = { id: lines.length, title, state: 'running', elapsedMs: 0 };
      lines.push(line);
      const set = (patch: Partial<StepLine>) => {
        Object.assign(line, patch, { elapsedMs: now() - started });
        sink(lines, line);
      };
      set({});
      return {
        update: (detail) => set({ detail }),
        done(detail) {
          finished.push(title);
          set({ state: 'done', ...(detail === undefined ? {} : { detail }) });
        },
        fail: (detail) => set({ state: 'failed', detail }),
      };
    },
    close: onClose,
  };
}

export function plainSteps(out: Output, now: () => number = Date.now): Steps {
  return stepsOver(
    (_, s) => {
      if (s.state !== 'running') out.info(stepText(s, 0));
    },
    now,
    () => Promise.resolve(),
  );
}

export async function inkSteps(out: Output): Promise<Steps> {
  const [{ render }, React, { createStore }, { StepsApp }] = await Promise.all([
    import('ink'),
    import('react'),
    import('../hooks/use-store.ts'),
    import('../views/steps-view.ts'),
  ]);
  const store = createStore<StepsModel>({ steps: [], tick: 0 });
  let latest: StepLine[] = [];
  const app = render(React.createElement(StepsApp, { store, color: out.color }), {
    // Progress is a diagnostic: stderr, so that stdout stays data.
    stdout: out.stderr as NodeJS.WriteStream,
    stderr: out.stderr as NodeJS.WriteStream,
    exitOnCtrlC: false,
    patchConsole: false,
    // dwk decides from the terminal; ink alone would turn live drawing off whenever CI is set.
    interactive: out.stderr.isTTY === true,
  });
  const starts = new Map<number, number>();
  const timer = setInterval(() => {
    // Running steps keep counting between updates.
    const steps = latest.map((s) =>
      s.state === 'running' ? { ...s, elapsedMs: Date.now() - (starts.get(s.id) ?? Date.now()) } : s,
    );
    store.update((m) => ({ steps, tick: m.tick + 1 }));
  }, 100);
  return stepsOver(
    (lines, changed) => {
      if (!starts.has(changed.id)) starts.set(changed.id, Date.now() - changed.elapsedMs);
      latest = lines.map((l) => ({ ...l }));
      store.update((m) => ({ ...m, steps: latest }));
    },
    Date.now,
    async () => {
      clearInterval(timer);
      app.unmount();
      await app.waitUntilExit();
    },
  );
}

export function stepsFor(out: Output): Promise<Steps> {
  return out.stderr.isTTY === true ? inkSteps(out) : Promise.resolve(plainSteps(out));
}
