import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from './clock.ts';
import {
  backoffDelay,
  DEFAULT_BACKOFF,
  Supervisor,
  type ProcessExit,
  type SpawnFn,
  type SupervisorEvent,
} from './supervisor.ts';

/** Processes as plain objects: the test decides when each one exits. */
class FakeProcesses {
  nextPid = 100;
  readonly procs: Array<{
    instance: string;
    pid: number;
    signals: string[];
    alive: boolean;
    exit: (e: ProcessExit) => void;
  }> = [];
  /** When true, SIGTERM makes a process exit at once (a well-behaved workload). */
  obeyTerm = true;

  spawn: SpawnFn = (req, onExit) => {
    const p = {
      instance: req.instance,
      pid: this.nextPid++,
      signals: [] as string[],
      alive: true,
      exit: (e: ProcessExit) => {
        if (!p.alive) return;
        p.alive = false;
        onExit(e);
      },
    };
    this.procs.push(p);
    return {
      pid: p.pid,
      kill: (signal) => {
        p.signals.push(signal);
        if (signal === 'SIGKILL' || this.obeyTerm) p.exit({ code: null, signal });
      },
    };
  };

  alive(prefix = ''): string[] {
    return this.procs
      .filter((p) => p.alive && p.instance.startsWith(prefix))
      .map((p) => p.instance)
      .sort();
  }

  find(instance: string) {
    const p = this.procs.filter((q) => q.instance === instance && q.alive).at(-1);
    assert.ok(p, `${instance} is alive`);
    return p;
  }
}

function setup(options: { graceMs?: number } = {}) {
  const clock = new FakeClock(1_000_000);
  const procs = new FakeProcesses();
  const events: SupervisorEvent[] = [];
  const sup = new Supervisor({
    spawn: procs.spawn,
    clock,
    graceMs: options.graceMs ?? 10_000,
    onEvent: (e) => events.push(e),
  });
  return { clock, procs, events, sup };
}

