import os from 'node:os';
import type { KicsApiError, KicsClient } from '../../adapters/kics/index.js';
import type { Database } from '../../db/database.js';
import type { DiscrepancyEventsResult } from '../discrepancies.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PlanAction, PlanHeader } from '../../reconcile/plan-schema.js';
import { claimItems, countClaimable, releaseItems, type ClaimedItem } from './claim.js';
import { executeItem } from './execute.js';
import { OutcomeWriter, type OutcomeStatus } from './outcome.js';
import { finishApplying, startApplying } from './plan-state.js';

export { approvePlan, checkApplicable, finishApplying, startApplying, PlanNotApplicableError } from './plan-state.js';
export { plannedValuesHeld } from './landed.js';
export { isSystemic } from './execute.js';

/**
 * Applying a stored plan: exactly its items, each at most once, resumable after any crash.
 *
 *   startApplying (state and basis checks) -> KICS reachable? -> per action, in plan order
 *   (creates, updates, uploads, archives, deletes): claim items while slots are free
 *   (src/sync/apply/claim.ts), execute each against KICS (execute.ts), record outcome + audit in one
 *   transaction (outcome.ts) -> the plan's status from its items (plan-state.ts).
 *
 * Creates run before uploads because an upload to a created device needs its id; a barrier between
 * actions keeps that order while up to `concurrency` items of one action run at once.
 *
 * Stopping: when `signal` aborts (SIGTERM / SIGINT) no new item is claimed; the items in flight finish
 * and record their outcome, the rest stay pending for the next apply. When KICS as a whole cannot be
 * used (unreachable, TLS, the connector refused) claiming stops too: failing every item would say
 * nothing more.
 */

const actionWaves: readonly PlanAction[] = ['create', 'update', 'upload_config', 'recognize', 'archive', 'delete'];

export type OutcomeCounts = Record<OutcomeStatus, number>;

export interface ApplyPlanOptions {
  db: Database;
  client: KicsClient;
  planId: number;
  runId: number;
  /** Who applies: recorded in every audit row (`cron`, an OS user, `ksc:<command id>`). */
  actor: string;
  concurrency: number;
  /** Apply a draft without a prior approval (`--yes`, `sync`). */
  allowDraft: boolean;
  industrialConfigRoot?: string | undefined;
  /** `kics.sourceId`, sent with every PATCH. */
  sourceId?: number | undefined;
  logger: Logger;
  signal?: AbortSignal | undefined;
  /** Told the number of items to process, then of each outcome (progress bars). */
  onStart?: (total: number) => void;
  onItem?: (status: OutcomeStatus) => void;
}

export interface ApplyPlanResult {
  planId: number;
  /** The plan as the apply found it; its scope (`plan --owner` ...) is all the apply can touch. */
  header: PlanHeader;
  /** The plan's status after this apply. */
  status: PlanHeader['status'];
  /** Outcomes of this apply. */
  outcome: OutcomeCounts;
  /** The plan's items per status after this apply. */
  items: Record<string, number>;
  /** Items a process that died had claimed, re-examined here. */
  resumed: number;
  /** Stopped before every item was processed (signal, or KICS unusable). */
  stopped: null | { reason: 'interrupted' | 'kics_unavailable'; error?: KicsApiError | undefined };
  durationMs: number;
  /** Discrepancy events registered in KICS after the apply (`sync.discrepancyEvents`), when enabled. */
  discrepancyEvents?: DiscrepancyEventsResult;
}

/** The claimant id stored in `plan_item.claimed_by`. */
export function claimantOf(runId: number): string {
  return `run ${runId} ${os.hostname()}:${process.pid}`;
}

