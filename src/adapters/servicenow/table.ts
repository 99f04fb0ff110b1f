import type { JsonResponse, RestClient } from '../rest-client.js';
import { SourceError } from '../source-error.js';

/**
 * ServiceNow's Table API (`GET /api/now/table/<table>`), as its documentation ("Table API", REST API
 * reference) defines it: `sysparm_limit` rows at `sysparm_offset`, a `Link` header (first / prev /
 * next / last) and `X-Total-Count`. `sysparm_limit` is applied before row ACLs, so a page the caller
 * may not fully see comes back short without being the last one: paging goes on by the Link header's
 * rel="next" or, without one, by offset up to X-Total-Count, and the offset moves by the limit, not by
 * the rows that came back (the instance counts the rows it hid).
 */

/** A field as the Table API answers it: a string, or `{value, display_value, link?}` with `sysparm_display_value=all`. */
export type FieldValue = string | { value?: unknown; display_value?: unknown; link?: unknown } | null | undefined;
export type TableRow = Record<string, FieldValue>;

/**
 * The longest URL a request is built with. 4,000 bytes is half of the 8 KB that Java servers and
 * reverse proxies allow for a request's line and headers together by default (Tomcat's
 * maxHttpHeaderSize, nginx's large_client_header_buffers): room for the Authorization header and
 * whatever a proxy adds. Lists of sys_ids in `IN` clauses are split to stay under it.
 */
export const maxUrlBytes = 4000;

/** sys_ids that can go into an encoded query unquoted (ServiceNow's are 32 hex digits). */
const plainId = /^[A-Za-z0-9_-]+$/;

/** ServiceNow's error body: `{"error": {"message", "detail"}, "status": "failure"}`. */
export function describeServicenowError(body: unknown): string | undefined {
  const error = (body as { error?: { message?: unknown; detail?: unknown } } | null)?.error;
  if (!error || typeof error !== 'object') return undefined;
  const message = typeof error.message === 'string' ? error.message : undefined;
  const detail = typeof error.detail === 'string' && error.detail !== '' ? error.detail : undefined;
  return [message, detail && `(${detail})`].filter(Boolean).join(' ') || undefined;
}

/** `YYYY-MM-DD HH:mm:ss` in UTC, the form ServiceNow stores and compares date-times in. */
export function servicenowTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

/** The URL of the `rel="next"` entry of a Link header. */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /\brel="?next"?/i.test(match[2]!)) return match[1];
  }
  return undefined;
}

/** One GET of a table: the encoded query (without ORDERBY), the fields, and how values come back. */
export interface TableQuery {
  table: string;
  /** Encoded query clauses, ANDed; empty ones are left out. */
  clauses: readonly (string | undefined)[];
  fields: readonly string[];
  /** `all`: `{value, display_value}` per field; `false`: stored values only. */
  displayValue: 'all' | 'false';
}

export interface TablePage {
  rows: TableRow[];
  /** The query's `X-Total-Count`: rows before ACLs. */
  total: number | undefined;
}

/** The Table API of one instance, for one read: paging, the instance's clock, bounded `IN` lists. */
export class TableReader {
  /** The instance's `Date` at the first answer of this read (the next incremental read starts there). */
  instanceTime: Date | undefined;

  constructor(
    private readonly client: RestClient,
    private readonly source: string,
    private readonly pageSize: number,
    private readonly signal: AbortSignal | undefined,
  ) {}

  private params(q: TableQuery, offset: number): URLSearchParams {
    return new URLSearchParams({
      sysparm_query: [...q.clauses.filter((c): c is string => !!c), 'ORDERBYsys_id'].join('^'),
      sysparm_fields: q.fields.join(','),
      sysparm_display_value: q.displayValue,
      sysparm_exclude_reference_link: 'true',
      sysparm_limit: String(this.pageSize),
      sysparm_offset: String(offset),
    });
  }

  url(q: TableQuery, offset = 0): URL {
    return this.client.url(`api/now/table/${q.table}`, this.params(q, offset));
  }

