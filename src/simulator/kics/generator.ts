import type { AssetStatus, DeviceProtocol, DeviceUserAttribute, Influence } from '../../model/kics.js';
import { createRandom, type Random } from '../random.js';
import { spaceVlans, type AddressSpaceRegistry } from './address-spaces.js';
import { areaNames, kinds, labelPool, ownerPool, protocolCatalog, vendorOuis, type KindSpec, type ModelSpec, type ProtocolName } from './catalog.js';
import type { SimAttribute, SimDevice, SimEpp, SimInterface, SimProcessControlSettings, SimRisk } from './device.js';
import type { IndustrialTag } from './store.js';
import { flatString, formatKicsTime } from './time.js';

/**
 * Generated devices of a plausible plant, the same for the same seed on any machine. Device `i`
 * gets addresses derived from `i` (so they are unique without bookkeeping): 10.<1+i/62500>.<i/250%250>.<1+i%250>
 * in "Plant network", extra interfaces in 10.110+ / 10.120+ ..., a pair of same-IP devices in the
 * two cell VLANs, servers and firewalls in the DMZ range, switch management ports as MAC-only
 * interfaces of the management L2 space. MACs are a real vendor OUI plus a bijective scramble of
 * (i, interface), so they are unique too.
 */

/** All generated timestamps lie before this instant, so later changes always come after them. */
const anchor = Date.UTC(2025, 5, 1);
const day = 86_400_000;

export interface GeneratedDevice {
  device: SimDevice;
  /** Tags of its industrial configuration, when it has one. */
  tags?: Map<string, IndustrialTag>;
}

interface Counters {
  deviceId: number;
  interfaceId: number;
  ipId: number;
  protocolId: number;
  riskId: number;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Strings in one piece (see `flatString`); `shared` also gives equal strings one copy (descriptions, groups, locations repeat). */
const flat = flatString;
type Share = (s: string) => string;
function stringPool(): Share {
  const pool = new Map<string, string>();
  return (s) => {
    const known = pool.get(s);
    if (known !== undefined) return known;
    const copy = flat(s);
    pool.set(copy, copy);
    return copy;
  };
}

function macFor(oui: string, ordinal: number, nic: number): string {
  const suffix = Math.imul(ordinal * 8 + nic, 0x9e3779b1) & 0xffffff;
  const hex = suffix.toString(16).padStart(6, '0');
  return [oui, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4, 6)].join(':');
}

function plantIp(ordinal: number, block: number): string {
  return [10, block + Math.floor(ordinal / 62_500), Math.floor(ordinal / 250) % 250, 1 + (ordinal % 250)].join('.');
}

function influenceFor(kind: KindSpec, random: Random): Influence {
  if (kind.influence === 'critical') return random.weighted<Influence>([['BusinessCritical', 6], ['Important', 3], ['Normal', 1]]);
  if (kind.influence === 'important') return random.weighted<Influence>([['Important', 6], ['Normal', 3], ['BusinessCritical', 1]]);
  return random.weighted<Influence>([['Normal', 85], ['Important', 15]]);
}

function protocolAddress(protocol: ProtocolName, ip: string | null, mac: string | null, random: Random): Record<string, unknown> | null {
  const { port } = protocolCatalog[protocol];
  if (protocol === 'IndustrialEthernet') return mac ? { mac, rack: 0, slot: random.int(1, 3) } : null;
  if (!ip) return null;
  switch (protocol) {
    case 'S7CommOverTcp':
    case 'S7CommPlus':
      return { ip, port, rack: 0, slot: random.pick([1, 2, 3]) };
    case 'ModbusTcp':
    case 'Umas':
      return { ip, port, unit: random.pick([0, 1, 255]) };
    case 'EtherNetIp':
      return { ip, port, path: '1,0' };
    case 'Iec104':
      return { ip, port, commonAddress: random.int(1, 65_534) };
    case 'Dnp3':
      return { ip, port, address: random.int(1, 65_519) };
    default:
      return { ip, port };
  }
}

const tagUnits = ['°C', 'bar', 'm3/h', '%', 'rpm', 'kW', null] as const;
const tagKinds = [
  ['TT', 'Temperature', 'Float', '°C'],
  ['PT', 'Pressure', 'Float', 'bar'],
  ['FT', 'Flow', 'Float', 'm3/h'],
  ['LT', 'Level', 'Float', '%'],
  ['XV', 'Valve open', 'Bool', null],
  ['M', 'Motor running', 'Bool', null],
  ['SC', 'Speed setpoint', 'Int16', 'rpm'],
  ['JT', 'Power', 'Int32', 'kW'],
] as const;

