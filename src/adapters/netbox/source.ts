import type { z } from 'zod';
import type { NetboxSourceConfig } from '../../config/sources.js';
import type { Logger } from '../../log.js';
import type { AssetSource, CanonicalAsset, ReadOptions, RecordReject, SourceBatch, SourceRecord } from '../../model/asset.js';
import { cleanText, normalizeInterface, type Normalizer } from '../../model/normalize.js';
import { RestClient } from '../rest-client.js';
import { SourceError } from '../source-error.js';
import {
  describeNetboxError,
  deviceSchema,
  interfaceSchema,
  ipAddressSchema,
  macAddressSchema,
  pageSchema,
  statusSchema,
  type NetboxDevice,
  type NetboxInterface,
  type NetboxIpAddress,
} from './api.js';

/**
 * NetBox devices as an asset source, through its REST API (NetBox 3.7 to 4.6): `/api/status/` first (the
 * version, logged), then devices page by page (`next` links), and for each page of devices their
 * interfaces and IP addresses in bulk (`device_id=` lists, split so that no request line passes 4,000
 * bytes), so a read costs a few paged requests per page of devices, never one per device. Incremental
 * reads take devices, interfaces, IP addresses and (4.2+) MAC address objects changed since the
 * watermark (`last_updated__gte`) and re-read the devices they belong to now and, from what was staged,
 * those that held them before.
 */
export interface NetboxSourceDeps {
  normalizer: Normalizer;
  logger: Logger;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/** Items asked for per interface / IP address page (NetBox's default MAX_PAGE_SIZE). */
const relatedPageSize = 1000;
/**
 * The longest request target sent: gunicorn, as NetBox ships it (contrib/gunicorn.py keeps its default
 * limit_request_line), refuses a request line over 4,094 bytes with 400. The line is `GET <target>
 * HTTP/1.1`, and a `next` link adds `&offset=<n>` to the target: 64 bytes are kept for both, so every
 * request line stays under 4,000 bytes.
 */
const maxTargetBytes = 4000 - 64;

/** A NetBox release as `/api/status/` names it. */
export interface NetboxVersion {
  text: string;
  major: number;
  minor: number;
}

/** MAC addresses are objects of their own (`/api/dcim/mac-addresses/`) from NetBox 4.2. */
function hasMacObjects(v: NetboxVersion): boolean {
  return v.major > 4 || (v.major === 4 && v.minor >= 2);
}

export class NetboxSource implements AssetSource {
  readonly kind = 'netbox' as const;
  readonly incremental = true;
  readonly name: string;

  constructor(
    private readonly config: NetboxSourceConfig,
    private readonly deps: NetboxSourceDeps,
  ) {
    this.name = config.name;
  }

  private client(): RestClient {
    // NetBox 4.5 v2 tokens (nbt_<key>.<token>) go as Bearer; v1 tokens with the Token keyword
    // (netbox/netbox/api/authentication.py: V1_KEYWORD, V2_KEYWORD, TOKEN_PREFIX).
    const scheme = this.config.token.startsWith('nbt_') ? 'Bearer' : 'Token';
    return new RestClient({
      source: this.name,
      system: 'NetBox',
      baseUrl: this.config.url,
      headers: { authorization: `${scheme} ${this.config.token}` },
      timeoutMs: this.config.timeoutMs,
      retries: this.config.retries,
      caFile: this.config.caFile,
      logger: this.deps.logger,
      describeError: describeNetboxError,
      ...(this.deps.minRetryDelayMs === undefined ? {} : { minRetryDelayMs: this.deps.minRetryDelayMs }),
      ...(this.deps.maxRetryDelayMs === undefined ? {} : { maxRetryDelayMs: this.deps.maxRetryDelayMs }),
    });
  }

  async check(signal?: AbortSignal): Promise<void> {
    const client = this.client();
    try {
      await this.version(client, signal);
      const url = client.url('api/dcim/devices/', this.deviceQuery({ limit: '1', brief: '1' }));
      const answer = await client.getJson<unknown>(url, signal);
      parsePage(answer.body, url);
    } finally {
      await client.close();
    }
  }

