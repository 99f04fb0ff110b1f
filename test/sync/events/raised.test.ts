import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/paths.js';
import { engineEventTypes, listEvents, type EngineEvent } from '../../../src/sync/events/index.js';
import { runApply } from '../../../src/sync/runs/apply-run.js';
import { runPlanRun } from '../../../src/sync/runs/plan-run.js';
import { runSync } from '../../../src/sync/runs/sync-run.js';
import { describeEachEngine } from '../../support/db.js';
import { runContextFor, startPlant, type Plant } from '../../e2e/plant.js';

/**
 * Every engine event of the catalogue (docs/events.md) raised by the situation it describes: the runs
 * in this process against the KICS simulator, on both databases.
 */
const raisedHere = new Set<string>();
/** Events whose situation is a KSC service, a scheduled purge or a KICS read: raised in the tests named. */
const raisedElsewhere: Record<string, string> = {
  KSYNC_KSC_UNREACHABLE: 'test/sync/ksc/service.test.ts',
  KSYNC_KSC_COMMAND_FAILED: 'test/sync/ksc/service.test.ts',
  KSYNC_KSC_COMMAND_RECEIVED: 'test/sync/ksc/service.test.ts',
  KSYNC_KSC_TRIGGER_FIRED: 'test/sync/ksc/service.test.ts',
  KSYNC_EVENTS_PURGED: 'test/sync/events/cli.e2e.test.ts',
  KSYNC_KICS_INCREMENTAL_FALLBACK: 'test/sync/staging/kics/kics.test.ts',
};

