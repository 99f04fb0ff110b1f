import { indexAddressSpaces } from '../model/address-space.js';
import { kicsLimits, type DeviceCreateRequest, type KicsDevice } from '../model/kics.js';
import { correlate, type AssetGroup } from './correlate.js';
import { resolvePrecedence, scalarFields } from './fields.js';
import { assetSide, bindDevice, bindRecord, describeKey, deviceSide, matchKeyOf, nameKey, resolveUnboundMacs, type BoundDevice, type BoundRecord } from './identity.js';
import { patchOperations } from './patch.js';
import { planActions, type Conflict, type ConflictKind, type PlanAction, type PlanItem, type PlanOptions, type PlanScope, type PlanValue } from './plan-schema.js';
import { summarize } from './summary.js';
import { RecordsBySource, computeTarget, mergeAddresses, sourceInterfaces, targetAttributes, targetLabels, toAddressInformation, type Target } from './target.js';
import type { ReconcileInput } from './types.js';

/**
 * The reconciler: staged records and the KICS snapshot in, a plan out. Pure: no files, database,
 * network or clock (`now` is an input). Linear in records + devices: every lookup is a hash map keyed
 * by (address space, MAC), (address space, IP) or name, and the only sort is of the final items.
 *
 * Steps: bind addresses to address spaces -> correlate records across sources -> match each asset
 * to KICS devices -> resolve devices claimed by several assets -> per asset, precedence and
 * staleness give a target, and the difference with the device gives the items -> name uniqueness ->
 * unknown devices -> scope -> order and number the items -> summary.
 */

/** What an item concerns, checked against `plan --source/--owner/--address-space/--device` (references, no copies). */
interface ScopeFacts {
  records: readonly BoundRecord[];
  devices: readonly BoundDevice[];
  keys: readonly string[];
  owner: string | null;
}

interface Work {
  item: Omit<PlanItem, 'seq'>;
  facts: ScopeFacts;
  /** For an upload to a device this plan creates: the create. */
  create?: Work;
  seq?: number;
}

const actionRank = new Map<PlanAction, number>(planActions.map((a, i) => [a, i]));
const dayMs = 86_400_000;

