// A workload logs in to NATS with a .creds file (user JWT and seed), as a Deployment gives it from
// the `creds` key of the credentials Secret: against a real nats-server in operator mode, which
// knows no user but the JWTs an operator signed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { nkeys } from '@nats-io/transport-node';
import { connectNats } from '../../lib/nats/connect.ts';
import { freePort, requireNatsServer } from '../../lib/nats/server.ts';
import { topology } from '../../lib/nats/topology.ts';
import { readConfig } from '../../workloads/config.ts';
import { spec, tempDir, waitFor, workloadSet } from '../support/workloads.ts';

type KeyPair = ReturnType<typeof nkeys.createOperator>;

/** A NATS JWT (ed25519-nkey), signed by `issuer`, as nsc would write it. */
function signedJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${part({ typ: 'JWT', alg: 'ed25519-nkey' })}.${part({
    jti: randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats: { ...nats, version: 2 },
  })}`;
  return `${head}.${Buffer.from(issuer.sign(new TextEncoder().encode(head))).toString('base64url')}`;
}

const unlimited = { subs: -1, data: -1, payload: -1 };

/** An operator, a system account, an account with JetStream, and one user of it as a .creds file. */
function trustChain() {
  const operator = nkeys.createOperator();
  const system = nkeys.createAccount();
  const account = nkeys.createAccount();
  const user = nkeys.createUser();
  const accountJwt = (kp: KeyPair, name: string, jetstream: boolean) =>
    signedJwt(operator, kp.getPublicKey(), name, {
      type: 'account',
      limits: {
        ...unlimited,
        imports: -1,
        exports: -1,
        wildcards: true,
        conn: -1,
        leaf: -1,
        ...(jetstream ? { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } : {}),
      },
      default_permissions: { pub: {}, sub: {} },
    });
  const userJwt = signedJwt(account, user.getPublicKey(), 'workload', {
    type: 'user',
    pub: {},
    sub: {},
    ...unlimited,
  });
  return {
    operatorJwt: signedJwt(operator, operator.getPublicKey(), 'test-operator', {
      type: 'operator',
      system_account: system.getPublicKey(),
    }),
    systemAccount: system.getPublicKey(),
    accounts: {
      [system.getPublicKey()]: accountJwt(system, 'SYS', false),
      [account.getPublicKey()]: accountJwt(account, 'pipelines', true),
    },
    creds: [
      '-----BEGIN NATS USER JWT-----',
      userJwt,
      '------END NATS USER JWT------',
      '',
      '-----BEGIN USER NKEY SEED-----',
      new TextDecoder().decode(user.getSeed()),
      '------END USER NKEY SEED------',
      '',
    ].join('\n'),
  };
}

/** nats-server in operator mode with JetStream, on loopback; stopped after the test. */
async function operatorModeServer(t: TestContext, dir: string, chain: ReturnType<typeof trustChain>) {
  const port = await freePort();
  const monitorPort = await freePort();
  writeFileSync(join(dir, 'operator.jwt'), chain.operatorJwt);
  const preload = Object.entries(chain.accounts)
    .map(([k, v]) => `    ${k}: ${v}`)
    .join('\n');
  const config = join(dir, 'nats.conf');
  mkdirSync(join(dir, 'js'), { recursive: true });
  writeFileSync(
    config,
    [
      `listen: 127.0.0.1:${port}`,
      `http: 127.0.0.1:${monitorPort}`,
      `jetstream { store_dir: "${join(dir, 'js')}" }`,
      `operator: "${join(dir, 'operator.jwt')}"`,
      `system_account: ${chain.systemAccount}`,
      'resolver: MEMORY',
      `resolver_preload: {\n${preload}\n}`,
      '',
    ].join('\n'),
  );
  const log = openSync(join(dir, 'nats-server.log'), 'a');
  const child = spawn(requireNatsServer(), ['-c', config], { stdio: ['ignore', log, log] });
  closeSync(log);
  t.after(() => {
    child.kill('SIGKILL');
  });
  await waitFor('nats-server healthy with JetStream', async () => {
    if (child.exitCode !== null) throw new Error(`nats-server exited ${child.exitCode}; see ${dir}`);
    const res = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`).catch(
      () => undefined,
    );
    return res?.ok ? true : undefined;
  });
  return `nats://127.0.0.1:${port}`;
}

describe('NATS login with a creds file', { timeout: 90_000 }, () => {
  it('a fetcher given DWK_NATS_CREDS_FILE publishes to a server that only knows JWTs; without it, it is refused', async (t) => {
    const dir = tempDir('nats-creds');
    const chain = trustChain();
    const url = await operatorModeServer(t, dir, chain);
    const credsFile = join(dir, 'nats.creds');
    writeFileSync(credsFile, chain.creds, { mode: 0o600 });

    // What the workload reads from the environment its Deployment sets.
    const auth = readConfig({
      DWK_ROLE: 'fetcher',
      DWK_PIPELINE: 'locked',
      DWK_NATS_URL: url,
      DWK_NATS_CREDS_FILE: credsFile,
    }).natsAuth;
    assert.deepEqual(auth.creds, new TextEncoder().encode(chain.creds), 'read once, at start');
    await assert.rejects(
      connectNats({ servers: url, name: 'no-creds', timeoutMs: 2000 }),
      /Authorization Violation|authorization/i,
      'the server refuses a client without credentials',
    );

    const w = workloadSet(
      'locked',
      spec({ source: { generate: { objects: 300 } }, chunkSize: 100 }),
      url,
      dir,
    );
    t.after(() => w.stopAll());
    w.start('fetcher', 'fetcher-0', { DWK_NATS_CREDS_FILE: credsFile });

    const nc = await connectNats({
      servers: url,
      name: 'test',
      auth: { creds: new TextEncoder().encode(chain.creds) },
    });
    t.after(() => nc.close());
    const chunks = topology('locked');
    const stored = await waitFor(
      'the three chunks published by the fetcher',
      async () => {
        const info = await (await jetstreamManager(nc)).streams.info(chunks.streams.chunks);
        return info.state.messages === 3 ? info.state.messages : undefined;
      },
      30_000,
    ).catch((err: unknown) => assert.fail(`${String(err)}\n${w.problems(20)}`));
    assert.equal(stored, 3);
  });
});
