import type { CsvField, ServicenowSourceConfig } from '../../config/sources.js';
import type { Logger } from '../../log.js';
import type { AssetSource, CanonicalAsset, ReadOptions, RecordReject, SourceBatch, SourceRecord } from '../../model/asset.js';
import { cleanText, isRetiredStatus, normalizeInterface, parseBoolean, parseVlan, splitValues, addressSpaceRef, type Normalizer } from '../../model/normalize.js';
import { RestClient } from '../rest-client.js';
import { SourceError } from '../source-error.js';

/**
 * ServiceNow CMDB configuration items as an asset source, through the Table API
 * (`GET /api/now/table/<ciClass>`): pages of `sysparm_limit` records followed through the `Link`
 * header's rel="next" (offset paging as a fallback), ordered by sys_id so pages do not shift,
 * `sysparm_display_value=all` to have both the stored value and the display value of each field.
 * Incremental reads add `sys_updated_on>=<watermark>` to the query.
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

type FieldValue = string | { value?: unknown; display_value?: unknown } | null | undefined;

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

  private tablePath(): string {
    return `api/now/table/${this.config.ciClass}`;
  }

  async check(signal?: AbortSignal): Promise<void> {
    const client = this.client();
    try {
      const url = client.url(this.tablePath(), this.query(1, 0, null, ['sys_id']));
      parseResult(this.name, (await client.getJson<unknown>(url, signal)).body, url);
    } finally {
      await client.close();
    }
  }

  private query(limit: number, offset: number, since: string | null, fields: readonly string[]): URLSearchParams {
    const clauses = [this.config.query, since ? `sys_updated_on>=${since}` : undefined, 'ORDERBYsys_id'].filter((c): c is string => !!c);
    return new URLSearchParams({
      sysparm_query: clauses.join('^'),
      sysparm_fields: fields.join(','),
      sysparm_display_value: 'all',
      sysparm_exclude_reference_link: 'true',
      sysparm_limit: String(limit),
      sysparm_offset: String(offset),
    });
  }

  async *read(options: ReadOptions): AsyncIterable<SourceBatch> {
    const client = this.client();
    const { signal } = options;
    const since = options.mode === 'incremental' && options.since ? options.since : null;
    const fields = [...new Set(['sys_id', 'sys_updated_on', ...this.fieldMap.keys(), ...Object.keys(this.config.attributes)])];
    const limit = this.config.pageSize;
    try {
      let url: URL | null = client.url(this.tablePath(), this.query(limit, 0, since, fields));
      let offset = 0;
      let watermark: string | undefined;
      const visited = new Set<string>();
      while (url) {
        if (visited.has(url.toString())) throw new SourceError(`${this.name}: ServiceNow's next link points back to the same page: paging would never end`, { code: 'SOURCE_BAD_RESPONSE' });
        visited.add(url.toString());
        const answer = await client.getJson<unknown>(url, signal);
        const records = parseResult(this.name, answer.body, url);
        if (watermark === undefined) {
          const date = answer.headers.date ? new Date(answer.headers.date) : new Date();
          watermark = servicenowTime(Number.isNaN(date.getTime()) ? new Date() : date);
        }
        const total = Number(answer.headers['x-total-count']);
        const batch: { records: SourceRecord[]; rejects: RecordReject[] } = { records: [], rejects: [] };
        for (const item of records) {
          const outcome = this.toRecord(item);
          if ('reject' in outcome) batch.rejects.push(outcome.reject);
          else batch.records.push(outcome.record);
        }
        yield { ...batch, watermark, ...(Number.isFinite(total) ? { expected: total } : {}) };
        const next = nextLink(answer.headers.link);
        offset += records.length;
        // The Link header is authoritative; without one, a short page is the last (offset paging).
        if (next) url = client.url(rebase(next));
        else if (answer.headers.link === undefined && records.length === limit) url = client.url(this.tablePath(), this.query(limit, offset, since, fields));
        else url = null;
      }
    } finally {
      await client.close();
    }
  }

  private toRecord(item: Record<string, FieldValue>): { record: SourceRecord } | { reject: RecordReject } {
    const { normalizer } = this.deps;
    const sysId = cleanText(valueOf(item.sys_id));
    const name = cleanText(displayOf(item.name));
    const location = `servicenow ${this.config.ciClass} ${sysId ?? '(no sys_id)'}${name ? ` (${name})` : ''}`;
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(item)) raw[k] = v && typeof v === 'object' ? { value: v.value ?? null, display_value: v.display_value ?? null } : (v ?? null);
    if (!sysId) return { reject: { location, reason: 'the record has no sys_id', raw } };

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
    const plain: [CsvField, keyof CanonicalAsset][] = [
      ['name', 'name'],
      ['description', 'description'],
      ['model', 'hardwareModel'],
      ['hardwareVersion', 'hardwareVersion'],
      ['firmware', 'softwareVersion'],
      ['softwareModel', 'softwareModel'],
      ['os', 'os'],
      ['networkName', 'networkName'],
      ['owner', 'owner'],
      ['location', 'location'],
      ['industrialConfig', 'industrialConfig'],
    ];
    for (const [target, key] of plain) {
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
    if (macs.length > 1) errors.push(`${macs.length} MAC addresses in ${values.get('mac')!.field}: one CI record gives one interface`);
    else {
      const result = normalizeInterface({ mac: macs[0], ips, vlan, addressSpace: spaceText === undefined ? undefined : addressSpaceRef(spaceText) });
      for (const e of result.errors) errors.push(`${values.get(e.field)?.field ?? e.field}: ${e.reason}`);
      notes.push(...result.notes);
      if (result.interface) asset.interfaces.push(result.interface);
    }
    if (errors.length > 0) return { reject: { location, reason: errors.join('; '), raw } };
    if (asset.name === undefined && asset.interfaces.length === 0) return { reject: { location, reason: 'missing identity: no name, MAC or IP', raw } };
    const record: SourceRecord = { externalKey: sysId, raw, asset, location };
    if (notes.length > 0) record.notes = notes;
    return { record };
  }
}

function valueOf(v: FieldValue): unknown {
  return v !== null && typeof v === 'object' ? v.value : v;
}

function displayOf(v: FieldValue): unknown {
  return v !== null && typeof v === 'object' ? (v.display_value ?? v.value) : v;
}

function parseResult(source: string, body: unknown, url: URL): Record<string, FieldValue>[] {
  const result = (body as { result?: unknown } | null)?.result;
  if (!Array.isArray(result) || result.some((r) => r === null || typeof r !== 'object' || Array.isArray(r))) {
    throw new SourceError(`${source}: GET ${url.pathname}: ServiceNow answered something other than {"result": [records]}`, { code: 'SOURCE_BAD_RESPONSE' });
  }
  return result as Record<string, FieldValue>[];
}

function rebase(link: string): string {
  const u = new URL(link, 'http://placeholder');
  return `${u.pathname}${u.search}`;
}
