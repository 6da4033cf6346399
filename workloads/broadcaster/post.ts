/**
 * One POST, with enough detail to tell "certainly not sent" from "may have been sent": an error
 * before the connection (and TLS) is up means no byte reached the target; anything later is
 * ambiguous. node:http rather than fetch, because fetch hides that difference. Errors carry a
 * code only: never the URL, whose path holds the token.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { PostResult } from './outcome.ts';

const MAX_BODY = 16 * 1024;

export interface Poster {
  post(body: string): Promise<PostResult>;
  close(): void;
}

export function createPoster(url: URL, options: { timeoutMs: number; maxSockets: number }): Poster {
  const tls = url.protocol === 'https:';
  // Keep-alive saves a handshake per message; free sockets are dropped before the server's own
  // keep-alive timeout (Node honours its Keep-Alive hint) so a reused socket is rarely stale.
  const agent = new (tls ? https.Agent : http.Agent)({
    keepAlive: true,
    maxSockets: options.maxSockets,
    timeout: 4000,
  });
  const request = tls ? https.request : http.request;
  return {
    post: (body) =>
      new Promise<PostResult>((resolve) => {
        let connected = false;
        let settled = false;
        const done = (r: PostResult) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(r);
        };
        const req = request(url, {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'dwk-broadcaster',
          },
        });
        const timer = setTimeout(() => {
          done({ kind: 'error', sent: connected, code: connected ? 'TIMEOUT' : 'CONNECT_TIMEOUT' });
          req.destroy();
        }, options.timeoutMs);
        req.on('socket', (socket: Socket) => {
          if (!socket.connecting)
            connected = true; // a kept-alive socket
          else socket.once(tls ? 'secureConnect' : 'connect', () => (connected = true));
        });
        req.on('error', (err: NodeJS.ErrnoException) => {
          done({ kind: 'error', sent: connected, code: err.code ?? 'EUNKNOWN' });
        });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size < MAX_BODY) chunks.push(c);
            size += c.length;
          });
          const finish = () =>
            done({
              kind: 'response',
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY),
            });
          res.on('end', finish);
          // The status line arrived: the verdict is known even if the body is cut short.
          res.on('error', finish);
          res.on('aborted', finish);
        });
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}
