import type { Database } from '../../db/database.js';
import type { Sql } from '../../db/sql.js';
import { ExitCode, KicsSyncError } from '../../errors.js';
import type { PlanAction, SourceKey } from '../../reconcile/plan-schema.js';
import type { HoldDecision, IgnoreDecision, PinDecision, ReconcileDecisions, SameAssetDecision } from '../../reconcile/types.js';
import { insertAuditRecords, type AuditOperation } from '../audit/store.js';

/**
 * Owners' decisions (`decision`), made in the review console: holds (a rejected change), pins ("this
 * record is that device"), same-asset declarations and ignored devices. Every decision and every
 * revocation is written with its audit record in one transaction. `decisionsInForce()` is what the
 * reconciler gets: not revoked, not expired, and for a hold, every record it was decided on still
 * staged with the content it had then (a changed record lets the change be proposed again).
 */

export const decisionKinds = ['hold', 'pin', 'same_asset', 'ignore_device'] as const;
export type DecisionKind = (typeof decisionKinds)[number];

export interface NewDecision {
  kind: DecisionKind;
  owner: string | null;
  actor: string;
  reason: string;
  action?: PlanAction | null;
  deviceId?: number | null;
  sourceKeys?: readonly SourceKey[];
  planId?: number | null;
  seq?: number | null;
  expiresAt?: Date | null;
}

export interface StoredDecision {
  id: number;
  kind: DecisionKind;
  owner: string | null;
  actor: string;
  reason: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
  action: PlanAction | null;
  deviceId: number | null;
  sourceKeys: { source: string; key: string; hash: string | null }[];
  planId: number | null;
  seq: number | null;
  /** In force now: not revoked, not expired, and (a hold) its records unchanged. */
  inForce: boolean;
  /** Why it is not in force, in words. */
  lapsed: string | null;
}

export class DecisionError extends KicsSyncError {
  constructor(message: string) {
    super(message, { code: 'DECISION', exitCode: ExitCode.usage });
  }
}

const auditOperation: Record<DecisionKind, AuditOperation> = { hold: 'decide_hold', pin: 'decide_pin', same_asset: 'decide_same_asset', ignore_device: 'decide_ignore_device' };

/** Stores a decision with its audit record; the records' current content hashes are kept with their keys. Returns its id. */
export async function recordDecision(tx: Sql, d: NewDecision): Promise<number> {
  const [row] = await tx.query<{ id: number }>(
    `INSERT INTO decision (kind, owner, actor, reason, action, device_id, source_keys, plan_id, seq, expires_at)
     SELECT $1::decision_kind, $2, $3, $4, $5::plan_action, $6, COALESCE((
              SELECT jsonb_agg(jsonb_build_object('source', k.value->>'source', 'key', k.value->>'key', 'hash', r.content_hash) ORDER BY k.n)
                FROM jsonb_array_elements($7::jsonb) WITH ORDINALITY AS k(value, n)
                LEFT JOIN source s ON s.name = k.value->>'source'
                LEFT JOIN source_record r ON r.source_id = s.id AND r.external_key = k.value->>'key' AND r.missing_since IS NULL), '[]'::jsonb),
            $8, $9, $10
     RETURNING id`,
    [d.kind, d.owner, d.actor, d.reason, d.action ?? null, d.deviceId ?? null, JSON.stringify((d.sourceKeys ?? []).map((k) => ({ source: k.source, key: k.key }))), d.planId ?? null, d.seq ?? null, d.expiresAt ?? null],
  );
  const id = row!.id;
  await insertAuditRecords(tx, [
    {
      actor: d.actor,
      runId: null,
      planId: d.planId ?? null,
      planItemId: null,
      deviceId: d.deviceId ?? null,
      operation: auditOperation[d.kind],
      request: { decision: id, kind: d.kind, owner: d.owner, reason: d.reason, ...(d.action ? { action: d.action } : {}), sourceKeys: d.sourceKeys ?? [], ...(d.seq ? { seq: d.seq } : {}) },
      httpStatus: null,
      outcome: 'applied',
      kicsResult: null,
      before: null,
      after: { decision: id, kind: d.kind, ...(d.expiresAt ? { expiresAt: d.expiresAt.toISOString() } : {}) },
    },
  ]);
  return id;
}

/** Revokes a decision (audited); false when it was already revoked. */
export async function revokeDecision(db: Database, id: number, actor: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [row] = await tx.query<{ kind: string; device_id: number | null; plan_id: number | null }>(
      `UPDATE decision SET revoked_at = now(), revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING kind::text AS kind, device_id, plan_id`,
      [id, actor],
    );
    if (!row) return false;
    await insertAuditRecords(tx, [
      {
        actor,
        runId: null,
        planId: row.plan_id,
        planItemId: null,
        deviceId: row.device_id === null ? null : Number(row.device_id),
        operation: 'revoke_decision',
        request: { decision: id, kind: row.kind },
        httpStatus: null,
        outcome: 'applied',
        kicsResult: null,
        before: { decision: id, revoked: false },
        after: { decision: id, revoked: true },
      },
    ]);
    return true;
  });
}

