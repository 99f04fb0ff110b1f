import { access, constants, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import lockfile from 'proper-lockfile';
import { DatabaseError, LockedError, errorMessage } from '../errors.js';
import { makeDirectory, makePrivateDirectory } from '../private-files.js';
import { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../log.js';
import { applyMigrations } from './migrate.js';
import type { EngineTarget } from './schema-engine.js';
import { PGliteSql, pgPoolSql, pgTypes, type TransactionalSql } from './sql.js';

export type { PrismaClient };

/** One database, embedded (PGlite) or a PostgreSQL server, with Prisma and raw SQL over the same connections. */
export interface Database extends TransactionalSql {
  readonly engine: 'pglite' | 'postgres';
  /** Where the data lives, safe to print (no password). */
  readonly location: string;
  /**
   * PostgreSQL only: the URL, password included, for a worker thread that opens connections of its
   * own (src/sync/staging/threads/source-thread.ts). Never printed or logged.
   */
  readonly connectionUrl?: string;
  readonly prisma: PrismaClient;
  /** For the schema engine (migrations, diffs). */
  readonly engineTarget: EngineTarget;
  /** PostgreSQL schema holding the tables (`public`, or a site's own: src/config/sites.ts). */
  readonly schema: string;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A postgresql:// URL; absent = embedded PGlite under `dataDir`. */
  url?: string | undefined;
  /** The data directory (PGlite lives in `<dataDir>/db`). */
  dataDir: string;
  logger?: Logger;
  /** Apply pending migrations after connecting (default true). */
  migrate?: boolean;
  /** Pool size for PostgreSQL. */
  poolSize?: number;
  /**
   * PostgreSQL only: the schema whose tables this database uses (a site's, src/config/sites.ts);
   * created when missing. Default `public`. Every connection, including the ones worker threads open
   * from `connectionUrl`, has it as its search_path.
   */
  schema?: string;
  /** For tests: an already-open PGlite instance (e.g. in memory). */
  pglite?: PGlite;
  /** Ends a wait for the embedded database's lock (SIGINT / SIGTERM). */
  signal?: AbortSignal | undefined;
}

/** Opens the configured database, and by default brings its schema up to date. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const db = options.pglite
    ? wrapPGlite(options.pglite, 'in-memory PGlite', async () => {})
    : options.url
      ? await openPostgres(options.url, options.poolSize ?? 10, options.schema ?? 'public')
      : await openPGlite(options.dataDir, options.logger, options.signal);
  if (options.migrate !== false) {
    try {
      await applyMigrations(db, options.logger);
    } catch (error) {
      await db.close();
      throw error;
    }
  }
  return db;
}

/** host:port/database of a URL, never its password. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default database)';
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return `PostgreSQL at ${host}:${u.port || '5432'}/${database}`;
  } catch {
    return 'PostgreSQL (unparsable URL)';
  }
}

async function openPostgres(baseUrl: string, poolSize: number, schema: string): Promise<Database> {
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
    if (!/^postgres(ql)?:$/.test(parsed.protocol)) throw new Error(`scheme ${parsed.protocol} is not postgresql:`);
  } catch (error) {
    throw new DatabaseError(`DATABASE_URL is not a valid postgresql:// URL (${errorMessage(error)})`, { code: 'DB_URL_INVALID', cause: error });
  }
  const url = schema === 'public' ? baseUrl : withSearchPath(parsed, schema);
  const location = `${describePostgresUrl(baseUrl)}${schema === 'public' ? '' : `, schema ${schema}`}`;
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types: pgTypes(pg.types), application_name: 'kics-sync', connectionTimeoutMillis: 10_000 });
  // A broken idle connection must not crash the process; the next query reports it.
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
    if (schema !== 'public') await pool.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
  } catch (error) {
    await pool.end().catch(() => {});
    throw explainPostgresError(error, location, parsed);
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { schema }) });
  return {
    engine: 'postgres',
    location,
    connectionUrl: url,
    prisma,
    schema,
    engineTarget: { engine: 'postgres', pool, schema },
    ...pgPoolSql(pool),
    async close() {
      await prisma.$disconnect().catch(() => {});
      await pool.end();
    },
  };
}

/**
 * The URL with `schema` as the search_path of every session it opens (libpq's `options`, which `pg`
 * reads from the URL too), kept after options the URL already sets.
 */
function withSearchPath(url: URL, schema: string): string {
  const copy = new URL(url.href);
  const before = copy.searchParams.get('options');
  copy.searchParams.set('options', `${before ? `${before} ` : ''}-c search_path=${schema}`);
  return copy.href;
}

function explainPostgresError(error: unknown, location: string, url: URL): DatabaseError {
  const e = error as NodeJS.ErrnoException & { code?: string };
  const user = decodeURIComponent(url.username) || '(default user)';
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const reasons: Record<string, [string, string]> = {
    ECONNREFUSED: ['DB_UNREACHABLE', `cannot reach ${location}: connection refused (is the server running?)`],
    ENOTFOUND: ['DB_UNREACHABLE', `cannot reach ${location}: host ${url.hostname} not found`],
    EAI_AGAIN: ['DB_UNREACHABLE', `cannot reach ${location}: host ${url.hostname} could not be resolved`],
    ETIMEDOUT: ['DB_UNREACHABLE', `cannot reach ${location}: connection timed out`],
    EHOSTUNREACH: ['DB_UNREACHABLE', `cannot reach ${location}: host unreachable`],
    '28P01': ['DB_AUTH_FAILED', `${location} refused the password for user ${user}`],
    '28000': ['DB_AUTH_FAILED', `${location} refused user ${user}: ${e.message}`],
    '3D000': ['DB_NOT_FOUND', `${location}: database ${database} does not exist`],
    '53300': ['DB_UNREACHABLE', `${location} has no connection slots left`],
  };
  const known = e.code ? reasons[e.code] : undefined;
  if (known) return new DatabaseError(known[1], { code: known[0], cause: error, retryable: known[0] === 'DB_UNREACHABLE' });
  if (/timeout/i.test(e.message ?? '')) return new DatabaseError(`cannot reach ${location}: connection timed out`, { code: 'DB_UNREACHABLE', cause: error, retryable: true });
  return new DatabaseError(`cannot use ${location}: ${errorMessage(error)}`, { code: 'DB_ERROR', cause: error });
}

async function openPGlite(dataDir: string, logger?: Logger, signal?: AbortSignal): Promise<Database> {
  const dir = path.join(dataDir, 'db');
  try {
    await makeDirectory(dataDir);
    await makePrivateDirectory(dir);
    await access(dataDir, constants.W_OK);
    const probe = path.join(dataDir, `.write-test-${process.pid}`);
    await writeFile(probe, '');
    await rm(probe);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const why = e.code ? `${e.code}${e.path ? ` on ${e.path}` : ''}` : errorMessage(error);
    throw new DatabaseError(`data directory ${dataDir} is not usable for the embedded database: ${why} (--data-dir, KICS_SYNC_DATA_DIR or dataDir must name a folder kics-sync can create and write)`, { code: 'DATA_DIR_NOT_WRITABLE', cause: error });
  }
  // PGlite is a single-process database: two processes on one folder would corrupt it.
  let release: () => Promise<void>;
  try {
    release = await lockDataDir(dataDir, dir, logger, signal);
  } catch (error) {
    if (error instanceof LockedError || signal?.aborted) throw error;
    throw new DatabaseError(`cannot lock ${dataDir}: ${errorMessage(error)}`, { code: 'DATA_DIR_NOT_WRITABLE', cause: error });
  }
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(dir);
  } catch (error) {
    await release();
    throw new DatabaseError(`cannot open the embedded database in ${dir}: ${errorMessage(error)}`, { code: 'DB_ERROR', cause: error });
  }
  return wrapPGlite(pglite, `embedded PGlite in ${dir}`, release);
}

/** The lock is stale when its holder has not refreshed it for this long (a live holder refreshes it every 5 s). */
const lockStaleMs = 15_000;

/**
 * Takes the data directory's lock (proper-lockfile: a lock directory whose mtime the holder keeps
 * fresh). The holder's pid and host are written beside it. A lock held by a live process fails at
 * once; one left by a process that died on this host (SIGKILL, power cut of the process) is taken
 * over at once, instead of failing: resuming after a crash just works. (A holder that was in fact
 * alive would find its lock compromised at its next refresh and stop, never write beside us.)
 */
async function lockDataDir(dataDir: string, dir: string, logger?: Logger, signal?: AbortSignal): Promise<() => Promise<void>> {
  const lockPath = path.join(dataDir, 'db.lock');
  // Beside the lock directory, not in it: proper-lockfile removes the directory with rmdir.
  const ownerFile = `${lockPath}.owner`;
  const take = () => lockfile.lock(dir, { lockfilePath: lockPath, stale: lockStaleMs, update: 5_000, realpath: false });
  const deadline = Date.now() + lockStaleMs + 5_000;
  let announced = false;
  for (;;) {
    try {
      const release = await take();
      await writeFile(ownerFile, JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() })).catch(() => {});
      return async () => {
        await rm(ownerFile, { force: true });
        await release();
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      const owner = await readLockOwner(ownerFile);
      const ownerDead = owner !== null && owner.host === os.hostname() && !processAlive(owner.pid);
      if (!ownerDead || Date.now() > deadline) {
        throw new LockedError(
          `the embedded database in ${dataDir} is in use by another kics-sync process${owner ? ` (pid ${owner.pid} on ${owner.host})` : ''}; wait for it to finish or use a PostgreSQL server (DATABASE_URL)`,
          { cause: error },
        );
      }
      if (!announced) {
        logger?.warn({ pid: owner.pid }, `the embedded database was left locked by a kics-sync process that ended (pid ${owner.pid}); taking the lock over`);
        announced = true;
        // Its holder is gone, so nothing will refresh it: marked stale, it is taken by the next try
        // (proper-lockfile's own takeover of a stale lock) instead of after the stale period.
        const marked = await utimes(lockPath, new Date(0), new Date(0)).then(
          () => true,
          () => false,
        );
        if (marked) continue;
      }
      await delay(1_000, undefined, { signal }).catch(() => {
        throw signal?.reason ?? new Error('aborted');
      });
    }
  }
}

async function readLockOwner(file: string): Promise<{ pid: number; host: string } | null> {
  try {
    const owner = JSON.parse(await readFile(file, 'utf8')) as { pid?: unknown; host?: unknown };
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? { pid: owner.pid, host: owner.host } : null;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function wrapPGlite(pglite: PGlite, location: string, release: () => Promise<void>): Database {
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  const sql = new PGliteSql(pglite);
  return {
    engine: 'pglite',
    location,
    prisma,
    engineTarget: { engine: 'pglite', pglite },
    schema: 'public',
    query: (text, params) => sql.query(text, params),
    execute: (text, params) => sql.execute(text, params),
    exec: (script) => sql.exec(script),
    copyFrom: (table, columns, rows) => sql.copyFrom(table, columns, rows),
    transaction: (fn) => pglite.transaction((tx) => fn(new PGliteSql(tx))),
    async close() {
      await prisma.$disconnect().catch(() => {});
      if (!pglite.closed) await pglite.close();
      await release();
    },
  };
}
