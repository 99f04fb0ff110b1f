import type { Sql } from '../db/sql.js';
import type { Conflict, ItemDecision, PlanAction } from '../reconcile/plan-schema.js';
import { listRuns, type RunRecord } from '../sync/runs/store.js';
import { consoleActor, ownerFilter } from './access.js';
import type { ConsoleUser } from './users.js';

/**
 * What the console reads, each a bounded query limited to what the user may see (an owner: rows whose
 * owner is one of theirs). Items are paged by the server: a 100,000-item plan is read 50 at a time.
 */

export const pageSize = 50;

export interface PlanRow {
  id: number;
  status: string;
  createdAt: Date;
  scope: Record<string, unknown>;
  approvedBy: string | null;
  /** Items the user may see. */
  items: number;
  counts: Record<string, number>;
}

/** The newest plans, each with the counts of the items this user may see (an owner: their owners' only). */
export async function plansFor(db: Sql, user: ConsoleUser): Promise<PlanRow[]> {
  const rows = await db.query<{ id: number; status: string; created_at: Date; scope: Record<string, unknown>; approved_by: string | null; counts: Record<string, number> | null }>(
    // Who sees everything reads the counts the plan stored; an owner's are counted over the (plan, owner) index.
    `SELECT p.id, p.status::text AS status, p.created_at, p.scope, p.approved_by,
            COALESCE(CASE WHEN $1::text[] IS NULL THEN p.summary->'counts' END,
                     (SELECT jsonb_object_agg(action, n) FROM (SELECT action::text AS action, count(*)::int AS n FROM plan_item i
                         WHERE i.plan_id = p.id AND ($1::text[] IS NULL OR i.owner = ANY($1::text[])) GROUP BY 1) c)) AS counts
       FROM plan p ORDER BY p.id DESC LIMIT 50`,
    [ownerFilter(user)],
  );
  return rows.map((r) => {
    const counts = Object.fromEntries(Object.entries(r.counts ?? {}).filter(([action, n]) => action !== 'unchanged' && n > 0));
    return { id: r.id, status: r.status, createdAt: r.created_at, scope: r.scope, approvedBy: r.approved_by, items: Object.values(counts).reduce((a, b) => a + b, 0), counts };
  });
}

export interface PlanHead {
  id: number;
  status: string;
  createdAt: Date;
  scope: Record<string, unknown>;
  approvedBy: string | null;
  approvedAt: Date | null;
  summary: { byAddressSpace?: { id: number | null; name: string }[] };
}

export async function planHead(db: Sql, planId: number): Promise<PlanHead | null> {
  const [row] = await db.query<{ id: number; status: string; created_at: Date; scope: Record<string, unknown>; approved_by: string | null; approved_at: Date | null; summary: PlanHead['summary'] }>(
    `SELECT id, status::text AS status, created_at, scope, approved_by, approved_at, summary FROM plan WHERE id = $1`,
    [planId],
  );
  return row ? { id: row.id, status: row.status, createdAt: row.created_at, scope: row.scope, approvedBy: row.approved_by, approvedAt: row.approved_at, summary: row.summary } : null;
}

export interface PlanCountsView {
  byAction: Record<string, number>;
  byStatus: Record<string, number>;
  bySpace: { id: number | null; n: number }[];
  byOwner: { owner: string | null; n: number }[];
  total: number;
}

/** The plan's counts over the items the user may see: by action, status, address space and owner (the 50 largest). */
export async function planCounts(db: Sql, user: ConsoleUser, planId: number): Promise<PlanCountsView> {
  const rows = await db.query<{ action: string; status: string; space: string | number | null; owner: string | null; n: number }>(
    `SELECT action::text AS action, status::text AS status, address_space_id AS space, owner, count(*)::int AS n
       FROM plan_item WHERE plan_id = $1 AND ($2::text[] IS NULL OR owner = ANY($2::text[])) GROUP BY 1, 2, 3, 4`,
    [planId, ownerFilter(user)],
  );
  const view: PlanCountsView = { byAction: {}, byStatus: {}, bySpace: [], byOwner: [], total: 0 };
  const spaces = new Map<number | null, number>();
  const owners = new Map<string | null, number>();
  for (const r of rows) {
    view.byAction[r.action] = (view.byAction[r.action] ?? 0) + r.n;
    view.byStatus[r.status] = (view.byStatus[r.status] ?? 0) + r.n;
    const space = r.space === null ? null : Number(r.space);
    spaces.set(space, (spaces.get(space) ?? 0) + r.n);
    owners.set(r.owner, (owners.get(r.owner) ?? 0) + r.n);
    view.total += r.n;
  }
  view.bySpace = [...spaces].map(([id, n]) => ({ id, n })).sort((a, b) => b.n - a.n);
  view.byOwner = [...owners].map(([owner, n]) => ({ owner, n })).sort((a, b) => b.n - a.n).slice(0, 50);
  return view;
}

export interface ItemFilter {
  page: number;
  action?: string | undefined;
  owner?: string | undefined;
  space?: number | undefined;
  status?: string | undefined;
  /** Text in the device name or the reason (case-insensitive). */
  q?: string | undefined;
  sort?: string | undefined;
}

export const itemSorts: Record<string, string> = {
  seq: 'seq',
  device: 'device_name NULLS LAST, seq',
  action: 'action, seq',
  owner: 'owner NULLS LAST, seq',
  status: 'status, seq',
};

