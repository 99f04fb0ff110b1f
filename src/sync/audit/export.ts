import { stringify } from 'csv-stringify/sync';
import type { AuditRecord } from './store.js';
import { printable } from '../../terminal.js';

/**
 * The audit as people read it: JSON lines (one record per line, for scripts and SIEMs), CSV (safe to
 * open in Excel: UTF-8 BOM, and csv-stringify's `escape_formulas` puts a quote before any cell that
 * starts with = + - @ tab or CR, so no value a device or a source supplied can run as a formula, and every
 * cell holding a line break is quoted), and
 * text lines for a terminal. Each renderer turns an async stream of records into text chunks.
 */

export const auditFormats = ['json', 'csv', 'text'] as const;
export type AuditFormat = (typeof auditFormats)[number];

const csvColumns = ['id', 'at', 'actor', 'run_id', 'plan_id', 'plan_item_id', 'device_id', 'operation', 'outcome', 'http_status', 'changes', 'request', 'kics_result', 'before', 'after'];
/** `quoted_match`: csv-stringify leaves a bare LF unquoted when the record delimiter is CRLF. */
const csvOptions = { escape_formulas: true, record_delimiter: 'windows', quoted_match: /[\r\n]/ } as const;

/** `field: before -> after` per field the record changed (or found changed). */
export function changeLines(record: Pick<AuditRecord, 'before' | 'after'>): string[] {
  const fields = new Set([...Object.keys(record.before ?? {}), ...Object.keys(record.after ?? {})]);
  const lines: string[] = [];
  for (const field of fields) {
    const was = record.before?.[field];
    const will = record.after?.[field];
    if (record.after !== null && JSON.stringify(was ?? null) === JSON.stringify(will ?? null)) continue;
    lines.push(record.after === null ? `${field}: ${short(was)}` : `${field}: ${short(was)} -> ${short(will)}`);
  }
  return lines;
}

function short(value: unknown): string {
  const text = value === undefined ? 'null' : JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function json(value: unknown): string {
  return value === null || value === undefined ? '' : JSON.stringify(value);
}

/** `site`: the site the record belongs to (its schema), so that exports of several sites can be merged. */
export function jsonLine(record: AuditRecord, site?: string): string {
  return JSON.stringify({
    ...(site === undefined ? {} : { site }),
    id: record.id,
    at: record.at.toISOString(),
    actor: record.actor,
    runId: record.runId,
    planId: record.planId,
    planItemId: record.planItemId,
    deviceId: record.deviceId,
    operation: record.operation,
    outcome: record.outcome,
    httpStatus: record.httpStatus,
    request: record.request,
    kicsResult: record.kicsResult,
    before: record.before,
    after: record.after,
  });
}

function csvRow(r: AuditRecord): (string | number)[] {
  return [
    r.id,
    r.at.toISOString(),
    r.actor,
    r.runId ?? '',
    r.planId ?? '',
    r.planItemId ?? '',
    r.deviceId ?? '',
    r.operation,
    r.outcome,
    r.httpStatus ?? '',
    changeLines(r).join('\n'),
    json(r.request),
    json(r.kicsResult),
    json(r.before),
    json(r.after),
  ];
}


export function textLine(r: AuditRecord): string {
  const at = r.at.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
  const device = r.deviceId === null ? 'new device' : `device ${r.deviceId}`;
  const status = r.httpStatus === null ? '' : ` (HTTP ${r.httpStatus})`;
  const changes = changeLines(r);
  return printable(`${at}  ${r.actor}  run ${r.runId ?? '-'}  plan ${r.planId ?? '-'}  ${device}  ${r.operation} ${r.outcome}${status}${changes.length ? `  ${changes.join('; ')}` : ''}`);
}

export async function* renderAudit(format: AuditFormat, records: AsyncIterable<AuditRecord>, site?: string): AsyncGenerator<string> {
  if (format === 'csv') yield `\uFEFF${stringify([csvColumns], csvOptions)}`;
  let batch: AuditRecord[] = [];
  const flush = (): string => {
    const text = format === 'csv' ? stringify(batch.map(csvRow), csvOptions) : batch.map((r) => `${format === 'json' ? jsonLine(r, site) : textLine(r)}\n`).join('');
    batch = [];
    return text;
  };
  for await (const record of records) {
    batch.push(record);
    if (batch.length >= 500) yield flush();
  }
  if (batch.length > 0) yield flush();
}
