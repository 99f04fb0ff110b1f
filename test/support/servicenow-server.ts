import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Failure } from './netbox-server.js';

/**
 * A small ServiceNow Table API on loopback, faithful to what the ServiceNow source uses, from ServiceNow's
 * documentation ("Table API", GET /now/table/{tableName}, REST API reference, Australia release:
 * https://www.servicenow.com/docs/r/api-reference/rest-apis/c_TableAPI.html; "REST API HTTP response codes";
 * "Operators available for filters and queries"):
 * `GET /api/now/table/<table>` with basic auth or a bearer token (a missing or wrong one is 401
 * `{"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"}`),
 * an unknown table 400 `Invalid table <name>`, `sysparm_limit` (default 10000) / `sysparm_offset`,
 * `sysparm_fields` (unknown fields ignored), `sysparm_display_value` (false / true / all: `{display_value, value, link}`
 * for references, `{display_value, value}` for the rest), `sysparm_exclude_reference_link`,
 * `sysparm_query` (field=, !=, >, >=, <, <=, IN, ISEMPTY, ISNOTEMPTY joined by ^, ORDERBY / ORDERBYDESC;
 * date-times compared as their `YYYY-MM-DD HH:mm:ss` text; a clause naming a field no record has is
 * ignored, as the documentation says of invalid query parts), the `Link` header (first / prev / next /
 * last; absent on a single page, as users of the API report it) and `X-Total-Count`.
 *
 * Row ACLs (`hidden`): "sysparm_limit ... is applied before ACL evaluation", so the page is cut first and
 * the hidden rows are removed from it afterwards; X-Total-Count and the Link header still count them
 * (a guess: the documentation says the count is a `select count(*)`, which knows nothing of row ACLs).
 * `linkHeader: false` answers without the Link header, as `sysparm_suppress_pagination_header=true` does
 * (and as a proxy that drops the header would). Any request can be made to fail on purpose.
 */

/** A field's stored value and, for references and choices, its display value. */
export type SnField = string | { value: string; display_value: string; table?: string };
export type SnRecord = Record<string, SnField>;

export interface ServicenowRequest {
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  /** The URL as the client built it (origin, path and query), for its length. */
  url: string;
}

export interface ServicenowServer {
  url: string;
  tables: Record<string, SnRecord[]>;
  requests: ServicenowRequest[];
  fail(failure: Failure): void;
  close(): Promise<void>;
}

export interface ServicenowServerOptions {
  user?: string;
  password?: string;
  token?: string;
  tables: Record<string, SnRecord[]>;
  /** Rows a row ACL hides from the integration user. */
  hidden?: (table: string, record: SnRecord) => boolean;
  /** false: no Link header (as with sysparm_suppress_pagination_header=true). */
  linkHeader?: boolean;
}

const failure = (message: string, detail: string | null): unknown => ({ error: { message, detail }, status: 'failure' });

function stored(field: SnField | undefined): string {
  return field === undefined ? '' : typeof field === 'string' ? field : field.value;
}

function matches(record: SnRecord, clause: string, known: Set<string>): boolean {
  const unary = /^([a-z0-9_.]+)(ISEMPTY|ISNOTEMPTY)$/.exec(clause);
  if (unary) {
    if (!known.has(unary[1]!)) return true;
    return (stored(record[unary[1]!]) === '') === (unary[2] === 'ISEMPTY');
  }
  const m = /^([a-z0-9_.]+?)(!=|>=|<=|=|>|<|IN)(.*)$/.exec(clause);
  if (!m || !known.has(m[1]!)) return true; // an invalid part of a query is ignored
  const [, field, op, value] = m as unknown as [string, string, string, string];
  const actual = stored(record[field]);
  switch (op) {
    case 'IN':
      return value.split(',').includes(actual);
    case '=':
      return actual === value;
    case '!=':
      return actual !== value;
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
    case '<':
      return actual < value;
    default:
      return actual <= value;
  }
}

