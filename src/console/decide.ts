import type { Database } from '../db/database.js';
import type { Sql } from '../db/sql.js';
import { KicsSyncError } from '../errors.js';
import { changeActions, type Conflict, type PlanAction, type SourceKey } from '../reconcile/plan-schema.js';
import { approvePlan } from '../sync/apply/plan-state.js';
import { insertAuditRecords } from '../sync/audit/store.js';
import { decisionById, recordDecision, revokeDecision, type DecisionKind } from '../sync/decisions/store.js';
import { consoleActor, decideRefusal, wholePlanRefusal } from './access.js';
import type { ConsoleUser } from './users.js';

/**
 * What a console user decides, the same for a form and for the API: each answer is an HTTP status
 * and a body (the error in words when refused). Every decision is audited with the user as actor, in
 * the transaction that records it.
 */

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

const refused = (status: number, error: string): Answer => ({ status, body: { error } });
export const maxReasonLength = 2000;

/** Why a decision's reason (trimmed) is refused: missing, or longer than `maxReasonLength`. */
function reasonRefusal(why: string, missing: string): Answer | null {
  if (why === '') return refused(400, missing);
  if (why.length > maxReasonLength) return refused(400, `the reason has at most ${maxReasonLength} characters`);
  return null;
}

interface ItemRow {
  id: number;
  seq: number;
  action: PlanAction;
  status: string;
  owner: string | null;
  kics_device_id: string | number | null;
  source_keys: SourceKey[];
  conflict: Conflict | null;
  approved_by: string | null;
  plan_status: string;
}

async function itemOf(db: Sql, planId: number, seq: number): Promise<ItemRow | null> {
  const [row] = await db.query<ItemRow>(
    `SELECT i.id, i.seq, i.action::text AS action, i.status::text AS status, i.owner, i.kics_device_id, i.source_keys, i.conflict, i.approved_by, p.status::text AS plan_status
       FROM plan_item i JOIN plan p ON p.id = i.plan_id WHERE i.plan_id = $1 AND i.seq = $2`,
    [planId, seq],
  );
  return row ?? null;
}

/** The item, or why the user may not decide about it. */
async function decidable(db: Sql, user: ConsoleUser, planId: number, seq: number): Promise<ItemRow | Answer> {
  const item = await itemOf(db, planId, seq);
  if (!item) return refused(404, `plan ${planId} has no item ${seq}`);
  const refusal = decideRefusal(user, item.owner);
  if (refusal) return refused(403, refusal);
  return item;
}

const isAnswer = (x: ItemRow | Answer): x is Answer => 'body' in x;
const deviceIdOf = (item: ItemRow): number | null => (item.kics_device_id === null ? null : Number(item.kics_device_id));

/** A pending change of a plan still open to decisions, or why not. */
function pendingChange(item: ItemRow, planId: number, verb: string): Answer | null {
  if (!['draft', 'approved'].includes(item.plan_status)) return refused(409, `plan ${planId} is ${item.plan_status}: its items can no longer be ${verb}`);
  if (!changeActions.includes(item.action)) return refused(409, `item ${item.seq} is a ${item.action}: only a change to KICS is ${verb}`);
  if (item.status !== 'pending') return refused(409, `item ${item.seq} is ${item.status}: only a pending change is ${verb}`);
  return null;
}

/**
 * A draft plan whose every pending change has been approved on its own is approved as a whole, by
 * the users who approved its items; a plan with nothing approved stays a draft.
 */
async function settleApproval(tx: Sql, planId: number, user: ConsoleUser): Promise<boolean> {
  const [row] = await tx.query<{ open: number; approvers: string | null }>(
    `SELECT count(*) FILTER (WHERE status = 'pending' AND approved_by IS NULL)::int AS open,
            string_agg(DISTINCT approved_by, ', ' ORDER BY approved_by) AS approvers
       FROM plan_item WHERE plan_id = $1`,
    [planId],
  );
  if (!row || row.open > 0 || row.approvers === null) return false;
  const updated = await tx.execute(`UPDATE plan SET status = 'approved', approved_at = now(), approved_by = $2 WHERE id = $1 AND status = 'draft'`, [planId, row.approvers]);
  if (updated === 1) await insertAuditRecords(tx, [approvalAudit(user, planId, { via: 'items', approvers: row.approvers })]);
  return updated === 1;
}

