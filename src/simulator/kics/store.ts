import { kicsLimits, type AssetStatus } from '../../model/kics.js';
import type { AddressSpaceRegistry } from './address-spaces.js';
import { errorItem, type DeviceInput, type InterfaceInput } from './device-input.js';
import { confidenceFields, deviceAddresses, deviceTextFields, jsonEqual, processControlAddresses, userConfidence, type SimDevice, type SimInterface, type SimProcessControlSettings } from './device.js';
import { httpError, validationError, type KicsErrorItem } from './http.js';
import { formatKicsTime, type MonotonicClock } from './time.js';

/** Device caps of a KICS server (tests may lower them to prove the rule). */
export interface DeviceLimits {
  /** Authorized (Recognized) + Unauthorized devices. */
  maxActiveDevices: number;
  maxArchivedDevices: number;
}

export const defaultDeviceLimits: DeviceLimits = { maxActiveDevices: kicsLimits.maxActiveDevices, maxArchivedDevices: kicsLimits.maxArchivedDevices };

/** A tag of a device's industrial configuration (see industrial-config.ts). */
export interface IndustrialTag {
  protocol: string;
  name: string;
  address: string;
  dataType: string;
  description: string | null;
  measureUnit: string | null;
  /** Process control rules that use the tag. */
  rules: string[];
}

/** Why a create matched an existing device. */
export interface DuplicateMatch {
  deviceId: number;
  matchedBy: 'Name' | 'MacAddress' | 'IpAddress';
  value: string;
  addressSpaceId?: number | null;
}

/** A change to apply: the fields as validated, plus how to treat the industrial configuration. */
export interface WriteOptions {
  /** Whether the change may drop addresses the device's industrial configuration refers to. */
  allowProcessControlSettingsChange: boolean;
  /** The name of the flag, for the refusal message. */
  flagName: string;
}

export interface ChangeResult {
  device: SimDevice;
  changed: boolean;
}

const activeStatuses: readonly AssetStatus[] = ['Recognized', 'Unauthorized'];
const isActive = (status: AssetStatus): boolean => activeStatuses.includes(status);

/**
 * The devices of the simulated KICS server and the indexes that keep its rules cheap at 100,000
 * devices: by id (plus the ids in ascending order, for `Id >` range reads), by name, by
 * (address space, MAC) and by (address space, IP). Unique names, addresses owned by one device,
 * the device caps and `lastModified` on every change are enforced here, for the API and the admin
 * endpoint alike. Devices are replaced, never mutated.
 */
export class DeviceStore {
  private readonly devices = new Map<number, SimDevice>();
  private readonly ids: number[] = [];
  private readonly byName = new Map<string, number>();
  private readonly byMac = new Map<string, number>();
  private readonly byIp = new Map<string, number>();
  private readonly industrialTags = new Map<number, Map<string, IndustrialTag>>();
  private activeCount = 0;
  private archivedCount = 0;
  private nextDeviceId = 1;
  private nextInterfaceId = 1;
  private nextIpId = 1;
  private nextProtocolId = 1;
  readonly limits: DeviceLimits;

  constructor(
    readonly addressSpaces: AddressSpaceRegistry,
    readonly clock: MonotonicClock,
    limits: Partial<DeviceLimits> = {},
  ) {
    this.limits = { ...defaultDeviceLimits, ...limits };
  }

  get size(): number {
    return this.devices.size;
  }

  counts(): { active: number; archived: number; total: number } {
    return { active: this.activeCount, archived: this.archivedCount, total: this.devices.size };
  }

  get(id: number): SimDevice | undefined {
    return this.devices.get(id);
  }

  /** Device ids in ascending order (read-only view; do not keep across changes). */
  orderedIds(): readonly number[] {
    return this.ids;
  }

  /** Index in `orderedIds()` of the first id >= `id`. */
  lowerBound(id: number): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** All devices in id order. */
  *all(): IterableIterator<SimDevice> {
    for (const id of this.ids) yield this.devices.get(id)!;
  }

  /** The device that owns a name, a MAC or an IP (in an address space), if any. */
  ownerOfName(name: string): number | undefined {
    return this.byName.get(name);
  }
  ownerOfMac(spaceId: number | null, mac: string): number | undefined {
    return this.byMac.get(`${spaceId ?? ''}|${mac}`);
  }
  ownerOfIp(spaceId: number | null, ip: string): number | undefined {
    return this.byIp.get(`${spaceId ?? ''}|${ip}`);
  }

