import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { parseJsonOutput, runCli, type CliResult } from '../support/cli.js';
import { describeEachEngine } from '../support/db.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../support/kics-simulator.js';

/** `kics-sync kics check`, `kics pull` and the KICS refresh of `kics-sync plan`, run as a user runs them, against the simulator. */
describeEachEngine('kics-sync kics check / pull', (t) => {
  let sim: TestKicsSimulator;

  beforeAll(async () => {
    sim = await startTestKicsSimulator({ devices: 400, seed: 'cli', packagePassword: 'p@ss: word' });
  });
  afterAll(async () => {
    await sim.close();
  });

  const cli = async (args: string[], env: Record<string, string> = {}): Promise<CliResult> => {
    const h = t();
    if (h.engine === 'pglite') await h.close();
    try {
      return await runCli(['--config', path.join(h.dataDir, 'kics-sync.yaml'), '--data-dir', h.dataDir, ...args], { env: { KICS_PW: 'p@ss: word', ...env, ...(h.url ? { DATABASE_URL: h.url } : {}) }, cwd: h.dataDir });
    } finally {
      if (h.engine === 'pglite') await h.reopen();
    }
  };
  const writeConfig = (kics: string, rest = 'sources: []\n'): void =>
    writeFileSync(path.join(t().dataDir, 'kics-sync.yaml'), `kics:\n  url: ${sim.url}\n  package: { dir: ${JSON.stringify(sim.packageDir)}, password: \${KICS_PW} }\n  retry: { retries: 1, minTimeoutMs: 10, maxTimeoutMs: 20 }\n${kics}${rest}`);

  it('kics check: version, pinned certificate, token expiry and device count', async () => {
    writeConfig('');
    const text = await cli(['kics', 'check']);
    expect(text.code, text.stderr).toBe(0);
    const fingerprint = new X509Certificate(sim.sim.server.cert).fingerprint256;
    expect(text.stdout).toMatch(new RegExp(`^KICS ${sim.url.replace(/\./g, '\\.')}: version 4\\.2\\.0\\.3250 \\(API v4\\)$`, 'm'));
    expect(text.stdout).toMatch(/^connector certificate: CN=kics-sync connector, .*valid until \d{4}-/m);
    expect(text.stdout).toContain(`server certificate: pinned from the package: CN=127.0.0.1, O=KICS for Networks simulator, SHA-256 ${fingerprint}`);
    expect(text.stdout).toMatch(/^token: expires \d{4}-\d\d-\d\dT[\d:.]+Z \(in (10 h 0|9 h 59) min\); renewed from /m);
    expect(text.stdout).toMatch(/^devices: 400$/m);
    expect(text.stderr).not.toMatch(/eyJ/);

    const json = parseJsonOutput(await cli(['kics', 'check', '--json']));
    expect(json).toMatchObject({ ok: true, kics: { version: '4.2.0.3250', apiVersion: 'v4' }, devices: 400, serverCertificate: { verified: true, pinned: true, fingerprint256: fingerprint } });
    expect((json.token as { expiresInSeconds: number }).expiresInSeconds).toBeGreaterThan(35_000);
  });

  it('kics pull: the first read is full, the next incremental, changes in KICS show; --json summaries', async () => {
    writeConfig('');
    const first = await cli(['kics', 'pull', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(parseJsonOutput(first)).toMatchObject({ ok: true, kics: { mode: 'full', devices: { read: 400, new: 400 }, generation: 1 } });

    const ids = [...sim.sim.store.all()].map((d) => d.id);
    for (const id of ids.slice(0, 3)) await sim.admin('PATCH', `/admin/devices/${id}`, { description: `changed for the CLI ${id}` });
    const second = await cli(['kics', 'pull']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^KICS read \(incremental since \d{4}-[\d\-T:.]+Z\) in [\d.]+ s: \d+ devices: 0 new, 3 changed, \d+ unchanged$/m);
    expect(second.stdout).toMatch(/^snapshot: [\d,]+ Archived, [\d,]+ Recognized, [\d,]+ Unauthorized; 5 address spaces; generation 2$/m);
    const stored = await t().db.query<{ description: string }>(`SELECT raw->>'description' AS description FROM kics_device WHERE id = $1`, [ids[0]]);
    expect(stored).toEqual([{ description: `changed for the CLI ${ids[0]}` }]);

    await sim.admin('DELETE', `/admin/devices/${ids[5]}`);
    const full = parseJsonOutput(await cli(['kics', 'pull', '--full', '--json'])) as { kics: { mode: string; devices: { missing: number } } };
    expect(full.kics).toMatchObject({ mode: 'full', devices: { missing: 1 } });
  });

  it('plan re-reads KICS first (incrementally; --full reads everything)', async () => {
    writeConfig('');
    const ids = [...sim.sim.store.all()].map((d) => d.id);
    await sim.admin('PATCH', `/admin/devices/${ids[7]}`, { name: 'Renamed in KICS before the plan' });
    const plan = await cli(['plan', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    const out = parseJsonOutput(plan) as { refresh: { kics: { refreshed: boolean } }; plan: { basis: { kics: number } } };
    expect(out.refresh.kics).toEqual({ refreshed: true });
    expect(out.plan.basis.kics).toBe(4);
    expect(await t().db.query(`SELECT name FROM kics_device WHERE id = $1`, [ids[7]])).toEqual([{ name: 'Renamed in KICS before the plan' }]);
    expect((await t().db.query<{ mode: string }>(`SELECT last_summary->>'mode' AS mode FROM source WHERE name = 'kics'`))[0]!.mode).toBe('incremental');

    expect((await cli(['plan', '--full', '--json'])).code).toBe(0);
    expect((await t().db.query<{ mode: string }>(`SELECT last_summary->>'mode' AS mode FROM source WHERE name = 'kics'`))[0]!.mode).toBe('full');
  });

  it('a wrong package password: exit 2 and one line naming the file', async () => {
    writeConfig('');
    const result = await cli(['kics', 'pull'], { KICS_PW: 'not the password' });
    expect(result.code).toBe(ExitCode.usage);
    expect(result.stderr).toBe(`kics-sync: kics.package.password does not open ${path.join(sim.packageDir, 'certificates.pfx')} (its integrity check failed with that password)\n`);
    expect(result.stderr).not.toContain('not the password');
  });

  it('KICS unreachable: exit 3, one line, the earlier snapshot kept and the error recorded', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(p));
      });
    });
    const before = await t().db.query(`SELECT count(*)::int4 AS n, max(last_seen) AS at FROM kics_device`);
    writeFileSync(
      path.join(t().dataDir, 'kics-sync.yaml'),
      `kics:\n  url: https://127.0.0.1:${port}\n  package: { dir: ${JSON.stringify(sim.packageDir)}, password: \${KICS_PW} }\n  retry: { retries: 1, minTimeoutMs: 10, maxTimeoutMs: 20 }\n`,
    );
    const result = await cli(['kics', 'pull']);
    expect(result.code).toBe(ExitCode.unavailable);
    // Logs (the retry) are JSON lines on stderr; the error is the one plain line.
    const plain = result.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{'));
    expect(plain).toEqual([`kics-sync: KICS token (POST /kics/api/auth/v4/token): cannot reach KICS at 127.0.0.1:${port} (ECONNREFUSED) (2 attempts)`]);
    expect(await t().db.query(`SELECT count(*)::int4 AS n, max(last_seen) AS at FROM kics_device`)).toEqual(before);
    const [row] = await t().db.query<{ last_error: string }>(`SELECT last_error FROM source WHERE name = 'kics'`);
    expect(row!.last_error).toMatch(/cannot reach KICS/);
  });

  it('kics.insecure: the warning is printed on every run', async () => {
    writeConfig('  insecure: true\n');
    for (let run = 0; run < 2; run += 1) {
      const result = await cli(['kics', 'check']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('kics.insecure is set: the KICS server certificate is NOT verified');
      expect(result.stdout).toContain('server certificate: NOT verified (kics.insecure is set)');
    }
  });

  it('without a kics section: exit 2 saying what to add', async () => {
    writeFileSync(path.join(t().dataDir, 'kics-sync.yaml'), 'sources: []\n');
    const result = await cli(['kics', 'check']);
    expect(result.code).toBe(ExitCode.usage);
    expect(result.stderr).toBe('kics-sync: KICS is not configured: add a kics section with url and package (dir, password) to the configuration\n');
  });
});