export function reconcile(input: ReconcileInput): PlanValue {
  const { config } = input;
  const sourceNames = input.sources.map((s) => s.name);
  const precedence = resolvePrecedence(config.precedence, sourceNames);
  const spaces = indexAddressSpaces(input.addressSpaces);
  const spaceName = (id: number | null): string => {
    if (id === null) return 'no address space';
    const space = spaces.find(id);
    return space ? `address space ${JSON.stringify(space.name)}` : `address space ${id}`;
  };
  const sourceRank = new Map(input.sources.map((s, i) => [s.name, i]));
  const staleAfter = new Map(input.sources.filter((s) => s.staleAfterDays !== undefined).map((s) => [s.name, s.staleAfterDays!]));
  const isStale = (bound: BoundRecord): boolean => {
    const days = staleAfter.get(bound.record.source);
    if (days === undefined) return false;
    return bound.record.confirmedAt === null || input.now.getTime() - bound.record.confirmedAt.getTime() > days * dayMs;
  };

  const scope = input.scope ?? {};
  const scoped = Boolean(scope.sources?.length) || scope.owner !== undefined || scope.addressSpaceId !== undefined || scope.deviceId !== undefined;

  // 1. Identity: records and devices bound to address spaces.
  const boundRecords: BoundRecord[] = [];
  const recordCounts: Record<string, number> = Object.fromEntries(sourceNames.map((n) => [n, 0]));
  for (const record of input.records) {
    const rank = sourceRank.get(record.source);
    if (rank === undefined) continue;
    recordCounts[record.source] = (recordCounts[record.source] ?? 0) + 1;
    boundRecords.push(bindRecord(record, rank, spaces, config.matchByName));
  }
  const devices: BoundDevice[] = input.devices.map(bindDevice);
  resolveUnboundMacs(boundRecords, devices);
  // One number per key (an array only where KICS itself holds a key twice): 100,000 devices make
  // about 200,000 keys, and an array per key would be garbage-collector work for nothing.
  const deviceByKey = new Map<string, number | number[]>();
  const deviceByName = new Map<string, number | number[]>();
  devices.forEach((bound, index) => {
    for (const key of bound.addressKeys) addHit(deviceByKey, key, index);
    addHit(deviceByName, bound.device.name, index);
  });
  const holds = (key: string, index: number): boolean => {
    const hit = deviceByKey.get(key);
    return hit === index || (Array.isArray(hit) && hit.includes(index));
  };

  // 2. Correlation between sources.
  const groups = correlate(boundRecords, spaceName);

  // 3. Matching each asset to KICS devices.
  const works: Work[] = [];
  const involved = new Uint8Array(devices.length);
  const claims = new Array<{ group: AssetGroup; keys: string[] }[] | undefined>(devices.length);
  const newGroups: AssetGroup[] = [];
  const conflict = (kind: ConflictKind, reason: string, groupList: readonly AssetGroup[], deviceIndexes: Iterable<number>, keys: readonly string[]): void => {
    const indexes = [...new Set(deviceIndexes)].sort((a, b) => devices[a]!.device.id - devices[b]!.device.id);
    for (const i of indexes) involved[i] = 1;
    const deviceList = indexes.map((i) => devices[i]!);
    const records = groupList.flatMap((g) => g.records);
    const body: Conflict = { kind, reason, assets: records.map(assetSide), devices: deviceList.map(deviceSide) };
    const firstKey = keys.find((k) => !k.startsWith('n|'));
    works.push({
      item: {
        ...emptyItem('conflict', 'not_applicable'),
        kicsDeviceId: deviceList.length === 1 ? deviceList[0]!.device.id : null,
        deviceName: deviceList[0]?.device.name ?? records.find((r) => r.record.asset.name)?.record.asset.name ?? null,
        addressSpaceId: firstKey ? matchKeyOf(firstKey).space : null,
        owner: records.map((r) => r.record.asset.owner ?? r.record.owner).find((o) => o) ?? null,
        matchKeys: keys.map(matchKeyOf),
        sourceKeys: records.map((r) => ({ source: r.record.source, key: r.record.key })),
        reason,
        conflict: body,
      },
      facts: factsOf(records, deviceList, keys),
    });
  };

  const keysOf = (group: AssetGroup, index: number): string[] => group.keys.filter((k) => holds(k, index));
  const archived = (i: number): boolean => devices[i]!.archived;
  const active = (i: number): boolean => !devices[i]!.archived;
  for (const group of groups) {
    let macHits: number[] = [];
    let ipHits: number[] = [];
    for (const key of group.keys) {
      const hit = deviceByKey.get(key);
      if (hit === undefined) continue;
      const list = key.startsWith('m|') ? macHits : ipHits;
      for (const i of typeof hit === 'number' ? [hit] : hit) if (!list.includes(i)) list.push(i);
    }
    // An archived device is a retired record: it counts only when no active device has the key.
    if ((macHits.some(archived) || ipHits.some(archived)) && (macHits.some(active) || ipHits.some(active))) {
      macHits = macHits.filter(active);
      ipHits = ipHits.filter(active);
    }
    const keysFor = (index: number): string[] => keysOf(group, index);

    if (group.problems.length > 0) {
      const first = group.problems[0]!;
      const reason = group.problems.map((p) => p.reason).join('; ');
      conflict(first.kind, reason, [group], [...macHits, ...ipHits], group.keys);
      continue;
    }
    if (macHits.length > 1 || (macHits.length === 0 && ipHits.length > 1)) {
      const hits = [...macHits, ...ipHits];
      const reason = `the asset matches ${new Set(hits).size} KICS devices: ${[...new Set(hits)].map((i) => `${devices[i]!.device.id} by ${keysFor(i).map((k) => describeKey(k, spaceName)).join(', ')}`).join('; ')}`;
      conflict('several_devices', reason, [group], hits, group.keys);
      continue;
    }
    if (macHits.length === 1) {
      const byMac = macHits[0]!;
      const others = ipHits.filter((i) => i !== byMac);
      if (others.length > 0) {
        const reason = `${keysFor(byMac).filter((k) => k.startsWith('m|')).map((k) => describeKey(k, spaceName)).join(', ')} is on device ${devices[byMac]!.device.id}, but ${others
          .map((i) => `${keysFor(i).map((k) => describeKey(k, spaceName)).join(', ')} is on device ${devices[i]!.device.id}`)
          .join(' and ')}`;
        conflict('mac_ip_split', reason, [group], [byMac, ...others], group.keys);
        continue;
      }
      (claims[byMac] ??= []).push({ group, keys: keysOf(group, byMac) });
      continue;
    }
    if (ipHits.length === 1) {
      const byIp = ipHits[0]!;
      (claims[byIp] ??= []).push({ group, keys: keysOf(group, byIp) });
      continue;
    }
    if (config.matchByName) {
      const names = [...new Set(group.records.map((r) => r.record.asset.name?.trim()).filter((n): n is string => !!n))];
      let hits = names.flatMap((n) => {
        const hit = deviceByName.get(n);
        return hit === undefined ? [] : typeof hit === 'number' ? [hit] : hit;
      });
      if (hits.some((i) => !devices[i]!.archived)) hits = hits.filter((i) => !devices[i]!.archived);
      hits = [...new Set(hits)];
      if (hits.length > 1) {
        conflict('several_devices', `the asset's name matches ${hits.length} KICS devices: ${hits.map((i) => devices[i]!.device.id).join(', ')}`, [group], hits, group.keys);
        continue;
      }
      if (hits.length === 1) {
        const byName = hits[0]!;
        (claims[byName] ??= []).push({ group, keys: [nameKey(devices[byName]!.device.name)] });
        continue;
      }
    }
    newGroups.push(group);
  }

  // 4. A device several assets claim is left alone: each of them could be right.
  const matched: { group: AssetGroup; device: number; keys: string[] }[] = [];
  for (let index = 0; index < claims.length; index += 1) {
    const list = claims[index];
    if (!list) continue;
    if (list.length === 1) {
      matched.push({ group: list[0]!.group, device: index, keys: list[0]!.keys });
      continue;
    }
    const keys = list.flatMap((c) => c.keys);
    const reason = `${list.length} assets match device ${devices[index]!.device.id}: ${list
      .map((c) => `${c.group.records.map((r) => `${r.record.source} ${JSON.stringify(r.record.key)}`).join(' + ')} by ${c.keys.map((k) => describeKey(k, spaceName)).join(', ')}`)
      .join('; ')}`;
    conflict(
      'several_assets',
      reason,
      list.map((c) => c.group),
      [index],
      keys,
    );
  }

  // 5. Per asset: precedence and staleness give the target; its difference with the device gives the items.
  const tally = { unchanged: [] as { facts: ScopeFacts | null; space: number | null }[], notCreated: 0 };
  const proposals: { work: Work; name: string; device: number | null; records: readonly BoundRecord[] }[] = [];
  const targetOptions = { precedence, managedAttributes: config.managedAttributes, labels: config.labels, vendorFromMac: config.vendorFromOui ? input.vendorFromMac : undefined };

  const staleWork = (group: AssetGroup, device: BoundDevice | null, keys: readonly string[]): Work => {
    const records = group.records;
    const reason = records
      .map((r) => {
        const days = staleAfter.get(r.record.source)!;
        const when = r.record.confirmedAt ? `last confirmed ${r.record.confirmedAt.toISOString()}` : 'never confirmed';
        return `${r.record.source} ${JSON.stringify(r.record.key)} ${when}, more than ${days} days ago`;
      })
      .join('; ');
    return {
      item: {
        ...emptyItem('stale', 'not_applicable'),
        kicsDeviceId: device?.device.id ?? null,
        deviceName: device?.device.name ?? records.find((r) => r.record.asset.name)?.record.asset.name ?? null,
        addressSpaceId: primarySpace(keys),
        owner: records.map((r) => r.record.asset.owner ?? r.record.owner).find((o) => o) ?? null,
        matchKeys: keys.map(matchKeyOf),
        sourceKeys: records.map((r) => ({ source: r.record.source, key: r.record.key })),
        reason: `not touched: ${reason}`,
      },
      facts: factsOf(records, device ? [device] : [], keys),
    };
  };

  const configUpload = (target: Target, records: readonly BoundRecord[], device: BoundDevice | null, keys: readonly string[], baseOf: () => Partial<PlanItem>): Work | null => {
    if (!target.industrialConfig) return null;
    const base = baseOf();
    const file = input.configFiles?.get(target.industrialConfig);
    const facts = factsOf(records, device ? [device] : [], keys);
    if (!file || !file.ok) {
      const reason = file ? file.reason : `industrial configuration ${JSON.stringify(target.industrialConfig)} was not checked (no file information given)`;
      const body: Conflict = { kind: 'config_file_rejected', reason, assets: records.map(assetSide), devices: device ? [deviceSide(device)] : [] };
      return { item: { ...emptyItem('conflict', 'not_applicable'), ...base, reason, conflict: body }, facts };
    }
    const last = device ? input.lastUploads?.get(device.device.id) : undefined;
    if (last && last.contentHash === file.contentHash) return null;
    return {
      item: {
        ...emptyItem('upload_config', 'pending'),
        ...base,
        before: last ? { industrialConfig: { path: last.path, contentHash: last.contentHash } } : null,
        after: { industrialConfig: { path: file.path, contentHash: file.contentHash } },
        request: { mode: config.industrialConfig.mode, path: file.path, resolvedPath: file.resolvedPath, contentHash: file.contentHash, size: file.size },
        reason: last ? `content differs from the configuration uploaded last (${last.path})` : 'no configuration uploaded yet',
      },
      facts,
    };
  };

  for (const { group, device: index, keys } of matched) {
    const device = devices[index]!;
    involved[index] = 1;
    const fresh = staleAfter.size === 0 ? group.records : group.records.filter((r) => !isStale(r));
    if (fresh.length === 0) {
      works.push(staleWork(group, device, keys));
      continue;
    }
    const freshBySource = new RecordsBySource(fresh);
    const target = computeTarget(freshBySource, device.device, firstMac(device, fresh), targetOptions);
    const facts = factsOf(group.records, [device], keys, target.owner);
    // Built only for the assets that produce an item; most assets of a large plan are unchanged.
    let base: Pick<PlanItem, 'kicsDeviceId' | 'deviceName' | 'addressSpaceId' | 'owner' | 'matchKeys' | 'sourceKeys'> | undefined;
    const baseOf = (): NonNullable<typeof base> =>
      (base ??= {
        kicsDeviceId: device.device.id,
        deviceName: device.device.name,
        addressSpaceId: primarySpace(keys),
        owner: target.owner,
        matchKeys: keys.map(matchKeyOf),
        sourceKeys: group.records.map((r) => ({ source: r.record.source, key: r.record.key })),
      });
    const retiredBy = fresh.find((r) => r.record.asset.retired)?.record.source ?? 'a source';

    if (target.retired) {
      if (config.allowDelete) {
        works.push({
          item: { ...emptyItem('delete', 'pending'), ...baseOf(), before: deviceSummary(device.device), reason: `${retiredBy} marks the asset as retired and reconcile.allowDelete is on: the device will be DELETED from KICS` },
          facts,
        });
      } else if (config.archiveRetired && device.device.status !== 'Archived') {
        works.push({
          item: {
            ...emptyItem('archive', 'pending'),
            ...baseOf(),
            before: { status: device.device.status ?? null },
            after: { status: 'Archived' },
            ops: patchOperations({ status: device.device.status ?? null }, { status: 'Archived' }),
            reason: `${retiredBy} marks the asset as retired`,
          },
          facts,
        });
      } else tally.unchanged.push({ facts: scoped ? facts : null, space: primarySpace(keys) });
      continue;
    }

    const before: Record<string, unknown> = {};
    const after: Record<string, unknown> = {};
    const current = device.device as Record<string, unknown>;
    for (const field of scalarFields) {
      if (!(field in target.fields)) continue;
      const value = target.fields[field];
      if (value !== (current[field] ?? null)) {
        before[field] = current[field] ?? null;
        after[field] = value;
      }
    }
    const labels = targetLabels(device.device.labels, target, config.labels);
    if (labels) {
      before.labels = device.device.labels ?? null;
      after.labels = labels;
    }
    const attributes = targetAttributes(device.device.userAttributes, target, config.managedAttributes);
    if (attributes) {
      before.userAttributes = device.device.userAttributes ?? null;
      after.userAttributes = attributes;
    }
    const addresses = mergeAddresses(device, sourceInterfaces(fresh));
    if (addresses.after) {
      before.addressInformation = device.device.addressInformation ?? null;
      after.addressInformation = addresses.after;
    }
    const notes: string[] = [];
    if (addresses.interfacesLeftOut > 0) {
      notes.push(`${addresses.interfacesLeftOut} interface(s) not added: the device has ${device.device.addressInformation?.length ?? 0} and KICS allows at most ${kicsLimits.maxInterfacesPerDevice}`);
    }
    const changedFields = Object.keys(after);
    if (changedFields.length > 0) {
      const work: Work = {
        item: {
          ...emptyItem('update', 'pending'),
          ...baseOf(),
          before,
          after,
          ops: patchOperations(before, after, { appendLabels: config.labels === 'add' }),
          reason: [`${changedFields.map((f) => `${f} from ${target.from[f] ?? freshBySource.names()}`).join(', ')}`, ...notes].join('; '),
        },
        facts,
      };
      works.push(work);
      if ('name' in after) proposals.push({ work, name: after.name as string, device: index, records: group.records });
    } else if (notes.length > 0) {
      const reason = notes.join('; ');
      works.push({
        item: { ...emptyItem('conflict', 'not_applicable'), ...baseOf(), reason, conflict: { kind: 'too_many_interfaces', reason, assets: group.records.map(assetSide), devices: [deviceSide(device)] } },
        facts,
      });
    } else tally.unchanged.push({ facts: scoped ? facts : null, space: primarySpace(keys) });

    const upload = configUpload(target, group.records, device, keys, baseOf);
    if (upload) works.push(upload);
  }

  for (const group of newGroups) {
    const keys = group.keys;
    const fresh = staleAfter.size === 0 ? group.records : group.records.filter((r) => !isStale(r));
    if (fresh.length === 0) {
      works.push(staleWork(group, null, keys));
      continue;
    }
    const freshBySource = new RecordsBySource(fresh);
    const interfaces = sourceInterfaces(fresh);
    const target = computeTarget(freshBySource, null, interfaces.find((i) => i.mac !== null)?.mac ?? null, targetOptions);
    if (target.retired || !config.createDevices) {
      tally.notCreated += 1;
      continue;
    }
    const name = typeof target.fields.name === 'string' ? target.fields.name.trim() : '';
    const facts = factsOf(group.records, [], keys, target.owner);
    const base = {
      deviceName: name || null,
      addressSpaceId: primarySpace(keys),
      owner: target.owner,
      matchKeys: keys.map(matchKeyOf),
      sourceKeys: group.records.map((r) => ({ source: r.record.source, key: r.record.key })),
    };
    const problem =
      name === ''
        ? ({ kind: 'incomplete_asset', reason: 'no source gives the asset a name, and KICS needs one to create a device' } as const)
        : interfaces.length === 0
          ? ({ kind: 'incomplete_asset', reason: 'the asset has no usable MAC or IP address, and KICS needs one to create a device' } as const)
          : interfaces.length > kicsLimits.maxInterfacesPerDevice
            ? ({ kind: 'too_many_interfaces', reason: `the asset has ${interfaces.length} interfaces; KICS allows at most ${kicsLimits.maxInterfacesPerDevice} per device` } as const)
            : null;
    if (problem) {
      works.push({ item: { ...emptyItem('conflict', 'not_applicable'), ...base, reason: problem.reason, conflict: { ...problem, assets: group.records.map(assetSide), devices: [] } }, facts });
      continue;
    }
    const request: DeviceCreateRequest = {
      whatIfDuplicate: config.whatIfDuplicate,
      allowProcessControlSettingsLoss: config.allowProcessControlSettingsLoss,
      name,
      addressInformation: interfaces.map(toAddressInformation),
    };
    for (const field of scalarFields) {
      const value = target.fields[field];
      if (field !== 'name' && value !== undefined && value !== null) (request as unknown as Record<string, unknown>)[field] = value;
    }
    if (target.labels && target.labels.length > 0) request.labels = target.labels;
    const attributes = targetAttributes([], target, config.managedAttributes);
    if (attributes && attributes.length > 0) request.userAttributes = attributes;
    const { whatIfDuplicate: _w, allowProcessControlSettingsLoss: _a, ...after } = request;
    const work: Work = {
      item: {
        ...emptyItem('create', 'pending'),
        ...base,
        after,
        request,
        reason: `new in ${[...new Set(fresh.map((r) => r.record.source))].join(', ')}; not in KICS`,
      },
      facts,
    };
    works.push(work);
    proposals.push({ work, name, device: null, records: group.records });
    const upload = configUpload(target, group.records, null, keys, () => base);
    if (upload) {
      if (upload.item.action === 'upload_config') upload.create = work;
      works.push(upload);
    }
  }

  // 6. KICS names are unique: a create or rename to a name already taken would fail or overwrite.
  const proposedNames = new Map<string, number>();
  for (const p of proposals) proposedNames.set(p.name, (proposedNames.get(p.name) ?? 0) + 1);
  const dropped = new Set<Work>();
  for (const p of proposals) {
    const held = deviceByName.get(p.name);
    const holders = (held === undefined ? [] : typeof held === 'number' ? [held] : held).filter((i) => i !== p.device);
    const twice = (proposedNames.get(p.name) ?? 0) > 1;
    if (holders.length === 0 && !twice) continue;
    const reason = holders.length > 0 ? `name ${JSON.stringify(p.name)} is already used by device ${holders.map((i) => devices[i]!.device.id).join(', ')}` : `name ${JSON.stringify(p.name)} is planned for several assets`;
    const item = p.work.item;
    dropped.add(p.work);
    for (const i of holders) involved[i] = 1;
    const deviceList = [...(p.device !== null ? [devices[p.device]!] : []), ...holders.map((i) => devices[i]!)];
    works.push({
      item: { ...item, action: 'conflict', status: 'not_applicable', before: null, after: null, ops: null, request: null, reason, conflict: { kind: 'duplicate_name', reason, assets: p.records.map(assetSide), devices: deviceList.map(deviceSide) } },
      facts: p.work.facts,
    });
  }

  // 7. Devices no source knows.
  let archivedUnmatched = 0;
  devices.forEach((device, index) => {
    if (involved[index]) return;
    if (device.archived) {
      archivedUnmatched += 1;
      return;
    }
    const keys = device.addressKeys;
    works.push({
      item: {
        ...emptyItem('unknown', 'not_applicable'),
        kicsDeviceId: device.device.id,
        deviceName: device.device.name,
        addressSpaceId: primarySpace(keys),
        matchKeys: keys.map(matchKeyOf),
        before: deviceSummary(device.device),
        reason: 'in KICS, in no source',
      },
      facts: factsOf([], [device], keys),
    });
  });

  // 8. Scope, order, numbers.
  const inScope = (facts: ScopeFacts): boolean => !scoped || matchesScope(facts, scope);
  const kept = works.filter((w) => !dropped.has(w) && !(w.create && dropped.has(w.create)) && inScope(w.facts));
  kept.sort(compareWork);
  kept.forEach((w, i) => (w.seq = i + 1));
  const items: PlanItem[] = kept.map((w) => {
    const item: PlanItem = { seq: w.seq!, ...w.item };
    if (w.create && item.request && 'resolvedPath' in item.request) item.request = { ...item.request, createSeq: w.create.seq! };
    return item;
  });
  if (scoped) tally.unchanged = tally.unchanged.filter((u) => inScope(u.facts!));

  const options: PlanOptions = {
    precedence,
    managedAttributes: [...config.managedAttributes],
    labels: config.labels,
    whatIfDuplicate: config.whatIfDuplicate,
    allowProcessControlSettingsLoss: config.allowProcessControlSettingsLoss,
    createDevices: config.createDevices,
    archiveRetired: config.archiveRetired,
    allowDelete: config.allowDelete,
    matchByName: config.matchByName,
    vendorFromOui: config.vendorFromOui,
    industrialConfigMode: config.industrialConfig.mode,
    staleAfterDays: Object.fromEntries(staleAfter),
  };
  const summary = summarize(items, {
    unchanged: tally.unchanged.map((u) => u.space),
    notCreated: tally.notCreated,
    records: recordCounts,
    devices: devices.length,
    archivedUnmatched,
    spaceName: (id) => spaces.find(id)?.name ?? `address space ${id}`,
  });
  return {
    header: {
      id: null,
      status: 'draft',
      createdAt: input.now.toISOString(),
      scope: cleanScope(scope),
      options,
      basis: input.basis ?? { kics: 0, sources: {} },
      summary,
      reportPath: null,
    },
    items,
  };
}

