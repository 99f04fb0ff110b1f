import type { CsvField, ServicenowSourceConfig } from '../../config/sources.js';
import type { Logger } from '../../log.js';
import type { AssetInterface, AssetSource, CanonicalAsset, ReadOptions, RecordReject, SourceBatch, SourceRecord } from '../../model/asset.js';
import { plainTextFields } from '../../model/fields.js';
import { parseMac } from '../../model/mac.js';
import { cleanText, isRetiredStatus, normalizeInterface, parseBoolean, parseVlan, splitValues, addressSpaceRef, type Normalizer } from '../../model/normalize.js';
import { RestClient } from '../rest-client.js';
import { NetworkReader, type NetworkAdapter } from './network.js';
import { TableReader, describeServicenowError, displayOf, parseResult, servicenowTime, valueOf, type TableQuery, type TableRow } from './table.js';

export { describeServicenowError, nextLink, servicenowTime } from './table.js';

/**
 * ServiceNow CMDB configuration items as an asset source, through the Table API
 * (`GET /api/now/table/<ciClass>`, paged by `TableReader`), ordered by sys_id so pages do not shift,
 * `sysparm_display_value=all` to have both the stored value and the display value of each field.
 * Each page of CIs brings its Network Adapter and IP Address records (`NetworkReader`): each adapter
 * is an interface of the asset with its MAC and IPs, next to the MAC / IP a CI carries itself.
 * Incremental reads add `sys_updated_on>=<watermark>` to the query, and re-read the CIs whose adapters
 * or IP Address records changed since, and those that held them before (`relatedCis()`).
 */
export interface ServicenowSourceDeps {
  normalizer: Normalizer;
  logger: Logger;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/** ServiceNow field -> canonical field, unless the source's `fields` say otherwise. */
export const defaultServicenowFields: Readonly<Record<string, CsvField>> = {
  name: 'name',
  short_description: 'description',
  mac_address: 'mac',
  ip_address: 'ip',
  sys_class_name: 'category',
  manufacturer: 'vendor',
  model_id: 'model',
  firmware_version: 'firmware',
  os: 'os',
  fqdn: 'networkName',
  owned_by: 'owner',
  location: 'location',
  install_status: 'status',
};

/** Fields read by their stored value; all others by their display value (references show names, not sys_ids). */
const byValue = new Set<CsvField>(['mac', 'ip', 'vlan', 'addressSpace', 'isRouter', 'id']);

/** install_status values of retired CIs (7 Retired, 8 Stolen, 100 Absent) besides words such as "Retired". */
const retiredInstallStatus = new Set(['7', '8', '100']);

export class ServicenowSource implements AssetSource {
  readonly kind = 'servicenow' as const;
  readonly incremental = true;
  readonly name: string;
  private readonly fieldMap: Map<string, CsvField>;

  constructor(
    private readonly config: ServicenowSourceConfig,
    private readonly deps: ServicenowSourceDeps,
  ) {
    this.name = config.name;
    this.fieldMap = new Map(Object.entries({ ...defaultServicenowFields, ...config.fields }));
  }

  private client(): RestClient {
    const authorization = this.config.token
      ? `Bearer ${this.config.token}`
      : `Basic ${Buffer.from(`${this.config.user ?? ''}:${this.config.password ?? ''}`).toString('base64')}`;
    return new RestClient({
      source: this.name,
      system: 'ServiceNow',
      baseUrl: this.config.url,
      headers: { authorization },
      timeoutMs: this.config.timeoutMs,
      retries: this.config.retries,
      caFile: this.config.caFile,
      logger: this.deps.logger,
      describeError: describeServicenowError,
      ...(this.deps.minRetryDelayMs === undefined ? {} : { minRetryDelayMs: this.deps.minRetryDelayMs }),
      ...(this.deps.maxRetryDelayMs === undefined ? {} : { maxRetryDelayMs: this.deps.maxRetryDelayMs }),
    });
  }

  /** One row of each table a read uses: the CI class, and the adapter and IP address tables when enabled (rights are per table). */
  async check(signal?: AbortSignal): Promise<void> {
    const client = this.client();
    const { networkAdapters, ipAddresses } = this.config;
    const tables: [string, string | undefined][] = [[this.config.ciClass, this.config.query]];
    if (networkAdapters.enabled) tables.push([networkAdapters.table, undefined]);
    if (networkAdapters.enabled && ipAddresses.enabled) tables.push([ipAddresses.table, undefined]);
    try {
      const reader = new TableReader(client, this.name, 1, signal);
      for (const [table, query] of tables) {
        const url = reader.url({ table, clauses: [query], fields: ['sys_id'], displayValue: 'false' });
        parseResult(this.name, (await client.getJson<unknown>(url, signal)).body, url);
      }
    } finally {
      await client.close();
    }
  }

