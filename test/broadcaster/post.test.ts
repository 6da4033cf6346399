/**
 * The poster's `beforeBody` against a real socket: a bare TCP server records every byte that
 * arrives, so "nothing was sent" is checked on the wire, not inferred from an HTTP parser.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPoster } from '../../workloads/broadcaster/post.ts';

interface Wire {
  url: URL;
  /** Bytes received, one entry per connection, in the order they were accepted. */
  connections: string[];
  close(): Promise<void>;
}

/** Answers 200 to each complete request (headers plus content-length bytes), keeping the connection. */
async function wire(): Promise<Wire> {
  const connections: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    const index = connections.push('') - 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      connections[index] += text;
      pending += text;
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        pending = pending.slice(end + 4 + length);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nkeep-alive: timeout=30\r\n\r\nok');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/notify?key=post-test-secret`),
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const BODY = JSON.stringify({ user: 'bot', message: 'hello' });

describe('the poster asks before the body', () => {
  let w: Wire;
  before(async () => (w = await wire()));
  after(() => w.close());

  it('sends nothing at all when the hook says no on a new connection', async () => {
    const poster = createPoster(w.url, { timeoutMs: 2000, maxSockets: 1 });
    const before = w.connections.length;
    let asked = 0;
    let seenWhileAsking: string | undefined;
    const r = await poster.post(BODY, {
      beforeBody: async () => {
        asked++;
        await sleep(100); // a NATS round trip, slowed down: headers must not leave meanwhile
        seenWhileAsking = w.connections[before];
        return false;
      },
    });
    poster.close();
    assert.deepEqual(r, { kind: 'withheld' });
    assert.equal(asked, 1);
    assert.equal(w.connections.length, before + 1, 'the connection was made before asking');
    assert.equal(seenWhileAsking, '', 'no byte left while the hook ran');
    await sleep(100);
    assert.equal(w.connections[before], '', 'no byte left after the hook said no');
  });

  it('treats a hook that throws as no', async () => {
    const poster = createPoster(w.url, { timeoutMs: 2000, maxSockets: 1 });
    const before = w.connections.length;
    const r = await poster.post(BODY, { beforeBody: () => Promise.reject(new Error('nats away')) });
    poster.close();
    assert.deepEqual(r, { kind: 'withheld' });
    await sleep(100);
    assert.equal(w.connections[before], '');
  });

  it('writes headers and body only once the hook says yes', async () => {
    const poster = createPoster(w.url, { timeoutMs: 2000, maxSockets: 1 });
    const before = w.connections.length;
    let seenWhileAsking: string | undefined;
    const r = await poster.post(BODY, {
      beforeBody: async () => {
        await sleep(100);
        seenWhileAsking = w.connections[before];
        return true;
      },
    });
    poster.close();
    assert.equal(seenWhileAsking, '');
    assert.equal(r.kind, 'response');
    assert.equal(r.status, 200);
    assert.match(w.connections[before] ?? '', /^POST \/notify\?key=post-test-secret HTTP\/1\.1\r\n/);
    assert.ok(w.connections[before]?.endsWith(`\r\n\r\n${BODY}`));
  });

  it('asks at once on a kept-alive socket, and a no leaves that socket silent', async () => {
    const poster = createPoster(w.url, { timeoutMs: 2000, maxSockets: 1 });
    const before = w.connections.length;
    const first = await poster.post(BODY, { beforeBody: () => Promise.resolve(true) });
    assert.equal(first.kind, 'response');
    const afterFirst = w.connections[before];
    let asked = 0;
    const second = await poster.post(BODY, {
      beforeBody: () => {
        asked++;
        return Promise.resolve(false);
      },
    });
    poster.close();
    assert.deepEqual(second, { kind: 'withheld' });
    assert.equal(asked, 1);
    assert.equal(w.connections.length, before + 1, 'the second request reused the first socket');
    await sleep(100);
    assert.equal(w.connections[before], afterFirst, 'nothing more arrived on it');
  });

  it('answers only after the hook settled, and a timeout while asking is a certain "not sent"', async () => {
    const poster = createPoster(w.url, { timeoutMs: 100, maxSockets: 1 });
    const before = w.connections.length;
    let hookDone = 0;
    const r = await poster.post(BODY, {
      beforeBody: async () => {
        await sleep(400);
        hookDone = Date.now();
        return true; // too late: the request timed out while asking
      },
    });
    const answered = Date.now();
    poster.close();
    assert.deepEqual(r, { kind: 'error', sent: false, code: 'CONNECT_TIMEOUT' });
    assert.ok(hookDone > 0 && answered >= hookDone, 'the answer waited for the hook');
    await sleep(100);
    assert.equal(w.connections[before], '');
  });

  it('never asks when the connection fails, and says not sent', async () => {
    const closed = await wire();
    const url = closed.url;
    await closed.close();
    const poster = createPoster(url, { timeoutMs: 2000, maxSockets: 1 });
    let asked = 0;
    const r = await poster.post(BODY, {
      beforeBody: () => {
        asked++;
        return Promise.resolve(true);
      },
    });
    poster.close();
    assert.deepEqual(r, { kind: 'error', sent: false, code: 'ECONNREFUSED' });
    assert.equal(asked, 0);
  });

  it('posts at once without a hook', async () => {
    const poster = createPoster(w.url, { timeoutMs: 2000, maxSockets: 1 });
    const r = await poster.post(BODY);
    poster.close();
    assert.equal(r.kind, 'response');
  });
});