function emptyItem(action: PlanAction, status: PlanItem['status']): Omit<PlanItem, 'seq'> {
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

/** The address space an item is filed under: that of its first MAC or IP key. */
function primarySpace(keys: readonly string[]): number | null {
  const key = keys.find((k) => !k.startsWith('n|'));
  return key ? matchKeyOf(key).space : null;
}

function addHit(map: Map<string, number | number[]>, key: string, index: number): void {
  const hit = map.get(key);
  if (hit === undefined) map.set(key, index);
  else if (typeof hit === 'number') map.set(key, [hit, index]);
  else hit.push(index);
}

function factsOf(records: readonly BoundRecord[], devices: readonly BoundDevice[], keys: readonly string[], owner: string | null = null): ScopeFacts {
  return { records, devices, keys, owner };
}

/**
 * Whether an item is in the scope: any of its records from a scoped source; its owner (or any of its
 * records' owners), case-insensitive; any of its keys in the address space; any of its devices.
 */
function matchesScope(facts: ScopeFacts, scope: PlanScope): boolean {
  if (scope.sources && scope.sources.length > 0 && !facts.records.some((r) => scope.sources!.includes(r.record.source))) return false;
  if (scope.owner !== undefined) {
    const wanted = scope.owner.trim().toLowerCase();
    const owners = [facts.owner, ...facts.records.map((r) => r.record.asset.owner ?? r.record.owner)];
    if (!owners.some((o) => o && o.trim().toLowerCase() === wanted)) return false;
  }
  if (scope.addressSpaceId !== undefined && !facts.keys.some((k) => !k.startsWith('n|') && matchKeyOf(k).space === scope.addressSpaceId)) return false;
  if (scope.deviceId !== undefined && !facts.devices.some((d) => d.device.id === scope.deviceId)) return false;
  return true;
}

function cleanScope(scope: PlanScope): PlanScope {
  const clean: PlanScope = {};
  if (scope.sources && scope.sources.length > 0) clean.sources = [...scope.sources];
  if (scope.owner !== undefined) clean.owner = scope.owner;
  if (scope.addressSpaceId !== undefined) clean.addressSpaceId = scope.addressSpaceId;
  if (scope.deviceId !== undefined) clean.deviceId = scope.deviceId;
  return clean;
}

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

/** The first identity MAC of an asset, for the vendor of its OUI. */
function firstMac(device: BoundDevice, records: readonly BoundRecord[]): string | null {
  for (const r of records) for (const i of r.interfaces) if (i.mac !== null) return i.mac;
  return device.interfaces.find((i) => i.mac !== null)?.mac ?? null;
}

/** What a report shows of a device that is not changed field by field. */
function deviceSummary(device: KicsDevice): Record<string, unknown> {
  return {
    name: device.name,
    status: device.status ?? null,
    category: device.category ?? null,
    addressInformation: device.addressInformation ?? [],
  };
}
