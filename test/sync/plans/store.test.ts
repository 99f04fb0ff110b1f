import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/log.js';
import type { KicsDevice } from '../../../src/model/kics.js';
import type { PlanItem, PlanValue } from '../../../src/reconcile/plan-schema.js';
import { basisChanges, expireStalePlans } from '../../../src/sync/plans/basis.js';
import { loadStagedInput } from '../../../src/sync/plans/input.js';
import { listPlans, loadPlanHeader, loadPlanItems } from '../../../src/sync/plans/load.js';
import { runPlan } from '../../../src/sync/plans/run.js';
import { storePlan } from '../../../src/sync/plans/store.js';
import { describeEachEngine } from '../../support/db.js';
import { addressSpaces, asset, device, now, plan, record } from '../../reconcile/support.js';
import { bumpGeneration, stageKics, stageSource } from './fixtures.js';

const macs = (i: number): string => `00:1b:1b:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

/** A plan with every kind of item and awkward text. */
function samplePlan(): PlanValue {
  return plan({
    records: [
      record('cmdb', 'k1', asset('<script>alert(1)</script>', [{ mac: macs(1), ips: ['10.1.0.1'] }], { description: 'quote " comma , newline \n backslash \\ tab \t', labels: ['=cmd|x'] })),
      record('cmdb', 'k2', asset('renamed', [{ mac: macs(2) }])),
      record('csv', 'r1', asset('split', [{ mac: macs(3), ips: ['10.1.0.4'] }])),
    ],
    devices: [
      device(2, 'old-name', [{ mac: macs(2), ips: ['10.1.0.2'], space: 1 }]),
      device(3, 'by-mac', [{ mac: macs(3), ips: ['10.1.0.3'], space: 1 }]),
      device(4, 'by-ip', [{ ips: ['10.1.0.4'], space: 1 }]),
      device(5, 'Zürich – 工厂 🏭', [{ ips: ['10.2.0.5'], space: 2 }]),
    ],
  });
}

async function collect(items: AsyncIterable<PlanItem>): Promise<PlanItem[]> {
  const list: PlanItem[] = [];
  for await (const item of items) list.push(item);
  return list;
}

describeEachEngine('stored plans', (t) => {
  it('stores a plan row and one row per item, and loads both back exactly', async () => {
    const { db } = t();
    const value = samplePlan();
    expect(value.items.map((i) => i.action)).toEqual(['create', 'update', 'conflict', 'unknown']);
    const id = await storePlan(db, value);
    const header = await loadPlanHeader(db, id);
    expect(header).toMatchObject({ id, status: 'draft', createdAt: now.toISOString(), scope: {}, basis: value.header.basis, summary: value.header.summary, options: value.header.options });
    expect(await collect(loadPlanItems(db, id))).toEqual(value.items);
    const [{ n }] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM plan_item WHERE plan_id = $1`, [id])) as [{ n: number }];
    expect(n).toBe(4);
  });

  it('pages through thousands of items in seq order without loading them at once', async () => {
    const { db } = t();
    const records = Array.from({ length: 3000 }, (_, i) => record('cmdb', `k${i}`, asset(`new-${i}`, [{ mac: macs(i + 10), ips: [`10.1.${(i >> 8) & 0xff}.${i & 0xff}`] }])));
    const value = plan({ records, devices: [] });
    const id = await storePlan(db, value);
    const loaded = await collect(loadPlanItems(db, id, { pageSize: 700 }));
    expect(loaded.length).toBe(3000);
    expect(loaded.map((i) => i.seq)).toEqual(value.items.map((i) => i.seq));
    expect(loaded[2999]).toEqual(value.items[2999]);
    expect(await collect(loadPlanItems(db, id, { actions: ['update'] }))).toEqual([]);
  });

  it('lists plans newest first, by status', async () => {
    const { db } = t();
    const a = await storePlan(db, samplePlan());
    const b = await storePlan(db, samplePlan());
    await db.execute(`UPDATE plan SET status = 'applied' WHERE id = $1`, [a]);
    const list = await listPlans(db, { limit: 100 });
    expect(list.findIndex((p) => p.id === b)).toBeLessThan(list.findIndex((p) => p.id === a));
    expect((await listPlans(db, { status: 'applied' })).map((p) => p.id)).toContain(a);
    expect((await listPlans(db, { status: 'applied' })).map((p) => p.id)).not.toContain(b);
    await expect(loadPlanHeader(db, 999_999)).rejects.toThrow(/plan 999999 does not exist/);
  });

  it('expires draft and approved plans whose KICS snapshot or sources moved on, and only those', async () => {
    const { db } = t();
    await db.execute(`DELETE FROM plan`);
    await stageKics(db, { generation: 4, devices: [] });
    await stageSource(db, { name: 'cmdb', generation: 7, records: [] });
    await stageSource(db, { name: 'csv', generation: 2, records: [] });
    const basis = { kics: 4, sources: { cmdb: 7, csv: 2 } };
    const withBasis = (): PlanValue => {
      const p = samplePlan();
      p.header.basis = basis;
      return p;
    };
    const current = await storePlan(db, withBasis());
    const approved = await storePlan(db, withBasis());
    const applied = await storePlan(db, withBasis());
    await db.execute(`UPDATE plan SET status = 'approved' WHERE id = $1`, [approved]);
    await db.execute(`UPDATE plan SET status = 'applied' WHERE id = $1`, [applied]);
    expect(await expireStalePlans(db)).toEqual([]);
    expect(await basisChanges(db, basis)).toEqual([]);

    await bumpGeneration(db, 'csv');
    expect(await basisChanges(db, basis)).toEqual([{ name: 'csv', planned: 2, current: 3 }]);
    expect(await expireStalePlans(db)).toEqual([current, approved]);
    expect((await loadPlanHeader(db, current)).status).toBe('expired');
    expect((await loadPlanHeader(db, current)).expiredAt).not.toBeNull();
    expect((await loadPlanHeader(db, applied)).status).toBe('applied');

    const fresh = withBasis();
    fresh.header.basis = { kics: 4, sources: { cmdb: 7, csv: 3 } };
    const again = await storePlan(db, fresh);
    await bumpGeneration(db, 'kics');
    expect(await expireStalePlans(db)).toEqual([again]);
  });

  it('loads the reconciler input in one snapshot: present records and devices only, the writable fields, the basis', async () => {
    const { db } = t();
    const confirmed = new Date('2026-02-20T08:00:00Z');
    const lastSeen = new Date('2026-01-05T00:00:00Z');
    await stageKics(db, {
      generation: 9,
      addressSpaces,
      devices: [
        { ...device(10, 'present', [{ mac: macs(10), ips: ['10.1.0.10'], space: 1 }]), risks: [{ id: 1, name: 'big' }], processControlSettings: { deviceType: 'x' } },
        device(11, 'gone', [{ ips: ['10.1.0.11'], space: 1 }]),
      ],
      missing: [11],
    });
    await stageSource(db, {
      name: 'cmdb',
      generation: 3,
      lastSuccessAt: confirmed,
      records: [
        { key: 'a', asset: asset('present', [{ mac: macs(10) }], { owner: 'alice' }), lastSeen },
        { key: 'b', asset: asset('removed', [{ mac: macs(12) }]), missingSince: new Date(), lastSeen },
      ],
    });
    await db.execute(`INSERT INTO industrial_config_upload (device_id, path, content_hash, mode, uploaded_at) VALUES (10, 'old.xml', 'h-old', 'Merge', now() - interval '1 day'), (10, 'new.xml', 'h-new', 'Merge', now())`);
    const input = await loadStagedInput(db, ['cmdb', 'never-read']);
    expect(input.basis).toEqual({ kics: 9, sources: { cmdb: 3, 'never-read': 0 } });
    expect(input.devices.map((d) => d.id)).toEqual([10]);
    expect(input.devices[0]).not.toHaveProperty('risks');
    expect(input.devices[0]).toMatchObject({ id: 10, name: 'present', status: 'Recognized', addressInformation: [{ macAddress: macs(10) }] });
    expect(input.records).toEqual([{ source: 'cmdb', key: 'a', owner: 'alice', asset: asset('present', [{ mac: macs(10) }], { owner: 'alice' }), confirmedAt: confirmed }]);
    expect(input.addressSpaces.map((s) => s.name)).toEqual(['Plant A', 'Plant B']);
    expect(input.lastUploads.get(10)).toEqual({ path: 'new.xml', contentHash: 'h-new' });
  });

  it('loads every present device of a large snapshot once, in id order, with the fields absent in KICS as null', async () => {
    const { db } = t();
    const count = 23_456;
    const all = Array.from({ length: count }, (_, i) => {
      const d = device(i + 1, `d-${i + 1}`, [{ mac: macs(i + 1), ips: [], space: 1 }]);
      if (i % 2 === 0) delete (d as Partial<KicsDevice>).description;
      return d;
    });
    await stageKics(db, { addressSpaces, devices: all, missing: [5, 10_000, 10_001, 20_000] });
    await stageSource(db, { name: 'cmdb', records: [] });
    const input = await loadStagedInput(db, ['cmdb']);
    expect(input.devices).toHaveLength(count - 4);
    expect(input.devices.map((d) => d.id)).toEqual(all.map((d) => d.id).filter((id) => ![5, 10_000, 10_001, 20_000].includes(id)));
    expect(input.devices.find((d) => d.id === 1)).toMatchObject({ name: 'd-1', description: null, addressInformation: [{ macAddress: macs(1) }] });
    expect(input.devices.at(-1)).toMatchObject({ id: count, name: `d-${count}` });
  });

  it('runs the whole pipeline from staged data: reconcile, store, report, and the plan knows its basis', async () => {
    const { db, dataDir } = t();
    await stageKics(db, { generation: 2, addressSpaces, devices: [device(20, 'pump', [{ mac: macs(20), ips: ['10.1.0.20'], space: 1 }]), device(21, 'rogue', [{ ips: ['10.2.0.21'], space: 2 }])] });
    await stageSource(db, {
      name: 'plant-a',
      generation: 5,
      records: [
        { key: 'pump', asset: asset('pump-renamed', [{ mac: macs(20), ips: ['10.1.0.20'] }]) },
        { key: 'new', asset: asset('valve', [{ mac: macs(22), ips: ['10.1.0.22'] }], { owner: 'bob' }) },
      ],
    });
    const config = configSchema.parse({ sources: [{ name: 'plant-a', type: 'csv', path: '/nonexistent.csv' }] });
    const result = await runPlan(db, { config, dataDir, refresh: 'none', logger: silentLogger(), now: () => now, vendorFromMac: () => undefined });
    expect(result.plan.basis).toEqual({ kics: 2, sources: { 'plant-a': 5 } });
    expect(result.plan.summary.counts).toMatchObject({ create: 1, update: 1, unknown: 1 });
    expect(result.plan.reportPath).toBe(path.join(dataDir, 'reports', `plan-${result.plan.id}.html`));
    expect(readFileSync(result.plan.reportPath!, 'utf8')).toContain('pump-renamed');
    const stored = await loadPlanHeader(db, result.plan.id);
    expect(stored.reportPath).toBe(result.plan.reportPath);
    expect(await collect(loadPlanItems(db, result.plan.id))).toEqual(result.value.items);

    const owned = await runPlan(db, { config, dataDir, refresh: 'none', scope: { owner: 'BOB' }, logger: silentLogger(), now: () => now, vendorFromMac: () => undefined, reportFile: path.join(dataDir, 'bob.md'), reportFormat: 'md' });
    expect(owned.value.items.map((i) => i.deviceName)).toEqual(['valve']);
    expect(readFileSync(path.join(dataDir, 'bob.md'), 'utf8')).toContain('scope: owner BOB');
  });

  it('remembers the addresses the sources assert, so that the next plan removes one no source asserts any more (and keeps what KICS found itself)', async () => {
    const { db, dataDir } = t();
    const config = configSchema.parse({ sources: [{ name: 'plant-a', type: 'csv', path: '/nonexistent.csv' }] });
    const planNow = () => runPlan(db, { config, dataDir, refresh: 'none', logger: silentLogger(), now: () => now, vendorFromMac: () => undefined });
    await stageKics(db, { generation: 1, addressSpaces, devices: [device(40, 'pump', [{ mac: macs(40), ips: ['10.1.0.40', '10.1.0.99'], space: 1 }])] });
    await stageSource(db, { name: 'plant-a', generation: 1, records: [{ key: 'pump', asset: asset('pump', [{ mac: macs(40), ips: ['10.1.0.40'] }]) }] });
    await planNow();
    const asserted = await db.query<{ device_id: string; address: string }>(`SELECT device_id::text, address FROM address_assertion WHERE device_id = 40 ORDER BY address`);
    expect(asserted).toEqual([
      { device_id: '40', address: `i|1|10.1.0.40` },
      { device_id: '40', address: `m|1|${macs(40)}` },
    ]);

    // The CMDB corrects the IP; KICS still shows the old one.
    await stageSource(db, { name: 'plant-a', generation: 2, records: [{ key: 'pump', asset: asset('pump', [{ mac: macs(40), ips: ['10.1.0.41'] }]) }] });
    const second = await planNow();
    const [update] = second.value.items.filter((i) => i.action === 'update');
    const after = update!.after!.addressInformation as { ipAddresses: { ip: string }[] }[];
    expect(after.flatMap((i) => i.ipAddresses.map((a) => a.ip))).toEqual(['10.1.0.99', '10.1.0.41']);
    expect(update!.reason).toMatch(/IP 10\.1\.0\.40 \(address space "Plant A"\) removed/);
  });

  it('plans again from unchanged inputs by copying the stored plan: the same items, a plan of its own; anything that moved is computed', async () => {
    const { db, dataDir } = t();
    await stageKics(db, { generation: 3, addressSpaces, devices: [device(30, 'press', [{ mac: macs(30), ips: ['10.1.0.30'], space: 1 }]), device(31, 'stray', [{ ips: ['10.2.0.31'], space: 2 }])] });
    await stageSource(db, {
      name: 'plant-a',
      generation: 1,
      lastSuccessAt: now,
      records: [
        { key: 'press', asset: asset('press-2', [{ mac: macs(30), ips: ['10.1.0.30'] }], { description: 'line 4' }) },
        { key: 'new', asset: asset('mixer', [{ mac: macs(32), ips: ['10.1.0.32'] }]) },
      ],
    });
    const config = configSchema.parse({ sources: [{ name: 'plant-a', type: 'csv', path: '/nonexistent.csv' }] });
    const planNow = async (options: { config?: typeof config; at?: Date } = {}) =>
      runPlan(db, { config: options.config ?? config, dataDir, refresh: 'none', logger: silentLogger(), now: () => options.at ?? now });

    const first = await planNow();
    expect(first.timings.load).toBeDefined();
    expect(first.plan.summary.counts).toMatchObject({ create: 1, update: 1, unknown: 1 });

    const second = await planNow();
    expect(second.timings.load).toBeUndefined();
    expect(second.timings.reuse).toBeDefined();
    expect(second.plan.id).not.toBe(first.plan.id);
    expect(second.plan).toMatchObject({ status: 'draft', basis: first.plan.basis, summary: first.plan.summary });
    expect(second.value.items).toEqual(first.value.items);
    expect(await collect(loadPlanItems(db, second.plan.id))).toEqual(first.value.items);
    expect(readFileSync(second.plan.reportPath!, 'utf8')).toContain('press-2');
    expect(second.plan.reportPath).toBe(path.join(dataDir, 'reports', `plan-${second.plan.id}.html`));

    // What an apply did to the earlier plan's items is not copied: the new plan starts pending.
    await db.execute(`UPDATE plan_item SET status = 'applied', last_error = NULL WHERE plan_id = $1 AND status = 'pending'`, [second.plan.id]);
    const third = await planNow();
    expect(third.timings.reuse).toBeDefined();
    expect(third.value.items).toEqual(first.value.items);

    // A source moved on: computed again (and the drafts of the old basis expire).
    await bumpGeneration(db, 'plant-a');
    const fourth = await planNow();
    expect(fourth.timings.load).toBeDefined();
    expect(fourth.expired).toEqual(expect.arrayContaining([first.plan.id, second.plan.id, third.plan.id]));

    // Other settings: computed again.
    const owners = configSchema.parse({ sources: [{ name: 'plant-a', type: 'csv', path: '/nonexistent.csv' }], reconcile: { managedAttributes: ['Owner'] } });
    expect((await planNow({ config: owners })).timings.load).toBeDefined();
    expect((await planNow({ config: owners })).timings.load).toBeUndefined();

    // A source with a staleness window that ran out: what is stale depends on the clock, so always computed.
    const stale = configSchema.parse({ sources: [{ name: 'plant-a', type: 'csv', path: '/nonexistent.csv', staleAfterDays: 1 }] });
    const later = new Date(now.getTime() + 3 * 86_400_000);
    const staleFirst = await planNow({ config: stale, at: later });
    expect(staleFirst.plan.summary.counts.stale).toBe(2);
    expect((await planNow({ config: stale, at: later })).timings.load).toBeDefined();
  });

  it('refuses to plan without a KICS snapshot (every asset would look new)', async () => {
    const { db, dataDir } = t();
    await db.execute(`DELETE FROM source WHERE name = 'kics'`);
    const config = configSchema.parse({});
    await expect(runPlan(db, { config, dataDir, refresh: 'none', logger: silentLogger() })).rejects.toMatchObject({ code: 'NO_KICS_SNAPSHOT' });
  });
});
