/** The live `dwk status` of a cluster pipeline: polls every second; + - scale and p pauses through the spec. */
import type { CliContext } from '../context.ts';
import type { Output } from '../output.ts';
import type { LiveActions, LiveModel, PipelineViewModel } from '../views/pipeline-view.ts';

export interface LiveSource {
  fetch(): Promise<PipelineViewModel>;
  actions: LiveActions;
}

export async function runLive(
  source: LiveSource,
  ctx: CliContext,
  out: Output,
  intervalMs = 1000,
): Promise<void> {
  const [{ render }, React, { createStore }, { PipelineApp }] = await Promise.all([
    import('ink'),
    import('react'),
    import('../hooks/use-store.ts'),
    import('../views/pipeline-view.ts'),
  ]);
  const store = createStore<LiveModel>({ model: undefined, error: undefined, message: undefined });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const poll = async () => {
    try {
      const model = await source.fetch();
      store.update((m) => ({ ...m, model, error: undefined }));
    } catch (err) {
      store.update((m) => ({ ...m, error: (err as Error).message }));
    }
    if (!stopped) timer = setTimeout(() => void poll(), intervalMs);
  };
  const stdout = out.stdout as NodeJS.WriteStream;
  const app = render(
    React.createElement(PipelineApp, {
      store,
      actions: source.actions,
      color: out.color,
      size: () => ({ width: stdout.columns || 80, height: stdout.rows || 24 }),
    }),
    // dwk decides from the terminal; ink alone would turn live drawing off whenever CI is set.
    { stdout, stderr: out.stderr as NodeJS.WriteStream, patchConsole: false, interactive: out.interactive },
  );
  const off = ctx.onStopSignal(() => app.unmount());
  void poll();
  try {
    await app.waitUntilExit();
  } finally {
    stopped = true;
    off();
    clearTimeout(timer);
  }
}
