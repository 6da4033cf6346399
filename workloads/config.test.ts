import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { nkeys } from '@nats-io/transport-node';
import { resolveSpec } from '../api/v1alpha1/validate.ts';
import { ConfigError } from '../lib/errors.ts';
import { readConfig } from './config.ts';
import { workloadEnv } from './env.ts';

/** A well-formed .creds file: a user JWT (its signature is the server's business) and a user seed. */
const CREDS = [
  '-----BEGIN NATS USER JWT-----',
  'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln',
  '------END NATS USER JWT------',
  '',
  '-----BEGIN USER NKEY SEED-----',
  new TextDecoder().decode(nkeys.createUser().getSeed()),
  '------END USER NKEY SEED------',
  '',
].join('\n');

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
        DWK_NATS_URL: 'ws://localhost:8080',
        DWK_MAPPER_CONCURRENCY: '0',
        DWK_MAPPER_TRANSFORM: '{"id": id,',
        DWK_WORK_WAIT_MIN_MS: 'soon',
        DWK_HTTP_PORT: '70000',
      }),
      [
        'DWK_PIPELINE must be a lowercase DNS label (got "Bad_Name")',
        'DWK_NATS_URL must be nats://HOST:PORT, tls://HOST:PORT or HOST:PORT, several separated by commas (got "ws://localhost:8080")',
        'DWK_HTTP_PORT must be between 0 and 65535 (got 70000)',
        'DWK_WORK_WAIT_MIN_MS must be an integer (got "soon")',
        'DWK_MAPPER_CONCURRENCY must be between 1 and 1000 (got 0)',
        'DWK_MAPPER_TRANSFORM does not compile: invalid JSONata expression: Expected ":" before end of expression (at position 10)',
      ],
    );
  });

  it('takes host:port for NATS as the CLI and spec.nats.url do, and gives the client nats://', () => {
    const base = { DWK_ROLE: 'saver', DWK_PIPELINE: 'p' };
    assert.equal(readConfig({ ...base, DWK_NATS_URL: '127.0.0.1:4222' }).natsUrl, 'nats://127.0.0.1:4222');
    assert.equal(
      readConfig({ ...base, DWK_NATS_URL: 'nats://a:4222, b:4222,tls://c:4443' }).natsUrl,
      'nats://a:4222,nats://b:4222,tls://c:4443',
    );
    assert.equal(problems({ ...base, DWK_NATS_URL: 'wss://a:443' }).length, 1, 'no websockets');
  });

  it('compiles the mapper transform with the configuration', () => {
    const mapper = readConfig({ DWK_ROLE: 'mapper', DWK_PIPELINE: 'p', DWK_NATS_URL: 'nats://n:4222' });
    if (mapper.role !== 'mapper') return assert.fail('not a mapper');
    assert.equal(typeof mapper.compiledTransform.evaluate, 'function');
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
    writeFileSync(credsFile, CREDS);
    const base = { DWK_ROLE: 'mapper', DWK_PIPELINE: 'p', DWK_NATS_URL: 'nats://n:4222' };
    assert.deepEqual(
      readConfig({
        ...base,
        DWK_NATS_USER: 'u',
        DWK_NATS_PASSWORD: 'pw',
        DWK_NATS_TOKEN: 'tok',
        DWK_NATS_CREDS_FILE: credsFile,
      }).natsAuth,
      { user: 'u', password: 'pw', token: 'tok', creds: new TextEncoder().encode(CREDS) },
    );
    // The Secret had no `creds` key: the optional volume item left no file, so no creds.
    assert.deepEqual(readConfig({ ...base, DWK_NATS_CREDS_FILE: join(dir, 'absent.creds') }).natsAuth, {
      user: undefined,
      password: undefined,
      token: undefined,
      creds: undefined,
    });
  });

  it('lists a creds file that is there but malformed with the other problems, instead of failing every login', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'dwk-config-creds-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const credsFile = join(dir, 'nats.creds');
    writeFileSync(credsFile, 'not a creds file');
    assert.deepEqual(
      problems({
        DWK_ROLE: 'saver',
        DWK_PIPELINE: 'p',
        DWK_NATS_URL: 'nats://n:4222',
        DWK_NATS_CREDS_FILE: credsFile,
        DWK_SINK_TYPE: 'csv',
      }),
      [
        `DWK_NATS_CREDS_FILE ${credsFile} is not a NATS .creds file: unable to parse credentials`,
        'DWK_SINK_TYPE must be one of jsonl, log (got "csv")',
      ],
    );
  });
});
