import { createHash } from 'node:crypto';
import type { Config } from '../../config/index.js';
import type { Database } from '../../db/database.js';
import type { Sql } from '../../db/sql.js';
import { packageVersion } from '../../paths.js';
import type { PlanBasis, PlanItem, PlanScope, PlanValue } from '../../reconcile/plan-schema.js';
import { currentBasis } from './basis.js';
import { decisionsInForce } from '../decisions/store.js';
import { checkConfigFiles } from './config-files.js';
import { loadPlanHeader, loadPlanItems } from './load.js';

/**
 * Planning again from the same inputs gives the same plan: the reconciler is a pure function of the
 * staged rows (which the basis, the generations, stands for), the configuration, the scope, the last
 * industrial configuration uploads, the configuration files' contents, the owners' decisions in force and, for sources with
 * `staleAfterDays`, the clock. So `runPlan()` first hashes all of that except the staged rows; when a
 * stored plan has the same hash (and so the same basis), its items are copied into the new plan inside
 * the database instead of loading 200,000 rows and reconciling them again. The new plan is a plan like
 * any other (its own id, time, draft status, report); only the work is saved. A source with
 * `staleAfterDays` whose window has run out always takes the full path (what is stale depends on the
 * time), and so does `plan --full`.
 */

export interface PlanInputsOptions {
  config: Config;
  sources: readonly { name: string; staleAfterDays?: number | undefined }[];
  scope: PlanScope;
  now: Date;
}

const dayMs = 86_400_000;

/** The hash of the plan's inputs besides the staged rows (and the basis it covers), or null when the clock decides what is stale. */
export async function planInputsHash(tx: Sql, options: PlanInputsOptions): Promise<{ hash: string; basis: PlanBasis } | null> {
  const { config, sources, scope, now } = options;
  const names = sources.map((s) => s.name);
  const confirmed = new Map(
    (await tx.query<{ name: string; last_success_at: Date | null }>(`SELECT name, last_success_at FROM source WHERE name = ANY($1::text[])`, [names])).map((r) => [r.name, r.last_success_at]),
  );
  for (const source of sources) {
    if (source.staleAfterDays === undefined) continue;
    const at = confirmed.get(source.name);
    if (!at || now.getTime() - at.getTime() > source.staleAfterDays * dayMs) return null;
  }
  const basis = await currentBasis(tx, names);
  const [uploads] = await tx.query<{ count: number; last: number | null }>(`SELECT count(*)::int AS count, max(id) AS last FROM industrial_config_upload`);
  const paths = await tx.query<{ path: string }>(
    `SELECT DISTINCT r.normalized->>'industrialConfig' AS path
       FROM source_record r JOIN source s ON s.id = r.source_id
      WHERE r.missing_since IS NULL AND s.name = ANY($1::text[]) AND r.normalized->>'industrialConfig' IS NOT NULL
      ORDER BY 1`,
    [names],
  );
  const files = await checkConfigFiles(
    paths.map((p) => p.path),
    config.reconcile.industrialConfig.root,
  );
  const decisions = await decisionsInForce(tx, now);
  const hash = createHash('sha256')
    .update(JSON.stringify({ version: packageVersion, reconcile: config.reconcile, sources, scope, basis, uploads, files: [...files.entries()], decisions }))
    .digest('hex');
  return { hash, basis };
}

/**
 * Copies the newest plan computed from these inputs into a new draft plan (items as they were planned,
 * before any apply); returns it, or null when there is none.
 */
export async function copyPlanWithInputs(db: Database, inputsHash: string, options: { runId: number | null; now: Date }): Promise<PlanValue | null> {
  const id = await db.transaction(async (tx) => {
    const [template] = await tx.query<{ id: number }>(`SELECT id FROM plan WHERE inputs_hash = $1 ORDER BY id DESC LIMIT 1`, [inputsHash]);
    if (!template) return null;
    const [row] = await tx.query<{ id: number }>(
      `INSERT INTO plan (run_id, status, scope, options, basis, summary, inputs_hash, created_at)
       SELECT $2, 'draft', scope, options, basis, summary, inputs_hash, $3 FROM plan WHERE id = $1
       RETURNING id`,
      [template.id, options.runId, options.now],
    );
    await tx.execute(
      `INSERT INTO plan_item (plan_id, seq, action, status, kics_device_id, device_name, address_space_id, owner, match_keys, source_keys, before, after, ops, request, reason, conflict, decision)
       SELECT $2, seq, action, CASE WHEN status IN ('not_applicable', 'held') THEN status ELSE 'pending' END, kics_device_id, device_name, address_space_id, owner, match_keys, source_keys, before, after, ops, request, reason, conflict, decision
         FROM plan_item WHERE plan_id = $1`,
      [template.id, row!.id],
    );
    return row!.id;
  });
  if (id === null) return null;
  const header = await loadPlanHeader(db, id);
  const items: PlanItem[] = [];
  for await (const item of loadPlanItems(db, id)) items.push(item);
  return { header, items };
}
