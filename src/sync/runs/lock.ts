import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import type { Database } from '../../db/database.js';
import { LockedError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { runningRun } from './store.js';

/**
 * The run lock: at most one run that writes to KICS (apply, sync, a scheduled run, a KSC apply) at
 * a time per site, in one process or across processes and hosts (sites do not wait for each other).
 *
 * - PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a connection taken from the pool
 *   and held for the whole run. It is never waited for: a second run is refused at once. When the
 *   process dies, PostgreSQL ends the session and the lock is free again.
 * - PGlite: the embedded database is opened by one process at a time (the data directory lock in
 *   src/db/database.ts), so the lock only has to hold within this process: a flag per database.
 *
 * Holding the lock also means that no other apply is alive: items left `in_progress` by another run
 * were claimed by a process that died, and are re-examined (src/sync/apply/).
 */

/** One lock per site: the default site keeps the key it always had. */
const lockKey = (schema: string): string => (schema === 'public' ? 'kics-sync:run' : `kics-sync:run:${schema}`);
const heldInProcess = new WeakSet<PGlite>();

export interface RunLock {
  release(): Promise<void>;
}

/** Takes the run lock or throws `LockedError` (exit code 5) naming the run that holds it. */
export async function acquireRunLock(db: Database, logger?: Logger): Promise<RunLock> {
  const target = db.engineTarget;
  if (target.engine === 'pglite') {
    if (heldInProcess.has(target.pglite)) throw await lockedError(db);
    heldInProcess.add(target.pglite);
    let released = false;
    return {
      async release() {
        if (released) return;
        released = true;
        heldInProcess.delete(target.pglite);
      },
    };
  }
  const client: pg.PoolClient = await target.pool.connect();
  let acquired = false;
  try {
    const [row] = (await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok`, [lockKey(db.schema)])).rows;
    acquired = row?.ok === true;
  } catch (error) {
    client.release(true);
    throw error;
  }
  if (!acquired) {
    client.release();
    throw await lockedError(db);
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        await client.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [lockKey(db.schema)]);
        client.release();
      } catch (error) {
        // Ending the session frees the lock anyway.
        logger?.warn({ err: errorMessage(error) }, 'could not release the run lock; closing its connection instead');
        client.release(true);
      }
    },
  };
}

async function lockedError(db: Database): Promise<LockedError> {
  const holder = await runningRun(db).catch(() => null);
  const who = holder
    ? `run ${holder.id} (${holder.mode}, started by ${holder.actor} at ${holder.startedAt.toISOString()}${holder.host ? ` on ${holder.host}` : ''}${holder.pid ? `, pid ${holder.pid}` : ''})`
    : 'another run';
  return new LockedError(`${who} is applying changes to KICS; only one run at a time may do so. Wait for it to finish (kics-sync runs shows it)`, {
    details: holder ? { runId: holder.id } : {},
  });
}
