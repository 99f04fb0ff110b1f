import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { LockedError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const require = createRequire(import.meta.url);
const tsxLoader = require.resolve('tsx');

/** A separate process holding the embedded database open. */
async function holdDatabase(dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', tsxLoader, path.join(import.meta.dirname, '..', 'support', 'hold-database.ts'), dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('open') && resolve());
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  return child;
}

describe('the embedded database lock', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase('pglite');
    await t.close();
  });
  afterAll(async () => {
    await t.drop();
  });

  it('refuses a second process at once while the first is alive, naming its pid', async () => {
    const holder = await holdDatabase(t.dataDir);
    try {
      const started = Date.now();
      const error = await openDatabase({ dataDir: t.dataDir, migrate: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockedError);
      expect((error as Error).message).toContain(`pid ${holder.pid}`);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      holder.kill('SIGTERM');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    const db = await openDatabase({ dataDir: t.dataDir, migrate: false });
    await db.close();
  });

  it('takes over at once the lock of a process that was killed, instead of failing or waiting, and says so', async () => {
    const holder = await holdDatabase(t.dataDir);
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    const lines: string[] = [];
    const logger = createLogger({ pretty: false, destination: { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream });
    const db = await openDatabase({ dataDir: t.dataDir, migrate: false, logger });
    try {
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      expect(lines.join('')).toContain(`left locked by a kics-sync process that ended (pid ${holder.pid}); taking the lock over`);
      // Taken over, not waited for: the open did not sleep between tries.
      expect(lines.join('')).not.toContain('waiting');
    } finally {
      await db.close();
    }
  });
});