function tagAddress(protocol: ProtocolName, n: number): string {
  switch (protocol) {
    case 'S7CommOverTcp':
    case 'S7CommPlus':
      return `DB10.DBD${n * 4}`;
    case 'ModbusTcp':
    case 'Umas':
      return String(40_001 + n * 2);
    case 'EtherNetIp':
      return `Program:MainProgram.Tag_${n}`;
    case 'MelsecSlmp':
      return `D${100 + n}`;
    case 'Ads':
      return `MAIN.fbUnit.Value${n}`;
    case 'OpcUa':
      return `ns=3;s="Unit"."Value${n}"`;
    default:
      return `${n}`;
  }
}

function generateTags(protocols: readonly DeviceProtocol[], random: Random): Map<string, IndustrialTag> {
  const tags = new Map<string, IndustrialTag>();
  const protocol = protocols.find((p) => p.name !== 'IndustrialEthernet') ?? protocols[0];
  if (!protocol) return tags;
  const count = random.int(4, 12);
  for (let n = 0; n < count; n++) {
    const [code, what, dataType, unit] = random.pick(tagKinds);
    const name = `${code}${100 + n}_${what.replace(/ /g, '')}`;
    tags.set(`${protocol.name}/${name}`, {
      protocol: protocol.name,
      name,
      address: tagAddress(protocol.name as ProtocolName, n),
      dataType,
      description: `${what} ${code}${100 + n}`,
      measureUnit: unit ?? random.pick(tagUnits),
      rules: random.chance(0.3) ? [`${code}${100 + n} out of range`] : [],
    });
  }
  return tags;
}

