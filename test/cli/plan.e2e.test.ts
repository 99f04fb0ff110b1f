import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { planReportSchema } from '../../src/reconcile/plan-schema.js';
import { parseJsonOutput, runCli, type CliResult } from '../support/cli.js';
import { describeEachEngine } from '../support/db.js';
import { addressSpaces, asset, device } from '../reconcile/support.js';
import { stageKics, stageSource } from '../sync/plans/fixtures.js';

/** `kics-sync plan`, `report` and `plans` as a user runs them, on data staged straight into the database. */
describeEachEngine('kics-sync plan / report / plans', (t) => {
  const cli = async (args: string[]): Promise<CliResult> => {
    const h = t();
    if (h.engine === 'pglite') await h.close();
    try {
      return await runCli(['--config', path.join(h.dataDir, 'kics-sync.yaml'), '--data-dir', h.dataDir, ...args], { env: h.url ? { DATABASE_URL: h.url } : {}, cwd: h.dataDir });
    } finally {
      if (h.engine === 'pglite') await h.reopen();
    }
  };
  const writeConfig = (yaml: string): void => writeFileSync(path.join(t().dataDir, 'kics-sync.yaml'), yaml);

  it('refuses to plan before KICS was ever read (exit 3), in one line', async () => {
    writeConfig('sources: []\n');
    const result = await cli(['plan', '--no-refresh']);
    expect(result.code, result.stderr).toBe(ExitCode.unavailable);
    expect(result.stderr).toMatch(/kics-sync: there is no KICS snapshot yet/);
  });

  it('plans from staged data: prints the summary, stores the plan, writes the HTML report', async () => {
    const { db } = t();
    writeConfig('sources:\n  - { name: cmdb, type: csv, path: ./none.csv }\n');
    await stageKics(db, {
      generation: 3,
      addressSpaces,
      devices: [device(1, 'plc-1', [{ mac: '00:1b:1b:00:00:01', ips: ['10.1.0.1'], space: 1 }]), device(2, 'rogue', [{ ips: ['10.2.0.2'], space: 2 }])],
    });
    await stageSource(db, {
      name: 'cmdb',
      generation: 4,
      records: [
        { key: 'a', asset: asset('Boiler PLC', [{ mac: '00:1b:1b:00:00:01', ips: ['10.1.0.1'] }], { owner: 'alice' }) },
        { key: 'b', asset: asset('<script>alert(1)</script>', [{ mac: '00:1b:1b:00:00:09', ips: ['10.1.0.9'] }], { owner: 'bob' }) },
      ],
    });
    const result = await cli(['plan', '--no-refresh', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const out = parseJsonOutput(result) as { ok: boolean; plan: { id: number; basis: unknown }; counts: Record<string, number>; report: string };
    expect(out.ok).toBe(true);
    expect(out.counts).toMatchObject({ create: 1, update: 1, unknown: 1, conflict: 0, unchanged: 0 });
    expect(out.plan.basis).toEqual({ kics: 3, sources: { cmdb: 4 } });
    expect(out.report).toBe(path.join(t().dataDir, 'reports', `plan-${out.plan.id}.html`));
    expect(readFileSync(out.report, 'utf8')).toContain('"n":"\\u003cscript>alert(1)\\u003c/script>"');

    const text = await cli(['plan', '--no-refresh']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^plan \d+ \(draft\), scope: everything, basis: KICS snapshot 3; cmdb 4$/m);
    expect(text.stdout).toMatch(/^ {2}create +1$/m);
    expect(text.stdout).toMatch(/^ {2}unknown +1$/m);
    expect(text.stdout).toMatch(/^report: .*plan-\d+\.html$/m);
  });

  it('scopes by owner and writes the report the --report extension asks for', async () => {
    const file = path.join(t().dataDir, 'alice.md');
    const result = await cli(['plan', '--no-refresh', '--owner', 'alice', '--report', file, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const out = parseJsonOutput(result) as { counts: Record<string, number>; plan: { scope: unknown } };
    expect(out.counts).toMatchObject({ update: 1, create: 0, unknown: 0 });
    expect(out.plan.scope).toEqual({ owner: 'alice' });
    expect(readFileSync(file, 'utf8')).toMatch(/^# kics-sync plan \d+ \(draft\)/);
  });

  it('report writes any format of a stored plan, to stdout or a file; plans lists them', async () => {
    const planned = parseJsonOutput(await cli(['plan', '--no-refresh', '--json'])) as { plan: { id: number } };
    const id = planned.plan.id;
    const csv = await cli(['report', '--plan', String(id), '--format', 'csv']);
    expect(csv.code, csv.stderr).toBe(0);
    const rows = parse<Record<string, string>>(csv.stdout, { columns: true });
    expect(rows.map((r) => r.action)).toEqual(['create', 'update', 'unknown']);

    const out = path.join(t().dataDir, 'out', 'plan.json');
    const json = await cli(['report', '--plan', String(id), '--out', out]);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).toContain(`json report written to ${out}`);
    const report = planReportSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    expect(report.plan.id).toBe(id);
    expect(report.items.map((i) => i.seq)).toEqual([1, 2, 3]);
    expect(report.items[1]!.ops![0]).toEqual({ op: 'Test', path: '/name', value: 'plc-1' });

    const list = parseJsonOutput(await cli(['plans', '--json'])) as { plans: { id: number; status: string }[] };
    expect(list.plans[0]).toMatchObject({ id, status: 'draft' });
  });

  it('a new plan expires the drafts whose inputs moved on', async () => {
    const before = parseJsonOutput(await cli(['plan', '--no-refresh', '--json'])) as { plan: { id: number } };
    await t().db.execute(`UPDATE source SET generation = generation + 1 WHERE name = 'kics'`);
    const after = parseJsonOutput(await cli(['plan', '--no-refresh', '--json'])) as { expired: number[] };
    expect(after.expired).toContain(before.plan.id);
    const list = parseJsonOutput(await cli(['plans', '--status', 'expired', '--json'])) as { plans: { id: number }[] };
    expect(list.plans.map((p) => p.id)).toContain(before.plan.id);
  });

  it('re-reads the sources first (incrementally): a CSV change shows in the plan; a source that cannot be read exits 1 and its staging is used', async () => {
    const dir = t().dataDir;
    writeFileSync(path.join(dir, 'assets.csv'), 'name;mac;ip;owner\nBoiler PLC;00:1b:1b:00:00:01;10.1.0.1;alice\nNew Valve;00-1B-1B-00-00-42;10.1.0.42;carol\n');
    writeConfig('sources:\n  - { name: plant, type: csv, path: ./assets.csv }\n  - { name: cmdb, type: csv, path: ./missing.csv }\n');
    const result = await cli(['plan', '--json']);
    expect(result.code, result.stderr).toBe(ExitCode.failed);
    const out = parseJsonOutput(result) as { ok: boolean; counts: Record<string, number>; failures: string[]; refresh: { sources: { source: string; ok: boolean }[] } };
    expect(out.ok).toBe(false);
    expect(out.refresh.sources.map((s) => [s.source, s.ok])).toEqual([
      ['plant', true],
      ['cmdb', false],
    ]);
    expect(out.failures).toEqual([expect.stringMatching(/^source cmdb not refreshed \(.*missing\.csv.*\); its earlier staging was used$/)]);
    // plant's new valve is created; cmdb's staged records still count (Boiler PLC rename, the <script> asset).
    expect(out.counts).toMatchObject({ create: 2, update: 1, unknown: 1 });
  });

  it('rejects bad arguments with the usage code and a clear message', async () => {
    const space = await cli(['plan', '--no-refresh', '--address-space', 'plant-a']);
    expect(space.code).toBe(ExitCode.usage);
    expect(space.stderr).toMatch(/--address-space plant-a: KICS has no address space named "plant-a" \(known: .*"Plant A"/);
    // By its name in KICS (any case), as well as by id.
    const named = await cli(['plan', '--no-refresh', '--address-space', 'plant b', '--json']);
    expect(named.code, named.stderr).toBe(0);
    expect((parseJsonOutput(named) as { plan: { scope: unknown } }).plan.scope).toEqual({ addressSpaceId: 2 });
    const report = await cli(['plan', '--no-refresh', '--report', 'out.txt']);
    expect(report.code).toBe(ExitCode.usage);
    expect(report.stderr).toContain('the extension must say the format');
    const source = await cli(['plan', '--no-refresh', '--source', 'netbox']);
    expect(source.code).toBe(ExitCode.usage);
    expect(source.stderr).toContain('no source named "netbox"');
    const missing = await cli(['report', '--plan', '999999']);
    expect(missing.code).toBe(ExitCode.usage);
    expect(missing.stderr).toMatch(/plan 999999 does not exist/);
    expect(existsSync(path.join(t().dataDir, 'out.txt'))).toBe(false);
  });
});
