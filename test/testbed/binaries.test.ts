import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { binaryPaths, parseVersions, VERSIONS_FILE } from './binaries.ts';

const goMod = (dir: string) => readFileSync(new URL(`../../tools/${dir}/go.mod`, import.meta.url), 'utf8');

test('versions.env pins the same Kubernetes and etcd as the wrapper modules build', () => {
  const v = parseVersions(readFileSync(VERSIONS_FILE, 'utf8'));
  assert.match(goMod('k8s'), new RegExp(`\\bk8s\\.io/kubernetes ${v.kubernetes.replaceAll('.', '\\.')}\\b`));
  assert.match(
    goMod('etcd'),
    new RegExp(`\\bgo\\.etcd\\.io/etcd/server/v3 ${v.etcd.replaceAll('.', '\\.')}\\b`),
  );
});

test('every staging module of the Kubernetes wrapper is replaced by its published tag', () => {
  const v = parseVersions(readFileSync(VERSIONS_FILE, 'utf8'));
  const staging = `v0.${v.kubernetes.slice('v1.'.length)}`;
  const replaces = [...goMod('k8s').matchAll(/^replace (k8s\.io\/[a-z0-9-]+) => (\S+) (\S+)$/gm)];
  assert.ok(replaces.length >= 33, `only ${replaces.length} replaces`);
  for (const [, from, to, version] of replaces) {
    assert.equal(to, from);
    assert.equal(version, staging, from);
  }
});

test('binaries are found in the cache by tool and version', () => {
  const bins = binaryPaths(
    '/c',
    parseVersions('KUBERNETES_VERSION=v1.2.3\nETCD_VERSION=v3\nKWOK_VERSION=v0\nHELM_VERSION=v4\n'),
  );
  assert.equal(bins.kubeApiserver, '/c/tools/kubernetes-v1.2.3/kube-apiserver');
  assert.equal(bins.etcd, '/c/tools/etcd-v3/etcd');
  assert.equal(bins.kwokStages, '/c/tools/kwok-v0/stages.yaml');
  assert.equal(bins.kwokCrds, '/c/tools/kwok-v0/crds.yaml');
  assert.equal(bins.helm, '/c/tools/helm-v4/helm');
});
