/** A mapper with a transform that does not compile stops at once, even with NATS unreachable, listing it with the other bad variables. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { freePort } from '../../lib/nats/server.ts';

const MAIN = new URL('../../workloads/main.ts', import.meta.url).pathname;

it('a mapper with an invalid DWK_MAPPER_TRANSFORM exits 78 before connecting, naming the position, in the one list of bad variables', async () => {
  const natsDown = `nats://127.0.0.1:${await freePort()}`; // nothing listens there
  const started = Date.now();
  const r = spawnSync(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      DWK_ROLE: 'mapper',
      DWK_PIPELINE: 'bad-transform',
      DWK_NATS_URL: natsDown,
      DWK_HTTP_PORT: '0',
      DWK_HTTP_HOST: '127.0.0.1',
      DWK_MAPPER_TRANSFORM: '{"id": id,',
      DWK_MAPPER_CONCURRENCY: '0',
    },
    encoding: 'utf8',
    timeout: 20_000, // the old mapper waited for NATS forever
  });
  const out = r.stdout + r.stderr;
  assert.equal(
    r.status,
    78,
    `exit ${r.status} (signal ${r.signal}) after ${Date.now() - started} ms:\n${out}`,
  );
  const line = JSON.parse(out.trim().split('\n')[0] ?? '{}') as { level?: string; problems?: string[] };
  assert.equal(line.level, 'fatal');
  assert.equal(line.problems?.length, 2, out);
  assert.equal(line.problems?.[0], 'DWK_MAPPER_CONCURRENCY must be between 1 and 1000 (got 0)');
  assert.match(line.problems?.[1] ?? '', /^DWK_MAPPER_TRANSFORM does not compile: .*\(at position \d+\)$/);
  assert.doesNotMatch(out, /Starting|NATS/, 'it stopped before serving or connecting');
});