interface DecisionRow {
  id: number;
  kind: DecisionKind;
  owner: string | null;
  actor: string;
  reason: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
  action: PlanAction | null;
  device_id: string | number | null;
  source_keys: { source: string; key: string; hash: string | null }[];
  plan_id: number | null;
  seq: number | null;
  records_changed: boolean;
}

const selectDecisions = `SELECT d.id, d.kind::text AS kind, d.owner, d.actor, d.reason, d.created_at, d.expires_at, d.revoked_at, d.revoked_by, d.action::text AS action,
          d.device_id, d.source_keys, d.plan_id, d.seq,
          d.kind = 'hold' AND EXISTS (
            SELECT 1 FROM jsonb_array_elements(d.source_keys) k
              LEFT JOIN source s ON s.name = k->>'source'
              LEFT JOIN source_record r ON r.source_id = s.id AND r.external_key = k->>'key' AND r.missing_since IS NULL
             WHERE r.content_hash IS DISTINCT FROM k->>'hash') AS records_changed
     FROM decision d`;

function toDecision(r: DecisionRow, now: Date): StoredDecision {
  const lapsed = r.revoked_at
    ? `revoked by ${r.revoked_by} at ${r.revoked_at.toISOString()}`
    : r.expires_at && r.expires_at.getTime() <= now.getTime()
      ? `expired at ${r.expires_at.toISOString()}`
      : r.records_changed
        ? 'its source records changed since'
        : null;
  return {
    id: r.id,
    kind: r.kind,
    owner: r.owner,
    actor: r.actor,
    reason: r.reason,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    revokedBy: r.revoked_by,
    action: r.action,
    deviceId: r.device_id === null ? null : Number(r.device_id),
    sourceKeys: r.source_keys,
    planId: r.plan_id,
    seq: r.seq,
    inForce: lapsed === null,
    lapsed,
  };
}

/** Decisions, newest first: an owner's (`owners`) or all; `inForce` only those the next plan follows. */
export async function listDecisions(db: Sql, options: { now: Date; owners?: readonly string[] | null; inForce?: boolean; deviceId?: number; limit?: number; offset?: number }): Promise<StoredDecision[]> {
  const rows = await db.query<DecisionRow>(
    `${selectDecisions}
      WHERE ($1::text[] IS NULL OR d.owner = ANY($1::text[])) AND ($2::bigint IS NULL OR d.device_id = $2)
        AND (NOT $3 OR (d.revoked_at IS NULL AND (d.expires_at IS NULL OR d.expires_at > $4)))
      ORDER BY d.id DESC LIMIT $5 OFFSET $6`,
    [options.owners ? [...options.owners] : null, options.deviceId ?? null, options.inForce ?? false, options.now, options.limit ?? 1_000_000, options.offset ?? 0],
  );
  const decisions = rows.map((r) => toDecision(r, options.now));
  return options.inForce ? decisions.filter((d) => d.inForce) : decisions;
}

export async function decisionById(db: Sql, id: number, now: Date): Promise<StoredDecision | null> {
  const [row] = await db.query<DecisionRow>(`${selectDecisions} WHERE d.id = $1`, [id]);
  return row ? toDecision(row, now) : null;
}

/** The decisions in force, as the reconciler takes them. */
export async function decisionsInForce(db: Sql, now: Date): Promise<ReconcileDecisions> {
  const holds: HoldDecision[] = [];
  const pins: PinDecision[] = [];
  const sameAssets: SameAssetDecision[] = [];
  const ignored: IgnoreDecision[] = [];
  for (const d of await listDecisions(db, { now, inForce: true })) {
    const ref = { id: d.id, by: d.actor, at: d.createdAt.toISOString(), reason: d.reason };
    const keys = d.sourceKeys.map((k) => ({ source: k.source, key: k.key }));
    if (d.kind === 'hold' && d.action) holds.push({ ...ref, action: d.action, deviceId: d.deviceId, sourceKeys: keys });
    else if (d.kind === 'pin' && d.deviceId !== null && keys[0]) pins.push({ ...ref, source: keys[0].source, key: keys[0].key, deviceId: d.deviceId });
    else if (d.kind === 'same_asset') sameAssets.push({ ...ref, records: keys });
    else if (d.kind === 'ignore_device' && d.deviceId !== null) ignored.push({ ...ref, deviceId: d.deviceId });
  }
  // Oldest first: of two pins of one record, the newer wins when bound.
  return { holds: holds.reverse(), pins: pins.reverse(), sameAssets: sameAssets.reverse(), ignoredDevices: ignored.reverse() };
}
