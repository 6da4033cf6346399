import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXIT } from '../../lib/errors.ts';
import { freePort } from '../../lib/nats/server.ts';
import { dwk, processesUnder, projectDir, sinkIds, writePipeline } from './helpers.ts';

describe('dwk up --local with bad input', () => {
  it('an invalid -f file names each bad field, exits non-zero and starts nothing', async () => {
    const dir = projectDir('invalid');
    const file = writePipeline(dir, 'bad', {
      mapper: { replicas: -1, work: { waitMs: { min: 900, max: 100 } } },
      saver: { sink: { type: 'csv' } },
    });
    const r = await dwk(dir, 'up', '--local', '-f', file);
    assert.equal(r.code, EXIT.invalidSpec);
    assert.match(r.stderr, /bad\.yaml: invalid Pipeline:/);
    assert.match(r.stderr, /spec\.mapper\.replicas: must be at least 0 \(got -1\)/);
    assert.match(r.stderr, /spec\.saver\.sink\.type: must be one of "jsonl", "log" \(got "csv"\)/);
    assert.equal(r.stdout, '');
    assert.ok(!existsSync(join(dir, '.dwk')), 'nothing created');
  });

  it('an unknown field is named too', async () => {
    const dir = projectDir('unknown-field');
    const file = join(dir, 'p.yaml');
    writeFileSync(
      file,
      'apiVersion: dwk.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  mapper: {replica: 3}\n',
    );
    const r = await dwk(dir, 'up', '--local', '-f', file);
    assert.equal(r.code, EXIT.invalidSpec);
    assert.match(r.stderr, /spec\.mapper\.replica: unknown field/);
  });

  it('a missing -f file says so', async () => {
    const dir = projectDir('missing');
    const r = await dwk(dir, 'up', '--local', '-f', 'nowhere.yaml');
    assert.equal(r.code, EXIT.invalidSpec);
    assert.match(r.stderr, /^error: nowhere\.yaml: no such file/m);
  });

  it('an NDJSON source file that does not exist is named before anything starts', async () => {
    const dir = projectDir('no-source');
    const file = writePipeline(dir, 'nosrc', { source: { url: 'data/missing.ndjson' } });
    const r = await dwk(dir, 'up', '--local', '-f', file);
    assert.equal(r.code, EXIT.invalidSpec, r.stderr);
    assert.match(r.stderr, /^error: spec\.source\.url: .*\/data\/missing\.ndjson: no such file/m);
    assert.ok(!existsSync(join(dir, '.dwk')), 'nothing created');
    assert.deepEqual(processesUnder(dir), []);
  });

  it('resuming over data made from another spec is refused, naming the changed field; --fresh starts over', async () => {
    const dir = projectDir('reshaped');
    const small = writePipeline(dir, 'shape', { source: { generate: { objects: 300 } }, chunkSize: 100 });
    const first = await dwk(dir, 'up', '--local', '-f', small, '--exit-when-done');
    assert.equal(first.code, EXIT.ok, first.stderr);
    const bigger = writePipeline(dir, 'shape', { source: { generate: { objects: 600 } }, chunkSize: 100 });
    const again = await dwk(dir, 'up', '--local', '-f', bigger, '--exit-when-done');
    assert.equal(again.code, EXIT.invalidSpec, again.stderr);
    assert.match(
      again.stderr,
      /the data of "shape" in \.dwk\/shape was made from other values: spec\.source\.generate\.objects: 300 → 600\n/,
    );
    assert.match(again.stderr, /hint: start over with --fresh/);
    const fresh = await dwk(dir, 'up', '--local', '-f', bigger, '--exit-when-done', '--fresh');
    assert.equal(fresh.code, EXIT.ok, fresh.stderr);
    assert.equal(sinkIds(join(dir, '.dwk/shape/results.jsonl')).size, 600);
    assert.deepEqual(processesUnder(dir), []);
  });

  it('--nats-url to a closed port is a clear error with the unavailable exit code', async () => {
    const dir = projectDir('closed');
    const port = await freePort();
    const t0 = Date.now();
    const r = await dwk(dir, 'up', '--local', '--nats-url', `nats://127.0.0.1:${port}`);
    assert.equal(r.code, EXIT.unavailable);
    assert.match(
      r.stderr,
      new RegExp(`^error: cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}`, 'm'),
    );
    assert.match(r.stderr, /hint: check the URL and that nats-server runs there/);
    assert.ok(Date.now() - t0 < 15_000, 'fails fast');
    assert.ok(!existsSync(join(dir, '.dwk')), 'nothing created');
    assert.deepEqual(processesUnder(dir), []);
  });
});