  /** Next ids the store will hand out, so loaded devices and generated ones never collide. */
  reserveIds(used: { device?: number; networkInterface?: number; ip?: number; protocol?: number }): void {
    if (used.device !== undefined) this.nextDeviceId = Math.max(this.nextDeviceId, used.device + 1);
    if (used.networkInterface !== undefined) this.nextInterfaceId = Math.max(this.nextInterfaceId, used.networkInterface + 1);
    if (used.ip !== undefined) this.nextIpId = Math.max(this.nextIpId, used.ip + 1);
    if (used.protocol !== undefined) this.nextProtocolId = Math.max(this.nextProtocolId, used.protocol + 1);
  }

  /** An id for a device loaded without one. */
  allocateDeviceId(): number {
    return this.nextDeviceId++;
  }

  newProtocolId(): number {
    return this.nextProtocolId++;
  }

  /**
   * Adds a complete device as it is (generated or loaded from a file): its id and timestamps are
   * kept. Throws a validation error when it breaks a rule of the store.
   */
  load(device: SimDevice): void {
    if (this.devices.has(device.id)) throw validationError([errorItem(['id'], `device id ${device.id} is used twice`)]);
    const errors = this.conflicts(device);
    this.checkCaps(null, device.status, errors);
    if (errors.length > 0) throw validationError(errors);
    this.insert(device);
    this.reserveIds({
      device: device.id,
      networkInterface: Math.max(0, ...device.addressInformation.map((n) => n.networkInterfaceId)),
      ip: Math.max(0, ...device.addressInformation.flatMap((n) => n.ipAddresses.map((a) => a.id))),
      protocol: Math.max(0, ...(device.processControlSettings?.protocols ?? []).map((p) => p.id)),
    });
    this.clock.advancePast(Date.parse(`${device.lastModified}Z`));
  }

  /** The existing devices a create would duplicate: same name, or a MAC / IP in the same address space. */
  findDuplicates(input: DeviceInput): DuplicateMatch[] {
    const matches: DuplicateMatch[] = [];
    if (input.name !== undefined) {
      const owner = this.byName.get(input.name);
      if (owner !== undefined) matches.push({ deviceId: owner, matchedBy: 'Name', value: input.name });
    }
    const interfaces = this.resolveInterfaces(null, input.addressInformation ?? [], [], { assignIds: false });
    for (const nic of interfaces) {
      if (nic.macAddress) {
        const owner = this.ownerOfMac(nic.macAddressSpaceId, nic.macAddress);
        if (owner !== undefined) matches.push({ deviceId: owner, matchedBy: 'MacAddress', value: nic.macAddress, addressSpaceId: nic.macAddressSpaceId });
      }
      for (const ip of nic.ipAddresses) {
        const owner = this.ownerOfIp(ip.addressSpaceId, ip.ip);
        if (owner !== undefined) matches.push({ deviceId: owner, matchedBy: 'IpAddress', value: ip.ip, addressSpaceId: ip.addressSpaceId });
      }
    }
    return matches;
  }

  /** Creates a device from validated fields (no duplicate may exist: see `findDuplicates`). */
  create(input: DeviceInput): SimDevice {
    const now = formatKicsTime(this.clock.now());
    const id = this.nextDeviceId;
    const device = this.build(null, input, id, now, { allowProcessControlSettingsChange: true, flagName: '' });
    const errors = this.conflicts(device);
    this.checkCaps(null, device.status, errors);
    if (errors.length > 0) throw validationError(errors);
    this.nextDeviceId++;
    this.insert(device);
    return device;
  }

  /** Applies validated fields to a device (PUT, Overwrite, PATCH, operator change); `lastModified` moves only when something changed. */
  edit(id: number, input: DeviceInput, options: WriteOptions, extra: Partial<SimDevice> = {}): ChangeResult {
    const current = this.require(id);
    const candidate = { ...this.build(current, input, id, current.lastModified, options), ...extra, id };
    if (jsonEqual(candidate, current)) return { device: current, changed: false };
    const errors = this.conflicts(candidate);
    this.checkCaps(current.status, candidate.status, errors);
    if (errors.length > 0) throw validationError(errors);
    const device = { ...candidate, lastModified: formatKicsTime(this.clock.now()) };
    this.replace(current, device);
    return { device, changed: true };
  }

  /** Replaces a device's industrial configuration (process control settings and tags). */
  setIndustrialConfiguration(id: number, settings: SimProcessControlSettings | null, tags: Map<string, IndustrialTag>): SimDevice {
    const current = this.require(id);
    const device: SimDevice = { ...current, processControlSettings: settings, lastModified: formatKicsTime(this.clock.now()) };
    this.replace(current, device);
    if (tags.size > 0) this.industrialTags.set(id, tags);
    else this.industrialTags.delete(id);
    return device;
  }