/** Generates `count` devices for `seed`, one at a time (nothing held but the device being built). */
export function* generateDevices(count: number, seed: number | string, spaces: AddressSpaceRegistry): Generator<GeneratedDevice> {
  const root = createRandom(seed);
  const random = root.fork('devices');
  const shared = stringPool();
  const counters: Counters = { deviceId: 1000, interfaceId: 5000, ipId: 100_000, protocolId: 1, riskId: 1 };
  const cellCap = Math.min(200, Math.floor(count * 0.02));
  const cells = { a: 0, b: 0 };
  let dmz = 0;
  const kindWeights = kinds.map((k) => [k, k.weight] as const);
  for (let i = 0; i < count; i++) {
    counters.deviceId += random.chance(0.03) ? random.int(2, 6) : 1;
    const kind = random.weighted(kindWeights);
    const model = random.pick(kind.models);
    const ouis: readonly string[] = vendorOuis[model.vendor];
    const oui = random.pick(ouis);
    const area = 1 + Math.floor((i % 62_500) / 2_500);
    const areaCode = `A${pad(area, 2)}`;
    const seq = pad(i + 1, count >= 100_000 ? 6 : 5);
    const status = random.weighted<AssetStatus>([['Recognized', 68], ['Unauthorized', 25], ['Archived', 7]]);

    // Addresses.
    const interfaces: SimInterface[] = [];
    const nicCount = random.int(kind.interfaces[0], kind.interfaces[1]);
    let placement: 'cellA' | 'cellB' | 'dmz' | 'plant' = 'plant';
    if ((kind.category === 'Plc' || kind.category === 'HmiPanel') && random.chance(0.1)) {
      if (cells.a < cellCap && cells.a <= cells.b) placement = 'cellA';
      else if (cells.b < cellCap) placement = 'cellB';
    } else if (kind.placement === 'dmz' && dmz < 1000 && random.chance(0.5)) placement = 'dmz';
    for (let k = 0; k < nicCount; k++) {
      const mac = macFor(oui, i, k);
      let ip: string;
      let spaceId: number | null;
      if (k === 0 && placement === 'cellA') {
        ip = flat(`192.168.10.${10 + cells.a++}`);
        spaceId = 2;
      } else if (k === 0 && placement === 'cellB') {
        ip = flat(`192.168.10.${10 + cells.b++}`);
        spaceId = 3;
      } else if (k === 0 && placement === 'dmz') {
        ip = flat(`172.16.${Math.floor(dmz / 254)}.${1 + (dmz % 254)}`);
        dmz++;
        spaceId = 5;
      } else {
        ip = plantIp(i, k === 0 ? 1 : 100 + k * 10);
        spaceId = spaces.index.bindIp(ip).spaceId;
      }
      const ipAddresses = [{ id: counters.ipId++, ip, addressSpaceId: spaceId }];
      if (k === 0 && kind.category === 'Plc' && placement === 'plant' && random.chance(0.05)) {
        const second = plantIp(i, 50);
        ipAddresses.push({ id: counters.ipId++, ip: second, addressSpaceId: spaces.index.bindIp(second).spaceId });
      }
      interfaces.push({
        networkInterfaceId: counters.interfaceId++,
        networkInterfaceName: kind.hostname ? shared(`Ethernet${k === 0 ? '' : ` ${k + 1}`}`) : random.chance(0.5) ? shared(`X${k + 1} P1`) : null,
        macAddress: mac,
        macAddressSpaceId: spaceId,
        ipAddresses,
      });
    }
    if (kind.placement === 'management') {
      interfaces.push({
        networkInterfaceId: counters.interfaceId++,
        networkInterfaceName: 'mgmt',
        macAddress: macFor(oui, i, 7),
        macAddressSpaceId: spaces.index.bindMac([], spaceVlans.management).spaceId,
        ipAddresses: [],
      });
    }

    // Times.
    const created = anchor - random.int(30, 730) * day - random.int(0, day - 1);
    const lastModified = created + Math.floor(random.next() * (anchor - created));
    const lastSeen = status === 'Archived' ? Math.max(created, lastModified - random.int(30, 365) * day) : anchor - random.int(0, 7 * day);

    // Identity.
    const identified = status !== 'Unauthorized' || random.chance(0.6);
    const hardwareVersion = random.pick(model.hardwareVersions);
    const softwareVersion = model.softwareVersions.length > 0 ? random.pick(model.softwareVersions) : null;
    const hostname = kind.hostname ? flat(`${kind.hostname}-${areaCode.toLowerCase()}-${seq}`) : random.chance(0.3) ? flat(`${kind.prefix.toLowerCase()}-${areaCode.toLowerCase()}-${seq}`) : null;
    const confidence = (): number => random.pick([100, 150, 200, 200, 255]);

    const risks = risksFor(model, softwareVersion, kind, counters, random, shared);
    const worst = Math.max(0, ...risks.filter((r) => r.state === 'Active').map((r) => r.score));
    const settings = processControlFor(model, interfaces, counters, random);
    const device: SimDevice = {
      id: counters.deviceId,
      name: flat(`${areaCode}-${kind.prefix}-${seq}`),
      description: random.chance(0.6) ? shared(`${model.vendor} ${model.model}, ${areaNames[area % areaNames.length]}`) : null,
      status,
      addressInformation: interfaces,
      category: kind.category,
      categoryConfidence: confidence(),
      group: shared(`Area ${pad(area, 2)} / ${areaNames[area % areaNames.length]}`),
      securityState: worst >= 9 ? 'Critical' : worst >= 7 ? 'Warning' : 'Ok',
      influence: influenceFor(kind, random),
      lastSeen: formatKicsTime(lastSeen),
      lastModified: formatKicsTime(lastModified),
      created: formatKicsTime(created),
      os: identified ? model.os : null,
      osConfidence: identified && model.os ? confidence() : 0,
      networkName: hostname,
      networkNameConfidence: hostname ? confidence() : 0,
      hardwareVendor: model.vendor,
      hardwareVendorConfidence: confidence(),
      hardwareModel: identified ? model.model : null,
      hardwareModelConfidence: identified ? confidence() : 0,
      hardwareVersion: identified ? hardwareVersion : null,
      hardwareVersionConfidence: identified ? confidence() : 0,
      softwareVendor: identified ? model.softwareVendor : null,
      softwareVendorConfidence: identified && model.softwareVendor ? confidence() : 0,
      softwareModel: identified ? model.softwareModel : null,
      softwareModelConfidence: identified && model.softwareModel ? confidence() : 0,
      softwareVersion: identified ? softwareVersion : null,
      softwareVersionConfidence: identified && softwareVersion ? confidence() : 0,
      isRouter: kind.isRouter === true,
      isRouterConfidence: confidence(),
      labels: random.sample(labelPool, random.weighted([[0, 4], [1, 4], [2, 2], [3, 1]])),
      risks,
      processControlSettings: settings,
      attributes: attributesFor(model, i, random),
      userAttributes: userAttributesFor(i, random, shared),
      epp: kind.epp && random.chance(0.5) ? eppFor(lastSeen, random) : null,
    };
    const tags = settings && random.chance(0.3) ? generateTags(settings.protocols, random) : undefined;
    yield tags ? { device, tags } : { device };
  }
}

