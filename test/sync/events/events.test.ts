import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { packageRoot } from '../../../src/paths.js';
import { countEvents, emitEvent, engineEventTypes, exportEvents, listEvents, purgeEvents, resolveRetention, severityNames } from '../../../src/sync/events/index.js';
import { describeEachEngine } from '../../support/db.js';

const day = 86_400_000;
const now = new Date('2026-06-01T12:00:00Z');
const ago = (days: number): Date => new Date(now.getTime() - days * day);

describeEachEngine('engine events', (t) => {
  beforeEach(async () => {
    await t().db.execute('DELETE FROM engine_event');
  });

  it('stores an event with the catalogue\'s id, code and severity, and never a secret', async () => {
    const event = await emitEvent(t().db, 'KSYNC_WRITE_FAILED', { device: 17, status: 500, request: { headers: { authorization: 'Bearer abc' } }, password: 'p' }, { runId: 3 });
    expect(event).toMatchObject({ typeId: 9101, code: 'KSYNC_WRITE_FAILED', severity: 'functional_failure', runId: 3, message: 'Write to KICS failed' });
    const [stored] = await listEvents(t().db);
    expect(stored!.payload).toEqual({ device: 17, status: 500, request: { headers: { authorization: '[redacted]' } }, password: '[redacted]' });
  });

  it('stores the event in the caller\'s transaction: rolled back with it', async () => {
    await expect(
      t().db.transaction(async (tx) => {
        await emitEvent(tx, 'KSYNC_PLAN_CREATED', { planId: 1 });
        throw new Error('the state change failed');
      }),
    ).rejects.toThrow('the state change failed');
    expect(await countEvents(t().db)).toBe(0);
  });

  it('lists the newest first, filtered by time, severity (and more severe) and type', async () => {
    await emitEvent(t().db, 'KSYNC_RUN_STARTED', {}, { at: ago(3) });
    await emitEvent(t().db, 'KSYNC_CONFLICT_FOUND', { kind: 'mac' }, { at: ago(2) });
    await emitEvent(t().db, 'KSYNC_SOURCE_UNREACHABLE', { source: 'netbox' }, { at: ago(1) });
    await emitEvent(t().db, 'KSYNC_RUN_FAILED', {}, { at: ago(0.5) });
    expect((await listEvents(t().db)).map((e) => e.code)).toEqual(['KSYNC_RUN_FAILED', 'KSYNC_SOURCE_UNREACHABLE', 'KSYNC_CONFLICT_FOUND', 'KSYNC_RUN_STARTED']);
    expect((await listEvents(t().db, { severity: 'warning' })).map((e) => e.code)).toEqual(['KSYNC_RUN_FAILED', 'KSYNC_SOURCE_UNREACHABLE', 'KSYNC_CONFLICT_FOUND']);
    expect((await listEvents(t().db, { severity: 'functional_failure', since: ago(0.75) })).map((e) => e.code)).toEqual(['KSYNC_RUN_FAILED']);
    expect((await listEvents(t().db, { types: [9202, 'ksync_run_started'] })).map((e) => e.code)).toEqual(['KSYNC_CONFLICT_FOUND', 'KSYNC_RUN_STARTED']);
    expect((await listEvents(t().db, {}, 2)).map((e) => e.code)).toEqual(['KSYNC_RUN_FAILED', 'KSYNC_SOURCE_UNREACHABLE']);
    expect(await countEvents(t().db, { until: ago(1.5) })).toBe(2);
  });

  it('exports JSON lines, oldest first, in pages', async () => {
    for (let i = 0; i < 7; i += 1) await emitEvent(t().db, 'KSYNC_DRIFT_FOUND', { item: i }, { at: ago(7 - i) });
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const written = await exportEvents(t().db, out, { severity: 'warning' }, { pageSize: 3 });
    expect(written).toBe(7);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => (l.payload as { item: number }).item)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(lines[0]).toMatchObject({ product: 'kics-sync', typeId: 9203, code: 'KSYNC_DRIFT_FOUND', severity: 'warning', name: 'Drift found', at: ago(7).toISOString() });
  });

  it('purges by each type\'s storage term, with overrides by id or code, and leaves audit records alone', async () => {
    // Defaults: info 30 days, warning 90, critical 180.
    await emitEvent(t().db, 'KSYNC_RUN_STARTED', { keep: false }, { at: ago(31) });
    await emitEvent(t().db, 'KSYNC_RUN_STARTED', { keep: true }, { at: ago(29) });
    await emitEvent(t().db, 'KSYNC_CONFLICT_FOUND', { keep: true }, { at: ago(89) });
    await emitEvent(t().db, 'KSYNC_CONFLICT_FOUND', { keep: false }, { at: ago(91) });
    await emitEvent(t().db, 'KSYNC_RUN_FAILED', { keep: true }, { at: ago(179) });
    await emitEvent(t().db, 'KSYNC_DRIFT_FOUND', { keep: false }, { at: ago(8) });
    await emitEvent(t().db, 'KSYNC_PLAN_CREATED', { keep: false }, { at: ago(0.1) });
    await t().db.execute(`INSERT INTO engine_event (type_id, code, severity, at, payload) VALUES (9999, 'FROM_A_NEWER_VERSION', 'info', $1, '{"keep": true}')`, [ago(4000)]);
    await t().db.execute(`INSERT INTO audit_record (at, actor, operation, outcome) VALUES ($1, 'cron', 'update', 'applied'), ($2, 'cron', 'create', 'applied')`, [ago(4000), ago(400)]);

    const retention = resolveRetention({ '9203': 7, KSYNC_PLAN_CREATED: 0 });
    const result = await purgeEvents(t().db, retention, now);
    expect(result).toEqual({ deleted: 4, byType: { KSYNC_RUN_STARTED: 1, KSYNC_CONFLICT_FOUND: 1, KSYNC_DRIFT_FOUND: 1, KSYNC_PLAN_CREATED: 1 } });
    const left = await listEvents(t().db, {}, 100);
    expect(left.every((e) => e.payload.keep === true)).toBe(true);
    expect(left).toHaveLength(4);
    const audit = await t().db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_record');
    expect(audit[0]!.n).toBe(2);
    expect(await purgeEvents(t().db, retention, now)).toEqual({ deleted: 0, byType: {} });
  });
});

