/** The NATS of a local run: a nats-server dwk starts and keeps up, or one at --nats-url. */
import { startNatsServer } from '../../lib/nats/server.ts';
import { isAlive } from './state.ts';

export interface LocalNats {
  url: string;
  managed: boolean;
  pid: () => number | undefined;
  monitorUrl?: string;
  /** Starts a managed nats-server again if it died; a no-op otherwise. */
  keepUp: (say: (text: string, warn?: boolean) => void) => Promise<void>;
  stop: () => Promise<void>;
}

export function externalNats(url: string): LocalNats {
  return { url, managed: false, pid: () => undefined, keepUp: async () => {}, stop: async () => {} };
}

export async function managedNats(dataDir: string, binary: string): Promise<LocalNats> {
  // Own process group: a Ctrl-C in the terminal must not stop it before the workloads drain.
  const server = await startNatsServer({ dataDir, binary, detached: true, stopWhenGone: process.pid });
  return {
    url: server.url,
    managed: true,
    pid: () => server.pid,
    monitorUrl: server.monitorUrl,
    keepUp: async (say) => {
      // Like any other process here: if the nats-server dies, it comes back on the same store.
      if (server.pid === undefined || isAlive(server.pid)) return;
      say('nats-server exited; starting it again on the same ports and store', true);
      try {
        await server.start();
        say('nats-server is back');
      } catch (err) {
        say(`could not start nats-server again (${(err as Error).message}); retrying`, true);
      }
    },
    stop: () => server.stop(5000),
  };
}