  /** The tags of a device's industrial configuration, by `protocol/name`. */
  tagsOf(id: number): ReadonlyMap<string, IndustrialTag> {
    return this.industrialTags.get(id) ?? new Map();
  }

  /** Sets tags without touching the device (generated data). */
  loadTags(id: number, tags: Map<string, IndustrialTag>): void {
    this.require(id);
    this.industrialTags.set(id, tags);
  }

  delete(id: number): SimDevice {
    const device = this.require(id);
    this.unindex(device);
    this.devices.delete(id);
    const at = this.lowerBound(id);
    if (this.ids[at] === id) this.ids.splice(at, 1);
    this.industrialTags.delete(id);
    if (isActive(device.status)) this.activeCount--;
    else this.archivedCount--;
    return device;
  }

  require(id: number): SimDevice {
    const device = this.devices.get(id);
    if (!device) throw httpError(404, `Device with id ${id} was not found.`, 'id', 'id');
    return device;
  }

  /** Interfaces with ids and address spaces: ids kept when the interface / IP is already the device's, address spaces bound by KICS's rules. */
  resolveInterfaces(current: SimDevice | null, input: readonly InterfaceInput[], errors: KicsErrorItem[], options: { keepIds?: boolean; assignIds?: boolean } = {}): SimInterface[] {
    const assign = options.assignIds ?? true;
    const oldNics = current?.addressInformation ?? [];
    const oldNicIds = new Set(oldNics.map((n) => n.networkInterfaceId));
    const oldIpById = new Map<number, { ip: string; addressSpaceId: number | null }>();
    const oldIpByValue = new Map<string, { id: number; addressSpaceId: number | null }>();
    const oldMacSpace = new Map<string, { nicId: number; spaceId: number | null }>();
    for (const nic of oldNics) {
      if (nic.macAddress) oldMacSpace.set(nic.macAddress, { nicId: nic.networkInterfaceId, spaceId: nic.macAddressSpaceId });
      for (const ip of nic.ipAddresses) {
        oldIpById.set(ip.id, ip);
        oldIpByValue.set(ip.ip, ip);
      }
    }
    const usedNicIds = new Set<number>();
    const usedIpIds = new Set<number>();
    return input.map((nic, i) => {
      if (nic.macAddressSpaceId !== null && !this.addressSpaces.has(nic.macAddressSpaceId)) {
        errors.push(errorItem(['addressInformation', i, 'macAddressSpaceId'], `Address space ${nic.macAddressSpaceId} does not exist.`));
      }
      const ipAddresses = nic.ipAddresses.map((entry, j) => {
        if (entry.addressSpaceId !== null && !this.addressSpaces.has(entry.addressSpaceId)) {
          errors.push(errorItem(['addressInformation', i, 'ipAddresses', j, 'addressSpaceId'], `Address space ${entry.addressSpaceId} does not exist.`));
        }
        const previous = oldIpByValue.get(entry.ip);
        let id = entry.id !== null && (options.keepIds || oldIpById.get(entry.id)?.ip === entry.ip) ? entry.id : (previous?.id ?? null);
        if (id === null || usedIpIds.has(id)) id = assign ? this.nextIpId++ : 0;
        usedIpIds.add(id);
        const addressSpaceId = entry.addressSpaceId ?? previous?.addressSpaceId ?? this.addressSpaces.index.bindIp(entry.ip).spaceId;
        return { id, ip: entry.ip, addressSpaceId };
      });
      const previousMac = nic.macAddress ? oldMacSpace.get(nic.macAddress) : undefined;
      let nicId = nic.networkInterfaceId !== null && (options.keepIds || oldNicIds.has(nic.networkInterfaceId)) ? nic.networkInterfaceId : (previousMac?.nicId ?? null);
      if (nicId === null || usedNicIds.has(nicId)) nicId = assign ? this.nextInterfaceId++ : 0;
      usedNicIds.add(nicId);
      let macAddressSpaceId: number | null = null;
      if (nic.macAddress) {
        macAddressSpaceId = nic.macAddressSpaceId ?? previousMac?.spaceId ?? this.bindMac(ipAddresses);
      }
      return { networkInterfaceId: nicId, networkInterfaceName: nic.networkInterfaceName, macAddress: nic.macAddress, macAddressSpaceId, ipAddresses };
    });
  }

