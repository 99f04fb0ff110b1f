import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kicsLimits } from '../../../src/model/kics.js';
import { startKicsSimulator } from '../../../src/simulator/kics/index.js';
import { createBody, startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';

interface Device {
  id: number;
  name: string;
  status: string;
  lastModified: string;
  created: string;
  description: string | null;
  labels: string[];
  influence: string;
  addressInformation: { networkInterfaceId: number; macAddress: string | null; macAddressSpaceId: number | null; ipAddresses: { id: number; ip: string; addressSpaceId: number | null }[] }[];
  processControlSettings: { protocols: { addresses2: { addressConfig: string }[] }[] } | null;
  [key: string]: unknown;
}


describe('KICS simulator: devices', () => {
  let t: TestKicsSimulator;
  const v4 = '/kics/api/v4';

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 30 });
  });
  afterAll(async () => {
    await t.close();
  });

  const create = (body: unknown) => t.call('POST', `${v4}/devices`, { body });
  const get = async (id: number) => (await t.call('GET', `${v4}/devices/${id}`)).json as Device;

  it('creates a device: canonical addresses, server ids, bound address spaces, timestamps', async () => {
    const answer = await create(createBody('Boiler PLC 1', '00-1B-1B-AA-BB-01', '10.200.1.1', { status: 'Recognized', category: 'Plc', influence: 'Important', labels: ['boiler'], userAttributes: [{ name: 'Owner', value: 'Utilities' }] }));
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ status: 'Created', deviceId: expect.any(Number) as number });
    const device = await get((answer.json as { deviceId: number }).deviceId);
    expect(device).toMatchObject({ name: 'Boiler PLC 1', status: 'Recognized', category: 'Plc', influence: 'Important', labels: ['boiler'], userAttributes: [{ name: 'Owner', value: 'Utilities' }], lastSeen: null });
    expect(device.addressInformation[0]).toMatchObject({ macAddress: '00:1b:1b:aa:bb:01', macAddressSpaceId: 1, ipAddresses: [{ ip: '10.200.1.1', addressSpaceId: 1 }] });
    expect(device.addressInformation[0]!.networkInterfaceId).toBeGreaterThan(0);
    expect(device.addressInformation[0]!.ipAddresses[0]!.id).toBeGreaterThan(0);
    expect(device.created).toBe(device.lastModified);
    expect(device.lastModified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/);
  });

  it('applies defaults to a minimal device and reads "influence": 0 as Normal', async () => {
    const answer = await create({ whatIfDuplicate: 'Skip', allowProcessControlSettingsLoss: true, name: 'Minimal', addressInformation: [{ ipAddresses: [{ ip: '10.200.1.2' }] }], influence: 0 });
    const device = await get((answer.json as { deviceId: number }).deviceId);
    expect(device).toMatchObject({ status: 'Unauthorized', category: 'Other', influence: 'Normal', isRouter: false, labels: [], userAttributes: [], description: null });
    expect(device.addressInformation[0]!.macAddress).toBeNull();
  });

  describe('validation: 400 with the KICS error shape, nothing created', () => {
    const ok = () => createBody('Valid name', '00:1b:1b:aa:bb:99', '10.200.9.9');
    const cases: [string, Record<string, unknown>, { field: string | null; path?: string; message: RegExp }][] = [
      ['a missing name', { name: undefined }, { field: 'name', path: 'name', message: /required/ }],
      ['an empty name', { name: '  ' }, { field: 'name', message: /empty/ }],
      ['a name over 8192 characters', { name: 'n'.repeat(8193) }, { field: 'name', message: /8192/ }],
      ['a description over 65536 characters', { description: 'd'.repeat(65_537) }, { field: 'description', message: /65536/ }],
      ['an os over 65536 characters', { os: 'o'.repeat(65_537) }, { field: 'os', message: /65536/ }],
      ['no addressInformation', { addressInformation: undefined }, { field: 'addressInformation', message: /non-empty/ }],
      ['empty addressInformation', { addressInformation: [] }, { field: 'addressInformation', message: /must not be empty/ }],
      ['65 interfaces', { addressInformation: Array.from({ length: 65 }, (_, i) => ({ ipAddresses: [{ ip: `10.201.0.${i + 1}` }] })) }, { field: 'addressInformation', message: /64/ }],
      ['an interface without MAC or IP', { addressInformation: [{ networkInterfaceName: 'eth0' }] }, { field: 'addressInformation', path: 'addressInformation[0]', message: /MAC address or at least one IP/ }],
      ['a bad MAC', { addressInformation: [{ macAddress: '00:1b:1b:aa:bb', ipAddresses: [] }] }, { field: 'macAddress', path: 'addressInformation[0]/macAddress', message: /Wrong MAC address format/ }],
      ['a broadcast MAC', { addressInformation: [{ macAddress: 'ff:ff:ff:ff:ff:ff' }] }, { field: 'macAddress', message: /broadcast/ }],
      ['a bad IP', { addressInformation: [{ ipAddresses: [{ ip: '10.0.0.300' }] }] }, { field: 'ip', path: 'addressInformation[0]/ipAddresses[0]/ip', message: /Wrong ip address format/ }],
      ['an IP with a prefix', { addressInformation: [{ ipAddresses: [{ ip: '10.0.0.3/24' }] }] }, { field: 'ip', message: /Wrong ip address format/ }],
      ['the same IP twice', { addressInformation: [{ ipAddresses: [{ ip: '10.200.9.8' }, { ip: '10.200.9.8' }] }] }, { field: 'ip', message: /twice/ }],
      ['an unknown address space', { addressInformation: [{ ipAddresses: [{ ip: '10.200.9.7', addressSpaceId: 999 }] }] }, { field: 'addressSpaceId', message: /999 does not exist/ }],
      ['an unknown status', { status: 'Authorized' }, { field: 'status', message: /Unauthorized, Recognized, Archived/ }],
      ['an unknown category', { category: 'Robot' }, { field: 'category', message: /ScadaHmi/ }],
      ['an influence index out of range', { influence: 3 }, { field: 'influence', message: /BusinessCritical/ }],
      ['a wrong type', { isRouter: 'yes' }, { field: 'isRouter', message: /true or false/ }],
      ['a label listed twice', { labels: ['a', 'a'] }, { field: 'labels', path: 'labels[1]', message: /twice/ }],
      ['a user attribute listed twice', { userAttributes: [{ name: 'Owner', value: 'a' }, { name: 'owner', value: 'b' }] }, { field: 'name', message: /twice/ }],
      ['a missing whatIfDuplicate', { whatIfDuplicate: undefined }, { field: 'whatIfDuplicate', message: /Skip, Overwrite/ }],
      ['an unknown whatIfDuplicate', { whatIfDuplicate: 'Merge' }, { field: 'whatIfDuplicate', message: /Skip, Overwrite/ }],
      ['a missing allowProcessControlSettingsLoss', { allowProcessControlSettingsLoss: undefined }, { field: 'allowProcessControlSettingsLoss', message: /required/ }],
    ];
    it.each(cases)('refuses %s', async (_label, change, expected) => {
      const before = t.sim.store.size;
      const body: Record<string, unknown> = { ...ok(), ...change };
      for (const [k, v] of Object.entries(change)) if (v === undefined) delete body[k];
      const answer = await create(body);
      expect(answer.status).toBe(400);
      const json = answer.json as { status: string; errors: { field: string | null; path: string | null; errorMessage: string }[] };
      expect(json.status).toBe('Error');
      const match = json.errors.find((e) => e.field === expected.field && (expected.path === undefined || e.path === expected.path) && expected.message.test(e.errorMessage));
      expect(match, JSON.stringify(json.errors)).toBeDefined();
      expect(t.sim.store.size).toBe(before);
    });

    it('refuses a body that is not JSON, or not an object', async () => {
      const bad = await t.call('POST', `${v4}/devices`, { body: '{"name": ' });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.json)).toContain('not valid JSON');
      expect((await create([1, 2])).status).toBe(400);
      const wrongType = await t.call('POST', `${v4}/devices`, { body: JSON.stringify(ok()), headers: { 'content-type': 'text/plain' } });
      expect(wrongType.status).toBe(415);
    });
  });

  describe('duplicates', () => {
    let original: number;
    beforeAll(async () => {
      original = ((await create(createBody('Dup original', '00:1b:1b:dd:00:01', '10.200.2.1', { description: 'first' }))).json as { deviceId: number }).deviceId;
    });

    it.each([
      ['name', createBody('Dup original', '00:1b:1b:dd:00:02', '10.200.2.2'), 'Name'],
      ['MAC in the same address space', createBody('Dup other name', '00:1b:1b:dd:00:01', '10.200.2.3'), 'MacAddress'],
      ['IP in the same address space', createBody('Dup third name', '00:1b:1b:dd:00:04', '10.200.2.1'), 'IpAddress'],
    ])('Skip answers without creating and names the device matched by %s', async (_label, body, matchedBy) => {
      const before = t.sim.store.size;
      const answer = await create(body);
      expect(answer.status).toBe(200);
      expect(answer.json).toMatchObject({ status: 'Skipped', deviceId: original, duplicate: { deviceId: original, matchedBy } });
      expect(t.sim.store.size).toBe(before);
    });

    it('does not treat the same IP in another address space as a duplicate', async () => {
      const inCellA = await create({ ...createBody('Cell A twin', '00:1b:1b:dd:00:10', '192.168.10.250'), addressInformation: [{ macAddress: '00:1b:1b:dd:00:10', macAddressSpaceId: 2, ipAddresses: [{ ip: '192.168.10.250', addressSpaceId: 2 }] }] });
      const inCellB = await create({ ...createBody('Cell B twin', '00:1b:1b:dd:00:11', '192.168.10.250'), addressInformation: [{ macAddress: '00:1b:1b:dd:00:11', macAddressSpaceId: 3, ipAddresses: [{ ip: '192.168.10.250', addressSpaceId: 3 }] }] });
      expect(inCellA.json).toMatchObject({ status: 'Created' });
      expect(inCellB.json).toMatchObject({ status: 'Created' });
    });

    it('Overwrite updates the matched device and moves its lastModified', async () => {
      const before = await get(original);
      const answer = await create({ ...createBody('Dup original', '00:1b:1b:dd:00:01', '10.200.2.1'), whatIfDuplicate: 'Overwrite', description: 'overwritten', labels: ['new'] });
      expect(answer.json).toMatchObject({ status: 'Overwritten', deviceId: original, duplicate: { matchedBy: 'Name' } });
      const after = await get(original);
      expect(after).toMatchObject({ description: 'overwritten', labels: ['new'], created: before.created });
      expect(after.lastModified > before.lastModified).toBe(true);
    });

    it('Overwrite refuses (409) a device that matches two different devices', async () => {
      await create(createBody('Dup second', '00:1b:1b:dd:00:20', '10.200.2.20'));
      const answer = await create({ ...createBody('Dup second', '00:1b:1b:dd:00:01', '10.200.2.21'), whatIfDuplicate: 'Overwrite' });
      expect(answer.status).toBe(409);
      expect(JSON.stringify(answer.json)).toContain('Overwrite needs exactly one');
    });
  });

  describe('edit (PUT)', () => {
    it('replaces what is given, keeps what is absent, clears what is null, and answers the device', async () => {
      const id = ((await create(createBody('Edit me', '00:1b:1b:ee:00:01', '10.200.3.1', { description: 'keep?', os: 'Linux', labels: ['x'] }))).json as { deviceId: number }).deviceId;
      const before = await get(id);
      const answer = await t.call('PUT', `${v4}/devices/${id}`, {
        body: { allowProcessControlSettingsUpdate: false, name: 'Edited', addressInformation: [{ networkInterfaceId: before.addressInformation[0]!.networkInterfaceId, macAddress: '00:1b:1b:ee:00:01', ipAddresses: [{ ip: '10.200.3.1' }, { ip: '10.200.3.2' }] }], description: null, status: 'Archived' },
      });
      expect(answer.status).toBe(200);
      const after = answer.json as Device;
      expect(after).toMatchObject({ id, name: 'Edited', description: null, os: 'Linux', labels: ['x'], status: 'Archived' });
      expect(after.addressInformation[0]!.networkInterfaceId).toBe(before.addressInformation[0]!.networkInterfaceId);
      expect(after.addressInformation[0]!.ipAddresses[0]!.id).toBe(before.addressInformation[0]!.ipAddresses[0]!.id);
      expect(after.addressInformation[0]!.ipAddresses.map((a) => a.ip)).toEqual(['10.200.3.1', '10.200.3.2']);
      expect(after.lastModified > before.lastModified).toBe(true);
      expect(await get(id)).toEqual(after);
    });

    it('does not move lastModified when nothing changes', async () => {
      const id = ((await create(createBody('Unchanged', '00:1b:1b:ee:00:02', '10.200.3.3'))).json as { deviceId: number }).deviceId;
      const before = await get(id);
      const answer = await t.call('PUT', `${v4}/devices/${id}`, { body: { allowProcessControlSettingsUpdate: false, name: 'Unchanged', addressInformation: [{ macAddress: '00:1b:1b:ee:00:02', ipAddresses: [{ ip: '10.200.3.3' }] }] } });
      expect((answer.json as Device).lastModified).toBe(before.lastModified);
    });

    it('refuses a name or an address that belongs to another device', async () => {
      const id = ((await create(createBody('Conflict', '00:1b:1b:ee:00:03', '10.200.3.4'))).json as { deviceId: number }).deviceId;
      const byName = await t.call('PUT', `${v4}/devices/${id}`, { body: { allowProcessControlSettingsUpdate: false, name: 'Unchanged', addressInformation: [{ ipAddresses: [{ ip: '10.200.3.4' }] }] } });
      expect(byName.status).toBe(400);
      expect(byName.json).toMatchObject({ errors: [{ field: 'name', errorMessage: expect.stringContaining('already exists') as string }] });
      const byIp = await t.call('PUT', `${v4}/devices/${id}`, { body: { allowProcessControlSettingsUpdate: false, name: 'Conflict', addressInformation: [{ ipAddresses: [{ ip: '10.200.3.3' }] }] } });
      expect(byIp.status).toBe(400);
      expect(byIp.json).toMatchObject({ errors: [{ field: 'ip', path: 'addressInformation[0]/ipAddresses[0]/ip', errorMessage: expect.stringContaining('belongs to device') as string }] });
      expect((await get(id)).name).toBe('Conflict');
    });

    it('needs allowProcessControlSettingsUpdate to drop an address the industrial configuration uses', async () => {
      const plc = [...t.sim.store.all()].find((d) => (d.processControlSettings?.protocols.length ?? 0) > 0 && d.addressInformation.length === 1 && d.addressInformation[0]!.ipAddresses.length === 1)!;
      expect(plc).toBeDefined();
      const nic = plc.addressInformation[0]!;
      const body = (allow: boolean) => ({ allowProcessControlSettingsUpdate: allow, name: plc.name, addressInformation: [{ networkInterfaceId: nic.networkInterfaceId, macAddress: nic.macAddress, ipAddresses: [{ ip: '10.222.0.1' }] }] });
      const refused = await t.call('PUT', `${v4}/devices/${plc.id}`, { body: body(false) });
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.json)).toContain('allowProcessControlSettingsUpdate');
      expect((await get(plc.id)).addressInformation[0]!.ipAddresses[0]!.ip).toBe(nic.ipAddresses[0]!.ip);
      const allowed = await t.call('PUT', `${v4}/devices/${plc.id}`, { body: body(true) });
      expect(allowed.status).toBe(200);
      const configs = ((allowed.json as Device).processControlSettings?.protocols ?? []).flatMap((p) => p.addresses2.map((a) => a.addressConfig));
      expect(configs.some((c) => c.includes(nic.ipAddresses[0]!.ip))).toBe(false);
    });

    it('answers 404 for an unknown device and 400 for an id below 1', async () => {
      const body = { allowProcessControlSettingsUpdate: false, name: 'x', addressInformation: [{ ipAddresses: [{ ip: '10.200.3.9' }] }] };
      expect((await t.call('PUT', `${v4}/devices/987654`, { body })).status).toBe(404);
      expect((await t.call('GET', `${v4}/devices/987654`)).status).toBe(404);
      expect((await t.call('GET', `${v4}/devices/0`)).status).toBe(400);
      expect((await t.call('GET', `${v4}/devices/abc`)).status).toBe(404);
      expect((await t.call('GET', `${v4}/devices/query`)).status).toBe(405);
    });
  });

  it('deletes a device (204), after which it is gone', async () => {
    const id = ((await create(createBody('Delete me', '00:1b:1b:ff:00:01', '10.200.4.1'))).json as { deviceId: number }).deviceId;
    const answer = await t.call('DELETE', `${v4}/devices/${id}`);
    expect(answer.status).toBe(204);
    expect(answer.text).toBe('');
    expect((await t.call('GET', `${v4}/devices/${id}`)).status).toBe(404);
    expect((await t.call('DELETE', `${v4}/devices/${id}`)).status).toBe(404);
    // Its name and addresses are free again.
    expect((await create(createBody('Delete me', '00:1b:1b:ff:00:01', '10.200.4.1'))).json).toMatchObject({ status: 'Created' });
  });

  it('lists a device\'s protocols from its process control settings', async () => {
    const plc = [...t.sim.store.all()].find((d) => (d.processControlSettings?.protocols.length ?? 0) > 0)!;
    const answer = await t.call('GET', `${v4}/devices/${plc.id}/protocols`);
    expect(answer.status).toBe(200);
    const protocols = answer.json as { id: number; name: string; protocolStackId: number; systemCommands: { total: number; monitored: number }; addresses2: unknown[] }[];
    expect(protocols).toEqual(plc.processControlSettings!.protocols);
    expect(Object.keys(protocols[0]!).sort()).toEqual(['addresses2', 'id', 'name', 'protocolStackId', 'systemCommands']);
    const plain = ((await create(createBody('No protocols', '00:1b:1b:ff:00:02', '10.200.4.2'))).json as { deviceId: number }).deviceId;
    expect((await t.call('GET', `${v4}/devices/${plain}/protocols`)).json).toEqual([]);
  });
});

