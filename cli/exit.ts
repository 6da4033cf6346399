/** The one place where errors become messages and exit codes. */
import { CommanderError } from 'commander';
import { EXIT, UnavailableError, UserError } from '../lib/errors.ts';
import type { Output } from './output.ts';

const causes = (err: unknown): string[] => {
  const out: string[] = [];
  let c = (err as { cause?: unknown }).cause;
  while (c !== undefined && out.length < 5) {
    out.push(c instanceof Error ? c.message : JSON.stringify(c));
    c = (c as { cause?: unknown }).cause;
  }
  return out;
};

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** A long-running command stopped by a signal: it has said so already; exit as shells expect. */
export class InterruptedError extends Error {
  readonly signal: string;
  constructor(signal: string) {
    super(`interrupted by ${signal}`);
    this.name = 'InterruptedError';
    this.signal = signal;
  }
}

/** Reports an error on stderr and returns the exit code it maps to. */
export async function exitCodeFor(err: unknown, out: Output): Promise<number> {
  if (err instanceof CommanderError) {
    // Commander has already written its message (help, version or a usage error).
    if (err.exitCode === 0) return EXIT.ok;
    return EXIT.usage;
  }
  if (err instanceof InterruptedError) return 128 + (SIGNAL_NUMBERS[err.signal] ?? 15);
  const fail = (message: string) => out.info(`${out.paint('red', 'error:')} ${message}`);
  if (err instanceof UserError) {
    fail(err.message);
    if (err.hint) out.info(`${out.paint('cyan', 'hint:')} ${err.hint}`);
    for (const c of causes(err)) out.debug(`  caused by: ${c}`);
    return err.exitCode;
  }
  // Loaded here, not at the top: the schema library is slow to load and --help must stay fast.
  const { InvalidPipelineError } = await import('../api/v1alpha1/validate.ts');
  if (err instanceof InvalidPipelineError) {
    fail(err.message);
    return EXIT.invalidSpec;
  }
  const { KubeApiError } = await import('../lib/kube/client.ts');
  if (err instanceof KubeApiError) {
    // The API server's own words name the object and the problem.
    fail(err.message);
    if (err.status === 403)
      out.info(`${out.paint('cyan', 'hint:')} your credentials lack this permission (kubectl auth can-i)`);
    if (err.status === 404 && /the server could not find the requested resource/.test(err.message)) {
      out.info(
        `${out.paint('cyan', 'hint:')} is the Pipeline CRD installed? dwk manifests | kubectl apply -f -`,
      );
    }
    return EXIT.failure;
  }
  if (err instanceof UnavailableError) {
    fail(err.message);
    for (const c of causes(err)) out.debug(`  caused by: ${c}`);
    return err.exitCode;
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  fail(stack);
  for (const c of causes(err)) out.info(`  caused by: ${c}`);
  out.info('this is a bug in dwk: please report it with the command you ran and the output above');
  return EXIT.bug;
}