describe('Supervisor', () => {
  it('starts one process per replica, named component-index', () => {
    const { sup, procs } = setup();
    sup.scale('fetcher', 1);
    sup.scale('mapper', 3);
    assert.deepEqual(procs.alive(), ['fetcher-0', 'mapper-0', 'mapper-1', 'mapper-2']);
    const snap = sup.snapshot();
    assert.equal(snap.mapper?.desired, 3);
    assert.equal(snap.mapper?.running, 3);
    assert.deepEqual(
      snap.mapper?.instances.map((i) => i.pid),
      [101, 102, 103],
    );
  });

  it('restarts a process that dies, after the initial backoff', () => {
    const { sup, procs, clock, events } = setup();
    sup.scale('mapper', 2);
    clock.advance(60_000);
    procs.find('mapper-1').exit({ code: null, signal: 'SIGKILL' });
    assert.deepEqual(procs.alive(), ['mapper-0']);
    assert.equal(sup.snapshot().mapper?.running, 1);
    assert.equal(sup.snapshot().mapper?.instances[1]?.phase, 'backoff');
    const crash = events.find((e) => e.type === 'crashed');
    assert.deepEqual(crash, {
      type: 'crashed',
      instance: 'mapper-1',
      exit: { code: null, signal: 'SIGKILL' },
      restartInMs: DEFAULT_BACKOFF.initialMs,
      restarts: 1,
    });
    clock.advance(DEFAULT_BACKOFF.initialMs - 1);
    assert.deepEqual(procs.alive(), ['mapper-0']);
    clock.advance(1);
    assert.deepEqual(procs.alive(), ['mapper-0', 'mapper-1']);
    assert.equal(sup.snapshot().mapper?.restarts, 1);
    assert.equal(sup.snapshot().mapper?.instances[1]?.restarts, 1);
  });

  it('doubles the backoff of a process that keeps crashing, up to the maximum', () => {
    const { sup, procs, clock, events } = setup();
    sup.scale('saver', 1);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      procs.find('saver-0').exit({ code: 1, signal: null });
      const last = events.at(-1);
      assert.equal(last?.type, 'crashed');
      if (last?.type === 'crashed') delays.push(last.restartInMs);
      clock.advance(last?.type === 'crashed' ? last.restartInMs : 0);
    }
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('resets the backoff once a process has run long enough', () => {
    const { sup, procs, clock } = setup();
    sup.scale('saver', 1);
    for (let i = 0; i < 4; i++) {
      procs.find('saver-0').exit({ code: 1, signal: null });
      clock.advance(backoffDelay(i + 1, DEFAULT_BACKOFF));
    }
    clock.advance(DEFAULT_BACKOFF.resetAfterMs);
    procs.find('saver-0').exit({ code: 1, signal: null });
    const snap = sup.snapshot().saver;
    assert.equal(snap?.instances[0]?.phase, 'backoff');
    clock.advance(DEFAULT_BACKOFF.initialMs);
    assert.deepEqual(procs.alive(), ['saver-0']);
  });

  it('scales down by stopping the highest-numbered instances with SIGTERM', () => {
    const { sup, procs } = setup();
    sup.scale('mapper', 4);
    const from = sup.scale('mapper', 2);
    assert.equal(from, 4);
    assert.deepEqual(procs.alive(), ['mapper-0', 'mapper-1']);
    assert.deepEqual(
      procs.procs.map((p) => p.signals.join(',')),
      ['', '', 'SIGTERM', 'SIGTERM'],
    );
    assert.equal(sup.snapshot().mapper?.running, 2);
    assert.equal(sup.snapshot().mapper?.restarts, 0);
  });

  it('kills an instance that ignores SIGTERM once the grace period is over', () => {
    const { sup, procs, clock, events } = setup({ graceMs: 10_000 });
    procs.obeyTerm = false;
    sup.scale('mapper', 2);
    sup.scale('mapper', 1);
    assert.equal(sup.snapshot().mapper?.instances[1]?.phase, 'stopping');
    clock.advance(9_999);
    assert.deepEqual(procs.alive(), ['mapper-0', 'mapper-1']);
    clock.advance(1);
    assert.deepEqual(procs.alive(), ['mapper-0']);
    assert.ok(events.some((e) => e.type === 'killed' && e.instance === 'mapper-1'));
    assert.deepEqual(
      sup.snapshot().mapper?.instances.map((i) => i.name),
      ['mapper-0'],
    );
  });

  it('waits for a stopping instance to be gone before starting it again', () => {
    const { sup, procs, clock } = setup();
    procs.obeyTerm = false;
    sup.scale('fetcher', 1);
    sup.scale('fetcher', 0);
    sup.scale('fetcher', 1);
    assert.equal(procs.procs.length, 1, 'no second fetcher-0 while the first one drains');
    procs.find('fetcher-0').exit({ code: 0, signal: null });
    assert.equal(procs.procs.length, 2);
    assert.deepEqual(procs.alive(), ['fetcher-0']);
    assert.equal(sup.snapshot().fetcher?.restarts, 0, 'a scale is not a restart');
    clock.advance(60_000);
    assert.equal(clock.pending, 0);
  });

  it('scaling to zero cancels a pending restart', () => {
    const { sup, procs, clock } = setup();
    sup.scale('mapper', 1);
    procs.find('mapper-0').exit({ code: 1, signal: null });
    sup.scale('mapper', 0);
    clock.advance(60_000);
    assert.deepEqual(procs.alive(), []);
    assert.deepEqual(sup.snapshot().mapper, { desired: 0, running: 0, restarts: 1, instances: [] });
  });

  it('treats a process that cannot start as a crash and retries', () => {
    const clock = new FakeClock();
    let attempts = 0;
    const events: SupervisorEvent[] = [];
    const sup = new Supervisor({
      clock,
      onEvent: (e) => events.push(e),
      spawn: () => {
        attempts++;
        throw new Error('ENOENT');
      },
    });
    sup.scale('fetcher', 1);
    clock.advance(500);
    assert.equal(attempts, 2);
    assert.deepEqual(
      events.filter((e) => e.type === 'crashed').map((e) => e.type === 'crashed' && e.exit.error),
      ['ENOENT', 'ENOENT'],
    );
  });

  it('stop terminates everything, kills what ignores SIGTERM and resolves when all are gone', async () => {
    const { sup, procs, clock } = setup({ graceMs: 10_000 });
    sup.scale('fetcher', 1);
    sup.scale('mapper', 3);
    sup.scale('saver', 1);
    procs.find('saver-0').exit({ code: 1, signal: null }); // in backoff: must not come back
    procs.obeyTerm = false;
    let done = false;
    const stopped = sup.stop().then(() => (done = true));
    procs.find('mapper-0').exit({ code: 0, signal: null });
    procs.find('fetcher-0').exit({ code: 0, signal: null });
    await Promise.resolve();
    assert.equal(done, false);
    clock.advance(10_000);
    await stopped;
    assert.deepEqual(procs.alive(), []);
    assert.ok(procs.procs.filter((p) => p.instance !== 'saver-0').every((p) => p.signals[0] === 'SIGTERM'));
    assert.deepEqual(
      procs.procs.filter((p) => p.signals.includes('SIGKILL')).map((p) => p.instance),
      ['mapper-1', 'mapper-2'],
    );
    assert.throws(() => sup.scale('mapper', 1), /stopping/);
    clock.advance(60_000);
    assert.deepEqual(procs.alive(), []);
  });

  it('a process that dies during stop is not restarted', async () => {
    const { sup, procs, clock } = setup();
    procs.obeyTerm = false;
    sup.scale('mapper', 1);
    const stopped = sup.stop();
    procs.find('mapper-0').exit({ code: null, signal: 'SIGSEGV' });
    await stopped;
    clock.advance(60_000);
    assert.equal(procs.procs.length, 1);
  });

  it('forceStop kills every process at once', async () => {
    const { sup, procs } = setup();
    procs.obeyTerm = false;
    sup.scale('mapper', 2);
    await sup.forceStop();
    assert.deepEqual(procs.alive(), []);
    assert.deepEqual(
      procs.procs.map((p) => p.signals.join(',')),
      ['SIGTERM,SIGKILL', 'SIGTERM,SIGKILL'],
    );
  });
});
