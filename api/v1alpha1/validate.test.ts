import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { renderCrdYaml } from './crd-yaml.ts';
import { DEFAULT_IMAGE, DEFAULT_TRANSFORM, knownTotalChunks } from './pipeline.ts';
import { InvalidPipelineError, parsePipeline, resolveSpec } from './validate.ts';

const manifest = (spec: unknown) => ({
  apiVersion: 'dwk.dev/v1alpha1',
  kind: 'Pipeline',
  metadata: { name: 'p' },
  spec,
});

function fieldErrors(spec: unknown): string[] {
  try {
    parsePipeline(manifest(spec));
  } catch (e) {
    assert.ok(e instanceof InvalidPipelineError);
    return e.errors.map((x) => `${x.field}: ${x.message}`);
  }
  assert.fail('expected the spec to be rejected');
}

describe('Pipeline validation', () => {
  it('fills every default of an empty spec', () => {
    const spec = resolveSpec({});
    assert.equal(spec.chunkSize, 100);
    assert.equal(spec.mapper.replicas, 3);
    assert.equal(spec.mapper.transform, DEFAULT_TRANSFORM);
    assert.deepEqual(spec.mapper.work, { waitMs: { min: 0, max: 0 }, cpuMs: 0 });
    assert.equal(spec.saver.sink.type, 'jsonl');
    assert.equal(spec.nats.deletePolicy, 'retain');
    assert.equal(spec.broadcaster, undefined);
    assert.equal(knownTotalChunks(spec), 1000);
  });

  it('names the field of a negative replica count', () => {
    assert.deepEqual(fieldErrors({ mapper: { replicas: -1 } }), [
      'spec.mapper.replicas: must be at least 0 (got -1)',
    ]);
  });

  it('rejects chunkSize 0 and above 10000', () => {
    assert.deepEqual(fieldErrors({ chunkSize: 0 }), ['spec.chunkSize: must be at least 1 (got 0)']);
    assert.deepEqual(fieldErrors({ chunkSize: 10001 }), [
      'spec.chunkSize: must be at most 10000 (got 10001)',
    ]);
  });

  it('rejects unknown fields by name', () => {
    assert.deepEqual(fieldErrors({ mapper: { replicaz: 2 } }), ['spec.mapper.replicaz: unknown field']);
  });

  it('lists the allowed sink types', () => {
    assert.deepEqual(fieldErrors({ saver: { sink: { type: 'csv' } } }), [
      'spec.saver.sink.type: must be one of "jsonl", "log" (got "csv")',
    ]);
  });

  it('applies the cross-field rules the CRD carries as CEL', () => {
    assert.deepEqual(fieldErrors({ mapper: { work: { waitMs: { min: 10, max: 5 } } } }), [
      'spec.mapper.work.waitMs.min: min must not exceed max',
    ]);
    assert.deepEqual(fieldErrors({ source: { url: 'x.ndjson', generate: { objects: 1 } } }), [
      'spec.source: set either generate or url, not both',
    ]);
    assert.match(
      fieldErrors({ broadcaster: { target: { type: 'slack' } } })[0] ?? '',
      /spec\.broadcaster\.target\.urlFrom: a target needs its secret reference/,
    );
  });

  it('takes spec.nats.url as the CLI and the workloads do: host:port too, no websockets or HTTP', () => {
    for (const url of [
      'nats://nats:4222',
      'nats.team.svc:4222',
      'tls://a:4222, 10.0.0.1:4222',
      '[::1]:4222',
    ]) {
      assert.equal(resolveSpec({ nats: { url } }).nats.url, url);
    }
    const rule = 'must be nats://HOST:PORT, tls://HOST:PORT or HOST:PORT, several separated by commas';
    for (const url of ['ws://nats:8080', 'http://nats:8222', 'nats://a:4222,', 'nats://u:p@a:4222']) {
      assert.deepEqual(fieldErrors({ nats: { url } }), [`spec.nats.url: ${rule}`], url);
    }
  });

  it('accepts a target with urlFromEnv alone here (local mode); only the CRD refuses it, for the cluster', () => {
    const local = resolveSpec({ broadcaster: { target: { type: 'generic', urlFromEnv: 'HOOK' } } });
    assert.equal(local.broadcaster?.target.urlFromEnv, 'HOOK');
    const crd = parse(renderCrdYaml()) as unknown;
    const target = JSON.stringify(crd).match(
      /"x-kubernetes-validations":\[[^\]]*urlFromEnv is read only[^\]]*\]/,
    );
    assert.ok(target, 'the CRD carries the cluster rule');
    assert.match(target[0], /"rule":"has\(self\.urlFrom\)"/);
  });

  it('reports a wrong type with the value it got', () => {
    assert.deepEqual(fieldErrors({ mapper: { replicas: 'ten' } }), [
      'spec.mapper.replicas: must be an integer (got "ten")',
    ]);
  });

  it('rejects a transform that is not valid JSONata', () => {
    assert.match(
      fieldErrors({ mapper: { transform: '{"id": id,' } })[0] ?? '',
      /^spec\.mapper\.transform: invalid JSONata expression/,
    );
  });

  it('accepts the bundled example', () => {
    const doc: unknown = parse(
      readFileSync(new URL('../../examples/pipeline.yaml', import.meta.url), 'utf8'),
    );
    const p = parsePipeline(doc);
    assert.equal(p.spec.mapper.replicas, 4);
    assert.equal(p.metadata.name, 'example');
  });
});

describe('the default image', () => {
  it('is the image of this dwk version: its tag is package.json’s version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(DEFAULT_IMAGE, `ghcr.io/dwk-dev/dwk:${pkg.version}`);
  });
});

describe('the CRD', () => {
  it('crds/pipeline.yaml is generated from the schema (run npm run crd)', () => {
    const committed = readFileSync(new URL('../../crds/pipeline.yaml', import.meta.url), 'utf8');
    assert.equal(committed, renderCrdYaml());
  });
});
