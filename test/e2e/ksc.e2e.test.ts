import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { request } from 'undici';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startKscSimulator, type KscSimulator } from '../../src/simulator/ksc/index.js';
import type { CliResult } from '../support/cli.js';
import { describeEachEngine } from '../support/db.js';
import { cliRaw, reopen, startPlant, type Plant } from './plant.js';

interface CommandView {
  status: 'pending' | 'result' | 'error';
  result: Record<string, unknown> | null;
  error: Record<string, unknown> | null;
}

/**
 * KSC backend commands and event triggers reaching the sync engine, end to end: `kics-sync ksc serve`
 * (and `kics-sync schedule` with KSC enabled) against the KSC and KICS simulators.
 */
describeEachEngine('KSC commands and triggers drive the engine', (t) => {
  let plant: Plant;
  let ksc: KscSimulator;
  let kscDir: string;
  beforeEach(async () => {
    plant = await startPlant(t().dataDir);
    kscDir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-ksc-'));
    ksc = await startKscSimulator({ stateDir: kscDir, settings: { pollPeriodMs: 50 } });
    plant.writeConfig({
      ksc: { url: ksc.url, user: 'kics-sync', password: 'kics-sync-simulator', internalUser: true, ca: ksc.caFile, commands: { enabled: true }, triggers: { enabled: true, debounceSeconds: 1 } },
    });
  });
  afterEach(async () => {
    await ksc.close();
    rmSync(kscDir, { recursive: true, force: true });
    await plant.close();
  });

  const admin = async <T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> => {
    const response = await request(`${ksc.adminUrl}${route}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    return (await response.body.json()) as T;
  };
  const command = async (name: string, params: Record<string, unknown> = {}): Promise<CommandView> => {
    const { commandId } = await admin<{ commandId: string }>('POST', '/commands', { name, params });
    const end = Date.now() + 60_000;
    for (;;) {
      const view = await admin<CommandView & { id: string }>('GET', `/commands/${encodeURIComponent(commandId)}`);
      if (view.status !== 'pending') return { ...view, id: commandId } as CommandView;
      if (Date.now() > end) throw new Error(`KSC command ${name} was not answered`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  /** Runs a long-running command until `body` is done, then stops it with SIGTERM. */
  async function serving(args: string[], body: () => Promise<void>): Promise<CliResult> {
    const h = t();
    if (h.engine === 'pglite') await h.close();
    let child: ChildProcess | undefined;
    const running = cliRaw(h, args, { onSpawn: (c) => (child = c) });
    try {
      await body();
    } finally {
      child?.kill('SIGTERM');
    }
    const result = await running;
    if (h.engine === 'pglite') await reopen(h);
    return result;
  }

  it('ksc serve: plan, apply, status and report commands run the engine, audited as ksc:<command id>; KSC events start an incremental plan', async () => {
    const [a, b, c] = plant.devices;
    plant.writeCmdb([plant.rowOf(a!, { description: 'set from KSC', owner: 'alice' }), plant.rowOf(b!, { description: 'also alice', owner: 'alice' }), plant.rowOf(c!, { description: 'bob only' })]);
    let applyId = '';
    let planId = 0;
    const served = await serving(['ksc', 'serve'], async () => {
      const planned = await command('plan', { owner: 'alice' });
      expect(planned.status, JSON.stringify(planned.error)).toBe('result');
      expect(planned.result).toMatchObject({ status: 'draft', summary: { update: 2, create: 0 } });
      planId = planned.result!.planId as number;
      expect(existsSync(planned.result!.reportPath as string)).toBe(true);

      const unknown = await command('apply', { planId: 987654 });
      expect(unknown.status).toBe('error');
      expect(unknown.error).toMatchObject({ CMD_ERR_ID: 5, CMD_ERR_ORIGINATOR_ID: 'kics-sync' });
      expect(String(unknown.error!.CMD_ERR_DESCR)).toContain('plan 987654 does not exist');

      const applied = await command('apply', { planId });
      expect(applied.status, JSON.stringify(applied.error)).toBe('result');
      expect(applied.result).toMatchObject({ planId, status: 'applied', outcome: { applied: 2, applied_with_errors: 0, skipped: 0, drifted: 0, failed: 0 } });
      applyId = (applied as unknown as { id: string }).id;

      const status = await command('status', { planId });
      expect(status.result).toMatchObject({ planId, status: 'applied', items: { applied: 2 } });
      const report = await command('report', { planId });
      expect(report.result).toMatchObject({ planId, items: 2, summary: { update: 2 } });

      await admin('POST', '/events', { type: 4100, params: { KLHST_WKS_DN: 'NEW-PLC-7' } });
      const end = Date.now() + 60_000;
      while (Date.now() < end) {
        const latest = await command('status');
        if ((latest.result as { trigger?: string } | null)?.trigger === 'ksc_event' && latest.result!.status !== 'running') break;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    });
    expect(served.code, served.stderr).toBe(0);
    expect(plant.sim.sim.store.get(a!.id)!.description).toBe('set from KSC');
    expect(plant.sim.sim.store.get(c!.id)!.description).not.toBe('bob only');

    const audit = await t().db.query<{ actor: string }>(`SELECT actor FROM audit_record WHERE plan_id = $1`, [planId]);
    expect(audit.map((r) => r.actor)).toEqual([`ksc:${applyId}`, `ksc:${applyId}`]);
    const runs = await t().db.query<{ trigger: string; actor: string; mode: string; cause: Record<string, unknown> | null }>(`SELECT trigger::text AS trigger, actor, mode::text AS mode, cause FROM sync_run ORDER BY id`);
    expect(runs.find((r) => r.mode === 'apply')).toMatchObject({ trigger: 'ksc_command', actor: `ksc:${applyId}`, cause: { kscCommandId: applyId, command: 'apply' } });
    expect(runs.find((r) => r.trigger === 'ksc_event')).toMatchObject({ mode: 'plan', actor: 'ksc:events', cause: { source: 'ksc_event', eventCount: 1 } });
    const [linked] = await t().db.query<{ run_id: number | null }>(`SELECT run_id FROM ksc_command WHERE id = $1`, [applyId]);
    expect(linked!.run_id).not.toBeNull();
  });

  it('kics-sync schedule also serves KSC commands when ksc.commands is enabled', async () => {
    plant.writeCmdb([plant.rowOf(plant.devices[0]!)]);
    const served = await serving(['schedule'], async () => {
      const planned = await command('plan', {});
      expect(planned.status, JSON.stringify(planned.error)).toBe('result');
      expect(planned.result).toMatchObject({ status: 'draft' });
    });
    expect(served.code, served.stderr).toBe(0);
    expect(served.stdout).toMatch(/^schedule stopped: 0 run\(s\)/m);
  });
});
