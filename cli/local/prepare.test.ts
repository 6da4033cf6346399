import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pipeline } from '../../api/v1alpha1/pipeline.ts';
import { parsePipeline } from '../../api/v1alpha1/validate.ts';
import { UserError } from '../../lib/errors.ts';
import {
  componentEnv,
  dataShape,
  localPaths,
  localSourceFile,
  shapeChanges,
  unsafeDataDir,
} from './prepare.ts';

const pipeline = (spec: Record<string, unknown> = {}): Pipeline =>
  parsePipeline({ apiVersion: 'dwk.dev/v1alpha1', kind: 'Pipeline', metadata: { name: 'demo' }, spec });

const local = (p: Pipeline, env: Record<string, string> = {}) => ({
  natsUrl: 'nats://127.0.0.1:4999',
  paths: localPaths(p, '/data/demo'),
  cwd: '/home/me',
  env,
});

describe('local mode preparation', () => {
  it('puts a relative sink path in the data directory and passes it to the saver', () => {
    const p = pipeline({ saver: { sink: { type: 'jsonl', path: 'out/results.jsonl' } } });
    assert.equal(localPaths(p, '/data/demo').sinkPath, '/data/demo/out/results.jsonl');
    assert.equal(componentEnv(p, 'saver', local(p)).DWK_SINK_PATH, '/data/demo/out/results.jsonl');
  });

  it('keeps an absolute sink path and has none for the log sink', () => {
    assert.equal(
      localPaths(pipeline({ saver: { sink: { path: '/tmp/r.jsonl' } } }), '/data/demo').sinkPath,
      '/tmp/r.jsonl',
    );
    assert.equal(
      localPaths(pipeline({ saver: { sink: { type: 'log' } } }), '/data/demo').sinkPath,
      undefined,
    );
  });

  it('points every component at the local NATS server', () => {
    const p = pipeline();
    for (const c of ['fetcher', 'mapper', 'saver'] as const) {
      assert.equal(componentEnv(p, c, local(p)).DWK_NATS_URL, 'nats://127.0.0.1:4999');
      assert.equal(componentEnv(p, c, local(p)).DWK_ROLE, c);
    }
  });

  it('resolves a relative source file against the directory dwk runs in, and leaves URLs alone', () => {
    const file = pipeline({ source: { url: 'data/in.ndjson' } });
    assert.equal(componentEnv(file, 'fetcher', local(file)).DWK_SOURCE_URL, '/home/me/data/in.ndjson');
    const http = pipeline({ source: { url: 'https://example.com/in.ndjson' } });
    assert.equal(componentEnv(http, 'fetcher', local(http)).DWK_SOURCE_URL, 'https://example.com/in.ndjson');
  });

  it("reads the broadcaster's secret from the variable urlFromEnv names, and says when it is unset", () => {
    const p = pipeline({ broadcaster: { target: { type: 'generic', urlFromEnv: 'HOOK' } } });
    assert.equal(
      componentEnv(p, 'broadcaster', local(p, { HOOK: 'https://hook' })).DWK_TARGET_URL,
      'https://hook',
    );
    assert.throws(
      () => componentEnv(p, 'broadcaster', local(p)),
      (err: unknown) =>
        err instanceof UserError && /urlFromEnv names HOOK, which is not set/.test(err.message),
    );
  });
});

describe('the shape of a run’s data', () => {
  const shape = (spec: Record<string, unknown>, cwd = '/home/me') => {
    const p = pipeline(spec);
    return dataShape(p, localPaths(p, '/data/demo'), cwd);
  };

  it('names each changed leaf field, old and new, and nothing when equal', () => {
    const before = shape({ source: { generate: { objects: 300 } } });
    assert.deepEqual(shapeChanges(before, shape({ source: { generate: { objects: 300 } } })), []);
    assert.deepEqual(
      shapeChanges(
        before,
        shape({ source: { url: 'in.ndjson' }, chunkSize: 50, saver: { sink: { type: 'log' } } }),
      ),
      [
        'spec.source.generate.objects: 300 → unset',
        'spec.source.generate.seed: 1 → unset',
        'spec.chunkSize: 100 → 50',
        'spec.saver.sink.type: "jsonl" → "log"',
        'spec.saver.sink.path: "/data/demo/results.jsonl" → unset',
        'spec.source.url: unset → "/home/me/in.ndjson"',
      ],
    );
  });

  it('compares files as the workloads open them, not as the manifest spells them', () => {
    // The default sink path and its explicit spelling, a path and its file:// URL: the same data.
    assert.deepEqual(
      shapeChanges(
        shape({ source: { url: '/srv/in.ndjson' } }),
        shape({ source: { url: 'file:///srv/in.ndjson' }, saver: { sink: { path: 'results.jsonl' } } }),
      ),
      [],
    );
    // The same relative name from another directory: another file.
    assert.deepEqual(
      shapeChanges(
        shape({ source: { url: 'in.ndjson' } }, '/a'),
        shape({ source: { url: 'in.ndjson' } }, '/b'),
      ),
      ['spec.source.url: "/a/in.ndjson" → "/b/in.ndjson"'],
    );
  });

  it('never lets --fresh or --purge delete the working directory, one above it, home or /', () => {
    assert.equal(unsafeDataDir('/home/me/p', '/home/me/p', '/home/me'), 'it is the directory dwk runs in');
    assert.equal(unsafeDataDir('/home/me', '/home/me/p', '/home/me'), 'it is the home directory');
    assert.equal(unsafeDataDir('/home', '/home/me/p', '/home/me'), 'it holds the directory dwk runs in');
    assert.equal(unsafeDataDir('/', '/home/me/p', undefined), 'it is the root directory');
    assert.equal(unsafeDataDir('/home/me/p/.dwk/demo', '/home/me/p', '/home/me'), undefined);
    assert.equal(unsafeDataDir('/tmp/run', '/home/me/p', '/home/me'), undefined);
    assert.equal(unsafeDataDir('/home/me/p2', '/home/me/p', '/home/me'), undefined);
    assert.equal(unsafeDataDir('/w', '/w/..x/p', undefined), 'it holds the directory dwk runs in');
  });

  it('finds the local file of a source, and none for an http(s) URL', () => {
    assert.equal(
      localSourceFile(pipeline({ source: { url: 'd/in.ndjson' } }), '/home/me'),
      '/home/me/d/in.ndjson',
    );
    assert.equal(
      localSourceFile(pipeline({ source: { url: 'file:///srv/in.ndjson' } }), '/x'),
      '/srv/in.ndjson',
    );
    assert.equal(localSourceFile(pipeline({ source: { url: 'https://h/in.ndjson' } }), '/x'), undefined);
    assert.equal(localSourceFile(pipeline(), '/x'), undefined);
  });
});
