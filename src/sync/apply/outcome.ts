import type { Database } from '../../db/database.js';
import type { Sql } from '../../db/sql.js';
import { KicsSyncError } from '../../errors.js';
import { emitEvent, type EngineEventCode } from '../events/index.js';
import { insertAuditRecords, type AuditOperation } from '../audit/store.js';
import type { ClaimedItem } from './claim.js';

/**
 * Recording item outcomes: the status transition `in_progress -> applied | skipped | drifted |
 * failed`, each item's audit row, the industrial configuration upload it made, and the engine events
 * it raises, in ONE transaction. No outcome without its audit row, no audit row without its outcome;
 * a process killed before the commit leaves its items `in_progress` for the next apply to re-examine.
 *
 * Outcomes are committed in groups (`OutcomeWriter`): while one transaction commits, the outcomes
 * that finish meanwhile wait and go together into the next, as two statements (one UPDATE and one
 * INSERT over arrays) however many there are. Nothing waits on purpose: one item alone is committed
 * at once.
 */

/** `applied_with_errors`: KICS executed it and reported errors in part of it (an industrial configuration with tag errors). */
export type OutcomeStatus = 'applied' | 'applied_with_errors' | 'skipped' | 'drifted' | 'failed';

export interface ItemOutcome {
  status: OutcomeStatus;
  /** The item's `last_error`: why it drifted, failed or was skipped, in words. */
  message: string | null;
  /** Stored in `plan_item.result`: the device id created, KICS's answer, the KICS values kept. */
  result: Record<string, unknown> | null;
  /** A created device's id, kept on the item. */
  deviceId?: number;
  audit: {
    operation: AuditOperation;
    deviceId: number | null;
    request: Record<string, unknown> | null;
    httpStatus: number | null;
    kicsResult: unknown;
    before: Record<string, unknown> | null;
    after: Record<string, unknown> | null;
  };
  /** An industrial configuration now on the device (the next plan compares its hash). */
  upload?: { deviceId: number; path: string; contentHash: string; mode: string; result: unknown };
  events?: { type: EngineEventCode; payload: Record<string, unknown>; message: string }[];
}

export interface OutcomeContext {
  planId: number;
  runId: number;
  actor: string;
  claimant: string;
}

export class ClaimLostError extends KicsSyncError {
  constructor(seqs: readonly number[], claimant: string) {
    super(`plan item(s) ${seqs.join(', ')} no longer claimed by ${claimant}; their outcomes were not recorded`, { code: 'CLAIM_LOST', details: { seqs } });
  }
}

const json = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** Records the outcomes of items claimed by `ctx.claimant`, all in one transaction. */
export async function recordOutcomes(db: Database, ctx: OutcomeContext, entries: readonly { item: ClaimedItem; outcome: ItemOutcome }[]): Promise<void> {
  if (entries.length === 0) return;
  await db.transaction(async (tx) => writeOutcomes(tx, ctx, entries));
}

/** One item's outcome (the same transaction rules). */
export function recordOutcome(db: Database, ctx: OutcomeContext, item: ClaimedItem, outcome: ItemOutcome): Promise<void> {
  return recordOutcomes(db, ctx, [{ item, outcome }]);
}

async function writeOutcomes(tx: Sql, ctx: OutcomeContext, entries: readonly { item: ClaimedItem; outcome: ItemOutcome }[]): Promise<void> {
  const updated = await tx.query<{ id: number }>(
    `UPDATE plan_item p
        SET status = v.status::plan_item_status, last_error = v.last_error, result = v.result::jsonb, finished_at = now(),
            kics_device_id = COALESCE(p.kics_device_id, v.device_id)
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS v(id, status, last_error, result, device_id)
      WHERE p.id = v.id AND p.status = 'in_progress' AND p.claimed_by = $1
  RETURNING p.id`,
    [
      ctx.claimant,
      entries.map((e) => e.item.id),
      entries.map((e) => e.outcome.status),
      entries.map((e) => e.outcome.message),
      entries.map((e) => json(e.outcome.result)),
      entries.map((e) => e.outcome.deviceId ?? null),
    ],
  );
  if (updated.length !== entries.length) {
    const done = new Set(updated.map((r) => r.id));
    throw new ClaimLostError(
      entries.filter((e) => !done.has(e.item.id)).map((e) => e.item.seq),
      ctx.claimant,
    );
  }
  await insertAuditRecords(
    tx,
    entries.map(({ item, outcome }) => ({ actor: ctx.actor, runId: ctx.runId, planId: ctx.planId, planItemId: item.id, outcome: outcome.status, ...outcome.audit })),
  );
  for (const { item, outcome } of entries) {
    if (outcome.upload) {
      const u = outcome.upload;
      await tx.execute(`INSERT INTO industrial_config_upload (device_id, path, content_hash, mode, plan_item_id, result) VALUES ($1, $2, $3, $4, $5, $6::jsonb)`, [
        u.deviceId,
        u.path,
        u.contentHash,
        u.mode,
        item.id,
        JSON.stringify(u.result ?? null),
      ]);
    }
    for (const event of outcome.events ?? []) await emitEvent(tx, event.type, { planId: ctx.planId, ...event.payload }, { runId: ctx.runId, message: event.message });
  }
}

/**
 * Group commit of outcomes: `record()` resolves once the item's outcome is committed (or rejects
 * with the transaction's error, the item then staying `in_progress`).
 */
export class OutcomeWriter {
  private queue: { item: ClaimedItem; outcome: ItemOutcome; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly db: Database,
    private readonly ctx: OutcomeContext,
  ) {}

  record(item: ClaimedItem, outcome: ItemOutcome): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, outcome, resolve, reject });
      // Outcomes finishing in the same turn of the event loop go into one transaction.
      this.flushing ??= new Promise<void>((done) => setImmediate(done)).then(() => this.flush());
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await recordOutcomes(this.db, this.ctx, batch);
        for (const entry of batch) entry.resolve();
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    this.flushing = null;
  }
}
