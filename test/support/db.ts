import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';

export type Engine = 'pglite' | 'postgres';
export const engines: readonly Engine[] = ['pglite', 'postgres'];

export interface TestDatabase {
  engine: Engine;
  db: Database;
  /** The postgresql:// URL (PostgreSQL), for CLI runs against the same database. */
  url: string | undefined;
  /** The data directory (PGlite lives in <dataDir>/db); also a scratch folder for the test. */
  dataDir: string;
  /** Closes the database (PGlite must be closed before a CLI process can open the same data directory). */
  close(): Promise<void>;
  /** Re-opens it after close(). */
  reopen(): Promise<Database>;
  /** Closes and removes it. */
  drop(): Promise<void>;
}

export function postgresAvailable(): boolean {
  return inject('pgAdminUrl') !== null;
}

/** A fresh, migrated database of its own, cloned from the run's template. */
export async function createTestDatabase(engine: Engine): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-test-'));
  let url: string | undefined;
  let dropServerDb = async (): Promise<void> => {};
  if (engine === 'postgres') {
    const adminUrl = inject('pgAdminUrl');
    if (!adminUrl) throw new Error('no PostgreSQL server for tests');
    const name = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject('pgTemplate')}`);
    await admin.end();
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    url = u.toString();
    dropServerDb = async () => {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    };
  } else {
    cpSync(inject('pgliteTemplateDir'), path.join(dataDir, 'db'), { recursive: true });
  }
  let db: Database | null = await openDatabase({ url, dataDir });
  const handle: TestDatabase = {
    engine,
    get db() {
      if (!db) throw new Error('test database is closed');
      return db;
    },
    url,
    dataDir,
    async close() {
      await db?.close();
      db = null;
    },
    async reopen() {
      db ??= await openDatabase({ url, dataDir });
      return db;
    },
    async drop() {
      await handle.close();
      await dropServerDb();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}

/**
 * Runs the same tests on PGlite and on PostgreSQL, each with a database of its own for the file.
 * PostgreSQL tests are skipped only when no server exists and CI is not set (global setup fails then).
 */
export function describeEachEngine(title: string, body: (t: () => TestDatabase, engine: Engine) => void): void {
  for (const engine of engines) {
    const run = engine === 'postgres' && !postgresAvailable() ? describe.skip : describe;
    run(`${title} [${engine}]`, () => {
      let handle: TestDatabase | undefined;
      beforeAll(async () => {
        handle = await createTestDatabase(engine);
      });
      afterAll(async () => {
        await handle?.drop();
      });
      body(() => {
        if (!handle) throw new Error('test database not ready');
        return handle;
      }, engine);
    });
  }
}
