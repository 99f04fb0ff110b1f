import type { AssetStatus, AssetType, DeviceProtocol, DeviceUserAttribute, Influence } from '../../model/kics.js';
import { deviceTextFields, writableDeviceFields } from './device-input.js';

/** One interface of a stored device: ids assigned, addresses canonical, address spaces bound. */
export interface SimInterface {
  networkInterfaceId: number;
  networkInterfaceName: string | null;
  macAddress: string | null;
  macAddressSpaceId: number | null;
  ipAddresses: { id: number; ip: string; addressSpaceId: number | null }[];
}

export interface SimRisk {
  id: number;
  name: string;
  category: string;
  state: string;
  baseScore: number;
  score: number;
  typeId: number | null;
}

export interface SimAttribute {
  name: string;
  value: string;
  isAutoupdated: boolean;
  confidence: number;
}

export interface SimEpp {
  name: string;
  lastSync: string;
  rtpState: string;
  keaVersion: string;
  version: string;
  licenses: { serialNumber: string; status: string; expirationDate: string }[];
  basesVersion: string;
}

export interface SimProcessControlSettings {
  deviceType: string | null;
  protocols: DeviceProtocol[];
}

/**
 * A device exactly as the API answers it: every member of the reference's device object. Stored
 * objects are never changed in place (every change makes a new object), so an answer being written
 * and a change arriving cannot interfere.
 */
export interface SimDevice {
  id: number;
  name: string;
  description: string | null;
  status: AssetStatus;
  addressInformation: SimInterface[];
  category: AssetType;
  categoryConfidence: number;
  group: string | null;
  securityState: string;
  influence: Influence;
  lastSeen: string | null;
  lastModified: string;
  created: string;
  os: string | null;
  osConfidence: number;
  networkName: string | null;
  networkNameConfidence: number;
  hardwareVendor: string | null;
  hardwareVendorConfidence: number;
  hardwareModel: string | null;
  hardwareModelConfidence: number;
  hardwareVersion: string | null;
  hardwareVersionConfidence: number;
  softwareVendor: string | null;
  softwareVendorConfidence: number;
  softwareModel: string | null;
  softwareModelConfidence: number;
  softwareVersion: string | null;
  softwareVersionConfidence: number;
  isRouter: boolean;
  isRouterConfidence: number;
  labels: string[];
  risks: SimRisk[];
  processControlSettings: SimProcessControlSettings | null;
  attributes: SimAttribute[];
  userAttributes: DeviceUserAttribute[];
  epp: SimEpp | null;
}

/** Fields with a `...Confidence` companion. */
export const confidenceFields = ['category', 'os', 'networkName', 'hardwareVendor', 'hardwareModel', 'hardwareVersion', 'softwareVendor', 'softwareModel', 'softwareVersion', 'isRouter'] as const;

/** The confidence KICS gives a value set by a user or a connector (the highest). */
export const userConfidence = 255;

/** Members of the device object that no write may change. */
export const readOnlyDeviceFields: readonly string[] = [
  'id',
  'group',
  'securityState',
  'lastSeen',
  'lastModified',
  'created',
  'risks',
  'processControlSettings',
  'attributes',
  'epp',
  ...confidenceFields.map((f) => `${f}Confidence`),
];

/** The writable projection of a device (what PATCH operates on), deep-copied. */
export function writableDocument(device: SimDevice): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const field of writableDeviceFields) doc[field] = structuredClone(device[field]);
  return doc;
}

/** Whether two JSON values are equal (objects by members, arrays by order). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((v, i) => jsonEqual(v, other[i]));
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** The IPs and MACs a device's industrial configuration refers to (from each protocol's `addressConfig`). */
export function processControlAddresses(settings: SimProcessControlSettings | null): { ips: Set<string>; macs: Set<string> } {
  const ips = new Set<string>();
  const macs = new Set<string>();
  for (const protocol of settings?.protocols ?? []) {
    for (const address of protocol.addresses2 ?? []) {
      try {
        const config = JSON.parse(address.addressConfig) as { ip?: unknown; mac?: unknown };
        if (typeof config.ip === 'string') ips.add(config.ip);
        if (typeof config.mac === 'string') macs.add(config.mac.toLowerCase());
      } catch {
        // An address that is not JSON refers to nothing we can check.
      }
    }
  }
  return { ips, macs };
}

/** All canonical IPs and MACs of a device. */
export function deviceAddresses(interfaces: readonly SimInterface[]): { ips: Set<string>; macs: Set<string> } {
  const ips = new Set<string>();
  const macs = new Set<string>();
  for (const nic of interfaces) {
    if (nic.macAddress) macs.add(nic.macAddress);
    for (const ip of nic.ipAddresses) ips.add(ip.ip);
  }
  return { ips, macs };
}

export { deviceTextFields };
