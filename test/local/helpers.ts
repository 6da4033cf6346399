/** Runs the real dwk CLI (bin/dwk) as a child process, in a temporary project directory. */
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { LocalStatus } from '../../cli/local/model.ts';
import { requireNatsServer } from '../../lib/nats/server.ts';

export const DWK = fileURLToPath(new URL('../../bin/dwk', import.meta.url));

/** Fails loudly, not silently skipped, when the test dependencies are not installed. */
requireNatsServer();

export function projectDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `dwk-${prefix}-`));
}

export function writePipeline(dir: string, name: string, spec: Record<string, unknown>): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({ apiVersion: 'dwk.dev/v1alpha1', kind: 'Pipeline', metadata: { name }, spec }),
  );
  return file;
}

const env = { ...process.env, NO_COLOR: '1' };

export async function dwk(cwd: string, ...args: string[]) {
  const r = await execa(DWK, args, { cwd, env, reject: false, timeout: 120_000 });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** `dwk up --local ...` in the background; the caller stops it. */
export function startUp(cwd: string, ...args: string[]): ResultPromise<{ reject: false }> {
  return startUpWithEnv(cwd, {}, ...args);
}

/** The same, with extra environment variables (e.g. a broadcaster's urlFromEnv). */
export function startUpWithEnv(
  cwd: string,
  extraEnv: Record<string, string>,
  ...args: string[]
): ResultPromise<{ reject: false }> {
  return execa(DWK, ['up', '--local', ...args], { cwd, env: { ...env, ...extraEnv }, reject: false });
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`, { cause: last });
}

export async function statusJson(cwd: string, pipeline?: string): Promise<LocalStatus> {
  const r = await dwk(cwd, 'status', '--local', '--once', '-o', 'json', ...(pipeline ? [pipeline] : []));
  if (r.code !== 0) throw new Error(`dwk status failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as LocalStatus;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process whose working directory, command line or environment mentions `dir`. */
export function processesUnder(dir: string): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cwd === dir || cmd.includes(dir) || environ.includes(dir)) found.push({ pid, cmd });
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** The DWK_INSTANCE of a live process, read from the kernel: proof of what really runs. */
export function instanceOf(pid: number): string | undefined {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return environ.find((v) => v.startsWith('DWK_INSTANCE='))?.slice('DWK_INSTANCE='.length);
  } catch {
    return undefined;
  }
}

export function livePids(status: LocalStatus, component: 'fetcher' | 'mapper' | 'saver'): number[] {
  return (status.components[component]?.instances ?? [])
    .map((i) => i.pid)
    .filter((p): p is number => p !== undefined);
}

/** Ids in a jsonl sink, with how often each appears. */
export function sinkIds(file: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const id = (JSON.parse(line) as { id: number }).id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}
