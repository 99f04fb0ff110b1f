import type { Writable } from 'node:stream';
import type { Sql } from '../../db/sql.js';
import { eventType, findEventType, severitiesAtLeast, type EngineEventCode, type Severity } from './catalogue.js';

/** A stored engine event. */
export interface EngineEvent {
  id: number;
  typeId: number;
  code: string;
  severity: Severity;
  at: Date;
  runId: number | null;
  message: string | null;
  payload: Record<string, unknown>;
}

export interface EmitOptions {
  runId?: number | null;
  /** Defaults to the type's display name. */
  message?: string;
  at?: Date;
}

/**
 * Stores one engine event. Takes any `Sql`, so a caller records the event in the same transaction
 * as the state change it reports. Values under secret-looking keys never reach the table (events
 * are exported to SIEMs).
 */
export async function emitEvent(db: Sql, type: EngineEventCode | number, payload: Record<string, unknown> = {}, options: EmitOptions = {}): Promise<EngineEvent> {
  const t = eventType(type);
  const clean = redact(payload) as Record<string, unknown>;
  const message = options.message ?? t.name;
  const [row] = await db.query<{ id: number; at: Date }>(
    `INSERT INTO engine_event (type_id, code, severity, at, run_id, message, payload) VALUES ($1, $2, $3, COALESCE($4::timestamptz, now()), $5, $6, $7::jsonb) RETURNING id, at`,
    [t.id, t.code, t.severity, options.at ?? null, options.runId ?? null, message, JSON.stringify(clean)],
  );
  return { id: row!.id, typeId: t.id, code: t.code, severity: t.severity, at: row!.at, runId: options.runId ?? null, message, payload: clean };
}

export interface EventFilter {
  /** Events at or after this instant. */
  since?: Date | undefined;
  until?: Date | undefined;
  /** This severity and the more severe ones. */
  severity?: Severity | undefined;
  /** Type ids or codes. */
  types?: readonly (number | string)[] | undefined;
  runId?: number | undefined;
}

/** The newest events first, at most `limit`. */
export async function listEvents(db: Sql, filter: EventFilter = {}, limit = 100): Promise<EngineEvent[]> {
  const { where, params } = whereClause(filter);
  params.push(limit);
  const rows = await db.query<EventRow>(`SELECT id, type_id, code, severity, at, run_id, message, payload FROM engine_event ${where} ORDER BY at DESC, id DESC LIMIT $${params.length}`, params);
  return rows.map(fromRow);
}

/** How many events match. */
export async function countEvents(db: Sql, filter: EventFilter = {}): Promise<number> {
  const { where, params } = whereClause(filter);
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM engine_event ${where}`, params);
  return row?.n ?? 0;
}

/**
 * Writes the matching events, oldest first, as JSON lines for a SIEM: one object per line with the
 * catalogue's id, code, severity and the payload. Reads in pages by id, so any number of events
 * streams in bounded memory. Returns the count written.
 */
export async function exportEvents(db: Sql, out: Writable, filter: EventFilter = {}, options: { pageSize?: number; limit?: number; site?: string } = {}): Promise<number> {
  const pageSize = options.pageSize ?? 5_000;
  let afterId = 0;
  let written = 0;
  for (;;) {
    const { where, params } = whereClause(filter, afterId);
    const take = options.limit === undefined ? pageSize : Math.min(pageSize, options.limit - written);
    if (take <= 0) break;
    params.push(take);
    const rows = await db.query<EventRow>(`SELECT id, type_id, code, severity, at, run_id, message, payload FROM engine_event ${where} ORDER BY id LIMIT $${params.length}`, params);
    if (rows.length === 0) break;
    const text = rows.map((r) => JSON.stringify(siemRecord(fromRow(r), options.site))).join('\n') + '\n';
    if (!out.write(text)) await new Promise<void>((resolve, reject) => {
      out.once('drain', resolve);
      out.once('error', reject);
    });
    written += rows.length;
    afterId = rows[rows.length - 1]!.id;
    if (rows.length < take) break;
  }
  return written;
}

/** One exported line; `site`: the site it belongs to, so that exports of several sites can be merged. */
export function siemRecord(event: EngineEvent, site?: string): Record<string, unknown> {
  const type = findEventType(event.typeId);
  return {
    product: 'kics-sync',
    ...(site === undefined ? {} : { site }),
    id: event.id,
    at: event.at.toISOString(),
    typeId: event.typeId,
    code: event.code,
    severity: event.severity,
    name: type?.name ?? null,
    message: event.message,
    runId: event.runId,
    payload: event.payload,
  };
}

export interface PurgeResult {
  deleted: number;
  /** Deleted events per type code. */
  byType: Record<string, number>;
}

/**
 * Deletes the events older than their type's storage term, in one statement. Only `engine_event` is
 * touched: audit records are never purged (and the database refuses to delete them anyway).
 * Events of type ids the catalogue does not know (written by a newer version) are kept.
 */
export async function purgeEvents(db: Sql, retention: ReadonlyMap<number, number>, now: Date = new Date()): Promise<PurgeResult> {
  const ids = [...retention.keys()];
  const days = ids.map((id) => retention.get(id)!);
  const rows = await db.query<{ type_id: number; n: number }>(
    `WITH terms AS (SELECT * FROM unnest($1::int[], $2::int[]) AS t(type_id, days)),
          deleted AS (
            DELETE FROM engine_event e USING terms t
             WHERE e.type_id = t.type_id AND e.at < $3::timestamptz - make_interval(days => t.days)
            RETURNING e.type_id)
     SELECT type_id, count(*)::int AS n FROM deleted GROUP BY type_id`,
    [ids, days, now],
  );
  const byType: Record<string, number> = {};
  let deleted = 0;
  for (const row of rows) {
    byType[findEventType(row.type_id)?.code ?? String(row.type_id)] = row.n;
    deleted += row.n;
  }
  return { deleted, byType };
}

interface EventRow {
  id: number;
  type_id: number;
  code: string;
  severity: string;
  at: Date;
  run_id: number | null;
  message: string | null;
  payload: Record<string, unknown>;
}

function fromRow(r: EventRow): EngineEvent {
  return { id: r.id, typeId: r.type_id, code: r.code, severity: r.severity as Severity, at: r.at, runId: r.run_id, message: r.message, payload: r.payload ?? {} };
}

function whereClause(filter: EventFilter, afterId?: number): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown): void => {
    params.push(value);
    conditions.push(sql.replace('?', `$${params.length}`));
  };
  if (afterId !== undefined) add('id > ?', afterId);
  if (filter.since) add('at >= ?', filter.since);
  if (filter.until) add('at < ?', filter.until);
  if (filter.severity) add('severity = ANY(?::text[])', severitiesAtLeast(filter.severity));
  if (filter.types && filter.types.length > 0) add('type_id = ANY(?::int[])', filter.types.map((t) => eventType(t as EngineEventCode).id));
  if (filter.runId !== undefined) add('run_id = ?', filter.runId);
  return { where: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

const secretKey = /pass(word|phrase)?|token|secret|authorization|cookie|private.?key/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 20) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, secretKey.test(k) ? '[redacted]' : redact(v, depth + 1)]));
  }
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}
