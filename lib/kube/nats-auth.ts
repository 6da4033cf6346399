/**
 * NATS credentials from the Secret a Pipeline names (`spec.nats.credentials.secretRef`), with the
 * keys the workloads read: `user` and `password`, or `token`, or `creds` (a .creds file). The
 * creds stay in memory: the controller's root filesystem is read-only and it has no /tmp.
 */
import type { NatsAuth } from '../nats/connect.ts';
import type { KubeClient } from './client.ts';

export interface NatsAuthReader {
  read(namespace: string, secretName: string): Promise<NatsAuth>;
  /** Nothing to release since the creds are no longer written to disk; kept for the callers. */
  close(): void;
}

export function natsAuthReader(client: KubeClient): NatsAuthReader {
  return {
    async read(namespace, secretName) {
      const secret = await client.request<{ data?: Record<string, string> }>(
        'GET',
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(secretName)}`,
      );
      const decoded = (k: string) => {
        const v = secret.data?.[k];
        return v === undefined ? undefined : Buffer.from(v, 'base64');
      };
      const creds = decoded('creds');
      return {
        user: decoded('user')?.toString('utf8'),
        password: decoded('password')?.toString('utf8'),
        token: decoded('token')?.toString('utf8'),
        creds: creds && new Uint8Array(creds),
      };
    },
    close() {},
  };
}
