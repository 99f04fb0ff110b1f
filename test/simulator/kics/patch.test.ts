import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';

interface Device {
  id: number;
  name: string;
  description: string | null;
  labels: string[];
  userAttributes: { name: string; value: string }[];
  lastModified: string;
  influence: string;
  addressInformation: { macAddress: string | null; ipAddresses: { ip: string; addressSpaceId: number | null }[] }[];
}

interface OpResult {
  result: string;
  op: string;
  path: string;
  value: unknown;
  errorMessage?: string;
}

describe('KICS simulator: PATCH devices/{id}', () => {
  let t: TestKicsSimulator;
  let id: number;
  let n = 0;

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 5 });
    await t.call('POST', '/kics/api/v4/devices', { body: { whatIfDuplicate: 'Skip', allowProcessControlSettingsLoss: false, name: 'Taken name', addressInformation: [{ ipAddresses: [{ ip: '10.212.0.1' }] }] } });
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    n++;
    const created = await t.call('POST', '/kics/api/v4/devices', {
      body: {
        whatIfDuplicate: 'Skip',
        allowProcessControlSettingsLoss: false,
        name: `Patch target ${n}`,
        description: 'original',
        labels: ['a', 'b', 'c'],
        userAttributes: [{ name: 'Owner', value: 'Utilities' }],
        addressInformation: [{ macAddress: `00:1b:1b:00:10:${n.toString(16).padStart(2, '0')}`, ipAddresses: [{ ip: `10.210.0.${n}` }] }],
      },
    });
    id = (created.json as { deviceId: number }).deviceId;
  });

  const patch = (ops: unknown, query = '') => t.call('PATCH', `/kics/api/v4/devices/${id}${query}`, { body: ops, headers: { 'content-type': 'application/json-patch+json' } });
  const get = async () => (await t.call('GET', `/kics/api/v4/devices/${id}`)).json as Device;

  it('applies Add, Remove and Replace and answers one result per op, in order', async () => {
    const before = await get();
    const ops = [
      { op: 'Replace', path: '/name', value: `Renamed ${n}` },
      { op: 'Add', path: '/labels/-', value: 'd' },
      { op: 'Remove', path: '/labels/0' },
      { op: 'Add', path: '/userAttributes/-', value: { name: 'Location', value: 'Hall 2' } },
      { op: 'Remove', path: '/description' },
      { op: 'Add', path: '/addressInformation/0/ipAddresses/-', value: { ip: `10.211.0.${n}` } },
    ];
    const answer = await patch(ops);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual(ops.map((o) => ({ result: 'Succeeded', op: o.op, path: o.path, value: 'value' in o ? o.value : null })));
    const after = await get();
    expect(after).toMatchObject({ name: `Renamed ${n}`, labels: ['b', 'c', 'd'], description: null, userAttributes: [{ name: 'Owner', value: 'Utilities' }, { name: 'Location', value: 'Hall 2' }] });
    expect(after.addressInformation[0]!.ipAddresses.map((a) => a.ip)).toEqual([`10.210.0.${n}`, `10.211.0.${n}`]);
    expect(after.addressInformation[0]!.ipAddresses[1]!.addressSpaceId).toBe(1);
    expect(after.lastModified > before.lastModified).toBe(true);
  });

  it('replaces a whole list (userAttributes) guarded by a Test of its current value', async () => {
    const answer = await patch([
      { op: 'Test', path: '/userAttributes', value: [{ name: 'Owner', value: 'Utilities' }] },
      { op: 'Replace', path: '/userAttributes', value: [{ name: 'Owner', value: 'Maintenance' }] },
    ]);
    expect((answer.json as OpResult[]).map((r) => r.result)).toEqual(['Succeeded', 'Succeeded']);
    expect((await get()).userAttributes).toEqual([{ name: 'Owner', value: 'Maintenance' }]);
  });

  it('Test compares deeply: a missing member equals null, null equals an empty list', async () => {
    await patch([
      { op: 'Remove', path: '/description' },
      { op: 'Replace', path: '/labels', value: [] },
    ]);
    const answer = await patch([
      { op: 'Test', path: '/description', value: null },
      { op: 'Test', path: '/os', value: null },
      { op: 'Test', path: '/labels', value: null },
      { op: 'Test', path: '/labels', value: [] },
      { op: 'Test', path: '/influence', value: 'Normal' },
      { op: 'Test', path: '/influence', value: 0 },
      { op: 'Test', path: '/addressInformation/0/ipAddresses/0/ip', value: `10.210.0.${n}` },
    ]);
    expect((answer.json as OpResult[]).map((r) => r.result)).toEqual(Array(7).fill('Succeeded'));
  });

  it('a failed Test stops the ops after it (Skipped) and keeps the ops before it when dontBreakOnFailure is false', async () => {
    const before = await get();
    const answer = await patch([
      { op: 'Replace', path: '/description', value: 'changed before the test' },
      { op: 'Test', path: '/name', value: 'Someone else' },
      { op: 'Replace', path: '/name', value: 'Never applied' },
    ]);
    expect(answer.status).toBe(200);
    const results = answer.json as OpResult[];
    expect(results.map((r) => r.result)).toEqual(['Succeeded', 'Failed', 'Skipped']);
    expect(results[1]!.errorMessage).toBe(`Test failed: the value at /name is ${JSON.stringify(before.name)}, expected "Someone else".`);
    const after = await get();
    expect(after.name).toBe(before.name);
    expect(after.description).toBe('changed before the test');
  });

  it('runs every op with dontBreakOnFailure=true', async () => {
    const answer = await patch(
      [
        { op: 'Test', path: '/description', value: 'not this' },
        { op: 'Replace', path: '/description', value: 'applied anyway' },
      ],
      '?dontBreakOnFailure=true&sourceId=42',
    );
    expect((answer.json as OpResult[]).map((r) => r.result)).toEqual(['Failed', 'Succeeded']);
    expect((await get()).description).toBe('applied anyway');
    const log = (await t.admin('GET', '/admin/requests')).json as { entries: { route: string; sourceId?: number }[] };
    expect(log.entries.filter((e) => e.route === 'devicePatch').at(-1)!.sourceId).toBe(42);
  });

  it('refuses read-only and unknown members per op, with a reason', async () => {
    const answer = await patch(
      [
        { op: 'Replace', path: '/id', value: 1 },
        { op: 'Replace', path: '/lastModified', value: '2020-01-01T00:00:00' },
        { op: 'Add', path: '/risks/-', value: {} },
        { op: 'Replace', path: '/colour', value: 'red' },
        { op: 'Replace', path: '', value: {} },
        { op: 'Remove', path: '/labels/9' },
      ],
      '?dontBreakOnFailure=true',
    );
    const results = answer.json as OpResult[];
    expect(results.map((r) => r.result)).toEqual(Array(6).fill('Failed'));
    expect(results[0]!.errorMessage).toBe('id is read-only and cannot be patched.');
    expect(results[1]!.errorMessage).toBe('lastModified is read-only and cannot be patched.');
    expect(results[2]!.errorMessage).toBe('risks is read-only and cannot be patched.');
    expect(results[3]!.errorMessage).toContain('Unknown member "colour"');
    expect(results[4]!.errorMessage).toContain('use PUT');
    expect(results[5]!.errorMessage).toContain('/labels/9');
  });

  it('matches member names case-insensitively and accepts lower-case op names', async () => {
    const answer = await patch([{ op: 'replace', path: '/Description', value: 'by case' }]);
    expect(answer.json).toEqual([{ result: 'Succeeded', op: 'Replace', path: '/Description', value: 'by case' }]);
    expect((await get()).description).toBe('by case');
  });

  it('does not move lastModified when the ops change nothing', async () => {
    const before = await get();
    await patch([{ op: 'Test', path: '/description', value: 'original' }, { op: 'Replace', path: '/description', value: 'original' }]);
    expect((await get()).lastModified).toBe(before.lastModified);
  });

  describe('refusals of the whole request (400, nothing applied)', () => {
    it.each([
      ['a path outside the pattern', [{ op: 'Replace', path: 'name', value: 'x' }], /does not match the pattern/],
      ['a path with a dot', [{ op: 'Replace', path: '/user.attributes', value: 'x' }], /does not match the pattern/],
      ['the reference example\'s placeholder path "string"', [{ op: 'Add', path: 'string', value: {} }], /does not match the pattern/],
      ['an unknown op', [{ op: 'Move', path: '/name', value: 'x' }], /Unknown op "Move"/],
      ['a body that is not an array', { op: 'Replace', path: '/name', value: 'x' }, /JSON array/],
    ])('refuses %s', async (_label, body, message) => {
      const before = await get();
      const answer = await patch(body);
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ status: 'Error' });
      expect((answer.json as { errors: { errorMessage: string }[] }).errors.some((e) => message.test(e.errorMessage))).toBe(true);
      expect(await get()).toEqual(before);
    });

    it.each([
      ['removing the name', [{ op: 'Remove', path: '/name' }], 'name', /required|string/],
      ['a name over 8192 characters', [{ op: 'Replace', path: '/name', value: 'x'.repeat(8193) }], 'name', /8192/],
      ['a name another device has', [{ op: 'Replace', path: '/name', value: 'Taken name' }], 'name', /already exists/],
      ['removing every interface', [{ op: 'Replace', path: '/addressInformation', value: [] }], 'addressInformation', /must not be empty/],
      ['an invalid IP', [{ op: 'Add', path: '/addressInformation/0/ipAddresses/-', value: { ip: '999.1.1.1' } }], 'ip', /Wrong ip address format/],
      ['an unknown status', [{ op: 'Replace', path: '/status', value: 'Gone' }], 'status', /Unauthorized, Recognized, Archived/],
      ['removing the status', [{ op: 'Remove', path: '/status' }], 'status', /cannot be removed/],
    ])('validates the patched device like a PUT: %s', async (_label, ops, field, message) => {
      const before = await get();
      const answer = await patch([{ op: 'Replace', path: '/description', value: 'would change' }, ...ops]);
      expect(answer.status).toBe(400);
      const errors = (answer.json as { errors: { field: string; errorMessage: string }[] }).errors;
      expect(errors.some((e) => e.field === field && message.test(e.errorMessage)), JSON.stringify(errors)).toBe(true);
      expect(await get()).toEqual(before);
    });

    it('refuses a bad dontBreakOnFailure or sourceId, and answers 404 for an unknown device', async () => {
      expect((await patch([], '?dontBreakOnFailure=maybe')).status).toBe(400);
      expect((await patch([], '?sourceId=abc')).status).toBe(400);
      expect((await t.call('PATCH', '/kics/api/v4/devices/99999999', { body: [] })).status).toBe(404);
    });
  });
});
