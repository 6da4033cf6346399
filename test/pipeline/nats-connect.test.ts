// How workloads reach NATS: by host:port as the CLI and spec.nats.url allow, and back after a
// restart at the pace of a fresh backoff even when their first connect took many attempts.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../../lib/nats/connect.ts';
import { freePort, requireNatsServer, startNatsServer } from '../../lib/nats/server.ts';
import { topology } from '../../lib/nats/topology.ts';
import { spec, tempDir, waitFor, workloadSet } from '../support/workloads.ts';

const MAIN = new URL('../../workloads/main.ts', import.meta.url).pathname;

/** A bare nats-server (no JetStream: it starts in milliseconds), listening on `port` once this resolves. */
async function bareNatsServer(port: number): Promise<ChildProcess> {
  const child = spawn(requireNatsServer(), ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited ${child.exitCode}`);
    const listening = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => resolve(true));
      s.on('error', () => resolve(false));
      s.on('connect', () => s.destroy());
    });
    if (listening) return child;
    await sleep(10);
  }
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
};

describe('connecting workloads to NATS', { timeout: 90_000 }, () => {
  it('after a slow first connect, the first disconnect is retried from 100 ms, not 5 s', async (t) => {
    const port = await freePort();
    const connecting = connectNats({ servers: `127.0.0.1:${port}`, name: 'test', persistent: true });
    // Four failed first dials: the old counter stood at 9 then, a 2.5-5 s delay.
    await sleep(1600);
    let server = await bareNatsServer(port);
    t.after(() => stop(server));
    const nc = await connecting;
    t.after(() => nc.close());
    const events: Array<{ type: string; at: number }> = [];
    void (async () => {
      for await (const s of nc.status()) events.push({ type: s.type, at: Date.now() });
    })();

    await stop(server);
    await waitFor('the client to see the disconnect', () => events.find((e) => e.type === 'disconnect'));
    // Down long enough that the client's immediate redial fails and it has to wait.
    await sleep(300);
    server = await bareNatsServer(port);
    const disconnectedAt = events.find((e) => e.type === 'disconnect')?.at ?? 0;
    const reconnect = await waitFor(
      'the client to reconnect',
      () => events.find((e) => e.type === 'reconnect'),
      15_000,
    );
    const tookMs = reconnect.at - disconnectedAt;
    t.diagnostic(`reconnected ${tookMs} ms after the disconnect`);
    assert.ok(
      tookMs < 2400,
      `reconnected ${tookMs} ms after the disconnect (the old backoff waited 2.5-5 s)`,
    );
  });

  it('a workload still waiting for NATS stops its connect loop on SIGTERM and exits 0', async (t) => {
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        DWK_ROLE: 'saver',
        DWK_PIPELINE: 'no-nats',
        DWK_NATS_URL: `127.0.0.1:${await freePort()}`, // nothing listens there
        DWK_HTTP_PORT: '0',
        DWK_HTTP_HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => stop(child));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(
      'a failed connect attempt',
      () => out.includes('Cannot connect to NATS') || undefined,
      20_000,
    );
    const exited = once(child, 'exit');
    const stoppedAt = Date.now();
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, out);
    assert.ok(Date.now() - stoppedAt < 3000, 'at once, not at the shutdown deadline');
    const msgs = out
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    assert.deepEqual(msgs.slice(-2), ['Shutting down', 'Stopped before connecting to NATS'], out);
  });

  it('a fetcher given DWK_NATS_URL as host:port publishes: the workloads take what the CLI takes', async (t) => {
    const dir = tempDir('nats-host-port');
    const server = await startNatsServer({ dataDir: `${dir}/nats` });
    t.after(() => server.stop());
    const w = workloadSet(
      'hostport',
      spec({ source: { generate: { objects: 300 } }, chunkSize: 100 }),
      `127.0.0.1:${server.port}`,
      dir,
    );
    t.after(() => w.stopAll());
    w.start('fetcher', 'fetcher-0');
    const nc = await connectNats({ servers: server.url, name: 'test' });
    t.after(() => nc.close());
    const chunks = topology('hostport').streams.chunks;
    const stored = await waitFor(
      'the three chunks published by the fetcher',
      async () => {
        const info = await (await jetstreamManager(nc)).streams.info(chunks);
        return info.state.messages === 3 ? info.state.messages : undefined;
      },
      30_000,
    ).catch((err: unknown) => assert.fail(`${String(err)}\n${w.problems(20)}`));
    assert.equal(stored, 3);
  });
});
