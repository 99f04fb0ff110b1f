/** Process exit codes; documented in README.md ("Exit codes"). */
export const ExitCode = {
  ok: 0,
  /** The command ran but something it did failed (an item failed to apply, a source failed to read). */
  failed: 1,
  /** Bad command line or configuration. */
  usage: 2,
  /** A system the command needs could not be used: the database, KICS, a source, KSC. */
  unavailable: 3,
  /** `sync` stopped after planning because the plan exceeds the safety threshold; the plan waits for review. */
  held: 4,
  /** Another run holds the lock. */
  locked: 5,
  /** Stopped by SIGINT / SIGTERM. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface KicsSyncErrorOptions {
  /** Stable, machine-readable code, e.g. `CONFIG_INVALID`, `DB_UNREACHABLE`. */
  code: string;
  retryable?: boolean;
  cause?: unknown;
  exitCode?: ExitCode;
  /** Structured facts for logs and JSON output (never secrets). */
  details?: Record<string, unknown>;
}

/** The one base error of the engine: a stable code, whether a retry may help, and the original cause. */
export class KicsSyncError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly exitCode: ExitCode;
  readonly details: Record<string, unknown>;

  constructor(message: string, options: KicsSyncErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    this.exitCode = options.exitCode ?? ExitCode.failed;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retryable: this.retryable, ...this.details };
  }
}

export class ConfigError extends KicsSyncError {
  constructor(message: string, options: Partial<KicsSyncErrorOptions> = {}) {
    super(message, { code: 'CONFIG_INVALID', exitCode: ExitCode.usage, ...options });
  }
}

export class UsageError extends KicsSyncError {
  constructor(message: string, options: Partial<KicsSyncErrorOptions> = {}) {
    super(message, { code: 'USAGE', exitCode: ExitCode.usage, ...options });
  }
}

export class DatabaseError extends KicsSyncError {
  constructor(message: string, options: Partial<KicsSyncErrorOptions> & { code: string }) {
    super(message, { exitCode: ExitCode.unavailable, ...options });
  }
}

export class LockedError extends KicsSyncError {
  constructor(message: string, options: Partial<KicsSyncErrorOptions> = {}) {
    super(message, { code: 'LOCKED', exitCode: ExitCode.locked, ...options });
  }
}

/** The message of any thrown value, without assuming it is an Error. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}