  async *read(options: ReadOptions): AsyncIterable<SourceBatch> {
    const client = this.client();
    const since = options.mode === 'incremental' && options.since ? options.since : null;
    const fields = [...new Set(['sys_id', 'sys_updated_on', ...this.fieldMap.keys(), ...Object.keys(this.config.attributes)])];
    const reader = new TableReader(client, this.name, this.config.pageSize, options.signal);
    const network = new NetworkReader(reader, this.config);
    const cis = (clauses: (string | undefined)[]): TableQuery => ({ table: this.config.ciClass, clauses: [this.config.query, ...clauses], fields, displayValue: 'all' });
    try {
      // Asked first, so that the instance's clock (the next watermark) is read before anything else.
      const related = since ? await this.relatedCis(network, since, options) : new Set<string>();
      const watermark = (): string => servicenowTime(reader.instanceTime ?? new Date());
      const queries = [cis([since ? `sys_updated_on>=${since}` : undefined])];
      const seen = new Set<string>();
      for (let i = 0; i < queries.length; i += 1) {
        for await (const page of reader.pages(queries[i]!)) {
          const expected = i === 0 && page.total !== undefined ? { expected: page.total + related.size } : {};
          yield { ...(await this.toBatch(page.rows, network, seen)), watermark: watermark(), ...expected };
        }
        // The CIs whose adapters or IP Address records changed, and that the query above did not bring.
        if (i === 0 && related.size > 0) queries.push(...reader.inQueries(cis([]), 'sys_id', [...related].filter((id) => !seen.has(id))));
      }
    } finally {
      await client.close();
    }
  }

  /**
   * The CIs an incremental read re-reads besides those changed: those whose adapters or IP Address
   * records changed, and those staged with the changed MACs / IPs (where a moved adapter or IP was).
   */
  private async relatedCis(network: NetworkReader, since: string, options: ReadOptions): Promise<Set<string>> {
    const changed = await network.changedSince(since);
    if (options.stagedHolders && (changed.macs.length > 0 || changed.ips.length > 0)) {
      for (const key of await options.stagedHolders({ macs: changed.macs, ips: changed.ips })) changed.cis.add(key);
    }
    return changed.cis;
  }