  /** Every page of a query, to the end (short pages included). */
  async *pages(q: TableQuery): AsyncGenerator<TablePage> {
    let url: URL | null = this.url(q);
    let offset = 0;
    const visited = new Set<string>();
    while (url) {
      if (visited.has(url.toString())) throw new SourceError(`${this.source}: ServiceNow's next link points back to the same page: paging would never end`, { code: 'SOURCE_BAD_RESPONSE' });
      visited.add(url.toString());
      const answer: JsonResponse<unknown> = await this.client.getJson<unknown>(url, this.signal);
      const rows = parseResult(this.source, answer.body, url);
      if (this.instanceTime === undefined) {
        const date = answer.headers.date ? new Date(answer.headers.date) : new Date();
        this.instanceTime = Number.isNaN(date.getTime()) ? new Date() : date;
      }
      const total: number = answer.headers['x-total-count'] === undefined ? Number.NaN : Number(answer.headers['x-total-count']);
      yield { rows, total: Number.isFinite(total) ? total : undefined };
      // The instance counts the rows its ACLs hid: the next page starts a full limit further on.
      offset += this.pageSize;
      const link = answer.headers.link;
      if (link !== undefined) {
        const next = nextLink(link);
        url = next ? this.client.url(rebase(next)) : null;
      } else if (Number.isFinite(total)) url = offset < total ? this.url(q, offset) : null;
      else url = rows.length > 0 ? this.url(q, offset) : null;
    }
  }

  /** Every row of a query, all pages. */
  async all(q: TableQuery): Promise<TableRow[]> {
    const rows: TableRow[] = [];
    for await (const page of this.pages(q)) rows.push(...page.rows);
    return rows;
  }

  /**
   * The queries `<field>IN<ids>` (ANDed to `q`'s clauses) that cover `ids`, each URL at most
   * `maxUrlBytes` long whatever its offset.
   */
  inQueries(q: TableQuery, field: string, ids: Iterable<string>): TableQuery[] {
    const usable = [...new Set(ids)].filter((id) => plainId.test(id));
    if (usable.length === 0) return [];
    // The URL of an empty list at the largest offset a page can have, plus what each id adds (its
    // encoded text and an encoded comma): the ids are plain, so the count is exact.
    const base = this.url({ ...q, clauses: [...q.clauses, `${field}IN`] }, 999_999_999).toString().length;
    const comma = encodeURIComponent(',').length;
    const queries: TableQuery[] = [];
    let chunk: string[] = [];
    let length = base;
    for (const id of usable) {
      const cost = id.length + (chunk.length > 0 ? comma : 0);
      if (chunk.length > 0 && length + cost > maxUrlBytes) {
        queries.push({ ...q, clauses: [...q.clauses, `${field}IN${chunk.join(',')}`] });
        chunk = [];
        length = base;
      }
      length += chunk.length > 0 ? id.length + comma : id.length;
      chunk.push(id);
    }
    if (base + usable[0]!.length > maxUrlBytes) throw new SourceError(`${this.source}: a query on ${q.table} is too long for one request even with one sys_id (${base} bytes before the list)`, { code: 'SOURCE_CONFIG' });
    queries.push({ ...q, clauses: [...q.clauses, `${field}IN${chunk.join(',')}`] });
    return queries;
  }
}

export function parseResult(source: string, body: unknown, url: URL): TableRow[] {
  const result = (body as { result?: unknown } | null)?.result;
  if (!Array.isArray(result) || result.some((r) => r === null || typeof r !== 'object' || Array.isArray(r))) {
    throw new SourceError(`${source}: GET ${url.pathname}: ServiceNow answered something other than {"result": [records]}`, { code: 'SOURCE_BAD_RESPONSE' });
  }
  return result as TableRow[];
}

/** The stored value of a field (a reference's sys_id, a choice's value). */
export function valueOf(v: FieldValue): unknown {
  return v !== null && typeof v === 'object' ? v.value : v;
}

/** The display value of a field (a reference's name, a choice's label), else its value. */
export function displayOf(v: FieldValue): unknown {
  return v !== null && typeof v === 'object' ? (v.display_value ?? v.value) : v;
}

/** A field's stored value as trimmed text, or undefined when empty. */
export function textOf(v: FieldValue): string | undefined {
  const value = valueOf(v);
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

/** A next link's path and query, resolved against the configured instance URL (a proxy in front keeps working). */
function rebase(link: string): string {
  const u = new URL(link, 'http://placeholder');
  return `${u.pathname}${u.search}`;
}
