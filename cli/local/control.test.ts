import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT, UserError } from '../../lib/errors.ts';
import { statusOf } from '../testing.ts';
import { controlClient, serveControl, type ControlHandlers } from './control.ts';
import type { RunState } from './state.ts';

const stateFor = (port: number, token = 'secret'): RunState => ({
  pipeline: 'example',
  pid: process.pid,
  port,
  token,
  natsUrl: 'nats://127.0.0.1:1',
  natsManaged: true,
  dataDir: '/tmp/x',
  startedAt: new Date(0).toISOString(),
});

async function withServer(handlers: Partial<ControlHandlers>, fn: (port: number) => Promise<void>) {
  const server = await serveControl(
    {
      status: () => Promise.resolve(statusOf()),
      scale: (component, replicas) => ({ component, from: 1, to: replicas }),
      stop: () => {},
      ...handlers,
    },
    'secret',
  );
  try {
    await fn(server.port);
  } finally {
    await server.close();
  }
}

describe('control API', () => {
  it('serves the status and scales through the client', async () => {
    const calls: string[] = [];
    await withServer(
      { scale: (c, n) => (calls.push(`${c}=${n}`), { component: c, from: 2, to: n }) },
      async (port) => {
        const client = controlClient(stateFor(port));
        assert.deepEqual(await client.status(), statusOf());
        assert.deepEqual(await client.scale('mapper', 10), { component: 'mapper', from: 2, to: 10 });
        assert.deepEqual(calls, ['mapper=10']);
      },
    );
  });

  it('checks the request again on the server side', async () => {
    await withServer({}, async (port) => {
      const res = await fetch(`http://127.0.0.1:${port}/scale`, {
        method: 'POST',
        headers: { authorization: 'Bearer secret' },
        body: JSON.stringify({ component: 'mappr', replicas: 2 }),
      });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { error: string }).error, /did you mean "mapper"/);
    });
  });

  it('turns a refusal of the running pipeline into a user error with its hint', async () => {
    await withServer(
      {
        scale: () => {
          throw new UserError('pipeline "example" has no broadcaster', { hint: 'add spec.broadcaster' });
        },
      },
      async (port) => {
        await assert.rejects(controlClient(stateFor(port)).scale('broadcaster', 1), (err: unknown) => {
          assert.ok(err instanceof UserError);
          assert.equal(err.message, 'pipeline "example" has no broadcaster');
          assert.equal(err.hint, 'add spec.broadcaster');
          return true;
        });
      },
    );
  });

  it('refuses a request without the token', async () => {
    await withServer({}, async (port) => {
      await assert.rejects(controlClient(stateFor(port, 'wrong')).status(), /bad token/);
    });
  });

  it('asks the pipeline to stop', async () => {
    let stopped = 0;
    await withServer({ stop: () => void stopped++ }, async (port) => {
      await controlClient(stateFor(port)).stop();
      assert.equal(stopped, 1);
    });
  });

  it('says when the pipeline does not answer', async () => {
    const { freePort } = await import('../../lib/nats/server.ts');
    const port = await freePort();
    await assert.rejects(controlClient(stateFor(port), 1000).status(), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.equal(err.exitCode, EXIT.unavailable);
      assert.match(err.message, /does not answer/);
      return true;
    });
  });
});
