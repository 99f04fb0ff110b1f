import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { countEvents, emitEvent } from '../../src/sync/events/index.js';
import type { SimDevice } from '../../src/simulator/kics/index.js';
import { parseJsonOutput, type CliResult } from '../support/cli.js';
import { describeEachEngine } from '../support/db.js';
import { cliOn, cliRaw, startPlant, type Plant } from './plant.js';

interface PlanOut {
  plan: { id: number; scope: Record<string, unknown> };
  counts: Record<string, number>;
  changes: number;
}
interface ApplyOut {
  ok: boolean;
  run: number;
  plan: { id: number; status: string; scope: Record<string, unknown> };
  outcome: Record<string, number>;
  items: Record<string, number>;
  resumed: number;
  problems: { seq: number; status: string; message: string }[];
}

/**
 * The sync engine end to end: the built CLI against the KICS simulator (running in this process, so
 * the test can change KICS behind the engine's back), on PGlite and on PostgreSQL.
 */
describeEachEngine('sync engine, end to end', (t) => {
  let plant: Plant;
  beforeEach(async () => {
    plant = await startPlant(t().dataDir);
    plant.writeConfig();
  });
  afterEach(async () => {
    await plant.close();
  });

  const cli = (args: string[], options: Parameters<typeof cliOn>[2] = {}): Promise<CliResult> => cliOn(t(), args, options);
  const json = <T>(result: CliResult): T => parseJsonOutput(result) as T;
  const device = (id: number): SimDevice => plant.sim.sim.store.get(id)!;
  const named = (name: string): SimDevice[] => [...plant.sim.sim.store.all()].filter((d) => d.name === name);
  const plan = async (args: string[] = []): Promise<PlanOut> => {
    const result = await cli(['plan', '--full', '--json', ...args]);
    expect(result.code, result.stderr).toBe(0);
    return json<PlanOut>(result);
  };
  const auditRows = (planId: number) => t().db.query<{ plan_item_id: number; outcome: string; operation: string; actor: string }>(`SELECT plan_item_id, outcome, operation, actor FROM audit_record WHERE plan_id = $1`, [planId]);

  /** Four devices described anew, two new assets, alice owning two of the changes. */
  const cmdb = (): SimDevice[] => {
    const changed = plant.devices.slice(0, 4);
    plant.writeCmdb([
      ...changed.map((d, i) => plant.rowOf(d, { description: `inventory description ${i}`, owner: i < 2 ? 'alice' : 'bob' })),
      ...plant.devices.slice(4, 12).map((d) => plant.rowOf(d)),
      plant.newAsset(1, { owner: 'alice' }),
      plant.newAsset(2),
    ]);
    return changed;
  };

  it('plan, approve, apply: KICS converges (a new plan is empty); a second apply does nothing; audit and runs tell the story', async () => {
    const changed = cmdb();
    const planned = await plan();
    expect(planned.counts).toMatchObject({ create: 2, update: 4 });

    const refused = await cli(['apply', '--plan', String(planned.plan.id)]);
    expect(refused.code).toBe(ExitCode.usage);
    expect(refused.stderr).toContain(`plan ${planned.plan.id} is a draft`);
    const approved = await cli(['approve', '--plan', String(planned.plan.id), '--json']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(json<{ plan: { approvedBy: string } }>(approved).plan.approvedBy).toBeTruthy();

    const applied = await cli(['apply', '--plan', String(planned.plan.id), '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    const out = json<ApplyOut>(applied);
    expect(out.outcome).toEqual({ applied: 6, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    expect(out.plan.status).toBe('applied');
    expect(changed.map((d) => device(d.id).description)).toEqual([0, 1, 2, 3].map((i) => `inventory description ${i}`));
    expect(named('NEW-ASSET-001')).toHaveLength(1);

    expect((await plan()).changes).toBe(0);
    const again = await cli(['apply', '--plan', String(planned.plan.id), '--json']);
    expect(json<ApplyOut>(again).outcome).toEqual({ applied: 0, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    expect(await auditRows(planned.plan.id)).toHaveLength(6);

    const csvFile = path.join(t().dataDir, 'audit.csv');
    const audit = await cli(['audit', '--run', String(out.run), '--out', csvFile]);
    expect(audit.code, audit.stderr).toBe(0);
    const rows = parse<Record<string, string>>(readFileSync(csvFile, 'utf8').replace(/^\uFEFF/, ''), { columns: true });
    expect(rows).toHaveLength(6);
    expect(rows.filter((r) => r.operation === 'create')).toHaveLength(2);
    const text = await cli(['audit', '--device', String(changed[0]!.id)]);
    expect(text.stdout).toContain('update applied (HTTP 200)  description:');

    const runs = json<{ runs: { id: number; mode: string; status: string; counts: Record<string, unknown> }[] }>(await cli(['runs', '--json', '--limit', '5']));
    expect(runs.runs.find((r) => r.id === out.run)).toMatchObject({ mode: 'apply', status: 'succeeded', counts: { applied: 6 } });
  });

  it('plan --owner alice: apply touches nothing of bob; the report shows the scope', async () => {
    const changed = cmdb();
    const scoped = await plan(['--owner', 'alice']);
    expect(scoped.plan.scope).toEqual({ owner: 'alice' });
    expect(scoped.counts).toMatchObject({ create: 1, update: 2 });
    const md = await cli(['report', '--plan', String(scoped.plan.id), '--format', 'md']);
    expect(md.stdout).toMatch(/owner alice/i);
    const applied = await cli(['apply', '--plan', String(scoped.plan.id), '--yes', '--json']);
    expect(json<ApplyOut>(applied).outcome.applied).toBe(3);
    expect(json<ApplyOut>(applied).plan.scope).toEqual({ owner: 'alice' });
    expect(device(changed[0]!.id).description).toBe('inventory description 0');
    expect(device(changed[2]!.id).description).not.toBe('inventory description 2');
    expect(named('NEW-ASSET-002')).toHaveLength(0);
    // Bob's changes are still to do.
    expect((await plan()).counts).toMatchObject({ create: 1, update: 2 });
  });

  it('with 500 / 429 / reset faults and the token expiring mid-apply, the final KICS state equals the plan\'s target', async () => {
    const changed = cmdb();
    const planned = await plan();
    const { faults, store, tokens } = plant.sim.sim;
    for (const route of ['devicePatch', 'deviceCreate', 'devicesQuery', 'deviceGet', 'token'] as const) {
      faults.addRule({ kind: 'error500', times: 2 }, route);
      faults.addRule({ kind: 'rateLimit', times: 1, retryAfterSeconds: 0 }, route);
      faults.addRule({ kind: 'reset', times: 1 }, route);
    }
    const edit = store.edit.bind(store);
    let edits = 0;
    store.edit = (...args: Parameters<typeof store.edit>) => {
      if (++edits === 2) tokens.expireAll();
      return edit(...args);
    };
    const applied = await cli(['apply', '--plan', String(planned.plan.id), '--yes', '--concurrency', '2', '--json']);
    faults.clear();
    expect(applied.code, applied.stderr).toBe(0);
    expect(json<ApplyOut>(applied).outcome).toEqual({ applied: 6, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    expect(changed.map((d) => device(d.id).description)).toEqual([0, 1, 2, 3].map((i) => `inventory description ${i}`));
    expect(named('NEW-ASSET-001')).toHaveLength(1);
    expect(named('NEW-ASSET-002')).toHaveLength(1);
    expect((await plan()).changes).toBe(0);
  });

  it('SIGKILL during apply, then apply again: no duplicate device, every item done once, audit rows equal to the successful writes', async () => {
    const changed = cmdb();
    const planned = await plan();
    const { store } = plant.sim.sim;
    const sizeBefore = store.size;
    let child: ChildProcess | undefined;
    const edit = store.edit.bind(store);
    let edits = 0;
    // KICS applies the second PATCH, and the process dies before it reads the answer.
    store.edit = (...args: Parameters<typeof store.edit>) => {
      const result = edit(...args);
      if (++edits === 2) child?.kill('SIGKILL');
      return result;
    };
    const killed = await cli(['apply', '--plan', String(planned.plan.id), '--yes', '--concurrency', '1'], { onSpawn: (c) => (child = c) });
    expect(killed.signal).toBe('SIGKILL');
    store.edit = edit;
    // The item KICS applied (and those claimed with it) stay in_progress: nothing recorded their outcome.
    const [stuck] = await t().db.query<{ n: number }>(`SELECT count(*)::int AS n FROM plan_item WHERE plan_id = $1 AND status = 'in_progress'`, [planned.plan.id]);
    expect(stuck!.n).toBeGreaterThanOrEqual(1);

    // The embedded database's lock of the killed process goes stale after a few seconds.
    let resumed: CliResult;
    for (;;) {
      resumed = await cli(['apply', '--plan', String(planned.plan.id), '--yes', '--json']);
      if (resumed.code !== ExitCode.locked) break;
      await sleep(1000);
    }
    expect(resumed.code, resumed.stderr).toBe(0);
    const out = json<ApplyOut>(resumed);
    expect(out.resumed).toBe(stuck!.n);
    expect(out.plan.status).toBe('applied');
    expect(store.size).toBe(sizeBefore + 2);
    expect(named('NEW-ASSET-001')).toHaveLength(1);
    expect(named('NEW-ASSET-002')).toHaveLength(1);
    expect(changed.map((d) => device(d.id).description)).toEqual([0, 1, 2, 3].map((i) => `inventory description ${i}`));
    const items = await t().db.query<{ id: number; status: string }>(`SELECT id, status::text AS status FROM plan_item WHERE plan_id = $1 AND action <> 'unknown'`, [planned.plan.id]);
    expect(items.every((i) => i.status === 'applied')).toBe(true);
    const audit = await auditRows(planned.plan.id);
    expect(audit).toHaveLength(6);
    expect(audit.every((r) => r.outcome === 'applied')).toBe(true);
    expect(new Set(audit.map((r) => r.plan_item_id))).toEqual(new Set(items.map((i) => i.id)));
    const runs = json<{ runs: { mode: string; status: string }[] }>(await cli(['runs', '--json', '--limit', '3']));
    expect(runs.runs.filter((r) => r.mode === 'apply').map((r) => r.status)).toEqual(['succeeded', 'interrupted']);
  });

  it('a change made in KICS between plan and apply ends drifted, with the KICS value kept', async () => {
    const changed = cmdb();
    const planned = await plan();
    await plant.sim.admin('PATCH', `/admin/devices/${changed[1]!.id}`, { description: 'set by an operator' });
    const applied = await cli(['apply', '--plan', String(planned.plan.id), '--yes']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/^ {2}drifted +1$/m);
    expect(applied.stdout).toContain(`drifted: item`);
    expect(applied.stdout).toContain('description is "set by an operator" in KICS');
    expect(device(changed[1]!.id).description).toBe('set by an operator');
    expect(device(changed[0]!.id).description).toBe('inventory description 0');
  });

  it('a KICS device holding a NUL is planned with the value cleaned, and the plan says so on the terminal and in its report', async () => {
    cmdb();
    const added = await plant.sim.admin('POST', '/admin/devices', { name: 'Pump\u0000 7', status: 'Unauthorized', category: 'Other', addressInformation: [{ macAddress: '02:00:00:ee:00:07', ipAddresses: [{ ip: '10.231.0.7' }] }] });
    expect(added.status, added.text).toBe(201);
    const id = (added.json as { id: number }).id;
    const text = await cli(['plan', '--full']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`1 KICS device(s) hold values PostgreSQL cannot store, staged with U+FFFD in their place (device ${id} name: NUL character`);
    const planId = /^plan (\d+) /m.exec(text.stdout)![1]!;
    const md = await cli(['report', '--plan', planId, '--format', 'md']);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toContain(`1 KICS device(s) hold values PostgreSQL cannot store`);
  });

  it('a write whose answer was lost after KICS applied it is recognised as applied: not drifted, not failed, not duplicated', async () => {
    cmdb();
    const planned = await plan();
    plant.sim.sim.faults.addRule({ kind: 'reset', times: 2 }, 'devicePatch');
    plant.sim.sim.faults.addRule({ kind: 'truncate', times: 1 }, 'deviceCreate');
    const applied = await cli(['apply', '--plan', String(planned.plan.id), '--yes', '--concurrency', '1', '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(json<ApplyOut>(applied).outcome).toEqual({ applied: 6, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 });
    expect(named('NEW-ASSET-001')).toHaveLength(1);
    expect(named('NEW-ASSET-002')).toHaveLength(1);
    expect(await auditRows(planned.plan.id)).toHaveLength(6);
  });

  it('sync holds a plan over the safety threshold (exit 4) and applies it with --force; plan expiry is refused with a clear message', async () => {
    plant.writeConfig({ sync: { maxChangeShare: 0.05 } });
    const changed = cmdb();
    const held = await cli(['sync', '--json']);
    expect(held.code, held.stderr).toBe(ExitCode.held);
    const out = json<{ status: string; plan: { id: number }; heldBecause: string[] }>(held);
    expect(out.status).toBe('held');
    expect(out.heldBecause[0]).toMatch(/more than sync.maxChangeShare 5%/);
    expect(device(changed[0]!.id).description).not.toBe('inventory description 0');

    // A newer read of the CMDB expires the held plan: it cannot be applied any more.
    plant.writeCmdb([plant.rowOf(changed[0]!, { description: 'newer' })]);
    expect((await cli(['sources', 'pull'])).code).toBe(0);
    const expired = await cli(['apply', '--plan', String(out.plan.id), '--yes']);
    expect(expired.code).toBe(ExitCode.usage);
    expect(expired.stderr).toMatch(new RegExp(`plan ${out.plan.id} has expired: source cmdb \\(generation \\d+ -> \\d+\\) moved on`));

    const forced = await cli(['sync', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/^sync run \d+: succeeded$/m);
    expect(device(changed[0]!.id).description).toBe('newer');
  });

  it('two schedulers on one database: never two runs at once, the other tick skipped (and events past their storage term purged)', async () => {
    cmdb();
    await emitEvent(t().db, 'KSYNC_RUN_STARTED', { old: true }, { at: new Date('2020-01-01T00:00:00Z') });
    // Every second, in both processes: once both are running their ticks meet, whenever each of
    // them started (a loaded machine may start one many seconds after the other).
    plant.writeConfig({ schedule: { cron: '* * * * * *', timezone: 'UTC' } });
    const children: ChildProcess[] = [];
    const logs = ['', ''];
    const h = t();
    if (h.engine === 'pglite') await h.close();
    const done = Promise.all(
      [0, 1].map((i) =>
        cliRaw(h, ['schedule'], {
          onSpawn: (c) => {
            children.push(c);
            c.stderr?.on('data', (d: Buffer) => (logs[i] += d.toString()));
          },
        }),
      ),
    );
    // Until one process finished a run while the other was turned away by the lock (a hang guard
    // only: nothing here depends on how fast the machine is).
    for (let waited = 0; waited < 170_000; waited += 250) {
      const finished = logs.findIndex((l) => l.includes('schedule: run finished'));
      if (finished >= 0 && logs[1 - finished]!.includes('another run holds the lock; this run is skipped')) break;
      await sleep(250);
    }
    for (const c of children) c.kill('SIGTERM');
    const results = await done;
    if (h.engine === 'pglite') await h.reopen();
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const all = logs.join('\n');
    expect(all).toMatch(/another run holds the lock; this run is skipped/);
    const runs = await t().db.query<{ status: string; started: Date; finished: Date | null }>(
      `SELECT status::text AS status, started_at AS started, finished_at AS finished FROM sync_run WHERE trigger = 'cron' ORDER BY started_at`,
    );
    expect(runs.length, all).toBeGreaterThan(0);
    for (const run of runs) expect(['succeeded', 'interrupted']).toContain(run.status);
    // Never two at once: each run ended before the next one started.
    for (let i = 1; i < runs.length; i++) expect(runs[i - 1]!.finished!.getTime()).toBeLessThanOrEqual(runs[i]!.started.getTime());
    expect(await countEvents(t().db, { until: new Date('2021-01-01T00:00:00Z') })).toBe(0);
    expect(await countEvents(t().db, { types: ['KSYNC_EVENTS_PURGED'] })).toBeGreaterThan(0);
    // A tick cut short by the SIGTERM that ends the test counts as cut short, never as failed; it may
    // or may not have recorded its run yet.
    const stopped = results.map((r) => /schedule stopped: (\d+) run\(s\), (\d+) skipped, (\d+) failed, (\d+) cut short by the stop/.exec(r.stdout));
    expect(stopped.every(Boolean), results.map((r) => r.stdout).join('')).toBe(true);
    const total = (group: number): number => stopped.reduce((sum, m) => sum + Number(m![group]), 0);
    expect(total(3), all).toBe(0);
    expect(runs.length).toBeGreaterThanOrEqual(total(1));
    expect(runs.length).toBeLessThanOrEqual(total(1) + total(4));
    expect(total(2)).toBeGreaterThan(0);
  });

  it('refuses bad arguments with the usage code and a message naming the option', async () => {
    const format = await cli(['audit', '--format', 'xml']);
    expect(format.code).toBe(ExitCode.usage);
    expect(format.stderr).toContain('--format must be one of json, csv, text; found "xml"');
    const status = await cli(['runs', '--status', 'done']);
    expect(status.code).toBe(ExitCode.usage);
    expect(status.stderr).toContain('--status must be one of running, succeeded, partial, failed, held, interrupted, skipped; found "done"');
    const missing = await cli(['apply', '--plan', '999999']);
    expect(missing.code).toBe(ExitCode.usage);
    expect(missing.stderr).toContain('plan 999999 does not exist');
    expect(existsSync(path.join(t().dataDir, 'audit.xml'))).toBe(false);
  });
});
