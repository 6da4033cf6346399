/** Shared pieces of the broadcaster tests: a NATS server, broadcaster processes, a secret check. */
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TargetType } from '../../api/v1alpha1/pipeline.ts';
import { connectNats, type NatsConnection } from '../../lib/nats/connect.ts';
import { startNatsServer, type RunningNatsServer } from '../../lib/nats/server.ts';
import { topology } from '../../lib/nats/topology.ts';
import type { ClaimRecord } from '../../workloads/broadcaster/claims.ts';
import { spec, tempDir, waitFor, workloadSet, type WorkloadSet } from '../support/workloads.ts';
import type { Receiver } from './receiver.ts';

export interface Bed {
  dir: string;
  nats: RunningNatsServer;
  nc: NatsConnection;
  js: JetStreamClient;
  close(): Promise<void>;
}

export async function startBed(name: string): Promise<Bed> {
  const dir = tempDir(`bc-${name}`);
  const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
  const nc = await connectNats({ servers: nats.url, name: 'test' });
  return {
    dir,
    nats,
    nc,
    js: jetstream(nc),
    async close() {
      await nc.close();
      await nats.stop();
    },
  };
}

/** Broadcaster processes of pipeline `pipeline`, pointed at `receiver`. */
export function broadcasters(
  bed: Bed,
  pipeline: string,
  type: TargetType,
  receiver: Receiver,
  options: { subjects?: string[]; chatId?: string; env?: Record<string, string> } = {},
): { set: WorkloadSet; env: Record<string, string> } {
  const s = spec({
    broadcaster: {
      subjects: options.subjects ?? ['todos.>'],
      target: { type, urlFromEnv: 'HOOK', ...(options.chatId ? { chatId: options.chatId } : {}) },
    },
  });
  const env = {
    DWK_TARGET_URL: receiver.secret,
    DWK_TELEGRAM_API_URL: receiver.base,
    DWK_LOG_LEVEL: 'debug',
    ...options.env,
  };
  return { set: workloadSet(pipeline, s, bed.nats.url, bed.dir), env };
}

/** Waits until the broadcaster's consumer exists on `stream` (todos are only read from then on). */
export async function consumerReady(nc: NatsConnection, pipeline: string, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await waitFor(`the broadcaster consumer on ${stream}`, async () => {
    await jsm.consumers.info(stream, topology(pipeline).consumers.broadcaster);
    return true;
  });
}

export async function claimStates(nc: NatsConnection, pipeline: string): Promise<Map<string, ClaimRecord>> {
  const kv = await new Kvm(nc).open(topology(pipeline).buckets.claims);
  const out = new Map<string, ClaimRecord>();
  for await (const key of await kv.keys('e.>')) {
    const e = await kv.get(key);
    if (e?.operation === 'PUT') {
      const r = JSON.parse(e.string()) as ClaimRecord;
      out.set(r.eventId, r);
    }
  }
  for await (const key of await kv.keys('h.>')) {
    const e = await kv.get(key);
    if (e?.operation === 'PUT') {
      const r = JSON.parse(e.string()) as ClaimRecord;
      out.set(r.eventId, r);
    }
  }
  return out;
}

/** Every line of every log file under `dir` (workloads, nats-server), checked for each secret. */
export function assertNoSecretInLogs(dir: string, secrets: string[]): number {
  let lines = 0;
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.log') ? [join(d, e.name)] : [],
    );
  for (const file of walk(dir)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      lines++;
      for (const s of secrets) assert.ok(!line.includes(s), `secret found in ${file}: ${line.slice(0, 200)}`);
    }
  }
  assert.ok(lines > 0, 'there were log lines to check');
  return lines;
}
