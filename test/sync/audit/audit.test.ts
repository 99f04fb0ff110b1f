import { beforeAll, expect, it } from 'vitest';
import { renderAudit } from '../../../src/sync/audit/export.js';
import { countAudit, insertAuditRecord, insertAuditRecords, readAudit, type AuditEntry, type AuditRecord } from '../../../src/sync/audit/store.js';
import { csvRecords } from '../../support/csv.js';
import { describeEachEngine } from '../../support/db.js';

const entry = (patch: Partial<AuditEntry>): AuditEntry => ({
  actor: 'cron',
  runId: 1,
  planId: 1,
  planItemId: null,
  deviceId: 10,
  operation: 'update',
  request: { method: 'PATCH', deviceId: 10, ops: [] },
  httpStatus: 200,
  outcome: 'applied',
  kicsResult: [{ result: 'Succeeded' }],
  before: { description: 'old' },
  after: { description: 'new' },
  ...patch,
});

async function all(records: AsyncIterable<AuditRecord>): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const r of records) out.push(r);
  return out;
}

async function text(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const c of chunks) out += c;
  return out;
}

describeEachEngine('the audit: reading and exporting', (t) => {
  beforeAll(async () => {
    const { db } = t();
    await insertAuditRecord(db, entry({ deviceId: 10, runId: 1 }));
    await insertAuditRecord(db, entry({ deviceId: 11, runId: 1, actor: '=HYPERLINK("http://evil","x")', outcome: 'drifted', after: null, before: { name: 'PLC-11' } }));
    await insertAuditRecord(db, entry({ deviceId: 12, runId: 1, before: { criticality: 1, influence: null }, after: { criticality: 2, influence: 3 } }));
    await insertAuditRecord(db, entry({ deviceId: 10, runId: 2, actor: 'ksc:cmd-7', operation: 'archive', before: { status: 'Recognized' }, after: { status: 'Archived' } }));
    await insertAuditRecords(db, Array.from({ length: 7 }, (_, i) => entry({ deviceId: 20 + i, runId: 3, operation: 'create', before: null, after: { name: `new-${i}\u0007` } })));
    await db.exec(`ALTER TABLE audit_record DISABLE TRIGGER audit_record_no_update_delete`);
    await db.execute(`UPDATE audit_record SET at = '2020-01-01T00:00:00Z' WHERE run_id = 1`);
    await db.exec(`ALTER TABLE audit_record ENABLE TRIGGER audit_record_no_update_delete`);
  });

  it('filters by device, run and time, oldest first, in pages', async () => {
    const { db } = t();
    expect((await all(readAudit(db, { deviceId: 10 }))).map((r) => r.runId)).toEqual([1, 2]);
    expect((await all(readAudit(db, { runId: 3 }, { pageSize: 2 }))).map((r) => r.deviceId)).toEqual([20, 21, 22, 23, 24, 25, 26]);
    expect((await all(readAudit(db, { since: new Date('2021-01-01T00:00:00Z') }))).map((r) => r.runId)).toEqual([2, 3, 3, 3, 3, 3, 3, 3]);
    expect(await all(readAudit(db, { runId: 3 }, { limit: 3, pageSize: 2 }))).toHaveLength(3);
    expect(await countAudit(db, { runId: 1 })).toEqual({ applied: 2, drifted: 1 });
  });

  it('CSV opens safely in Excel: UTF-8 BOM, every formula-like cell quoted, one row per record even with line breaks in a cell', async () => {
    const rows = csvRecords(await text(renderAudit('csv', readAudit(t().db, { runId: 1 }))));
    expect(rows).toHaveLength(3);
    expect(rows[1]!.actor).toBe(`'=HYPERLINK("http://evil","x")`);
    expect(rows[1]!.changes).toBe('name: "PLC-11"');
    expect(JSON.parse(rows[1]!.before!)).toEqual({ name: 'PLC-11' });
    for (const row of rows) for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+\-@]/);
    expect(rows[0]).toMatchObject({ actor: 'cron', device_id: '10', operation: 'update', outcome: 'applied', http_status: '200', changes: 'description: "old" -> "new"' });
    expect(rows[2]!.changes!.split('\n').sort()).toEqual(['criticality: 1 -> 2', 'influence: null -> 3']);
  });

  it('JSON lines carry every field; text lines carry no control characters', async () => {
    const lines = (await text(renderAudit('json', readAudit(t().db, { runId: 2 })))).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ actor: 'ksc:cmd-7', runId: 2, deviceId: 10, operation: 'archive', outcome: 'applied', before: { status: 'Recognized' }, after: { status: 'Archived' } });
    const shown = await text(renderAudit('text', readAudit(t().db, { runId: 3 })));
    expect(shown.split('\n').filter(Boolean)).toHaveLength(7);
    expect(shown).not.toContain('\u0007');
    expect(shown).toContain('device 20  create applied (HTTP 200)');
  });
});

describeEachEngine('the audit: one writer for one row and for a group', (t) => {
  it('a group is written in the order given, each row with its own fields, nulls kept as nulls', async () => {
    const { db } = t();
    const group = [
      entry({ actor: 'ksc:cmd-9', runId: 5, planId: 7, deviceId: 30, operation: 'delete', request: null, httpStatus: null, outcome: 'failed', kicsResult: null, before: { name: 'old' }, after: null }),
      entry({ actor: 'alice', runId: 6, planId: null, deviceId: null, operation: 'register_event', outcome: 'applied', before: null }),
      entry({ runId: 5, deviceId: 31, outcome: 'drifted', kicsResult: { code: 'KICS_VALIDATION' } }),
    ];
    const ids = await insertAuditRecords(db, group);
    expect(ids).toHaveLength(3);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const written = await all(readAudit(db, {}));
    expect(written.map((r) => r.id)).toEqual(ids);
    expect(written.map(({ id: _id, at: _at, ...fields }) => fields)).toEqual(group);
    expect(await insertAuditRecords(db, [])).toEqual([]);
  });

  it('one row goes through the same writer', async () => {
    const { db } = t();
    const id = await insertAuditRecord(db, entry({ runId: 8, deviceId: 40 }));
    expect((await all(readAudit(db, { runId: 8 }))).map((r) => [r.id, r.deviceId])).toEqual([[id, 40]]);
  });
});