  /**
   * The release `/api/status/` names, logged once per read. The status view lets any authenticated
   * token in (IsAuthenticatedOrLoginNotRequired), so a 403 here is NetBox refusing the token itself
   * (it answers a missing, unknown, expired or disabled token with 403 `{"detail": ...}`, not 401),
   * while a 403 later means a permission the token lacks.
   */
  private async version(client: RestClient, signal?: AbortSignal): Promise<NetboxVersion> {
    const url = client.url('api/status/');
    let body: unknown;
    try {
      body = (await client.getJson<unknown>(url, signal)).body;
    } catch (error) {
      if (error instanceof SourceError && error.code === 'SOURCE_AUTH_FAILED') {
        const what = error.message.startsWith(`${this.name}: `) ? error.message.slice(this.name.length + 2) : error.message;
        throw new SourceError(`${this.name}: token refused by NetBox: ${what}`, { code: 'SOURCE_AUTH_FAILED', details: error.details, cause: error });
      }
      throw error;
    }
    const status = statusSchema.safeParse(body);
    const match = status.success ? /^(\d+)\.(\d+)/.exec(status.data['netbox-version']) : null;
    if (!status.success || !match) {
      throw new SourceError(`${this.name}: GET ${url.pathname}: expected NetBox's status with "netbox-version" (NetBox 3.7 or later), found ${JSON.stringify(body)?.slice(0, 200)}`, { code: 'SOURCE_BAD_RESPONSE' });
    }
    const version = { text: status.data['netbox-version'], major: Number(match[1]), minor: Number(match[2]) };
    this.deps.logger.info({ source: this.name, netboxVersion: version.text }, `NetBox ${version.text}`);
    return version;
  }

  async *read(options: ReadOptions): AsyncIterable<SourceBatch> {
    const client = this.client();
    const { signal } = options;
    try {
      const version = await this.version(client, signal);
      if (options.mode === 'incremental' && options.since) {
        yield* this.readChanged(client, version, options, options.since);
        return;
      }
      let watermark: string | undefined;
      for await (const page of this.pages(client, client.url('api/dcim/devices/', this.deviceQuery({ limit: String(this.config.pageSize), ordering: 'id', exclude: 'config_context' })), deviceSchema, signal)) {
        watermark ??= page.serverTime;
        yield { ...(await this.devicesToBatch(client, page.items, signal)), watermark, expected: page.count };
      }
    } finally {
      await client.close();
    }
  }

  /**
   * Devices changed since `since`, or whose interfaces, IP addresses or MAC objects changed. Moving an IP
   * address (or a MAC object) to another interface saves only that address: its new holder is in the
   * answer, its old one only in what the last read staged (`options.stagedKeys`, looked up by the
   * address's id in the staged raw devices), and both are read again.
   */
  private async *readChanged(client: RestClient, version: NetboxVersion, options: ReadOptions, since: string): AsyncIterable<SourceBatch> {
    const { signal } = options;
    const changed = new Set<number>();
    let watermark: string | undefined;
    const sinceQuery = { last_updated__gte: since, limit: String(relatedPageSize) };
    for await (const page of this.pages(client, client.url('api/dcim/devices/', this.deviceQuery({ ...sinceQuery, brief: '1' })), deviceSchema, signal)) {
      watermark ??= page.serverTime;
      for (const d of page.items) changed.add(d.id);
    }
    for await (const page of this.pages(client, client.url('api/dcim/interfaces/', new URLSearchParams(sinceQuery)), interfaceSchema, signal)) {
      for (const i of page.items) changed.add(i.device.id);
    }
    // No assigned_object_type filter: NetBox 4.0 to 4.4.3 refuse `dcim.interface` there (400), 3.7 ignores
    // it. An address no longer on a device interface still counts, for the device that held it.
    const movedIps: number[] = [];
    for await (const page of this.pages(client, client.url('api/ipam/ip-addresses/', new URLSearchParams(sinceQuery)), ipAddressSchema, signal)) {
      for (const ip of page.items) {
        movedIps.push(ip.id);
        if (ip.assigned_object_type === 'dcim.interface' && ip.assigned_object?.device) changed.add(ip.assigned_object.device.id);
      }
    }
    const movedMacs: number[] = [];
    if (hasMacObjects(version)) {
      for await (const page of this.pages(client, client.url('api/dcim/mac-addresses/', new URLSearchParams(sinceQuery)), macAddressSchema, signal)) {
        for (const mac of page.items) {
          movedMacs.push(mac.id);
          if (mac.assigned_object_type === 'dcim.interface' && mac.assigned_object?.device) changed.add(mac.assigned_object.device.id);
        }
      }
    }
    if (options.stagedKeys) {
      // The paths of `raw` as toRecord() writes it.
      const held = [...(await options.stagedKeys('$.interfaces[*].ips[*].id', movedIps)), ...(await options.stagedKeys('$.interfaces[*].macs[*].id', movedMacs))];
      for (const key of held) if (/^\d+$/.test(key)) changed.add(Number(key));
    }
    const ids = [...changed].sort((a, b) => a - b);
    if (ids.length === 0) {
      yield { records: [], rejects: [], ...(watermark ? { watermark } : {}), expected: 0 };
      return;
    }
    for (const url of this.idChunks(client, 'api/dcim/devices/', this.deviceQuery({ limit: String(relatedPageSize), ordering: 'id', exclude: 'config_context' }), 'id', ids)) {
      const devices: NetboxDevice[] = [];
      for await (const page of this.pages(client, url, deviceSchema, signal)) devices.push(...page.items);
      yield { ...(await this.devicesToBatch(client, devices, signal)), ...(watermark ? { watermark } : {}), expected: ids.length };
    }
  }

