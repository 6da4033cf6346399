/** The controller's entrypoint in a cluster: `node controller/main.ts`. */
import { ConfigError } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import { readControllerConfig } from './config.ts';
import { runController } from './run.ts';

let config;
try {
  config = readControllerConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stdout.write(`${JSON.stringify({ level: 'fatal', msg: err.message, problems: err.problems })}\n`);
  process.exit(78);
}
const log = createLogger({ level: config.logLevel, base: { component: 'controller' } });
const stop = new AbortController();
for (const s of ['SIGTERM', 'SIGINT'] as const) {
  process.on(s, () => {
    log.info({ signal: s }, 'Shutting down');
    stop.abort();
    setTimeout(() => process.exit(1), 20_000).unref();
  });
}
try {
  const running = await runController(config, stop.signal, log);
  await running.done;
  process.exit(0);
} catch (err) {
  log.error({ err }, 'Controller failed');
  process.exit(1);
}
