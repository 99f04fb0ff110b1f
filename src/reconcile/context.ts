import type { ReconcileConfig } from '../config/reconcile.js';
import { indexAddressSpaces, type AddressSpaceIndex } from '../model/address-space.js';
import { bindDecisions, type BoundDecisions } from './decisions.js';
import { resolvePrecedence } from './fields.js';
import { bindDevice, bindRecord, resolveUnboundMacs, type BoundDevice, type BoundRecord } from './identity.js';
import type { TargetOptions } from './target.js';
import type { ReconcileInput } from './types.js';


/** What every step reads: the input bound to address spaces, the devices indexed, the options. */
export interface ReconcileContext {
  input: ReconcileInput;
  config: ReconcileConfig;
  spaces: AddressSpaceIndex;
  spaceName: (id: number | null) => string;
  precedence: Record<string, string[]>;
  /** Staleness windows in days, by source. */
  staleAfter: ReadonlyMap<string, number>;
  targetOptions: TargetOptions;
  records: readonly BoundRecord[];
  /** Records read per source (every configured source present). */
  recordCounts: Record<string, number>;
  devices: DeviceIndex;
  decisions: BoundDecisions;
}

/** Step 1, identity: records and devices bound to address spaces, the devices indexed by key and by name. */
export function bindInput(input: ReconcileInput): ReconcileContext {
  const { config } = input;
  const sourceNames = input.sources.map((s) => s.name);
  const spaces = indexAddressSpaces(input.addressSpaces);
  const spaceName = (id: number | null): string => {
    if (id === null) return 'no address space';
    const space = spaces.find(id);
    return space ? `address space ${JSON.stringify(space.name)}` : `address space ${id}`;
  };
  const precedence = resolvePrecedence(config.precedence, sourceNames);
  const sourceRank = new Map(input.sources.map((s, i) => [s.name, i]));
  const records: BoundRecord[] = [];
  const recordCounts: Record<string, number> = Object.fromEntries(sourceNames.map((n) => [n, 0]));
  for (const record of input.records) {
    const rank = sourceRank.get(record.source);
    if (rank === undefined) continue;
    recordCounts[record.source] = (recordCounts[record.source] ?? 0) + 1;
    records.push(bindRecord(record, rank, spaces, config.matchByName));
  }
  const devices = input.devices.map(bindDevice);
  resolveUnboundMacs(records, devices);
  return {
    input,
    config,
    spaces,
    spaceName,
    precedence,
    staleAfter: new Map(input.sources.filter((s) => s.staleAfterDays !== undefined).map((s) => [s.name, s.staleAfterDays!])),
    targetOptions: {
      precedence,
      managedAttributes: config.managedAttributes,
      labels: config.labels,
      vendorFromMac: config.vendorFromOui ? input.vendorFromMac : undefined,
    },
    records,
    recordCounts,
    devices: new DeviceIndex(devices),
    decisions: bindDecisions(input.decisions, devices),
  };
}

/**
 * The KICS devices by (address space, MAC or IP) key and by name. One number per key (an array only
 * where KICS itself holds a key twice): 100,000 devices make about 200,000 keys, and an array per key
 * would be garbage-collector work for nothing.
 */
export class DeviceIndex {
  private readonly byKey = new Map<string, number | number[]>();
  private readonly byName = new Map<string, number | number[]>();

  constructor(readonly list: readonly BoundDevice[]) {
    list.forEach((bound, index) => {
      for (const key of bound.addressKeys) addHit(this.byKey, key, index);
      addHit(this.byName, bound.device.name, index);
    });
  }

  at(index: number): BoundDevice {
    return this.list[index]!;
  }

  /** The devices holding a MAC or IP key. */
  withKey(key: string): readonly number[] {
    return hits(this.byKey.get(key));
  }

  /** The devices named so. */
  named(name: string): readonly number[] {
    return hits(this.byName.get(name));
  }

  holds(key: string, index: number): boolean {
    const hit = this.byKey.get(key);
    return hit === index || (Array.isArray(hit) && hit.includes(index));
  }
}

const none: readonly number[] = [];
const hits = (hit: number | number[] | undefined): readonly number[] => (hit === undefined ? none : typeof hit === 'number' ? [hit] : hit);

function addHit(map: Map<string, number | number[]>, key: string, index: number): void {
  const hit = map.get(key);
  if (hit === undefined) map.set(key, index);
  else if (typeof hit === 'number') map.set(key, [hit, index]);
  else hit.push(index);
}
