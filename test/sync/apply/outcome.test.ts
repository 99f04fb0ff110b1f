import { beforeAll, expect, it } from 'vitest';
import { claimItems } from '../../../src/sync/apply/claim.js';
import { ClaimLostError, recordOutcome, recordOutcomes, type ItemOutcome } from '../../../src/sync/apply/outcome.js';
import { readAudit } from '../../../src/sync/audit/store.js';
import { countEvents } from '../../../src/sync/events/index.js';
import { startRun } from '../../../src/sync/runs/store.js';
import { describeEachEngine } from '../../support/db.js';

/** An item's outcome and its audit row: one transaction, both or neither. */
describeEachEngine('item outcomes and the audit', (t) => {
  let planId: number;
  let runId: number;
  const claimant = (): string => `run ${runId} test-host:1`;
  const outcome = (patch: Partial<ItemOutcome> = {}): ItemOutcome => ({
    status: 'applied',
    message: null,
    result: { results: [] },
    audit: { operation: 'update', deviceId: 42, request: { method: 'PATCH', deviceId: 42, ops: [] }, httpStatus: 200, kicsResult: [], before: { name: 'a' }, after: { name: 'b' } },
    ...patch,
  });
  const status = async (seq: number): Promise<string> =>
    (await t().db.query<{ status: string }>(`SELECT status::text AS status FROM plan_item WHERE plan_id = $1 AND seq = $2`, [planId, seq]))[0]!.status;
  const audit = async () => {
    const rows = [];
    for await (const r of readAudit(t().db, { planId })) rows.push(r);
    return rows;
  };

  beforeAll(async () => {
    const { db } = t();
    runId = await startRun(db, { trigger: 'cli', actor: 'tester', mode: 'apply' });
    const [plan] = await db.query<{ id: number }>(`INSERT INTO plan (status) VALUES ('applying') RETURNING id`);
    planId = plan!.id;
    for (const seq of [1, 2, 3]) {
      await db.execute(`INSERT INTO plan_item (plan_id, seq, action, status, kics_device_id) VALUES ($1, $2, 'update', 'pending', 42)`, [planId, seq]);
    }
  });

  it('records the outcome, its audit row and its events together', async () => {
    const [item] = await claimItems(t().db, { planId, actions: ['update'], claimant: claimant(), limit: 1 });
    await recordOutcome(t().db, { planId, runId, actor: 'alice', claimant: claimant() }, item!, outcome({ events: [{ type: 'KSYNC_DRIFT_FOUND', payload: { seq: 1 }, message: 'drift' }], status: 'drifted' }));
    expect(await status(1)).toBe('drifted');
    const rows = await audit();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: 'alice', runId, planId, planItemId: item!.id, deviceId: 42, operation: 'update', outcome: 'drifted', httpStatus: 200, before: { name: 'a' }, after: { name: 'b' } });
    expect(await countEvents(t().db, { runId, types: ['KSYNC_DRIFT_FOUND'] })).toBe(1);
  });

  it('no outcome without its audit row: when the audit row cannot be written, the item stays claimed', async () => {
    const [item] = await claimItems(t().db, { planId, actions: ['update'], claimant: claimant(), limit: 1 });
    const broken = outcome({ audit: { ...outcome().audit, operation: null as never } });
    await expect(recordOutcome(t().db, { planId, runId, actor: 'alice', claimant: claimant() }, item!, broken)).rejects.toThrow();
    expect(await status(item!.seq)).toBe('in_progress');
    expect(await audit()).toHaveLength(1);
  });

  it('no audit row without its outcome: an item no longer claimed by this run records nothing', async () => {
    const [item] = await claimItems(t().db, { planId, actions: ['update'], claimant: claimant(), limit: 1 });
    await t().db.execute(`UPDATE plan_item SET claimed_by = 'run 0 other:1' WHERE id = $1`, [item!.id]);
    await expect(recordOutcome(t().db, { planId, runId, actor: 'alice', claimant: claimant() }, item!, outcome())).rejects.toBeInstanceOf(ClaimLostError);
    expect(await audit()).toHaveLength(1);
  });

  it('outcomes committed together: all with their audit rows, or none when one of them cannot be recorded', async () => {
    const { db } = t();
    const [extra] = await db.query<{ id: number }>(`INSERT INTO plan (status) VALUES ('applying') RETURNING id`);
    for (const seq of [1, 2, 3]) await db.execute(`INSERT INTO plan_item (plan_id, seq, action, status) VALUES ($1, $2, 'update', 'pending')`, [extra!.id, seq]);
    const ctx = { planId: extra!.id, runId, actor: 'bob', claimant: claimant() };
    const claimed = await claimItems(db, { planId: extra!.id, actions: ['update'], claimant: claimant(), limit: 3 });
    await db.execute(`UPDATE plan_item SET claimed_by = 'run 0 other:1' WHERE id = $1`, [claimed[2]!.id]);
    await expect(recordOutcomes(db, ctx, claimed.map((item) => ({ item, outcome: outcome() })))).rejects.toThrow(/plan item\(s\) 3 no longer claimed/);
    const counts = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_record WHERE plan_id = $1`, [extra!.id]))[0]!.n;
    expect(await counts()).toBe(0);
    await recordOutcomes(db, ctx, claimed.slice(0, 2).map((item, i) => ({ item, outcome: outcome({ status: i === 0 ? 'applied' : 'failed' }) })));
    expect(await counts()).toBe(2);
    const statuses = await db.query<{ seq: number; status: string }>(`SELECT seq, status::text AS status FROM plan_item WHERE plan_id = $1 ORDER BY seq`, [extra!.id]);
    expect(statuses.map((r) => r.status)).toEqual(['applied', 'failed', 'in_progress']);
  });

  it('the audit is append-only: the database refuses UPDATE and DELETE', async () => {
    await expect(t().db.execute(`UPDATE audit_record SET actor = 'mallory'`)).rejects.toThrow(/append-only/);
    await expect(t().db.execute(`DELETE FROM audit_record`)).rejects.toThrow(/append-only/);
    expect((await audit())[0]!.actor).toBe('alice');
  });
});
