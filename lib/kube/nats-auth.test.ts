import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { KubeClient } from './client.ts';
import { natsAuthReader } from './nats-auth.ts';

const CREDS = '-----BEGIN NATS USER JWT-----\nJWT\n------END NATS USER JWT------\n';

/** A client that answers every GET with this Secret and records the paths. */
const fakeClient = (data: Record<string, string>) => {
  const paths: string[] = [];
  const client = {
    request: (_method: string, path: string) => {
      paths.push(path);
      return Promise.resolve({ data });
    },
  } as unknown as KubeClient;
  return { client, paths };
};

const b64 = (s: string) => Buffer.from(s).toString('base64');

it('carries the creds of the Secret as bytes, writing no file: the controller has no writable filesystem', async (t) => {
  // As in the controller Pod: no temporary directory to write to.
  const tmpdir = process.env.TMPDIR;
  process.env.TMPDIR = '/nonexistent/read-only-root';
  t.after(() => {
    if (tmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpdir;
  });
  const { client, paths } = fakeClient({ creds: b64(CREDS), user: b64('u') });
  const reader = natsAuthReader(client);
  const auth = await reader.read('team a', 'nats-auth');
  reader.close();
  assert.deepEqual(paths, ['/api/v1/namespaces/team%20a/secrets/nats-auth']);
  assert.deepEqual(auth, {
    user: 'u',
    password: undefined,
    token: undefined,
    creds: new TextEncoder().encode(CREDS),
  });
  assert.ok(!('credsFile' in auth), 'no path to a file');
});

it('reads user and password, or token, and no creds when the Secret has no `creds` key', async () => {
  const { client } = fakeClient({ user: b64('u'), password: b64('p'), token: b64('t') });
  assert.deepEqual(await natsAuthReader(client).read('ns', 's'), {
    user: 'u',
    password: 'p',
    token: 't',
    creds: undefined,
  });
});
