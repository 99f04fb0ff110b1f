import { ident, type CopySource, type Sql } from './sql.js';

export type BulkType = 'text' | 'int4' | 'int8' | 'float8' | 'bool' | 'jsonb' | 'timestamptz';

export interface BulkColumn {
  name: string;
  type: BulkType;
}

export interface BulkUpsertSpec {
  /** Target table; it must have a unique index on `key`. */
  table: string;
  /** The columns each row supplies, in row order. */
  columns: readonly BulkColumn[];
  /** The conflict target: the columns of a unique index. Keys must be unique within one load. */
  key: readonly string[];
  /** Columns copied over when an existing row changed; default: every supplied non-key column. */
  update?: readonly string[];
  /** A row has changed when any of these differ; default ["content_hash"]. Unchanged rows are not written. */
  compare?: readonly string[];
  /** Extra assignments on insert-or-change, as trusted SQL expressions, e.g. { last_seen: 'now()' }. */
  touch?: Readonly<Record<string, string>>;
  /** Also rewrite an existing row when this trusted SQL predicate on `t` holds, e.g. "t.missing_since IS NOT NULL". */
  alsoWhen?: string;
}

export interface BulkUpsertResult {
  inserted: number;
  updated: number;
  unchanged: number;
  /** The temporary table holding this load's rows, usable until the transaction ends (e.g. to mark what is missing). */
  stagedTable: string;
}

let stageCounter = 0;

/**
 * Upserts many rows in one round of COPY + one INSERT ... ON CONFLICT, inside the caller's
 * transaction: rows are streamed into a temporary table, then merged. Rows whose compared columns
 * are unchanged cost no write at all, which is what makes a no-change re-read cheap.
 */
export async function bulkUpsert(tx: Sql, spec: BulkUpsertSpec, rows: CopySource): Promise<BulkUpsertResult> {
  const table = ident(spec.table);
  const names = spec.columns.map((c) => c.name);
  const keySet = new Set(spec.key);
  for (const k of spec.key) if (!names.includes(k)) throw new Error(`bulkUpsert(${spec.table}): key column ${k} is not among the columns`);
  const compare = spec.compare ?? ['content_hash'];
  const update = spec.update ?? names.filter((n) => !keySet.has(n));

  stageCounter += 1;
  const staged = `_stage_${spec.table}_${stageCounter}`;
  await tx.exec(`CREATE TEMP TABLE ${ident(staged)} (${spec.columns.map((c) => `${ident(c.name)} ${c.type}`).join(', ')}) ON COMMIT DROP`);
  const count = await tx.copyFrom(staged, names, rows);

  const cols = names.map(ident).join(', ');
  const touch = Object.entries(spec.touch ?? {});
  const insertCols = [...names.map(ident), ...touch.map(([c]) => ident(c))].join(', ');
  const insertVals = [...names.map(ident), ...touch.map(([, expr]) => expr)].join(', ');
  const assignments = [...update.map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`), ...touch.map(([c, expr]) => `${ident(c)} = ${expr}`)];
  const changed = compare.map((c) => `t.${ident(c)} IS DISTINCT FROM EXCLUDED.${ident(c)}`);
  if (spec.alsoWhen) changed.push(`(${spec.alsoWhen})`);
  const conflict = assignments.length > 0 ? `DO UPDATE SET ${assignments.join(', ')} WHERE ${changed.join(' OR ')}` : 'DO NOTHING';

  const [result] = await tx.query<{ inserted: number; updated: number }>(
    `WITH merged AS (
       INSERT INTO ${table} AS t (${insertCols})
       SELECT ${insertVals} FROM (SELECT ${cols} FROM ${ident(staged)}) AS s
       ON CONFLICT (${spec.key.map(ident).join(', ')}) ${conflict}
       RETURNING (xmax = 0) AS inserted
     )
     SELECT count(*) FILTER (WHERE inserted)::int4 AS inserted, count(*) FILTER (WHERE NOT inserted)::int4 AS updated FROM merged`,
  );
  const inserted = result?.inserted ?? 0;
  const updated = result?.updated ?? 0;
  return { inserted, updated, unchanged: count - inserted - updated, stagedTable: staged };
}
