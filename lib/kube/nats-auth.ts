/**
 * NATS credentials from the Secret a Pipeline names (`spec.nats.credentials.secretRef`), with the
 * keys the workloads read: `user` and `password`, or `token`, or `creds` (a .creds file, written
 * to a private file because the NATS client reads it from disk).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsAuth } from '../nats/connect.ts';
import type { KubeClient } from './client.ts';

export interface NatsAuthReader {
  read(namespace: string, secretName: string): Promise<NatsAuth>;
  /** Removes the creds files written. */
  close(): void;
}

export function natsAuthReader(client: KubeClient): NatsAuthReader {
  let dir: string | undefined;
  let files = 0;
  return {
    async read(namespace, secretName) {
      const secret = await client.request<{ data?: Record<string, string> }>(
        'GET',
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(secretName)}`,
      );
      const value = (k: string) => {
        const v = secret.data?.[k];
        return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
      };
      const creds = value('creds');
      let credsFile: string | undefined;
      if (creds !== undefined) {
        dir ??= mkdtempSync(join(tmpdir(), 'dwk-nats-creds-'));
        credsFile = join(dir, `${++files}.creds`);
        writeFileSync(credsFile, creds, { mode: 0o600 });
      }
      return { user: value('user'), password: value('password'), token: value('token'), credsFile };
    },
    close() {
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