/** Applies a plan. The caller holds the run lock (src/sync/runs/lock.ts). */
export async function applyPlan(options: ApplyPlanOptions): Promise<ApplyPlanResult> {
  const started = performance.now();
  const { db, client, planId, runId, actor, logger, signal } = options;
  const claimant = claimantOf(runId);
  const outcome: OutcomeCounts = { applied: 0, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 };

  const header = await startApplying(db, planId, { allowDraft: options.allowDraft, actor });
  const total = await countClaimable(db, planId, claimant);
  options.onStart?.(total);
  let resumed = 0;
  // Set from the item callbacks: a holder, so that control flow analysis sees the writes.
  const state: { stopped: ApplyPlanResult['stopped']; fatal: Error | null } = { stopped: null, fatal: null };

  if (total > 0) {
    // Before anything is claimed: a KICS that cannot be reached, or refuses the connector, stops the
    // apply here with every item still pending.
    await client.authenticate(signal);
  }

  const ctx = { client, db, planId, industrialConfigRoot: options.industrialConfigRoot, sourceId: options.sourceId, logger };
  const health = { lostInARow: 0 };
  const writer = new OutcomeWriter(db, { planId, runId, actor, claimant });

  // An item holds its slot while it talks to KICS; its outcome is then committed by the writer
  // (grouped with others that finish meanwhile) while the slot goes to the next item. At most a few
  // outcomes per slot wait for their commit.
  const writes = new Set<Promise<void>>();
  const maxWaiting = options.concurrency * 4;
  const fail = (item: ClaimedItem, error: unknown): void => {
    // A database failure: the item stays in_progress and is re-examined by the next apply.
    state.fatal ??= error instanceof Error ? error : new Error(errorMessage(error));
    logger.error({ seq: item.seq, err: errorMessage(error) }, 'could not record an item outcome; stopping');
  };
  const process = async (item: ClaimedItem): Promise<void> => {
    if (item.orphaned) {
      resumed += 1;
      logger.info({ seq: item.seq, action: item.action, claimant: item.previousClaimant }, 're-examining an item a process that died had claimed');
    }
    const result = await executeItem(ctx, item);
    if (kicsUnusable(health, result.systemic) && !state.stopped) {
      state.stopped = { reason: 'kics_unavailable', error: result.systemic! };
      logger.error({ code: result.systemic!.code, err: result.systemic!.message }, 'KICS cannot be used; no further items are started');
    }
    const write: Promise<void> = writer
      .record(item, result)
      .then(() => {
        outcome[result.status] += 1;
        options.onItem?.(result.status);
      })
      .catch((error: unknown) => fail(item, error))
      .finally(() => writes.delete(write));
    writes.add(write);
    if (writes.size > maxWaiting) await write;
  };

  // Items are claimed a few slots ahead (one statement per batch, not per item); those not started
  // when the apply stops are given back.
  const batch = Math.min(Math.max(options.concurrency * 2, 8), 256);
  const queued: ClaimedItem[] = [];
  for (const action of actionWaves) {
    const inFlight = new Set<Promise<void>>();
    let exhausted = false;
    for (;;) {
      if (signal?.aborted && !state.stopped) state.stopped = { reason: 'interrupted' };
      if (state.stopped || state.fatal) break;
      if (inFlight.size >= options.concurrency) {
        await Promise.race(inFlight);
        continue;
      }
      if (queued.length === 0 && !exhausted) {
        const items = await claimItems(db, { planId, actions: [action], claimant, limit: batch });
        if (items.length < batch) exhausted = true;
        queued.push(...items);
      }
      const item = queued.shift();
      if (!item) {
        if (inFlight.size === 0) break;
        await Promise.race(inFlight);
        continue;
      }
      const running: Promise<void> = process(item)
        .catch((error: unknown) => fail(item, error))
        .finally(() => inFlight.delete(running));
      inFlight.add(running);
    }
    await Promise.all(inFlight);
    // The barrier between actions: an upload needs its create's outcome.
    await Promise.all(writes);
    if (state.stopped || state.fatal) break;
  }
  if (queued.length > 0) await releaseItems(db, claimant, queued.splice(0));
  if (state.fatal) throw state.fatal;

  const finished = await finishApplying(db, planId);
  const { stopped } = state;
  const result: ApplyPlanResult = { planId, header, status: finished.status, outcome, items: finished.items, resumed, stopped, durationMs: Math.round(performance.now() - started) };
  logger.info({ plan: planId, status: finished.status, ...outcome, resumed, stopped: stopped?.reason, ms: result.durationMs }, 'apply finished');
  return result;
}

/** Items in a row whose answers were lost before the apply takes KICS for unusable. */
const lostAnswersToStop = 3;

/**
 * Whether an item's error says KICS as a whole cannot be used, so that no further item is started. A
 * refused connection, TLS or the connector refused: at once. An answer lost mid-way (a reset after a
 * 200) is that item's problem, until several items in a row lose theirs.
 */
function kicsUnusable(health: { lostInARow: number }, systemic: KicsApiError | undefined): boolean {
  if (systemic === undefined) {
    health.lostInARow = 0;
    return false;
  }
  if (!systemic.outcomeUnknown) return true;
  health.lostInARow += 1;
  return health.lostInARow >= lostAnswersToStop;
}
