/**
 * Where local runs live and how the CLI finds them. `.dwk/` under the current directory holds a
 * folder per pipeline (state.json, logs, nats store, sink) and `_pipelines/<name>.json`, the
 * registry, that points to each pipeline's data directory (which --data-dir may put elsewhere).
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT, UserError } from '../../lib/errors.ts';

export const LOCAL_ROOT = '.dwk';

/** Written by `dwk up --local` once it serves its control API; removed when it stops. */
export interface RunState {
  pipeline: string;
  pid: number;
  /** Control API on 127.0.0.1. */
  port: number;
  /** Bearer token of the control API; the file is readable by its owner only. */
  token: string;
  natsUrl: string;
  /** True when dwk started the nats-server (its store is in the data directory). */
  natsManaged: boolean;
  dataDir: string;
  startedAt: string;
}

export interface RegistryEntry {
  pipeline: string;
  dataDir: string;
  /** The --nats-url of the last run: its streams live there, not in the data directory. */
  externalNatsUrl?: string;
}

export const localRoot = (cwd: string) => resolve(cwd, LOCAL_ROOT);
const registryDir = (root: string) => join(root, '_pipelines');
export const stateFile = (dataDir: string) => join(dataDir, 'state.json');

async function writeJson(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function register(root: string, entry: RegistryEntry): Promise<void> {
  await mkdir(registryDir(root), { recursive: true });
  await writeJson(join(registryDir(root), `${entry.pipeline}.json`), entry);
}

export async function unregister(root: string, pipeline: string): Promise<void> {
  await rm(join(registryDir(root), `${pipeline}.json`), { force: true });
}

export async function writeRunState(state: RunState): Promise<void> {
  await writeJson(stateFile(state.dataDir), state);
}

export async function removeRunState(dataDir: string): Promise<void> {
  await rm(stateFile(dataDir), { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function registered(root: string): Promise<RegistryEntry[]> {
  let names: string[];
  try {
    names = await readdir(registryDir(root));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const entries = await Promise.all(
    names.filter((n) => n.endsWith('.json')).map((n) => readJson<RegistryEntry>(join(registryDir(root), n))),
  );
  return entries
    .filter((e): e is RegistryEntry => e !== undefined)
    .sort((a, b) => a.pipeline.localeCompare(b.pipeline));
}

/** The run of a registered pipeline, if its dwk process is still alive. */
export async function runningState(entry: RegistryEntry): Promise<RunState | undefined> {
  const state = await readJson<RunState>(stateFile(entry.dataDir));
  return state && isAlive(state.pid) ? state : undefined;
}

export async function runningPipelines(root: string): Promise<RunState[]> {
  const states = await Promise.all((await registered(root)).map(runningState));
  return states.filter((s): s is RunState => s !== undefined);
}

/** The running pipeline a command means: the named one, or the only one running. */
export async function findRunning(root: string, pipeline: string | undefined): Promise<RunState> {
  const running = await runningPipelines(root);
  if (pipeline !== undefined) {
    const found = running.find((s) => s.pipeline === pipeline);
    if (found) return found;
    throw new UserError(`no local pipeline named "${pipeline}" is running here`, {
      exitCode: EXIT.failure,
      hint: running.length
        ? `running: ${running.map((s) => s.pipeline).join(', ')}`
        : `start it with \`dwk up --local\` (looked in ${root})`,
    });
  }
  const [only, ...others] = running;
  if (!only) {
    throw new UserError('no local pipeline is running here', {
      exitCode: EXIT.failure,
      hint: `start one with \`dwk up --local\` in this directory (looked in ${root})`,
    });
  }
  if (others.length > 0) {
    throw new UserError(`${running.length} local pipelines are running; say which one`, {
      hint: `running: ${running.map((s) => s.pipeline).join(', ')}`,
    });
  }
  return only;
}
