import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { applyMigrations, migrationList, migrationStatus, readMigrations } from '../../src/db/migrate.js';
import { startSchemaEngine } from '../../src/db/schema-engine.js';
import { schemaFile } from '../../src/paths.js';
import { describeEachEngine, postgresAvailable } from '../support/db.js';

const filters = { externalTables: [], externalEnums: [] };

async function emptyDatabaseUrl(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = inject('pgAdminUrl')!;
  const name = `m_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

(postgresAvailable() ? describe : describe.skip)('migrations on an empty PostgreSQL database', () => {
  let db: Database;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const target = await emptyDatabaseUrl();
    drop = target.drop;
    db = await openDatabase({ url: target.url, dataDir: os.tmpdir(), migrate: false });
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  it('lists every migration as pending before, and none after, recording them as prisma migrate deploy does', async () => {
    const migrations = await readMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    const before = await migrationStatus(db, migrations);
    expect(before.pending).toEqual(migrations.map((m) => m.name));

    const applied = await applyMigrations(db);
    expect(applied).toEqual(migrations.map((m) => m.name));

    const rows = await db.query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number; logs: string | null }>(
      'SELECT migration_name, checksum, finished_at, applied_steps_count, logs FROM _prisma_migrations ORDER BY migration_name',
    );
    for (const [i, m] of migrations.entries()) {
      const file = await readFile(new URL(`../../prisma/migrations/${m.name}/migration.sql`, import.meta.url), 'utf8');
      expect(rows[i]).toMatchObject({ migration_name: m.name, checksum: createHash('sha256').update(file).digest('hex'), applied_steps_count: 1, logs: null });
      expect(rows[i]!.finished_at).toBeInstanceOf(Date);
    }
    expect((await migrationStatus(db, migrations)).pending).toEqual([]);
    expect(await applyMigrations(db)).toEqual([]);
  });

  it('gives a database whose schema is exactly schema.prisma (empty diff)', async () => {
    const schema = { path: schemaFile, content: await readFile(schemaFile, 'utf8') };
    const engine = await startSchemaEngine(db.engineTarget, schema);
    try {
      const diff = await engine.diff({
        from: { tag: 'schemaDatasource', files: [schema], configDir: '.' },
        to: { tag: 'schemaDatamodel', files: [schema] },
        script: true,
        exitCode: true,
        filters,
      });
      expect(diff.stdout?.trim()).toBe('-- This is an empty migration.');
      expect(diff.exitCode).toBe(0);

      // A column the schema does not have is noticed, so the check above can fail.
      await db.exec('ALTER TABLE plan ADD COLUMN stray integer');
      const drift = await engine.diff({ from: { tag: 'schemaDatasource', files: [schema], configDir: '.' }, to: { tag: 'schemaDatamodel', files: [schema] }, script: true, exitCode: true, filters });
      expect(drift.stdout).toContain('DROP COLUMN "stray"');
      await db.exec('ALTER TABLE plan DROP COLUMN stray');
    } finally {
      engine.free();
    }
  });
});

describe('migrations folder', () => {
  it('holds everything schema.prisma describes (no migration left to write)', async () => {
    const schema = { path: schemaFile, content: await readFile(schemaFile, 'utf8') };
    const pglite = await PGlite.create();
    const engine = await startSchemaEngine({ engine: 'pglite', pglite }, schema);
    try {
      const diff = await engine.diff({ from: { tag: 'migrations', ...(await migrationList()) }, to: { tag: 'schemaDatamodel', files: [schema] }, script: true, exitCode: true, filters });
      expect(diff.stdout?.trim()).toBe('-- This is an empty migration.');
    } finally {
      engine.free();
      await pglite.close();
    }
  });
});

describeEachEngine('audit records', (t) => {
  it('can be added but never changed or removed', async () => {
    const { db } = t();
    await db.execute(`INSERT INTO audit_record (actor, operation, outcome) VALUES ($1, $2, $3)`, ['alice', 'patch', 'applied']);
    await expect(db.execute(`UPDATE audit_record SET actor = 'mallory'`)).rejects.toThrow(/append-only/);
    await expect(db.execute(`DELETE FROM audit_record`)).rejects.toThrow(/append-only/);
    await expect(db.exec(`TRUNCATE audit_record`)).rejects.toThrow(/append-only/);
    expect(await db.query(`SELECT actor FROM audit_record`)).toEqual([{ actor: 'alice' }]);
  });
});
