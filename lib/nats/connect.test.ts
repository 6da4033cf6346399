import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { nkeys } from '@nats-io/transport-node';
import { connectNats, credsProblem } from './connect.ts';
import { freePort } from './server.ts';

describe('connectNats', () => {
  it('stops its first-connect loop when the signal aborts, and says so by rejecting', async () => {
    const servers = `127.0.0.1:${await freePort()}`; // nothing listens there
    const stop = new AbortController();
    const connecting = connectNats({ servers, name: 'test', persistent: true, signal: stop.signal });
    await sleep(300); // a few failed attempts, then a backoff sleep
    const abortedAt = Date.now();
    stop.abort();
    const outcome = await Promise.race([
      connecting.then(
        () => 'connected',
        (err: unknown) => err,
      ),
      sleep(3000, 'still trying', { ref: false }),
    ]);
    assert.ok(outcome instanceof Error, `rejected, not ${String(outcome)}`);
    assert.equal(outcome.name, 'AbortError');
    assert.ok(Date.now() - abortedAt < 1000, 'at once');
  });

  it('rejects at once when the signal is already aborted', async () => {
    const servers = `127.0.0.1:${await freePort()}`;
    await assert.rejects(
      connectNats({ servers, name: 'test', persistent: true, signal: AbortSignal.abort() }),
      { name: 'AbortError' },
    );
  });
});

describe('credsProblem', () => {
  const creds = (seed: string) =>
    new TextEncoder().encode(
      [
        '-----BEGIN NATS USER JWT-----',
        'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln',
        '------END NATS USER JWT------',
        '',
        '-----BEGIN USER NKEY SEED-----',
        seed,
        '------END USER NKEY SEED------',
        '',
      ].join('\n'),
    );

  it('takes a .creds file with a user seed', () => {
    assert.equal(credsProblem(creds(new TextDecoder().decode(nkeys.createUser().getSeed()))), undefined);
  });

  it('names what is wrong with text that is no .creds file, or a seed that is no seed', () => {
    assert.equal(credsProblem(new TextEncoder().encode('user: me')), 'unable to parse credentials');
    assert.ok(credsProblem(creds('SUNOTASEED')));
  });
});
