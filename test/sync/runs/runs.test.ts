import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ExitCode, LockedError } from '../../../src/errors.js';
import { listEvents } from '../../../src/sync/events/index.js';
import { acquireRunLock } from '../../../src/sync/runs/lock.js';
import { runSync } from '../../../src/sync/runs/sync-run.js';
import { closeAbandonedRuns, listRuns, loadRun, startRun } from '../../../src/sync/runs/store.js';
import { describeEachEngine } from '../../support/db.js';
import { runContextFor, startPlant, type Plant } from '../../e2e/plant.js';

describeEachEngine('runs: lock, history, sync with its safety threshold', (t, engine) => {
  let plant: Plant;
  beforeEach(async () => {
    plant = await startPlant(t().dataDir);
  });
  afterEach(async () => {
    await plant.close();
  });

  it('one run at a time: a second lock is refused at once, naming the run that holds it; released, it is free', async () => {
    const { db } = t();
    const lock = await acquireRunLock(db);
    const runId = await startRun(db, { trigger: 'cron', actor: 'cron', mode: 'sync' });
    const refused = await acquireRunLock(db).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LockedError);
    expect((refused as LockedError).message).toMatch(new RegExp(`^run ${runId} \\(sync, started by cron at .*\\) is applying changes to KICS`));
    expect((refused as LockedError).exitCode).toBe(ExitCode.locked);
    await lock.release();
    await closeAbandonedRuns(db, -1);
    const again = await acquireRunLock(db);
    await again.release();
  });

  if (engine === 'postgres') {
    it('PostgreSQL: a lock held by another process blocks; when that process dies, the lock is free', async () => {
      const other = new pg.Client({ connectionString: t().url });
      await other.connect();
      await other.query(`SELECT pg_advisory_lock(hashtextextended('kics-sync:run', 0))`);
      await expect(acquireRunLock(t().db)).rejects.toBeInstanceOf(LockedError);
      await other.end();
      const lock = await acquireRunLock(t().db);
      await lock.release();
    });
  }

  it('runs left "running" by a killed process are closed as interrupted by the next run', async () => {
    const { db } = t();
    const dead = await startRun(db, { trigger: 'cli', actor: 'bob', mode: 'apply' });
    const plan = await startRun(db, { trigger: 'cli', actor: 'bob', mode: 'plan' });
    const current = await startRun(db, { trigger: 'cli', actor: 'alice', mode: 'apply' });
    expect(await closeAbandonedRuns(db, current)).toContain(dead);
    expect((await loadRun(db, dead)).status).toBe('interrupted');
    expect((await loadRun(db, plan)).status).toBe('running');
    expect((await loadRun(db, current)).status).toBe('running');
  });

  it('sync plans and applies in one run, recording trigger, actor, counts and timings', async () => {
    plant.writeCmdb([plant.rowOf(plant.devices[0]!, { description: 'synced by cron' }), plant.newAsset(5)]);
    const result = await runSync(runContextFor(plant, t().db, { trigger: 'cron', actor: 'cron' }));
    expect(result.status).toBe('succeeded');
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(result.apply?.outcome).toEqual({ applied: 2, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    expect(plant.sim.sim.store.get(plant.devices[0]!.id)!.description).toBe('synced by cron');
    const run = await loadRun(t().db, result.runId);
    expect(run).toMatchObject({ trigger: 'cron', actor: 'cron', mode: 'sync', status: 'succeeded', planIds: [result.plan.plan.id] });
    expect(run.counts).toMatchObject({ planId: result.plan.plan.id, applied: 2, planned: { create: 1, update: 1 } });
    expect(Object.keys(run.timings)).toContain('apply');
    const [listed] = await listRuns(t().db, { limit: 1 });
    expect(listed!.id).toBe(result.runId);
    const codes = (await listEvents(t().db, { runId: result.runId })).map((e) => e.code);
    expect(codes).toEqual(expect.arrayContaining(['KSYNC_RUN_STARTED', 'KSYNC_PLAN_CREATED', 'KSYNC_PLAN_APPLIED', 'KSYNC_RUN_FINISHED']));
  });

  it('holds a plan over the safety threshold for review (exit 4, nothing written); --force applies it', async () => {
    const rows = plant.devices.slice(0, 12).map((d) => plant.rowOf(d, { description: 'mass change' }));
    plant.writeCmdb(rows);
    const config = plant.config({ sync: { maxChangeShare: 0.1, maxCreates: 0 } });
    const held = await runSync(runContextFor(plant, t().db, { config, trigger: 'cron', actor: 'cron' }));
    expect(held.status).toBe('held');
    expect(held.exitCode).toBe(ExitCode.held);
    expect(held.apply).toBeNull();
    expect(held.heldBecause[0]).toMatch(/^it would change 12 of \d+ KICS devices \(\d+%\), more than sync.maxChangeShare 10%$/);
    expect(plant.devices.slice(0, 12).some((d) => plant.sim.sim.store.get(d.id)!.description === 'mass change')).toBe(false);
    const [event] = await listEvents(t().db, { runId: held.runId, types: ['KSYNC_SAFETY_THRESHOLD_HIT'] });
    expect(event!.payload).toMatchObject({ planId: held.plan.plan.id, threshold: { changedDevices: 12, maxChangeShare: 0.1 } });
    expect((await loadRun(t().db, held.runId)).status).toBe('held');
    const [plan] = await t().db.query<{ status: string }>(`SELECT status::text AS status FROM plan WHERE id = $1`, [held.plan.plan.id]);
    expect(plan!.status).toBe('draft');

    const forced = await runSync(runContextFor(plant, t().db, { config, trigger: 'cli', actor: 'alice' }), { force: true });
    expect(forced.status).toBe('succeeded');
    expect(forced.apply?.outcome.applied).toBe(12);
    expect(plant.devices.slice(0, 12).every((d) => plant.sim.sim.store.get(d.id)!.description === 'mass change')).toBe(true);
  });

  it('sync.registerKicsEvent: KICS operators get one event per run with its summary, audited like any write', async () => {
    plant.writeCmdb([plant.rowOf(plant.devices[1]!, { description: 'with an event' })]);
    const before = plant.sim.sim.events.list().length;
    const result = await runSync(runContextFor(plant, t().db, { config: plant.config({ sync: { registerKicsEvent: true } }), trigger: 'cron', actor: 'cron' }));
    const events = plant.sim.sim.events.list().slice(before);
    expect(events).toHaveLength(1);
    expect(events[0]!.title).toBe(`kics-sync run ${result.runId}: 1 applied, 0 drifted, 0 failed`);
    const [audit] = await t().db.query<{ outcome: string; plan_item_id: number | null }>(`SELECT outcome, plan_item_id FROM audit_record WHERE run_id = $1 AND operation = 'register_event'`, [result.runId]);
    expect(audit).toEqual({ outcome: 'applied', plan_item_id: null });
  });

  it('creates count against sync.maxCreates', async () => {
    plant.writeCmdb([1, 2, 3].map((n) => plant.newAsset(40 + n)));
    const held = await runSync(runContextFor(plant, t().db, { config: plant.config({ sync: { maxCreates: 2 } }) }));
    expect(held.status).toBe('held');
    expect(held.heldBecause).toEqual(['it would create 3 devices, more than sync.maxCreates 2']);
  });
});
