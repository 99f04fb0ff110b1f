import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FormData, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/paths.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';

/**
 * Every example request of the reference document (docs/vendor/kics-for-networks-connector-api.txt)
 * for the endpoints the simulator serves, copied verbatim, sent as is, and accepted; the answers
 * carry every member the reference shows. Each example is first checked to appear in the document.
 */

const referenceFile = path.join(packageRoot, 'docs', 'vendor', 'kics-for-networks-connector-api.txt');
/** The document's rendering (`{- "a": [- {...}, - {...}]}`) reduced to compact JSON text. */
const compact = (text: string) => text.replace(/\s+/g, '').replace(/([{[,])-/g, '$1');
const reference = compact(readFileSync(referenceFile, 'utf8'));

const examples = {
  addressSpacesQuery: { filter: [{ field: 'Id', condition: '>', value: 12370 }, { field: 'ReadOnly', condition: '=', value: false }], sort: [{ column: 'Id', direction: 'Asc', nullsBehaviour: null }], offset: 200, limit: 100 },
  devicesQuery: { filter: [{ field: 'Id', condition: '>', value: 12370 }, { field: 'Category', condition: '=', value: 'Plc' }], sort: [{ column: 'Id', direction: 'Asc', nullsBehaviour: null }], offset: 200, limit: 100 },
  eventsQuery: { filter: [{ field: 'Id', condition: '>', value: 12370 }, { field: 'Technology', condition: '=', value: 'Dpi' }], sort: [{ column: 'Id', direction: 'Asc', nullsBehaviour: null }], offset: 200, limit: 100 },
  deviceEdit: {
    allowProcessControlSettingsUpdate: true,
    name: 'BoilerPlc',
    addressInformation: [{ networkInterfaceId: 123409, networkInterfaceName: null, macAddress: '11:22:33:44:55:66', macAddressSpaceId: null, ipAddresses: [{ id: 101, ip: '1.2.3.4', addressSpaceId: null }, { id: 102, ip: '1.2.3.5', addressSpaceId: null }] }],
    description: 'Very long description text',
    status: 'Recognized',
    category: 'NetworkDevice',
    os: 'Linux',
    hardwareVendor: 'Siemens',
    hardwareModel: 'S7-1500',
    hardwareVersion: '3.51',
    softwareVendor: 'SomeCompany',
    softwareModel: 'FirmwareOs1',
    softwareVersion: '1.23',
    networkName: 'factory-net',
    isRouter: false,
    influence: 0,
    labels: ['label1', 'label2'],
    userAttributes: [{ name: 'name1', value: 'value1' }, { name: 'name2', value: 'value2' }],
  },
  deviceCreate: {
    whatIfDuplicate: 'Skip',
    allowProcessControlSettingsLoss: true,
    name: 'BoilerPlc',
    addressInformation: [{ networkInterfaceId: 0, networkInterfaceName: null, macAddress: '11:22:33:44:55:66', macAddressSpaceId: null, ipAddresses: [{ id: 0, ip: '1.2.3.4', addressSpaceId: null }, { id: 0, ip: '1.2.3.5', addressSpaceId: null }] }],
    description: 'Very long description text',
    status: 'Recognized',
    category: 'NetworkDevice',
    os: 'Linux',
    hardwareVendor: 'Siemens',
    hardwareModel: 'S7-1500',
    hardwareVersion: '3.51',
    softwareVendor: 'SomeCompany',
    softwareModel: 'FirmwareOs1',
    softwareVersion: '1.23',
    networkName: 'factory-net',
    isRouter: false,
    influence: 0,
    labels: ['label1', 'label2'],
    userAttributes: [{ name: 'name1', value: 'value1' }, { name: 'name2', value: 'value2' }],
  },
  devicePatch: [{ op: 'Add', path: 'string', value: {} }],
  eventRegister: {
    title: 'Something happened',
    score: 7.7,
    startTime: '2020-10-27T14:32:25Z',
    lastSeenTime: '2020-10-27T14:32:26Z',
    endTime: '2020-10-27T14:32:26Z',
    totalAppearances: 10,
    description: 'Very long description text',
    triggeredRuleName: 'Rule name',
    monitoringPointId: 1,
    mark: 0,
    origin: 'User',
    params: { param1: 'value 1', param2: 'value 2' },
    communications: [{ sourceIp: '192.168.0.1', sourceIpAddressSpaceId: 1234, sourcePort: 20, sourceMac: 'ff:aa:bb:cc:dd:ee', sourceMacAddressSpaceId: 1234, destinationIp: '192.168.0.1', destinationIpAddressSpaceId: 1234, destinationPort: 30, destinationMac: 'ff:aa:bb:cc:dd:ee', destinationMacAddressSpaceId: 1234, vlanId: 0, protocolStackId: 1232 }],
    applications: [
      {
        eppApplication: { applicationName: 'Microsoft® Windows® Operating System', osName: 'Microsoft Windows 10 Pro', productName: 'Microsoft® Windows® Operating System', productVersion: '10.0.19041.746', productVendor: 'Microsoft Corporation', imagePath: 'C:\\Windows\\System32\\mspaint.exe', isServer: false, communicationIndex: 0, communicationIsSource: true },
        eppUser: { userName: 'Administrator', accountType: 'Admin', logonType: 'Interactive' },
      },
      {
        eppApplication: { applicationName: 'Microsoft® Windows® Operating System', osName: 'Microsoft Windows 10 Pro', productName: 'Microsoft® Windows® Operating System', productVersion: '10.0.19041.964', productVendor: 'Microsoft Corporation', imagePath: 'C:\\WINDOWS\\System32\\smss.exe', isServer: false, communicationIndex: 2, communicationIsSource: false },
        eppUser: { userName: 'TEMPLATE-FOR-KS\\autotester', accountType: 'Admin', logonType: 'Interactive' },
      },
    ],
  },
  /** The filter description's examples (wrapped in "query"); their placeholder fields are named here for events. */
  filterWithGroup: {
    query: {
      filter: [
        [
          { field: 'propName1', condition: '>=', value: 10 },
          { field: 'propName1', value: 1, operator: 'or' },
        ],
        { field: 'propName3', condition: 'isOneOf', value: ['DPI', 'NIC', 'CC'] },
        { field: 'propName4', condition: '>=', value: '2020-10-27T17:32:25.806Z' },
      ],
    },
  },
};

/** The members of the reference's device, address space and event objects. */
const documentedDevice = [
  'id', 'name', 'description', 'status', 'addressInformation', 'category', 'categoryConfidence', 'group', 'securityState', 'influence', 'lastSeen', 'lastModified', 'created',
  'os', 'osConfidence', 'networkName', 'networkNameConfidence', 'hardwareVendor', 'hardwareVendorConfidence', 'hardwareModel', 'hardwareModelConfidence', 'hardwareVersion',
  'hardwareVersionConfidence', 'softwareVendor', 'softwareVendorConfidence', 'softwareModel', 'softwareModelConfidence', 'softwareVersion', 'softwareVersionConfidence',
  'isRouter', 'isRouterConfidence', 'labels', 'risks', 'processControlSettings', 'attributes', 'userAttributes', 'epp',
];
const documentedEvent = [
  'id', 'eventType', 'title', 'score', 'startTime', 'lastSeenTime', 'endTime', 'protocol', 'communications', 'technology', 'totalAppearances', 'status', 'description',
  'triggeredRule', 'triggeredRuleId', 'monitoringPoint', 'monitoringPointId', 'monitoringPointDeletedTime', 'mark', 'origin', 'childrenCount', 'assets', 'params', 'risks', 'applications',
];
const sorted = (keys: string[]) => [...keys].sort();

describe('KICS simulator: the reference document\'s example requests', () => {
  let t: TestKicsSimulator;

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 300 });
  });
  afterAll(async () => {
    await t.close();
  });

  it('copies each example verbatim from the reference document', () => {
    for (const [name, example] of Object.entries(examples)) {
      const text = name === 'filterWithGroup' ? JSON.stringify(examples.filterWithGroup.query.filter) : JSON.stringify(example);
      expect(reference.includes(compact(text)), `${name} is not in the reference`).toBe(true);
    }
  });

  it('accepts the devices query example and answers devices with every documented member', async () => {
    const answer = await t.call('POST', '/kics/api/v4/devices/query', { body: examples.devicesQuery });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ offset: 200, limit: 100, values: [] });
    const page = (await t.call('POST', '/kics/api/v4/devices/query', { body: { ...examples.devicesQuery, filter: [{ field: 'Id', condition: '>', value: 0 }, examples.devicesQuery.filter[1]], offset: 0 } })).json as { values: Record<string, unknown>[] };
    expect(page.values.length).toBeGreaterThan(0);
    for (const device of page.values) {
      expect(sorted(Object.keys(device))).toEqual(sorted(documentedDevice));
      expect(device.category).toBe('Plc');
    }
    const withSettings = page.values.find((d) => d.processControlSettings !== null) as { processControlSettings: { deviceType: string; protocols: Record<string, unknown>[] } };
    expect(sorted(Object.keys(withSettings.processControlSettings))).toEqual(['deviceType', 'protocols']);
    expect(sorted(Object.keys(withSettings.processControlSettings.protocols[0]!))).toEqual(['addresses2', 'id', 'name', 'protocolStackId', 'systemCommands']);
  });

  it('accepts the address spaces query example', async () => {
    const answer = await t.call('POST', '/kics/api/v4/addressSpaces/query', { body: examples.addressSpacesQuery });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ offset: 200, limit: 100, values: [] });
  });

  it('accepts the events query example and answers events with every documented member', async () => {
    const answer = await t.call('POST', '/kics/api/v4/events/query', { body: examples.eventsQuery });
    expect(answer.status).toBe(200);
    const all = (await t.call('POST', '/kics/api/v4/events/query', { body: { ...examples.eventsQuery, filter: [examples.eventsQuery.filter[1]], offset: 0 } })).json as { values: Record<string, unknown>[] };
    expect(all.values.length).toBeGreaterThan(0);
    for (const event of all.values) expect(sorted(Object.keys(event))).toEqual(sorted(documentedEvent));
  });

  it('accepts the create example (Created, then Skipped), and the edit example with "influence": 0', async () => {
    const created = await t.call('POST', '/kics/api/v4/devices', { body: examples.deviceCreate });
    expect(created.status).toBe(200);
    expect(created.json).toEqual({ status: 'Created', deviceId: expect.any(Number) as number });
    const id = (created.json as { deviceId: number }).deviceId;
    expect((await t.call('POST', '/kics/api/v4/devices', { body: examples.deviceCreate })).json).toMatchObject({ status: 'Skipped', deviceId: id });

    const edited = await t.call('PUT', `/kics/api/v3/devices/${id}`, { body: examples.deviceEdit });
    expect(edited.status).toBe(200);
    const device = edited.json as Record<string, unknown>;
    expect(sorted(Object.keys(device))).toEqual(sorted(documentedDevice));
    expect(device).toMatchObject({ name: 'BoilerPlc', category: 'NetworkDevice', influence: 'Normal', labels: ['label1', 'label2'], addressInformation: [{ macAddress: '11:22:33:44:55:66', ipAddresses: [{ ip: '1.2.3.4' }, { ip: '1.2.3.5' }] }] });
  });

  it('accepts the event registration example', async () => {
    const answer = await t.call('POST', '/kics/api/v4/events', { body: examples.eventRegister });
    expect(answer.status).toBe(200);
    const event = (await t.call('GET', `/kics/api/v4/events/${(answer.json as { eventId: number }).eventId}`)).json as Record<string, unknown>;
    expect(sorted(Object.keys(event))).toEqual(sorted(documentedEvent));
    expect(event).toMatchObject({ title: 'Something happened', score: 7.7, origin: 'User', params: [{ name: 'param1', value: 'value 1' }, { name: 'param2', value: 'value 2' }], applications: [{ eppUser: { userName: 'Administrator' } }, {}] });
  });

  it('accepts the filter description\'s grouped example (placeholders named: Id, Technology, StartTime)', async () => {
    const named = JSON.parse(JSON.stringify(examples.filterWithGroup).replace(/propName1/g, 'Id').replace(/propName3/g, 'Technology').replace(/propName4/g, 'StartTime')) as typeof examples.filterWithGroup;
    const answer = await t.call('POST', '/kics/api/v4/events/query', { body: { query: { ...named.query, limit: 1000 } } });
    expect(answer.status).toBe(200);
    const expected = t.sim.events.list().filter((e) => (e.id >= 10 || e.id === 1) && ['dpi', 'nic', 'cc'].includes(e.technology.toLowerCase()) && e.startTime >= '2020-10-27T17:32:25.806Z');
    expect((answer.json as { values: { id: number }[] }).values.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    // With the placeholders left in, the answer names the unknown field.
    const placeholders = await t.call('POST', '/kics/api/v4/events/query', { body: examples.filterWithGroup });
    expect(placeholders.status).toBe(400);
    expect(JSON.stringify(placeholders.json)).toContain('Unknown field \\"propName1\\"');
  });

  it('refuses the PATCH example as written: its placeholder path "string" breaks the documented pattern', async () => {
    const id = [...t.sim.store.all()][0]!.id;
    const answer = await t.call('PATCH', `/kics/api/v4/devices/${id}?dontBreakOnFailure=false&sourceId=1`, { body: examples.devicePatch });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ status: 'Error', errors: [{ field: 'path', path: '[0].path' }] });
    // The same example with a real path is accepted and answered per op.
    const concrete = await t.call('PATCH', `/kics/api/v4/devices/${id}?dontBreakOnFailure=false&sourceId=1`, { body: [{ op: 'Add', path: '/userAttributes/-', value: { name: 'name1', value: 'value1' } }] });
    expect(concrete.json).toEqual([{ result: 'Succeeded', op: 'Add', path: '/userAttributes/-', value: { name: 'name1', value: 'value1' } }]);
  });

  it('accepts an industrial configuration upload (mode + config) and answers the documented counters', async () => {
    const device = [...t.sim.store.all()].find((d) => d.addressInformation[0]?.ipAddresses[0])!;
    const form = new FormData();
    form.set('mode', 'Replace');
    form.set('config', new Blob([JSON.stringify({ protocols: [{ name: 'ModbusTcp', address: { ip: device.addressInformation[0]!.ipAddresses[0]!.ip, port: 502, unit: 1 }, tags: [{ name: 'HR1', address: '40001', dataType: 'Int16' }] }] })]), 'config.json');
    const response = await request(`${t.url}/kics/api/v4/devices/${device.id}/industrialConfiguration`, { method: 'POST', body: form, headers: { authorization: `Bearer ${await t.token()}` }, dispatcher: t.agent });
    expect(response.statusCode).toBe(200);
    expect(sorted(Object.keys((await response.body.json()) as object))).toEqual(['addedTags', 'removedRules', 'removedTags', 'replacedTags', 'tagErrors']);
  });
});
