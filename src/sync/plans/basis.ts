import type { Sql } from '../../db/sql.js';
import type { PlanBasis } from '../../reconcile/plan-schema.js';
import { kicsSourceName } from '../staging/kics/store.js';

/**
 * A plan's basis: the `source.generation` of the KICS snapshot (the source row named `kics`) and of
 * each source it was computed from. Staging bumps a generation only when data changed, so a plan whose
 * basis differs from the current generations was computed from snapshots that have moved on.
 */

export async function currentBasis(db: Sql, sourceNames: readonly string[]): Promise<PlanBasis> {
  const rows = await db.query<{ name: string; generation: number }>(`SELECT name, generation FROM source WHERE name = ANY($1::text[])`, [[kicsSourceName, ...sourceNames]]);
  const byName = new Map(rows.map((r) => [r.name, r.generation]));
  return { kics: byName.get(kicsSourceName) ?? 0, sources: Object.fromEntries(sourceNames.map((n) => [n, byName.get(n) ?? 0])) };
}

/** What moved on since the plan was computed: `kics` and source names, with the generations then and now. */
export async function basisChanges(db: Sql, basis: PlanBasis): Promise<{ name: string; planned: number; current: number }[]> {
  const now = await currentBasis(db, Object.keys(basis.sources));
  const changes: { name: string; planned: number; current: number }[] = [];
  if (now.kics !== basis.kics) changes.push({ name: kicsSourceName, planned: basis.kics, current: now.kics });
  for (const [name, planned] of Object.entries(basis.sources)) {
    const current = now.sources[name] ?? 0;
    if (current !== planned) changes.push({ name, planned, current });
  }
  return changes;
}

/**
 * Marks every draft or approved plan whose basis moved on as expired, in one statement; returns their
 * ids. Plans being applied or already applied keep their status: they record what happened.
 */
export async function expireStalePlans(db: Sql): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    `UPDATE plan p SET status = 'expired', expired_at = now()
      WHERE p.status IN ('draft', 'approved')
        AND (
          COALESCE((p.basis->>'kics')::int, 0) <> COALESCE((SELECT s.generation FROM source s WHERE s.name = $1), 0)
          OR EXISTS (
            SELECT 1 FROM jsonb_each_text(COALESCE(p.basis->'sources', '{}'::jsonb)) AS b(name, generation)
              LEFT JOIN source s ON s.name = b.name
             WHERE COALESCE(s.generation, 0) <> b.generation::int
          )
        )
      RETURNING p.id`,
    [kicsSourceName],
  );
  return rows.map((r) => r.id).sort((a, b) => a - b);
}