export async function startServicenowServer(options: ServicenowServerOptions): Promise<ServicenowServer> {
  const requests: ServicenowRequest[] = [];
  const failures: (Failure & { left: number; skip: number })[] = [];

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  const authorized = (header: string | undefined): boolean => {
    if (!header) return false;
    if (options.token && header === `Bearer ${options.token}`) return true;
    if (options.user && header.startsWith('Basic ')) {
      const [user, ...rest] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
      return user === options.user && rest.join(':') === options.password;
    }
    return false;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    requests.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization, url: url.toString() });
    for (const f of failures) {
      if (f.left <= 0 || (f.path && !url.pathname.startsWith(f.path))) continue;
      if (f.skip > 0) {
        f.skip -= 1;
        continue;
      }
      f.left -= 1;
      send(res, f.status, f.body ?? failure(`simulated ${f.status}`, null), f.headers);
      return;
    }
    if (!authorized(req.headers.authorization)) return send(res, 401, failure('User Not Authenticated', 'Required to provide Auth information'));
    const route = /^\/api\/now\/(?:v\d+\/)?table\/([a-z0-9_]+)$/.exec(url.pathname);
    if (!route) return send(res, 400, failure('Requested URI does not represent any resource', null));
    const table = options.tables[route[1]!];
    if (!table) return send(res, 400, failure(`Invalid table ${route[1]}`, null));

    const q = url.searchParams;
    const clauses = (q.get('sysparm_query') ?? '').split('^').filter(Boolean);
    const known = new Set(['sys_id', ...table.flatMap((r) => Object.keys(r))]);
    let rows = table.filter((r) => clauses.filter((c) => !c.startsWith('ORDERBY')).every((c) => matches(r, c, known)));
    for (const order of clauses.filter((c) => c.startsWith('ORDERBY')).reverse()) {
      const desc = order.startsWith('ORDERBYDESC');
      const field = order.slice(desc ? 11 : 7);
      rows = [...rows].sort((a, b) => (desc ? -1 : 1) * stored(a[field]).localeCompare(stored(b[field])));
    }
    const limit = Number(q.get('sysparm_limit') ?? 10000);
    const offset = Number(q.get('sysparm_offset') ?? 0);
    const fields = q.get('sysparm_fields')?.split(',').filter(Boolean);
    const display = q.get('sysparm_display_value') ?? 'false';
    const excludeLinks = q.get('sysparm_exclude_reference_link') === 'true';
    const base = `http://${req.headers.host ?? 'localhost'}`;
    const render = (record: SnRecord): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const name of fields ?? Object.keys(record)) {
        const field = record[name];
        if (field === undefined) continue;
        if (typeof field === 'string') out[name] = display === 'all' ? { display_value: field, value: field } : field;
        else {
          const link = field.table && !excludeLinks ? { link: `${base}/api/now/table/${field.table}/${field.value}` } : {};
          if (display === 'all') out[name] = { display_value: field.display_value, value: field.value, ...link };
          else if (display === 'true') out[name] = field.display_value;
          else out[name] = field.table && !excludeLinks ? { value: field.value, ...link } : field.value;
        }
      }
      return out;
    };
    const hidden = options.hidden;
    const page = rows.slice(offset, offset + limit).filter((r) => !hidden?.(route[1]!, r));
    const headers: Record<string, string> = { 'x-total-count': String(rows.length) };
    if (rows.length > limit && options.linkHeader !== false) {
      const at = (o: number): string => {
        const u = new URL(url.pathname, base);
        for (const [k, v] of q) if (k !== 'sysparm_offset') u.searchParams.set(k, v);
        u.searchParams.set('sysparm_offset', String(o));
        return u.toString();
      };
      const links = [`<${at(0)}>;rel="first"`];
      if (offset > 0) links.push(`<${at(Math.max(0, offset - limit))}>;rel="prev"`);
      if (offset + limit < rows.length) links.push(`<${at(offset + limit)}>;rel="next"`);
      links.push(`<${at(Math.floor((rows.length - 1) / limit) * limit)}>;rel="last"`);
      headers.link = links.join(',');
    }
    send(res, 200, { result: page.map(render) }, headers);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tables: options.tables,
    requests,
    fail(f) {
      failures.push({ ...f, left: f.times ?? 1, skip: (f.after ?? 1) - 1 });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A CMDB CI as stored: references (manufacturer, location, owned_by) and choices (install_status) with display values. */
export function snComputer(sysId: string, fields: { name: string; mac?: string; ip?: string; className?: string; manufacturer?: string; model?: string; location?: string; owner?: string; installStatus?: '1' | '7'; updated?: string }): SnRecord {
  const record: SnRecord = {
    sys_id: sysId,
    name: fields.name,
    sys_class_name: { value: fields.className ?? 'cmdb_ci_computer', display_value: fields.className === 'cmdb_ci_ip_switch' ? 'IP Switch' : 'Computer' },
    install_status: { value: fields.installStatus ?? '1', display_value: fields.installStatus === '7' ? 'Retired' : 'Installed' },
    sys_updated_on: fields.updated ?? '2024-03-01 10:00:00',
    short_description: '',
  };
  if (fields.mac !== undefined) record.mac_address = fields.mac;
  if (fields.ip !== undefined) record.ip_address = fields.ip;
  if (fields.manufacturer) record.manufacturer = { value: `mfr${sysId.slice(0, 6)}`, display_value: fields.manufacturer, table: 'core_company' };
  if (fields.model) record.model_id = { value: `mdl${sysId.slice(0, 6)}`, display_value: fields.model, table: 'cmdb_model' };
  if (fields.location) record.location = { value: `loc${sysId.slice(0, 6)}`, display_value: fields.location, table: 'cmn_location' };
  if (fields.owner) record.owned_by = { value: `usr${sysId.slice(0, 6)}`, display_value: fields.owner, table: 'sys_user' };
  return record;
}
