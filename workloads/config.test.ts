import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveSpec } from '../api/v1alpha1/validate.ts';
import { ConfigError } from '../lib/errors.ts';
import { readConfig } from './config.ts';
import { workloadEnv } from './env.ts';

const problems = (env: Record<string, string>) => {
  try {
    readConfig(env);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems;
  }
  assert.fail('expected a ConfigError');
};

describe('workload configuration', () => {
  it('reads back exactly what the spec put into the environment', () => {
    const spec = resolveSpec({
      chunkSize: 50,
      source: { generate: { objects: 1234, seed: 9 } },
      mapper: {
        concurrency: 7,
        transform: '{"id": id}',
        work: { waitMs: { min: 5, max: 10 }, cpuMs: 3 },
        maxDeliver: 4,
      },
      saver: { sink: { type: 'jsonl', path: '/data/out.jsonl' } },
    });
    const fetcher = readConfig({ ...workloadEnv('p', spec, 'fetcher'), DWK_INSTANCE: 'f' });
    assert.equal(fetcher.role, 'fetcher');
    if (fetcher.role !== 'fetcher') return;
    assert.deepEqual(fetcher.source, { kind: 'generate', objects: 1234, seed: 9 });
    assert.equal(fetcher.chunkSize, 50);

    const mapper = readConfig(workloadEnv('p', spec, 'mapper'));
    if (mapper.role !== 'mapper') return assert.fail('not a mapper');
    assert.deepEqual(
      [
        mapper.concurrency,
        mapper.transform,
        mapper.waitMinMs,
        mapper.waitMaxMs,
        mapper.cpuMs,
        mapper.maxDeliver,
      ],
      [7, '{"id": id}', 5, 10, 3, 4],
    );
    const saver = readConfig(workloadEnv('p', spec, 'saver'));
    if (saver.role !== 'saver') return assert.fail('not a saver');
    assert.deepEqual(saver.sink, { type: 'jsonl', path: '/data/out.jsonl' });
  });

  it('lists every bad variable at once', () => {
    assert.deepEqual(
      problems({
        DWK_ROLE: 'mapper',
        DWK_PIPELINE: 'Bad_Name',
        DWK_NATS_URL: 'localhost:4222',
        DWK_MAPPER_CONCURRENCY: '0',
        DWK_WORK_WAIT_MIN_MS: 'soon',
        DWK_HTTP_PORT: '70000',
      }),
      [
        'DWK_PIPELINE must be a lowercase DNS label (got "Bad_Name")',
        'DWK_NATS_URL must be nats://host:port (comma separated for several)',
        'DWK_HTTP_PORT must be between 0 and 65535 (got 70000)',
        'DWK_WORK_WAIT_MIN_MS must be an integer (got "soon")',
        'DWK_MAPPER_CONCURRENCY must be between 1 and 1000 (got 0)',
      ],
    );
  });

  it('rejects an unknown role and a missing NATS URL', () => {
    assert.deepEqual(problems({ DWK_ROLE: 'mappr', DWK_PIPELINE: 'p' }), [
      'DWK_ROLE must be one of fetcher, mapper, saver, broadcaster (got "mappr")',
      'DWK_NATS_URL is required',
    ]);
  });

  it('rejects a wait range upside down and an unknown sink', () => {
    const base = { DWK_PIPELINE: 'p', DWK_NATS_URL: 'nats://n:4222' };
    assert.deepEqual(
      problems({ ...base, DWK_ROLE: 'mapper', DWK_WORK_WAIT_MIN_MS: '9', DWK_WORK_WAIT_MAX_MS: '1' }),
      ['DWK_WORK_WAIT_MIN_MS must not exceed DWK_WORK_WAIT_MAX_MS'],
    );
    assert.deepEqual(problems({ ...base, DWK_ROLE: 'saver', DWK_SINK_TYPE: 'csv' }), [
      'DWK_SINK_TYPE must be one of jsonl, log (got "csv")',
    ]);
  });

  it('takes NATS credentials from the environment, and the creds file only when it is there', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'dwk-config-creds-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const credsFile = join(dir, 'nats.creds');
    writeFileSync(credsFile, 'a creds file');
    const base = { DWK_ROLE: 'mapper', DWK_PIPELINE: 'p', DWK_NATS_URL: 'nats://n:4222' };
    assert.deepEqual(
      readConfig({
        ...base,
        DWK_NATS_USER: 'u',
        DWK_NATS_PASSWORD: 'pw',
        DWK_NATS_TOKEN: 'tok',
        DWK_NATS_CREDS_FILE: credsFile,
      }).natsAuth,
      { user: 'u', password: 'pw', token: 'tok', credsFile },
    );
    // The Secret had no `creds` key: the optional volume item left no file, so no creds.
    assert.deepEqual(readConfig({ ...base, DWK_NATS_CREDS_FILE: join(dir, 'absent.creds') }).natsAuth, {
      user: undefined,
      password: undefined,
      token: undefined,
      credsFile: undefined,
    });
  });
});
