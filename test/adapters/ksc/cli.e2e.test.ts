import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJsonOutput, runCli } from '../../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { startSimulator, waitFor, type SimulatorHandle } from './simulator-handle.js';

describe('kics-sync ksc (built CLI against the KSC simulator)', () => {
  let h: SimulatorHandle;
  let config: string;
  let dataDir: string;
  let database: TestDatabase;
  beforeAll(async () => {
    h = await startSimulator({ settings: { pollPeriodMs: 50 } });
    // A migrated embedded database, closed so that the CLI processes can open it.
    database = await createTestDatabase('pglite');
    await database.close();
    dataDir = database.dataDir;
    config = path.join(h.dir, 'kics-sync.yaml');
    writeFileSync(
      config,
      [
        'ksc:',
        `  url: ${h.sim.url}`,
        '  user: kics-sync',
        '  password: ${KSC_PASSWORD}',
        '  internalUser: true',
        `  ca: ${h.sim.caFile}`,
        '  commands: { enabled: true, productName: kics-sync, productVersion: "1.0" }',
        '  triggers: { enabled: true }',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await h.close();
    await database.drop();
  });

  const env = (password = 'kics-sync-simulator'): Record<string, string> => ({ KSC_PASSWORD: password });

  it('ksc check logs in and shows the version and the subscription ksc serve would make', async () => {
    const result = await runCli(['--config', config, '--data-dir', dataDir, 'ksc', 'check', '--json'], { env: env() });
    expect(result.code).toBe(0);
    const out = parseJsonOutput(result);
    expect(out).toMatchObject({
      ok: true,
      version: h.sim.core.serverVersion,
      commands: true,
      handlers: ['apply', 'plan', 'report', 'status'],
      triggers: true,
      serviceConsoleSubscribed: false,
      subscriptions: [
        { event: 'KLSRV_EV_PROD_BACKEND_CMD', filter: { CMD_PROD_NAME: 'kics-sync', CMD_PROD_VERSION: '1.0' } },
        { event: 'KLSRV_EVENT_HOSTS_NEW_DETECTED', filter: {} },
        { event: 'KLNAG_EV_NAC_DEVICE_DISCOVERED', filter: {} },
        { event: 'KLSRV_EVENT_HOSTS_CONFLICT', filter: {} },
      ],
    });
  });

  it('ksc check with a wrong password exits 3 with one clear line, and the password appears nowhere', async () => {
    const result = await runCli(['--config', config, '--data-dir', dataDir, 'ksc', 'check'], { env: env('Wr0ng-Secret') });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/kics-sync: KSC at 127\.0\.0\.1:\d+ refused the login \(HTTP 401\)/);
    expect(result.stdout + result.stderr).not.toContain('Wr0ng-Secret');
  });

  it('ksc serve answers an unknown backend command ERR_NOT_SUPPORTED, stops on SIGTERM with exit 0, and the events are listed', async () => {
    let child: ChildProcess | undefined;
    const running = runCli(['--config', config, '--data-dir', dataDir, '--log-level', 'info', 'ksc', 'serve', '--json'], { env: env(), onSpawn: (c) => (child = c) });
    let commandId: string;
    try {
      await waitFor(() => h.sim.core.subscriptionsSummary().some((s) => s.event === 'KLSRV_EV_PROD_BACKEND_CMD'), 'ksc serve to subscribe', 60_000);
      ({ commandId } = await h.admin<{ commandId: string }>('POST', '/commands', { name: 'reboot', params: {} }));
      const answered = await waitFor(async () => {
        const c = await h.admin<{ status: string; error: Record<string, unknown> | null }>('GET', `/commands/${commandId}`);
        return c.status === 'pending' ? null : c;
      }, 'the answer', 30_000);
      expect(answered.error).toMatchObject({
        CMD_ERR_STR_ID: 'ERR_NOT_SUPPORTED',
        CMD_ERR_ORIGINATOR_ID: 'kics-sync',
        CMD_ERR_DESCR: 'command "reboot" is not supported by kics-sync (supported: apply, plan, report, status)',
      });
    } finally {
      child?.kill('SIGTERM');
    }
    const result = await running;
    expect(result.code).toBe(0);
    expect(parseJsonOutput(result)).toMatchObject({ ok: true, commands: true, triggers: true });
    expect(h.sim.core.subscriptionsSummary().filter((s) => s.event === 'KLSRV_EV_PROD_BACKEND_CMD')).toEqual([]);

    const events = await runCli(['--config', config, '--data-dir', dataDir, 'events', '--json'], { env: env() });
    expect(events.code).toBe(0);
    const listed = parseJsonOutput(events).events as { code: string; payload: Record<string, unknown> }[];
    expect(listed.map((e) => e.code)).toEqual(['KSYNC_KSC_COMMAND_FAILED', 'KSYNC_KSC_COMMAND_RECEIVED']);
    expect(listed[0]!.payload).toMatchObject({ commandId, command: 'reboot', errorId: 'ERR_NOT_SUPPORTED' });
  });

  it('kics-sync simulator --system ksc serves generated hosts that the KSC source reads', async () => {
    let child: ChildProcess | undefined;
    let stdout = '';
    const stateDir = path.join(h.dir, 'cli-sim');
    const running = runCli(['simulator', '--system', 'ksc', '--devices', '40', '--seed', 'plant-a', '--state-dir', stateDir], {
      onSpawn: (c) => {
        child = c;
        c.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      },
    });
    try {
      const ready = await waitFor(() => {
        const line = stdout.split('\n').find((l) => l.includes('"ready"'));
        return line ? (JSON.parse(line) as { url: string; adminUrl: string; caFile: string; user: string }) : null;
      }, 'the simulator to be ready', 60_000);
      expect(ready).toMatchObject({ user: 'kics-sync', caFile: path.join(stateDir, 'ksc-ca.pem') });
      const simConfig = path.join(h.dir, 'sim.yaml');
      writeFileSync(simConfig, [`ksc: { url: "${ready.url}", user: kics-sync, password: kics-sync-simulator, internalUser: true, ca: "${ready.caFile}" }`, 'sources:', '  - { name: ksc-hosts, type: ksc, chunkSize: 15 }', ''].join('\n'));
      const check = await runCli(['--config', simConfig, '--data-dir', dataDir, 'sources', 'check', '--json']);
      expect(parseJsonOutput(check)).toMatchObject({ ok: true, sources: [{ source: 'ksc-hosts', type: 'ksc', ok: true }] });
      const pull = await runCli(['--config', simConfig, '--data-dir', dataDir, 'sources', 'pull', '--json']);
      const { hosts } = await (await fetch(`${ready.adminUrl}/hosts`)).json() as { hosts: { unassigned: boolean }[] };
      const managed = hosts.filter((host) => !host.unassigned).length;
      expect(managed).toBeGreaterThan(30);
      // The generated plant has hosts KSC discovered but nobody assigned: they are read too (includeUnassigned).
      expect(hosts.length).toBeGreaterThan(managed);
      expect(parseJsonOutput(pull)).toMatchObject({ ok: true, sources: [{ source: 'ksc-hosts', mode: 'full', read: hosts.length, valid: hosts.length, rejected: 0 }] });
    } finally {
      child?.kill('SIGTERM');
      await running;
    }
  });
});