export interface ItemListRow {
  seq: number;
  action: PlanAction;
  status: string;
  kics_device_id: number | null;
  device_name: string | null;
  address_space_id: number | null;
  owner: string | null;
  reason: string | null;
  approved_by: string | null;
  decision: ItemDecision | null;
}

/** One page of the items the user may see, filtered and sorted, with the number that match. */
export async function itemsPage(db: Sql, user: ConsoleUser, planId: number, f: ItemFilter): Promise<{ items: ItemListRow[]; total: number }> {
  const where = `plan_id = $1 AND ($2::text[] IS NULL OR owner = ANY($2::text[])) AND ($3::text IS NULL OR action::text = $3) AND ($4::text IS NULL OR owner = $4)
      AND ($5::bigint IS NULL OR address_space_id = $5) AND ($6::text IS NULL OR status::text = $6)
      AND ($7::text IS NULL OR strpos(lower(coalesce(device_name, '')), lower($7)) > 0 OR strpos(lower(coalesce(reason, '')), lower($7)) > 0)`;
  const params = [planId, ownerFilter(user), f.action ?? null, f.owner ?? null, f.space ?? null, f.status ?? null, f.q || null];
  const order = itemSorts[f.sort ?? 'seq'] ?? 'seq';
  const items = await db.query<ItemListRow>(
    `SELECT seq, action::text AS action, status::text AS status, kics_device_id, device_name, address_space_id, owner, reason, approved_by, decision
       FROM plan_item WHERE ${where} ORDER BY ${order} LIMIT ${pageSize} OFFSET $8`,
    [...params, (f.page - 1) * pageSize],
  );
  const [count] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM plan_item WHERE ${where}`, params);
  return { items: items.map((i) => ({ ...i, kics_device_id: i.kics_device_id === null ? null : Number(i.kics_device_id), address_space_id: i.address_space_id === null ? null : Number(i.address_space_id) })), total: count?.n ?? 0 };
}

export interface ItemDetail extends ItemListRow {
  id: number;
  match_keys: unknown[];
  source_keys: { source: string; key: string }[];
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  ops: unknown[] | null;
  request: Record<string, unknown> | null;
  conflict: Conflict | null;
  last_error: string | null;
  approved_at: Date | null;
}

export async function itemDetail(db: Sql, planId: number, seq: number): Promise<ItemDetail | null> {
  const [row] = await db.query<ItemDetail>(
    `SELECT id, seq, action::text AS action, status::text AS status, kics_device_id, device_name, address_space_id, owner, reason, approved_by, approved_at, decision,
            match_keys, source_keys, before, after, ops, request, conflict, last_error
       FROM plan_item WHERE plan_id = $1 AND seq = $2`,
    [planId, seq],
  );
  if (!row) return null;
  return { ...row, id: Number(row.id), kics_device_id: row.kics_device_id === null ? null : Number(row.kics_device_id), address_space_id: row.address_space_id === null ? null : Number(row.address_space_id) };
}

/** The newest runs: everyone's for admins and viewers; an owner's own and those of their owners (`listRuns()`). */
export async function runsFor(db: Sql, user: ConsoleUser, runId?: number): Promise<RunRecord[]> {
  const owners = ownerFilter(user);
  return listRuns(db, { limit: 50, ...(runId === undefined ? {} : { runId }), ...(owners ? { visibleTo: { owners, actor: consoleActor(user) } } : {}) });
}

/** A run as the console's API shows it: the plan it made last, not the host or process it ran in. */
export function runView(run: RunRecord): Record<string, unknown> {
  const { id, trigger, actor, mode, scope, status, counts, error, startedAt, finishedAt } = run;
  return { id, trigger, actor, mode, scope, status, counts, error, startedAt, finishedAt, planId: run.planIds.at(-1) ?? null };
}

/** The owner of a KICS device, as the newest plan item about it names it. */
export async function deviceOwner(db: Sql, deviceId: number): Promise<{ known: boolean; owner: string | null; name: string | null }> {
  const [item] = await db.query<{ owner: string | null; device_name: string | null }>(`SELECT owner, device_name FROM plan_item WHERE kics_device_id = $1 ORDER BY id DESC LIMIT 1`, [deviceId]);
  const [device] = await db.query<{ name: string | null }>(`SELECT raw->>'name' AS name FROM kics_device WHERE id = $1`, [deviceId]);
  return { known: Boolean(item || device), owner: item?.owner ?? null, name: device?.name ?? item?.device_name ?? null };
}

export interface AuditRow {
  id: number;
  at: Date;
  actor: string;
  operation: string;
  outcome: string;
  planId: number | null;
  runId: number | null;
  before: unknown;
  after: unknown;
  request: unknown;
}

/** Who changed what on a device, newest first (at most 200). */
export async function deviceAudit(db: Sql, deviceId: number): Promise<AuditRow[]> {
  const rows = await db.query<{ id: number; at: Date; actor: string; operation: string; outcome: string; plan_id: number | null; run_id: number | null; before: unknown; after: unknown; request: unknown }>(
    `SELECT id, at, actor, operation, outcome, plan_id, run_id, before, after, request FROM audit_record WHERE device_id = $1 ORDER BY at DESC, id DESC LIMIT 200`,
    [deviceId],
  );
  return rows.map((r) => ({ id: Number(r.id), at: r.at, actor: r.actor, operation: r.operation, outcome: r.outcome, planId: r.plan_id, runId: r.run_id, before: r.before, after: r.after, request: r.request }));
}
