import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXIT } from '../../lib/errors.ts';
import {
  alive,
  processesUnder,
  projectDir,
  sinkIds,
  startUp,
  statusJson,
  waitFor,
  writePipeline,
} from './helpers.ts';

describe('dwk up --local when its nats-server dies', () => {
  it('starts nats-server again on the same store and the run completes with every id once', async () => {
    const dir = projectDir('nats-restart');
    const file = writePipeline(dir, 'natskill', {
      source: { generate: { objects: 5000 } },
      chunkSize: 100,
      mapper: { replicas: 2, concurrency: 2, work: { waitMs: { min: 100, max: 200 } } },
    });
    const up = startUp(dir, '-f', file, '--exit-when-done');
    const s = await waitFor('some chunks saved', async () => {
      const st = await statusJson(dir);
      return (st.progress?.chunksSaved ?? 0) >= 5 ? st : undefined;
    });
    const natsPid = s.nats.pid ?? 0;
    assert.ok(natsPid > 0 && alive(natsPid));
    process.kill(natsPid, 'SIGKILL');
    const back = await waitFor('a new nats-server', async () => {
      const st = await statusJson(dir);
      return st.nats.pid !== undefined && st.nats.pid !== natsPid && st.nats.reachable ? st : undefined;
    });
    assert.equal(back.nats.url, s.nats.url, 'same URL, so the workloads reconnect');

    const r = await up;
    assert.equal(r.exitCode, EXIT.ok, r.stderr);
    assert.match(r.stderr, /nats-server exited; starting it again on the same ports and store/);
    const ids = sinkIds(join(dir, '.dwk/natskill/results.jsonl'));
    assert.equal(ids.size, 5000);
    assert.ok(
      [...ids.values()].every((n) => n === 1),
      'no duplicates',
    );
    assert.deepEqual(processesUnder(dir), []);
  });
});