describe('event catalogue', () => {
  it('has unique ids and codes, and a storage term for every type', () => {
    expect(new Set(engineEventTypes.map((e) => e.id)).size).toBe(engineEventTypes.length);
    expect(new Set(engineEventTypes.map((e) => e.code)).size).toBe(engineEventTypes.length);
    expect(engineEventTypes.every((e) => Number.isInteger(e.storageDays) && e.storageDays > 0)).toBe(true);
  });

  it('refuses a retention override for a type it does not know, naming the key', () => {
    expect(() => resolveRetention({ KSYNC_NOPE: 3 })).toThrow(ConfigError);
    expect(() => resolveRetention({ KSYNC_NOPE: 3 })).toThrow(/events\.retention\.KSYNC_NOPE: no engine event type/);
    expect(resolveRetention({ '9301': 3 }).get(9301)).toBe(3);
  });

  it('docs/events.md lists exactly the catalogue', () => {
    const doc = readFileSync(path.join(packageRoot, 'docs', 'events.md'), 'utf8');
    const rows = doc
      .split('\n')
      .filter((l) => /^\| [^|]+ \| \d{4} \|/.test(l))
      .map((l) => l.split('|').map((c) => c.trim()));
    const documented = rows.map((c) => ({ name: c[1], id: Number(c[2]), code: c[3]!.replace(/`/g, ''), severity: c[4], days: Number(c[6]!.replace(/ days?$/, '')) }));
    expect(documented).toEqual(engineEventTypes.map((e) => ({ name: e.name, id: e.id, code: e.code, severity: severityNames[e.severity], days: e.storageDays })));
  });
});
