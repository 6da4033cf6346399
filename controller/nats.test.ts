import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from 'node:test';
import { resolveSpec } from '../api/v1alpha1/validate.ts';
import { KubeApiError } from '../lib/kube/client.ts';
import { createLogger } from '../lib/log.ts';
import { freePort } from '../lib/nats/server.ts';
import { natsSide } from './nats.ts';

/** The controller's NATS side with a Secret read that fails with `err`; returns its log lines. */
async function logLinesWhenSecretReadFails(err: Error) {
  const lines: Array<{ level: string; msg: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as { level: string; msg: string });
      done();
    },
  });
  const nats = natsSide(
    createLogger({ level: 'info', destination }),
    () => {},
    () => Promise.reject(err),
  );
  const spec = resolveSpec({
    nats: { url: `nats://127.0.0.1:${await freePort()}`, credentials: { secretRef: { name: 'nats-auth' } } },
  });
  nats.progress('ns/p', 'p', spec);
  for (let i = 0; i < 100 && lines.length === 0; i++) await sleep(20);
  await nats.close();
  return lines;
}

it('says the controller may not read the credentials Secret only when the API server refused it', async () => {
  const refused = await logLinesWhenSecretReadFails(new KubeApiError(403, 'GET …: 403 forbidden'));
  assert.equal(refused.length, 1);
  assert.equal(refused[0]?.level, 'info');
  assert.match(refused[0]?.msg ?? '', /may not read the NATS credentials Secret .*granted no Secrets/);

  const other = await logLinesWhenSecretReadFails(new Error('EROFS: read-only file system'));
  assert.equal(other.length, 1);
  assert.equal(other[0]?.level, 'warn');
  assert.equal(other[0]?.msg, 'Cannot read the NATS credentials Secret; connecting without them');
});