describe('KICS simulator: device caps', () => {
  it('uses the real caps by default', async () => {
    const sim = await startKicsSimulator({ devices: 0 });
    try {
      expect(sim.store.limits).toEqual({ maxActiveDevices: kicsLimits.maxActiveDevices, maxArchivedDevices: kicsLimits.maxArchivedDevices });
      expect(sim.store.limits.maxActiveDevices).toBe(100_000);
    } finally {
      await sim.close();
    }
  });

  it('refuses to start with more generated devices than the caps allow', async () => {
    await expect(startKicsSimulator({ devices: 10, limits: { maxActiveDevices: 5 } })).rejects.toThrow(/^cannot generate 10 devices: device .+ is refused: status: The server already holds 5 authorized and unauthorized devices, the maximum \(5\)\.$/);
  });

  it('refuses a create or an archive beyond the caps (lowered here to 2 active, 1 archived)', async () => {
    const t = await startTestKicsSimulator({ devices: 0, limits: { maxActiveDevices: 2, maxArchivedDevices: 1 } });
    try {
      const create = (name: string, ip: string, status: string) => t.call('POST', '/kics/api/v4/devices', { body: { ...createBody(name, null as unknown as string, ip), addressInformation: [{ ipAddresses: [{ ip }] }], status } });
      expect((await create('a', '10.9.0.1', 'Recognized')).json).toMatchObject({ status: 'Created' });
      const b = (await create('b', '10.9.0.2', 'Unauthorized')).json as { deviceId: number };
      const third = await create('c', '10.9.0.3', 'Recognized');
      expect(third.status).toBe(400);
      expect(JSON.stringify(third.json)).toContain('maximum (2)');
      expect((await create('d', '10.9.0.4', 'Archived')).json).toMatchObject({ status: 'Created' });
      const archive = await t.call('PATCH', `/kics/api/v4/devices/${b.deviceId}`, { body: [{ op: 'Replace', path: '/status', value: 'Archived' }] });
      expect(archive.status).toBe(400);
      expect(JSON.stringify(archive.json)).toContain('archived devices, the maximum (1)');
      expect(t.sim.store.counts()).toEqual({ active: 2, archived: 1, total: 3 });
    } finally {
      await t.close();
    }
  });
});
