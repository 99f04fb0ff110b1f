import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { generateCertificates } from '../../src/simulator/ksc/certs.js';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { binPath, parseJsonOutput, runCli } from '../support/cli.js';

/** `kics-sync users` and `kics-sync serve` as a user runs them, on the embedded database. */
describe('kics-sync users and serve', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-console-'));
  const env = { KICS_SYNC_DATA_DIR: dataDir };

  /** `users add` with the password on stdin, as the help says. */
  const addUser = (args: string[], password: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [binPath, 'users', 'add', ...args], { env: { ...process.env, ...env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(`${password}\n`);
    });

  /**
   * Runs the CLI with `args` until it says where the console listens (`review console at URL`), calls
   * `use` with that URL, then stops it with SIGTERM: it must exit 0.
   */
  const whileServing = async (args: string[], scheme: 'http' | 'https', use: (address: string) => Promise<void>): Promise<void> => {
    const child = spawn(process.execPath, [binPath, ...args], { env: { ...process.env, ...env } });
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          const found = new RegExp(`review console at (${scheme}://127\\.0\\.0\\.1:\\d+)`).exec(stderr);
          if (found) resolve(found[1]!);
        });
        child.on('close', (code) => reject(new Error(`${args[0]} ended (${code}): ${stderr}`)));
      });
      await use(address);
    } finally {
      if (child.exitCode === null) {
        const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
        child.kill('SIGTERM');
        expect(await closed).toBe(0);
      }
    }
  };

  it('adds users (password from stdin, never in argv), lists them without secrets, refuses bad input, and makes API tokens', async () => {
    expect((await runCli(['db', 'migrate'], { env })).code).toBe(0);
    const added = await addUser(['bob', '--role', 'owner', '--owner', 'bob', '--owner', 'line 2', '--password-stdin'], 'bob-password-123');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('user bob added (owner: bob, line 2)');
    expect((await addUser(['bob', '--role', 'owner', '--owner', 'bob', '--password-stdin'], 'bob-password-456')).stderr).toContain('a user named "bob" exists already');
    const short = await addUser(['carol', '--role', 'viewer', '--password-stdin'], 'short');
    expect(short.code).toBe(ExitCode.usage);
    expect(short.stderr).toContain('at least 12 characters');
    const noOwner = await runCli(['users', 'add', 'dave', '--role', 'owner'], { env });
    expect(noOwner.code).toBe(ExitCode.usage);
    expect(noOwner.stderr).toContain('an owner needs at least one --owner');

    const list = parseJsonOutput(await runCli(['users', 'list', '--json'], { env }));
    expect(list.users).toEqual([expect.objectContaining({ name: 'bob', role: 'owner', owners: ['bob', 'line 2'], disabled: false, password: true })]);
    expect(JSON.stringify(list)).not.toMatch(/scrypt/);

    const token = parseJsonOutput(await runCli(['users', 'token', 'bob', '--json'], { env }));
    expect(token.token).toMatch(/^ksk_/);
  });

  it('serves the console on loopback until SIGTERM: health, readiness, and the API with a token', async () => {
    const token = String(parseJsonOutput(await runCli(['users', 'token', 'bob', '--label', 'serve test', '--json'], { env })).token);
    await whileServing(['serve', '--port', '0'], 'http', async (address) => {
      expect((await request(`${address}/healthz`)).statusCode).toBe(200);
      expect(await (await request(`${address}/readyz`)).body.json()).toEqual({ status: 'ready' });
      const me = await request(`${address}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(await me.body.json()).toEqual({ name: 'bob', role: 'owner', owners: ['bob', 'line 2'] });
      expect((await request(`${address}/api/v1/me`)).statusCode).toBe(401);
    });
  });

  it('schedule serves the console from its own process with console.withSchedule, over TLS from console.tls', async () => {
    const certs = generateCertificates('kics-sync console');
    writeFileSync(path.join(dataDir, 'console.crt'), certs.certPem);
    writeFileSync(path.join(dataDir, 'console.key'), certs.keyPem);
    const config = path.join(dataDir, 'kics-sync.yaml');
    writeFileSync(config, JSON.stringify({ schedule: { cron: '0 0 1 1 *' }, console: { withSchedule: true, port: 0, tls: { certFile: './console.crt', keyFile: './console.key' } } }));
    await whileServing(['schedule', '--config', config], 'https', async (address) => {
      const trusted = new Agent({ connect: { ca: certs.caPem } });
      expect((await request(`${address}/healthz`, { dispatcher: trusted })).statusCode).toBe(200);
      const login = await request(`${address}/login`, { dispatcher: trusted });
      expect(String(login.headers['set-cookie'])).toMatch(/; Secure/i);
      await login.body.dump();
      await trusted.close();
    });
  });
});
