import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { KicsClient } from '../../../src/adapters/kics/index.js';
import { ExitCode } from '../../../src/errors.js';
import type { SimDevice } from '../../../src/simulator/kics/index.js';
import { claimantOf, plannedValuesHeld } from '../../../src/sync/apply/index.js';
import { claimItems } from '../../../src/sync/apply/claim.js';
import { readAudit } from '../../../src/sync/audit/store.js';
import { runRevert } from '../../../src/sync/plans/revert.js';
import { listEvents } from '../../../src/sync/events/index.js';
import { runApply } from '../../../src/sync/runs/apply-run.js';
import { runPlanRun } from '../../../src/sync/runs/plan-run.js';
import { finishRun, loadRun, startRun } from '../../../src/sync/runs/store.js';
import { describeEachEngine } from '../../support/db.js';
import { clientOf, runContextFor, startPlant, type Plant } from '../../e2e/plant.js';

/** An industrial configuration file: one S7 PLC at `ip` with these tags. */
const plcConfig = (ip: string, tags: unknown[]): string => JSON.stringify({ deviceType: 'S7-1500', protocols: [{ name: 'S7CommPlus', address: { ip, port: 102 }, tags }] });

/**
 * Applying plans in this process against the KICS simulator, on both databases: what reaches KICS,
 * what the plan items, runs, audit and events say afterwards.
 */
