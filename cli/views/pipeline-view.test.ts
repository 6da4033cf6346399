import assert from 'node:assert/strict';
import { setTimeout as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { render } from 'ink-testing-library';
import React from 'react';
import type { ClusterStatus } from '../cluster/status.ts';
import { createStore } from '../hooks/use-store.ts';
import { statusOf } from '../testing.ts';
import { fromCluster, fromLocal, PipelineApp, PipelineView, type LiveModel } from './pipeline-view.ts';

const h = React.createElement;

function clusterStatus(overrides: Partial<ClusterStatus> = {}): ClusterStatus {
  return {
    pipeline: 'demo',
    namespace: 'team',
    mode: 'cluster',
    paused: false,
    generation: 3,
    observedGeneration: 3,
    natsUrl: 'nats://nats.team.svc:4222',
    components: {
      fetcher: { desired: 1, replicas: 1, ready: 1, updated: 1, restarts: 0 },
      mapper: { desired: 4, replicas: 4, ready: 2, updated: 4, restarts: 5 },
      saver: { desired: 1, replicas: 1, ready: 1, updated: 1, restarts: 0 },
    },
    progress: {
      chunksTotal: 1000,
      chunksPublished: 1000,
      chunksSaved: 500,
      chunksDeadLettered: 0,
      objectsDeadLettered: 0,
    },
    conditions: [
      { type: 'Ready', status: 'False', reason: 'ReplicasNotReady', message: 'waiting for mapper 2/4' },
    ],
    events: Array.from({ length: 10 }, (_, i) => ({
      type: i === 0 ? 'Warning' : 'Normal',
      reason: `Reason${i}`,
      message: `event ${i}`,
      count: 1,
      lastSeen: `2026-01-01T00:00:0${i}Z`,
    })),
    ...overrides,
  };
}

const props = { error: undefined, message: undefined, selected: 1, width: 80, height: 40, color: false };

describe('the live pipeline view', () => {
  it('shows replicas, progress, conditions and events of a cluster pipeline, the selected row marked', () => {
    const { lastFrame, unmount } = render(h(PipelineView, { ...props, model: fromCluster(clusterStatus()) }));
    const frame = lastFrame() ?? '';
    assert.match(frame, /demo · namespace team · not ready/);
    assert.match(frame, /› mapper\s+4\s+2\s+5/);
    assert.match(frame, / {2}fetcher\s+1\s+1\s+0/);
    assert.match(frame, /50%/);
    assert.match(frame, /500\/1,000 chunks saved · 0 dead-lettered/);
    assert.match(frame, /Ready=False ReplicasNotReady: waiting for mapper 2\/4/);
    assert.match(frame, /Reason0: event 0/);
    assert.match(frame, /q quit · ↑↓ select · \+\/- scale · p pause/);
    unmount();
  });

  it('fits the terminal: no line wider than it, events cut to the rows left', () => {
    const { lastFrame, unmount } = render(
      h(PipelineView, { ...props, width: 40, height: 14, model: fromCluster(clusterStatus()) }),
    );
    const lines = (lastFrame() ?? '').split('\n');
    assert.ok(
      lines.every((l) => l.length <= 40),
      lines.join('\n'),
    );
    assert.ok(lines.length <= 14, `${lines.length} lines`);
    unmount();
  });

  it('draws a local pipeline from the same view, with its lag', () => {
    const { lastFrame, unmount } = render(h(PipelineView, { ...props, model: fromLocal(statusOf()) }));
    const frame = lastFrame() ?? '';
    assert.match(frame, /example · local · running/);
    assert.match(frame, /› mapper\s+4\s+3\s+2/);
    assert.match(frame, /mapper: 400 pending, 8 ack pending, 1 redelivered/);
    unmount();
  });

  it('draws the NATS server and broadcaster lines of a local pipeline too', () => {
    const model = fromLocal(
      statusOf({
        natsServer: {
          serverId: 'S',
          version: '2.14.5',
          uptime: '3m',
          connections: 7,
          slowConsumers: 0,
          totals: { inMsgs: 10, outMsgs: 20, inBytes: 100, outBytes: 200 },
        },
        broadcast: { delivered: 5, failed: 0, deadLettered: 0, skippedDuplicate: 1, unknown: 0 },
      }),
    );
    const { lastFrame, unmount } = render(h(PipelineView, { ...props, width: 140, model }));
    const frame = lastFrame() ?? '';
    assert.match(frame, /nats-server 2\.14\.5 · 7 connections · 0 slow consumers · 10 msgs in, 20 out/);
    assert.match(
      frame,
      /broadcast: 5 delivered · 0 failed \(retried\) · 0 dead-lettered · 1 skipped as duplicates/,
    );
    unmount();
  });

  it('shows what NATS says in a cluster: rate and ETA, lag, server figures, broadcasters', () => {
    const server = {
      serverId: 'S1',
      version: '2.14.5',
      uptime: '1h',
      connections: 12,
      slowConsumers: 1,
      totals: { inMsgs: 1000, outMsgs: 2000, inBytes: 1 << 20, outBytes: 2 << 20 },
      rates: { inMsgs: 1234, outMsgs: 2345, inBytes: 100 * 1024, outBytes: 3 * 1024 * 1024 },
      jetstream: { streams: 7, consumers: 9, messages: 100, bytes: 5 * 1024 * 1024 },
    };
    const model = fromCluster(
      clusterStatus({
        nats: { url: 'nats://nats.team.svc:4222', via: 'port-forward', pod: 'nats-0', reachable: true },
        rate: { chunksPerSecond: 25, etaSeconds: 20 },
        lag: { mapper: { pending: 400, ackPending: 8, redelivered: 1, waiting: 2 } },
        natsServer: server,
        broadcast: { delivered: 9, failed: 2, deadLettered: 1, skippedDuplicate: 3, unknown: 0 },
      }),
    );
    const { lastFrame, unmount } = render(h(PipelineView, { ...props, width: 160, model }));
    const frame = lastFrame() ?? '';
    assert.match(frame, /25 chunks\/s · ETA 20s/);
    assert.match(frame, /mapper: 400 pending, 8 ack pending, 1 redelivered/);
    assert.match(
      frame,
      /nats-server 2\.14\.5 · 12 connections · 1 slow consumers · in 1,234 msg\/s \(100 KiB\/s\) · out 2,345 msg\/s \(3\.0 MiB\/s\) · JetStream 7 streams, 9 consumers, 5\.0 MiB/,
    );
    assert.match(
      frame,
      /broadcast: 9 delivered · 2 failed \(retried\) · 1 dead-lettered · 3 skipped as duplicates · 0 unknown/,
    );
    unmount();

    const away = fromCluster(
      clusterStatus({
        nats: { url: 'nats://n:4222', via: 'direct', reachable: false, error: 'ECONNREFUSED' },
      }),
    );
    const r2 = render(h(PipelineView, { ...props, model: away }));
    assert.match(r2.lastFrame() ?? '', /NATS unreachable: ECONNREFUSED/);
    r2.unmount();
  });

  it('keys: arrows select, + and - scale the selected component, p pauses, q quits', async () => {
    const calls: string[] = [];
    const store = createStore<LiveModel>({
      model: fromCluster(clusterStatus()),
      error: undefined,
      message: undefined,
    });
    const app = render(
      h(PipelineApp, {
        store,
        color: false,
        size: () => ({ width: 80, height: 40 }),
        actions: {
          scale: (c: string, n: number) => (calls.push(`scale ${c} ${n}`), Promise.resolve(`${c} → ${n}`)),
          pause: (p: boolean) => (calls.push(`pause ${p}`), Promise.resolve(p ? 'paused' : 'resumed')),
        },
      }),
    );
    const press = async (k: string) => {
      app.stdin.write(k);
      await tick(20);
    };
    await tick(20);
    await press('\u001B[B'); // down: mapper
    await press('+');
    assert.match(app.lastFrame() ?? '', /mapper → 5/);
    await press('\u001B[B'); // saver
    await press('-');
    await press('\u001B[A'); // back to mapper
    await press('p');
    assert.deepEqual(calls, ['scale mapper 5', 'scale saver 0', 'pause true']);
    await press('q');
    app.unmount();
  });
});