  /** A MAC binds to the space of its interface's IPs under an L2-and-L3 rule (the VLAN is unknown to an API write). */
  private bindMac(ips: readonly { ip: string; addressSpaceId: number | null }[]): number | null {
    for (const ip of ips) {
      if (ip.addressSpaceId === null) continue;
      const rule = this.addressSpaces.get(ip.addressSpaceId)?.rules?.some((r) => (r.subnetType ?? 'L2AndL3') === 'L2AndL3');
      if (rule) return ip.addressSpaceId;
    }
    return this.addressSpaces.index.bindMac(ips.map((i) => i.ip)).spaceId;
  }

  private build(current: SimDevice | null, input: DeviceInput, id: number, now: string, options: WriteOptions): SimDevice {
    const errors: KicsErrorItem[] = [];
    const base: SimDevice = current ?? {
      id,
      name: '',
      description: null,
      status: 'Unauthorized',
      addressInformation: [],
      category: 'Other',
      categoryConfidence: 0,
      group: null,
      securityState: 'Ok',
      influence: 'Normal',
      lastSeen: null,
      lastModified: now,
      created: now,
      os: null,
      osConfidence: 0,
      networkName: null,
      networkNameConfidence: 0,
      hardwareVendor: null,
      hardwareVendorConfidence: 0,
      hardwareModel: null,
      hardwareModelConfidence: 0,
      hardwareVersion: null,
      hardwareVersionConfidence: 0,
      softwareVendor: null,
      softwareVendorConfidence: 0,
      softwareModel: null,
      softwareModelConfidence: 0,
      softwareVersion: null,
      softwareVersionConfidence: 0,
      isRouter: false,
      isRouterConfidence: 0,
      labels: [],
      risks: [],
      processControlSettings: null,
      attributes: [],
      userAttributes: [],
      epp: null,
    };
    const next: SimDevice = { ...base };
    if (input.name !== undefined) next.name = input.name;
    for (const field of deviceTextFields) if (input[field] !== undefined) next[field] = input[field];
    if (input.status !== undefined) next.status = input.status;
    if (input.category !== undefined) next.category = input.category;
    if (input.isRouter !== undefined) next.isRouter = input.isRouter;
    if (input.influence !== undefined) next.influence = input.influence;
    if (input.labels !== undefined) next.labels = [...input.labels];
    if (input.userAttributes !== undefined) next.userAttributes = input.userAttributes.map((a) => ({ ...a }));
    if (input.addressInformation !== undefined) next.addressInformation = this.resolveInterfaces(current, input.addressInformation, errors);
    for (const field of confidenceFields) {
      if (input[field] === undefined || jsonEqual(input[field], base[field])) continue;
      next[`${field}Confidence`] = input[field] === null ? 0 : userConfidence;
    }
    next.processControlSettings = this.adjustProcessControl(base, next, options, errors);
    if (errors.length > 0) throw validationError(errors);
    return next;
  }

  /**
   * An edit that removes an IP or MAC the industrial configuration refers to needs the caller's
   * permission (`allowProcessControlSettingsUpdate` / `...Loss`); with it, those references are dropped.
   */
  private adjustProcessControl(before: SimDevice, after: SimDevice, options: WriteOptions, errors: KicsErrorItem[]): SimProcessControlSettings | null {
    const settings = before.processControlSettings;
    if (!settings || settings.protocols.length === 0) return settings;
    const referenced = processControlAddresses(settings);
    const kept = deviceAddresses(after.addressInformation);
    const lostIps = [...referenced.ips].filter((ip) => !kept.ips.has(ip));
    const lostMacs = [...referenced.macs].filter((mac) => !kept.macs.has(mac));
    if (lostIps.length === 0 && lostMacs.length === 0) return settings;
    if (!options.allowProcessControlSettingsChange) {
      errors.push(
        errorItem(
          ['addressInformation'],
          `The change removes ${[...lostIps, ...lostMacs].join(', ')}, used by the device's industrial configuration; set ${options.flagName} to true to allow it.`,
        ),
      );
      return settings;
    }
    const lost = new Set([...lostIps, ...lostMacs]);
    const protocols = settings.protocols
      .map((p) => ({
        ...p,
        addresses2: (p.addresses2 ?? []).filter((a) => {
          try {
            const config = JSON.parse(a.addressConfig) as { ip?: string; mac?: string };
            return !(config.ip && lost.has(config.ip)) && !(config.mac && lost.has(config.mac.toLowerCase()));
          } catch {
            return true;
          }
        }),
      }))
      .filter((p) => p.addresses2.length > 0);
    return { ...settings, protocols };
  }

