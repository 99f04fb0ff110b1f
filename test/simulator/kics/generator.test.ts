import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macOui } from '../../../src/model/mac.js';
import { AddressSpaceRegistry, defaultAddressSpaces } from '../../../src/simulator/kics/address-spaces.js';
import { vendorOuis } from '../../../src/simulator/kics/catalog.js';
import { generateDevices } from '../../../src/simulator/kics/generator.js';
import { startKicsSimulator, type KicsSimulator, type SimDevice } from '../../../src/simulator/kics/index.js';

const ouiRegistry = createRequire(import.meta.url)('oui-data') as Record<string, string>;
/** How the IEEE registry spells the organisations behind the catalog's vendors. */
const registryName: Record<string, RegExp> = {
  'Schneider Electric': /Schneider|Telemecanique/i,
  HP: /Hewlett Packard/i,
  HPE: /Hewlett Packard Enterprise/i,
  APC: /American Power Conversion/i,
  'Palo Alto Networks': /Palo Alto/i,
};
const expectedOrganisation = (vendor: string) => registryName[vendor] ?? new RegExp(vendor.split(' ')[0]!, 'i');

describe('KICS simulator: generated plant', () => {
  const spaces = new AddressSpaceRegistry(defaultAddressSpaces);
  const generate = (count: number, seed: number | string) => [...generateDevices(count, seed, spaces)].map((g) => g.device);
  let devices: SimDevice[];

  beforeAll(() => {
    devices = generate(3_000, 11);
  });

  it('is the same for the same seed and differs for another seed', () => {
    expect(JSON.stringify(generate(300, 11))).toBe(JSON.stringify(devices.slice(0, 300)));
    expect(JSON.stringify(generate(300, 'plant-b'))).not.toBe(JSON.stringify(devices.slice(0, 300)));
  });

  it('gives unique names, ids and addresses per address space', () => {
    expect(new Set(devices.map((d) => d.name)).size).toBe(devices.length);
    expect(new Set(devices.map((d) => d.id)).size).toBe(devices.length);
    const ips = devices.flatMap((d) => d.addressInformation.flatMap((n) => n.ipAddresses.map((a) => `${a.addressSpaceId}|${a.ip}`)));
    const macs = devices.flatMap((d) => d.addressInformation.flatMap((n) => (n.macAddress ? [`${n.macAddressSpaceId}|${n.macAddress}`] : [])));
    expect(new Set(ips).size).toBe(ips.length);
    expect(new Set(macs).size).toBe(macs.length);
  });

  it('uses OUIs registered to each device\'s vendor, so vendor-from-OUI lookups find it', () => {
    for (const [vendor, ouis] of Object.entries(vendorOuis)) {
      for (const oui of ouis) expect(ouiRegistry[oui.replace(/:/g, '').toUpperCase()], `${vendor} ${oui}`).toMatch(expectedOrganisation(vendor));
    }
    for (const device of devices.slice(0, 500)) {
      for (const nic of device.addressInformation) {
        expect(ouiRegistry[macOui(nic.macAddress!)], `${device.name} ${nic.macAddress}`).toMatch(expectedOrganisation(device.hardwareVendor!));
      }
    }
  });

  it('reuses one subnet in two cell VLANs, bound to different address spaces', () => {
    const cellA = devices.filter((d) => d.addressInformation[0]!.ipAddresses[0]?.addressSpaceId === 2);
    const cellB = devices.filter((d) => d.addressInformation[0]!.ipAddresses[0]?.addressSpaceId === 3);
    expect(cellA.length).toBeGreaterThan(5);
    expect(cellB.length).toBeGreaterThan(5);
    const ipsA = new Set(cellA.map((d) => d.addressInformation[0]!.ipAddresses[0]!.ip));
    const shared = cellB.filter((d) => ipsA.has(d.addressInformation[0]!.ipAddresses[0]!.ip));
    expect(shared.length).toBeGreaterThan(5);
    expect([...ipsA].every((ip) => ip.startsWith('192.168.10.'))).toBe(true);
  });

  it('has MAC-only management interfaces, DMZ hosts, multi-interface and multi-IP devices', () => {
    const management = devices.filter((d) => d.addressInformation.some((n) => n.macAddressSpaceId === 4 && n.ipAddresses.length === 0));
    expect(management.length).toBeGreaterThan(0);
    expect(management.every((d) => d.category === 'Switch')).toBe(true);
    expect(devices.some((d) => d.addressInformation.some((n) => n.ipAddresses.some((a) => a.addressSpaceId === 5 && a.ip.startsWith('172.16.'))))).toBe(true);
    expect(devices.filter((d) => d.addressInformation.length >= 2).length).toBeGreaterThan(100);
    expect(devices.some((d) => d.addressInformation[0]!.ipAddresses.length >= 2)).toBe(true);
    expect(devices.filter((d) => d.isRouter).every((d) => d.category === 'Router' || d.category === 'Firewall')).toBe(true);
  });

  it('looks like an OT plant: categories, vendors, statuses, protocols, risks, labels and attributes', () => {
    const count = (f: (d: SimDevice) => unknown) => {
      const m = new Map<unknown, number>();
      for (const d of devices) m.set(f(d), (m.get(f(d)) ?? 0) + 1);
      return m;
    };
    const categories = count((d) => d.category);
    expect(categories.get('Plc')! / devices.length).toBeGreaterThan(0.15);
    for (const c of ['HmiPanel', 'EngineeringStation', 'ScadaHmi', 'Server', 'Historian', 'Switch', 'Router', 'Firewall', 'Printer', 'NetworkCamera', 'UPS']) expect(categories.get(c), c).toBeGreaterThan(0);
    const vendors = count((d) => d.hardwareVendor);
    for (const v of ['Siemens', 'Schneider Electric', 'Rockwell Automation', 'ABB', 'Mitsubishi Electric', 'Hirschmann', 'Cisco', 'Moxa']) expect(vendors.get(v), v).toBeGreaterThan(0);
    const models = new Set(devices.map((d) => d.hardwareModel));
    for (const m of ['S7-1500 CPU 1516-3 PN/DP', 'S7-1200 CPU 1214C DC/DC/DC', 'S7-300 CPU 315-2 PN/DP', 'Modicon M340 BMX P34 2020', 'Modicon M580 BME P58 2040', 'ControlLogix 5580 1756-L83E', 'CompactLogix 5380 5069-L320ER']) expect(models.has(m), m).toBe(true);
    const statuses = count((d) => d.status);
    expect(statuses.get('Recognized')! + statuses.get('Unauthorized')!).toBeGreaterThan(devices.length * 0.85);
    expect(statuses.get('Archived')).toBeGreaterThan(0);
    const protocols = new Set(devices.flatMap((d) => d.processControlSettings?.protocols.map((p) => p.name) ?? []));
    for (const p of ['S7CommPlus', 'ModbusTcp', 'EtherNetIp', 'OpcUa', 'IndustrialEthernet', 'Iec104']) expect(protocols.has(p), p).toBe(true);
    expect(devices.some((d) => d.risks.some((r) => r.category === 'Vulnerability'))).toBe(true);
    expect(devices.some((d) => d.labels.length > 0)).toBe(true);
    expect(devices.some((d) => d.userAttributes.some((a) => a.name === 'Owner'))).toBe(true);
    expect(devices.some((d) => d.epp !== null)).toBe(true);
    expect(devices.every((d) => d.created <= d.lastModified)).toBe(true);
  });
});