  /** The URLs that ask for `ids` as repeated `name=` parameters, as few as keep each target under maxTargetBytes. */
  private idChunks(client: RestClient, path: string, base: URLSearchParams, name: string, ids: readonly number[]): URL[] {
    const urls: URL[] = [];
    let query = new URLSearchParams(base);
    let count = 0;
    const first = client.url(path, query);
    let bytes = first.pathname.length + first.search.length + 1;
    for (const id of ids) {
      const more = name.length + String(id).length + 2;
      if (count > 0 && bytes + more > maxTargetBytes) {
        urls.push(client.url(path, query));
        query = new URLSearchParams(base);
        bytes = first.pathname.length + first.search.length + 1;
        count = 0;
      }
      query.append(name, String(id));
      bytes += more;
      count += 1;
    }
    if (count > 0) urls.push(client.url(path, query));
    return urls;
  }

  private deviceQuery(extra: Record<string, string>): URLSearchParams {
    const query = new URLSearchParams(extra);
    for (const [key, value] of Object.entries(this.config.filters)) for (const v of Array.isArray(value) ? value : [value]) query.append(key, v);
    return query;
  }

  /** Pages of a list endpoint, following `next` on the configured origin only (a proxy may rewrite it to http://). */
  private async *pages<S extends z.ZodType>(client: RestClient, first: URL, schema: S, signal?: AbortSignal): AsyncGenerator<{ items: z.infer<S>[]; count: number; serverTime: string }> {
    let url: URL | null = first;
    const visited = new Set<string>();
    while (url) {
      if (visited.has(url.toString())) throw new SourceError(`${this.name}: NetBox's next link points back to ${url.pathname}${url.search}: paging would never end`, { code: 'SOURCE_BAD_RESPONSE' });
      visited.add(url.toString());
      const answer = await client.getJson<unknown>(url, signal);
      const page = parsePage(answer.body, url);
      const items = page.results.map((item, i) => {
        const parsed = schema.safeParse(item);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new SourceError(`${this.name}: GET ${url!.pathname}: item ${i} is not what NetBox returns (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'})`, { code: 'SOURCE_BAD_RESPONSE' });
        }
        return parsed.data;
      });
      const date = answer.headers.date ? new Date(answer.headers.date) : new Date();
      yield { items, count: page.count, serverTime: (Number.isNaN(date.getTime()) ? new Date() : date).toISOString() };
      url = page.next ? client.url(rebase(page.next)) : null;
    }
  }

  /** Interfaces or IP addresses of these devices (`device_id=` on every version from 3.7), in as many requests as the URL length asks. */
  private async related<S extends z.ZodType>(client: RestClient, path: string, ids: readonly number[], schema: S, signal?: AbortSignal): Promise<z.infer<S>[]> {
    const out: z.infer<S>[] = [];
    for (const url of this.idChunks(client, path, new URLSearchParams({ limit: String(relatedPageSize) }), 'device_id', ids)) {
      for await (const page of this.pages(client, url, schema, signal)) out.push(...page.items);
    }
    return out;
  }

  private async devicesToBatch(client: RestClient, devices: readonly NetboxDevice[], signal?: AbortSignal): Promise<{ records: SourceRecord[]; rejects: RecordReject[] }> {
    const records: SourceRecord[] = [];
    const rejects: RecordReject[] = [];
    if (devices.length === 0) return { records, rejects };
    const ids = devices.map((d) => d.id);
    // IP addresses by `device_id` alone: that filter (ipam/filtersets.py `filter_device`) matches only
    // addresses on device interfaces on every version, while `assigned_object_type=dcim.interface` is
    // refused (400) by NetBox 4.0 to 4.4.3 and ignored by 3.7.
    const [interfaces, addresses] = await Promise.all([
      this.related(client, 'api/dcim/interfaces/', ids, interfaceSchema, signal),
      this.related(client, 'api/ipam/ip-addresses/', ids, ipAddressSchema, signal),
    ]);
    const interfacesByDevice = groupBy(interfaces, (i) => i.device.id);
    const addressesByInterface = groupBy(
      addresses.filter((a) => a.assigned_object_type === 'dcim.interface' && a.assigned_object_id !== null && a.assigned_object_id !== undefined),
      (a) => a.assigned_object_id!,
    );
    for (const device of devices) {
      const outcome = this.toRecord(device, interfacesByDevice.get(device.id) ?? [], addressesByInterface);
      if ('reject' in outcome) rejects.push(outcome.reject);
      else records.push(outcome.record);
    }
    return { records, rejects };
  }

