import type { BoundRecord } from './identity.js';
import { recordId } from './decisions.js';
import type { KeyId, KeyTable } from './keys.js';
import type { ConflictKind } from './plan-schema.js';
import type { SameAssetDecision } from './types.js';

/**
 * Correlation between sources: records that share an identity key (the same asset in a CSV and in
 * NetBox) form one asset. Union-find over an array indexed by key: linear in the number of keys.
 * Records without any MAC / IP join others by name only when names match (reconcile.matchByName).
 * Records an owner declared one asset (a `same_asset` decision) are one, shared key or not, and a
 * source listing that asset twice is then no duplicate.
 */

export interface GroupProblem {
  kind: Extract<ConflictKind, 'duplicate_identity' | 'sources_disagree' | 'ambiguous_address_space' | 'unknown_address_space'>;
  reason: string;
}

export interface AssetGroup {
  /** The records, in source config order (the default precedence order). */
  records: BoundRecord[];
  /** Every MAC / IP key of the records, then the name keys, then the candidate keys of ambiguous addresses. */
  keys: readonly KeyId[];
  problems: readonly GroupProblem[];
}

class UnionFind {
  private readonly parent: Int32Array;
  private readonly rank: Uint8Array;
  constructor(size: number) {
    this.parent = new Int32Array(size);
    this.rank = new Uint8Array(size);
    for (let i = 0; i < size; i += 1) this.parent[i] = i;
  }
  find(i: number): number {
    let root = i;
    while (this.parent[root] !== root) root = this.parent[root]!;
    while (this.parent[i] !== root) {
      const next = this.parent[i]!;
      this.parent[i] = root;
      i = next;
    }
    return root;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    const [low, high] = this.rank[ra]! < this.rank[rb]! ? [ra, rb] : [rb, ra];
    this.parent[low] = high;
    if (this.rank[ra] === this.rank[rb]) this.rank[high] = this.rank[high]! + 1;
  }
}

export function correlate(records: readonly BoundRecord[], keys: KeyTable, spaceName: (id: number | null) => string, sameAssets: readonly SameAssetDecision[] = []): AssetGroup[] {
  const sets = new UnionFind(records.length);
  // Each record an owner declared part of one asset, with that decision.
  const declared = new Map<BoundRecord, number>();
  if (sameAssets.length > 0) {
    const indexOf = new Map(records.map((r, i) => [recordId(r.record.source, r.record.key), i]));
    for (const decision of sameAssets) {
      const members = decision.records.map((k) => indexOf.get(recordId(k.source, k.key))).filter((i): i is number => i !== undefined);
      for (const i of members) {
        sets.union(members[0]!, i);
        declared.set(records[i]!, decision.id);
      }
    }
  }
  // The first record holding each key.
  const first = new Int32Array(keys.size).fill(-1);
  records.forEach((bound, index) => {
    for (const key of bound.addressKeys) {
      if (first[key] === -1) first[key] = index;
      else sets.union(first[key]!, index);
    }
  });
  // Names join only records that have no address of their own to go by.
  records.forEach((bound, index) => {
    if (bound.nameKey !== null && bound.addressKeys.length > 0 && first[bound.nameKey] === -1) first[bound.nameKey] = index;
  });
  records.forEach((bound, index) => {
    if (bound.nameKey === null || bound.addressKeys.length > 0) return;
    if (first[bound.nameKey] === -1) first[bound.nameKey] = index;
    else sets.union(first[bound.nameKey]!, index);
  });

  // Records in groups, a group per root, in the order of each group's first record.
  const groupOf = new Int32Array(records.length).fill(-1);
  const members: BoundRecord[][] = [];
  records.forEach((bound, index) => {
    const root = sets.find(index);
    if (groupOf[root] === -1) {
      groupOf[root] = members.length;
      members.push([bound]);
    } else members[groupOf[root]!]!.push(bound);
  });

  return members.map((list) => (list.length === 1 ? singleRecordGroup(list[0]!) : severalRecordsGroup(list, keys, spaceName, declared)));
}

