import type { ConflictAsset, ConflictDevice, ConflictKind, PlanCounts, PlanHeader, PlanItem } from '../plan-schema.js';

/** Plain-text views of plan values shared by the report formats (each escapes them its own way). */

export const actionLabels: Record<keyof PlanCounts, string> = {
  create: 'create',
  update: 'update',
  upload_config: 'upload config',
  recognize: 'recognize',
  archive: 'archive',
  delete: 'DELETE',
  conflict: 'conflict',
  unknown: 'unknown',
  stale: 'stale',
  unchanged: 'unchanged',
};

interface InterfaceLike {
  macAddress?: string | null;
  ipAddresses?: { ip?: string }[] | null;
}

/** One field value as a person reads it. */
export function displayValue(field: string, value: unknown): string {
  if (value === null || value === undefined) return '(empty)';
  if (field === 'userAttributes' && Array.isArray(value)) {
    return value.length === 0 ? '(none)' : (value as { name?: string; value?: string }[]).map((a) => `${a.name}=${a.value}`).join(', ');
  }
  if (field === 'addressInformation' && Array.isArray(value)) {
    return (value as InterfaceLike[]).map((i) => `${i.macAddress ?? 'no MAC'} [${(i.ipAddresses ?? []).map((a) => a.ip).join(', ')}]`).join('; ');
  }
  if (field === 'industrialConfig' && typeof value === 'object') {
    const v = value as { path?: string; contentHash?: string };
    return `${v.path} (sha256 ${String(v.contentHash).slice(0, 12)}…)`;
  }
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** The field-by-field diff of an item: [field, before, after]. */
export function changeRows(item: Pick<PlanItem, 'before' | 'after'>): [string, string, string][] {
  const fields = [...new Set([...Object.keys(item.before ?? {}), ...Object.keys(item.after ?? {})])];
  return fields.map((f) => [f, item.before && f in item.before ? displayValue(f, item.before[f]) : '', item.after && f in item.after ? displayValue(f, item.after[f]) : '']);
}

/** Address space ids -> names, as the plan's summary has them; a space not listed is shown by its id. */
export type SpaceNames = ReadonlyMap<number, string>;

const spaceLabel = (space: number | null, names?: SpaceNames): string => (space === null ? 'no address space' : (names?.get(space) ?? `address space ${space}`));

function interfacesText(interfaces: ConflictAsset['interfaces'], names?: SpaceNames): string {
  return interfaces.map((i) => [i.mac ? `MAC ${i.mac} (${spaceLabel(i.macSpace, names)})` : null, ...i.ips.map((ip) => `IP ${ip.ip} (${spaceLabel(ip.space, names)})`)].filter(Boolean).join(', ')).join('; ');
}

export function assetSideText(side: ConflictAsset, names?: SpaceNames): string {
  return `${side.source} ${JSON.stringify(side.key)}${side.name ? ` ${JSON.stringify(side.name)}` : ''}: ${interfacesText(side.interfaces, names) || 'no addresses'}`;
}

export function deviceSideText(side: ConflictDevice, names?: SpaceNames): string {
  return `device ${side.id} ${JSON.stringify(side.name)}${side.status ? ` (${side.status})` : ''}: ${interfacesText(side.interfaces, names) || 'no addresses'}`;
}

/** How a person settles each kind of conflict: what to change, and where. */
export const settleAdvice: Record<ConflictKind, string> = {
  several_devices: 'KICS holds this asset as several devices: merge or archive the extra devices in KICS, or correct the MAC / IP in the source if it names the wrong one.',
  several_assets: 'Several records match one KICS device: if they are one asset, give them the same MAC / IP (or remove the duplicate record) in the source; if not, correct the address that makes them collide.',
  mac_ip_split: "The asset's MAC is on one KICS device and its IP on another: correct the MAC or the IP in the source, or, when KICS is wrong, fix the devices in KICS.",
  sources_disagree: 'The sources describe this asset with different identities: correct the MAC / IP in the source that is wrong (the precedence order in reconcile.precedence decides values, not identities).',
  duplicate_identity: 'Several records of one source claim the same MAC or IP: fix the duplicate in that source (a typo, or a record to remove).',
  ambiguous_address_space: "The address fits several address spaces equally well: add an address space (or VLAN) column to the source, or map the source's sites / VRFs to address spaces in the configuration.",
  unknown_address_space: 'The source names an address space KICS does not have: create it in KICS, or correct the name / mapping in the source or the configuration.',
  duplicate_name: 'The name is held by another KICS device (names are unique in KICS): rename one of them in the source or in KICS.',
  too_many_interfaces: 'KICS allows at most 64 interfaces per device: split the asset in the source, or drop interfaces that are not on the industrial network.',
  incomplete_asset: 'KICS needs a name and at least one address to create a device: complete the record in the source.',
  config_file_rejected: 'The industrial configuration file cannot be used: put it under the configured root (reconcile.industrialConfig.root) or correct its path in the source.',
};

/** An unknown item is a KICS device no source knows; the ones KICS has as Recognized matter most. */
export function isRecognizedUnknown(item: Pick<PlanItem, 'action' | 'before'>): boolean {
  return item.action === 'unknown' && item.before?.status === 'Recognized';
}

/** What the report says of a device that is in KICS only: it is not changed. */
export function unknownText(item: Pick<PlanItem, 'action' | 'before'>): string {
  return isRecognizedUnknown(item) ? 'no change: in KICS only, and Recognized there although no source knows it' : 'no change: in KICS only';
}

/** The values KICS holds for a device, field by field: [field, value]. */
export function kicsRows(item: Pick<PlanItem, 'before'>): [string, string][] {
  return Object.entries(item.before ?? {}).map(([f, v]) => [f, displayValue(f, v)]);
}

export function sourcesText(item: Pick<PlanItem, 'sourceKeys'>): string {
  return item.sourceKeys.map((k) => `${k.source}:${k.key}`).join(', ');
}

export function spaceNames(header: PlanHeader): Map<number, string> {
  return new Map(header.summary.byAddressSpace.filter((s) => s.id !== null).map((s) => [s.id!, s.name]));
}

export function scopeText(header: PlanHeader): string {
  const parts: string[] = [];
  const s = header.scope;
  if (s.sources?.length) parts.push(`sources ${s.sources.join(', ')}`);
  if (s.owner !== undefined) parts.push(`owner ${s.owner}`);
  if (s.addressSpaceId !== undefined) parts.push(`address space ${s.addressSpaceId}`);
  if (s.deviceId !== undefined) parts.push(`device ${s.deviceId}`);
  return parts.length === 0 ? 'everything' : parts.join('; ');
}

export function basisText(header: PlanHeader): string {
  const sources = Object.entries(header.basis.sources).map(([name, generation]) => `${name} ${generation}`);
  return `KICS snapshot ${header.basis.kics}${sources.length > 0 ? `; ${sources.join(', ')}` : ''}`;
}

/**
 * What a reader must not miss about the data a plan was computed from: the inputs it could not re-read
 * (it used their stored data, of the time given), and each source's rejected records with the file
 * that lists them.
 */
export function inputsText(header: PlanHeader): { stale: string[]; rejects: string[]; readAt: string[] } {
  const inputs = header.summary.inputs;
  if (!inputs) return { stale: [], rejects: [], readAt: [] };
  const data = (readAt: string | null): string => (readAt ? `the data read at ${readAt} was used` : 'it was never read: nothing of it was used');
  const stale: string[] = [];
  if (inputs.kics.refreshed === false) stale.push(`KICS was not re-read (${inputs.kics.error ?? 'unknown error'}); ${data(inputs.kics.readAt)}`);
  for (const s of inputs.sources) if (s.refreshed === false) stale.push(`source ${s.name} was not re-read (${s.error ?? 'unknown error'}); ${data(s.readAt)}`);
  const rejects = inputs.sources.filter((s) => s.rejected > 0).map((s) => `source ${s.name}: ${s.rejected} record(s) rejected${s.rejectsFile ? `, listed with the reason in ${s.rejectsFile}` : ''}`);
  rejects.push(...(inputs.kics.notes ?? []));
  const readAt = [`KICS ${inputs.kics.readAt ?? 'never read'}`, ...inputs.sources.map((s) => `${s.name} ${s.readAt ?? 'never read'}`)];
  return { stale, rejects, readAt };
}

export function planTitle(header: PlanHeader): string {
  const title = header.id === null ? 'kics-sync plan (not stored)' : `kics-sync plan ${header.id}`;
  return header.summary.revert ? `${title}, reverting run ${header.summary.revert.runId}` : title;
}

/** Items of a plan, whether held in memory or streamed from the database. */
export type PlanItems = Iterable<PlanItem> | AsyncIterable<PlanItem>;
