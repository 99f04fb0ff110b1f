import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitEvent } from '../../../src/sync/events/index.js';
import { parseJsonOutput, runCli } from '../../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

const day = 86_400_000;
const ago = (days: number): Date => new Date(Date.now() - days * day);

describe('kics-sync events (built CLI)', () => {
  let t: TestDatabase;
  let config: string;
  beforeAll(async () => {
    t = await createTestDatabase('pglite');
    await emitEvent(t.db, 'KSYNC_RUN_STARTED', { runId: 1 }, { at: ago(40) });
    await emitEvent(t.db, 'KSYNC_CONFLICT_FOUND', { kind: 'mac', detail: 'line\u001b[31m red' }, { at: ago(2), message: 'MAC 00:1b:1b:00:00:01 on two devices \u001b[31m' });
    await emitEvent(t.db, 'KSYNC_RUN_FAILED', { runId: 2 }, { at: ago(1) });
    await emitEvent(t.db, 'KSYNC_PLAN_CREATED', { planId: 5 }, { at: ago(0.01) });
    await t.db.execute(`INSERT INTO audit_record (at, actor, operation, outcome) VALUES ($1, 'cron', 'update', 'applied')`, [ago(5000)]);
    await t.close();
    config = path.join(t.dataDir, 'kics-sync.yaml');
    writeFileSync(config, 'events:\n  retention:\n    KSYNC_CONFLICT_FOUND: 1\n');
  });
  afterAll(async () => {
    await t.drop();
  });

  const cli = (...args: string[]) => runCli(['--config', config, '--data-dir', t.dataDir, ...args]);

  it('lists events filtered by severity and age, without control characters on the terminal', async () => {
    const result = await cli('events', '--severity', 'warning', '--since', '7d');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/Critical\s+9001 KSYNC_RUN_FAILED\s+Run failed/);
    expect(lines[1]).toMatch(/Warning\s+9202 KSYNC_CONFLICT_FOUND\s+MAC 00:1b:1b:00:00:01 on two devices/);
    expect(result.stdout).not.toContain('\u001b');

    const json = parseJsonOutput(await cli('events', '--json', '--type', 'KSYNC_PLAN_CREATED', '9301'));
    expect(json).toMatchObject({ ok: true, total: 2, shown: 2 });
    expect((json.events as { code: string }[]).map((e) => e.code)).toEqual(['KSYNC_PLAN_CREATED', 'KSYNC_RUN_STARTED']);
  });

  it('refuses a bad --severity or --since with exit 2 and says what is expected', async () => {
    const severity = await cli('events', '--severity', 'loud');
    expect(severity.code).toBe(2);
    expect(severity.stderr).toMatch(/--severity must be critical, functional-failure, warning or info; found "loud"/);
    const since = await cli('events', '--since', 'yesterday');
    expect(since.code).toBe(2);
    expect(since.stderr).toMatch(/--since must be an ISO date/);
  });

  it('exports JSON lines for a SIEM', async () => {
    const file = path.join(t.dataDir, 'events.jsonl');
    const result = parseJsonOutput(await cli('events', '--export', file, '--json'));
    expect(result).toMatchObject({ ok: true, exported: 4, file });
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.code)).toEqual(['KSYNC_RUN_STARTED', 'KSYNC_CONFLICT_FOUND', 'KSYNC_RUN_FAILED', 'KSYNC_PLAN_CREATED']);
    expect(lines[1]).toMatchObject({ product: 'kics-sync', typeId: 9202, severity: 'warning', payload: { kind: 'mac' } });
  });

  it('purges events past their storage term (config overrides included) and never audit records', async () => {
    const result = parseJsonOutput(await cli('events', 'purge', '--json'));
    expect(result).toMatchObject({ ok: true, deleted: 2, byType: { KSYNC_RUN_STARTED: 1, KSYNC_CONFLICT_FOUND: 1 } });
    const left = parseJsonOutput(await cli('events', '--json'));
    expect((left.events as { code: string }[]).map((e) => e.code)).toEqual(['KSYNC_EVENTS_PURGED', 'KSYNC_PLAN_CREATED', 'KSYNC_RUN_FAILED']);
    const db = await t.reopen();
    const [audit] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_record');
    expect(audit!.n).toBe(1);
    await t.close();
  });

  it('refuses purge options that do not apply', async () => {
    const result = await cli('events', 'purge', '--since', '1d');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/events purge takes no --since/);
  });
});
