import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import { chromium } from 'playwright-core';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { siteConfig } from '../../src/config/sites.js';
import { serveConsole } from '../../src/console/start.js';
import { addUser, createToken } from '../../src/console/users.js';
import { startKscSimulator } from '../../src/simulator/ksc/index.js';
import { openDatabase } from '../../src/db/database.js';
import { ExitCode } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { parseJsonOutput, runCli, type CliResult } from '../support/cli.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../support/db.js';
import { startPlant, testRetry, type Plant } from './plant.js';

/**
 * The fleet end to end, on PostgreSQL (the queue lives there): three KICS simulators as three sites,
 * worker and scheduler processes of the built CLI, one queue. What is checked is what a user of a
 * fleet would see: every plant synced, a dead plant failing alone, a killed worker's job finished by
 * the other with nothing written twice (counted in the simulators' own state), never two runs of one
 * site at once however many schedulers tick.
 */

interface SiteOut {
  name: string;
  location: string;
  lastRun: { id: number; mode: string; status: string; error: string | null } | null;
  devices: number | null;
  openConflicts: number | null;
  secondsSinceGoodSync: number | null;
  skippedTicks: number;
  jobs: { waiting: number; running: number; dead: number } | null;
}

const siteNames = ['north', 'south', 'east'] as const;
type SiteName = (typeof siteNames)[number];

