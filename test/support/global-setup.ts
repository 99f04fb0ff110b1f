import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/database.js';
import { findPostgresBin, startThrowawayPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test PostgreSQL server, or null when none could be started (never with CI=true). */
    pgAdminUrl: string | null;
    /** A migrated PostgreSQL database to clone (CREATE DATABASE ... TEMPLATE). */
    pgTemplate: string;
    /** A migrated PGlite data directory to copy. */
    pgliteTemplateDir: string;
  }
}

export const pgTemplate = 'kics_sync_template';

/**
 * Once per test run: a throwaway PostgreSQL cluster (or KICS_SYNC_TEST_DATABASE_URL), a migrated
 * template database on it, and a migrated PGlite data directory. Each test file then gets its own
 * database cloned from these (test/support/db.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  const cleanups: (() => void | Promise<void>)[] = [];

  let adminUrl: string | null = process.env.KICS_SYNC_TEST_DATABASE_URL ?? null;
  if (!adminUrl) {
    const bin = findPostgresBin();
    if (bin) {
      const server = await startThrowawayPostgres(bin);
      cleanups.push(() => server.stop());
      adminUrl = server.adminUrl;
    } else if (ci) {
      throw new Error('CI=true but no PostgreSQL server binaries were found (set PG_BIN or KICS_SYNC_TEST_DATABASE_URL); database tests must run on PostgreSQL too');
    } else {
      process.stderr.write('\n!!! No PostgreSQL found: database tests run on PGlite only. Set PG_BIN or KICS_SYNC_TEST_DATABASE_URL. !!!\n\n');
    }
  }

  if (adminUrl) {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pgTemplate}`);
    await admin.query(`CREATE DATABASE ${pgTemplate}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${pgTemplate}`;
    const db = await openDatabase({ url: url.toString(), dataDir: os.tmpdir() });
    await db.close();
  }

  const pgliteRoot = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-pglite-template-'));
  cleanups.push(() => rmSync(pgliteRoot, { recursive: true, force: true }));
  const db = await openDatabase({ dataDir: pgliteRoot });
  await db.close();

  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplate', pgTemplate);
  project.provide('pgliteTemplateDir', path.join(pgliteRoot, 'db'));

  return async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
}
