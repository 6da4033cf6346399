import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { render } from 'ink-testing-library';
import React from 'react';
import { createStore } from '../hooks/use-store.ts';
import { statusOf } from '../testing.ts';
import { progressBar, UpApp, UpView, type UpModel } from './up-view.ts';
import { StatusView } from './status-view.ts';

const h = React.createElement;

describe('up view', () => {
  it('draws a bar proportional to progress', () => {
    assert.equal(progressBar(0.5, 10), '█████░░░░░');
    assert.equal(progressBar(1.2, 4), '████');
    assert.equal(progressBar(0, 3), '░░░');
  });

  it('shows saved chunks, rate, ETA and replicas in a box', () => {
    const { lastFrame, unmount } = render(
      h(UpView, { status: statusOf(), events: [], color: false, width: 80 }),
    );
    const frame = lastFrame() ?? '';
    assert.match(frame, /example running/);
    assert.match(frame, /512\/1,000 chunks saved \(51%\) · 3 dead-lettered/);
    assert.match(frame, /40 chunks\/s · ETA 13s/);
    assert.match(frame, /fetcher 1\/1 · mapper 3\/4 \(2 restarts\) · saver 1\/1/);
    assert.match(frame, /╭/);
    unmount();
  });

  it('says when it is still starting', () => {
    const { lastFrame, unmount } = render(
      h(UpView, { status: undefined, events: [], color: false, width: 80 }),
    );
    assert.equal(lastFrame(), 'starting…');
    unmount();
  });

  it('redraws from the store and keeps event lines above the box', async () => {
    const store = createStore<UpModel>({ status: undefined, events: [] });
    const { lastFrame, frames, unmount } = render(h(UpApp, { store, color: false, width: 80 }));
    store.set({
      status: statusOf(),
      events: [{ id: 0, text: 'mapper-1 killed by SIGKILL; restarting in 0.5s' }],
    });
    await new Promise((r) => setTimeout(r, 50));
    const all = frames.join('\n');
    assert.match(all, /mapper-1 killed by SIGKILL; restarting in 0\.5s/);
    assert.match(lastFrame() ?? '', /512\/1,000 chunks saved/);
    const done = statusOf({ phase: 'Complete' });
    done.progress = {
      chunksTotal: 1000,
      chunksPublished: 1000,
      chunksSaved: 1000,
      chunksDeadLettered: 0,
      objectsDeadLettered: 0,
    };
    store.update((m) => ({ ...m, status: done }));
    await new Promise((r) => setTimeout(r, 50));
    assert.match(lastFrame() ?? '', /example complete/);
    assert.match(lastFrame() ?? '', /1,000\/1,000 chunks saved \(100%\)/);
    unmount();
  });

  it('the live status view shows the table and how to quit', () => {
    const { lastFrame, unmount } = render(h(StatusView, { status: statusOf(), error: undefined }));
    assert.match(lastFrame() ?? '', /COMPONENT {3}DESIRED {3}RUNNING {3}RESTARTS/);
    assert.match(lastFrame() ?? '', /q quits/);
    unmount();
  });
});
