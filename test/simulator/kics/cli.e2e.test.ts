import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { readConnectorPackage } from '../../../src/simulator/kics/index.js';
import { runCli } from '../../support/cli.js';

describe('kics-sync simulator (the built CLI)', () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'kics-sim-cli-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('prints one ready line, serves the API and the admin endpoint, and stops cleanly on SIGTERM', async () => {
    const stateDir = path.join(scratch, 'state');
    let child: ChildProcess | undefined;
    let ready: (line: string) => void;
    const readyLine = new Promise<string>((resolve) => (ready = resolve));
    const done = runCli(['simulator', '--devices', '40', '--seed', 'cli', '--state-dir', stateDir, '--package-password', 'cli-pw', '--token-ttl', '600', '--log-level', 'warn'], {
      onSpawn: (spawned) => {
        child = spawned;
        let buffer = '';
        spawned.stdout!.on('data', (d: Buffer) => {
          buffer += d.toString();
          if (buffer.includes('\n')) ready(buffer.split('\n')[0]!);
        });
      },
    });
    const line = await Promise.race([readyLine, done.then((r) => Promise.reject(new Error(`exited early: ${r.stderr}`)))]);
    const event = JSON.parse(line) as Record<string, string>;
    expect(Object.keys(event)).toEqual(['event', 'url', 'adminUrl', 'packageDir']);
    expect(event).toMatchObject({ event: 'ready', url: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/) as string, adminUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as string, packageDir: stateDir });

    const { identity, caCerts } = await readConnectorPackage(stateDir, 'cli-pw');
    const agent = new Agent({ connect: { cert: identity.cert, key: identity.key, ca: caCerts } });
    try {
      const grant = (await (await request(`${event.url}/kics/api/auth/v4/token?grant_type=certificate`, { method: 'POST', dispatcher: agent })).body.json()) as { access_token: string; expires_in: number };
      expect(grant.expires_in).toBe(600);
      const page = await request(`${event.url}/kics/api/v4/devices/query`, { method: 'POST', dispatcher: agent, headers: { authorization: `Bearer ${grant.access_token}`, 'content-type': 'application/json' }, body: JSON.stringify({ limit: 1000 }) });
      expect(((await page.body.json()) as { values: unknown[] }).values).toHaveLength(40);
    } finally {
      await agent.close();
    }
    const admin = (await (await request(`${event.adminUrl}/admin`)).body.json()) as { devices: { total: number } };
    expect(admin.devices.total).toBe(40);

    child!.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([line]);
    expect(result.stderr).not.toContain('cli-pw');
  });

  it.each([
    [['simulator', '--fault-rate', '2'], /--fault-rate must be a number from 0 to 1; found "2"/],
    [['simulator', '--system', 'scada'], /--system must be one of kics/],
    [['simulator', '--from-file', '/nonexistent/devices.json'], /cannot read --from-file \/nonexistent\/devices\.json/],
    [['simulator', '--port', '70000'], /--port must be an integer from 0 to 65535/],
  ])('refuses %j with a usage error', async (args, message) => {
    const result = await runCli(args, { timeoutMs: 60_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});
