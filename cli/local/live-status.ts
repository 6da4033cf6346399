/** Runs the live status view until q or Ctrl-C, polling the control API every second. */
import type { CliContext } from '../context.ts';
import type { Output } from '../output.ts';
import type { StatusModel } from '../views/status-view.ts';
import type { ControlClient } from './control.ts';

export async function liveStatus(client: ControlClient, ctx: CliContext, out: Output): Promise<void> {
  const [{ render }, React, { createStore }, { StatusApp }] = await Promise.all([
    import('ink'),
    import('react'),
    import('../hooks/use-store.ts'),
    import('../views/status-view.ts'),
  ]);
  const store = createStore<StatusModel>({
    status: undefined,
    error: undefined,
  });
  let timer: NodeJS.Timeout | undefined;
  const poll = async () => {
    try {
      store.set({ status: await client.status(), error: undefined });
    } catch (err) {
      store.update((m) => ({ ...m, error: (err as Error).message }));
    }
    timer = setTimeout(() => void poll(), 1000);
  };
  const app = render(React.createElement(StatusApp, { store }), {
    stdout: out.stdout as NodeJS.WriteStream,
    stderr: out.stderr as NodeJS.WriteStream,
  });
  const off = ctx.onStopSignal(() => app.unmount());
  void poll();
  try {
    await app.waitUntilExit();
  } finally {
    off();
    clearTimeout(timer);
  }
}
