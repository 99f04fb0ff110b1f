import type { Sql } from '../../db/sql.js';
import type { PlanInputs } from '../../reconcile/plan-schema.js';
import { cleanedText, fallbackText } from '../staging/kics/stage.js';
import { kicsSourceName } from '../staging/kics/store.js';
import type { RefreshResult } from './run.js';

/**
 * What a plan was computed from, as a reader of its report needs it: when KICS and each source were
 * last read, whether this plan re-read them or used the stored data (and why), and how many records
 * each source's last read rejected, with the file that lists them.
 */
export async function planInputs(db: Sql, sources: readonly { name: string; rejectsFile: string }[], refresh: RefreshResult | null): Promise<PlanInputs> {
  const sourceNames = sources.map((s) => s.name);
  const rows = await db.query<{ name: string; read_at: Date | null; rejected: number }>(
    `SELECT s.name, s.last_success_at AS read_at,
            (SELECT count(*)::int FROM source_reject r WHERE r.source_id = s.id) AS rejected
       FROM source s WHERE s.name = ANY($1::text[])`,
    [[kicsSourceName, ...sourceNames]],
  );
  const byName = new Map(rows.map((r) => [r.name, r]));
  const readAt = (name: string): string | null => byName.get(name)?.read_at?.toISOString() ?? null;
  const cleaned = refresh?.kics.cleaned ? cleanedText(refresh.kics.cleaned) : null;
  const notes = [...(cleaned === null ? [] : [cleaned]), ...(refresh?.kics.filterFallback ? [fallbackText(refresh.kics.filterFallback)] : [])];
  const outcomes = new Map(refresh?.sources.map((o) => [o.source, o]) ?? []);
  return {
    // KICS is re-read only when a plan is given the means (a `kics` section): not re-read without a failure is null.
    kics: {
      readAt: readAt(kicsSourceName),
      refreshed: refresh?.kics.error ? false : refresh?.kics.refreshed ? true : null,
      error: refresh?.kics.error?.message ?? null,
      ...(notes.length === 0 ? {} : { notes }),
    },
    sources: sources.map(({ name, rejectsFile }) => {
      const outcome = outcomes.get(name);
      const row = byName.get(name);
      return {
        name,
        readAt: readAt(name),
        refreshed: outcome ? outcome.ok : null,
        error: outcome && !outcome.ok ? outcome.error.message : null,
        rejected: row?.rejected ?? 0,
        rejectsFile: row && row.rejected > 0 ? rejectsFile : null,
      };
    }),
  };
}