describeEachEngine('engine events raised where they happen', (t) => {
  let plant: Plant;
  beforeEach(async () => {
    plant = await startPlant(t().dataDir);
    // The database lives as long as the file: each situation starts with no events.
    await t().db.execute(`DELETE FROM engine_event`);
  });
  afterEach(async () => {
    await plant.close();
  });

  const ctx = (extra: Record<string, unknown> = {}, signal?: AbortSignal) => runContextFor(plant, t().db, { config: plant.config(extra), ...(signal ? { signal } : {}) });
  const events = async (code: string): Promise<EngineEvent[]> => {
    raisedHere.add(code);
    return listEvents(t().db, { types: [code] });
  };
  const kicsAt = (url: string) => ({ kics: { url, package: { dir: plant.sim.packageDir, password: plant.sim.packagePassword }, retry: { retries: 0 } } });

  /** Three devices described anew, one new asset. */
  const cmdb = (): void => {
    const [a, b, c, ...rest] = plant.devices;
    plant.writeCmdb([
      plant.rowOf(a!, { description: 'Boiler feed pump PLC' }),
      plant.rowOf(b!, { description: 'Line 2 filler HMI' }),
      plant.rowOf(c!, { description: 'Mixer drive' }),
      ...rest.slice(0, 8).map((d) => plant.rowOf(d)),
      plant.newAsset(1),
    ]);
  };

  it('a sync that changes KICS: run started, plan created, plan applied, run finished', async () => {
    cmdb();
    const result = await runSync(ctx());
    expect(result.status).toBe('succeeded');
    expect((await events('KSYNC_RUN_STARTED'))[0]!.runId).toBe(result.runId);
    expect((await events('KSYNC_PLAN_CREATED'))[0]!.payload).toMatchObject({ planId: result.plan.plan.id });
    expect((await events('KSYNC_PLAN_APPLIED'))[0]!.payload).toMatchObject({ planId: result.plan.plan.id, outcome: { applied: 4 } });
    expect((await events('KSYNC_RUN_FINISHED'))[0]!.runId).toBe(result.runId);
  });

  it('one MAC on two assets: conflict found', async () => {
    const [a, b] = plant.devices;
    plant.writeCmdb([plant.rowOf(a!), plant.rowOf(b!, { mac: a!.addressInformation[0]!.macAddress! })]);
    await runPlanRun(ctx(), { refresh: 'full' });
    const [found] = await events('KSYNC_CONFLICT_FOUND');
    expect(found!.payload).toMatchObject({ count: expect.any(Number) as number });
  });

  it('a CSV row with an invalid MAC: source records rejected, naming the source, the count and the file', async () => {
    plant.writeCmdb([plant.rowOf(plant.devices[0]!), plant.rowOf(plant.devices[1]!, { mac: 'not-a-mac' })]);
    await runPlanRun(ctx(), { refresh: 'full' });
    const [rejects] = await events('KSYNC_SOURCE_REJECTS');
    expect(rejects!.payload).toMatchObject({ source: 'cmdb', count: 1 });
    expect(String(rejects!.payload.rejectsFile)).toMatch(/cmdb\.csv$/);
  });

  it('a source whose file is gone: source unreachable, the other source read', async () => {
    plant.writeCmdb([plant.rowOf(plant.devices[0]!)]);
    await runPlanRun(ctx({ sources: [{ name: 'cmdb', type: 'csv', path: './cmdb.csv' }, { name: 'lab', type: 'csv', path: './lab-gone.csv' }] }), { refresh: 'full' });
    const found = await events('KSYNC_SOURCE_UNREACHABLE');
    expect(found.map((e) => e.payload.source)).toEqual(['lab']);
    expect(String(found[0]!.payload.error)).toContain('lab-gone.csv');
  });

  it('a source not read within its staleAfterDays: source records stale', async () => {
    plant.writeCmdb([plant.rowOf(plant.devices[0]!), plant.rowOf(plant.devices[1]!)]);
    const config = { sources: [{ name: 'cmdb', type: 'csv', path: './cmdb.csv', staleAfterDays: 2 }] };
    await runPlanRun(ctx(config), { refresh: 'full' });
    expect(await events('KSYNC_SOURCE_STALE')).toEqual([]);
    await t().db.execute(`UPDATE source SET last_success_at = now() - interval '3 days' WHERE name = 'cmdb'`);
    await runPlanRun(ctx(config), { refresh: 'none' });
    const [stale] = await events('KSYNC_SOURCE_STALE');
    expect(stale!.payload).toMatchObject({ source: 'cmdb', count: 2, staleAfterDays: 2 });
  });

  it('KICS down while planning: the stored snapshot is used, and said so with why', async () => {
    cmdb();
    await runPlanRun(ctx(), { refresh: 'full' });
    // Nothing listens on port 9 of this machine: the connection is refused.
    const result = await runPlanRun(ctx(kicsAt('https://127.0.0.1:9')), { refresh: 'incremental' });
    expect(result.plan.refresh?.kics.refreshed).toBe(false);
    const [used] = await events('KSYNC_KICS_SNAPSHOT_USED');
    expect(used!.payload).toMatchObject({ snapshotReadAt: expect.stringMatching(/^\d{4}-/) as string });
    expect((await events('KSYNC_KICS_UNREACHABLE')).length).toBe(1);
  });

  it('a connector certificate KICS does not know: KICS refused the connector, the run failed', async () => {
    cmdb();
    const planned = (await runPlanRun(ctx(), { refresh: 'full' })).plan.plan;
    const foreign = path.join(plant.dir, 'foreign-package');
    await plant.sim.sim.writeClientPackage(foreign, { kind: 'foreign', password: 'x' });
    const refused = runContextFor(plant, t().db, { config: plant.config({ kics: { url: plant.sim.url, package: { dir: foreign, password: 'x' }, retry: { retries: 0 } } }) });
    await expect(runApply(refused, { planId: planned.id, allowDraft: true })).rejects.toThrow();
    expect(await events('KSYNC_KICS_AUTH_FAILED')).toHaveLength(1);
    expect((await events('KSYNC_RUN_FAILED'))[0]!.payload).toMatchObject({ step: 'apply' });
  });

  it('a plan over sync.maxChangeShare: safety threshold hit', async () => {
    cmdb();
    const result = await runSync(ctx({ sync: { maxChangeShare: 0.01 } }));
    expect(result.status).toBe('held');
    expect((await events('KSYNC_SAFETY_THRESHOLD_HIT'))[0]!.payload).toMatchObject({ planId: result.plan.plan.id });
  });

  it('a newer plan after the CMDB moved on: the older plan expired', async () => {
    cmdb();
    const first = (await runPlanRun(ctx(), { refresh: 'full' })).plan.plan;
    plant.writeCmdb([plant.rowOf(plant.devices[0]!, { description: 'yet another description' })]);
    const second = (await runPlanRun(ctx(), { refresh: 'full' })).plan.plan;
    const [expired] = await events('KSYNC_PLAN_EXPIRED');
    expect(expired!.payload.by).toBe(second.id);
    expect(expired!.payload.planIds).toContain(first.id);
    expect(expired!.message).toContain(`${first.id}`);
  });

  it('a device changed in KICS between plan and apply: drift found', async () => {
    cmdb();
    const planned = (await runPlanRun(ctx(), { refresh: 'full' })).plan.plan;
    await plant.sim.admin('PATCH', `/admin/devices/${plant.devices[0]!.id}`, { description: 'set by an operator' });
    await runApply(ctx(), { planId: planned.id, allowDraft: true });
    expect((await events('KSYNC_DRIFT_FOUND'))[0]!.payload).toMatchObject({ planId: planned.id });
  });

  it('a PATCH KICS keeps refusing: write failed, the run finished with failures', async () => {
    cmdb();
    const planned = (await runPlanRun(ctx(), { refresh: 'full' })).plan.plan;
    plant.sim.sim.faults.addRule({ kind: 'error500' }, 'devicePatch');
    const result = await runApply(ctx(), { planId: planned.id, allowDraft: true });
    expect(result.apply.outcome.failed).toBe(3);
    expect(await events('KSYNC_WRITE_FAILED')).toHaveLength(3);
    expect((await events('KSYNC_RUN_PARTIAL'))[0]!.runId).toBe(result.runId);
  });

  it('a run stopped by its signal (SIGTERM / SIGINT): run interrupted', async () => {
    cmdb();
    const stop = new AbortController();
    stop.abort(new Error('SIGTERM'));
    await expect(runPlanRun(ctx({}, stop.signal), { refresh: 'full' })).rejects.toThrow();
    expect((await events('KSYNC_RUN_INTERRUPTED'))[0]!.payload).toMatchObject({ step: 'plan' });
    expect(await events('KSYNC_RUN_FAILED')).toEqual([]);
  });
});

describe('the event catalogue', () => {
  it('holds no event that nothing raises: each is raised above or in the test named for it', () => {
    for (const { code } of engineEventTypes) {
      if (raisedHere.has(code)) continue;
      const file = raisedElsewhere[code];
      expect(file, `${code} is raised by no test`).toBeDefined();
      expect(readFileSync(path.join(packageRoot, file!), 'utf8'), `${file} does not check ${code}`).toContain(code);
    }
  });
});
