import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXIT } from '../../lib/errors.ts';
import { startNatsServer } from '../../lib/nats/server.ts';
import { alive, dwk, processesUnder, projectDir, sinkIds, writePipeline } from './helpers.ts';

describe('dwk up --local', () => {
  it('runs a small pipeline to the end with --exit-when-done: every id in the sink exactly once', async () => {
    const dir = projectDir('up');
    const file = writePipeline(dir, 'small', {
      source: { generate: { objects: 2000 } },
      chunkSize: 100,
      mapper: { replicas: 2, concurrency: 2 },
      saver: { sink: { type: 'jsonl', path: 'results.jsonl' } },
    });
    const r = await dwk(dir, 'up', '--local', '-f', file, '--exit-when-done');
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(
      r.stdout,
      /small: done, 20\/20 chunks saved \(100%\) in \d+\w*; results in \.dwk\/small\/results\.jsonl/,
    );
    assert.match(
      r.stderr,
      /small: NATS nats:\/\/127\.0\.0\.1:\d+ \(started by dwk\); fetcher ×1, mapper ×2, saver ×1/,
    );

    const sink = join(dir, '.dwk/small/results.jsonl');
    const ids = sinkIds(sink);
    assert.equal(ids.size, 2000);
    for (let id = 0; id < 2000; id++) assert.equal(ids.get(id), 1, `id ${id}`);
    const first = JSON.parse(readFileSync(sink, 'utf8').split('\n')[0] ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(first).sort(), ['id', 'name']);
    assert.match(String(first.name), /^\S+ \S+$/);

    for (const c of ['fetcher-0', 'mapper-0', 'mapper-1', 'saver-0']) {
      assert.ok(existsSync(join(dir, `.dwk/small/logs/${c}.log`)), `log of ${c}`);
    }
    assert.ok(!existsSync(join(dir, '.dwk/small/state.json')), 'state.json is removed on exit');
    assert.deepEqual(processesUnder(dir), [], 'no process left behind');

    // A second run resumes from the stored state: already done, nothing saved twice.
    const again = await dwk(dir, 'up', '--local', '-f', file, '--exit-when-done');
    assert.equal(again.code, EXIT.ok, again.stderr);
    assert.match(again.stdout, /20\/20 chunks saved/);
    assert.equal([...sinkIds(sink).values()].filter((n) => n !== 1).length, 0);
    assert.equal(sinkIds(sink).size, 2000);

    const purge = await dwk(dir, 'down', '--local', '--purge');
    assert.equal(purge.code, EXIT.ok, purge.stderr);
    assert.match(purge.stdout, /deleted .*\.dwk\/small/);
    assert.ok(!existsSync(join(dir, '.dwk/small')));
  });

  it('--fresh starts over instead of resuming', async () => {
    const dir = projectDir('fresh');
    const file = writePipeline(dir, 'tiny', {
      source: { generate: { objects: 300 } },
      mapper: { replicas: 1 },
    });
    assert.equal((await dwk(dir, 'up', '--local', '-f', file, '--exit-when-done')).code, EXIT.ok);
    const r = await dwk(dir, 'up', '--local', '-f', file, '--exit-when-done', '--fresh');
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(r.stderr, /deleted the data of earlier runs/);
    const ids = sinkIds(join(dir, '.dwk/tiny/results.jsonl'));
    assert.equal(ids.size, 300);
    assert.ok([...ids.values()].every((n) => n === 1));
  });
});

describe('dwk up --local against a NATS of your own, in a directory of your choice', () => {
  it('--nats-url (host:port too) and --data-dir: runs to the end, data where asked, the server left running', async (t) => {
    const dir = projectDir('external');
    const server = await startNatsServer({ dataDir: join(dir, 'own-nats') });
    t.after(() => server.stop());
    const file = writePipeline(dir, 'ext', {
      source: { generate: { objects: 500 } },
      mapper: { replicas: 1 },
    });
    const hostPort = server.url.replace('nats://', '');
    const r = await dwk(
      dir,
      'up',
      '--local',
      '-f',
      file,
      '--nats-url',
      hostPort,
      '--data-dir',
      'runs/ext',
      '--exit-when-done',
    );
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.equal(sinkIds(join(dir, 'runs/ext/results.jsonl')).size, 500);
    assert.ok(!existsSync(join(dir, '.dwk/ext')), 'nothing in the default place');
    assert.ok(server.pid !== undefined && alive(server.pid), 'dwk does not stop a server it did not start');

    // The same pipeline name on the same server from another directory would share its streams:
    // with a changed source, dwk says so and offers only --fresh.
    const changed = writePipeline(dir, 'ext', {
      source: { generate: { objects: 900 } },
      mapper: { replicas: 1 },
    });
    const again = await dwk(
      dir,
      'up',
      '--local',
      '-f',
      changed,
      '--nats-url',
      server.url,
      '--data-dir',
      'runs/ext',
    );
    assert.equal(again.code, EXIT.invalidSpec, again.stderr);
    assert.match(again.stderr, /spec\.source\.generate\.objects: 500 → 900/);
    assert.match(
      again.stderr,
      /hint: start over with --fresh \(deletes that data and the pipeline's streams on nats:/,
    );
  });

  it('--fresh never deletes the directory it runs in', async () => {
    const dir = projectDir('unsafe');
    const file = writePipeline(dir, 'here', { source: { generate: { objects: 100 } } });
    const r = await dwk(dir, 'up', '--local', '-f', file, '--data-dir', '.', '--fresh');
    assert.equal(r.code, EXIT.usage, r.stderr);
    assert.match(r.stderr, /--fresh would delete .*, and it is the directory dwk runs in/);
    assert.ok(existsSync(file), 'the manifest is still there');
    assert.deepEqual(processesUnder(dir), []);
  });
});
