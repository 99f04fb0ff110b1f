import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { openDatabase, type Database } from '../db/database.js';
import { ExitCode, KicsSyncError, UsageError, errorMessage } from '../errors.js';
import { createLogger, logLevels, type LogLevel, type Logger } from '../log.js';
import { terminal } from '../terminal.js';
import { requireSettings } from '../config/load.js';
import { chooseSite, siteConfig } from '../config/sites.js';

/** Options every command accepts (set on the root program). */
export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  logLevel?: LogLevel;
  /** The site the command works on (`--site`); default: the only one. */
  site?: string;
}

/** What a command returns: the JSON summary printed with --json, the text printed otherwise. */
export interface CommandResult {
  summary: Record<string, unknown>;
  text?: string;
  exitCode?: ExitCode;
}

/** Everything a command needs, created lazily and closed when the command ends. */
export class CommandContext {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  private readonly abort = new AbortController();
  private loadedPromise?: Promise<Config>;
  private configPromise?: Promise<Config>;
  private dbPromise?: Promise<Database>;
  private readonly closers: (() => Promise<void>)[] = [];

  constructor(
    readonly globals: GlobalOptions,
    readonly env: NodeJS.ProcessEnv = process.env,
    /** Whether the command prints JSON (then nothing but logs may go to stderr, and no progress bars). */
    readonly json = false,
  ) {
    this.logger = createLogger({ level: globals.logLevel ?? (env.KICS_SYNC_LOG_LEVEL as LogLevel | undefined) });
    this.signal = this.abort.signal;
  }

  /** The validated configuration file, every site in it (loaded once). */
  fullConfig(): Promise<Config> {
    this.loadedPromise ??= loadConfig({ file: this.globals.config, env: this.env }).then(({ config, file }) => {
      if (file) this.logger.debug({ file }, 'configuration loaded');
      return config;
    });
    return this.loadedPromise;
  }

  /**
   * The configuration of the site this command works on (`--site`, else the only one): the shape
   * every command takes, with the site's sections, sources and data folder (src/config/sites.ts).
   */
  config(): Promise<Config> {
    this.configPromise ??= this.fullConfig().then((full) => {
      const name = chooseSite(full, this.globals.site);
      const fromCli = this.globals.dataDir ?? this.env.KICS_SYNC_DATA_DIR;
      return siteConfig(fromCli ? { ...full, dataDir: path.resolve(fromCli) } : full, name).config;
    });
    return this.configPromise;
  }

  /** The site's data folder: --data-dir, else KICS_SYNC_DATA_DIR, else the config's dataDir (a site other than `default` has its own folder in it). */
  async dataDir(): Promise<string> {
    return (await this.config()).dataDir;
  }

  /** DATABASE_URL, else the config's database.url, else undefined (embedded PGlite). */
  async databaseUrl(): Promise<string | undefined> {
    if (this.env.DATABASE_URL) return this.env.DATABASE_URL;
    const { url } = (await this.fullConfig()).database;
    requireSettings(url);
    return url;
  }

  /** The database, opened once and migrated to the current schema. */
  database(options: { migrate?: boolean } = {}): Promise<Database> {
    this.dbPromise ??= (async () => {
      const url = await this.databaseUrl();
      const dataDir = await this.dataDir();
      const schema = (await this.config()).site?.schema;
      const opening = openDatabase({ url, dataDir, logger: this.logger, migrate: options.migrate ?? true, signal: this.signal, ...(schema ? { schema } : {}) });
      const db = await terminal.while(url ? 'opening the database ...' : `opening the embedded database in ${dataDir} ...`, opening, this.showsStatus());
      this.closers.push(() => db.close());
      this.logger.debug({ database: db.location }, 'database open');
      return db;
    })();
    return this.dbPromise;
  }

  /** Whether transient status lines are shown: on a terminal, and not when printing JSON. */
  showsStatus(): boolean {
    return !this.json && Boolean(process.stderr.isTTY);
  }

