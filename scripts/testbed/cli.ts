/**
 * `npm run testbed -- up|down|status`: the test bed's control plane for a person. `up` starts it detached,
 * records the pids in the state directory ($DWK_TESTBED_DIR, default <dwk cache>/testbed) and prints
 * `export KUBECONFIG=…`; `down` stops those pids and removes the directory.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, UserError } from '../../lib/errors.ts';
import { cacheDir } from '../../lib/nats/server.ts';
import { requireBinaries } from '../../test/testbed/binaries.ts';
import { fileURLToPath } from 'node:url';
import { startTestbed } from '../../test/testbed/harness.ts';
import { isRunning, stopProcess, type StartedProcess } from '../../test/testbed/processes.ts';

interface State {
  kubeconfigPath: string;
  server: string;
  startedAt: string;
  processes: StartedProcess[];
}

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE = 'usage: npm run testbed -- up [--nodes N] | down | status';

function readState(dir: string): State | undefined {
  const file = join(dir, 'state.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as State;
}

async function up(dir: string, nodes: number, io: Io): Promise<void> {
  const state = readState(dir);
  if (state?.processes.every(isRunning)) {
    io.err(`already running (${state.server}, since ${state.startedAt})`);
    io.out(`export KUBECONFIG=${state.kubeconfigPath}`);
    return;
  }
  if (state) await down(dir, io);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const bed = await startTestbed({
    binaries: requireBinaries(cacheDir()),
    crds: [fileURLToPath(new URL('../../crds/pipeline.yaml', import.meta.url))],
    dir,
    nodes,
    detached: true,
    log: (line) => io.err(line),
  });
  const next: State = {
    kubeconfigPath: bed.kubeconfigPath,
    server: bed.server,
    startedAt: new Date().toISOString(),
    processes: [...bed.processes],
  };
  writeFileSync(join(dir, 'state.json'), `${JSON.stringify(next, null, 2)}\n`);
  io.err(`logs in ${join(dir, 'logs')}; stop it with: npm run testbed -- down`);
  io.out(`export KUBECONFIG=${bed.kubeconfigPath}`);
}

async function down(dir: string, io: Io): Promise<void> {
  const state = readState(dir);
  if (!state) {
    io.err(`no test bed recorded in ${dir}`);
    return;
  }
  const [etcd, ...rest] = state.processes;
  await Promise.all(rest.filter((p) => p.name !== 'kube-apiserver').map((p) => stopProcess(p)));
  await Promise.all(rest.filter((p) => p.name === 'kube-apiserver').map((p) => stopProcess(p)));
  if (etcd) await stopProcess(etcd);
  rmSync(dir, { recursive: true, force: true });
  io.err(`stopped ${state.processes.length} processes and removed ${dir}`);
}

/** Resident memory of the recorded processes, now and at their peak (VmHWM), from /proc. */
function status(dir: string, io: Io): void {
  const state = readState(dir);
  if (!state) throw new UserError(`no test bed recorded in ${dir}`, { exitCode: EXIT.unavailable });
  let rss = 0;
  let hwm = 0;
  for (const p of state.processes) {
    const running = isRunning(p);
    const mem = running ? memory(p.pid) : { rss: 0, hwm: 0 };
    rss += mem.rss;
    hwm += mem.hwm;
    io.out(
      `${p.name.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${running ? 'running' : 'GONE   '}  rss ${mib(mem.rss)}  peak ${mib(mem.hwm)}`,
    );
  }
  io.out(`${'total'.padEnd(46)} rss ${mib(rss)}  peak ${mib(hwm)}`);
  io.out(`export KUBECONFIG=${state.kubeconfigPath}`);
}

function memory(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

const mib = (kib: number) => `${(kib / 1024).toFixed(0).padStart(5)} MiB`;

export async function run(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<void> {
  const dir = env.DWK_TESTBED_DIR ?? join(cacheDir(env), 'testbed');
  const [command, ...rest] = argv;
  switch (command) {
    case 'up': {
      const i = rest.indexOf('--nodes');
      const nodes = i >= 0 ? Number(rest[i + 1]) : 1;
      if (!Number.isInteger(nodes) || nodes < 1)
        throw new UserError(`--nodes needs a positive integer\n${USAGE}`);
      return up(dir, nodes, io);
    }
    case 'down':
      return down(dir, io);
    case 'status':
      return status(dir, io);
    default:
      throw new UserError(USAGE);
  }
}

// The one exit point.
try {
  await run(process.argv.slice(2), process.env, {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  });
} catch (err) {
  if (err instanceof UserError) {
    console.error(`testbed: ${err.message}${err.hint ? `\n  ${err.hint}` : ''}`);
    process.exitCode = err.exitCode;
  } else {
    console.error(err);
    process.exitCode = EXIT.failure;
  }
}
