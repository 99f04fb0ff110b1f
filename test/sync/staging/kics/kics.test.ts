import { beforeAll, afterAll, afterEach, expect, it } from 'vitest';
import { KicsApiError, type KicsClient } from '../../../../src/adapters/kics/index.js';
import type { Sql } from '../../../../src/db/sql.js';
import { ExitCode, KicsSyncError } from '../../../../src/errors.js';
import type { KicsDevice } from '../../../../src/model/kics.js';
import { listEvents } from '../../../../src/sync/events/index.js';
import { addressRows, cleanedText, deviceContent, fallbackText, stageKics, type KicsStageOptions, type KicsStageSummary } from '../../../../src/sync/staging/kics/stage.js';
import { captureLog, clientFor } from '../../../adapters/kics/support.js';
import { describeEachEngine } from '../../../support/db.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../../support/kics-simulator.js';

/** Staging KICS into the snapshot, against the simulator over HTTPS, on both engines. */
describeEachEngine('KICS staging', (t) => {
  let sim: TestKicsSimulator;
  let client: KicsClient;
  const logger = captureLog('info').logger;

  beforeAll(async () => {
    sim = await startTestKicsSimulator({ devices: 2500, seed: 'staging' });
    client = await clientFor(sim, { retry: { retries: 8, minTimeoutMs: 5, maxTimeoutMs: 20 } });
  });
  afterEach(() => {
    sim.sim.faults.clear();
    sim.sim.setLatency(0);
  });
  afterAll(async () => {
    await client.close();
    await sim.close();
  });

  const stage = (mode: 'full' | 'incremental', options: Partial<KicsStageOptions> = {}): Promise<KicsStageSummary> => stageKics(t().db, client, { mode, logger, ...options });
  const asApi = (d: unknown): KicsDevice => JSON.parse(JSON.stringify(d)) as KicsDevice;

  /** id -> content hash of the snapshot's present devices, and of the simulator's store. */
  const snapshot = async (db: Sql = t().db): Promise<Map<number, string>> =>
    new Map((await db.query<{ id: number; content_hash: string }>(`SELECT id, content_hash FROM kics_device WHERE missing_since IS NULL`)).map((r) => [r.id, r.content_hash]));
  const storeState = (): Map<number, string> => new Map([...sim.sim.store.all()].map((d) => [d.id, deviceContent(asApi(d)).hash]));
  const expectSnapshotEqualsStore = async (): Promise<void> => {
    const [got, want] = [await snapshot(), storeState()];
    const wrong = [...want].filter(([id, hash]) => got.get(id) !== hash).map(([id]) => id);
    const extra = [...got.keys()].filter((id) => !want.has(id));
    expect({ wrong, extra, size: got.size }).toEqual({ wrong: [], extra: [], size: want.size });
    const [addresses] = await t().db.query<{ n: number }>(`SELECT count(*)::int4 AS n FROM kics_address a JOIN kics_device d ON d.id = a.device_id WHERE d.missing_since IS NULL`);
    expect(addresses!.n).toBe([...sim.sim.store.all()].reduce((n, d) => n + addressRows(asApi(d)).length, 0));
  };
  /** Every row version of the snapshot: equal before and after means nothing was written. */
  const rowVersions = async (): Promise<string[]> => {
    const rows = await t().db.query<{ v: string }>(
      `SELECT 'd' || id || ':' || xmin::text AS v FROM kics_device UNION ALL SELECT 'a' || id || ':' || xmin::text FROM kics_address UNION ALL SELECT 's' || id || ':' || xmin::text FROM kics_address_space ORDER BY 1`,
    );
    return rows.map((r) => r.v);
  };
  const sourceRow = async () =>
    (
      await t().db.query<{ generation: number; watermark: string | null; last_error: string | null; last_error_at: Date | null; last_full_read_at: Date | null; last_success_at: Date | null }>(
        `SELECT generation, watermark, last_error, last_error_at, last_full_read_at, last_success_at FROM source WHERE name = 'kics'`,
      )
    )[0]!;
  const change = async (id: number, body: Record<string, unknown>): Promise<void> => {
    const answer = await sim.admin('PATCH', `/admin/devices/${id}`, body);
    expect(answer.status, answer.text).toBe(200);
  };
  let added = 0;
  const addDevice = async (): Promise<number> => {
    added += 1;
    const answer = await sim.admin('POST', '/admin/devices', { name: `New in KICS ${added}`, status: 'Unauthorized', category: 'Other', addressInformation: [{ macAddress: `02:00:00:00:${(added >> 8).toString(16).padStart(2, '0')}:${(added & 255).toString(16).padStart(2, '0')}`, ipAddresses: [{ ip: `10.230.${added >> 8}.${added & 255}` }] }] });
    expect(answer.status, answer.text).toBe(201);
    return (answer.json as { id: number }).id;
  };
  const ids = (): number[] => [...sim.sim.store.all()].map((d) => d.id);

  it('the first read is full: devices, one address row per interface and IP, address spaces, the source row', async () => {
    const summary = await stage('incremental');
    expect(summary.mode).toBe('full');
    expect(summary.devices).toMatchObject({ read: 2500, new: 2500, changed: 0, unchanged: 0, missing: 0 });
    expect(summary.addressSpaces).toEqual({ read: 5, new: 5, changed: 0, unchanged: 0, missing: 0 });
    await expectSnapshotEqualsStore();
    const counts: Record<string, number> = {};
    for (const d of sim.sim.store.all()) counts[d.status] = (counts[d.status] ?? 0) + 1;
    expect(summary.devices.byStatus).toEqual(counts);

    const plc = [...sim.sim.store.all()].find((d) => d.addressInformation.length > 1 && d.addressInformation.some((i) => i.ipAddresses.length > 0 && i.macAddress))!;
    const rows = await t().db.query<{ interface_id: number; mac: string | null; mac_address_space_id: number | null; ip: string | null; ip_address_space_id: number | null }>(
      `SELECT interface_id, mac, mac_address_space_id, ip, ip_address_space_id FROM kics_address WHERE device_id = $1 ORDER BY id`,
      [plc.id],
    );
    expect(rows).toEqual(
      plc.addressInformation.flatMap((i) =>
        (i.ipAddresses.length > 0 ? i.ipAddresses : [null]).map((ip) => ({
          interface_id: i.networkInterfaceId,
          mac: i.macAddress,
          mac_address_space_id: i.macAddress ? i.macAddressSpaceId : null,
          ip: ip?.ip ?? null,
          ip_address_space_id: ip?.addressSpaceId ?? null,
        })),
      ),
    );
    const [device] = await t().db.query<{ name: string; status: string; category: string; last_modified: Date; raw: KicsDevice }>(`SELECT name, status, category, last_modified, raw FROM kics_device WHERE id = $1`, [plc.id]);
    expect(device).toMatchObject({ name: plc.name, status: plc.status, category: plc.category });
    expect(device!.last_modified.toISOString()).toBe(`${plc.lastModified}Z`);
    expect(device!.raw).toEqual(asApi(plc));

    const newest = Math.max(...[...sim.sim.store.all()].map((d) => Date.parse(`${d.lastModified}Z`)));
    const row = await sourceRow();
    expect(row).toMatchObject({ generation: 1, watermark: new Date(newest).toISOString(), last_error: null });
    expect(row.last_full_read_at).toBeInstanceOf(Date);
  });

  it('a full read that finds nothing changed writes no row and keeps the generation', async () => {
    const before = await rowVersions();
    const summary = await stage('full');
    expect(summary.devices).toMatchObject({ read: 2500, new: 0, changed: 0, unchanged: 2500 });
    expect(summary.addressRows).toBe(0);
    expect(summary.generation).toBe(1);
    expect(await rowVersions()).toEqual(before);
  });

  it('an incremental read picks up exactly the changed and new devices, and rebuilds their addresses', async () => {
    const all = ids();
    const changed = [all[3]!, all[400]!, all[1200]!, all[2499]!];
    for (const id of changed) await change(id, { description: `changed for the incremental read ${id}` });
    const moved = all[700]!;
    await change(moved, { addressInformation: [{ macAddress: '02:aa:bb:cc:dd:ee', ipAddresses: [{ ip: '10.99.0.7' }, { ip: '10.99.0.8' }] }] });
    const fresh = [await addDevice(), await addDevice()];

    const summary = await stage('incremental', { overlapMs: 0 });
    expect(summary.mode).toBe('incremental');
    expect(summary.devices).toMatchObject({ read: 7, changed: 5, new: 2, unchanged: 0 });
    expect(summary.generation).toBe(2);
    await expectSnapshotEqualsStore();
    expect(await t().db.query(`SELECT mac, ip FROM kics_address WHERE device_id = $1 ORDER BY ip`, [moved])).toEqual([
      { mac: '02:aa:bb:cc:dd:ee', ip: '10.99.0.7' },
      { mac: '02:aa:bb:cc:dd:ee', ip: '10.99.0.8' },
    ]);
    expect((await t().db.query(`SELECT id FROM kics_device WHERE id = ANY($1::int8[])`, [fresh])).length).toBe(2);

    // Again with the default overlap: the last minutes are read again, at no cost.
    const before = await rowVersions();
    const again = await stage('incremental');
    expect(again.devices).toMatchObject({ new: 0, changed: 0, unchanged: again.devices.read });
    expect(again.devices.read).toBeGreaterThanOrEqual(7);
    expect(again.generation).toBe(2);
    expect(await rowVersions()).toEqual(before);
  });

  it('a full read marks devices gone from KICS missing (and drops their addresses) and counts newly archived ones', async () => {
    const all = ids();
    const gone = [all[10]!, all[11]!];
    for (const id of gone) expect((await sim.admin('DELETE', `/admin/devices/${id}`)).status).toBe(200);
    const archivedId = [...sim.sim.store.all()].find((d) => d.status === 'Recognized')!.id;
    await change(archivedId, { status: 'Archived' });

    // An incremental read sees the archived device (it changed), not the deleted ones (they are just not there).
    const incremental = await stage('incremental');
    expect(incremental.devices).toMatchObject({ changed: 1, archived: 1, missing: 0 });
    const full = await stage('full');
    expect(full.devices).toMatchObject({ missing: 2, changed: 0, missingTotal: 2 });
    await expectSnapshotEqualsStore();
    const missing = await t().db.query<{ id: number }>(`SELECT id FROM kics_device WHERE missing_since IS NOT NULL ORDER BY id`);
    expect(missing.map((r) => r.id)).toEqual(gone);
    expect(await t().db.query(`SELECT id FROM kics_address WHERE device_id = ANY($1::int8[])`, [gone])).toEqual([]);
    expect((await stage('full')).devices).toMatchObject({ missing: 0, missingTotal: 2 });
  });

  it('survives 500, 503, 429, connection resets and cut-off answers: the snapshot equals the store, nothing lost or doubled', async () => {
    const all = ids();
    for (const id of all.filter((_, i) => i % 97 === 0)) await change(id, { description: `changed before the faulty read ${id}` });
    await addDevice();
    const seq = sim.sim.requests.lastSeq;
    const mix = [{ kind: 'mix' as const, probability: 0.35, retryAfterSeconds: 0 }];
    sim.sim.faults.replace({ routes: { devicesQuery: mix, addressSpacesQuery: mix, token: mix } });
    const summary = await stage('full', { pageSize: 100 });
    sim.sim.faults.clear();
    const injected = new Set(sim.sim.requests.list(seq).flatMap((e) => (e.fault ? [e.fault] : [])));
    expect(injected.size).toBeGreaterThanOrEqual(3);
    expect(summary.devices.read).toBe(sim.sim.store.size);
    await expectSnapshotEqualsStore();
  });

  it('renews the token ahead of its expiry during a long read, without a single 401', async () => {
    await sim.admin('PUT', '/admin/tokens', { ttlSeconds: 2 });
    const renewing = await clientFor(sim, { tokenRefreshMargin: 0.5 });
    try {
      for (const id of ids().filter((_, i) => i % 50 === 1)) await change(id, { description: `changed before the token read ${id}` });
      sim.sim.setLatency(200);
      const seq = sim.sim.requests.lastSeq;
      await stageKics(t().db, renewing, { mode: 'full', logger, pageSize: 200 });
      const log = sim.sim.requests.list(seq);
      expect(log.filter((e) => e.route === 'token' && e.status === 200).length).toBeGreaterThanOrEqual(2);
      expect(log.filter((e) => e.status === 401)).toEqual([]);
      await expectSnapshotEqualsStore();
    } finally {
      await renewing.close();
      await sim.admin('PUT', '/admin/tokens', { ttlSeconds: 36_000 });
    }
  });

  it('KICS forgets the token mid-read: the refused call gets a new token and is repeated', async () => {
    for (const id of ids().filter((_, i) => i % 60 === 2)) await change(id, { description: `changed before the expired-token read ${id}` });
    const seq = sim.sim.requests.lastSeq;
    let pages = 0;
    await stage('full', {
      pageSize: 300,
      onProgress: () => {
        pages += 1;
        if (pages === 2) sim.sim.tokens.expireAll();
      },
    });
    const log = sim.sim.requests.list(seq);
    // The calls in flight with the forgotten token are each refused once and share one new token.
    const refused = log.filter((e) => e.route === 'devicesQuery' && e.status === 401);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThanOrEqual(4);
    // The refresh token ended with the access token: one refused refresh, one certificate grant, for all of them.
    expect(log.filter((e) => e.route === 'token').map((e) => `${e.status} ${new URLSearchParams(e.path.split('?')[1]).get('grant_type')}`)).toEqual(['401 refresh_token', '200 certificate']);
    await expectSnapshotEqualsStore();
  });

  it('devices added and changed during a full read: each read once; the next incremental read makes the snapshot equal to the store', async () => {
    let round = 0;
    const summary = await stage('full', {
      onProgress: async () => {
        round += 1;
        const all = ids();
        // A device already read, one far ahead, and a new one, between pages.
        await change(all[round]!, { description: `changed during the read, round ${round}` });
        await change(all.at(-1 - round)!, { description: `changed ahead during the read, round ${round}` });
        await addDevice();
      },
    });
    expect(round).toBeGreaterThanOrEqual(3);
    expect(summary.devices.read).toBeLessThanOrEqual(sim.sim.store.size);
    const incremental = await stage('incremental');
    expect(incremental.devices.changed + incremental.devices.new).toBeGreaterThan(0);
    await expectSnapshotEqualsStore();
  });

  it('a failed read leaves the earlier snapshot exactly as it was and records the error', async () => {
    for (const id of ids().slice(0, 30)) await change(id, { description: `changed before the failed read ${id}` });
    const before = { versions: await rowVersions(), source: await sourceRow() };
    let pages = 0;
    const error = await stage('full', {
      pageSize: 200,
      onProgress: () => {
        pages += 1;
        if (pages === 1) sim.sim.faults.replace({ routes: { devicesQuery: [{ kind: 'error500' }] } });
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KicsApiError);
    expect((error as KicsApiError).message).toMatch(/^KICS devicesQuery \(POST \/kics\/api\/v4\/devices\/query\): answered 500 Internal Server Error: .* \(\d+ attempts\)$/);
    expect(await rowVersions()).toEqual(before.versions);
    const after = await sourceRow();
    expect(after).toMatchObject({ generation: before.source.generation, watermark: before.source.watermark, last_error: (error as Error).message });
    expect(after.last_error_at).toBeInstanceOf(Date);
    expect(after.last_success_at).toEqual(before.source.last_success_at);

    sim.sim.faults.clear();
    const recovered = await stage('incremental');
    expect(recovered.devices.changed).toBe(30);
    expect((await sourceRow()).last_error).toBeNull();
    await expectSnapshotEqualsStore();
  });

  it('a read broken by something else than KICS keeps the earlier snapshot and says KICS could not be read (exit 3)', async () => {
    const before = await rowVersions();
    const error = await stage('full', {
      pageSize: 200,
      onProgress: () => {
        throw new Error('no space left on device');
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KicsSyncError);
    expect(error).toMatchObject({ code: 'KICS_STAGE_FAILED', exitCode: ExitCode.unavailable, message: 'reading KICS failed: no space left on device' });
    expect(await rowVersions()).toEqual(before);
  });

  it('a device whose name holds a NUL (seen from a real KICS) is staged with U+FFFD in its place and a warning naming it', async () => {
    await stage('full');
    const answer = await sim.admin('POST', '/admin/devices', { name: 'Pump\u0000 7', status: 'Unauthorized', category: 'Other', addressInformation: [{ macAddress: '02:00:00:ee:00:01', ipAddresses: [{ ip: '10.231.0.1' }] }] });
    expect(answer.status, answer.text).toBe(201);
    const id = (answer.json as { id: number }).id;
    const capture = captureLog('warn');
    const summary = await stageKics(t().db, client, { mode: 'incremental', logger: capture.logger });
    expect(summary.devices.new).toBeGreaterThanOrEqual(1);
    expect(await t().db.query(`SELECT name, raw::jsonb->>'name' AS raw_name FROM kics_device WHERE id = $1`, [id])).toEqual([{ name: 'Pump\ufffd 7', raw_name: 'Pump\ufffd 7' }]);
    expect(capture.lines).toContainEqual(expect.objectContaining({ level: 40, device: id, field: 'name' }));
    // Said where the user looks: the summary the commands print (kics pull, plan, sync) and the report.
    expect(summary.cleaned.count).toBe(1);
    expect(summary.cleaned.first).toMatchObject([{ device: id, field: 'name' }]);
    expect(summary.cleaned.first[0]!.reason).toMatch(/^NUL character \(U\+0000\)/);
    expect(cleanedText(summary.cleaned)).toMatch(new RegExp(`^1 KICS device\\(s\\) hold values PostgreSQL cannot store, staged with U\\+FFFD in their place \\(device ${id} name: NUL character`));
  });

  it('lastSeen alone is not a change: the content hash leaves it out, the stored JSON keeps it', () => {
    const device = asApi([...sim.sim.store.all()][0]);
    const seenLater = { ...device, lastSeen: '2031-01-01T00:00:00.000' };
    expect(deviceContent(seenLater).hash).toBe(deviceContent(device).hash);
    expect(deviceContent({ ...device, name: 'renamed' }).hash).not.toBe(deviceContent(device).hash);
    expect(seenLater.lastSeen).toBe('2031-01-01T00:00:00.000');
  });

  it('an interrupted read (signal) leaves the snapshot as it was', async () => {
    await change(ids()[42]!, { description: 'changed before the interrupted read' });
    const before = await rowVersions();
    const abort = new AbortController();
    const error = await stage('full', { signal: abort.signal, onProgress: () => abort.abort(new Error('stop requested')) }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('stop requested');
    expect(await rowVersions()).toEqual(before);
  });

  // Last: it deletes devices from the simulator the tests above count on.
  it.each(['refuse', 'ignore'] as const)('a KICS that %ss the LastModified filter (the document names no device filter fields): the incremental read becomes a full one, said and recorded', async (behaviour) => {
    await stage('full');
    const all = ids().sort((a, b) => a - b);
    await change(all[5]!, { description: `changed while KICS ${behaviour}s the filter` });
    expect((await sim.admin('DELETE', `/admin/devices/${all[6]!}`)).status).toBe(200);
    sim.sim.behaviour.undocumentedDeviceFilters = behaviour;
    try {
      const summary = await stage('incremental', { overlapMs: 0 });
      expect(summary.filterFallback).toBe(behaviour === 'refuse' ? 'refused' : 'ignored');
      expect(summary.mode).toBe('full');
      // Nothing lost: the change is read, and the deleted device is seen gone as a full read sees it.
      expect(summary.devices).toMatchObject({ changed: 1, missing: 1 });
      const stored = await t().db.query<{ id: number; description: string | null; missing: boolean }>(
        `SELECT id, raw::jsonb->>'description' AS description, missing_since IS NOT NULL AS missing FROM kics_device WHERE id = ANY($1::int8[]) ORDER BY id`,
        [[all[5]!, all[6]!]],
      );
      expect(stored).toEqual([
        { id: all[5]!, description: `changed while KICS ${behaviour}s the filter`, missing: false },
        { id: all[6]!, description: expect.anything() as unknown, missing: true },
      ]);
      const [event] = await listEvents(t().db, { types: ['KSYNC_KICS_INCREMENTAL_FALLBACK'] }, 1);
      expect(event!.payload).toMatchObject({ fallback: summary.filterFallback });
      expect(fallbackText(summary.filterFallback!)).toMatch(behaviour === 'refuse' ? /refused the LastModified filter/ : /ignored the LastModified filter/);
    } finally {
      sim.sim.behaviour.undocumentedDeviceFilters = 'honour';
    }
  });
});
