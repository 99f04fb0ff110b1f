import { randomUUID } from 'node:crypto';
import type { KscParams, KscWire } from '../../adapters/ksc/params.js';
import type { Random } from '../random.js';

/** A managed host as the simulator keeps it; `hostToAttributes` turns it into KSC host attributes. */
export interface SimHost {
  /** KLHST_WKS_HOSTNAME: KSC's own id of the host. */
  id: string;
  /** KLHST_WKS_DN. */
  displayName: string;
  /** IPv4 address, or null. Served as KLHST_WKS_IP_LONG. */
  ip: string | null;
  fqdn: string | null;
  groupId: number;
  groupName: string;
  lastVisible: Date | null;
  /** True for devices KSC discovered but no administrator placed in a group. */
  unassigned: boolean;
  /** MACs of the host's network adapters, as its hardware inventory has them. */
  macs: string[];
  osName: string | null;
}

/** What the admin endpoint accepts to create a host; everything but an address has a default. */
export interface SimHostInput {
  id?: string;
  displayName?: string;
  ip?: string | null;
  fqdn?: string | null;
  groupId?: number;
  groupName?: string;
  lastVisible?: string | Date | null;
  unassigned?: boolean;
  macs?: string[];
  osName?: string | null;
}

export interface SimCommand {
  id: string;
  name: string;
  productName: string;
  productVersion: string;
  /** CMD_PARAMS in wire form. */
  params: Record<string, KscWire>;
  status: 'pending' | 'result' | 'error';
  result: KscParams | null;
  error: KscParams | null;
  /** Whether the service console read it with GetCommandPayload. */
  payloadRead: boolean;
  delivered: boolean;
  createdAt: Date;
  answeredAt: Date | null;
}

export interface SimEvent {
  seq: number;
  type: string;
  params: Record<string, KscWire>;
  birthTime: Date;
}

export interface SimSubscription {
  id: number;
  event: string;
  filter: KscParams;
  queue: SimEvent[];
  createdAt: Date;
}

export interface SimSession {
  id: string;
  user: string;
  createdAt: number;
  lastUsedAt: number;
  subscriptions: Map<number, SimSubscription>;
  /** When Retrieve last said "all retrieved" (or the last subscription was made): the period runs from here. */
  periodStartedAt: number;
}

export interface SimResultSet {
  id: string;
  kind: 'chunk' | 'srvview';
  sessionId: string;
  items: Record<string, KscWire>[];
  expiresAt: number;
}

/** One call as the simulator saw it. */
export interface SimCall {
  seq: number;
  method: string;
  /** Milliseconds since the simulator started. */
  at: number;
  status: number;
  /** The KLSTD name of a PxgError answer. */
  error?: string;
  /** For ConEvents.Retrieve: PxgRetVal and the number of events delivered. */
  allRetrieved?: boolean;
  events?: number;
}

export function newHost(input: SimHostInput, index: number): SimHost {
  const id = input.id ?? randomUUID();
  const lastVisible = input.lastVisible === undefined ? new Date() : input.lastVisible === null ? null : new Date(input.lastVisible);
  return {
    id,
    displayName: input.displayName ?? `HOST-${index + 1}`,
    ip: input.ip ?? null,
    fqdn: input.fqdn ?? null,
    groupId: input.groupId ?? 1,
    groupName: input.groupName ?? 'Managed devices',
    lastVisible,
    unassigned: input.unassigned ?? false,
    macs: input.macs ?? [],
    osName: input.osName ?? null,
  };
}

/** IPv4 text as KSC's KLHST_WKS_IP_LONG: the unsigned 32-bit value, first octet highest. */
export function ipToLong(ip: string | null): number {
  if (!ip) return 0;
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`${JSON.stringify(ip)} is not an IPv4 address`);
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

/** The host attributes KSC serves, by name (values plain: numbers, strings, booleans, Dates). */
export function hostToAttributes(host: SimHost): Record<string, unknown> {
  return {
    KLHST_WKS_HOSTNAME: host.id,
    KLHST_WKS_DN: host.displayName,
    KLHST_WKS_IP_LONG: ipToLong(host.ip),
    KLHST_WKS_FQDN: host.fqdn ?? '',
    KLHST_WKS_DNSNAME: host.fqdn ? host.fqdn.split('.')[0] : '',
    KLHST_WKS_WINHOSTNAME: host.displayName.toUpperCase().slice(0, 15),
    KLHST_WKS_GROUPID: host.groupId,
    name: host.groupName,
    KLHST_WKS_LAST_VISIBLE: host.lastVisible,
    KLHST_WKS_FROM_UNASSIGNED: host.unassigned,
    KLHST_WKS_OS_NAME: host.osName ?? '',
    KLHST_WKS_STATUS: 1,
  };
}

/** Attributes that are paramLong on the wire rather than paramInt. */
export const longAttributes = new Set(['KLHST_WKS_IP_LONG', 'Id']);

export const hostAttributeNames = new Set(Object.keys(hostToAttributes(newHost({}, 0))));

/** The hardware inventory rows (one per network adapter), as "HWInvStorageSrvViewName" serves them. */
export function inventoryRows(hosts: Iterable<SimHost>): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  let id = 1;
  for (const host of hosts) {
    for (const mac of host.macs) {
      rows.push({ Id: id, Type: 7, Name: `Network adapter ${id}`, MAC: mac, HostId: host.id, SerialNumber: '', InvNum: '' });
      id += 1;
    }
  }
  return rows;
}

export const inventoryAttributeNames = new Set(['Id', 'Type', 'Name', 'MAC', 'HostId', 'SerialNumber', 'InvNum']);

/**
 * `count` plausible plant hosts from a seed (the same seed gives the same hosts): engineering
 * stations, HMIs and servers in a few administration groups, most with one or two network adapters
 * in the hardware inventory, a few discovered but unassigned.
 */
export function generateHosts(count: number, random: Random): SimHostInput[] {
  const groups = [
    { groupId: 2, groupName: 'Line 1' },
    { groupId: 3, groupName: 'Line 2' },
    { groupId: 4, groupName: 'Control room' },
    { groupId: 5, groupName: 'Servers' },
  ];
  const kinds = ['EWS', 'HMI', 'SCADA', 'HIST', 'OPC'] as const;
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const group = random.pick(groups);
    const kind = random.pick(kinds);
    const name = `${kind}-${String(i + 1).padStart(5, '0')}`;
    const adapters = random.weighted([
      [0, 1],
      [1, 7],
      [2, 2],
    ] as const);
    const macs = Array.from({ length: adapters }, () => ['00:1b:1b', ...Array.from({ length: 3 }, () => random.int(0, 255).toString(16).padStart(2, '0'))].join(':'));
    const ip = `10.${group.groupId}.${Math.floor(i / 250) % 256}.${(i % 250) + 1}`;
    return {
      id: `${random.int(0x10000000, 0x7fffffff).toString(16)}-${String(i).padStart(6, '0')}`,
      displayName: name,
      ip,
      fqdn: `${name.toLowerCase()}.plant.local`,
      ...group,
      lastVisible: new Date(now - random.int(0, 7 * 86_400) * 1000),
      unassigned: random.chance(0.03),
      macs,
      osName: random.pick(['Microsoft Windows 10 Enterprise LTSC', 'Microsoft Windows Server 2019', 'Microsoft Windows 11 IoT Enterprise']),
    };
  });
}
