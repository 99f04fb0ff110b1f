import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { migrationsDir, schemaFile } from '../paths.js';
import type { Database } from './database.js';
import { startSchemaEngine, type MigrationList } from './schema-engine.js';
import type { Sql } from './sql.js';

export interface MigrationFile {
  /** Folder name, e.g. 20261123000000_init. */
  name: string;
  sql: string;
  /** sha256 of migration.sql, as Prisma records it in _prisma_migrations.checksum. */
  checksum: string;
}

export interface AppliedMigration {
  name: string;
  checksum: string;
  startedAt: Date;
  finishedAt: Date | null;
  rolledBackAt: Date | null;
}

export interface MigrationStatus {
  applied: AppliedMigration[];
  /** In prisma/migrations, not yet applied. */
  pending: string[];
  /** Recorded as started but never finished (a failed migration). */
  failed: string[];
  /** Applied, but migration.sql changed since. */
  modified: string[];
  /** Recorded in the database, missing from prisma/migrations (the database is newer than this kics-sync). */
  unknown: string[];
}

export const migrationLockfile = 'migration_lock.toml';

/** The migrations shipped with kics-sync, oldest first. */
export async function readMigrations(dir: string = migrationsDir): Promise<MigrationFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

/** The migration list in the form the schema engine takes. */
export async function migrationList(dir: string = migrationsDir, migrations?: MigrationFile[]): Promise<MigrationList> {
  const files = migrations ?? (await readMigrations(dir));
  let lockfile: string | null = null;
  try {
    lockfile = await readFile(path.join(dir, migrationLockfile), 'utf8');
  } catch {
    lockfile = null;
  }
  return {
    baseDir: dir,
    lockfile: { path: migrationLockfile, content: lockfile },
    shadowDbInitScript: '',
    migrationDirectories: files.map((m) => ({ path: m.name, migrationFile: { path: 'migration.sql', content: { tag: 'ok' as const, value: m.sql } } })),
  };
}

/** What is applied and what is pending, read from _prisma_migrations without starting the schema engine. */
export async function migrationStatus(sql: Sql, migrations: MigrationFile[]): Promise<MigrationStatus> {
  const [{ exists }] = (await sql.query<{ exists: boolean }>(`SELECT to_regclass('_prisma_migrations') IS NOT NULL AS exists`)) as [{ exists: boolean }];
  const rows = exists
    ? await sql.query<{ migration_name: string; checksum: string; started_at: Date; finished_at: Date | null; rolled_back_at: Date | null }>(
        `SELECT migration_name, checksum, started_at, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at, migration_name`,
      )
    : [];
  const applied = rows
    .filter((r) => r.finished_at !== null && r.rolled_back_at === null)
    .map((r) => ({ name: r.migration_name, checksum: r.checksum, startedAt: r.started_at, finishedAt: r.finished_at, rolledBackAt: r.rolled_back_at }));
  const appliedNames = new Set(applied.map((m) => m.name));
  const known = new Map(migrations.map((m) => [m.name, m]));
  return {
    applied,
    pending: migrations.filter((m) => !appliedNames.has(m.name)).map((m) => m.name),
    failed: rows.filter((r) => r.finished_at === null && r.rolled_back_at === null).map((r) => r.migration_name),
    modified: applied.filter((m) => known.has(m.name) && known.get(m.name)!.checksum !== m.checksum).map((m) => m.name),
    unknown: applied.filter((m) => !known.has(m.name)).map((m) => m.name),
  };
}

/**
 * Applies the pending migrations with Prisma's own schema engine, so _prisma_migrations is written
 * exactly as `prisma migrate deploy` writes it. Returns the names applied (none when up to date; the
 * engine is then not even loaded).
 */
export async function applyMigrations(db: Database, logger?: Logger, dir: string = migrationsDir): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const status = await migrationStatus(db, migrations);
  if (status.failed.length > 0) {
    throw new DatabaseError(`migration ${status.failed[0]} failed earlier on ${db.location} and must be resolved by hand (see "prisma migrate resolve")`, {
      code: 'DB_MIGRATION_FAILED',
      details: { failed: status.failed },
    });
  }
  if (status.pending.length === 0) return [];
  const schema = { path: schemaFile, content: await readFile(schemaFile, 'utf8') };
  const engine = await startSchemaEngine(db.engineTarget, schema, logger);
  try {
    const result = await engine.applyMigrations({ migrationsList: await migrationList(dir, migrations), filters: { externalTables: [], externalEnums: [] } });
    if (result.appliedMigrationNames.length > 0) logger?.info({ migrations: result.appliedMigrationNames, database: db.location }, 'applied migrations');
    return result.appliedMigrationNames;
  } catch (error) {
    throw new DatabaseError(`applying migrations to ${db.location} failed: ${errorMessage(error).split('\n')[0]}`, { code: 'DB_MIGRATION_FAILED', cause: error });
  } finally {
    engine.free();
  }
}
