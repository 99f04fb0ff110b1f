import type { z } from 'zod';
import type { NetboxSourceConfig } from '../../config/sources.js';
import type { Logger } from '../../log.js';
import type { AssetSource, CanonicalAsset, ReadOptions, RecordReject, SourceBatch, SourceRecord } from '../../model/asset.js';
import { cleanText, normalizeInterface, type Normalizer } from '../../model/normalize.js';
import { RestClient } from '../rest-client.js';
import { SourceError } from '../source-error.js';
import { describeNetboxError, deviceSchema, interfaceSchema, ipAddressSchema, pageSchema, type NetboxDevice, type NetboxInterface, type NetboxIpAddress } from './api.js';

/**
 * NetBox devices as an asset source, through its REST API: devices page by page (`next` links), and
 * for each page of devices their interfaces and IP addresses in bulk (`device_id=` lists, paged), so a
 * read costs three paged requests per page of devices, never one per device. Incremental reads take
 * devices, interfaces and IP addresses changed since the watermark (`last_updated__gte`) and re-read
 * the devices they belong to.
 */
export interface NetboxSourceDeps {
  normalizer: Normalizer;
  logger: Logger;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/** Items asked for per interface / IP address page (NetBox's default MAX_PAGE_SIZE). */
const relatedPageSize = 1000;
/** Device ids per incremental re-read request. */
const idsPerRequest = 100;

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
    // NetBox 4.5 v2 tokens (nbt_<key>.<token>) go as Bearer; classic tokens with the Token keyword.
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
      const url = client.url('api/dcim/devices/', this.deviceQuery({ limit: '1', brief: '1' }));
      const answer = await client.getJson<unknown>(url, signal);
      parsePage(answer.body, url);
    } finally {
      await client.close();
    }
  }

  async *read(options: ReadOptions): AsyncIterable<SourceBatch> {
    const client = this.client();
    const { signal } = options;
    try {
      if (options.mode === 'incremental' && options.since) {
        yield* this.readChanged(client, options.since, signal);
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

  /** Devices changed since `since`, or whose interfaces / IP addresses changed. */
  private async *readChanged(client: RestClient, since: string, signal?: AbortSignal): AsyncIterable<SourceBatch> {
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
    for await (const page of this.pages(client, client.url('api/ipam/ip-addresses/', new URLSearchParams({ ...sinceQuery, assigned_object_type: 'dcim.interface' })), ipAddressSchema, signal)) {
      for (const ip of page.items) if (ip.assigned_object?.device?.id !== undefined) changed.add(ip.assigned_object.device.id);
    }
    const ids = [...changed].sort((a, b) => a - b);
    if (ids.length === 0) {
      yield { records: [], rejects: [], ...(watermark ? { watermark } : {}), expected: 0 };
      return;
    }
    for (let i = 0; i < ids.length; i += idsPerRequest) {
      const query = this.deviceQuery({ limit: String(idsPerRequest), ordering: 'id', exclude: 'config_context' });
      for (const id of ids.slice(i, i + idsPerRequest)) query.append('id', String(id));
      const devices: NetboxDevice[] = [];
      for await (const page of this.pages(client, client.url('api/dcim/devices/', query), deviceSchema, signal)) devices.push(...page.items);
      yield { ...(await this.devicesToBatch(client, devices, signal)), ...(watermark ? { watermark } : {}), expected: ids.length };
    }
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

  private async related<S extends z.ZodType>(client: RestClient, path: string, ids: readonly number[], schema: S, extra: Record<string, string>, signal?: AbortSignal): Promise<z.infer<S>[]> {
    const query = new URLSearchParams({ limit: String(relatedPageSize), ...extra });
    for (const id of ids) query.append('device_id', String(id));
    const out: z.infer<S>[] = [];
    for await (const page of this.pages(client, client.url(path, query), schema, signal)) out.push(...page.items);
    return out;
  }

  private async devicesToBatch(client: RestClient, devices: readonly NetboxDevice[], signal?: AbortSignal): Promise<{ records: SourceRecord[]; rejects: RecordReject[] }> {
    const records: SourceRecord[] = [];
    const rejects: RecordReject[] = [];
    if (devices.length === 0) return { records, rejects };
    const ids = devices.map((d) => d.id);
    const [interfaces, addresses] = await Promise.all([
      this.related(client, 'api/dcim/interfaces/', ids, interfaceSchema, {}, signal),
      this.related(client, 'api/ipam/ip-addresses/', ids, ipAddressSchema, { assigned_object_type: 'dcim.interface' }, signal),
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
      const mac = nic.primary_mac_address?.mac_address ?? nic.mac_address ?? null;
      const ips = addressesByInterface.get(nic.id) ?? [];
      interfaceRaw.push({ id: nic.id, name: nic.name, mac, vlan: nic.untagged_vlan?.vid ?? null, ips: ips.map((ip) => ({ id: ip.id, address: ip.address, vrf: ip.vrf?.name ?? null, dns_name: ip.dns_name || null })) });
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