describe.runIf(postgresAvailable())('fleet: sites, workers and schedulers on one PostgreSQL', () => {
  let h: TestDatabase;
  let admin: pg.Client;
  const plants = {} as Record<SiteName, Plant>;
  const children: ChildProcess[] = [];
  const endings: Promise<CliResult>[] = [];
  let configFile: string;

  beforeAll(async () => {
    h = await createTestDatabase('postgres');
    for (const [i, name] of siteNames.entries()) {
      const dir = path.join(h.dataDir, name);
      mkdirSync(dir, { recursive: true });
      plants[name] = await startPlant(dir, { seed: `fleet-${i}` });
    }
    admin = new pg.Client({ connectionString: h.url });
    await admin.connect();
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.allSettled(endings);
    await admin?.end();
    for (const plant of Object.values(plants)) await plant.close().catch(() => {});
    await h?.drop();
  });

  /** Each site its own KICS and CMDB file; the fleet settings short enough for a test. */
  const writeConfig = (schedule: string = '0 2 * * *', extra: Record<string, unknown> = {}): void => {
    const config = {
      ...extra,
      sources: [],
      sync: { concurrency: 1, maxChangeShare: 1, maxCreates: 1000 },
      reconcile: { managedAttributes: [], status: { recognizeConfirmed: false, restoreArchived: false } },
      schedule: { cron: schedule },
      fleet: { leaseSeconds: 30, retries: 1, retryDelaySeconds: 1, retryBackoff: false, pollSeconds: 0.5, maintenanceSeconds: 1 },
      sites: siteNames.map((name) => ({
        name,
        kics: { url: plants[name].sim.url, package: { dir: plants[name].sim.packageDir, password: plants[name].sim.packagePassword }, retry: testRetry },
        sources: [{ name: 'cmdb', type: 'csv', path: `./${name}/cmdb.csv` }],
      })),
    };
    configFile = path.join(h.dataDir, 'kics-sync.yaml');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
  };

  const cli = (args: string[]): Promise<CliResult> => runCli(['--config', configFile, ...args], { env: { DATABASE_URL: h.url! }, cwd: h.dataDir });
  /** A long-running CLI process (worker, schedule), stopped by the test. */
  const background = (args: string[]): { child: () => ChildProcess; ended: Promise<CliResult> } => {
    let child: ChildProcess | undefined;
    const ended = runCli(['--config', configFile, ...args], { env: { DATABASE_URL: h.url! }, cwd: h.dataDir, timeoutMs: 600_000, onSpawn: (c) => children.push((child = c)) });
    endings.push(ended);
    return { child: () => child!, ended };
  };
  const stop = async (process: { child: () => ChildProcess; ended: Promise<CliResult> }): Promise<CliResult> => {
    process.child().kill('SIGTERM');
    return process.ended;
  };
  const sites = async (): Promise<{ code: number | null; sites: Record<string, SiteOut> }> => {
    const result = await cli(['sites', '--json']);
    const out = parseJsonOutput(result) as { sites: SiteOut[] };
    return { code: result.code, sites: Object.fromEntries(out.sites.map((s) => [s.name, s])) };
  };
  type RunRow = { id: number; mode: string; status: string; started_at: Date; finished_at: Date | null; cause: Record<string, unknown> | null; pid: number | null; error: string | null };
  const runsOf = async (site: SiteName): Promise<RunRow[]> => {
    const [{ ready }] = (await admin.query<{ ready: boolean }>(`SELECT to_regclass('site_${site}.sync_run') IS NOT NULL AS ready`)).rows as [{ ready: boolean }];
    if (!ready) return [];
    return (await admin.query<RunRow>(`SELECT id, mode::text AS mode, status::text AS status, started_at, finished_at, cause, pid, error FROM site_${site}.sync_run ORDER BY id`)).rows;
  };
  const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> => {
    const end = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > end) {
        // What the workers and schedulers printed says why.
        for (const child of children) child.kill('SIGTERM');
        const printed = (await Promise.all(endings.slice(-4))).map((r) => r.stderr.slice(-2500)).join('\n---\n');
        throw new Error(`timed out waiting for ${what}; the background processes printed:\n${printed}`);
      }
      await sleep(250);
    }
  };
  const named = (site: SiteName, name: string): number => [...plants[site].sim.sim.store.all()].filter((d) => d.name === name).length;
  const succeededSyncs = async (site: SiteName): Promise<number> => (await runsOf(site)).filter((r) => (r.mode === 'sync' || r.mode === 'apply') && r.status === 'succeeded').length;

  it('a configuration of several sites needs --site for a one-site command, and names them', async () => {
    writeConfig();
    const none = await cli(['runs']);
    expect(none.code).toBe(ExitCode.usage);
    expect(none.stderr).toContain('3 sites (north, south, east): name one with --site NAME');
    const wrong = await cli(['--site', 'west', 'runs']);
    expect(wrong.code).toBe(ExitCode.usage);
    expect(wrong.stderr).toContain('no such site; the configuration has north, south, east');
    const one = await cli(['--site', 'north', 'runs', '--json']);
    expect(one.code, one.stderr).toBe(0);
  });

  it('two workers sync all three sites from one queue; a stopped KICS fails its site alone, then its job is dead', async () => {
    writeConfig();
    for (const name of siteNames) plants[name].writeCmdb([...plants[name].devices.slice(0, 10).map((d) => plants[name].rowOf(d)), plants[name].newAsset(1), plants[name].newAsset(2)]);
    const workers = [background(['worker', '--concurrency', '2']), background(['worker'])];
    const queued = await cli(['enqueue', 'sync', '--all', '--json']);
    expect(queued.code, queued.stderr).toBe(0);
    await waitFor('three synced sites', async () => {
      for (const name of siteNames) if ((await succeededSyncs(name)) < 1) return false;
      return true;
    });
    for (const name of siteNames) {
      expect(named(name, 'NEW-ASSET-001')).toBe(1);
      expect(named(name, 'NEW-ASSET-002')).toBe(1);
    }
    // What a site exports says whose it is, so that exports of several sites can be merged.
    const audit = await cli(['--site', 'north', 'audit', '--format', 'json']);
    expect(audit.code, audit.stderr).toBe(0);
    const records = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { site: string; operation: string });
    expect(records.length).toBeGreaterThanOrEqual(2);
    expect(new Set(records.map((r) => r.site))).toEqual(new Set(['north']));
    const events = parseJsonOutput(await cli(['--site', 'east', 'events', '--json'])) as { site: string; events: { site: string }[] };
    expect(events.site).toBe('east');
    expect(events.events.length).toBeGreaterThan(0);
    expect(events.events.every((e) => e.site === 'east')).toBe(true);

    // South's KICS goes away; the next round fails there only.
    await plants.south.close();
    for (const name of siteNames) plants[name].writeCmdb([...plants[name].devices.slice(0, 10).map((d) => plants[name].rowOf(d)), plants[name].newAsset(1), plants[name].newAsset(2), plants[name].newAsset(3)]);
    expect((await cli(['enqueue', 'sync', '--all'])).code).toBe(0);
    await waitFor('north and east synced again, south dead', async () => {
      const north = await succeededSyncs('north');
      const east = await succeededSyncs('east');
      const { sites: now } = await sites();
      return north >= 2 && east >= 2 && now.south!.jobs!.dead === 1;
    });
    expect(named('north', 'NEW-ASSET-003')).toBe(1);
    expect(named('east', 'NEW-ASSET-003')).toBe(1);
    const { code, sites: after } = await sites();
    expect(code).toBe(ExitCode.failed);
    expect(after.south!.lastRun!.status).toBe('failed');
    expect(after.north!.lastRun!.status).toBe('succeeded');
    expect(after.north!.jobs).toEqual({ waiting: 0, running: 0, dead: 0 });
    // The snapshot read before this round's create: the simulator's 40 devices and the 2 created before.
    expect(after.east!.devices).toBe(42);
    // Two attempts (the first and its one retry), both failed.
    expect((await runsOf('south')).filter((r) => r.status === 'failed')).toHaveLength(2);
    const text = await cli(['sites']);
    expect(text.stdout).toMatch(/^south .* failed /m);
    expect(text.stdout).toContain('south: 1 dead job(s)');
    for (const worker of workers) expect((await stop(worker)).code).toBe(0);
  });

  it('kill -9 of the worker mid-apply: the other worker resumes the apply, no device written twice', async () => {
    writeConfig();
    const rows = [...plants.north.devices.slice(0, 10).map((d) => plants.north.rowOf(d)), ...Array.from({ length: 24 }, (_, i) => plants.north.newAsset(10 + i))];
    plants.north.writeCmdb(rows);
    plants.north.sim.sim.setLatency(120);
    const since = plants.north.sim.sim.requests.lastSeq;
    const creates = (): number => plants.north.sim.sim.requests.list(since).filter((e) => e.method === 'POST' && /\/devices(\?|$)/.test(e.path) && e.status < 300).length;
    const workers = [background(['worker']), background(['worker'])];
    expect((await cli(['--site', 'north', 'enqueue', 'sync'])).code).toBe(0);
    let victim: number | null = null;
    await waitFor('the apply under way', async () => {
      const [row] = (await admin.query<{ pid: number; applied: string }>(
        `SELECT r.pid, (SELECT count(*) FROM site_north.plan_item i JOIN site_north.plan p ON p.id = i.plan_id WHERE p.run_id = r.id AND i.status = 'applied') AS applied
           FROM site_north.sync_run r WHERE r.status = 'running' AND r.mode = 'sync' ORDER BY r.id DESC LIMIT 1`,
      )).rows;
      if (row && Number(row.applied) >= 4) victim = row.pid;
      return victim !== null;
    });
    process.kill(victim!, 'SIGKILL');
    await waitFor('the apply resumed and finished', async () => (await runsOf('north')).some((r) => r.mode === 'apply' && r.status === 'succeeded' && r.cause?.resumes !== undefined), 180_000);
    plants.north.sim.sim.setLatency(0);
    for (let i = 0; i < 24; i++) expect(named('north', `NEW-ASSET-${String(10 + i).padStart(3, '0')}`)).toBe(1);
    // KICS saw one successful create per new asset: none was sent again.
    expect(creates()).toBe(24);
    const runs = await runsOf('north');
    expect(runs.some((r) => r.mode === 'sync' && r.status === 'interrupted' && r.pid === victim)).toBe(true);
    const [{ left }] = (await admin.query<{ left: string }>(`SELECT count(*) AS left FROM site_north.plan_item i JOIN site_north.plan p ON p.id = i.plan_id WHERE p.status <> 'expired' AND i.status IN ('pending', 'in_progress') AND i.action IN ('create', 'update')`)).rows as [{ left: string }];
    expect(Number(left)).toBe(0);
    for (const worker of workers) await stop(worker);
  });

  it('two schedulers tick every two seconds: each tick is queued once, a site never runs twice at once, busy ticks are skipped and recorded', async () => {
    writeConfig('*/2 * * * * *');
    // Each KICS answer takes 1.5 s, so a sync of east (several answers in a row) lasts longer than the
    // 2 s between ticks however fast the machine: a tick always comes while east is busy.
    plants.east.sim.sim.setLatency(1500);
    const since = new Date();
    const procs = [background(['schedule']), background(['schedule']), background(['worker', '--concurrency', '2']), background(['worker'])];
    await waitFor('skipped ticks of a busy site', async () => (await runsOf('east')).some((r) => r.status === 'skipped' && r.started_at > since), 90_000);
    await sleep(4000);
    for (const p of procs.slice(0, 2)) expect((await stop(p)).code).toBe(0);
    for (const p of procs.slice(2)) await stop(p);
    plants.east.sim.sim.setLatency(0);
    for (const name of ['north', 'east'] as const) {
      const runs = (await runsOf(name)).filter((r) => r.started_at >= since);
      const real = runs.filter((r) => r.status !== 'skipped' && (r.mode === 'sync' || r.mode === 'apply'));
      expect(real.length).toBeGreaterThan(0);
      // No two runs of the site overlap in time.
      for (let i = 1; i < real.length; i++) expect(real[i]!.started_at.getTime()).toBeGreaterThanOrEqual(real[i - 1]!.finished_at!.getTime());
      // Each tick led to one run or one skip, whatever the number of schedulers.
      const ticks = runs.filter((r) => r.cause?.attempt === undefined || r.cause.attempt === 1).map((r) => r.cause?.tick).filter((t): t is string => typeof t === 'string');
      expect(new Set(ticks).size, JSON.stringify(runs.map((r) => [r.id, r.status, r.cause]))).toBe(ticks.length);
    }
    const skipped = (await runsOf('east')).filter((r) => r.status === 'skipped' && r.started_at > since);
    expect(skipped[0]!.error).toMatch(/the tick at .* came while (run \d+ of this site was going|a sync of this site was still waiting in the queue)/);
    const runsText = await cli(['--site', 'east', 'runs']);
    expect(runsText.stdout).toMatch(/ skipped /);
  });

  it("the console's fleet page, /api/v1/sites and /metrics show every site, the failing one first", async () => {
    writeConfig();
    const { config: full } = await loadConfig({ file: configFile, env: {} });
    const site = siteConfig(full, 'north');
    const db = await openDatabase({ url: h.url, dataDir: site.location.dataDir, schema: site.location.schema });
    const served = await serveConsole({ db, config: site.config, dataDir: site.location.dataDir, logger: silentLogger(), host: '127.0.0.1', port: 0 });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-fleet-browser-'));
    const browser = await chromium.launchPersistentContext(path.join(dir, 'profile'), { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
    try {
      await addUser(db, { name: 'ada', role: 'admin', owners: [], password: 'ada-password-123' });
      await addUser(db, { name: 'bob', role: 'owner', owners: ['bob'], password: null });
      const ada = (await createToken(db, 'ada', 't')).token;
      const bob = (await createToken(db, 'bob', 't')).token;
      const get = async (who: string | null, url: string) => {
        const answer = await request(`${served.address}${url}`, { headers: who ? { authorization: `Bearer ${who}` } : {} });
        return { status: answer.statusCode, text: await answer.body.text() };
      };
      const api = await get(ada, '/api/v1/sites');
      expect(api.status).toBe(200);
      const listed = (JSON.parse(api.text) as { sites: SiteOut[] }).sites;
      expect(listed.map((s) => s.name)).toEqual(['north', 'south', 'east']);
      expect(listed.find((s) => s.name === 'south')!.jobs!.dead).toBeGreaterThanOrEqual(1);
      expect((await get(bob, '/api/v1/sites')).status).toBe(403);
      const metrics = (await get(null, '/metrics')).text;
      for (const one of listed) {
        const up = one.lastRun === null ? null : ['succeeded', 'held'].includes(one.lastRun.status) ? 1 : 0;
        if (up !== null) expect(metrics).toContain(`kics_sync_site_up{site="${one.name}"} ${up}`);
        expect(metrics).toContain(`kics_sync_site_jobs{site="${one.name}",state="dead"} ${one.jobs!.dead}`);
        expect(metrics).toContain(`kics_sync_site_devices{site="${one.name}"} ${one.devices}`);
      }
      expect(metrics).toContain('kics_sync_site_up{site="south"} 0');

      const page = await browser.newPage();
      await page.goto(`${served.address}/login`);
      await page.getByLabel('User').fill('ada');
      await page.getByLabel('Password').fill('ada-password-123');
      await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Sign in' }).click()]);
      await Promise.all([page.waitForEvent('load'), page.getByRole('link', { name: 'Fleet' }).click()]);
      const rows = page.locator('table tbody tr');
      await expect.poll(() => rows.count()).toBe(3);
      // The sites that need a look come first, in bold; south (its KICS gone, its job dead) is one of them.
      const texts = await rows.allInnerTexts();
      const bold = await Promise.all([0, 1, 2].map(async (i) => (await rows.nth(i).locator('td strong').count()) > 0));
      expect(bold.indexOf(false) === -1 || bold.slice(bold.indexOf(false)).every((b) => !b)).toBe(true);
      const south = texts.findIndex((t) => t.startsWith('south'));
      expect(bold[south]).toBe(true);
      // South's newest run failed, or was cut short when the last test stopped the worker in the middle of an attempt.
      const southStatus = listed.find((s) => s.name === 'south')!.lastRun!.status;
      expect(['failed', 'interrupted']).toContain(southStatus);
      expect(texts[south]).toContain(southStatus);
      expect(texts[south]).toMatch(/\d+ \/ \d+ \/ [1-9]/);
    } finally {
      await browser.close();
      await served.close();
      await db.close();
    }
  });

  it('a site reading a shared source plans only the records of its scope', async () => {
    writeConfig();
    const shared = path.join(h.dataDir, 'shared.csv');
    const north = plants.north;
    // One CMDB for the company: north's assets, and new assets of another plant.
    north.writeCmdb([...north.devices.slice(0, 5).map((d) => north.rowOf(d, { owner: 'north-ops' })), north.newAsset(90, { owner: 'north-ops' }), north.newAsset(91, { owner: 'west-ops' }), north.newAsset(92, { owner: 'west-ops' })]);
    writeFileSync(shared, readFileSync(path.join(north.dir, 'cmdb.csv')));
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { sources: unknown[]; sites: { name: string; sources?: unknown; scope?: unknown }[] };
    config.sources = [{ name: 'company', type: 'csv', path: './shared.csv' }];
    const site = config.sites.find((s) => s.name === 'north')!;
    delete site.sources;
    site.scope = { owners: ['North-Ops'] };
    writeFileSync(configFile, JSON.stringify(config));
    const planned = await cli(['--site', 'north', 'plan', '--json']);
    expect(planned.code, planned.stderr).toBe(0);
    const out = parseJsonOutput(planned) as { plan: { id: number } };
    const creates = (await admin.query<{ name: string }>(`SELECT device_name AS name FROM site_north.plan_item WHERE plan_id = $1 AND action = 'create'`, [out.plan.id])).rows.map((r) => r.name);
    expect(creates).toEqual(['NEW-ASSET-090']);
  });

  it('KSC commands name their site and run as jobs on a worker; KSC events queue an incremental plan of each site', async () => {
    const kscDir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-fleet-ksc-'));
    const ksc = await startKscSimulator({ stateDir: kscDir, settings: { pollPeriodMs: 50 } });
    const kscAdmin = async <T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> => {
      const response = await request(`${ksc.adminUrl}${route}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
      return (await response.body.json()) as T;
    };
    type Answer = { id: string; status: 'pending' | 'result' | 'error'; result: Record<string, unknown> | null; error: Record<string, unknown> | null };
    const command = async (name: string, params: Record<string, unknown>): Promise<Answer> => {
      const { commandId } = await kscAdmin<{ commandId: string }>('POST', '/commands', { name, params });
      let view: Answer | undefined;
      await waitFor(`the answer to KSC command ${name}`, async () => (view = await kscAdmin<Answer>('GET', `/commands/${encodeURIComponent(commandId)}`)).status !== 'pending');
      return { ...view!, id: commandId };
    };
    try {
      // One KSC for the company: every site takes its commands and its events.
      writeConfig('0 2 * * *', {
        ksc: { url: ksc.url, user: 'kics-sync', password: 'kics-sync-simulator', internalUser: true, ca: ksc.caFile, commands: { enabled: true }, triggers: { enabled: true, debounceSeconds: 1 } },
      });
      const east = plants.east;
      const procs = [background(['schedule']), background(['worker'])];
      // Ticks the earlier tests queued and left are run first: a command's run would otherwise meet theirs (LOCKED).
      await waitFor('the queue drained', async () => Object.values((await sites()).sites).every((site) => site.jobs!.waiting === 0 && site.jobs!.running === 0));
      east.writeCmdb([...east.devices.slice(0, 10).map((d) => east.rowOf(d)), east.newAsset(1), east.newAsset(2), east.newAsset(3), east.newAsset(70)]);

      const unnamed = await command('plan', {});
      expect(unnamed.status).toBe('error');
      expect(unnamed.error).toMatchObject({ CMD_ERR_ID: 5, CMD_ERR_ORIGINATOR_ID: 'kics-sync' });
      expect(String(unnamed.error!.CMD_ERR_DESCR)).toContain('this KSC serves the sites north, south, east: name one in the parameter "site"');

      const planned = await command('plan', { site: 'east' });
      expect(planned.status, JSON.stringify(planned.error)).toBe('result');
      expect(planned.result).toMatchObject({ site: 'east', status: 'draft', summary: { create: 1 } });
      const planId = planned.result!.planId as number;
      const applied = await command('apply', { site: 'east', planId });
      expect(applied.status, JSON.stringify(applied.error)).toBe('result');
      expect(applied.result).toMatchObject({ site: 'east', planId, status: 'applied', outcome: { applied: 1, failed: 0 } });
      expect(named('east', 'NEW-ASSET-070')).toBe(1);
      const status = await command('status', { site: 'east', planId });
      expect(status.result).toMatchObject({ site: 'east', planId, status: 'applied', items: { applied: 1 } });

      // The scheduler is killed while a worker applies for its command: the worker finishes, and the
      // next scheduler collects the answer without running the command again.
      east.writeCmdb([...east.devices.slice(0, 10).map((d) => east.rowOf(d)), ...[1, 2, 3, 70, 71, 72, 73, 74, 75, 76, 77, 78].map((n) => east.newAsset(n))]);
      const second = await command('plan', { site: 'east' });
      expect(second.result).toMatchObject({ summary: { create: 8 } });
      east.sim.sim.setLatency(300);
      const requestsBefore = east.sim.sim.requests.lastSeq;
      const { commandId: applyId } = await kscAdmin<{ commandId: string }>('POST', '/commands', { name: 'apply', params: { site: 'east', planId: second.result!.planId } });
      await waitFor('the apply of the command under way', async () => {
        const [row] = (await admin.query<{ applied: string }>(
          `SELECT count(*) AS applied FROM site_east.plan_item WHERE plan_id = $1 AND status = 'applied'`,
          [second.result!.planId],
        )).rows;
        return Number(row?.applied ?? 0) >= 1;
      });
      procs[0]!.child().kill('SIGKILL');
      await procs[0]!.ended;
      procs[0] = background(['schedule']);
      let collected: Answer | undefined;
      await waitFor('the answer collected by the next scheduler', async () => (collected = await kscAdmin<Answer>('GET', `/commands/${encodeURIComponent(applyId)}`)).status !== 'pending');
      east.sim.sim.setLatency(0);
      expect(collected!.status, JSON.stringify(collected!.error)).toBe('result');
      expect(collected!.result).toMatchObject({ site: 'east', status: 'applied', outcome: { applied: 8, failed: 0 } });
      const creates = east.sim.sim.requests.list(requestsBefore).filter((e) => e.method === 'POST' && /\/devices(\?|$)/.test(e.path) && e.status < 300);
      expect(creates).toHaveLength(8);
      const applies = (await admin.query<{ n: string }>(`SELECT count(*) AS n FROM site_east.sync_run WHERE mode = 'apply' AND actor = $1`, [`ksc:${applyId}`])).rows;
      expect(Number(applies[0]!.n)).toBe(1);
      // South's KICS is gone, its connector package with it: the command is answered with why, from where it was raised.
      const southPlan = await command('plan', { site: 'south' });
      expect(southPlan.error!.CMD_ERR_ID).toBe(100);
      expect(String(southPlan.error!.CMD_ERR_FNAME)).toMatch(/^dist\/adapters\/kics\//);
      expect(String(southPlan.error!.CMD_ERR_DESCR)).toMatch(/^KICS_PACKAGE_FILE_MISSING: kics.package.dir: the package file .* does not exist/);

      // The apply ran in east's schema as the command's run; the command is recorded with the KSC's first site.
      const eastRuns = (await admin.query<{ trigger: string; actor: string; mode: string }>(`SELECT trigger::text AS trigger, actor, mode::text AS mode FROM site_east.sync_run WHERE trigger = 'ksc_command' ORDER BY id`)).rows;
      expect(eastRuns.slice(0, 2)).toEqual([
        { trigger: 'ksc_command', actor: `ksc:${planned.id}`, mode: 'plan' },
        { trigger: 'ksc_command', actor: `ksc:${applied.id}`, mode: 'apply' },
      ]);
      const audit = (await admin.query<{ actor: string }>(`SELECT actor FROM site_east.audit_record WHERE plan_id = $1`, [planId])).rows;
      expect(audit.map((r) => r.actor)).toEqual([`ksc:${applied.id}`]);
      const recorded = (await admin.query<{ status: string; run_id: number | null }>(`SELECT status, run_id FROM site_north.ksc_command WHERE id = $1`, [applied.id])).rows;
      expect(recorded.map((r) => [r.status, typeof r.run_id])).toEqual([['answered', 'number']]);

      // A new device in KSC: an incremental plan of each site, by a worker.
      const since = new Date();
      await kscAdmin('POST', '/events', { type: 4100, params: { KLHST_WKS_DN: 'NEW-PLC-7' } });
      const triggered = async (site: SiteName): Promise<RunRow[]> => (await admin.query<RunRow>(`SELECT id, mode::text AS mode, status::text AS status, started_at, finished_at, cause, pid, error FROM site_${site}.sync_run WHERE trigger = 'ksc_event' AND started_at >= $1 AND finished_at IS NOT NULL`, [since])).rows;
      await waitFor('incremental plans of north and east', async () => (await triggered('north')).length > 0 && (await triggered('east')).length > 0);
      for (const site of ['north', 'east'] as const) expect((await triggered(site))[0]).toMatchObject({ mode: 'plan', status: 'succeeded', cause: { source: 'ksc_event', eventCount: 1 } });
      for (const p of procs) expect((await stop(p)).code).toBe(0);
    } finally {
      await ksc.close();
      rmSync(kscDir, { recursive: true, force: true });
    }
  });
});

describe('fleet commands on the embedded database', () => {
  it('worker and enqueue need PostgreSQL and say so; sites lists the one site of a plain configuration', async () => {
    const dir = path.join(process.env.TMPDIR ?? '/tmp', `kics-sync-fleet-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const worker = await runCli(['--data-dir', dir, 'worker'], { cwd: dir });
    expect(worker.code).toBe(ExitCode.usage);
    expect(worker.stderr).toContain('worker needs PostgreSQL (DATABASE_URL or database.url)');
    const listed = await runCli(['--data-dir', dir, 'sites', '--json'], { cwd: dir });
    expect(listed.code, listed.stderr).toBe(0);
    const out = parseJsonOutput(listed) as { sites: SiteOut[] };
    expect(out.sites.map((s) => [s.name, s.lastRun, s.jobs])).toEqual([['default', null, null]]);
  });
});