describe('KICS simulator: devices loaded from a file', () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'kics-sim-file-'));
  let source: KicsSimulator;

  beforeAll(async () => {
    source = await startKicsSimulator({ devices: 200, seed: 3 });
  });
  afterAll(async () => {
    await source.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it.each([
    ['a query answer {"values": [...]}', (devices: SimDevice[]) => ({ offset: 0, limit: 1000, values: devices })],
    ['a JSON array', (devices: SimDevice[]) => devices],
  ])('serves exactly the devices of %s', async (_label, shape) => {
    const devices = [...source.store.all()];
    const file = path.join(scratch, 'devices.json');
    writeFileSync(file, JSON.stringify(shape(devices), null, 1));
    const loaded = await startKicsSimulator({ fromFile: file });
    try {
      expect([...loaded.store.all()]).toEqual(devices);
      // Ids handed out later do not collide with loaded ones.
      const { id } = loaded.store.create({ name: 'After load', addressInformation: [{ networkInterfaceId: null, networkInterfaceName: null, macAddress: null, macAddressSpaceId: null, ipAddresses: [{ id: null, ip: '10.254.0.1', addressSpaceId: null }] }] });
      expect(id).toBeGreaterThan(devices.at(-1)!.id);
    } finally {
      await loaded.close();
    }
  });

  it('takes address spaces from the file, and assigns ids and timestamps a device lacks', async () => {
    const file = path.join(scratch, 'plant.json');
    writeFileSync(
      file,
      JSON.stringify({
        addressSpaces: [{ id: 7, name: 'Line 7', rules: [{ subnets: [{ from: '10.7.0.0/16', to: null }] }] }],
        devices: [{ name: 'Line 7 PLC', status: 'Recognized', addressInformation: [{ macAddress: '00:1b:1b:07:00:01', ipAddresses: [{ ip: '10.7.0.1' }] }] }],
      }),
    );
    const loaded = await startKicsSimulator({ fromFile: file });
    try {
      expect(loaded.addressSpaces.spaces.map((s) => s.name)).toEqual(['Line 7']);
      const [device] = [...loaded.store.all()];
      expect(device).toMatchObject({ id: expect.any(Number) as number, name: 'Line 7 PLC', addressInformation: [{ macAddressSpaceId: 7, ipAddresses: [{ ip: '10.7.0.1', addressSpaceId: 7 }] }] });
      expect(device!.lastModified).toMatch(/^\d{4}-/);
    } finally {
      await loaded.close();
    }
  });

  it('refuses a file with invalid devices, naming each by index, name, path and reason', async () => {
    const file = path.join(scratch, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'Fine', addressInformation: [{ ipAddresses: [{ ip: '10.1.1.1' }] }] },
        { name: 'Bad IP', addressInformation: [{ ipAddresses: [{ ip: '10.1.1.300' }] }] },
        { name: 'Fine', addressInformation: [{ ipAddresses: [{ ip: '10.1.1.2' }] }] },
      ]),
    );
    await expect(startKicsSimulator({ fromFile: file })).rejects.toThrow(
      new RegExp(`2 of 3 devices in ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} are invalid[\\s\\S]*\\[1\\] "Bad IP": addressInformation\\[0\\]/ipAddresses\\[0\\]/ip: Wrong ip address format[\\s\\S]*\\[2\\] "Fine": name: A device named "Fine" already exists`),
    );
  });

  it('refuses a file that is not JSON, or missing', async () => {
    const file = path.join(scratch, 'broken.json');
    writeFileSync(file, '[{"name": "x", ');
    await expect(startKicsSimulator({ fromFile: file })).rejects.toThrow(/is not a valid devices file/);
    await expect(startKicsSimulator({ fromFile: path.join(scratch, 'missing.json') })).rejects.toThrow(/cannot read --from-file/);
  });

  it('starts from initialDevices given in code', async () => {
    const sim = await startKicsSimulator({ initialDevices: [{ id: 42, name: 'Only one', addressInformation: [{ ipAddresses: [{ ip: '10.3.3.3' }] }] }] });
    try {
      expect([...sim.store.all()].map((d) => [d.id, d.name])).toEqual([[42, 'Only one']]);
    } finally {
      await sim.close();
    }
  });
});
