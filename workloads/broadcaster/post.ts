/**
 * One POST, with enough detail to tell "certainly not sent" from "may have been sent": until the
 * request is handed to the socket no byte of it can have reached the target; anything later is
 * ambiguous. node:http rather than fetch, because fetch hides that difference and writes as soon as
 * it can. Errors carry a code only: never the URL, whose path holds the token.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { PostResult } from './outcome.ts';

const MAX_BODY = 16 * 1024;

export interface PostOptions {
  /**
   * Asked once the connection (and TLS) is up, at once on a kept-alive socket, before any byte of
   * the request is written: the request goes out only when it resolves true. `post` answers only
   * after it has settled, so the caller never acts on a claim while this still writes it.
   */
  beforeBody?: () => Promise<boolean>;
}

/** `withheld`: `beforeBody` said no (or threw), so nothing was written. */
export type PostAttempt = PostResult | { kind: 'withheld' };

export interface Poster {
  post(body: string, options?: PostOptions): Promise<PostAttempt>;
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
    post: (body, { beforeBody } = {}) =>
      new Promise<PostAttempt>((resolve) => {
        // Node writes the headers with the first write or end(): nothing leaves before `send`.
        let written = false;
        let settled = false;
        let asking: Promise<void> | undefined;
        const done = (r: PostAttempt) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (asking) void asking.then(() => resolve(r));
          else resolve(r);
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
          done({ kind: 'error', sent: written, code: written ? 'TIMEOUT' : 'CONNECT_TIMEOUT' });
          req.destroy();
        }, options.timeoutMs);
        const send = () => {
          written = true;
          req.end(body);
        };
        const connected = () => {
          if (settled) return;
          if (!beforeBody) return send();
          asking = beforeBody()
            .catch(() => false)
            .then((go) => {
              if (settled) return; // timed out or failed while asking: nothing was written
              if (go) return send();
              done({ kind: 'withheld' });
              req.destroy();
            });
        };
        req.on('socket', (socket: Socket) => {
          if (!socket.connecting)
            connected(); // a kept-alive socket
          else socket.once(tls ? 'secureConnect' : 'connect', connected);
        });
        req.on('error', (err: NodeJS.ErrnoException) => {
          done({ kind: 'error', sent: written, code: err.code ?? 'EUNKNOWN' });
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
      }),
    close: () => agent.destroy(),
  };
}
