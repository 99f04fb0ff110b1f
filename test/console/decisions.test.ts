import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { buildConsole } from '../../src/console/server.js';
import type { Conflict } from '../../src/reconcile/plan-schema.js';
import { addUser, createToken } from '../../src/console/users.js';
import { describeEachEngine } from '../support/db.js';
import { captureLog, startPlant, type Plant } from '../e2e/plant.js';

/**
 * Owners' decisions through the console's API, on real plans (a CSV source and the KICS simulator),
 * on both databases: a rejected change is held now and in the next plan until its record changes or
 * the decision is revoked; a pinned match and an ignored device are followed by the next plan; items
 * approved one by one approve the plan; the console applies it as the user; every decision is
 * audited with the user as actor; another owner gets 403; a session without the CSRF token cannot write.
 */
type Body = Record<string, unknown>;
interface ApiItem {
  seq: number;
  action: string;
  status: string;
  kics_device_id: number | null;
  device_name: string | null;
  decision: { id: number; kind: string; by: string } | null;
}

describeEachEngine('review console decisions', (t) => {
  const log = captureLog();
  let plant: Plant;
  let app: FastifyInstance;
  let base: string;
  let tokens: Record<'bob' | 'carol' | 'ada' | 'vic', string>;
  /** The audit is append-only: each test reads only what it wrote. */
  let auditFrom = 0;

  beforeEach(async () => {
    auditFrom = Number((await t().db.query<{ n: string | null }>(`SELECT max(id) AS n FROM audit_record`))[0]!.n ?? 0);
    plant = await startPlant(t().dataDir);
    app = await buildConsole({ db: t().db, logger: log.logger, holdDays: 30, runs: { config: plant.config(), dataDir: plant.dir } });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    await addUser(t().db, { name: 'bob', role: 'owner', owners: ['bob'], password: 'bob-password-123' });
    await addUser(t().db, { name: 'carol', role: 'owner', owners: ['carol'], password: null });
    await addUser(t().db, { name: 'ada', role: 'admin', owners: [], password: null });
    await addUser(t().db, { name: 'vic', role: 'viewer', owners: [], password: null });
    tokens = {
      bob: (await createToken(t().db, 'bob', 't')).token,
      carol: (await createToken(t().db, 'carol', 't')).token,
      ada: (await createToken(t().db, 'ada', 't')).token,
      vic: (await createToken(t().db, 'vic', 't')).token,
    };
  });
  afterEach(async () => {
    await app.close();
    await plant.close();
    await t().db.execute(`TRUNCATE console_user, api_token, plan, decision, sync_run CASCADE`);
    const errors = log.lines.filter((l) => (l.level as number) >= 50);
    log.lines.length = 0;
    expect(errors).toEqual([]);
  });

  const call = async <T = Body>(who: keyof typeof tokens, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const answer = await request(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens[who]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: answer.statusCode, body: (await answer.body.json()) as T };
  };
  /** Starts a plan from the console and waits for it; returns the plan id. */
  const planAs = async (who: keyof typeof tokens, owner?: string): Promise<number> => {
    const started = await call(who, 'POST', '/api/v1/runs', owner === undefined ? {} : { owner });
    expect(started.status).toBe(202);
    await app.consoleRuns!.idle();
    const run = await call(who, 'GET', `/api/v1/runs/${String(started.body.run)}`);
    expect(run.body).toMatchObject({ status: 'succeeded', trigger: 'console', actor: `console:${who}` });
    return run.body.planId as number;
  };
  const items = async (who: keyof typeof tokens, planId: number, query = ''): Promise<ApiItem[]> => (await call<{ items: ApiItem[] }>(who, 'GET', `/api/v1/plans/${planId}/items?${query}`)).body.items;
  const audit = async (operation: string) =>
    t().db.query<{ actor: string; plan_id: number | null; device_id: string | null; request: Record<string, unknown> }>(`SELECT actor, plan_id, device_id, request FROM audit_record WHERE operation = $1 AND id > $2 ORDER BY id`, [operation, auditFrom]);

  it('a rejected change is held in this plan and the next, with who, when and why; it comes back when its record changes or the decision is revoked', async () => {
    const [d0, d1] = plant.devices;
    plant.writeCmdb([plant.rowOf(d0!, { description: 'rejected change' }), plant.rowOf(d1!, { description: 'kept change' })]);
    const first = await planAs('bob', 'bob');
    const update = (await items('bob', first, 'action=update')).find((i) => i.kics_device_id === d0!.id)!;

    expect(await call('bob', 'POST', `/api/v1/plans/${first}/items/${update.seq}/reject`, { reason: '   ' })).toMatchObject({ status: 400 });
    expect(await call('carol', 'POST', `/api/v1/plans/${first}/items/${update.seq}/reject`, { reason: 'not mine' })).toMatchObject({ status: 403, body: { error: 'this belongs to another owner' } });
    expect(await call('vic', 'POST', `/api/v1/plans/${first}/items/${update.seq}/reject`, { reason: 'viewer' })).toMatchObject({ status: 403 });
    const rejected = await call('bob', 'POST', `/api/v1/plans/${first}/items/${update.seq}/reject`, { reason: 'the PLC is being commissioned' });
    expect(rejected).toMatchObject({ status: 200, body: { held: 1 } });
    expect(new Date(rejected.body.expiresAt as string).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const shown = await call('bob', 'GET', `/api/v1/plans/${first}/items/${update.seq}`);
    expect(shown.body).toMatchObject({ status: 'held', decision: { kind: 'hold', by: 'console:bob', reason: 'the PLC is being commissioned' } });
    const [decided] = await audit('decide_hold');
    expect(decided).toMatchObject({ actor: 'console:bob', plan_id: first, request: { reason: 'the PLC is being commissioned', action: 'update' } });

    // The next plan holds it (and proposes the other change), whoever plans.
    const second = await planAs('ada');
    const next = (await items('ada', second, 'action=update')).filter((i) => i.kics_device_id === d0!.id || i.kics_device_id === d1!.id);
    expect(next.map((i) => [i.kics_device_id, i.status])).toEqual(expect.arrayContaining([[d0!.id, 'held'], [d1!.id, 'pending']]));
    expect(next.find((i) => i.kics_device_id === d0!.id)!.decision).toMatchObject({ id: rejected.body.decision, by: 'console:bob' });
    expect((await call<{ counts: { byStatus: Record<string, number> } }>('ada', 'GET', `/api/v1/plans/${second}`)).body.counts.byStatus).toMatchObject({ held: 1 });

    // The record changes: the hold lapses and the new change is proposed.
    plant.writeCmdb([plant.rowOf(d0!, { description: 'changed again' }), plant.rowOf(d1!, { description: 'kept change' })]);
    const third = await planAs('bob', 'bob');
    expect((await items('bob', third, 'action=update')).find((i) => i.kics_device_id === d0!.id)).toMatchObject({ status: 'pending' });
    const decisions = (await call<{ decisions: Body[] }>('bob', 'GET', '/api/v1/decisions')).body.decisions;
    expect(decisions[0]).toMatchObject({ id: rejected.body.decision, inForce: false, lapsed: 'its source records changed since' });

    // Rejected again: expired (console.holdDays ran out), it no longer holds.
    const lapsing = (await items('bob', third, 'action=update')).find((i) => i.kics_device_id === d0!.id)!;
    const expiring = await call('bob', 'POST', `/api/v1/plans/${third}/items/${lapsing.seq}/reject`, { reason: 'for a day' });
    await t().db.execute(`UPDATE decision SET expires_at = now() - interval '1 minute' WHERE id = $1`, [expiring.body.decision]);
    const afterExpiry = await planAs('bob', 'bob');
    expect((await items('bob', afterExpiry, 'action=update')).find((i) => i.kics_device_id === d0!.id)).toMatchObject({ status: 'pending' });
    const expired = (await call<{ decisions: Body[] }>('bob', 'GET', '/api/v1/decisions')).body.decisions.find((d) => d.id === expiring.body.decision);
    expect(expired).toMatchObject({ inForce: false, lapsed: expect.stringMatching(/^expired at /) as unknown });

    // Rejected again, then revoked: proposed again. Carol cannot revoke Bob's decision.
    const again = (await items('bob', afterExpiry, 'action=update')).find((i) => i.kics_device_id === d0!.id)!;
    const hold = await call('bob', 'POST', `/api/v1/plans/${afterExpiry}/items/${again.seq}/reject`, { reason: 'still commissioning' });
    expect(await call('carol', 'POST', `/api/v1/decisions/${String(hold.body.decision)}/revoke`)).toMatchObject({ status: 403 });
    expect(await call('bob', 'POST', `/api/v1/decisions/${String(hold.body.decision)}/revoke`)).toMatchObject({ status: 200, body: { revoked: true, changed: true } });
    expect(await audit('revoke_decision')).toEqual([expect.objectContaining({ actor: 'console:bob' })]);
    const fourth = await planAs('bob', 'bob');
    expect((await items('bob', fourth, 'action=update')).find((i) => i.kics_device_id === d0!.id)).toMatchObject({ status: 'pending' });
  });

  it('items approved one by one approve the plan; the console applies it as the user; the held change is not applied; the audit names them', async () => {
    const [d0, d1, d2] = plant.devices;
    plant.writeCmdb([plant.rowOf(d0!, { description: 'no' }), plant.rowOf(d1!, { description: 'yes 1' }), plant.rowOf(d2!, { description: 'yes 2' })]);
    const planId = await planAs('bob', 'bob');
    const list = await items('bob', planId, 'action=update');
    const seqOf = (id: number): number => list.find((i) => i.kics_device_id === id)!.seq;
    await call('bob', 'POST', `/api/v1/plans/${planId}/items/${seqOf(d0!.id)}/reject`, { reason: 'wrong description' });
    const early = await call<{ error: string }>('bob', 'POST', `/api/v1/plans/${planId}/apply`);
    expect(early.status).toBe(409);
    expect(early.body.error).toContain('approve it before applying');
    expect((await call('bob', 'POST', `/api/v1/plans/${planId}/items/${seqOf(d1!.id)}/approve`)).body).toMatchObject({ changed: true, planApproved: false });
    expect((await call('bob', 'POST', `/api/v1/plans/${planId}/items/${seqOf(d2!.id)}/approve`)).body).toMatchObject({ changed: true, planApproved: true });
    const applied = await call('bob', 'POST', `/api/v1/plans/${planId}/apply`);
    expect(applied.status).toBe(202);
    await app.consoleRuns!.idle();
    expect((await call('bob', 'GET', `/api/v1/runs/${String(applied.body.run)}`)).body).toMatchObject({ mode: 'apply', status: 'succeeded', actor: 'console:bob' });
    expect(plant.sim.sim.store.get(d0!.id)!.description).not.toBe('no');
    expect(plant.sim.sim.store.get(d1!.id)!.description).toBe('yes 1');
    expect(plant.sim.sim.store.get(d2!.id)!.description).toBe('yes 2');
    expect((await audit('approve_item')).map((a) => a.actor)).toEqual(['console:bob', 'console:bob']);
    const approvals = await audit('approve_plan');
    expect(approvals).toHaveLength(1);
    expect(approvals[0]).toMatchObject({ actor: 'console:bob', request: { via: 'items', approvers: 'console:bob' } });
    const updates = await t().db.query<{ actor: string; device_id: string }>(`SELECT actor, device_id FROM audit_record WHERE operation = 'update' AND plan_id = $1 ORDER BY device_id`, [planId]);
    expect(updates.map((u) => [u.actor, Number(u.device_id)])).toEqual([[ 'console:bob', d1!.id ], [ 'console:bob', d2!.id ]].sort((a, b) => (a[1] as number) - (b[1] as number)));
    const history = await call<{ audit: Body[] }>('bob', 'GET', `/api/v1/devices/${d1!.id}/audit`);
    expect(history.body.audit[0]).toMatchObject({ actor: 'console:bob', operation: 'update', after: { description: 'yes 1' } });
    expect(await call('carol', 'GET', `/api/v1/devices/${d1!.id}/audit`)).toMatchObject({ status: 403 });
  });

  it('a conflict pinned once is matched that way by the next plan; an ignored device is no longer unknown; decisions are per owner', async () => {
    const [a, b] = plant.devices;
    // The record's MAC is device a's, its IP device b's: a MAC / IP split, a conflict.
    const split = { id: 'C-split', name: 'PLC-SPLIT', mac: a!.addressInformation[0]!.macAddress!, ip: b!.addressInformation[0]!.ipAddresses[0]!.ip, owner: 'bob' };
    plant.writeCmdb([split]);
    const first = await planAs('ada');
    const conflict = (await items('ada', first, 'action=conflict')).find((i) => i.device_name === 'PLC-SPLIT')!;
    const detail = (await call<{ conflict: Conflict }>('bob', 'GET', `/api/v1/plans/${first}/items/${conflict.seq}`)).body;
    expect(detail.conflict.kind).toBe('mac_ip_split');
    const pin = { kind: 'pin', plan: first, seq: conflict.seq, source: 'cmdb', key: detail.conflict.assets[0]!.key, deviceId: a!.id, reason: 'tag on the cabinet says so' };
    expect(await call('bob', 'POST', '/api/v1/decisions', { ...pin, deviceId: 999_999 })).toMatchObject({ status: 400 });
    expect(await call('carol', 'POST', '/api/v1/decisions', pin)).toMatchObject({ status: 403 });
    expect(await call('bob', 'POST', '/api/v1/decisions', pin)).toMatchObject({ status: 201, body: { kind: 'pin' } });
    expect((await audit('decide_pin')).map((r) => [r.actor, Number(r.device_id)])).toEqual([['console:bob', a!.id]]);

    // An unknown device (no owner): only an admin may ignore it.
    const unknown = (await items('ada', first, 'action=unknown'))[0]!;
    const ignore = { kind: 'ignore_device', plan: first, seq: unknown.seq, reason: 'the engineering laptop' };
    expect(await call('bob', 'POST', '/api/v1/decisions', ignore)).toMatchObject({ status: 403, body: { error: 'this has no owner: an admin decides it' } });
    expect(await call('ada', 'POST', '/api/v1/decisions', ignore)).toMatchObject({ status: 201 });

    const second = await planAs('ada');
    const all = await items('ada', second, 'action=conflict');
    expect(all.find((i) => i.device_name === 'PLC-SPLIT')).toBeUndefined();
    const matched = (await items('ada', second, 'action=update')).find((i) => i.kics_device_id === a!.id)!;
    expect(matched).toMatchObject({ device_name: a!.name, decision: { kind: 'pin', by: 'console:bob' } });
    expect((await items('ada', second, `action=unknown&q=${encodeURIComponent(unknown.device_name ?? '')}`)).map((i) => i.kics_device_id)).not.toContain(unknown.kics_device_id);
    // Carol sees neither Bob's decision nor his item.
    expect((await call('carol', 'GET', '/api/v1/decisions')).body.decisions).toEqual([]);
    expect(await call('carol', 'GET', `/api/v1/plans/${second}/items/${matched.seq}`)).toMatchObject({ status: 403 });
  });

  it('records declared one asset in the console are one asset in the next plan: the conflict between them is gone', async () => {
    const [d] = plant.devices;
    const nic = d!.addressInformation[0]!;
    // Two records, no key in common, each matching the same device (one by MAC, one by IP): several assets claim it.
    plant.writeCmdb([
      { id: 'C-mac', name: d!.name, mac: nic.macAddress!, description: 'one PLC', owner: 'bob' },
      { id: 'C-ip', name: d!.name, ip: nic.ipAddresses[0]!.ip, description: 'one PLC', owner: 'bob' },
    ]);
    const first = await planAs('bob', 'bob');
    const conflict = (await items('bob', first, 'action=conflict'))[0]!;
    expect((await call<{ conflict: Conflict }>('bob', 'GET', `/api/v1/plans/${first}/items/${conflict.seq}`)).body.conflict.kind).toBe('several_assets');
    expect(await call('bob', 'POST', '/api/v1/decisions', { kind: 'same_asset', plan: first, seq: conflict.seq, reason: 'one PLC, two CMDB rows' })).toMatchObject({ status: 201 });
    const [decided] = await audit('decide_same_asset');
    expect(decided).toMatchObject({ actor: 'console:bob', request: { sourceKeys: [{ source: 'cmdb' }, { source: 'cmdb' }] } });
    const second = await planAs('bob', 'bob');
    expect(await items('bob', second, 'action=conflict')).toEqual([]);
    expect((await items('bob', second, 'action=update')).find((i) => i.kics_device_id === d!.id)).toMatchObject({ status: 'pending' });
    expect((await call<{ after: Record<string, unknown> }>('bob', 'GET', `/api/v1/plans/${second}/items/1`)).body.after).toMatchObject({ description: 'one PLC' });
  });

  it('/metrics counts the KICS calls of the runs the console started, by route and status, with their latency', async () => {
    plant.writeCmdb([plant.rowOf(plant.devices[0]!, { description: 'metrics' })]);
    const metricsText = async (): Promise<string> => (await request(`${base}/metrics`)).body.text();
    const count = (text: string, route: string): number => Number(new RegExp(`^kics_sync_kics_request_duration_seconds_count\\{route="${route}",status="200"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const before = await metricsText();
    await planAs('bob', 'bob');
    const after = await metricsText();
    expect(count(after, 'devicesQuery') - count(before, 'devicesQuery')).toBeGreaterThan(0);
    expect(after).toMatch(/^kics_sync_kics_request_duration_seconds_bucket\{le="0\.005",route="devicesQuery",status="200"\} \d+$/m);
    expect(after).toMatch(/^kics_sync_runs\{mode="plan",status="succeeded"\} 1$/m);
  });

  it('a write with a session but without the CSRF token is refused (403); with it, done', async () => {
    const [d0] = plant.devices;
    plant.writeCmdb([plant.rowOf(d0!, { description: 'csrf' })]);
    const planId = await planAs('bob', 'bob');
    let cookie = '';
    const login = await request(`${base}/login`);
    cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await login.body.text())![1]!;
    const signed = await request(`${base}/login`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, name: 'bob', password: 'bob-password-123' }).toString() });
    cookie = String(signed.headers['set-cookie']).split(';')[0]!;
    await signed.body.dump();
    const seq = (await items('bob', planId, 'action=update'))[0]!.seq;
    const without = await request(`${base}/api/v1/plans/${planId}/items/${seq}/approve`, { method: 'POST', headers: { cookie } });
    expect(without.statusCode).toBe(403);
    await without.body.dump();
    const page = await request(`${base}/plans/${planId}`, { headers: { cookie } });
    if (page.headers['set-cookie']) cookie = String(page.headers['set-cookie']).split(';')[0]!;
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.body.text())![1]!;
    const withToken = await request(`${base}/api/v1/plans/${planId}/items/${seq}/approve`, { method: 'POST', headers: { cookie, 'csrf-token': token } });
    expect(withToken.statusCode).toBe(200);
    await withToken.body.dump();
  });
});
