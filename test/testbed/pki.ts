/**
 * The test bed's certificates, made with the openssl CLI (Node's crypto cannot issue X.509 certificates):
 * a CA, the apiserver's serving certificate, an admin client certificate in `system:masters`,
 * the fake nodes' kubelet serving certificate (kwok's server presents it) and the service-account
 * signing key pair.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  /** What kwok's server presents as the fake nodes' kubelet; the apiserver checks it against the CA. */
  nodeCert: string;
  nodeKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

// Extensions per kind of certificate; SANs cover loopback and the in-cluster names of the apiserver.
const OPENSSL_CONFIG = `[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
[node]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`;

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30'];

export async function makePki(dir: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const pki: Pki = {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('apiserver.crt'),
    serverKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    nodeCert: p('node.crt'),
    nodeKey: p('node.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
  };
  const config = p('openssl.cnf');
  writeFileSync(config, OPENSSL_CONFIG);
  const req = (ext: string, subject: string, key: string, cert: string, signer: string[]) =>
    run('openssl', [
      'req',
      '-x509',
      '-config',
      config,
      '-extensions',
      ext,
      ...signer,
      ...EC,
      '-subj',
      subject,
      '-keyout',
      key,
      '-out',
      cert,
    ]);

  await req('ca', '/CN=dwk-testbed-ca', pki.caKey, pki.caCert, []);
  const byCa = ['-CA', pki.caCert, '-CAkey', pki.caKey];
  await Promise.all([
    req('server', '/CN=kube-apiserver', pki.serverKey, pki.serverCert, byCa),
    req('client', '/O=system:masters/CN=dwk-admin', pki.adminKey, pki.adminCert, byCa),
    req('node', '/O=system:nodes/CN=system:node:kwok', pki.nodeKey, pki.nodeCert, byCa),
    run('openssl', [
      'genpkey',
      '-algorithm',
      'RSA',
      '-pkeyopt',
      'rsa_keygen_bits:2048',
      '-out',
      pki.serviceAccountKey,
    ]).then(() =>
      run('openssl', ['pkey', '-in', pki.serviceAccountKey, '-pubout', '-out', pki.serviceAccountPub]),
    ),
  ]);
  return pki;
}
