import type { ConflictAsset, ConflictDevice, PlanCounts, PlanHeader, PlanItem } from '../plan-schema.js';

/** Plain-text views of plan values shared by the report formats (each escapes them its own way). */

export const actionLabels: Record<keyof PlanCounts, string> = {
  create: 'create',
  update: 'update',
  upload_config: 'upload config',
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

const spaceLabel = (space: number | null): string => (space === null ? 'no space' : `space ${space}`);

function interfacesText(interfaces: ConflictAsset['interfaces']): string {
  return interfaces.map((i) => [i.mac ? `MAC ${i.mac} (${spaceLabel(i.macSpace)})` : null, ...i.ips.map((ip) => `IP ${ip.ip} (${spaceLabel(ip.space)})`)].filter(Boolean).join(', ')).join('; ');
}

export function assetSideText(side: ConflictAsset): string {
  return `${side.source} ${JSON.stringify(side.key)}${side.name ? ` ${JSON.stringify(side.name)}` : ''}: ${interfacesText(side.interfaces) || 'no addresses'}`;
}

export function deviceSideText(side: ConflictDevice): string {
  return `device ${side.id} ${JSON.stringify(side.name)}${side.status ? ` (${side.status})` : ''}: ${interfacesText(side.interfaces) || 'no addresses'}`;
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

export function planTitle(header: PlanHeader): string {
  return header.id === null ? 'kics-sync plan (not stored)' : `kics-sync plan ${header.id}`;
}

/** Items of a plan, whether held in memory or streamed from the database. */
export type PlanItems = Iterable<PlanItem> | AsyncIterable<PlanItem>;
