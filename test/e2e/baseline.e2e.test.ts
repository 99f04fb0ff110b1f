import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimDevice } from '../../src/simulator/kics/index.js';
import { parseJsonOutput, type CliResult } from '../support/cli.js';
import { createTestDatabase, engines, postgresAvailable, type TestDatabase } from '../support/db.js';
import { cliOn, startPlant, type Plant } from './plant.js';

/**
 * The authorized baseline with the engine's default settings, end to end (the built CLI against the
 * KICS simulator, on PGlite and on PostgreSQL): devices the CMDB confirms become Recognized, an
 * archived device whose asset returns is restored, owners reach KICS as user attributes, devices in no
 * source stay as they are; discrepancies are registered once as KICS events.
 */
for (const strict of [false, true]) {
  for (const engine of engines) {
    const run = engine === 'postgres' && !postgresAvailable() ? describe.skip : describe;
    run(`authorized baseline, end to end, simulator ${strict ? 'strict (only what the document defines)' : 'default'} [${engine}]`, () => {
  // Each test on a database and a simulator of its own: the snapshot, the assertions and the discrepancies of one test are not the next one's.
  let db: TestDatabase | undefined;
  let plant: Plant;
  const t = (): TestDatabase => db!;
  beforeEach(async () => {
    db = await createTestDatabase(engine);
    plant = await startPlant(db.dataDir, { engineDefaults: true, strict });
  });
  afterEach(async () => {
    await plant.close();
    await db?.drop();
  });

  const cli = (args: string[]): Promise<CliResult> => cliOn(t(), args);
  const device = (id: number): SimDevice => plant.sim.sim.store.get(id)!;
  const setStatus = async (id: number, status: string): Promise<void> => {
    const answer = await plant.sim.admin('PATCH', `/admin/devices/${id}`, { status });
    expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  };
  const attributes = (id: number): Record<string, string | null> => Object.fromEntries((device(id).userAttributes ?? []).map((a) => [a.name, a.value ?? null]));

  it('confirmed devices become Recognized, an archived one returns, owners reach KICS; a device in no source is left as it is', async () => {
    const [confirmed, archived, recognized, stranger] = plant.devices;
    await setStatus(confirmed!.id, 'Unauthorized');
    await setStatus(archived!.id, 'Archived');
    await setStatus(recognized!.id, 'Recognized');
    await setStatus(stranger!.id, 'Unauthorized');
    const listed = [confirmed!, archived!, recognized!, ...plant.devices.slice(4)];
    plant.writeCmdb(listed.map((d) => plant.rowOf(d, d.id === recognized!.id ? { owner: 'alice' } : {})));
    plant.writeConfig();
    // Every listed device KICS does not hold as Recognized (the generated plant has some Unauthorized ones too).
    const toRecognize = listed.filter((d) => device(d.id).status !== 'Recognized');
    expect(toRecognize.map((d) => d.id)).toEqual(expect.arrayContaining([confirmed!.id, archived!.id]));

    const planned = await cli(['plan', '--full', '--json']);
    expect(planned.code, planned.stderr).toBe(0);
    const out = parseJsonOutput(planned) as { plan: { id: number }; counts: Record<string, number> };
    expect(out.counts).toMatchObject({ recognize: toRecognize.length });
    const report = await cli(['report', '--plan', String(out.plan.id), '--format', 'md']);
    expect(report.stdout).toMatch(/Recognized \(the authorized baseline\)/);
    // The full list (the Markdown report shows the first few of each action) names every device that becomes authorized.
    const csv = await cli(['report', '--plan', String(out.plan.id), '--format', 'csv']);
    const recognizeLines = csv.stdout.split('\n').filter((l) => l.includes('recognize'));
    for (const d of toRecognize) expect(recognizeLines.some((l) => l.includes(d.name)), d.name).toBe(true);

    const applied = await cli(['apply', '--plan', String(out.plan.id), '--yes', '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(device(confirmed!.id).status).toBe('Recognized');
    expect(device(archived!.id).status).toBe('Recognized');
    expect(device(stranger!.id).status).toBe('Unauthorized');
    for (const d of listed) expect(device(d.id).status, d.name).toBe('Recognized');
    expect(attributes(recognized!.id)).toMatchObject({ Owner: 'alice' });
    expect(attributes(confirmed!.id)).toMatchObject({ Owner: 'bob' });

    // The run can be undone: a plan putting the statuses and attributes back, to review and apply.
    const runId = (parseJsonOutput(applied) as { run: number }).run;
    const revert = await cli(['revert', '--run', String(runId), '--json']);
    expect(revert.code, revert.stderr).toBe(0);
    const reverting = parseJsonOutput(revert) as { plan: { id: number; status: string; revertsRun: number }; counts: Record<string, number> };
    expect(reverting.plan).toMatchObject({ status: 'draft', revertsRun: runId });
    expect(reverting.counts.update).toBeGreaterThanOrEqual(toRecognize.length);
    const plans = parseJsonOutput(await cli(['plans', '--json'])) as { plans: { id: number; status: string }[] };
    expect(plans.plans.find((p) => p.id === reverting.plan.id)?.status).toBe('draft');

    // Converged: nothing left to do, the stranger still reported as unknown.
    const again = parseJsonOutput(await cli(['plan', '--full', '--json'])) as { counts: Record<string, number>; changes: number };
    expect(again.changes).toBe(0);
    expect(again.counts.unknown).toBeGreaterThanOrEqual(1);
  });

  it('a corrected IP replaces the old one while an address KICS discovered stays; the run is reverted with revert, approve and apply', async () => {
    const [target, ...rest] = plant.devices;
    const others = rest.slice(0, 6).map((d) => plant.rowOf(d));
    const oldIp = target!.addressInformation[0]!.ipAddresses[0]!.ip;
    plant.writeCmdb([plant.rowOf(target!), ...others]);
    plant.writeConfig();
    expect((await cli(['sync', '--force', '--json'])).code).toBe(0);
    const discovered = '10.1.250.250';
    const withDiscovered = device(target!.id).addressInformation.map((i, n) => ({ ...i, ipAddresses: n === 0 ? [...i.ipAddresses, { ip: discovered, addressSpaceId: 1 }] : i.ipAddresses }));
    expect((await plant.sim.admin('PATCH', `/admin/devices/${target!.id}`, { addressInformation: withDiscovered })).status).toBe(200);
    const newIp = '10.1.251.1';
    plant.writeCmdb([plant.rowOf(target!, { ip: newIp }), ...others]);
    const night = await cli(['sync', '--force', '--json']);
    expect(night.code, night.stderr).toBe(0);
    const ips = () => device(target!.id).addressInformation.flatMap((i) => i.ipAddresses.map((a) => a.ip));
    expect(ips()).toEqual(expect.arrayContaining([newIp, discovered]));
    expect(ips()).not.toContain(oldIp);

    const runId = (parseJsonOutput(night) as { run: number }).run;
    const revert = parseJsonOutput(await cli(['revert', '--run', String(runId), '--device', String(target!.id), '--json'])) as { plan: { id: number } };
    expect((await cli(['approve', '--plan', String(revert.plan.id)])).code).toBe(0);
    const undone = await cli(['apply', '--plan', String(revert.plan.id), '--json']);
    expect(undone.code, undone.stderr).toBe(0);
    expect(ips()).toEqual(expect.arrayContaining([oldIp, discovered]));
    expect(ips()).not.toContain(newIp);
  });

  it('an industrial configuration KICS applies with tag errors is not a plain success; a revert does not overwrite a device changed since', async () => {
    const [target, other, ...rest] = plant.devices;
    const root = path.join(plant.dir, 'configs');
    mkdirSync(root, { recursive: true });
    const ip = target!.addressInformation[0]!.ipAddresses[0]!.ip;
    const tags = [{ name: 'TT101', address: 'DB1.DBD0', dataType: 'Float' }, { name: 'Bad type', address: 'DB1.DBD4', dataType: 'Quaternion' }];
    writeFileSync(path.join(root, 'plc.json'), JSON.stringify({ deviceType: 'S7-1500', protocols: [{ name: 'S7CommPlus', address: { ip, port: 102 }, tags }] }));
    const others = rest.slice(0, 4).map((d) => plant.rowOf(d));
    plant.writeCmdb([plant.rowOf(target!, { config: 'plc.json' }), plant.rowOf(other!, { description: 'described by the CMDB' }), ...others]);
    plant.writeConfig({ reconcile: { industrialConfig: { root, mode: 'Merge' } } });
    const night = await cli(['sync', '--force', '--json']);
    // Exit 1: not everything was a plain success.
    expect(night.code, night.stderr).toBe(1);
    const out = parseJsonOutput(night) as { run: number; status: string; apply: { outcome: Record<string, number>; problems: { status: string; message: string }[] } };
    expect(out.status).toBe('partial');
    expect(out.apply.outcome).toMatchObject({ applied_with_errors: 1, failed: 0 });
    expect(out.apply.problems.map((p) => p.status)).toContain('applied_with_errors');
    expect(device(other!.id).description).toBe('described by the CMDB');

    // An operator changes the device after the run; its revert is drift, not an overwrite.
    expect((await plant.sim.admin('PATCH', `/admin/devices/${other!.id}`, { description: 'set by an operator' })).status).toBe(200);
    const revert = parseJsonOutput(await cli(['revert', '--run', String(out.run), '--device', String(other!.id), '--json'])) as { plan: { id: number } };
    expect((await cli(['approve', '--plan', String(revert.plan.id)])).code).toBe(0);
    const undone = parseJsonOutput(await cli(['apply', '--plan', String(revert.plan.id), '--json'])) as { outcome: Record<string, number> };
    expect(undone.outcome).toMatchObject({ drifted: 1, applied: 0 });
    expect(device(other!.id).description).toBe('set by an operator');
  });

  it('registers each open discrepancy as one KICS event naming the device\'s addresses, once across two nights, and again only after it was resolved', async () => {
    const [stranger, ...rest] = plant.devices;
    plant.writeCmdb(rest.map((d) => plant.rowOf(d)));
    plant.writeConfig({ sync: { discrepancyEvents: { enabled: true, kinds: ['unknown'] } } });
    const registered = () => plant.sim.sim.events.list().filter((e) => e.title.startsWith('kics-sync: device in no asset register'));

    const night1 = await cli(['sync', '--force', '--json']);
    expect(night1.code, night1.stderr).toBe(0);
    const first = registered();
    expect(first.length).toBeGreaterThan(0);
    const mine = first.filter((e) => e.title.includes(` ${stranger!.id} (`));
    expect(mine).toHaveLength(1);
    const nic = stranger!.addressInformation[0]!;
    expect(mine[0]!.communications).toContainEqual(expect.objectContaining({ sourceMac: nic.macAddress, sourceIp: nic.ipAddresses[0]!.ip, sourceIpAddressSpaceId: nic.ipAddresses[0]!.addressSpaceId }));

    const night2 = await cli(['sync', '--force', '--json']);
    expect(night2.code, night2.stderr).toBe(0);
    expect(registered()).toHaveLength(first.length);
    expect((parseJsonOutput(night2) as { apply: { discrepancyEvents?: { registered: number; alreadyRegistered: number } } }).apply.discrepancyEvents).toMatchObject({ registered: 0, alreadyRegistered: first.length });

    // The CMDB lists it: resolved. It leaves the CMDB again: a new event.
    plant.writeCmdb(plant.devices.map((d) => plant.rowOf(d)));
    expect((await cli(['sync', '--force', '--json'])).code).toBe(0);
    plant.writeCmdb(rest.map((d) => plant.rowOf(d)));
    expect((await cli(['sync', '--force', '--json'])).code).toBe(0);
    expect(registered().filter((e) => e.title.includes(` ${stranger!.id} (`))).toHaveLength(2);
    // Each registration is a write to KICS like any other: audited.
    const rows = await t().db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_record WHERE operation = 'register_event' AND device_id = $1`, [stranger!.id]);
    expect(rows[0]!.n).toBe(2);
  });
    });
  }
}
