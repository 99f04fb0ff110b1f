import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A small NetBox REST API on loopback, faithful to what the NetBox source uses, per NetBox version
 * (3.7 to 4.6; `version`, else the data's `/api/status/` answer), as NetBox's source at those tags defines it:
 * - gunicorn in front (NetBox's contrib/gunicorn.py keeps limit_request_line at its default): a request
 *   line over 4,094 bytes is 400 before NetBox sees it; every request line's length is recorded;
 * - `Authorization: Token <t>` (or `Bearer nbt_...`); a missing or wrong token is 403 with
 *   `{"detail": ...}` (netbox/netbox/api/authentication.py raises AuthenticationFailed and gives DRF no
 *   `authenticate_header`, so it is 403, not 401);
 * - `/api/status/` (the data's `status`, else `{"netbox-version": version}`);
 * - list pages `{count, next, previous, results}` with `limit` / `offset` (default 50, capped at
 *   MAX_PAGE_SIZE 1000, `limit=0` meaning the maximum) and absolute `next` links built from the
 *   request's Host; `ordering=id`; `brief`; `exclude=config_context`;
 * - filters (django-filter: an unknown query parameter is ignored): devices `id`, `site`, `role`,
 *   `status`, `last_updated__gte`; interfaces `device_id`, `last_updated__gte`; IP addresses `device_id`
 *   (addresses on that device's interfaces only, ipam/filtersets.py `filter_device`), `last_updated__gte`
 *   and `assigned_object_type`: not a filter on 3.7 (ignored), a content-type id only on 4.0 to 4.4.3
 *   (`dcim.interface` is 400 "Select a valid choice", the FK filter django-filter derives from
 *   `Meta.fields`), `app_label.model` from 4.4.4 (`ContentTypeFilter`); MAC addresses (4.2+, else
 *   404) `device_id`, `last_updated__gte`. An unknown site slug is 400 with a field error.
 * - from 4.2, when the data has `macAddresses`, an interface's `mac_address`, `primary_mac_address` and
 *   `mac_addresses` are rendered from those MAC objects (so editing a MAC object changes what the
 *   interface shows without touching the interface's `last_updated`, as in NetBox).
 * Guessed, not taken from NetBox: content-type ids (`contentTypeIds`), the `id` order of unordered lists.
 * Any route can be made to fail on purpose (status, Retry-After, body) for the next N requests.
 */
export type Json = Record<string, unknown>;

export interface NetboxData {
  devices: Json[];
  interfaces: Json[];
  ipAddresses: Json[];
  /** MAC address objects (NetBox 4.2+). */
  macAddresses?: Json[];
  /** The `/api/status/` answer. */
  status?: Json;
  /** Where a recorded fixture came from. */
  _source?: unknown;
  /** Site slugs that exist (for filter validation); default: those of the devices. */
  sites?: string[];
}

export interface NetboxRequest {
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  /** Bytes of the request line (`GET <target> HTTP/1.1`). */
  line: number;
}

export interface Failure {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Only requests whose path starts with this fail; default all. */
  path?: string;
  /** How many requests fail; default 1. */
  times?: number;
  /** Fail only the nth matching request from now (1 = the next); default 1. */
  after?: number;
}

export interface NetboxServer {
  url: string;
  data: NetboxData;
  requests: NetboxRequest[];
  fail(failure: Failure): void;
  close(): Promise<void>;
}

const maxPageSize = 1000;
const defaultPageSize = 50;
/** gunicorn's default limit_request_line. */
const maxRequestLine = 4094;
/** Content-type ids for the 4.0 to 4.4.3 `assigned_object_type` filter (database-specific in NetBox; guessed). */
const contentTypeIds: Record<string, number> = { 'dcim.interface': 9, 'virtualization.vminterface': 64 };

/** (major, minor, patch) of a version text such as `4.4.3` or `4.2.0-beta1`. */
function versionOf(text: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) throw new Error(`not a NetBox version: ${text}`);
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}
const atLeast = (v: [number, number, number], major: number, minor: number, patch = 0): boolean => v[0] !== major ? v[0] > major : v[1] !== minor ? v[1] > minor : v[2] >= patch;

export async function startNetboxServer(options: {
  token: string;
  data: NetboxData;
  /** The NetBox release answered as; default the data's `status`, else 4.6.0. */
  version?: string;
  /** The origin NetBox believes it has (a reverse proxy that does not pass X-Forwarded-Proto makes it http://...). */
  publicOrigin?: string;
  /** Serve HTTPS with this certificate. */
  tls?: { key: string; cert: string };
}): Promise<NetboxServer> {
  const requests: NetboxRequest[] = [];
  const failures: (Failure & { left: number; skip: number })[] = [];
  const data = options.data;
  const versionText = options.version ?? (data.status?.['netbox-version'] as string | undefined) ?? '4.6.0';
  const version = versionOf(versionText);
  const macObjects = atLeast(version, 4, 2);

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(text);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const line = Buffer.byteLength(`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`);
    requests.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization, line });
    if (line > maxRequestLine) {
      res.writeHead(400, { 'content-type': 'text/html' });
      res.end(`<html><head><title>Bad Request</title></head><body><h1><p>Bad Request</p></h1>Request Line is too large (${line} &gt; ${maxRequestLine})</body></html>`);
      return;
    }

    for (const f of failures) {
      if (f.left <= 0 || (f.path && !url.pathname.startsWith(f.path))) continue;
      if (f.skip > 0) {
        f.skip -= 1;
        continue;
      }
      f.left -= 1;
      send(res, f.status, f.body ?? JSON.stringify({ detail: `simulated ${f.status}` }), f.headers);
      return;
    }

    const auth = req.headers.authorization;
    if (!auth) return send(res, 403, { detail: 'Authentication credentials were not provided.' });
    const match = /^(Token|Bearer) (.+)$/.exec(auth);
    if (!match || match[2] !== options.token) return send(res, 403, { detail: 'Invalid token' });
    if (req.method !== 'GET') return send(res, 405, { detail: `Method "${req.method}" not allowed.` });

    const q = url.searchParams;
    const since = q.get('last_updated__gte');
    const sinceMs = since ? Date.parse(since) : null;
    if (since && Number.isNaN(sinceMs)) return send(res, 400, { last_updated__gte: ['Enter a valid date/time.'] });
    const updatedSince = (item: Json): boolean => sinceMs === null || Date.parse(String(item.last_updated)) >= sinceMs;
    const ints = (name: string): Set<number> | null => (q.getAll(name).length > 0 ? new Set(q.getAll(name).map(Number)) : null);

    let items: Json[];
    switch (url.pathname) {
      case '/api/status/':
        return send(res, 200, data.status ?? { 'netbox-version': versionText });
      case '/api/dcim/devices/': {
        const ids = ints('id');
        const sites = q.getAll('site');
        const known = new Set(data.sites ?? data.devices.map((d) => (d.site as Json | undefined)?.slug as string));
        for (const s of sites) if (!known.has(s)) return send(res, 400, { site: [`Select a valid choice. ${s} is not one of the available choices.`] });
        const roles = q.getAll('role');
        const statuses = q.getAll('status');
        items = data.devices.filter(
          (d) =>
            (!ids || ids.has(d.id as number)) &&
            (sites.length === 0 || sites.includes((d.site as Json | undefined)?.slug as string)) &&
            (roles.length === 0 || roles.includes((d.role as Json | undefined)?.slug as string)) &&
            (statuses.length === 0 || statuses.includes((d.status as Json | undefined)?.value as string)) &&
            updatedSince(d),
        );
        if (q.get('brief') === '1' || q.get('brief') === 'true') items = items.map((d) => ({ id: d.id, url: d.url, display: d.display, name: d.name, description: d.description }));
        else if (q.getAll('exclude').includes('config_context')) items = items.map(({ config_context: _omit, ...rest }) => rest);
        break;
      }
      case '/api/dcim/interfaces/': {
        const devices = ints('device_id');
        items = data.interfaces.filter((i) => (!devices || devices.has((i.device as Json).id as number)) && updatedSince(i));
        if (macObjects && data.macAddresses) items = items.map((i) => withMacObjects(i, data.macAddresses!));
        break;
      }
      case '/api/dcim/mac-addresses/': {
        if (!macObjects) return send(res, 404, { detail: 'Not found.' });
        const devices = ints('device_id');
        items = (data.macAddresses ?? []).filter(
          (m) => (!devices || (m.assigned_object_type === 'dcim.interface' && devices.has(((m.assigned_object as Json | null)?.device as Json | undefined)?.id as number))) && updatedSince(m),
        );
        break;
      }
      case '/api/ipam/ip-addresses/': {
        const devices = ints('device_id');
        const types = atLeast(version, 4, 0) ? q.getAll('assigned_object_type') : [];
        if (atLeast(version, 4, 0) && !atLeast(version, 4, 4, 4)) {
          for (const t of types) if (!/^\d+$/.test(t)) return send(res, 400, { assigned_object_type: ['Select a valid choice. That choice is not one of the available choices.'] });
        }
        const typeOf = (a: Json): string => (atLeast(version, 4, 4, 4) ? String(a.assigned_object_type) : String(contentTypeIds[String(a.assigned_object_type)]));
        items = data.ipAddresses.filter(
          (a) =>
            (!devices || (a.assigned_object_type === 'dcim.interface' && devices.has(((a.assigned_object as Json | null)?.device as Json | undefined)?.id as number))) &&
            (types.length === 0 || types.includes(typeOf(a))) &&
            updatedSince(a),
        );
        break;
      }
      default:
        return send(res, 404, { detail: 'Not found.' });
    }
    if (q.get('ordering') === 'id' || q.get('ordering') === null) items = [...items].sort((a, b) => (a.id as number) - (b.id as number));

    const requested = q.get('limit');
    const limit = requested === null ? defaultPageSize : Number(requested) === 0 ? maxPageSize : Math.min(Number(requested), maxPageSize);
    const offset = Number(q.get('offset') ?? 0);
    if (!Number.isInteger(limit) || limit < 0 || !Number.isInteger(offset) || offset < 0) return send(res, 400, { detail: 'Invalid limit or offset.' });
    const page = items.slice(offset, offset + limit);
    const link = (at: number): string => {
      const next = new URL(`${url.pathname}${url.search}`, options.publicOrigin ?? url.origin);
      next.searchParams.set('limit', String(limit));
      next.searchParams.set('offset', String(at));
      return next.toString();
    };
    send(res, 200, {
      count: items.length,
      next: offset + limit < items.length ? link(offset + limit) : null,
      previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
      results: page,
    });
  };

  const server: Server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, handle) : createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    data,
    requests,
    fail(failure) {
      failures.push({ ...failure, left: failure.times ?? 1, skip: (failure.after ?? 1) - 1 });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An interface as NetBox 4.2+ serializes it: its MAC fields from the MAC objects assigned to it. */
function withMacObjects(nic: Json, macs: readonly Json[]): Json {
  const mine = macs.filter((m) => m.assigned_object_type === 'dcim.interface' && (m.assigned_object as Json | null)?.id === nic.id);
  const primaryId = (nic.primary_mac_address as Json | null)?.id;
  const primary = mine.find((m) => m.id === primaryId);
  const brief = (m: Json): Json => ({ id: m.id, url: m.url, display: m.display, mac_address: m.mac_address, description: m.description ?? '' });
  return { ...nic, mac_address: primary?.mac_address ?? null, primary_mac_address: primary ? brief(primary) : null, mac_addresses: mine.map(brief) };
}

// ------------------------------------------------------------------------------------------ data

/** A device as NetBox 4.x returns it from /api/dcim/devices/ (nested objects in their brief form). */
export function netboxDevice(id: number, fields: { name: string | null; role?: string; site?: string; manufacturer?: string; model?: string; tenant?: string; status?: string; tags?: string[]; custom_fields?: Json; last_updated?: string; config_context?: Json }): Json {
  const base = 'http://netbox.example/api';
  const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const site = fields.site ?? 'plant-a';
  return {
    id,
    url: `${base}/dcim/devices/${id}/`,
    display: fields.name ?? `Unnamed device (${id})`,
    name: fields.name,
    device_type: {
      id: 10,
      url: `${base}/dcim/device-types/10/`,
      display: fields.model ?? 'S7-1500',
      manufacturer: { id: 3, url: `${base}/dcim/manufacturers/3/`, display: fields.manufacturer ?? 'Siemens', name: fields.manufacturer ?? 'Siemens', slug: slug(fields.manufacturer ?? 'Siemens') },
      model: fields.model ?? 'S7-1500',
      slug: slug(fields.model ?? 'S7-1500'),
    },
    role: { id: 4, url: `${base}/dcim/device-roles/4/`, display: fields.role ?? 'PLC', name: fields.role ?? 'PLC', slug: slug(fields.role ?? 'PLC') },
    tenant: fields.tenant ? { id: 2, url: `${base}/tenancy/tenants/2/`, display: fields.tenant, name: fields.tenant, slug: slug(fields.tenant) } : null,
    platform: null,
    serial: `SN${id}`,
    asset_tag: null,
    site: { id: 1, url: `${base}/dcim/sites/1/`, display: site, name: site, slug: site },
    location: null,
    rack: null,
    status: { value: fields.status ?? 'active', label: (fields.status ?? 'active').replace(/^./, (c) => c.toUpperCase()) },
    primary_ip: null,
    primary_ip4: null,
    primary_ip6: null,
    description: '',
    comments: '',
    config_context: fields.config_context ?? {},
    local_context_data: null,
    tags: (fields.tags ?? []).map((t, i) => ({ id: 100 + i, url: `${base}/extras/tags/${100 + i}/`, display: t, name: t, slug: slug(t), color: '9e9e9e' })),
    custom_fields: fields.custom_fields ?? {},
    created: '2024-01-10T08:00:00.000000Z',
    last_updated: fields.last_updated ?? '2024-01-10T08:00:00.000000Z',
  };
}

/** An interface as NetBox 4.2+ returns it (`mac_address` read-only, `primary_mac_address` nested). */
export function netboxInterface(id: number, deviceId: number, fields: { name: string; mac?: string | null; vid?: number | null; last_updated?: string }): Json {
  const base = 'http://netbox.example/api';
  return {
    id,
    url: `${base}/dcim/interfaces/${id}/`,
    display: fields.name,
    device: { id: deviceId, url: `${base}/dcim/devices/${deviceId}/`, display: `device ${deviceId}`, name: `device ${deviceId}`, description: '' },
    name: fields.name,
    type: { value: '1000base-t', label: '1000BASE-T (1GE)' },
    enabled: true,
    mac_address: fields.mac ?? null,
    primary_mac_address: fields.mac ? { id, url: `${base}/dcim/mac-addresses/${id}/`, display: fields.mac, mac_address: fields.mac, description: '' } : null,
    mac_addresses: fields.mac ? [{ id, url: `${base}/dcim/mac-addresses/${id}/`, display: fields.mac, mac_address: fields.mac, description: '' }] : [],
    mode: fields.vid ? { value: 'access', label: 'Access' } : null,
    untagged_vlan: fields.vid ? { id: 50 + fields.vid, url: `${base}/ipam/vlans/${fields.vid}/`, display: `VLAN ${fields.vid}`, vid: fields.vid, name: `VLAN ${fields.vid}` } : null,
    vrf: null,
    last_updated: fields.last_updated ?? '2024-01-10T08:00:00.000000Z',
  };
}

/** An IP address assigned to an interface, as /api/ipam/ip-addresses/ returns it. */
export function netboxIpAddress(id: number, nic: Json, fields: { address: string; vrf?: string | null; dns_name?: string; last_updated?: string }): Json {
  const base = 'http://netbox.example/api';
  const device = nic.device as Json;
  return {
    id,
    url: `${base}/ipam/ip-addresses/${id}/`,
    display: fields.address,
    family: { value: fields.address.includes(':') ? 6 : 4, label: fields.address.includes(':') ? 'IPv6' : 'IPv4' },
    address: fields.address,
    vrf: fields.vrf ? { id: 7, url: `${base}/ipam/vrfs/7/`, display: fields.vrf, name: fields.vrf, rd: null } : null,
    tenant: null,
    status: { value: 'active', label: 'Active' },
    role: null,
    assigned_object_type: 'dcim.interface',
    assigned_object_id: nic.id,
    assigned_object: { id: nic.id, url: nic.url, display: nic.name, device: { id: device.id, url: device.url, display: device.display, name: device.name }, name: nic.name },
    dns_name: fields.dns_name ?? '',
    last_updated: fields.last_updated ?? '2024-01-10T08:00:00.000000Z',
  };
}

/** n PLCs, each with one interface (MAC + IP) and a second interface without addresses. */
export function generateNetbox(n: number): NetboxData {
  const devices: Json[] = [];
  const interfaces: Json[] = [];
  const ipAddresses: Json[] = [];
  for (let i = 1; i <= n; i += 1) {
    devices.push(netboxDevice(i, { name: `plc-${i}` }));
    const hex = i.toString(16).padStart(6, '0');
    const nic = netboxInterface(i * 10, i, { name: 'eth0', mac: `00:1B:1B:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`.toUpperCase() });
    interfaces.push(nic, netboxInterface(i * 10 + 1, i, { name: 'eth1' }));
    ipAddresses.push(netboxIpAddress(i, nic, { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/16` }));
  }
  return { devices, interfaces, ipAddresses };
}
