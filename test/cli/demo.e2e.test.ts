import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { parseJsonOutput, runCli } from '../support/cli.js';
import { csvRecords } from '../support/csv.js';

interface DemoOut {
  ok: boolean;
  dir: string;
  plan: { id: number; counts: { create: number; update: number; recognize: number; archive: number; conflict: number; unknown: number }; report: string };
  rejects: string;
  apply: { run: number; status: string; outcome: Record<string, number> };
  replan: { counts: { conflict: number }; changes: number };
}

/** `kics-sync demo`, the README's first command, as a newcomer runs it. */
describe('kics-sync demo', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-demo-test-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('plans against the simulated plant, writes the report, applies, and plans again with nothing left to do', async () => {
    const dir = path.join(root, 'demo');
    const result = await runCli(['demo', '--dir', dir, '--json'], { cwd: root });
    expect(result.code, result.stderr).toBe(0);
    const out = parseJsonOutput(result) as unknown as DemoOut;
    expect(out.ok).toBe(true);
    // The example CMDB differs from KICS the way a real one does.
    expect(out.plan.counts.create).toBeGreaterThan(10);
    expect(out.plan.counts.update).toBeGreaterThan(20);
    expect(out.plan.counts.archive).toBe(2);
    // The authorized baseline: devices KICS found and the CMDB confirms become Recognized.
    expect(out.plan.counts.recognize).toBeGreaterThan(0);
    expect(out.plan.counts.conflict).toBeGreaterThan(0);
    expect(out.plan.counts.unknown).toBeGreaterThan(0);
    const rejects = parse<Record<string, string>>(readFileSync(out.rejects, 'utf8').replace(/^\uFEFF/, ''), { columns: true });
    expect(rejects.map((r) => r.column)).toEqual(expect.arrayContaining(['MAC Address', 'IP Address', 'Category', 'Criticality']));
    const changes = out.plan.counts.create + out.plan.counts.update + out.plan.counts.recognize + out.plan.counts.archive;
    expect(out.apply).toMatchObject({ status: 'applied', outcome: { applied: changes, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 } });
    expect(out.replan.changes).toBe(0);
    expect(out.replan.counts.conflict).toBe(out.plan.counts.conflict);
    const html = readFileSync(out.plan.report, 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(path.dirname(out.plan.report)).toBe(path.join(dir, 'reports'));

    // What the demo left behind can be explored without KICS.
    const runs = parseJsonOutput(await runCli(['--data-dir', dir, 'runs', '--json'], { cwd: root })) as { runs: { mode: string; status: string }[] };
    expect(runs.runs.map((r) => `${r.mode} ${r.status}`)).toEqual(['plan succeeded', 'apply succeeded', 'plan succeeded']);
    const audit = await runCli(['--data-dir', dir, 'audit', '--format', 'json', '--since', '1h'], { cwd: root });
    expect(audit.code, audit.stderr).toBe(0);
    const lines = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { outcome: string; operation: string });
    expect(lines).toHaveLength(changes);
    expect(new Set(lines.map((l) => l.operation))).toEqual(new Set(['create', 'update', 'recognize', 'archive']));
    // The plan's CSV report reads back as one row of every column per item, whatever line break a reader splits on.
    const csv = await runCli(['--data-dir', dir, 'report', '--plan', String(out.plan.id), '--format', 'csv'], { cwd: root });
    expect(csv.code, csv.stderr).toBe(0);
    const items = csvRecords(csv.stdout);
    expect(items.filter((i) => i.action === 'create')).toHaveLength(out.plan.counts.create);
    expect(items.filter((i) => i.action === 'update')).toHaveLength(out.plan.counts.update);
  });

  it('refuses a folder that is not empty, before starting anything', async () => {
    const dir = path.join(root, 'used');
    const file = path.join(dir, 'notes.txt');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, 'mine');
    const result = await runCli(['demo', '--dir', dir], { cwd: root });
    expect(result.code).toBe(ExitCode.usage);
    expect(result.stderr).toContain(`--dir ${dir}: the demo needs a new or empty folder`);
    expect(readFileSync(file, 'utf8')).toBe('mine');
  });
});