  private spaceFor(vrf: string | null | undefined, site: string | null | undefined): number | string | undefined {
    const map = this.config.addressSpaces;
    if (vrf && map[vrf] !== undefined) return map[vrf];
    if (site && map[site] !== undefined) return map[site];
    return undefined;
  }

  private toRecord(device: NetboxDevice, interfaces: readonly NetboxInterface[], addressesByInterface: Map<number, NetboxIpAddress[]>): { record: SourceRecord } | { reject: RecordReject } {
    const { normalizer } = this.deps;
    const location = `netbox device ${device.id}${device.name ? ` (${device.name})` : ''}`;
    const notes: string[] = [];
    const errors: string[] = [];
    const asset: CanonicalAsset = { interfaces: [] };
    const set = <K extends keyof CanonicalAsset>(key: K, value: unknown): void => {
      const text = cleanText(value);
      if (text !== undefined) asset[key] = text as CanonicalAsset[K];
    };
    set('name', device.name);
    set('description', device.description);
    set('hardwareModel', device.device_type?.model);
    set('os', device.platform?.name);
    set('owner', device.tenant?.name);
    const vendor = cleanText(device.device_type?.manufacturer?.name);
    if (vendor) asset.hardwareVendor = normalizer.vendor(vendor);
    const site = device.site?.name ?? undefined;
    const place = [site, device.location?.name].filter(Boolean).join(' / ');
    if (place) asset.location = place;
    const role = device.role ?? device.device_role;
    if (role && (role.slug || role.name)) {
      const bySlug = role.slug ? normalizer.category(role.slug) : null;
      const mapped = bySlug?.ok ? bySlug : role.name ? normalizer.category(role.name) : bySlug;
      if (mapped?.ok) asset.category = mapped.value;
      else if (mapped) notes.push(`role ${JSON.stringify(role.name ?? role.slug)}: ${mapped.reason}; category left unset`);
    }
    const tags = (device.tags ?? []).map((t) => cleanText(t.name ?? t.slug)).filter((t): t is string => t !== undefined);
    if (tags.length > 0) asset.labels = tags;
    const status = device.status?.value;
    if (status) asset.retired = this.config.retiredStatuses.includes(status);
    const custom = device.custom_fields ?? {};
    const attributes: Record<string, string> = {};
    for (const [field, attribute] of Object.entries(this.config.customFields)) {
      const value = customFieldText(custom[field]);
      if (value !== undefined) attributes[attribute] = value;
    }
    if (Object.keys(attributes).length > 0) asset.userAttributes = attributes;
    if (this.config.criticalityField) {
      const value = customFieldText(custom[this.config.criticalityField]);
      if (value !== undefined) {
        const mapped = normalizer.influence(value);
        if (mapped.ok) asset.influence = mapped.value;
        else errors.push(`custom field ${this.config.criticalityField}: ${mapped.reason}`);
      }
    }

    const siteSlug = device.site?.slug ?? undefined;
    const interfaceRaw: Record<string, unknown>[] = [];
    for (const nic of [...interfaces].sort((a, b) => a.id - b.id)) {
      const macs = macsOf(nic);
      const mac = macs[0]?.mac ?? null;
      const ips = addressesByInterface.get(nic.id) ?? [];
      interfaceRaw.push({
        id: nic.id,
        name: nic.name,
        mac,
        ...(nic.mac_addresses ? { macs: macs.map((m) => ({ id: m.id, mac: m.mac })) } : {}),
        vlan: nic.untagged_vlan?.vid ?? null,
        ips: ips.map((ip) => ({ id: ip.id, address: ip.address, vrf: ip.vrf?.name ?? null, dns_name: ip.dns_name || null })),
      });
      // IPs of one interface in VRFs bound to different address spaces become one KICS interface per space.
      const bySpace = new Map<string, { space: number | string | undefined; ips: string[] }>();
      for (const ip of ips) {
        const space = this.spaceFor(ip.vrf?.name ?? nic.vrf?.name, siteSlug);
        const key = space === undefined ? '' : String(space);
        const group = bySpace.get(key) ?? { space, ips: [] };
        group.ips.push(ip.address);
        bySpace.set(key, group);
        if (!asset.networkName && ip.dns_name) asset.networkName = ip.dns_name;
      }
      if (bySpace.size === 0) bySpace.set('', { space: this.spaceFor(nic.vrf?.name, siteSlug), ips: [] });
      let first = true;
      for (const group of bySpace.values()) {
        const result = normalizeInterface({ name: nic.name, mac: first ? mac : null, ips: group.ips, vlan: nic.untagged_vlan?.vid ?? null, addressSpace: group.space });
        first = false;
        for (const e of result.errors) errors.push(`interface ${nic.name ?? nic.id} ${e.field}: ${e.reason}`);
        notes.push(...result.notes.map((n) => `interface ${nic.name ?? nic.id}: ${n}`));
        if (result.interface) asset.interfaces.push(result.interface);
      }
      // A KICS interface has one MAC: the interface's other MAC objects become interfaces of their own.
      for (const other of macs.slice(1)) {
        const result = normalizeInterface({ name: nic.name, mac: other.mac, ips: [], vlan: nic.untagged_vlan?.vid ?? null, addressSpace: this.spaceFor(nic.vrf?.name, siteSlug) });
        for (const e of result.errors) errors.push(`interface ${nic.name ?? nic.id} ${e.field}: ${e.reason}`);
        notes.push(...result.notes.map((n) => `interface ${nic.name ?? nic.id}: ${n}`));
        if (result.interface) asset.interfaces.push(result.interface);
      }
    }

    const raw = {
      id: device.id,
      name: device.name ?? null,
      role: role?.slug ?? role?.name ?? null,
      device_type: device.device_type?.model ?? null,
      manufacturer: device.device_type?.manufacturer?.name ?? null,
      platform: device.platform?.name ?? null,
      tenant: device.tenant?.name ?? null,
      site: device.site?.slug ?? null,
      location: device.location?.name ?? null,
      status: status ?? null,
      serial: device.serial || null,
      asset_tag: device.asset_tag ?? null,
      tags: tags,
      custom_fields: custom,
      last_updated: device.last_updated ?? null,
      interfaces: interfaceRaw,
    };
    if (errors.length > 0) return { reject: { location, reason: errors.join('; '), raw } };
    if (asset.name === undefined && asset.interfaces.length === 0) return { reject: { location, reason: 'missing identity: no name and no interface with a MAC or IP', raw } };
    const record: SourceRecord = { externalKey: String(device.id), raw, asset, location };
    if (notes.length > 0) record.notes = notes;
    return { record };
  }
}

