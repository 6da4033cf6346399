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
  };
}

const say = (line: string) => process.stderr.write(`${line}\n`);
const brief = (f: RunFigures) =>
  `${Math.round(f.objectsPerSecond)} objects/s in ${f.elapsedSeconds.toFixed(2)} s (CPUs busy: run ${f.runBusyCores.toFixed(2)}, machine ${f.machineBusyCores.toFixed(2)})`;

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
      const name = `ceiling-${mode}`;
      const figures = await runCeiling(dir, {
        name,
        objects: plan.ceiling.objects,
        chunkSize: plan.chunkSize,
        mode,
        slots,
      });
      say(`${name}: ${brief(figures)}`);
      results.ceiling.push({ mode, slots, figures });
    }
    for (const mappers of plan.zeroWork.mappers) {
      const name = `zero-${mappers}`;
      const figures = await runPipeline(dir, {
        name,
        objects: plan.zeroWork.objects,
        chunkSize: plan.chunkSize,
        mappers,
        concurrency: plan.zeroWork.concurrency,
        waitMs: 0,
      });
      say(`${name}: ${brief(figures)}`);
      results.zeroWork.push({ mappers, figures });
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
      results.withWait.push({ mappers, figures });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  results.durationSeconds = (performance.now() - started) / 1000;
  const markdown = renderResults(results);
  process.stdout.write(`${markdown}\n`);
  if (!quick) {
    const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Benchmarks\n';
    writeFileSync(DOC, spliceGenerated(doc, markdown));
    say(`Wrote ${DOC}`);
  }
}

await main();