describeEachEngine('apply', (t) => {
  let plant: Plant;
  beforeEach(async () => {
    plant = await startPlant(t().dataDir);
  });
  afterEach(async () => {
    await plant.close();
  });

  const device = (id: number): SimDevice => plant.sim.sim.store.get(id)!;
  const named = (name: string): SimDevice[] => [...plant.sim.sim.store.all()].filter((d) => d.name === name);
  const plan = async (options: Parameters<typeof runPlanRun>[1] = { refresh: 'full' }, ctx = runContextFor(plant, t().db)) => (await runPlanRun(ctx, options)).plan.plan;
  const items = (planId: number) =>
    t().db.query<{ seq: number; action: string; status: string; kics_device_id: number | null; last_error: string | null; attempts: number; after: Record<string, unknown> | null }>(
      `SELECT seq, action::text AS action, status::text AS status, kics_device_id, last_error, attempts, after FROM plan_item WHERE plan_id = $1 ORDER BY seq`,
      [planId],
    );
  const auditOf = async (filter: Parameters<typeof readAudit>[1]) => {
    const rows = [];
    for await (const r of readAudit(t().db, filter)) rows.push(r);
    return rows;
  };

  /** Three devices with a new description, two new assets; the rest as KICS has them. */
  const standardCmdb = (): { updated: SimDevice[] } => {
    const [a, b, c, ...rest] = plant.devices;
    plant.writeCmdb([
      plant.rowOf(a!, { description: 'Boiler feed pump PLC' }),
      plant.rowOf(b!, { description: 'Line 2 filler HMI' }),
      plant.rowOf(c!, { description: 'Mixer drive' }),
      ...rest.slice(0, 10).map((d) => plant.rowOf(d)),
      plant.newAsset(1),
      plant.newAsset(2),
    ]);
    return { updated: [a!, b!, c!] };
  };

  it('applies exactly the stored items, once: KICS converges and a second apply does nothing', async () => {
    const { updated } = standardCmdb();
    const planned = await plan();
    expect(planned.summary.counts).toMatchObject({ create: 2, update: 3 });
    const ctx = runContextFor(plant, t().db, { actor: 'alice' });
    const first = await runApply(ctx, { planId: planned.id, allowDraft: true });
    expect(first.exitCode).toBe(ExitCode.ok);
    expect(first.apply.outcome).toEqual({ applied: 5, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    expect(first.apply.status).toBe('applied');

    expect(device(updated[0]!.id).description).toBe('Boiler feed pump PLC');
    expect(device(updated[2]!.id).description).toBe('Mixer drive');
    expect(named('NEW-ASSET-001')).toHaveLength(1);
    expect(named('NEW-ASSET-002')).toHaveLength(1);
    const rows = await items(planned.id);
    expect(rows.filter((r) => r.action === 'create').map((r) => r.kics_device_id)).toEqual(expect.arrayContaining([named('NEW-ASSET-001')[0]!.id, named('NEW-ASSET-002')[0]!.id]));

    const audit = await auditOf({ runId: first.runId });
    expect(audit).toHaveLength(5);
    expect(new Set(audit.map((r) => r.actor))).toEqual(new Set(['alice']));
    const pump = audit.find((r) => r.deviceId === updated[0]!.id)!;
    expect(pump).toMatchObject({ operation: 'update', outcome: 'applied', httpStatus: 200, planId: planned.id, before: { description: updated[0]!.description ?? null }, after: { description: 'Boiler feed pump PLC' } });
    expect(pump.request).toMatchObject({ method: 'PATCH', deviceId: updated[0]!.id });

    const header = await t().db.query<{ status: string; approved_by: string }>(`SELECT status::text AS status, approved_by FROM plan WHERE id = $1`, [planned.id]);
    expect(header[0]).toEqual({ status: 'applied', approved_by: 'alice' });

    const again = await runApply(ctx, { planId: planned.id, allowDraft: true });
    expect(again.apply.outcome).toEqual({ applied: 0, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    expect(await auditOf({ runId: again.runId })).toHaveLength(0);
    expect(named('NEW-ASSET-001')).toHaveLength(1);

    const replan = await plan({ refresh: 'incremental' });
    expect(replan.summary.changes).toBe(0);
  });

  it('refuses a draft without approval and an expired plan, saying why', async () => {
    standardCmdb();
    const stale = await plan();
    await expect(runApply(runContextFor(plant, t().db), { planId: stale.id, allowDraft: false })).rejects.toThrow(new RegExp(`plan ${stale.id} is a draft: .*kics-sync approve --plan ${stale.id}`));
    // The CMDB moves on and is staged again: the plan no longer says what should change.
    plant.writeCmdb([plant.rowOf(plant.devices[0]!, { description: 'yet another description' })]);
    await plan();
    await expect(runApply(runContextFor(plant, t().db), { planId: stale.id, allowDraft: true })).rejects.toMatchObject({ code: 'PLAN_EXPIRED', exitCode: ExitCode.usage });
    expect(device(plant.devices[0]!.id).description).not.toBe('yet another description');
    expect(await auditOf({ planId: stale.id })).toHaveLength(0);
  });

  it.each([400, 409, 412, 'stop'] as const)('a KICS that answers a failed Test guard with %s instead of a result per op: drift, not a failure repeated on every apply', async (answer) => {
    const { updated } = standardCmdb();
    const planned = await plan();
    const target = updated[1]!;
    expect((await plant.sim.admin('PATCH', `/admin/devices/${target.id}`, { description: 'edited by an operator in KICS' })).status).toBe(200);
    plant.sim.sim.behaviour.failedTest = answer;
    try {
      const result = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true });
      expect(result.apply.outcome).toEqual({ applied: 4, applied_with_errors: 0, skipped: 0, drifted: 1, failed: 0 });
      expect(device(target.id).description).toBe('edited by an operator in KICS');
      const drifted = (await items(planned.id)).find((r) => r.kics_device_id === target.id)!;
      expect(drifted.status).toBe('drifted');
      expect(drifted.last_error).toContain('description is "edited by an operator in KICS" in KICS');
      const [audit] = await auditOf({ runId: result.runId, deviceId: target.id });
      expect(audit).toMatchObject({ outcome: 'drifted', before: { description: 'edited by an operator in KICS' }, after: null });
      expect((await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true })).apply.outcome).toEqual({ applied: 0, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    } finally {
      plant.sim.sim.behaviour.failedTest = 'results';
    }
  });

  it('a guarded PATCH KICS refuses with 400 while its guards still hold fails with KICS\'s reason; it is not taken for drift', async () => {
    const [a, b] = plant.devices;
    plant.writeCmdb([plant.rowOf(a!, { name: 'RENAMED-PLC' }), plant.rowOf(b!)]);
    const planned = await plan();
    expect(planned.summary.counts.update).toBe(1);
    // After planning an operator gives another device that name: KICS refuses the rename (names are unique).
    expect((await plant.sim.admin('PATCH', `/admin/devices/${b!.id}`, { name: 'RENAMED-PLC' })).status).toBe(200);
    plant.sim.sim.behaviour.failedTest = 400;
    try {
      const result = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true });
      expect(result.apply.outcome).toMatchObject({ applied: 0, drifted: 0, failed: 1 });
      const [item] = (await items(planned.id)).filter((r) => r.action === 'update');
      expect(item!.last_error).toMatch(/answered 400.*already exists/);
      expect(device(a!.id).name).toBe(a!.name);
    } finally {
      plant.sim.sim.behaviour.failedTest = 'results';
    }
  });

  it('a device changed in KICS after planning ends drifted with the KICS value kept; the others apply', async () => {
    const { updated } = standardCmdb();
    const planned = await plan();
    const target = updated[1]!;
    const admin = await plant.sim.admin('PATCH', `/admin/devices/${target.id}`, { description: 'edited by an operator in KICS' });
    expect(admin.status).toBe(200);

    const result = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true });
    expect(result.apply.outcome).toEqual({ applied: 4, applied_with_errors: 0, skipped: 0, drifted: 1, failed: 0 });
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(result.apply.status).toBe('partially_applied');
    expect(device(target.id).description).toBe('edited by an operator in KICS');
    const drifted = (await items(planned.id)).find((r) => r.kics_device_id === target.id)!;
    expect(drifted.status).toBe('drifted');
    expect(drifted.last_error).toContain('description is "edited by an operator in KICS" in KICS');
    const [audit] = await auditOf({ runId: result.runId, deviceId: target.id });
    expect(audit).toMatchObject({ outcome: 'drifted', before: { description: 'edited by an operator in KICS' }, after: null });
    const events = await listEvents(t().db, { runId: result.runId, types: ['KSYNC_DRIFT_FOUND'] });
    expect(events).toHaveLength(1);
    expect(events[0]!.payload).toMatchObject({ deviceId: target.id, fields: ['description'] });
  });

  it('recognises writes whose answer was lost (connection reset after KICS applied them): applied, never twice', async () => {
    standardCmdb();
    const planned = await plan();
    plant.sim.sim.faults.addRule({ kind: 'reset', times: 1 }, 'devicePatch');
    plant.sim.sim.faults.addRule({ kind: 'reset', times: 1 }, 'deviceCreate');
    const result = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true, concurrency: 1 });
    expect(result.apply.outcome).toEqual({ applied: 5, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    expect(named('NEW-ASSET-001')).toHaveLength(1);
    expect(named('NEW-ASSET-002')).toHaveLength(1);
    const audit = await auditOf({ runId: result.runId });
    expect(audit.map((r) => r.outcome)).toEqual(['applied', 'applied', 'applied', 'applied', 'applied']);
    // The create whose answer was lost was found in KICS instead of being sent again.
    expect(audit.filter((r) => r.operation === 'create').map((r) => (r.kicsResult as { recovered: boolean }).recovered)).toContain(true);
    expect((await plan({ refresh: 'incremental' })).summary.changes).toBe(0);
  });

  it('with 500 / 429 / reset faults and the token expiring mid-apply, KICS ends exactly at the plan\'s target', async () => {
    standardCmdb();
    const planned = await plan();
    const { faults, store, tokens } = plant.sim.sim;
    for (const route of ['devicePatch', 'deviceCreate', 'devicesQuery', 'deviceGet'] as const) {
      faults.addRule({ kind: 'error500', times: 2 }, route);
      faults.addRule({ kind: 'rateLimit', times: 2, retryAfterSeconds: 0 }, route);
      faults.addRule({ kind: 'reset', times: 1 }, route);
    }
    const edit = store.edit.bind(store);
    let edits = 0;
    store.edit = (...args: Parameters<typeof store.edit>) => {
      edits += 1;
      if (edits === 2) tokens.expireAll();
      return edit(...args);
    };
    const result = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true, concurrency: 2 });
    faults.clear();
    expect(result.apply.outcome).toEqual({ applied: 5, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    for (const item of await items(planned.id)) {
      if (item.action === 'update') expect(plannedValuesHeld(device(item.kics_device_id!) as never, item.after!)).toMatchObject({ held: true });
    }
    expect(named('NEW-ASSET-001')).toHaveLength(1);
    expect(named('NEW-ASSET-002')).toHaveLength(1);
    expect((await plan({ refresh: 'incremental' })).summary.changes).toBe(0);
  });

  it('re-examines the items of a process that died: a create that landed is found, a PATCH that landed is applied, nothing twice', async () => {
    const { updated } = standardCmdb();
    const planned = await plan();
    // A process claimed the two creates and the first update, sent the first create and the update
    // (KICS applied them), and died before recording anything.
    const dead = 'run 999999 gone-host:4242';
    const claimed = await claimItems(t().db, { planId: planned.id, actions: ['create'], claimant: dead, limit: 2 });
    const [update] = await claimItems(t().db, { planId: planned.id, actions: ['update'], claimant: dead, limit: 1 });
    const client: KicsClient = await clientOf(plant);
    try {
      await client.createDevice(claimed[0]!.request as never);
      await client.patchDevice(update!.kicsDeviceId!, update!.ops!);
    } finally {
      await client.close();
    }
    const before = plant.sim.sim.store.size;

    const result = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true });
    expect(result.apply.resumed).toBe(3);
    expect(result.apply.outcome).toEqual({ applied: 5, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    expect(plant.sim.sim.store.size).toBe(before + 1);
    expect(named('NEW-ASSET-001')).toHaveLength(1);
    expect(named('NEW-ASSET-002')).toHaveLength(1);
    expect(device(update!.kicsDeviceId!).description).toBe(update!.after!.description);
    expect(updated.map((d) => d.id)).toContain(update!.kicsDeviceId);
    const rows = await items(planned.id);
    expect(rows.filter((r) => r.status === 'applied')).toHaveLength(5);
    expect(rows.find((r) => r.kics_device_id === update!.kicsDeviceId)!.attempts).toBe(2);
    // Exactly one audit row per item.
    const audit = await auditOf({ planId: planned.id });
    expect(audit).toHaveLength(5);
    expect(new Set(audit.map((r) => r.planItemId)).size).toBe(5);
    const landed = audit.find((r) => r.operation === 'create' && (r.kicsResult as { recovered?: boolean }).recovered)!;
    expect(landed).toMatchObject({ outcome: 'applied', httpStatus: null });
  });

  /** Writes of this route that KICS executed, from its own request log (an answer cut off or reset after the fact counts). */
  const executed = (route: string, since: number): number =>
    plant.sim.sim.requests.list(since).filter((r) => r.route === route && ((r.status >= 200 && r.status < 300 && !['error500', 'error503', 'rateLimit'].includes(r.fault ?? '')) || r.fault === 'executed503')).length;

  it('a create whose answer was lost, then every check failed: the next apply finds it in KICS and records it as applied, never sends it again', async () => {
    plant.writeCmdb([plant.rowOf(plant.devices[0]!), plant.newAsset(1)]);
    const planned = await plan();
    expect(planned.summary.counts).toMatchObject({ create: 1 });
    const since = plant.sim.sim.requests.lastSeq;
    // KICS creates the device, the answer is cut off; then every look for it is answered 500.
    plant.sim.sim.faults.addRule({ kind: 'truncate', times: 1 }, 'deviceCreate');
    plant.sim.sim.faults.addRule({ kind: 'error500', times: 10_000 }, 'devicesQuery');
    const first = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true });
    expect(first.apply.outcome.failed).toBe(1);
    const [failedItem] = (await items(planned.id)).filter((r) => r.action === 'create');
    expect(failedItem!.last_error).toMatch(/may have been applied/);
    plant.sim.sim.faults.clear();

    const second = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true });
    expect(second.apply.outcome).toEqual({ applied: 1, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    expect(named('NEW-ASSET-001')).toHaveLength(1);
    expect(executed('deviceCreate', since)).toBe(1);
    const audit = (await auditOf({ planId: planned.id })).filter((r) => r.operation === 'create');
    expect(audit.filter((r) => r.outcome === 'applied')).toHaveLength(executed('deviceCreate', since));
    expect(audit.find((r) => r.outcome === 'applied')).toMatchObject({ deviceId: named('NEW-ASSET-001')[0]!.id, request: { method: 'POST', route: 'deviceCreate' }, actor: 'tester' });
  });

  it.each(['refuse', 'ignore'] as const)('a create whose answer was lost, on a KICS that %ss the Name / MacAddress filters: found by reading devices by Id, recorded as applied to that device, not sent again', async (behaviour) => {
    plant.writeCmdb([plant.rowOf(plant.devices[0]!), plant.newAsset(1)]);
    const planned = await plan();
    const since = plant.sim.sim.requests.lastSeq;
    plant.sim.sim.behaviour.undocumentedDeviceFilters = behaviour;
    plant.sim.sim.faults.addRule({ kind: 'truncate', times: 1 }, 'deviceCreate');
    try {
      const result = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true });
      expect(result.apply.outcome).toMatchObject({ applied: 1, failed: 0, drifted: 0 });
    } finally {
      plant.sim.sim.behaviour.undocumentedDeviceFilters = 'honour';
    }
    const created = named('NEW-ASSET-001');
    expect(created).toHaveLength(1);
    expect(executed('deviceCreate', since)).toBe(1);
    // An ignored filter answers the first devices of KICS: none of them is taken for the new one.
    const [create] = (await auditOf({ planId: planned.id })).filter((r) => r.operation === 'create');
    expect(create).toMatchObject({ outcome: 'applied', deviceId: created[0]!.id });
    expect(plant.sim.sim.requests.list(since).filter((r) => r.route === 'devicesQuery').length).toBeGreaterThan(1);
    if (behaviour === 'refuse') expect(plant.sim.sim.requests.list(since).some((r) => r.route === 'devicesQuery' && r.status === 400)).toBe(true);
  });

  it('a PATCH whose answer was lost, then 500s: the next apply records it as applied by the engine, not as set in KICS by someone else', async () => {
    const { updated } = standardCmdb();
    const planned = await plan();
    const since = plant.sim.sim.requests.lastSeq;
    plant.sim.sim.faults.addRule({ kind: 'reset', times: 1 }, 'devicePatch');
    plant.sim.sim.faults.addRule({ kind: 'error500', times: 10_000 }, 'devicePatch');
    const first = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true, concurrency: 1 });
    expect(first.apply.outcome.failed).toBeGreaterThanOrEqual(1);
    // KICS executed the PATCH whose answer was reset: that device already holds its planned description.
    const lost = plant.sim.sim.requests.list(since).find((r) => r.route === 'devicePatch' && r.fault === 'reset')!;
    const target = Number(/\/devices\/(\d+)/.exec(lost.path)![1]);
    const planned0 = { [updated[0]!.id]: 'Boiler feed pump PLC', [updated[1]!.id]: 'Line 2 filler HMI', [updated[2]!.id]: 'Mixer drive' }[target]!;
    expect(device(target).description).toBe(planned0);
    plant.sim.sim.faults.clear();

    const second = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true });
    expect(second.apply.outcome.skipped).toBe(0);
    expect(second.apply.outcome.drifted).toBe(0);
    const audit = await auditOf({ planId: planned.id, deviceId: target });
    expect(audit.filter((r) => r.outcome === 'applied')).toHaveLength(1);
    expect(audit.find((r) => r.outcome === 'applied')).toMatchObject({ operation: 'update', after: { description: planned0 } });
    expect(executed('devicePatch', since)).toBeGreaterThanOrEqual(3);
  });

  it('one answer lost mid-apply is that item\'s problem: the apply goes on with the others', async () => {
    standardCmdb();
    const planned = await plan();
    plant.sim.sim.faults.addRule({ kind: 'truncate', times: 1 }, 'devicePatch');
    plant.sim.sim.faults.addRule({ kind: 'error500', times: 10_000 }, 'devicePatch');
    const ctx = runContextFor(plant, t().db);
    // Only the first PATCH's answer is lost and its retries refused; the creates still go through.
    const result = await runApply(ctx, { planId: planned.id, allowDraft: true, concurrency: 1 });
    expect(result.apply.stopped).toBeNull();
    expect(result.apply.outcome.applied).toBeGreaterThanOrEqual(2);
  });

  it('sends kics.sourceId with every PATCH, so that KICS attributes the changes to the connector', async () => {
    standardCmdb();
    const planned = await plan();
    const since = plant.sim.sim.requests.lastSeq;
    const config = plant.config({ kics: { url: plant.sim.url, package: { dir: plant.sim.packageDir, password: plant.sim.packagePassword }, sourceId: 42 } });
    await runApply(runContextFor(plant, t().db, { config }), { planId: planned.id, allowDraft: true });
    const patches = plant.sim.sim.requests.list(since).filter((r) => r.route === 'devicePatch');
    expect(patches).toHaveLength(3);
    expect(patches.map((r) => r.sourceId)).toEqual([42, 42, 42]);
  });

  it('a failed item does not stop the others; the apply exits 1, and applying again retries only what failed', async () => {
    standardCmdb();
    const planned = await plan();
    // The first PATCH fails on every attempt (the client retries 500s: retries + 1 attempts).
    plant.sim.sim.faults.addRule({ kind: 'error500', times: 7 }, 'devicePatch');
    const ctx = runContextFor(plant, t().db);
    const first = await runApply(ctx, { planId: planned.id, allowDraft: true, concurrency: 1 });
    expect(first.apply.outcome).toEqual({ applied: 4, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 1 });
    expect(first.exitCode).toBe(ExitCode.failed);
    expect(first.apply.status).toBe('partially_applied');
    expect((await loadRun(t().db, first.runId)).status).toBe('partial');
    const failed = (await items(planned.id)).find((r) => r.status === 'failed')!;
    expect(failed.last_error).toMatch(/answered 500/);
    const [event] = await listEvents(t().db, { runId: first.runId, types: ['KSYNC_WRITE_FAILED'] });
    expect(event!.payload).toMatchObject({ planId: planned.id, seq: failed.seq, status: 500 });

    const second = await runApply(ctx, { planId: planned.id, allowDraft: true });
    expect(second.apply.outcome).toEqual({ applied: 1, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    expect(second.apply.status).toBe('applied');
    expect((await auditOf({ planId: planned.id })).map((r) => r.outcome).sort()).toEqual(['applied', 'applied', 'applied', 'applied', 'applied', 'failed']);
  });

  it('stops at a signal: items in flight finish, the rest stays pending, and the next apply finishes them', async () => {
    standardCmdb();
    const planned = await plan();
    const abort = new AbortController();
    const ctx = { ...runContextFor(plant, t().db, { signal: abort.signal }), progress: () => ({ increment: () => abort.abort(), stop: () => {} }) };
    const first = await runApply(ctx, { planId: planned.id, allowDraft: true, concurrency: 1 });
    expect(first.exitCode).toBe(ExitCode.interrupted);
    expect(first.apply.stopped?.reason).toBe('interrupted');
    // The item whose outcome raised the signal, and the one already talking to KICS, finish.
    const done = first.apply.outcome.applied;
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done).toBeLessThanOrEqual(2);
    expect(first.apply.status).toBe('applying');
    expect((await loadRun(t().db, first.runId)).status).toBe('interrupted');
    expect(first.apply.items.pending).toBe(5 - done);
    expect(first.apply.items.in_progress ?? 0).toBe(0);

    const second = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true });
    expect(second.apply.outcome.applied).toBe(5 - done);
    expect(second.apply.status).toBe('applied');
  });

  it('never runs more than --concurrency writes at once', async () => {
    plant.writeCmdb(plant.devices.slice(0, 12).map((d, i) => plant.rowOf(d, { description: `described ${i}` })));
    const planned = await plan();
    plant.sim.sim.faults.addRule({ kind: 'latency', latencyMs: 30 }, 'devicePatch');
    let inFlight = 0;
    let most = 0;
    const client = async (): Promise<KicsClient> => {
      const real = await clientOf(plant);
      const patch = real.patchDevice.bind(real);
      real.patchDevice = async (...args) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return await patch(...args);
        } finally {
          inFlight -= 1;
        }
      };
      return real;
    };
    const result = await runApply(runContextFor(plant, t().db, { client }), { planId: planned.id, allowDraft: true, concurrency: 3 });
    expect(result.apply.outcome.applied).toBe(12);
    expect(most).toBe(3);
  });

  it('KICS unreachable: nothing is claimed, the run fails with the reason, every item stays pending', async () => {
    standardCmdb();
    const planned = await plan();
    // Nothing listens on port 9 of this machine: the connection is refused.
    const config = plant.config({ kics: { url: 'https://127.0.0.1:9', package: { dir: plant.sim.packageDir, password: plant.sim.packagePassword }, retry: { retries: 1, minTimeoutMs: 5, maxTimeoutMs: 10 } } });
    const ctx = runContextFor(plant, t().db, { config });
    await expect(runApply(ctx, { planId: planned.id, allowDraft: true })).rejects.toMatchObject({ code: 'KICS_UNREACHABLE', exitCode: ExitCode.unavailable });
    const rows = await items(planned.id);
    expect(rows.filter((r) => r.status === 'pending')).toHaveLength(5);
    const events = await listEvents(t().db, { types: ['KSYNC_KICS_UNREACHABLE', 'KSYNC_RUN_FAILED'] }, 2);
    expect(events.map((e) => e.code).sort()).toEqual(['KSYNC_KICS_UNREACHABLE', 'KSYNC_RUN_FAILED']);
  });

  it('uploads industrial configurations, to existing devices and to devices the plan creates; an unchanged file is not uploaded again', async () => {
    const root = path.join(plant.dir, 'configs');
    mkdirSync(root, { recursive: true });
    const [existing] = plant.devices;
    const fresh = plant.newAsset(9);
    const configOf = (ip: string, tag: string): string => plcConfig(ip, [{ name: tag, address: 'DB1.DBD0', dataType: 'Float' }]);
    writeFileSync(path.join(root, 'existing.json'), configOf(existing!.addressInformation[0]!.ipAddresses[0]!.ip, 'TT101'));
    writeFileSync(path.join(root, 'fresh.json'), configOf(fresh.ip!, 'PT201'));
    plant.writeCmdb([plant.rowOf(existing!, { config: 'existing.json' }), { ...fresh, config: 'fresh.json' }]);
    const config = plant.config({ reconcile: { industrialConfig: { root, mode: 'Merge' } } });
    const ctx = runContextFor(plant, t().db, { config });
    const planned = await plan({ refresh: 'full' }, ctx);
    expect(planned.summary.counts).toMatchObject({ create: 1, upload_config: 2 });
    const result = await runApply(ctx, { planId: planned.id, allowDraft: true });
    expect(result.apply.outcome).toEqual({ applied: 3, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    const created = named(fresh.name)[0]!;
    expect([...plant.sim.sim.store.tagsOf(existing!.id).keys()].join()).toContain('TT101');
    expect([...plant.sim.sim.store.tagsOf(created.id).keys()].join()).toContain('PT201');
    const uploads = await t().db.query<{ device_id: number; path: string }>(`SELECT device_id, path FROM industrial_config_upload ORDER BY path`);
    expect(uploads).toEqual([
      { device_id: existing!.id, path: 'existing.json' },
      { device_id: created.id, path: 'fresh.json' },
    ]);
    expect((await plan({ refresh: 'incremental' }, ctx)).summary.changes).toBe(0);

    // A file changed between plan and apply is not uploaded: the plan was made for other content.
    writeFileSync(path.join(root, 'existing.json'), configOf(existing!.addressInformation[0]!.ipAddresses[0]!.ip, 'TT102'));
    const next = await plan({ refresh: 'incremental' }, ctx);
    writeFileSync(path.join(root, 'existing.json'), configOf(existing!.addressInformation[0]!.ipAddresses[0]!.ip, 'TT103'));
    const skipped = await runApply(ctx, { planId: next.id, allowDraft: true });
    expect(skipped.apply.outcome).toEqual({ applied: 0, applied_with_errors: 0, skipped: 1, drifted: 0, failed: 0 });
    expect((await items(next.id))[0]!.last_error).toMatch(/changed since planning/);
  });

  it('an industrial configuration KICS applies with tag errors is not a plain success; removed rules are in the audit and on the item', async () => {
    const root = path.join(plant.dir, 'configs');
    mkdirSync(root, { recursive: true });
    const [existing] = plant.devices;
    const ip = existing!.addressInformation[0]!.ipAddresses[0]!.ip;
    const configOf = (tags: unknown[]): string => plcConfig(ip, tags);
    const good = (name: string, address: string) => ({ name, address, dataType: 'Float' });
    writeFileSync(path.join(root, 'plc.json'), configOf([{ ...good('TT101', 'DB1.DBD0'), rules: ['TT101 high'] }, { name: 'Bad type', address: 'DB1.DBD4', dataType: 'Quaternion' }]));
    plant.writeCmdb([plant.rowOf(existing!, { config: 'plc.json' })]);
    const ctx = runContextFor(plant, t().db, { config: plant.config({ reconcile: { industrialConfig: { root, mode: 'Merge' } } }) });
    const planned = await plan({ refresh: 'full' }, ctx);
    const result = await runApply(ctx, { planId: planned.id, allowDraft: true });
    expect(result.apply.outcome).toMatchObject({ applied: 0, applied_with_errors: 1, failed: 0 });
    expect(result.apply.status).toBe('partially_applied');
    const [item] = (await items(planned.id)).filter((i) => i.action === 'upload_config');
    expect(item).toMatchObject({ status: 'applied_with_errors' });
    expect(item!.last_error).toMatch(/could not apply 1 tag\(s\) of "plc.json"/);
    // The tags KICS could apply are there.
    expect([...plant.sim.sim.store.tagsOf(existing!.id).keys()].join()).toContain('TT101');

    // Replace drops the tag a rule is bound to: KICS reports the removed rules, the audit and the item keep them.
    writeFileSync(path.join(root, 'plc.json'), configOf([good('PT201', 'DB1.DBD8')]));
    const replace = runContextFor(plant, t().db, { config: plant.config({ reconcile: { industrialConfig: { root, mode: 'Replace' } } }) });
    const next = await plan({ refresh: 'incremental' }, replace);
    const applied = await runApply(replace, { planId: next.id, allowDraft: true });
    expect(applied.apply.outcome).toMatchObject({ applied: 1, applied_with_errors: 0 });
    const [upload] = (await items(next.id)).filter((i) => i.action === 'upload_config');
    expect(upload!.last_error).toMatch(/removed 1 rule\(s\)/);
    const audit = (await auditOf({ runId: applied.runId })).filter((r) => r.operation === 'upload_config');
    expect(audit.map((r) => (r.kicsResult as { removedRules: number }).removedRules)).toEqual([1]);
  });

  it('a corrected IP replaces the one the CMDB gave before; an address KICS discovered on its own stays', async () => {
    const [target, ...rest] = plant.devices;
    const nic = target!.addressInformation[0]!;
    const oldIp = nic.ipAddresses[0]!.ip;
    plant.writeCmdb([plant.rowOf(target!), ...rest.slice(0, 5).map((d) => plant.rowOf(d))]);
    const first = await plan({ refresh: 'full' });
    await runApply(runContextFor(plant, t().db), { planId: first.id, allowDraft: true });
    // KICS discovers another address on the same interface; the CMDB then corrects the device's IP.
    const discovered = '10.1.250.250';
    const withDiscovered = device(target!.id).addressInformation.map((i, n) => ({ ...i, ipAddresses: n === 0 ? [...i.ipAddresses, { ip: discovered, addressSpaceId: 1 }] : i.ipAddresses }));
    expect((await plant.sim.admin('PATCH', `/admin/devices/${target!.id}`, { addressInformation: withDiscovered })).status).toBe(200);
    const newIp = '10.1.251.1';
    plant.writeCmdb([plant.rowOf(target!, { ip: newIp }), ...rest.slice(0, 5).map((d) => plant.rowOf(d))]);
    const second = await plan({ refresh: 'full' });
    const [update] = (await items(second.id)).filter((i) => i.action === 'update');
    expect(update).toMatchObject({ kics_device_id: target!.id });
    const result = await runApply(runContextFor(plant, t().db), { planId: second.id, allowDraft: true });
    expect(result.apply.outcome).toMatchObject({ applied: 1, failed: 0, drifted: 0 });
    const ips = device(target!.id).addressInformation.flatMap((i) => i.ipAddresses.map((a) => a.ip));
    expect(ips).toContain(newIp);
    expect(ips).toContain(discovered);
    expect(ips).not.toContain(oldIp);
    // Converged: the next plan has nothing to do for it.
    expect((await plan({ refresh: 'full' })).summary.counts.update).toBe(0);
  });

  it('reverts a run: fields put back, the devices it created archived, a device changed since left as it is (drift)', async () => {
    const { updated } = standardCmdb();
    const before = new Map(updated.map((d) => [d.id, device(d.id).description]));
    const planned = await plan();
    const applied = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true });
    expect(applied.apply.outcome).toMatchObject({ applied: 5, failed: 0 });
    const created = [...named('NEW-ASSET-001'), ...named('NEW-ASSET-002')];
    expect(created).toHaveLength(2);

    const revert = await runRevert(t().db, plant.config(), plant.dir, applied.runId);
    expect(revert.header.summary.revert).toEqual({ runId: applied.runId, notReverted: [] });
    expect(revert.header.summary.counts).toMatchObject({ update: 3, archive: 2 });
    expect(readFileSync(revert.header.reportPath!, 'utf8')).toContain(`reverting run ${applied.runId}`);
    // An operator edits one of the devices after the run: the revert must not overwrite that.
    const [edited, ...restored] = updated;
    expect((await plant.sim.admin('PATCH', `/admin/devices/${edited!.id}`, { description: 'set by an operator' })).status).toBe(200);

    const undone = await runApply(runContextFor(plant, t().db), { planId: revert.header.id!, allowDraft: true });
    expect(undone.apply.outcome).toMatchObject({ applied: 4, drifted: 1, failed: 0 });
    for (const d of restored) expect(device(d.id).description).toBe(before.get(d.id));
    expect(device(edited!.id).description).toBe('set by an operator');
    for (const d of created) expect(device(d.id).status).toBe('Archived');
    expect(plant.sim.sim.store.get(created[0]!.id)).toBeDefined();
  });

  it('a create KICS answers by overwriting a device: the audit keeps what that device held, when the snapshot has it', async () => {
    const fresh = plant.newAsset(7);
    plant.writeCmdb([fresh]);
    const ctx = runContextFor(plant, t().db, { config: plant.config({ reconcile: { whatIfDuplicate: 'Overwrite' } }) });
    const planned = await plan({ refresh: 'full' }, ctx);
    expect(planned.summary.counts.create).toBe(1);
    // After planning an operator adds a device with the asset's MAC; the next read would have it in the snapshot.
    const added = await plant.sim.admin('POST', '/admin/devices', { name: 'Added by operator', status: 'Unauthorized', description: 'as the operator left it', addressInformation: [{ macAddress: fresh.mac, ipAddresses: [{ ip: fresh.ip }] }] });
    const id = (added.json as { id: number }).id;
    const raw = JSON.stringify(plant.sim.sim.store.get(id));
    await t().db.execute(
      `INSERT INTO kics_device (id, name, status, raw, content_hash) VALUES ($1, $2, 'Unauthorized', $3::json, 'x')
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status, raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, missing_since = NULL`,
      [id, 'Added by operator', raw],
    );
    const result = await runApply(ctx, { planId: planned.id, allowDraft: true });
    expect(result.apply.outcome).toMatchObject({ applied: 1 });
    expect(device(id).name).toBe(fresh.name);
    const [audit] = (await auditOf({ runId: result.runId })).filter((r) => r.operation === 'create');
    expect(audit!.kicsResult).toMatchObject({ status: 'Overwritten', deviceId: id });
    expect(audit!.before).toMatchObject({ name: 'Added by operator', description: 'as the operator left it', status: 'Unauthorized' });
  });

  it.each(['Skip', 'Overwrite'] as const)('a KICS that answers a duplicate create only with Created (the document\'s one answer), whatIfDuplicate %s: the engine tells the device it matched from one it created', async (whatIfDuplicate) => {
    const fresh = plant.newAsset(8);
    plant.writeCmdb([fresh]);
    const ctx = runContextFor(plant, t().db, { config: plant.config({ reconcile: { whatIfDuplicate } }) });
    const planned = await plan({ refresh: 'full' }, ctx);
    expect(planned.summary.counts.create).toBe(1);
    // After planning an operator adds a device with the asset's MAC.
    const added = await plant.sim.admin('POST', '/admin/devices', { name: 'Added by operator', status: 'Unauthorized', description: 'as the operator left it', addressInformation: [{ macAddress: fresh.mac, ipAddresses: [{ ip: fresh.ip }] }] });
    const id = (added.json as { id: number }).id;
    if (whatIfDuplicate === 'Overwrite') {
      // Overwrite leaves no trace of the earlier device in KICS: only a device the snapshot has can be told apart.
      await t().db.execute(
        `INSERT INTO kics_device (id, name, status, raw, content_hash) VALUES ($1, $2, 'Unauthorized', $3::json, 'x')
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status, raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash, missing_since = NULL`,
        [id, 'Added by operator', JSON.stringify(plant.sim.sim.store.get(id))],
      );
    }
    const since = plant.sim.sim.requests.lastSeq;
    plant.sim.sim.behaviour.strict = true;
    try {
      const result = await runApply(ctx, { planId: planned.id, allowDraft: true });
      const create = plant.sim.sim.requests.list(since).find((r) => r.route === 'deviceCreate')!;
      expect(create.status).toBe(200);
      const [audit] = (await auditOf({ runId: result.runId })).filter((r) => r.operation === 'create');
      expect(audit!.deviceId).toBe(id);
      if (whatIfDuplicate === 'Skip') {
        expect(result.apply.outcome).toMatchObject({ applied: 0, drifted: 1 });
        expect(audit).toMatchObject({ outcome: 'drifted', kicsResult: { status: 'Skipped', duplicate: { matchedBy: 'a device named "Added by operator" that appeared after planning' } } });
        expect(device(id).name).toBe('Added by operator');
      } else {
        expect(result.apply.outcome).toMatchObject({ applied: 1 });
        expect(audit).toMatchObject({ outcome: 'applied', kicsResult: { status: 'Overwritten' }, before: { name: 'Added by operator', description: 'as the operator left it' } });
        expect(device(id).name).toBe(fresh.name);
      }
      expect(named(fresh.name).length).toBe(whatIfDuplicate === 'Skip' ? 0 : 1);
    } finally {
      plant.sim.sim.behaviour.strict = false;
    }
  });

  /** One device with an industrial configuration to upload (Replace), planned. */
  const plannedUpload = async () => {
    const root = path.join(plant.dir, 'configs');
    mkdirSync(root, { recursive: true });
    const [target] = plant.devices;
    const ip = target!.addressInformation[0]!.ipAddresses[0]!.ip;
    writeFileSync(path.join(root, 'plc.json'), plcConfig(ip, [{ name: 'TT101', address: 'DB1.DBD0', dataType: 'Float' }]));
    plant.writeCmdb([plant.rowOf(target!, { config: 'plc.json' })]);
    const ctx = runContextFor(plant, t().db, { config: plant.config({ reconcile: { industrialConfig: { root, mode: 'Replace' } } }) });
    const planned = await plan({ refresh: 'full' }, ctx);
    expect(planned.summary.counts.upload_config).toBe(1);
    return { ctx, planned, target: target! };
  };

  it('a 503 or 429 answer to a write is not proof that KICS did nothing: a create executed then answered 503 is found, recorded as applied once, not sent again', async () => {
    plant.writeCmdb([plant.rowOf(plant.devices[0]!), plant.newAsset(1)]);
    const planned = await plan();
    const since = plant.sim.sim.requests.lastSeq;
    plant.sim.sim.faults.addRule({ kind: 'executed503', times: 1 }, 'deviceCreate');
    const result = await runApply(runContextFor(plant, t().db), { planId: planned.id, allowDraft: true });
    expect(result.apply.outcome).toMatchObject({ applied: 1, drifted: 0, failed: 0 });
    expect(named('NEW-ASSET-001')).toHaveLength(1);
    expect(executed('deviceCreate', since)).toBe(1);
    const audit = (await auditOf({ planId: planned.id })).filter((r) => r.operation === 'create');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ outcome: 'applied', deviceId: named('NEW-ASSET-001')[0]!.id, kicsResult: { recovered: true } });
  });

  it.each(['executed503', 'error503', 'reset'] as const)('an industrial configuration upload answered with %s: settled from KICS\'s configuration before and after, uploaded exactly once, audited once as applied', async (fault) => {
    const { ctx, planned, target } = await plannedUpload();
    const since = plant.sim.sim.requests.lastSeq;
    plant.sim.sim.faults.addRule({ kind: fault, times: 1 }, 'deviceIndustrialConfiguration');
    const result = await runApply(ctx, { planId: planned.id, allowDraft: true });
    expect(result.apply.outcome).toMatchObject({ applied: 1, failed: 0 });
    expect(executed('deviceIndustrialConfiguration', since)).toBe(1);
    expect([...plant.sim.sim.store.tagsOf(target.id).keys()].join()).toContain('TT101');
    const audit = (await auditOf({ planId: planned.id })).filter((r) => r.operation === 'upload_config');
    expect(audit.map((r) => r.outcome)).toEqual(['applied']);
    // The read-back after a landed upload lets the next plan see nothing to upload.
    expect((await plan({ refresh: 'incremental' }, ctx)).summary.counts.upload_config).toBe(0);
  });

  it('an upload whose answer was lost and whose check failed too: the next apply sees KICS\'s configuration changed since before the upload and records it as applied, without sending it again', async () => {
    const { ctx, planned, target } = await plannedUpload();
    const since = plant.sim.sim.requests.lastSeq;
    plant.sim.sim.faults.addRule({ kind: 'executed503', times: 1 }, 'deviceIndustrialConfiguration');
    // The read before the upload goes through; every read after it is answered 500.
    let reads = 0;
    const original = plant.sim.sim.faults.decide.bind(plant.sim.sim.faults);
    plant.sim.sim.faults.decide = (route) => (route === 'deviceGet' && ++reads > 1 ? { latencyMs: 0, fault: 'error500' } : original(route));
    try {
      const first = await runApply(ctx, { planId: planned.id, allowDraft: true });
      expect(first.apply.outcome).toMatchObject({ applied: 0, failed: 1 });
    } finally {
      plant.sim.sim.faults.decide = original;
      plant.sim.sim.faults.clear();
    }
    const second = await runApply(ctx, { planId: planned.id, allowDraft: true });
    expect(second.apply.outcome).toMatchObject({ applied: 1, failed: 0 });
    expect(executed('deviceIndustrialConfiguration', since)).toBe(1);
    expect([...plant.sim.sim.store.tagsOf(target.id).keys()].join()).toContain('TT101');
    const audit = (await auditOf({ planId: planned.id })).filter((r) => r.operation === 'upload_config');
    expect(audit.map((r) => r.outcome)).toEqual(['failed', 'applied']);
    expect(audit[1]).toMatchObject({ httpStatus: null, kicsResult: { recovered: true } });
  });

  it('a configuration removed or changed in KICS since the last upload is uploaded again on the next plan, though the file did not change', async () => {
    // Not plannedUpload(): an earlier test may have uploaded this very file to this device id, so the first plan may have nothing to upload.
    const root = path.join(plant.dir, 'configs');
    mkdirSync(root, { recursive: true });
    const [existing] = plant.devices;
    writeFileSync(path.join(root, 'plc.json'), plcConfig(existing!.addressInformation[0]!.ipAddresses[0]!.ip, [{ name: 'TT101', address: 'DB1.DBD0', dataType: 'Float' }]));
    plant.writeCmdb([plant.rowOf(existing!, { config: 'plc.json' })]);
    const ctx = runContextFor(plant, t().db, { config: plant.config({ reconcile: { industrialConfig: { root, mode: 'Replace' } } }) });
    const first = await plan({ refresh: 'full' }, ctx);
    await runApply(ctx, { planId: first.id, allowDraft: true });
    expect((await plan({ refresh: 'incremental' }, ctx)).summary.counts.upload_config).toBe(0);

    // Someone removes the device's industrial configuration in KICS.
    plant.sim.sim.store.setIndustrialConfiguration(existing!.id, null, new Map());
    const again = await plan({ refresh: 'incremental' }, ctx);
    expect(again.summary.counts.upload_config).toBe(1);
    const [upload] = (await t().db.query<{ reason: string }>(`SELECT reason FROM plan_item WHERE plan_id = $1 AND action = 'upload_config'`, [again.id]));
    expect(upload!.reason).toBe('the industrial configuration uploaded last (plc.json) was removed in KICS');
    await runApply(ctx, { planId: again.id, allowDraft: true });
    expect([...plant.sim.sim.store.tagsOf(existing!.id).keys()].join()).toContain('TT101');
    expect((await plan({ refresh: 'incremental' }, ctx)).summary.counts.upload_config).toBe(0);
  });

  it('archives and deletes the devices of retired assets; a delete a dead process already did is recognised', async () => {
    const [keep, retire, remove] = plant.devices;
    plant.writeCmdb([plant.rowOf(keep!), plant.rowOf(retire!, { status: 'retired' })]);
    const archiving = runContextFor(plant, t().db, { config: plant.config({ reconcile: { archiveRetired: true } }) });
    const archived = await plan({ refresh: 'full' }, archiving);
    expect(archived.summary.counts).toMatchObject({ archive: 1 });
    expect((await runApply(archiving, { planId: archived.id, allowDraft: true })).apply.outcome.applied).toBe(1);
    expect(device(retire!.id).status).toBe('Archived');

    plant.writeCmdb([plant.rowOf(keep!), plant.rowOf(retire!, { status: 'retired' }), plant.rowOf(remove!, { status: 'retired' })]);
    const deleting = runContextFor(plant, t().db, { config: plant.config({ reconcile: { allowDelete: true } }) });
    const deletes = await plan({ refresh: 'full' }, deleting);
    expect(deletes.summary.counts).toMatchObject({ delete: 2 });
    // A process claimed one delete, sent it, and died.
    const [claimed] = await claimItems(t().db, { planId: deletes.id, actions: ['delete'], claimant: 'run 999998 gone-host:1', limit: 1 });
    plant.sim.sim.store.delete(claimed!.kicsDeviceId!);
    const result = await runApply(deleting, { planId: deletes.id, allowDraft: true });
    expect(result.apply).toMatchObject({ resumed: 1, outcome: { applied: 2, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 } });
    expect(plant.sim.sim.store.get(retire!.id)).toBeUndefined();
    expect(plant.sim.sim.store.get(remove!.id)).toBeUndefined();
    expect(device(keep!.id)).toBeDefined();
    const audit = await auditOf({ runId: result.runId });
    expect(audit.map((r) => r.operation)).toEqual(['delete', 'delete']);
  });

  it('a DELETE answered 404 by a KICS without that route fails and says so; only a device a GET cannot find either counts as already gone', async () => {
    const [keep, remove, gone] = plant.devices;
    plant.writeCmdb([plant.rowOf(keep!), plant.rowOf(remove!, { status: 'retired' }), plant.rowOf(gone!, { status: 'retired' })]);
    // The document defines no DELETE route; this KICS serves none where the engine looks.
    const config = plant.config({
      kics: { url: plant.sim.url, package: { dir: plant.sim.packageDir, password: plant.sim.packagePassword }, routes: { deviceDelete: '/kics/api/{version}/assets/{id}' } },
      reconcile: { allowDelete: true },
    });
    const noRoute = runContextFor(plant, t().db, { config });
    const deletes = await plan({ refresh: 'full' }, noRoute);
    expect(deletes.summary.counts).toMatchObject({ delete: 2 });
    plant.sim.sim.store.delete(gone!.id);
    const result = await runApply(noRoute, { planId: deletes.id, allowDraft: true });
    expect(result.apply.outcome).toMatchObject({ applied: 0, skipped: 1, failed: 1 });
    expect(device(remove!.id)).toBeDefined();
    const rows = await items(deletes.id);
    const refused = rows.find((r) => r.kics_device_id === remove!.id)!;
    expect(refused.status).toBe('failed');
    expect(refused.last_error).toMatch(/still there: this KICS has no delete route/);
    expect(rows.find((r) => r.kics_device_id === gone!.id)).toMatchObject({ status: 'skipped' });
  });

  it('claims each item once even with two claimants at the same moment', async () => {
    plant.writeCmdb(plant.devices.slice(0, 10).map((d, i) => plant.rowOf(d, { description: `claimed ${i}` })));
    const planned = await plan();
    // Four live runs claim at once (on PostgreSQL, over four connections of the pool).
    const runs = await Promise.all([1, 2, 3, 4].map(() => startRun(t().db, { trigger: 'cli', actor: 'tester', mode: 'apply' })));
    const claims = await Promise.all(runs.map((runId) => claimItems(t().db, { planId: planned.id, actions: ['update'], claimant: claimantOf(runId), limit: 4 })));
    const seqs = claims.flat().map((c) => c.seq);
    expect(seqs).toHaveLength(10);
    expect(new Set(seqs).size).toBe(10);
    // A live run's items are not anyone else's to take; once it is over, they are.
    expect(await claimItems(t().db, { planId: planned.id, actions: ['update'], claimant: 'run 0 elsewhere:1', limit: 10 })).toHaveLength(0);
    for (const runId of runs) await finishRun(t().db, runId, 'interrupted');
    const adopted = await claimItems(t().db, { planId: planned.id, actions: ['update'], claimant: 'run 0 elsewhere:1', limit: 10 });
    expect(adopted).toHaveLength(10);
    expect(adopted.every((item) => item.orphaned && item.attempts === 2)).toBe(true);
  });
});
