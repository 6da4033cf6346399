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
 * Runs a row `times` times, each on a fresh pipeline and server, and keeps the fastest run: other
 * load on the machine can only slow a run down, never speed it up.
 */
async function repeated(
  times: number,
  name: string,
  run: (name: string) => Promise<RunFigures>,
): Promise<{ figures: RunFigures; runs: number[] }> {
  const all: RunFigures[] = [];
  for (let i = 1; i <= times; i++) {
    const figures = await run(`${name}-${i}`);
    say(`${name} #${i}: ${brief(figures)}`);
    all.push(figures);
  }
  const fastest = all.reduce<RunFigures | undefined>(
    (best, f) => (best === undefined || f.objectsPerSecond > best.objectsPerSecond ? f : best),
    undefined,
  );
  if (!fastest) throw new Error(`${name}: no runs`);
  return { figures: fastest, runs: all.map((f) => f.objectsPerSecond) };
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
    for (const { mode, slots } of plan.ceiling.consumers) {
      const row = await repeated(plan.ceiling.repeat, `ceiling-${mode}`, (name) =>
        runCeiling(dir, { name, objects: plan.ceiling.objects, chunkSize: plan.chunkSize, mode, slots }),
      );
      results.ceiling.push({ mode, slots, ...row });
    }
    for (const { mappers, concurrency } of plan.zeroWork.rows) {
      const row = await repeated(plan.zeroWork.repeat, `zero-${mappers}x${concurrency}`, (name) =>
        runPipeline(dir, {
          name,
          objects: plan.zeroWork.objects,
          chunkSize: plan.chunkSize,
          mappers,
          concurrency,
          waitMs: 0,
        }),
      );
      results.zeroWork.push({ mappers, concurrency, ...row });
    }
    for (const mappers of plan.withWait.mappers) {
      const name = `wait-${mappers}`;
      const figures = await runPipeline(dir, {
        name,
        objects: waitObjects(plan, mappers),
        chunkSize: plan.chunkSize,
        mappers,
        concurrency: plan.withWait.concurrency,
        waitMs: plan.withWait.waitMs,
      });
      say(`${name}: ${brief(figures)}`);
      const { concurrency } = plan.withWait;
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
