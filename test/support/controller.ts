/** Runs the real controller in the test process, scoped to one namespace; stopped after the test. */
import type { TestContext } from 'node:test';
import { readControllerConfig } from '../../controller/config.ts';
import { runController, type RunningController } from '../../controller/run.ts';
import { createLogger } from '../../lib/log.ts';

export async function startController(
  t: TestContext,
  kubeconfigPath: string,
  namespace: string,
  env: Record<string, string> = {},
): Promise<RunningController> {
  const stop = new AbortController();
  const config = readControllerConfig({
    KUBECONFIG: kubeconfigPath,
    DWK_WATCH_NAMESPACE: namespace,
    DWK_LEADER_ELECT: 'false',
    DWK_HTTP_PORT: '0',
    DWK_HTTP_HOST: '127.0.0.1',
    ...env,
  });
  const running = await runController(config, stop.signal, createLogger({ level: 'error' }));
  t.after(async () => {
    stop.abort();
    await running.done;
  });
  return running;
}
