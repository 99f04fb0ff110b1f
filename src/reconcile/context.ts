import type { ReconcileConfig } from '../config/reconcile.js';
import { indexAddressSpaces, type AddressSpaceIndex } from '../model/address-space.js';
import { bindDecisions, type BoundDecisions } from './decisions.js';
import { resolvePrecedence } from './fields.js';
import { BoundDevice, BoundRecord, resolveUnboundMacs } from './identity.js';
import { KeyTable, type KeyId } from './keys.js';
import { targetRules, type TargetRules } from './target.js';
import type { ReconcileInput } from './types.js';


/** What every step reads: the input bound to address spaces, the devices indexed, the options. */
export interface ReconcileContext {
  input: ReconcileInput;
  config: ReconcileConfig;
  spaces: AddressSpaceIndex;
  spaceName: (id: number | null) => string;
  /** The run's identity keys: every key a record or device holds. */
  keys: KeyTable;
  precedence: Record<string, string[]>;
  /** Staleness windows in days, by source. */
  staleAfter: ReadonlyMap<string, number>;
  /** What decides each asset's target state (the precedence lists, managed attributes, labels). */
  target: TargetRules;
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
  const keys = new KeyTable();
  const devices = input.devices.map((device) => new BoundDevice(device, keys));
  const records: BoundRecord[] = [];
  const recordCounts: Record<string, number> = Object.fromEntries(sourceNames.map((n) => [n, 0]));
  for (const record of input.records) {
    const rank = sourceRank.get(record.source);
    if (rank === undefined) continue;
    recordCounts[record.source] = (recordCounts[record.source] ?? 0) + 1;
    records.push(new BoundRecord(record, rank, spaces, keys, config.matchByName));
  }
  resolveUnboundMacs(records, devices, keys);
  return {
    input,
    config,
    spaces,
    spaceName,
    keys,
    precedence,
    staleAfter: new Map(input.sources.filter((s) => s.staleAfterDays !== undefined).map((s) => [s.name, s.staleAfterDays!])),
    target: targetRules({
      precedence,
      managedAttributes: config.managedAttributes,
      labels: config.labels,
      vendorFromMac: config.vendorFromOui ? input.vendorFromMac : undefined,
    }),
    records,
    recordCounts,
    devices: new DeviceIndex(devices, keys.size),
    decisions: bindDecisions(input.decisions, devices),
  };
}

/**
 * The KICS devices by key and by name. A key's device is a number in an array indexed by key; the
 * few keys KICS itself holds on several devices keep their list aside.
 */
export class DeviceIndex {
  /** Per key: the device holding it, -1 for none, -2 for several (in `several`). */
  private readonly holder: Int32Array;
  private readonly several = new Map<KeyId, number[]>();
  private readonly byName = new Map<string, number | number[]>();

  constructor(
    readonly list: readonly BoundDevice[],
    keyCount: number,
  ) {
    this.holder = new Int32Array(keyCount).fill(-1);
    list.forEach((bound, index) => {
      for (const key of bound.addressKeys) {
        const holder = this.holder[key]!;
        if (holder === -1) this.holder[key] = index;
        else if (holder === -2) this.several.get(key)!.push(index);
        else {
          this.holder[key] = -2;
          this.several.set(key, [holder, index]);
        }
      }
      const hit = this.byName.get(bound.device.name);
      if (hit === undefined) this.byName.set(bound.device.name, index);
      else if (typeof hit === 'number') this.byName.set(bound.device.name, [hit, index]);
      else hit.push(index);
    });
  }

  at(index: number): BoundDevice {
    return this.list[index]!;
  }

  /** The one device holding a key, -1 for none, -2 for several. */
  holderOf(key: KeyId): number {
    return key < this.holder.length ? this.holder[key]! : -1;
  }

  /** The devices of `list` and those holding a key, each once (`list` itself when the key adds none). */
  addHolders(key: KeyId, list: readonly number[]): readonly number[] {
    const holder = this.holderOf(key);
    if (holder === -1) return list;
    if (holder >= 0) return list.length === 0 ? [holder] : list.includes(holder) ? list : [...list, holder];
    const added = this.several.get(key)!.filter((index) => !list.includes(index));
    return added.length === 0 ? list : [...list, ...added];
  }

  /** The devices named so. */
  named(name: string): readonly number[] {
    const hit = this.byName.get(name);
    return hit === undefined ? none : typeof hit === 'number' ? [hit] : hit;
  }

  holds(key: KeyId, index: number): boolean {
    const holder = this.holderOf(key);
    return holder === index || (holder === -2 && this.several.get(key)!.includes(index));
  }
}

const none: readonly number[] = [];