function approvalAudit(user: ConsoleUser, planId: number, request: Record<string, unknown>): Parameters<typeof insertAuditRecords>[1][number] {
  return {
    actor: consoleActor(user),
    runId: null,
    planId,
    planItemId: null,
    deviceId: null,
    operation: 'approve_plan',
    request: { via: 'console', user: user.name, role: user.role, ...request },
    httpStatus: null,
    outcome: 'applied',
    kicsResult: null,
    before: { status: 'draft' },
    after: { status: 'approved' },
  };
}

/** Approves a plan as a whole (what `kics-sync approve` does), audited; refused (403) unless the user may approve it all. */
export async function approveWholePlan(db: Database, user: ConsoleUser, planId: number): Promise<Answer> {
  const [plan] = await db.query<{ scope: Record<string, unknown> }>(`SELECT scope FROM plan WHERE id = $1`, [planId]);
  if (!plan) return refused(404, `no plan ${planId}`);
  const refusal = await wholePlanRefusal(db, user, planId, plan.scope);
  if (refusal) return refused(403, refusal);
  try {
    const { header, changed } = await approvePlan(db, planId, consoleActor(user));
    if (changed) await insertAuditRecords(db, [approvalAudit(user, planId, {})]);
    return { status: 200, body: { plan: planId, status: header.status, approvedBy: header.approvedBy, approvedAt: header.approvedAt, changed } };
  } catch (error) {
    if (error instanceof KicsSyncError) return refused(409, error.message);
    throw error;
  }
}

/** Approves one pending change; the plan is approved once every pending change is. */
export async function approveItem(db: Database, user: ConsoleUser, planId: number, seq: number): Promise<Answer> {
  const item = await decidable(db, user, planId, seq);
  if (isAnswer(item)) return item;
  if (item.plan_status === 'approved' || item.approved_by !== null) return { status: 200, body: { plan: planId, seq, approvedBy: item.approved_by ?? 'the whole plan', changed: false } };
  const closed = pendingChange(item, planId, 'approved');
  if (closed) return closed;
  return db.transaction(async (tx) => {
    const updated = await tx.execute(`UPDATE plan_item SET approved_by = $2, approved_at = now() WHERE id = $1 AND status = 'pending' AND approved_by IS NULL`, [item.id, consoleActor(user)]);
    if (updated !== 1) return refused(409, `item ${seq} changed while it was being approved; look at it again`);
    await insertAuditRecords(tx, [
      {
        actor: consoleActor(user),
        runId: null,
        planId,
        planItemId: item.id,
        deviceId: deviceIdOf(item),
        operation: 'approve_item',
        request: { via: 'console', seq, action: item.action },
        httpStatus: null,
        outcome: 'applied',
        kicsResult: null,
        before: { approved: false },
        after: { approved: true },
      },
    ]);
    const planApproved = await settleApproval(tx, planId, user);
    return { status: 200, body: { plan: planId, seq, approvedBy: consoleActor(user), changed: true, planApproved } };
  });
}

/**
 * Rejects one pending change with a reason: the item (and an upload to a device it would create) is
 * held in this plan, and a hold decision keeps later plans from proposing it again until its source
 * records change, the decision expires (`console.holdDays`) or someone revokes it.
 */
