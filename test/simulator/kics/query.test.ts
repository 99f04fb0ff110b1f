import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimDevice } from '../../../src/simulator/kics/index.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';

interface Page<T = SimDevice> {
  offset: number;
  limit: number;
  values: T[];
}

describe('KICS simulator: queries', () => {
  let t: TestKicsSimulator;
  let all: SimDevice[];

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 400, seed: 'query-tests' });
    all = [...t.sim.store.all()];
  });
  afterAll(async () => {
    await t.close();
  });

  const query = async (body: unknown, version = 'v4', contentType = 'application/json') => {
    const answer = await t.call('POST', `/kics/api/${version}/devices/query`, { body, headers: { 'content-type': contentType } });
    return answer;
  };
  const values = async (body: unknown) => {
    const answer = await query({ limit: 1000, ...(body as object) });
    expect(answer.status, answer.text).toBe(200);
    return (answer.json as Page).values;
  };
  const ids = (devices: { id: number }[]) => devices.map((d) => d.id);

  it('answers {offset, limit, values} in id order by default, 100 values when no limit is given', async () => {
    const answer = await query(undefined);
    expect(answer.status).toBe(200);
    const page = answer.json as Page;
    expect(page.offset).toBe(0);
    expect(page.limit).toBe(100);
    expect(ids(page.values)).toEqual(ids(all.slice(0, 100)));
  });

  it('runs the reference example (Id > n AND Category = Plc, sorted by Id, offset and limit)', async () => {
    const pivot = all[50]!.id;
    const answer = await query({ filter: [{ field: 'Id', condition: '>', value: pivot }, { field: 'Category', condition: '=', value: 'Plc' }], sort: [{ column: 'Id', direction: 'Asc', nullsBehaviour: null }], offset: 5, limit: 10 });
    const expected = all.filter((d) => d.id > pivot && d.category === 'Plc').slice(5, 15);
    expect(answer.json).toEqual({ offset: 5, limit: 10, values: expected });
  });

  it('matches field names case-insensitively and enum values case-insensitively', async () => {
    const upper = await values({ filter: [{ field: 'STATUS', condition: '=', value: 'archived' }] });
    const lower = await values({ filter: [{ field: 'status', condition: '=', value: 'Archived' }] });
    expect(ids(upper)).toEqual(ids(all.filter((d) => d.status === 'Archived')));
    expect(ids(lower)).toEqual(ids(upper));
    expect(upper.length).toBeGreaterThan(0);
  });

  it.each([
    ['=', 'HardwareVendor', 'Siemens', (d: SimDevice) => d.hardwareVendor === 'Siemens'],
    ['<>', 'HardwareVendor', 'Siemens', (d: SimDevice) => d.hardwareVendor !== 'Siemens'],
    ['>', 'CategoryConfidence', 150, (d: SimDevice) => d.categoryConfidence > 150],
    ['>=', 'CategoryConfidence', 200, (d: SimDevice) => d.categoryConfidence >= 200],
    ['<', 'Name', 'A01-PLC', (d: SimDevice) => d.name < 'A01-PLC'],
    ['<=', 'Created', '2024-06-01T00:00:00Z', (d: SimDevice) => d.created <= '2024-06-01T00:00:00.000'],
    ['isOneOf', 'Category', ['Switch', 'Router'], (d: SimDevice) => d.category === 'Switch' || d.category === 'Router'],
    ['=', 'IsRouter', true, (d: SimDevice) => d.isRouter],
    ['=', 'NetworkName', null, (d: SimDevice) => d.networkName === null],
    ['<>', 'NetworkName', null, (d: SimDevice) => d.networkName !== null],
    ['=', 'Labels', 'safety', (d: SimDevice) => d.labels.includes('safety')],
    ['=', 'IpAddressSpaceId', 2, (d: SimDevice) => d.addressInformation.some((n) => n.ipAddresses.some((a) => a.addressSpaceId === 2))],
  ])('filters with %s on %s', async (condition, field, value, predicate) => {
    const found = await values({ filter: [{ field, condition, value }] });
    const expected = all.filter(predicate);
    expect(ids(found)).toEqual(ids(expected));
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(all.length);
  });

  it('finds a device by MAC (any notation) or IP', async () => {
    const device = all.find((d) => d.addressInformation.length > 1)!;
    const mac = device.addressInformation[1]!.macAddress!;
    expect(ids(await values({ filter: [{ field: 'MacAddress', value: mac.toUpperCase().replace(/:/g, '-') }] }))).toEqual([device.id]);
    expect(ids(await values({ filter: [{ field: 'ipAddress', condition: '=', value: device.addressInformation[0]!.ipAddresses[0]!.ip }] }))).toContain(device.id);
  });

  it('accepts isOneOf written as a string list, as one of the reference examples does', async () => {
    const found = await values({ filter: [{ field: 'Status', condition: 'isOneOf', value: "['Archived']" }] });
    expect(ids(found)).toEqual(ids(all.filter((d) => d.status === 'Archived')));
  });

  it('ORs a nested group and ANDs the top level; operator "and" inside a group binds tighter', async () => {
    const nested = await values({
      filter: [
        [
          { field: 'Category', condition: '=', value: 'Plc' },
          { field: 'Category', value: 'Switch', operator: 'or' },
        ],
        { field: 'Status', condition: '=', value: 'Recognized' },
      ],
    });
    expect(ids(nested)).toEqual(ids(all.filter((d) => (d.category === 'Plc' || d.category === 'Switch') && d.status === 'Recognized')));

    const mixed = await values({
      filter: [
        [
          { field: 'Category', value: 'Plc' },
          { field: 'Status', value: 'Archived', operator: 'and' },
          { field: 'Category', value: 'Firewall', operator: 'or' },
        ],
      ],
    });
    expect(ids(mixed)).toEqual(ids(all.filter((d) => (d.category === 'Plc' && d.status === 'Archived') || d.category === 'Firewall')));
  });

  it('sorts by several columns with direction and nullsBehaviour, ties broken by Id', async () => {
    const byName = (d: SimDevice) => d.networkName;
    const nullsFirst = await values({ sort: [{ column: 'NetworkName', direction: 'Asc', nullsBehaviour: 'NullsFirst' }] });
    const nulls = all.filter((d) => byName(d) === null).length;
    expect(nullsFirst.slice(0, nulls).every((d) => d.networkName === null)).toBe(true);
    const named = nullsFirst.slice(nulls).map(byName) as string[];
    expect(named).toEqual([...named].sort());
    const nullsLast = await values({ sort: [{ column: 'networkName', direction: 'Desc', nullsBehaviour: 'NullsLast' }] });
    expect(nullsLast.slice(-nulls).every((d) => d.networkName === null)).toBe(true);
    expect(nullsLast.slice(0, -nulls).map(byName)).toEqual([...named].reverse());

    const multi = await values({ sort: [{ column: 'Category', direction: 'Asc' }, { column: 'LastModified', direction: 'Desc' }] });
    const expected = [...all].sort((a, b) => (a.category < b.category ? -1 : a.category > b.category ? 1 : a.lastModified < b.lastModified ? 1 : a.lastModified > b.lastModified ? -1 : a.id - b.id));
    expect(ids(multi)).toEqual(ids(expected));
    const desc = await values({ sort: [{ column: 'Id', direction: 'Desc' }], limit: 10 });
    expect(ids(desc)).toEqual(ids(all.slice(-10).reverse()));
  });

  it('offset n skips n matches: consecutive pages join into the whole list without gaps or repeats', async () => {
    const seen: number[] = [];
    for (let offset = 0; ; offset += 70) {
      const answer = await query({ filter: [{ field: 'Status', condition: '<>', value: 'Archived' }], sort: [{ column: 'Name', direction: 'Asc' }], offset, limit: 70 });
      const page = answer.json as Page;
      expect(page.offset).toBe(offset);
      if (page.values.length === 0) break;
      seen.push(...ids(page.values));
    }
    expect(seen).toEqual(ids([...all].filter((d) => d.status !== 'Archived').sort((a, b) => (a.name < b.name ? -1 : 1))));
    const second = (await query({ sort: [{ column: 'Id' }], offset: 1, limit: 1 })).json as Page;
    expect(second.values[0]!.id).toBe(all[1]!.id);
  });

  it('pages by Id > lastId while devices are added, changed and deleted, seeing each surviving device once', async () => {
    const created: number[] = [];
    const deleted = new Set<number>();
    const seen: number[] = [];
    let last = 0;
    for (let page = 0; ; page++) {
      const answer = await query({ filter: [{ field: 'Id', condition: '>', value: last }], sort: [{ column: 'Id', direction: 'Asc' }], limit: 37 });
      const list = (answer.json as Page).values;
      if (list.length === 0) break;
      seen.push(...ids(list));
      last = list[list.length - 1]!.id;
      // Meanwhile: a new device (after the cursor), an edit and a delete of devices not yet read.
      if (page < 5) {
        const made = await t.call('POST', '/kics/api/v4/devices', { body: { whatIfDuplicate: 'Skip', allowProcessControlSettingsLoss: false, name: `Paging ${page}`, addressInformation: [{ ipAddresses: [{ ip: `10.230.0.${page + 1}` }] }] } });
        expect(made.json).toMatchObject({ status: 'Created' });
        created.push((made.json as { deviceId: number }).deviceId);
      }
      const ahead = all.find((d) => d.id > last + 50 && !deleted.has(d.id));
      if (ahead && page % 2 === 0) {
        await t.call('DELETE', `/kics/api/v4/devices/${ahead.id}`);
        deleted.add(ahead.id);
      }
      const later = all.find((d) => d.id > last && !deleted.has(d.id));
      if (later) await t.call('PATCH', `/kics/api/v4/devices/${later.id}`, { body: [{ op: 'Replace', path: '/description', value: `touched ${page}` }] });
    }
    expect(new Set(seen).size).toBe(seen.length);
    const expected = [...all.map((d) => d.id).filter((id) => !deleted.has(id)), ...created].sort((a, b) => a - b);
    expect(seen).toEqual(expected);
  });

  it('reads incrementally by LastModified: exactly the devices changed after the watermark', async () => {
    const watermark = (await values({ sort: [{ column: 'LastModified', direction: 'Desc' }], limit: 1 }))[0]!.lastModified;
    const targets = all.slice(100, 103);
    for (const d of targets) await t.call('PATCH', `/kics/api/v4/devices/${d.id}`, { body: [{ op: 'Add', path: '/labels/-', value: 'incremental' }] });
    const changed = await values({ filter: [{ field: 'LastModified', condition: '>', value: `${watermark}Z` }] });
    expect(ids(changed)).toEqual(ids(targets));
    const same = await values({ filter: [{ field: 'lastmodified', condition: '>', value: watermark.replace(/\.\d+$/, '') + '+00:00' }] });
    expect(ids(same)).toEqual(expect.arrayContaining(ids(targets)) as unknown[]);
  });

  it('accepts the body wrapped in {"query": ...} and application/json-patch+json, on v3 and v4', async () => {
    const body = { filter: [{ field: 'Category', condition: '=', value: 'Switch' }], sort: [{ column: 'Id', direction: 'Asc' }], limit: 5 };
    const plain = (await query(body)).json as Page;
    expect(plain.values).toHaveLength(5);
    expect((await query({ query: body })).json).toEqual(plain);
    expect((await query(body, 'v4', 'application/json-patch+json; charset=utf-8')).json).toEqual(plain);
    expect((await query(body, 'v3')).json).toEqual(plain);
    expect((await query(body, 'v5')).status).toBe(404);
    expect((await query(body, 'v4', 'text/plain')).status).toBe(415);
  });

  describe('refusals (400 with the item path)', () => {
    it.each([
      ['limit over 1000', { limit: 1001 }, 'limit', 'limit must be from 0 to 1000; found 1001.'],
      ['a negative limit', { limit: -1 }, 'limit', 'limit must be from 0 to 1000; found -1.'],
      ['a fractional offset', { offset: 1.5 }, 'offset', 'offset must be an integer from 0 to 2147483647; found 1.5.'],
      ['a negative offset', { offset: -5 }, 'offset', 'offset must be from 0 to 2147483647; found -5.'],
      ['an unknown field', { filter: [{ field: 'Colour', condition: '=', value: 'red' }] }, 'filter[0].field', /^Unknown field "Colour"\. Fields that can be used for filtering: Id, Name/],
      ['an unknown condition', { filter: [{ field: 'Id', condition: 'like', value: 1 }] }, 'filter[0].condition', /Unknown condition "like"/],
      ['a number field with text', { filter: [{ field: 'Id', condition: '>', value: 'abc' }] }, 'filter[0].value', /expected a number/],
      ['a date field with text', { filter: [{ field: 'LastModified', condition: '>', value: 'yesterday' }] }, 'filter[0].value', /ISO 8601/],
      ['an unknown enum value', { filter: [{ field: 'Status', condition: '=', value: 'Lost' }] }, 'filter[0].value', /one of Unauthorized, Recognized, Archived/],
      ['ordering an enum', { filter: [{ field: 'Status', condition: '>', value: 'Recognized' }] }, 'filter[0].condition', /cannot be compared/],
      ['an invalid item inside a group', { filter: [[{ field: 'Id', value: 1 }, { field: 'Nope', value: 1 }]] }, 'filter[0][1].field', /Unknown field "Nope"/],
      ['an unknown sort column', { sort: [{ column: 'Colour' }] }, 'sort[0].column', /Unknown sort column/],
      ['an unknown direction', { sort: [{ column: 'Id', direction: 'Up' }] }, 'sort[0].direction', /Asc or Desc/],
      ['an unknown nullsBehaviour', { sort: [{ column: 'Id', nullsBehaviour: 'Middle' }] }, 'sort[0].nullsBehaviour', /NullsFirst, NullsLast/],
    ])('refuses %s', async (_label, body, path, message) => {
      const answer = await query(body);
      expect(answer.status).toBe(400);
      const errors = (answer.json as { status: string; errors: { path: string; errorMessage: string }[] }).errors;
      const error = errors.find((e) => e.path === path);
      expect(error, JSON.stringify(errors)).toBeDefined();
      if (typeof message === 'string') expect(error!.errorMessage).toBe(message);
      else expect(error!.errorMessage).toMatch(message);
    });
  });

  describe('address spaces', () => {
    it('answers the reference example (Id > n, ReadOnly = false) and gets one by id', async () => {
      const answer = await t.call('POST', '/kics/api/v4/addressSpaces/query', {
        body: { filter: [{ field: 'Id', condition: '>', value: 1 }, { field: 'ReadOnly', condition: '=', value: false }], sort: [{ column: 'Id', direction: 'Asc', nullsBehaviour: null }], offset: 0, limit: 100 },
      });
      expect(answer.status).toBe(200);
      const page = answer.json as Page<{ id: number; name: string; readOnly: boolean; rules: Record<string, unknown>[] }>;
      expect(page.values.map((s) => s.name)).toEqual(['Cell A VLAN 10', 'Cell B VLAN 20', 'Management L2']);
      expect(Object.keys(page.values[0]!).sort()).toEqual(['description', 'id', 'name', 'readOnly', 'rules']);
      expect(Object.keys(page.values[0]!.rules[0]!).sort()).toEqual(['activePollingConnectors', 'description', 'eppProxyNodes', 'id', 'monitoringPoints', 'subnetType', 'subnets', 'trafficSource', 'vlanType', 'vlans']);
      const one = await t.call('GET', '/kics/api/v3/addressSpaces/5');
      expect(one.json).toMatchObject({ id: 5, name: 'DMZ', rules: [{ subnets: [{ from: '172.16.0.1', to: '172.16.3.254' }] }] });
      expect((await t.call('GET', '/kics/api/v4/addressSpaces/77')).status).toBe(404);
    });
  });

  describe('events', () => {
    it('registers an event (400 with errorMessage when invalid) and finds it by query and by id', async () => {
      const refused = await t.call('POST', '/kics/api/v4/events', { body: { title: '', score: 11, startTime: 'now', endTime: '2026-01-01T00:00:00Z', origin: 'Robot' } });
      expect(refused.status).toBe(400);
      const body = refused.json as { status: string; errors: { field: string }[]; errorMessage: string };
      expect(body.status).toBe('Error');
      expect(body.errors.map((e) => e.field).sort()).toEqual(['origin', 'score', 'startTime', 'title']);
      expect(body.errorMessage).toContain('title');

      const registered = await t.call('POST', '/kics/api/v4/events', {
        body: { title: 'kics-sync run 42 finished', score: 1.5, startTime: '2026-03-01T10:00:00Z', endTime: '2026-03-01T10:05:00Z', origin: 'User', description: '12 created, 3 updated', params: { runId: '42' } },
      });
      expect(registered.status).toBe(200);
      const eventId = (registered.json as { eventId: number }).eventId;
      const found = await t.call('POST', '/kics/api/v4/events/query', { body: { filter: [{ field: 'Origin', condition: '=', value: 'User' }, { field: 'StartTime', condition: '>=', value: '2026-03-01T09:00:00Z' }], sort: [{ column: 'Id', direction: 'Desc' }], limit: 10 } });
      const events = (found.json as Page<{ id: number; title: string; params: unknown; technology: string }>).values;
      expect(events.map((e) => e.id)).toEqual([eventId]);
      expect(events[0]).toMatchObject({ title: 'kics-sync run 42 finished', params: [{ name: 'runId', value: '42' }], technology: 'External', startTime: '2026-03-01T10:00:00.000Z' });
      expect((await t.call('GET', `/kics/api/v4/events/${eventId}`)).json).toEqual(events[0]);
      expect((await t.call('GET', '/kics/api/v4/events/999999')).status).toBe(404);
    });

    it('filters events by Technology without regard to case ("DPI" finds "Dpi")', async () => {
      const answer = await t.call('POST', '/kics/api/v4/events/query', { body: { filter: [{ field: 'Technology', condition: 'isOneOf', value: ['DPI', 'NIC', 'CC'] }], limit: 1000 } });
      const list = (answer.json as Page<{ technology: string }>).values;
      expect(list.length).toBeGreaterThan(0);
      expect(new Set(list.map((e) => e.technology))).toEqual(new Set(t.sim.events.list().filter((e) => e.technology === 'Dpi' || e.technology === 'Nic').map((e) => e.technology)));
    });
  });

  it('answers about and the connector configuration on v3 and v4', async () => {
    for (const version of ['v3', 'v4']) {
      const about = await t.call('GET', `/kics/api/${version}/about`);
      expect(about.json).toMatchObject({ version: expect.stringMatching(/^4\./) as string, updateableComponents: [{ type: 'Icr' }, { type: 'Idsir' }] });
      const config = await t.call('GET', `/kics/api/${version}/connector/configuration`);
      expect(Object.keys(config.json as object).sort()).toEqual(['config', 'eventTypesToSend', 'forwardAppMessages', 'forwardAuditMessages']);
    }
    expect((await t.call('GET', '/kics/api/v4/nothing-here')).status).toBe(404);
    const wrongMethod = await t.call('DELETE', '/kics/api/v4/about');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('GET');
  });
});
