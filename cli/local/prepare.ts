/** From a manifest to what local mode runs: paths, and the environment of each component. */
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Component, Pipeline } from '../../api/v1alpha1/pipeline.ts';
import { EXIT, UserError } from '../../lib/errors.ts';
import { DEFAULT_SINK_PATH, ENV, workloadEnv } from '../../workloads/env.ts';

export interface LocalPaths {
  dataDir: string;
  logDir: string;
  natsDir: string;
  /** The jsonl sink, absolute: a relative spec path lands in the data directory. */
  sinkPath: string | undefined;
}

export function localPaths(pipeline: Pipeline, dataDir: string): LocalPaths {
  const sink = pipeline.spec.saver.sink;
  return {
    dataDir,
    logDir: join(dataDir, 'logs'),
    natsDir: join(dataDir, 'nats'),
    sinkPath: sink.type === 'jsonl' ? resolve(dataDir, sink.path ?? DEFAULT_SINK_PATH) : undefined,
  };
}

const hasScheme = (url: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(url);

/**
 * The variables of one component in local mode: the spec's, with the local NATS URL, absolute
 * paths, and the broadcaster's secret read from the variable that `urlFromEnv` names.
 */
export function componentEnv(
  pipeline: Pipeline,
  component: Component,
  local: {
    natsUrl: string;
    paths: LocalPaths;
    cwd: string;
    env: Readonly<Record<string, string | undefined>>;
  },
): Record<string, string> {
  const env = workloadEnv(pipeline.metadata.name, pipeline.spec, component);
  env[ENV.natsUrl] = local.natsUrl;
  const url = env[ENV.sourceUrl];
  if (url !== undefined && !hasScheme(url) && !isAbsolute(url)) env[ENV.sourceUrl] = resolve(local.cwd, url);
  if (component === 'saver' && local.paths.sinkPath !== undefined) env[ENV.sinkPath] = local.paths.sinkPath;
  const fromEnv = pipeline.spec.broadcaster?.target.urlFromEnv;
  if (component === 'broadcaster' && fromEnv !== undefined) {
    const secret = local.env[fromEnv];
    if (secret === undefined || secret === '') {
      throw new UserError(`spec.broadcaster.target.urlFromEnv names ${fromEnv}, which is not set`, {
        exitCode: EXIT.invalidSpec,
        hint: `export ${fromEnv}=<webhook URL or bot token> before dwk up --local`,
      });
    }
    env[ENV.targetUrl] = secret;
  }
  return env;
}

/**
 * What the data of a run depends on: a run that resumes over data made from other values would mix
 * two datasets (chunk ids mean other objects), so these must match to resume.
 */
export function dataShape(pipeline: Pipeline, paths: LocalPaths, cwd: string): Record<string, unknown> {
  const s = pipeline.spec;
  // Files as the workloads will open them: the same file however the manifest spells it.
  const file = localSourceFile(pipeline, cwd);
  return {
    'spec.source': file === undefined ? s.source : { ...s.source, url: file },
    'spec.chunkSize': s.chunkSize,
    'spec.mapper.transform': s.mapper.transform,
    'spec.saver.sink': { type: s.saver.sink.type, ...(paths.sinkPath ? { path: paths.sinkPath } : {}) },
  };
}

/**
 * Why deleting `dir` as a run's data would be a disaster, or undefined when it is safe: it must not
 * be the directory dwk runs in, one above it, the home directory or the root.
 */
export function unsafeDataDir(dir: string, cwd: string, home: string | undefined): string | undefined {
  const d = resolve(dir);
  if (d === resolve('/')) return 'it is the root directory';
  if (home !== undefined && d === resolve(home)) return 'it is the home directory';
  const up = relative(d, resolve(cwd));
  if (up === '') return 'it is the directory dwk runs in';
  const outside = up === '..' || up.startsWith(`..${sep}`) || isAbsolute(up);
  if (!outside) return 'it holds the directory dwk runs in';
  return undefined;
}

/** The leaf fields that differ between the data's shape and this manifest's, as "field: old → new". */
export function shapeChanges(before: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const [was, is] = [leaves(before), leaves(now)];
  const show = (v: string | undefined) => v ?? 'unset';
  return [...new Set([...was.keys(), ...is.keys()])]
    .filter((k) => was.get(k) !== is.get(k))
    .map((k) => `${k}: ${show(was.get(k))} → ${show(is.get(k))}`);
}

/** Every leaf of a value by its dotted path, as JSON; arrays are leaves. */
function leaves(value: unknown, path = '', into = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) leaves(v, path ? `${path}.${k}` : k, into);
  } else if (value !== undefined) {
    into.set(path, JSON.stringify(value));
  }
  return into;
}

/** A local NDJSON file the fetcher will read, resolved as componentEnv does; undefined for a URL. */
export function localSourceFile(pipeline: Pipeline, cwd: string): string | undefined {
  const url = pipeline.spec.source.url;
  if (url === undefined) return undefined;
  if (url.startsWith('file://')) return fileURLToPath(url);
  return hasScheme(url) ? undefined : resolve(cwd, url);
}