export async function rejectItem(db: Database, user: ConsoleUser, planId: number, seq: number, reason: string, holdDays: number): Promise<Answer> {
  const why = reason.trim();
  const badReason = reasonRefusal(why, 'say why the change is rejected (a reason is required)');
  if (badReason) return badReason;
  const item = await decidable(db, user, planId, seq);
  if (isAnswer(item)) return item;
  const closed = pendingChange(item, planId, 'rejected');
  if (closed) return closed;
  const actor = consoleActor(user);
  return db.transaction(async (tx) => {
    const expiresAt = holdDays > 0 ? new Date(Date.now() + holdDays * 86_400_000) : null;
    const id = await recordDecision(tx, { kind: 'hold', owner: item.owner, actor, reason: why, action: item.action, deviceId: deviceIdOf(item), sourceKeys: item.source_keys, planId, seq, expiresAt });
    const decision = { id, kind: 'hold', by: actor, at: new Date().toISOString(), reason: why };
    const held = await tx.execute(
      `UPDATE plan_item SET status = 'held', decision = $3::jsonb
        WHERE plan_id = $1 AND status = 'pending' AND (seq = $2 OR (action = 'upload_config' AND (request->>'createSeq')::int = $2))`,
      [planId, seq, JSON.stringify(decision)],
    );
    // A plan whose items were decided on is no template for a later plan (src/sync/plans/reuse.ts).
    await tx.execute(`UPDATE plan SET inputs_hash = NULL WHERE id = $1`, [planId]);
    const planApproved = await settleApproval(tx, planId, user);
    return { status: 200, body: { plan: planId, seq, decision: id, held, expiresAt: expiresAt?.toISOString() ?? null, planApproved } };
  });
}

export interface ConflictDecisionRequest {
  kind: Exclude<DecisionKind, 'hold'>;
  plan: number;
  seq: number;
  reason: string;
  /** pin: the record and the device, both from the conflict's sides. */
  source?: string | undefined;
  key?: string | undefined;
  deviceId?: number | undefined;
}

/**
 * Settles a conflict once: "this record is that device" (pin), "these records are one asset"
 * (same_asset), "ignore this device" (ignore_device, for a device in no source). Later plans follow it.
 */
export async function decideConflict(db: Database, user: ConsoleUser, r: ConflictDecisionRequest): Promise<Answer> {
  const why = r.reason.trim();
  const badReason = reasonRefusal(why, 'say why (a reason is required)');
  if (badReason) return badReason;
  const item = await decidable(db, user, r.plan, r.seq);
  if (isAnswer(item)) return item;
  const actor = consoleActor(user);
  const base = { owner: item.owner, actor, reason: why, planId: r.plan, seq: r.seq };
  let id: number;
  if (r.kind === 'ignore_device') {
    if (item.action !== 'unknown') return refused(409, `item ${r.seq} is a ${item.action}: only a device in no source (unknown) can be ignored`);
    id = await db.transaction((tx) => recordDecision(tx, { ...base, kind: 'ignore_device', deviceId: deviceIdOf(item) }));
  } else {
    if (item.action !== 'conflict' || !item.conflict) return refused(409, `item ${r.seq} is a ${item.action}: only a conflict is settled this way`);
    const assets = item.conflict.assets;
    if (r.kind === 'pin') {
      if (!assets.some((a) => a.source === r.source && a.key === r.key)) return refused(400, `the conflict has no record ${r.source ?? '?'} ${JSON.stringify(r.key ?? '')}`);
      if (!item.conflict.devices.some((d) => d.id === r.deviceId)) return refused(400, `the conflict names no device ${r.deviceId ?? '?'}: pin to one of ${item.conflict.devices.map((d) => d.id).join(', ') || 'none'}`);
      id = await db.transaction((tx) => recordDecision(tx, { ...base, kind: 'pin', deviceId: r.deviceId!, sourceKeys: [{ source: r.source!, key: r.key! }] }));
    } else {
      const records = [...new Map(assets.map((a) => [`${a.source}\u0000${a.key}`, { source: a.source, key: a.key }])).values()];
      if (records.length < 2) return refused(409, 'the conflict names one record: there is nothing to declare one asset');
      id = await db.transaction((tx) => recordDecision(tx, { ...base, kind: 'same_asset', sourceKeys: records }));
    }
  }
  return { status: 201, body: { decision: id, kind: r.kind, note: 'the next plan follows this decision' } };
}

/** Revokes a decision: admins any, owners their own owners'. */
export async function revoke(db: Database, user: ConsoleUser, id: number): Promise<Answer> {
  const decision = await decisionById(db, id, new Date());
  if (!decision) return refused(404, `no decision ${id}`);
  const refusal = decideRefusal(user, decision.owner);
  if (refusal) return refused(403, refusal);
  const changed = await revokeDecision(db, id, consoleActor(user));
  return { status: 200, body: { decision: id, revoked: true, changed } };
}