  /** One page of CIs with their adapters and IPs, as records and rejects. */
  private async toBatch(rows: TableRow[], network: NetworkReader, seen: Set<string>): Promise<{ records: SourceRecord[]; rejects: RecordReject[] }> {
    const batch: { records: SourceRecord[]; rejects: RecordReject[] } = { records: [], rejects: [] };
    const fresh = rows.filter((row) => {
      const id = cleanText(valueOf(row.sys_id));
      if (id === undefined) return true;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    const adapters = await network.forCis(fresh.map((row) => cleanText(valueOf(row.sys_id))).filter((id): id is string => id !== undefined));
    for (const item of fresh) {
      const outcome = this.toRecord(item, adapters.get(cleanText(valueOf(item.sys_id)) ?? '') ?? []);
      if ('reject' in outcome) batch.rejects.push(outcome.reject);
      else batch.records.push(outcome.record);
    }
    return batch;
  }

  private toRecord(item: TableRow, adapters: readonly NetworkAdapter[]): { record: SourceRecord } | { reject: RecordReject } {
    const { normalizer } = this.deps;
    const sysId = cleanText(valueOf(item.sys_id));
    const name = cleanText(displayOf(item.name));
    const location = `servicenow ${this.config.ciClass} ${sysId ?? '(no sys_id)'}${name ? ` (${name})` : ''}`;
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(item)) raw[k] = v && typeof v === 'object' ? { value: v.value ?? null, display_value: v.display_value ?? null } : (v ?? null);
    if (!sysId) return { reject: { location, reason: 'the record has no sys_id', raw } };
    if (adapters.length > 0) raw[this.config.networkAdapters.table] = adapters.map((a) => ({ sys_id: a.sysId, name: a.name ?? null, mac: a.mac ?? null, ips: a.ips }));

    const values = new Map<CsvField, { value: string | undefined; display: string | undefined; field: string }>();
    for (const [field, target] of this.fieldMap) {
      const value = cleanText(valueOf(item[field]));
      const display = cleanText(displayOf(item[field]));
      if ((value !== undefined || display !== undefined) && !values.has(target)) values.set(target, { value, display, field });
    }
    const text = (target: CsvField): string | undefined => {
      const v = values.get(target);
      return v === undefined ? undefined : byValue.has(target) ? (v.value ?? v.display) : (v.display ?? v.value);
    };

    const notes: string[] = [];
    const errors: string[] = [];
    const asset: CanonicalAsset = { interfaces: [] };
    for (const [key, target] of plainTextFields) {
      const v = text(target);
      if (v !== undefined) (asset as unknown as Record<string, unknown>)[key] = v;
    }
    const vendor = text('vendor');
    if (vendor !== undefined) asset.hardwareVendor = normalizer.vendor(vendor);
    const softwareVendor = text('softwareVendor');
    if (softwareVendor !== undefined) asset.softwareVendor = normalizer.vendor(softwareVendor);
    const category = values.get('category');
    if (category) {
      // The CI class (cmdb_ci_ip_switch) or its label (IP Switch): whichever the tables know.
      const byValueResult = category.value !== undefined ? normalizer.category(category.value) : null;
      const mapped = byValueResult?.ok ? byValueResult : category.display !== undefined ? normalizer.category(category.display) : byValueResult;
      if (mapped?.ok) asset.category = mapped.value;
      else if (mapped) notes.push(`${category.field} ${JSON.stringify(category.display ?? category.value)}: ${mapped.reason}; category left unset`);
    }
    const criticality = text('criticality');
    if (criticality !== undefined) {
      const mapped = normalizer.influence(criticality);
      if (mapped.ok) asset.influence = mapped.value;
      else errors.push(mapped.reason);
    }
    const isRouter = text('isRouter');
    if (isRouter !== undefined) {
      const parsed = parseBoolean(isRouter);
      if (parsed.ok) asset.isRouter = parsed.value;
      else errors.push(`${values.get('isRouter')!.field}: ${parsed.reason}`);
    }
    const status = values.get('status');
    if (status) asset.retired = (status.value !== undefined && retiredInstallStatus.has(status.value)) || isRetiredStatus(status.display ?? status.value ?? '');
    const labels = splitValues(text('labels'), ',');
    if (labels.length > 0) asset.labels = labels;
    const attributes: Record<string, string> = {};
    for (const [field, attribute] of Object.entries(this.config.attributes)) {
      const v = cleanText(displayOf(item[field])) ?? cleanText(valueOf(item[field]));
      if (v !== undefined) attributes[attribute] = v;
    }
    if (Object.keys(attributes).length > 0) asset.userAttributes = attributes;

    let vlan: number | null = null;
    const vlanText = text('vlan');
    if (vlanText !== undefined) {
      const parsed = parseVlan(vlanText);
      if (parsed.ok) vlan = parsed.value;
      else errors.push(parsed.reason);
    }
    const spaceText = text('addressSpace');
    const macs = splitValues(text('mac'), ',');
    const ips = splitValues(text('ip'), ',');
    const addressSpace = spaceText === undefined ? undefined : addressSpaceRef(spaceText);
    let own: AssetInterface | null = null;
    if (macs.length > 1) errors.push(`${macs.length} MAC addresses in ${values.get('mac')!.field}: one CI record gives one interface`);
    else {
      const result = normalizeInterface({ mac: macs[0], ips, vlan, addressSpace });
      for (const e of result.errors) errors.push(`${values.get(e.field)?.field ?? e.field}: ${e.reason}`);
      notes.push(...result.notes);
      own = result.interface;
    }
    asset.interfaces.push(...this.interfaces(own, adapters, addressSpace, notes));
    if (errors.length > 0) return { reject: { location, reason: errors.join('; '), raw } };
    if (asset.name === undefined && asset.interfaces.length === 0) return { reject: { location, reason: 'missing identity: no name, MAC or IP', raw } };
    const record: SourceRecord = { externalKey: sysId, raw, asset, location };
    if (notes.length > 0) record.notes = notes;
    return { record };
  }

  /**
   * The CI's interfaces: one per adapter (its MAC, its own IP and its IP Address records'), and the
   * CI's own MAC / IP where no adapter already has them (merged into the adapter with the same MAC).
   * A bad MAC costs its adapter, a bad IP that IP, each with a note; the CI keeps the rest.
   */
  private interfaces(own: AssetInterface | null, adapters: readonly NetworkAdapter[], addressSpace: string | number | undefined, notes: string[]): AssetInterface[] {
    const { table, macField } = this.config.networkAdapters;
    const result: AssetInterface[] = [];
    for (const adapter of adapters) {
      const macName = adapter.name !== undefined && adapter.mac !== undefined && sameMac(adapter.name, adapter.mac);
      const normalized = normalizeInterface({ mac: adapter.mac, ips: adapter.ips, addressSpace, name: macName ? undefined : adapter.name });
      const where = `${table} ${adapter.sysId}${adapter.name ? ` (${adapter.name})` : ''}`;
      // An invalid MAC costs the adapter (it is its identity); an invalid IP costs that IP.
      if (normalized.errors.some((e) => e.field === 'mac')) {
        const what = normalized.errors.map((e) => `${e.field === 'mac' ? macField : 'IP'}: ${e.reason}`).join('; ');
        notes.push(`${where}: ${what}; adapter left out`);
        continue;
      }
      for (const e of normalized.errors) notes.push(`${where}: IP: ${e.reason}; that IP left out`);
      notes.push(...normalized.notes.map((n) => `${where}: ${n}`));
      if (normalized.interface) result.push(normalized.interface);
    }
    if (own === null) return result;
    const twin = own.mac ? result.find((i) => i.mac === own.mac) : undefined;
    if (twin) {
      for (const ip of own.ips) if (!twin.ips.includes(ip)) twin.ips.push(ip);
      if (own.vlan !== undefined && twin.vlan === undefined) twin.vlan = own.vlan;
      return result;
    }
    const held = new Set(result.flatMap((i) => i.ips));
    const rest = own.ips.filter((ip) => !held.has(ip));
    if (!own.mac && rest.length === 0) return result;
    return [{ ...own, ips: rest }, ...result];
  }
}

function sameMac(a: string, b: string): boolean {
  const x = parseMac(a);
  const y = parseMac(b);
  return x.ok && y.ok && x.mac === y.mac;
}
