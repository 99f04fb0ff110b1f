import { FormData, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';

interface Tag {
  name: string;
  address: string;
  dataType: string;
  description?: string;
  measureUnit?: string;
  rules?: string[];
}

describe('KICS simulator: industrial configuration upload', () => {
  let t: TestKicsSimulator;
  let deviceId: number;
  const ip = '10.220.0.1';

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 10 });
    const created = await t.call('POST', '/kics/api/v4/devices', {
      body: { whatIfDuplicate: 'Skip', allowProcessControlSettingsLoss: false, name: 'Boiler PLC', category: 'Plc', addressInformation: [{ macAddress: '00:1b:1b:0c:0c:01', ipAddresses: [{ ip }] }] },
    });
    deviceId = (created.json as { deviceId: number }).deviceId;
  });
  afterAll(async () => {
    await t.close();
  });

  const upload = async (mode: string | null, config: string | null, id = deviceId) => {
    const form = new FormData();
    if (mode !== null) form.set('mode', mode);
    if (config !== null) form.set('config', new Blob([config], { type: 'application/json' }), 'boiler.json');
    const response = await request(`${t.url}/kics/api/v4/devices/${id}/industrialConfiguration`, { method: 'POST', body: form, headers: { authorization: `Bearer ${await t.token()}` }, dispatcher: t.agent });
    const text = await response.body.text();
    return { status: response.statusCode, json: JSON.parse(text) as Record<string, unknown> };
  };
  const file = (tags: Tag[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({ deviceType: 'Siemens SIMATIC S7-1500', protocols: [{ name: 'S7CommPlus', address: { ip, port: 102, rack: 0, slot: 1 }, tags }], ...extra });
  const tag = (name: string, address: string, rules: string[] = []): Tag => ({ name, address, dataType: 'Float', measureUnit: '°C', description: name, rules });

  it('counts added tags on a device that has none, and sets its process control settings', async () => {
    const before = (await t.call('GET', `/kics/api/v4/devices/${deviceId}`)).json as { lastModified: string };
    const answer = await upload('Replace', file([tag('TT101', 'DB10.DBD0', ['TT101 high']), tag('TT102', 'DB10.DBD4'), tag('PT201', 'DB10.DBD8', ['PT201 high', 'PT201 low'])]));
    expect(answer).toEqual({ status: 200, json: { addedTags: 3, tagErrors: 0, removedTags: 0, replacedTags: 0, removedRules: 0 } });
    const device = (await t.call('GET', `/kics/api/v4/devices/${deviceId}`)).json as { lastModified: string; processControlSettings: { deviceType: string; protocols: { name: string; addresses2: { addressConfig: string; ipAddressSpaceId: number }[] }[] } };
    expect(device.lastModified > before.lastModified).toBe(true);
    expect(device.processControlSettings.deviceType).toBe('Siemens SIMATIC S7-1500');
    expect(device.processControlSettings.protocols.map((p) => p.name)).toEqual(['S7CommPlus']);
    expect(JSON.parse(device.processControlSettings.protocols[0]!.addresses2[0]!.addressConfig)).toEqual({ ip, port: 102, rack: 0, slot: 1 });
    expect(device.processControlSettings.protocols[0]!.addresses2[0]!.ipAddressSpaceId).toBe(1);
    expect(((await t.call('GET', `/kics/api/v4/devices/${deviceId}/protocols`)).json as unknown[]).length).toBe(1);
  });

  it('Replace counts replaced, removed and added tags against what the device has, and the rules lost', async () => {
    // TT101 changes address and loses its rule, TT102 is unchanged, PT201 (two rules) is gone, LT301 is new.
    const answer = await upload('Replace', file([tag('TT101', 'DB10.DBD100'), tag('TT102', 'DB10.DBD4'), tag('LT301', 'DB10.DBD12')]));
    expect(answer.json).toEqual({ addedTags: 1, tagErrors: 0, removedTags: 1, replacedTags: 1, removedRules: 3 });
    const tags = (await t.admin('GET', `/admin/devices/${deviceId}/tags`)).json as { name: string }[];
    expect(tags.map((x) => x.name).sort()).toEqual(['LT301', 'TT101', 'TT102']);
  });

  it('Merge keeps tags the file does not mention, and counts invalid tags as tagErrors while applying the rest', async () => {
    const answer = await upload(
      'merge',
      file([
        tag('FT401', 'DB10.DBD16'),
        tag('TT102', 'DB10.DBD4'),
        { name: '', address: 'DB10.DBD20', dataType: 'Float' },
        { name: 'Bad type', address: 'DB10.DBD24', dataType: 'Quaternion' },
        tag('FT401', 'DB10.DBD28'),
      ]),
    );
    expect(answer.json).toEqual({ addedTags: 1, tagErrors: 3, removedTags: 0, replacedTags: 0, removedRules: 0 });
    const tags = (await t.admin('GET', `/admin/devices/${deviceId}/tags`)).json as { name: string }[];
    expect(tags.map((x) => x.name).sort()).toEqual(['FT401', 'LT301', 'TT101', 'TT102']);
  });

  it.each([
    ['a file that is not JSON', 'Replace', '<?xml version="1.0"?><project/>', /cannot be parsed: it is not valid JSON/],
    ['a file without protocols', 'Replace', JSON.stringify({ tags: [] }), /not in the expected format: protocols/],
    ['an unknown protocol', 'Replace', JSON.stringify({ protocols: [{ name: 'Carrier pigeon', address: { ip } }] }), /Unknown protocol "Carrier pigeon"/],
    ['an address that is not the device\'s', 'Replace', JSON.stringify({ protocols: [{ name: 'ModbusTcp', address: { ip: '10.99.99.99', port: 502 } }] }), /10\.99\.99\.99 is not an IP address of device/],
    ['a missing mode', null, file([]), /mode field is required/],
    ['an unknown mode', 'Append', file([]), /Unknown mode "Append"/],
    ['a missing file', 'Replace', null, /config file is required/],
  ])('refuses %s with the KICS error shape and changes nothing', async (_label, mode, config, message) => {
    const before = (await t.call('GET', `/kics/api/v4/devices/${deviceId}`)).json;
    const tagsBefore = (await t.admin('GET', `/admin/devices/${deviceId}/tags`)).json;
    const answer = await upload(mode, config);
    expect(answer.status).toBe(400);
    expect(answer.json.status).toBe('Error');
    const errors = answer.json.errors as { errorMessage: string }[];
    expect(errors.some((e) => message.test(e.errorMessage)), JSON.stringify(errors)).toBe(true);
    expect((await t.call('GET', `/kics/api/v4/devices/${deviceId}`)).json).toEqual(before);
    expect((await t.admin('GET', `/admin/devices/${deviceId}/tags`)).json).toEqual(tagsBefore);
  });

  it('refuses a body that is not multipart (415) and an unknown device (404)', async () => {
    const json = await t.call('POST', `/kics/api/v4/devices/${deviceId}/industrialConfiguration`, { body: { mode: 'Replace' } });
    expect(json.status).toBe(415);
    expect((await upload('Replace', file([]), 99_999_999)).status).toBe(404);
  });
});