function parsePage(body: unknown, url: URL): z.infer<typeof pageSchema> {
  const page = pageSchema.safeParse(body);
  if (!page.success) throw new SourceError(`GET ${url.pathname}: NetBox answered something other than a list page ({count, next, results})`, { code: 'SOURCE_BAD_RESPONSE' });
  return page.data;
}

/** The path and query of a link, to be resolved against the configured base URL's origin. */
function rebase(link: string): string {
  const u = new URL(link, 'http://placeholder');
  return `${u.pathname}${u.search}`;
}

/**
 * Every MAC of an interface, the primary first: from 4.2 its MAC objects (`mac_addresses`; `mac_address`
 * is then only the primary one, null when none is designated), before 4.2 its `mac_address`.
 */
function macsOf(nic: NetboxInterface): { id: number | null; mac: string }[] {
  if (nic.mac_addresses) {
    const primary = nic.primary_mac_address?.id;
    return nic.mac_addresses
      .filter((m): m is typeof m & { mac_address: string } => typeof m.mac_address === 'string' && m.mac_address !== '')
      .sort((a, b) => (a.id === primary ? -1 : b.id === primary ? 1 : a.id - b.id))
      .map((m) => ({ id: m.id, mac: m.mac_address }));
  }
  return nic.mac_address ? [{ id: null, mac: nic.mac_address }] : [];
}

function groupBy<T>(items: readonly T[], key: (item: T) => number): Map<number, T[]> {
  const map = new Map<number, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

/** A custom field's value as text: selections and objects by their label / name, lists joined. */
function customFieldText(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    const parts = value.map(customFieldText).filter((v): v is string => v !== undefined);
    return parts.length > 0 ? parts.join(', ') : undefined;
  }
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return cleanText(o.label ?? o.name ?? o.display ?? o.value);
  }
  return cleanText(value);
}