  private conflicts(device: SimDevice): KicsErrorItem[] {
    const errors: KicsErrorItem[] = [];
    const nameOwner = this.byName.get(device.name);
    if (nameOwner !== undefined && nameOwner !== device.id) errors.push(errorItem(['name'], `A device named ${JSON.stringify(device.name)} already exists (id ${nameOwner}).`));
    device.addressInformation.forEach((nic, i) => {
      if (nic.macAddress) {
        const owner = this.ownerOfMac(nic.macAddressSpaceId, nic.macAddress);
        if (owner !== undefined && owner !== device.id) {
          errors.push(errorItem(['addressInformation', i, 'macAddress'], `MAC address ${nic.macAddress} in address space ${nic.macAddressSpaceId ?? 'none'} belongs to device ${owner}.`));
        }
      }
      nic.ipAddresses.forEach((ip, j) => {
        const owner = this.ownerOfIp(ip.addressSpaceId, ip.ip);
        if (owner !== undefined && owner !== device.id) {
          errors.push(errorItem(['addressInformation', i, 'ipAddresses', j, 'ip'], `IP address ${ip.ip} in address space ${ip.addressSpaceId ?? 'none'} belongs to device ${owner}.`));
        }
      });
    });
    const seen = new Set<string>();
    device.addressInformation.forEach((nic, i) => {
      nic.ipAddresses.forEach((ip, j) => {
        const key = `${ip.addressSpaceId ?? ''}|${ip.ip}`;
        if (seen.has(key)) errors.push(errorItem(['addressInformation', i, 'ipAddresses', j, 'ip'], `IP address ${ip.ip} is listed twice in address space ${ip.addressSpaceId ?? 'none'}.`));
        seen.add(key);
      });
    });
    if (device.addressInformation.length > kicsLimits.maxInterfacesPerDevice) {
      errors.push(errorItem(['addressInformation'], `A device has at most ${kicsLimits.maxInterfacesPerDevice} interfaces; found ${device.addressInformation.length}.`));
    }
    return errors;
  }

  private checkCaps(from: AssetStatus | null, to: AssetStatus, errors: KicsErrorItem[]): void {
    const wasActive = from !== null && isActive(from);
    const wasArchived = from !== null && !isActive(from);
    if (isActive(to) && !wasActive && this.activeCount >= this.limits.maxActiveDevices) {
      errors.push(errorItem(['status'], `The server already holds ${this.activeCount} authorized and unauthorized devices, the maximum (${this.limits.maxActiveDevices}).`));
    }
    if (!isActive(to) && !wasArchived && this.archivedCount >= this.limits.maxArchivedDevices) {
      errors.push(errorItem(['status'], `The server already holds ${this.archivedCount} archived devices, the maximum (${this.limits.maxArchivedDevices}).`));
    }
  }

  private insert(device: SimDevice): void {
    this.devices.set(device.id, device);
    const last = this.ids[this.ids.length - 1];
    if (last === undefined || last < device.id) this.ids.push(device.id);
    else this.ids.splice(this.lowerBound(device.id), 0, device.id);
    this.index(device);
    if (isActive(device.status)) this.activeCount++;
    else this.archivedCount++;
  }

  private replace(current: SimDevice, device: SimDevice): void {
    this.unindex(current);
    if (isActive(current.status)) this.activeCount--;
    else this.archivedCount--;
    this.devices.set(device.id, device);
    this.index(device);
    if (isActive(device.status)) this.activeCount++;
    else this.archivedCount++;
  }

  private index(device: SimDevice): void {
    this.byName.set(device.name, device.id);
    for (const nic of device.addressInformation) {
      if (nic.macAddress) this.byMac.set(`${nic.macAddressSpaceId ?? ''}|${nic.macAddress}`, device.id);
      for (const ip of nic.ipAddresses) this.byIp.set(`${ip.addressSpaceId ?? ''}|${ip.ip}`, device.id);
    }
  }

  private unindex(device: SimDevice): void {
    if (this.byName.get(device.name) === device.id) this.byName.delete(device.name);
    for (const nic of device.addressInformation) {
      const macKey = `${nic.macAddressSpaceId ?? ''}|${nic.macAddress}`;
      if (nic.macAddress && this.byMac.get(macKey) === device.id) this.byMac.delete(macKey);
      for (const ip of nic.ipAddresses) {
        const key = `${ip.addressSpaceId ?? ''}|${ip.ip}`;
        if (this.byIp.get(key) === device.id) this.byIp.delete(key);
      }
    }
  }
}
