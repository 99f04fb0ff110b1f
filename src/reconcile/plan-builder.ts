import type { KicsDevice } from '../model/kics.js';
import { assetSide, deviceSide, type BoundDevice, type BoundRecord } from './identity.js';
import { KeyAssertions, type KeyId, type KeyTable } from './keys.js';
import { holdKey, itemDecision } from './decisions.js';
import type { HoldDecision } from './types.js';
import { changeActions, planActions, type Conflict, type ConflictKind, type PlanAction, type PlanItem, type PlanScope } from './plan-schema.js';

/** What an item concerns, checked against `plan --source/--owner/--address-space/--device` (references, no copies). */
export interface ScopeFacts {
  records: readonly BoundRecord[];
  devices: readonly BoundDevice[];
  keys: readonly KeyId[];
  owner: string | null;
}

/** An item before it is numbered, with what the scope is checked against. */
export interface Work {
  item: Omit<PlanItem, 'seq'>;
  facts: ScopeFacts;
  /** For an upload to a device this plan creates: the create. */
  create?: Work;
  seq?: number;
}

/** A create or rename, checked for name uniqueness once every asset is planned. */
export interface NameProposal {
  work: Work;
  name: string;
  /** The device renamed; null for a create. */
  device: number | null;
  records: readonly BoundRecord[];
}

/** The fields every item of one asset (or device) shares. */
export type ItemBase = Pick<PlanItem, 'kicsDeviceId' | 'deviceName' | 'addressSpaceId' | 'owner' | 'matchKeys' | 'sourceKeys' | 'decision'>;

/**
 * Owns the plan's items while the steps add them: the items, the devices some item concerns, the
 * items a later step drops, the names proposed, and the tally of unchanged assets. `finish()` applies
 * the scope, orders and numbers the items.
 */
export class PlanBuilder {
  private readonly works: Work[] = [];
  private readonly dropped = new Set<Work>();
  private readonly involved: Uint8Array;
  /** The address space of each unchanged asset, and (in a scoped plan) what the scope is checked against. */
  private readonly unchangedSpaces: (number | null)[] = [];
  private readonly unchangedFacts: ScopeFacts[] = [];
  readonly proposals: NameProposal[] = [];
  /** Addresses sources assert that were not remembered as asserted yet (see `PlanValue.newAssertions`). */
  readonly newAssertions: KeyAssertions;
  notCreated = 0;

  constructor(
    private readonly devices: readonly BoundDevice[],
    private readonly keys: KeyTable,
    private readonly scope: PlanScope,
    readonly scoped: boolean,
    private readonly holds: ReadonlyMap<string, HoldDecision> = new Map(),
  ) {
    this.involved = new Uint8Array(devices.length);
    this.newAssertions = new KeyAssertions(keys);
  }

  add(work: Work): void {
    this.works.push(work);
  }

  /** Marks a device as concerned by some item: it is then not reported as unknown. */
  involve(device: number): void {
    this.involved[device] = 1;
  }

  isInvolved(device: number): boolean {
    return this.involved[device] === 1;
  }

  /** Takes an item out of the plan (with an upload that depends on it), for a conflict that replaces it. */
  drop(work: Work): void {
    this.dropped.add(work);
  }

  proposeName(proposal: NameProposal): void {
    this.proposals.push(proposal);
  }

  unchanged(facts: ScopeFacts, keys: readonly KeyId[]): void {
    this.unchangedSpaces.push(this.keys.primarySpace(keys));
    if (this.scoped) this.unchangedFacts.push(facts);
  }

  /** A conflict between assets and devices: each device involved, listed by id. */
  conflict(kind: ConflictKind, reason: string, records: readonly BoundRecord[], deviceIndexes: Iterable<number>, keys: readonly KeyId[]): void {
    const indexes = [...new Set(deviceIndexes)].sort((a, b) => this.devices[a]!.device.id - this.devices[b]!.device.id);
    for (const i of indexes) this.involve(i);
    const deviceList = indexes.map((i) => this.devices[i]!);
    const body: Conflict = { kind, reason, assets: records.map(assetSide), devices: deviceList.map(deviceSide) };
    this.add({
      item: {
        ...emptyItem('conflict', 'not_applicable'),
        kicsDeviceId: deviceList.length === 1 ? deviceList[0]!.device.id : null,
        // Labelled with the asset(s) it is about: the devices it collided with are in its details.
        deviceName: conflictLabel(records) ?? deviceList[0]?.device.name ?? null,
        addressSpaceId: this.keys.primarySpace(keys),
        owner: recordOwner(records),
        matchKeys: this.keys.matchKeys(keys),
        sourceKeys: sourceKeysOf(records),
        reason,
        conflict: body,
      },
      facts: factsOf(records, deviceList, keys),
    });
  }

