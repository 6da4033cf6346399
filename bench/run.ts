/**
 * The pipeline benchmark: the ceiling, then the pipeline with zero simulated work, then with a
 * per-chunk wait, each on its own nats-server. Writes the figures into docs/benchmarks.md.
 *
 *   npm run bench                  the full run (about 5 minutes), rewrites docs/benchmarks.md
 *   node bench/run.ts --quick      a small run of every series, printed only
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { requireNatsServer } from '../lib/nats/server.ts';
import { runCeiling, runPipeline, type RunFigures } from './measure.ts';
import { benchPlan, waitObjects } from './plan.ts';
import { renderResults, spliceGenerated, type BenchResults, type MachineInfo } from './report.ts';

const DOC = new URL('../docs/benchmarks.md', import.meta.url).pathname;

function machineInfo(): MachineInfo {
  const version = execFileSync(requireNatsServer(), ['--version'], { encoding: 'utf8' }).trim();
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    natsServer: version.replace(/^nats-server:\s*/, ''),
    loadAtStart: loadavg()[0] ?? 0,
    loadAtEnd: NaN,
  };
}

const say = (line: string) => process.stderr.write(`${line}\n`);
const brief = (f: RunFigures) =>
  `${Math.round(f.objectsPerSecond)} objects/s in ${f.elapsedSeconds.toFixed(2)} s (CPUs busy: run ${f.runBusyCores.toFixed(2)}, machine ${f.machineBusyCores.toFixed(2)})`;

/**
 * Runs every row `times` times, round-robin so that a spell of load from other processes hits all
 * rows alike, each run on a fresh pipeline and server. A row keeps its fastest run: other load
 * can only slow a run down, never speed it up.
 */
async function rounds(
  times: number,
  rows: Array<{ name: string; run: (name: string) => Promise<RunFigures> }>,
): Promise<Array<{ figures: RunFigures; runs: number[] }>> {
  const all = rows.map(() => [] as RunFigures[]);
  for (let i = 1; i <= times; i++) {
    for (const [r, row] of rows.entries()) {
      const figures = await row.run(`${row.name}-${i}`);
      say(`${row.name} #${i}: ${brief(figures)}`);
      all[r]?.push(figures);
    }
  }
  return all.map((runs, r) => {
    const fastest = runs.reduce<RunFigures | undefined>(
      (best, f) => (best === undefined || f.objectsPerSecond > best.objectsPerSecond ? f : best),
      undefined,
    );
    if (!fastest) throw new Error(`${rows[r]?.name ?? r}: no runs`);
    return { figures: fastest, runs: runs.map((f) => f.objectsPerSecond) };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
  const quick = values.quick ?? false;
  const plan = benchPlan(quick);
  const dir = mkdtempSync(join(tmpdir(), 'dwk-bench-'));
  const started = performance.now();
  const results: BenchResults = {
    startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    durationSeconds: 0,
    machine: machineInfo(),
    plan,
    ceiling: [],
    zeroWork: [],
    withWait: [],
  };
  try {
    const ceilings = await rounds(
      plan.ceiling.repeat,
      plan.ceiling.consumers.map(({ mode, slots }) => ({
        name: `ceiling-${mode}`,
        run: (name) =>
          runCeiling(dir, { name, objects: plan.ceiling.objects, chunkSize: plan.chunkSize, mode, slots }),
      })),
    );
    plan.ceiling.consumers.forEach(({ mode, slots }, i) => {
      const row = ceilings[i];
      if (row) results.ceiling.push({ mode, slots, ...row });
    });
    const zero = await rounds(
      plan.zeroWork.repeat,
      plan.zeroWork.rows.map(({ mappers, concurrency }) => ({
        name: `zero-${mappers}x${concurrency}`,
        run: (name) =>
          runPipeline(dir, {
            name,
            objects: plan.zeroWork.objects,
            chunkSize: plan.chunkSize,
            mappers,
            concurrency,
            waitMs: 0,
          }),
      })),
    );
    plan.zeroWork.rows.forEach(({ mappers, concurrency }, i) => {
      const row = zero[i];
      if (row) results.zeroWork.push({ mappers, concurrency, ...row });
    });
    for (const { mappers, concurrency } of plan.withWait.rows) {
      const name = `wait-${mappers}x${concurrency}`;
      const figures = await runPipeline(dir, {
        name,
        objects: waitObjects(plan, mappers, concurrency),
        chunkSize: plan.chunkSize,
        mappers,
        concurrency,
        waitMs: plan.withWait.waitMs,
      });
      say(`${name}: ${brief(figures)}`);
      results.withWait.push({ mappers, concurrency, figures, runs: [figures.objectsPerSecond] });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  results.durationSeconds = (performance.now() - started) / 1000;
  results.machine.loadAtEnd = loadavg()[0] ?? 0;
  const markdown = renderResults(results);
  process.stdout.write(`${markdown}\n`);
  if (!quick) {
    const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Benchmarks\n';
    writeFileSync(DOC, spliceGenerated(doc, markdown));
    say(`Wrote ${DOC}`);
  }
}

await main();
