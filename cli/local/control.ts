/**
 * The control API of a running `dwk up --local`: plain HTTP on 127.0.0.1 with a bearer token from
 * state.json. `dwk scale|status|down --local` are its clients. Errors travel as
 * `{error, hint, exitCode}` and become UserErrors again on the client side.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Component } from '../../api/v1alpha1/pipeline.ts';
import { EXIT, UserError } from '../../lib/errors.ts';
import { parseComponent, parseReplicas } from '../args.ts';
import type { LocalStatus } from './model.ts';
import type { RunState } from './state.ts';

export interface ScaleResult {
  component: Component;
  from: number;
  to: number;
}

export interface ControlHandlers {
  status(): Promise<LocalStatus>;
  /** Throws UserError when the pipeline cannot take the change. */
  scale(component: Component, replicas: number): ScaleResult;
  /** Starts a clean shutdown; returns at once. */
  stop(): void;
}

export interface ControlServer {
  port: number;
  close(): Promise<void>;
}

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

async function body(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 64 * 1024) throw new UserError('request too large');
  }
  try {
    return text === '' ? {} : (JSON.parse(text) as unknown);
  } catch {
    throw new UserError('request body is not JSON');
  }
}

async function route(req: IncomingMessage, handlers: ControlHandlers): Promise<[number, unknown]> {
  const key = `${req.method} ${req.url}`;
  switch (key) {
    case 'GET /status':
      return [200, await handlers.status()];
    case 'POST /scale': {
      const b = (await body(req)) as { component?: unknown; replicas?: unknown };
      const component = parseComponent(String(b.component));
      const replicas = parseReplicas(String(b.replicas));
      return [200, handlers.scale(component, replicas)];
    }
    case 'POST /stop':
      handlers.stop();
      return [202, { stopping: true }];
    default:
      return [404, { error: `no such endpoint: ${key}` }];
  }
}

export async function serveControl(handlers: ControlHandlers, token: string): Promise<ControlServer> {
  const server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, { error: 'bad token' });
    route(req, handlers).then(
      ([status, payload]) => send(res, status, payload),
      (err: unknown) => {
        if (err instanceof UserError) {
          send(res, 400, { error: err.message, hint: err.hint, exitCode: err.exitCode });
        } else {
          send(res, 500, { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
        }
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ControlClient {
  status(): Promise<LocalStatus>;
  scale(component: Component, replicas: number): Promise<ScaleResult>;
  stop(): Promise<void>;
}

export function controlClient(state: RunState, timeoutMs = 5000): ControlClient {
  const call = async <T>(method: string, path: string, payload?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(`http://127.0.0.1:${state.port}${path}`, {
        method,
        headers: { authorization: `Bearer ${state.token}`, 'content-type': 'application/json' },
        ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new UserError(`pipeline "${state.pipeline}" (dwk pid ${state.pid}) does not answer`, {
        exitCode: EXIT.unavailable,
        hint: 'it may be stopping; try again, or see its terminal',
        cause,
      });
    }
    const json = (await res.json()) as T & { error?: string; hint?: string; exitCode?: number };
    if (res.status >= 400 && res.status < 500 && json.error !== undefined) {
      throw new UserError(json.error, {
        ...(json.hint !== undefined ? { hint: json.hint } : {}),
        exitCode: json.exitCode ?? EXIT.failure,
      });
    }
    if (!res.ok) throw new Error(`control API ${method} ${path}: ${res.status} ${json.error ?? ''}`);
    return json;
  };
  return {
    status: () => call<LocalStatus>('GET', '/status'),
    scale: (component, replicas) => call<ScaleResult>('POST', '/scale', { component, replicas }),
    stop: () => call<unknown>('POST', '/stop').then(() => undefined),
  };
}
