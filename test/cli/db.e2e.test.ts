import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { parseJsonOutput, runCli } from '../support/cli.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../support/db.js';
import { inject } from 'vitest';
import pg from 'pg';

describe('kics-sync db (embedded PGlite)', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-cli-'));
  const env = { KICS_SYNC_DATA_DIR: dataDir };

  it('migrates an empty data directory, then a second run changes nothing', async () => {
    const first = await runCli(['db', 'migrate', '--json'], { env });
    expect(first.code, first.stderr).toBe(0);
    const out1 = parseJsonOutput(first);
    expect(out1.engine).toBe('pglite');
    expect(out1.applied).toEqual(expect.arrayContaining([expect.stringMatching(/_init$/)]));

    const second = await runCli(['db', 'migrate', '--json'], { env });
    expect(second.code).toBe(0);
    expect(parseJsonOutput(second)).toMatchObject({ ok: true, applied: [], current: out1.applied });
  });

  it('reports status: which database, what is applied, nothing pending', async () => {
    const result = await runCli(['db', 'status'], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`embedded PGlite in ${path.join(dataDir, 'db')}`);
    expect(result.stdout).toMatch(/_init/);
    expect(result.stdout).toMatch(/pending:\s+none/);
  });

  it('refuses a data directory that cannot be written, in one line', async () => {
    const file = path.join(dataDir, 'a-file');
    writeFileSync(file, '');
    const result = await runCli(['db', 'migrate'], { env: { KICS_SYNC_DATA_DIR: path.join(file, 'sub') } });
    expect(result.code).toBe(ExitCode.unavailable);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/data directory .*a-file\/sub is not usable for the embedded database: ENOTDIR on /);
  });

  it('refuses a data directory where no folder can be made (/proc/self) at once, instead of spinning', async () => {
    const result = await runCli(['--data-dir', '/proc/self', 'runs'], { timeoutMs: 60_000 });
    expect(result.signal, 'ended by itself, not killed by the hang guard').toBeNull();
    expect(result.code).toBe(ExitCode.unavailable);
    expect(result.stderr.trim()).toBe('kics-sync: data directory /proc/self is not usable for the embedded database: ENOENT on /proc/self/db (--data-dir, KICS_SYNC_DATA_DIR or dataDir must name a folder kics-sync can create and write)');
  });

  it('keeps the embedded database private: folders 0700, files 0600', async () => {
    const modes = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        modes.add(`${entry.isDirectory() ? 'folder' : 'file'} ${(statSync(full).mode & 0o777).toString(8)}`);
        if (entry.isDirectory()) walk(full);
      }
    };
    walk(path.join(dataDir, 'db'));
    expect((statSync(dataDir).mode & 0o077).toString(8)).toBe('0');
    expect((statSync(path.join(dataDir, 'db')).mode & 0o777).toString(8)).toBe('700');
    expect([...modes].sort()).toEqual(['file 600', 'folder 700']);
  });

  it('a fresh data directory is made 0700', async () => {
    const fresh = path.join(dataDir, 'fresh', 'data');
    const result = await runCli(['--data-dir', fresh, 'runs']);
    expect(result.code, result.stderr).toBe(0);
    expect((statSync(fresh).mode & 0o777).toString(8)).toBe('700');
  });

  it('takes over at once the embedded database a dead process left locked, and says so', async () => {
    const locked = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-locked-'));
    // A lock as a kics-sync process killed on this host leaves it: fresh, owned by a pid that is gone.
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    mkdirSync(path.join(locked, 'db.lock'));
    writeFileSync(path.join(locked, 'db.lock.owner'), JSON.stringify({ pid: gone, host: os.hostname(), since: new Date().toISOString() }));
    const result = await runCli(['--data-dir', locked, 'runs']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`left locked by a kics-sync process that ended (pid ${gone}); taking the lock over`);
    rmSync(locked, { recursive: true, force: true });
  });
});

describe('kics-sync command line', () => {
  it('prints help and version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: kics-sync');
    expect(help.stdout).toContain('db');
    const version = await runCli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('exits with the usage code on an unknown command or a bad option value', async () => {
    expect((await runCli(['frobnicate'])).code).toBe(ExitCode.usage);
    const bad = await runCli(['--log-level', 'loud', 'db', 'status']);
    expect(bad.code).toBe(ExitCode.usage);
    expect(bad.stderr).toContain('--log-level must be one of');
  });

  it('names an invalid configuration key in one line, with --json also on stdout', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-cfg-'));
    writeFileSync(path.join(dir, 'kics-sync.yaml'), 'sync: { maxCreates: -1 }\n');
    const result = await runCli(['db', 'status', '--json'], { cwd: dir });
    expect(result.code).toBe(ExitCode.usage);
    expect(result.stderr).toContain('sync.maxCreates');
    expect(parseJsonOutput(result)).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' } });
  });
});

(postgresAvailable() ? describe : describe.skip)('kics-sync db (PostgreSQL)', () => {
  let empty: { url: string; drop(): Promise<void> };
  let migrated: TestDatabase;

  beforeAll(async () => {
    const adminUrl = inject('pgAdminUrl')!;
    const name = `cli_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    empty = {
      url: u.toString(),
      drop: async () => {
        const a = new pg.Client({ connectionString: adminUrl });
        await a.connect();
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await a.end();
      },
    };
    migrated = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await empty?.drop();
    await migrated?.drop();
  });

  it('shows pending migrations, applies them, and a second run changes nothing', async () => {
    const env = { DATABASE_URL: empty.url };
    const status = parseJsonOutput(await runCli(['db', 'status', '--json'], { env }));
    expect(status.engine).toBe('postgres');
    expect((status.pending as string[]).length).toBeGreaterThan(0);
    expect(JSON.stringify(status)).not.toContain(new URL(empty.url).password);

    const first = parseJsonOutput(await runCli(['db', 'migrate', '--json'], { env }));
    expect(first.applied).toEqual(status.pending);
    const second = parseJsonOutput(await runCli(['db', 'migrate', '--json'], { env }));
    expect(second.applied).toEqual([]);
  });

  it('gives one clear line and a non-zero exit for a bad URL, a refused connection, a wrong password, a missing database', async () => {
    const good = new URL(migrated.url!);
    const wrongPassword = new URL(good);
    wrongPassword.password = 'definitely-wrong';
    const missingDb = new URL(good);
    missingDb.pathname = '/no_such_database';
    const cases: [string, RegExp][] = [
      ['not a url', /DATABASE_URL is not a valid postgresql:\/\/ URL/],
      ['mysql://x@127.0.0.1/db', /DATABASE_URL is not a valid postgresql:\/\/ URL/],
      ['postgresql://postgres@127.0.0.1:1/x', /cannot reach PostgreSQL at 127\.0\.0\.1:1\/x: connection refused/],
      [wrongPassword.toString(), /refused the password for user postgres/],
      [missingDb.toString(), /database no_such_database does not exist/],
    ];
    for (const [url, message] of cases) {
      const result = await runCli(['db', 'status'], { env: { DATABASE_URL: url } });
      expect(result.code, url).toBe(ExitCode.unavailable);
      const lines = result.stderr.trim().split('\n');
      expect(lines, result.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(result.stderr).not.toContain('definitely-wrong');
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