function risksFor(model: ModelSpec, version: string | null, kind: KindSpec, counters: Counters, random: Random, shared: Share): SimRisk[] {
  const risks: SimRisk[] = [];
  if (version && model.vulnerable?.includes(version)) {
    const n = random.int(1, 2);
    for (let r = 0; r < n; r++) {
      const baseScore = Math.round((5 + random.next() * 4.8) * 10) / 10;
      risks.push({
        id: counters.riskId++,
        name: shared(`${model.softwareModel ?? model.model} ${version}: ${random.pick(['denial of service via crafted packets', 'authentication bypass', 'remote code execution', 'information disclosure'])}`),
        category: 'Vulnerability',
        state: random.weighted([['Active', 7], ['Accepted', 2], ['Remediated', 1]]),
        baseScore,
        score: Math.min(10, Math.round((baseScore + (random.next() - 0.3)) * 10) / 10),
        typeId: null,
      });
    }
  }
  if (kind.epp && random.chance(0.1)) {
    risks.push({ id: counters.riskId++, name: 'Remote desktop access from the corporate network', category: 'TechnologicalRisk', state: random.pick(['Active', 'Accepted']), baseScore: 6.1, score: 6.1, typeId: null });
  }
  return risks;
}

function processControlFor(model: ModelSpec, interfaces: readonly SimInterface[], counters: Counters, random: Random): SimProcessControlSettings | null {
  if (!model.protocols || model.protocols.length === 0 || !random.chance(0.8)) return null;
  const first = interfaces[0]!;
  const ip = first.ipAddresses[0] ?? null;
  const protocols: DeviceProtocol[] = [];
  for (const name of model.protocols) {
    const address = protocolAddress(name, ip?.ip ?? null, first.macAddress, random);
    if (!address) continue;
    const { stackId, commands } = protocolCatalog[name];
    protocols.push({
      id: counters.protocolId++,
      name,
      protocolStackId: stackId,
      systemCommands: { total: commands, monitored: random.int(0, Math.floor(commands / 2)) },
      addresses2: [{ addressConfig: JSON.stringify(address), ipAddressSpaceId: ip?.addressSpaceId ?? null, macAddressSpaceId: first.macAddressSpaceId }],
    });
  }
  return { deviceType: model.deviceType ?? `${model.vendor} ${model.model}`, protocols };
}

function attributesFor(model: ModelSpec, ordinal: number, random: Random): SimAttribute[] {
  const attributes: SimAttribute[] = [{ name: 'Serial number', value: flat(`S C-${random.pick(['H', 'J', 'K', 'X'])}${random.pick(['4', '6', '7'])}U${pad((ordinal * 7919) % 100_000_000, 8)}`), isAutoupdated: true, confidence: 200 }];
  if (model.orderNumber) attributes.push({ name: 'Order number', value: model.orderNumber, isAutoupdated: true, confidence: 200 });
  return attributes;
}

function userAttributesFor(ordinal: number, random: Random, shared: Share): DeviceUserAttribute[] {
  const attributes: DeviceUserAttribute[] = [];
  if (random.chance(0.7)) attributes.push({ name: 'Owner', value: random.pick(ownerPool) });
  if (random.chance(0.5)) attributes.push({ name: 'Location', value: shared(`Building ${random.int(1, 6)} / Cabinet ${random.pick(['A', 'B', 'C', 'D'])}${random.int(1, 40)}`) });
  if (random.chance(0.4)) attributes.push({ name: 'Asset tag', value: flat(`AT-${pad(ordinal + 1, 6)}`) });
  return attributes;
}

function eppFor(lastSeen: number, random: Random): SimEpp {
  const serial = (): string => random.int(0x1000, 0xffff).toString(16).toUpperCase();
  return {
    name: 'KICS for Nodes',
    lastSync: formatKicsTime(lastSeen - random.int(0, day)),
    rtpState: random.weighted([['Running', 9], ['Stopped', 1]]),
    keaVersion: '12.1',
    version: random.pick(['3.1.0.3193', '3.2.0.2240']),
    licenses: [{ serialNumber: flat(`${serial()}-${serial()}${serial()}-${serial()}${serial()}`), status: 'Active', expirationDate: formatKicsTime(anchor + random.int(30, 700) * day) }],
    basesVersion: formatKicsTime(lastSeen - random.int(0, 3 * day)),
  };
}
