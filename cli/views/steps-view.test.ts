import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { render } from 'ink-testing-library';
import React from 'react';
import { createOutput } from '../output.ts';
import { plainSteps } from '../cluster/steps.ts';
import { captureContext } from '../testing.ts';
import { StepsView, stepText } from './steps-view.ts';

describe('steps of dwk up', () => {
  it('draws a spinner on the running step and a mark with the time on finished ones', () => {
    const { lastFrame, unmount } = render(
      React.createElement(StepsView, {
        tick: 2,
        color: false,
        steps: [
          { id: 0, title: 'NATS', state: 'done', detail: 'release nats unchanged', elapsedMs: 200 },
          { id: 1, title: 'Ready', state: 'running', detail: 'waiting for mapper 1/3', elapsedMs: 12_500 },
          { id: 2, title: 'x', state: 'failed', detail: 'boom', elapsedMs: 0 },
        ],
      }),
    );
    assert.equal(
      lastFrame(),
      '✓ NATS: release nats unchanged 0.2s\n⠹ Ready: waiting for mapper 1/3 13s\n✗ x: boom 0.0s',
    );
    unmount();
  });

  it('without a terminal writes one line per finished step on stderr and remembers them', () => {
    const ctx = captureContext('/tmp');
    let now = 0;
    const steps = plainSteps(createOutput(ctx, {}), () => now);
    const a = steps.start('CRD');
    now = 1500;
    a.done('created');
    const b = steps.start('Pipeline');
    b.fail('forbidden');
    assert.equal(ctx.err(), '✓ CRD: created (1.5s)\n✗ Pipeline: forbidden (0.0s)\n');
    assert.equal(ctx.out(), '');
    assert.deepEqual(steps.finished, ['CRD']);
    assert.equal(stepText({ id: 0, title: 'a', state: 'done', elapsedMs: 61_000 }, 0), '✓ a (1m01s)');
  });
});