/** Most assets are one record: its keys and problems as they are. */
function singleRecordGroup(record: BoundRecord): AssetGroup {
  const keys = record.nameKey === null && record.candidateKeys.length === 0 ? record.addressKeys : distinct([record.addressKeys, record.nameKey !== null ? [record.nameKey] : [], record.candidateKeys]);
  return { records: [record], keys, problems: record.problems };
}

function severalRecordsGroup(members: BoundRecord[], table: KeyTable, spaceName: (id: number | null) => string, declared: ReadonlyMap<BoundRecord, number>): AssetGroup {
  members.sort((a, b) => a.sourceRank - b.sourceRank || (a.record.key < b.record.key ? -1 : a.record.key > b.record.key ? 1 : 0));
  const keys = distinct([members.flatMap((m) => m.addressKeys), members.flatMap((m) => (m.nameKey !== null ? [m.nameKey] : [])), members.flatMap((m) => m.candidateKeys)]);
  return { records: members, keys, problems: groupProblems(members, table, spaceName, declared) };
}

/** The keys of the lists, each once, in order. */
function distinct(lists: readonly (readonly KeyId[])[]): KeyId[] {
  return [...new Set(lists.flat())];
}

/** What makes a correlated asset untrustworthy as one identity. */
function groupProblems(members: readonly BoundRecord[], table: KeyTable, spaceName: (id: number | null) => string, declared: ReadonlyMap<BoundRecord, number>): GroupProblem[] {
  const problems: GroupProblem[] = members.flatMap((m) => m.problems);

  // Several records of one source claiming the same key: that source lists one identity twice.
  const bySource = new Map<string, BoundRecord[]>();
  for (const m of members) {
    const list = bySource.get(m.record.source);
    if (list) list.push(m);
    else bySource.set(m.record.source, [m]);
  }
  for (const [source, list] of bySource) {
    if (list.length < 2) continue;
    // An owner said these records are one asset: the source lists it twice on purpose.
    const decision = declared.get(list[0]!);
    if (decision !== undefined && list.every((m) => declared.get(m) === decision)) continue;
    const owners = new Map<KeyId, string>();
    let shared: { key: KeyId; a: string; b: string } | null = null;
    for (const m of list) {
      for (const key of [...m.addressKeys, ...(m.nameKey !== null ? [m.nameKey] : [])]) {
        const other = owners.get(key);
        if (other !== undefined && other !== m.record.key) {
          shared ??= { key, a: other, b: m.record.key };
        } else owners.set(key, m.record.key);
      }
    }
    const keys = list.map((m) => JSON.stringify(m.record.key)).join(', ');
    problems.push({
      kind: 'duplicate_identity',
      reason: shared
        ? `${source} records ${JSON.stringify(shared.a)} and ${JSON.stringify(shared.b)} both claim ${table.describe(shared.key, spaceName)}`
        : `${source} records ${keys} describe one asset`,
    });
  }

  // Sources disagreeing on an identity field: one IP held by different MACs.
  const macsByIp = new Map<KeyId, Map<KeyId, { source: string; mac: string }>>();
  for (const m of members) {
    for (const iface of m.interfaces) {
      if (iface.mac === null) continue;
      for (const ip of iface.ips) {
        const key = table.ip(ip.space, ip.ip);
        let macs = macsByIp.get(key);
        if (!macs) macsByIp.set(key, (macs = new Map<KeyId, { source: string; mac: string }>()));
        const mac = table.mac(iface.macSpace, iface.mac);
        if (!macs.has(mac)) macs.set(mac, { source: m.record.source, mac: iface.mac });
      }
    }
  }
  for (const [key, macs] of macsByIp) {
    const claims = [...macs.values()];
    if (claims.length > 1 && new Set(claims.map((c) => c.source)).size > 1) {
      problems.push({ kind: 'sources_disagree', reason: `${table.describe(key, spaceName)} belongs to different MACs: ${claims.map((c) => `${c.source} says ${c.mac}`).join(', ')}` });
    }
  }
  return problems;
}
