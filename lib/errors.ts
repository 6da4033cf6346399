/** The few error classes of dwk. Each carries fields, not prose, and chains its cause. */

/** Bad input from a person or a manifest: shown as is, without a stack, with an exit code. */
export class UserError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;
  constructor(message: string, options: { exitCode?: number; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'UserError';
    this.exitCode = options.exitCode ?? EXIT.usage;
    this.hint = options.hint;
  }
}

/** A dependency that cannot be reached: NATS, the cluster, helm. */
export class UnavailableError extends Error {
  readonly what: string;
  readonly exitCode = EXIT.unavailable;
  constructor(what: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'UnavailableError';
    this.what = what;
  }
}

/** Bad configuration of a workload: every bad variable at once. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Exit codes, documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  invalidSpec: 3,
  unavailable: 4,
  timeout: 5,
  bug: 70,
} as const;
