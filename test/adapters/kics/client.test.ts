import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KicsApiError, deviceFilter, eventFilter, resolveRoutes, type KicsClient } from '../../../src/adapters/kics/index.js';
import { ConfigError } from '../../../src/errors.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';
import { captureLog, clientFor } from './support.js';

/** The client's operations against the simulator over HTTPS with mutual TLS. */
describe('KICS client operations', () => {
  let t: TestKicsSimulator;
  let client: KicsClient;

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 300, seed: 'client' });
    client = await clientFor(t);
  });
  afterAll(async () => {
    await client.close();
    await t.close();
  });

  it('reads about (server version) and the connector configuration', async () => {
    expect((await client.about()).version).toBe('4.2.0.3250');
    const configuration = await client.connectorConfiguration();
    expect(configuration.eventTypesToSend).toEqual([3]);
    expect(configuration.config).toContain('portNumber');
  });

  it('authenticates with the certificate and reports the token lifetime, never the token', async () => {
    const info = await client.authenticate();
    expect(info.expiresAt.getTime() - info.obtainedAt.getTime()).toBe(36_000_000);
    // Renewed when 20% of the lifetime is left (kics.tokenRefreshMargin).
    expect(info.renewAt.getTime() - info.obtainedAt.getTime()).toBe(28_800_000);
    expect(JSON.stringify(info)).not.toMatch(/eyJ/);
  });

  it('pages through every device exactly once, in id order, equal to the store', async () => {
    const ids: number[] = [];
    let pages = 0;
    for await (const page of client.iterateDevices({ pageSize: 70 })) {
      pages += 1;
      ids.push(...page.values.map((d) => d.id));
      expect(page.serverDate).toBeInstanceOf(Date);
    }
    const store = [...t.sim.store.all()].map((d) => d.id).sort((a, b) => a - b);
    expect(ids).toEqual(store);
    expect(pages).toBe(Math.ceil(store.length / 70));
    expect(await client.countDevices()).toBe(store.length);
  });

  it('filters with the typed builder: category, status, MAC in any notation, lastModified after a time', async () => {
    const store = [...t.sim.store.all()];
    const plcs = store.filter((d) => d.category === 'Plc' && d.status !== 'Archived').map((d) => d.id);
    const got: number[] = [];
    for await (const page of client.iterateDevices({ filter: deviceFilter.and(deviceFilter.eq('Category', 'Plc'), deviceFilter.ne('Status', 'Archived')) })) got.push(...page.values.map((d) => d.id));
    expect(got).toEqual(plcs);
    expect(await client.countDevices([deviceFilter.eq('Category', 'Plc'), deviceFilter.ne('Status', 'Archived')])).toBe(plcs.length);

    const withMac = store.find((d) => d.addressInformation.some((i) => i.macAddress))!;
    const mac = withMac.addressInformation.find((i) => i.macAddress)!.macAddress!;
    const found = await client.findDevices({ macs: [mac.toUpperCase().replace(/:/g, '-')] });
    expect(found.map((d) => d.id)).toEqual([withMac.id]);

    const newest = store.reduce((a, b) => (a.lastModified > b.lastModified ? a : b));
    const before = new Date(Date.parse(`${newest.lastModified}Z`) - 1);
    const recent: number[] = [];
    for await (const page of client.iterateDevices({ modifiedSince: before })) recent.push(...page.values.map((d) => d.id));
    expect(recent).toContain(newest.id);
    expect(recent.every((id) => Date.parse(`${t.sim.store.get(id)!.lastModified}Z`) > before.getTime())).toBe(true);
  });

  it('gets one device; a missing one is a KicsApiError with status, endpoint and KICS error items', async () => {
    const first = [...t.sim.store.all()][0]!;
    expect((await client.getDevice(first.id)).name).toBe(first.name);
    const error = await client.getDevice(999_999).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KicsApiError);
    const e = error as KicsApiError;
    expect(e.status).toBe(404);
    expect(e.code).toBe('KICS_NOT_FOUND');
    expect(e.retryable).toBe(false);
    expect(e.endpoint).toEqual({ route: 'deviceGet', method: 'GET', path: '/kics/api/v4/devices/999999' });
    expect(e.errors).toEqual([{ field: 'id', path: 'id', errorMessage: 'Device with id 999999 was not found.' }]);
    expect(e.message).toBe('KICS deviceGet (GET /kics/api/v4/devices/999999): answered 404 Not Found: id: Device with id 999999 was not found.');
    expect(await client.findDevice(999_999)).toBeNull();
  });

  it('creates a device (Skip by default), edits it, patches it with per-op results, uploads a configuration, deletes it', async () => {
    const body = { name: 'Client test PLC', category: 'Plc' as const, addressInformation: [{ macAddress: '00:1B:1B:0A:0B:0C', ipAddresses: [{ ip: '10.200.0.10' }] }] };
    const created = await client.createDevice(body);
    expect(created).toMatchObject({ status: 'Created', recovered: false });
    const again = await client.createDevice(body);
    expect(again).toMatchObject({ status: 'Skipped', deviceId: created.deviceId, duplicate: { matchedBy: 'Name' } });

    const edited = await client.editDevice(created.deviceId, { ...body, allowProcessControlSettingsUpdate: false, description: 'edited', influence: 'Important' });
    expect(edited).toMatchObject({ id: created.deviceId, description: 'edited', influence: 'Important' });

    const patched = await client.patchDevice(
      created.deviceId,
      [
        { op: 'Test', path: '/description', value: 'edited' },
        { op: 'Replace', path: '/hardwareVendor', value: 'Siemens' },
        { op: 'Add', path: '/labels/-', value: 'managed' },
      ],
      { sourceId: 42 },
    );
    expect(patched).toMatchObject({ ok: true, firstFailure: null, resent: false });
    expect(patched.results.map((r) => r.result)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    expect(t.sim.requests.list().at(-1)).toMatchObject({ route: 'devicePatch', sourceId: 42 });

    const drifted = await client.patchDevice(created.deviceId, [
      { op: 'Test', path: '/description', value: 'something else' },
      { op: 'Replace', path: '/hardwareVendor', value: 'ABB' },
    ]);
    expect(drifted.ok).toBe(false);
    expect(drifted.firstFailure).toEqual({ index: 0, op: { op: 'Test', path: '/description', value: 'something else' }, errorMessage: expect.stringContaining('Test failed') as string });
    expect(drifted.results[1]!.result).toBe('Skipped');
    expect(t.sim.store.get(created.deviceId)!.hardwareVendor).toBe('Siemens');

    const config = { deviceType: 'Test PLC', protocols: [{ name: 'ModbusTcp', address: { ip: '10.200.0.10', port: 502 }, tags: [{ name: 'TT1', address: '40001', dataType: 'Float' }] }] };
    const uploaded = await client.uploadIndustrialConfiguration(created.deviceId, { name: 'plc.json', content: Buffer.from(JSON.stringify(config)) }, 'Replace');
    expect(uploaded).toMatchObject({ addedTags: 1, tagErrors: 0 });
    expect((await client.deviceProtocols(created.deviceId)).map((p) => p.name)).toEqual(['ModbusTcp']);

    expect(await client.deleteDevice(created.deviceId)).toEqual({ recovered: false });
    expect(t.sim.store.get(created.deviceId)).toBeUndefined();
  });

  it('refuses an invalid device with KICS validation errors (400, not retried)', async () => {
    const error = (await client.createDevice({ name: 'Bad', addressInformation: [{ ipAddresses: [{ ip: '10.1.1.300' }] }] }).catch((e: unknown) => e)) as KicsApiError;
    expect(error).toBeInstanceOf(KicsApiError);
    expect(error.code).toBe('KICS_VALIDATION');
    expect(error.status).toBe(400);
    expect(error.errors[0]).toMatchObject({ path: 'addressInformation[0]/ipAddresses[0]/ip' });
    expect(error.message).toMatch(/^KICS deviceCreate \(POST \/kics\/api\/v4\/devices\): answered 400 Bad Request: addressInformation\[0\]\/ipAddresses\[0\]\/ip: /);
  });

  it('reads address spaces and registers and queries events', async () => {
    const spaces = [];
    for await (const page of client.iterateAddressSpaces()) spaces.push(...page.values);
    expect(spaces.map((s) => s.name)).toEqual(['Plant network', 'Cell A VLAN 10', 'Cell B VLAN 20', 'Management L2', 'DMZ']);
    expect((await client.getAddressSpace(5)).rules?.[0]?.subnets?.[0]).toEqual({ from: '172.16.0.1', to: '172.16.3.254' });

    const registered = await client.registerEvent({ title: 'kics-sync run finished', score: 1, startTime: '2026-03-01T10:00:00Z', endTime: '2026-03-01T10:00:01Z', origin: 'User', params: { applied: '3' } });
    expect(registered.eventId).toBeGreaterThan(0);
    const events = await client.queryEvents({ filter: [eventFilter.eq('Id', registered.eventId)] });
    expect(events.values).toEqual([expect.objectContaining({ id: registered.eventId, title: 'kics-sync run finished' })]);
    let total = 0;
    for await (const page of client.iterateEvents({ pageSize: 7 })) total += page.values.length;
    expect(total).toBe(t.sim.events.list().length);
  });

  it.each(['executed503', 'reset', 'error503'] as const)('an event registration answered with %s is registered once: a lost answer is looked for among the newest events before it is sent again', async (fault) => {
    const event = { title: `kics-sync discrepancy (${fault})`, score: 4, startTime: '2026-03-02T10:00:00.123Z', endTime: '2026-03-02T10:00:00.123Z', origin: 'System' as const, params: { key: `drift:${fault}`, runId: '9' } };
    // An event that differs only in a parameter is not taken for it.
    await client.registerEvent({ ...event, params: { ...event.params, runId: '8' } });
    t.sim.faults.addRule({ kind: fault, times: 1 }, 'eventRegister');
    const registered = await client.registerEvent(event);
    const held = t.sim.events.list().filter((e) => e.title === event.title);
    expect(held).toHaveLength(2);
    expect(held.filter((e) => e.params.some((p) => p.name === 'runId' && p.value === '9')).map((e) => e.id)).toEqual([registered.eventId]);
    expect(registered.recovered).toBe(fault !== 'error503');
  });

  it('takes a route from kics.routes; a wrong path fails naming the route and the setting', async () => {
    const log = captureLog();
    const moved = await clientFor(t, { routes: { about: '/kics/api/{version}/about' } }, log.logger);
    expect((await moved.about()).version).toBe('4.2.0.3250');
    await moved.close();
    const wrong = await clientFor(t, { routes: { devicesQuery: '/kics/api/{version}/assets/query' } });
    const error = (await wrong.queryDevices().catch((e: unknown) => e)) as KicsApiError;
    expect(error.message).toMatch(/^KICS devicesQuery \(POST \/kics\/api\/v4\/assets\/query\): answered 404 Not Found: .*\(the path may differ on this KICS version: see kics\.routes\.devicesQuery\)$/);
    await wrong.close();
  });

  it('checks route overrides: known names, placeholders, {id} where needed', () => {
    expect(resolveRoutes('v4').deviceGet.template).toBe('/kics/api/v4/devices/{id}');
    expect(resolveRoutes('v5').about.template).toBe('/kics/api/v3/about');
    expect(() => resolveRoutes('v4', { device: '/x' })).toThrow(ConfigError);
    expect(() => resolveRoutes('v4', { device: '/x' })).toThrow(/kics\.routes\.device: unknown route; the routes are token, about, /);
    expect(() => resolveRoutes('v4', { deviceGet: '/kics/api/{version}/devices' })).toThrow('kics.routes.deviceGet: this route needs {id} in its path; found "/kics/api/{version}/devices"');
    expect(() => resolveRoutes('v4', { about: '/kics/{ver}/about' })).toThrow('kics.routes.about: only {version} and {id} may appear in a path; found {ver}');
    expect(() => resolveRoutes('v4', { about: 'kics/about' })).toThrow(/a path starting with "\/" is expected/);
  });
});
