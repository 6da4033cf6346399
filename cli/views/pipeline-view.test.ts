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