  /**
   * The items in scope, ordered and numbered, and the address space of each unchanged asset in scope.
   * A change an owner rejected (a hold) stays in the plan as `held`, with the decision, and is not
   * applied; so is an upload to a device whose create is held.
   */
  finish(): { items: PlanItem[]; unchangedSpaces: (number | null)[] } {
    const inScope = (facts: ScopeFacts): boolean => !this.scoped || matchesScope(facts, this.scope, this.keys);
    const kept = this.works.filter((w) => !this.dropped.has(w) && !(w.create && this.dropped.has(w.create)) && inScope(w.facts));
    if (this.holds.size > 0) {
      for (const w of kept) {
        if (!changeActions.includes(w.item.action)) continue;
        const hold = this.holds.get(holdKey(w.item.action, w.item.kicsDeviceId, w.item.sourceKeys));
        if (hold) w.item = { ...w.item, status: 'held', decision: itemDecision('hold', hold) };
      }
      for (const w of kept) if (w.create?.item.status === 'held' && w.item.status !== 'held') w.item = { ...w.item, status: 'held', decision: w.create.item.decision ?? null };
    }
    kept.sort(compareWork);
    kept.forEach((w, i) => (w.seq = i + 1));
    const items: PlanItem[] = kept.map((w) => {
      const item: PlanItem = { seq: w.seq!, ...w.item };
      if (w.create && item.request && 'resolvedPath' in item.request) item.request = { ...item.request, createSeq: w.create.seq! };
      return item;
    });
    const unchangedSpaces = this.scoped ? this.unchangedSpaces.filter((_, i) => inScope(this.unchangedFacts[i]!)) : this.unchangedSpaces;
    return { items, unchangedSpaces };
  }
}

export function emptyItem(action: PlanAction, status: PlanItem['status']): Omit<PlanItem, 'seq'> {
  return {
    action,
    status,
    kicsDeviceId: null,
    deviceName: null,
    addressSpaceId: null,
    owner: null,
    matchKeys: [],
    sourceKeys: [],
    before: null,
    after: null,
    ops: null,
    request: null,
    reason: null,
    conflict: null,
  };
}

export function factsOf(records: readonly BoundRecord[], devices: readonly BoundDevice[], keys: readonly KeyId[], owner: string | null = null): ScopeFacts {
  return { records, devices, keys, owner };
}

export const sourceKeysOf = (records: readonly BoundRecord[]): PlanItem['sourceKeys'] => records.map((r) => ({ source: r.record.source, key: r.record.key }));

/** The first owner the records name (the asset's, else the record's). */
export const recordOwner = (records: readonly BoundRecord[]): string | null => records.map((r) => r.record.asset.owner ?? r.record.owner).find((o) => o) ?? null;

/** The first name the records give the asset. */
/** The assets of a conflict by name (their key when they have none): `A / B`, at most three then `+N more`. */
export function conflictLabel(records: readonly BoundRecord[]): string | null {
  const labels = [...new Set(records.map((r) => r.record.asset.name ?? r.record.key))];
  if (labels.length === 0) return null;
  return labels.length <= 3 ? labels.join(' / ') : `${labels.slice(0, 3).join(' / ')} +${labels.length - 3} more`;
}

export const assetName = (records: readonly BoundRecord[]): string | null => records.find((r) => r.record.asset.name)?.record.asset.name ?? null;

/** What a report shows of a device that is not changed field by field. */
export function deviceSummary(device: KicsDevice): Record<string, unknown> {
  return {
    name: device.name,
    status: device.status ?? null,
    category: device.category ?? null,
    addressInformation: device.addressInformation ?? [],
  };
}

/**
 * Whether an item is in the scope: any of its records from a scoped source; its owner (or any of its
 * records' owners), case-insensitive; any of its keys in the address space; any of its devices.
 */
function matchesScope(facts: ScopeFacts, scope: PlanScope, table: KeyTable): boolean {
  if (scope.sources && scope.sources.length > 0 && !facts.records.some((r) => scope.sources!.includes(r.record.source))) return false;
  if (scope.owner !== undefined) {
    const wanted = scope.owner.trim().toLowerCase();
    const owners = [facts.owner, ...facts.records.map((r) => r.record.asset.owner ?? r.record.owner)];
    if (!owners.some((o) => o && o.trim().toLowerCase() === wanted)) return false;
  }
  if (scope.addressSpaceId !== undefined && !facts.keys.some((k) => !table.isName(k) && table.space(k) === scope.addressSpaceId)) return false;
  if (scope.deviceId !== undefined && !facts.devices.some((d) => d.device.id === scope.deviceId)) return false;
  return true;
}

const actionRank = new Map<PlanAction, number>(planActions.map((a, i) => [a, i]));

/** Creates first (uploads to new devices need them), then updates, uploads, archives, deletes, then what is only reported. */
function compareWork(a: Work, b: Work): number {
  const ia = a.item;
  const ib = b.item;
  return (
    actionRank.get(ia.action)! - actionRank.get(ib.action)! ||
    (ia.addressSpaceId ?? Number.MAX_SAFE_INTEGER) - (ib.addressSpaceId ?? Number.MAX_SAFE_INTEGER) ||
    compareText(ia.deviceName ?? '', ib.deviceName ?? '') ||
    (ia.kicsDeviceId ?? 0) - (ib.kicsDeviceId ?? 0) ||
    compareText(sortKeyOf(ia), sortKeyOf(ib))
  );
}

const sortKeyOf = (item: Omit<PlanItem, 'seq'>): string => item.sourceKeys.map((k) => `${k.source}\u0000${k.key}`).join('\u0001') || item.matchKeys.map((k) => k.value).join(',');
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