  /** Who is acting, for runs and the audit: the OS user of this CLI run. */
  actor(): string {
    try {
      return os.userInfo().username;
    } catch {
      return this.env.USER ?? 'unknown';
    }
  }

  /** Runs `fn` when the command ends, in reverse order of registration. */
  onClose(fn: () => Promise<void>): void {
    this.closers.push(fn);
  }

  /** Asks the running command to stop (SIGINT / SIGTERM). */
  interrupt(reason: string): void {
    this.abort.abort(new KicsSyncError(`interrupted by ${reason}`, { code: 'INTERRUPTED', exitCode: ExitCode.interrupted }));
  }

  async close(): Promise<void> {
    for (const close of this.closers.reverse()) {
      try {
        await close();
      } catch (error) {
        this.logger.warn({ err: errorMessage(error) }, 'error while closing');
      }
    }
    this.closers.length = 0;
  }
}

export function parseLogLevel(value: string): LogLevel {
  if (!(logLevels as readonly string[]).includes(value)) throw new UsageError(`--log-level must be one of ${logLevels.join(', ')}; found ${JSON.stringify(value)}`);
  return value as LogLevel;
}

/** Parses a positive integer option, naming the option when it is not one. */
export function parsePositiveInt(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer; found ${JSON.stringify(value)}`);
    return n;
  };
}

type Action<A extends unknown[]> = (ctx: CommandContext, ...args: A) => Promise<CommandResult>;

/**
 * Wraps a command's action: builds its context, prints the result (one JSON object on stdout with
 * --json, text otherwise), turns errors into one clear line and an exit code, and always closes what
 * the command opened. Signals interrupt the command through `ctx.signal`.
 */
export function runCommand<A extends unknown[]>(program: Command, action: Action<A>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.opts<{ json?: boolean }>();
    const json = options.json === true;
    const ctx = new CommandContext(program.opts<GlobalOptions>(), process.env, json);
    const onSignal = (signal: NodeJS.Signals): void => {
      if (ctx.signal.aborted) leave(signal, 'a second signal');
      ctx.logger.warn({ signal }, 'stopping');
      ctx.interrupt(signal);
      // A command stuck where the abort does not reach (a system call that never returns) still ends.
      setTimeout(() => leave(signal, `the command did not stop within ${interruptGraceMs / 1000} s`), interruptGraceMs).unref();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let exitCode: number = ExitCode.ok;
    try {
      const result = await action(ctx, ...(args.slice(0, -1) as A));
      terminal.settle();
      exitCode = result.exitCode ?? ExitCode.ok;
      if (json) process.stdout.write(`${JSON.stringify({ ok: exitCode === ExitCode.ok, ...result.summary }, jsonReplacer)}\n`);
      else if (result.text) process.stdout.write(result.text.endsWith('\n') ? result.text : `${result.text}\n`);
    } catch (error) {
      exitCode = reportError(ctx, error, json);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await ctx.close();
    }
    process.exitCode = exitCode;
  };
}

/** How long an interrupted command may take to stop by itself (give back claimed items, record its run). */
const interruptGraceMs = 30_000;

function leave(signal: NodeJS.Signals, why: string): never {
  process.stderr.write(`kics-sync: interrupted by ${signal}; ${why}, exiting\n`);
  process.exit(ExitCode.interrupted);
}

/** Prints one line for the user (and the JSON error object with --json); the stack only at debug level. */
export function reportError(ctx: { logger: Logger }, error: unknown, json: boolean): number {
  terminal.settle();
  const known = error instanceof KicsSyncError;
  const exitCode = known ? error.exitCode : ExitCode.failed;
  const message = errorMessage(error);
  ctx.logger.debug({ err: error }, 'command failed');
  process.stderr.write(`kics-sync: ${message}\n`);
  if (json) {
    const body = known ? error.toJSON() : { code: 'INTERNAL', message };
    process.stdout.write(`${JSON.stringify({ ok: false, error: body }, jsonReplacer)}\n`);
  }
  return exitCode;
}

/** JSON for results: bigint as number where safe, else as string. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}
