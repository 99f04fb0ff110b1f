import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConnectorPackage, startKicsSimulator } from '../../../src/simulator/kics/index.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';

const run = promisify(execFile);

describe('KICS simulator: mutual TLS, the package and tokens', () => {
  let t: TestKicsSimulator;
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'kics-sim-auth-'));

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 20, packagePassword: 'S3cret pw!' });
  });
  afterAll(async () => {
    await t.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const tokenUrl = (query: string) => `${t.url}/kics/api/auth/v4/token?${query}`;

  it('issues a bearer token for a client certificate that chains to its CA', async () => {
    const response = await request(tokenUrl('grant_type=certificate'), { method: 'POST', dispatcher: t.agent });
    expect(response.statusCode).toBe(200);
    const grant = (await response.body.json()) as Record<string, unknown>;
    expect(Object.keys(grant).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
    expect(grant.token_type).toBe('bearer');
    expect(grant.expires_in).toBe(36_000);
    expect(String(grant.access_token).split('.')).toHaveLength(3);
  });

  it.each([
    ['no client certificate', null, 'UNABLE_TO_GET_ISSUER_CERT'],
    ['a certificate from another CA', 'foreign', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['an expired certificate', 'expired', 'CERT_HAS_EXPIRED'],
  ] as const)('refuses %s in the TLS handshake, and its request log says why', async (_label, kind, reason) => {
    const agent = t.agentFor(kind);
    const since = t.sim.requests.lastSeq;
    const attempt = request(tokenUrl('grant_type=certificate'), { method: 'POST', dispatcher: agent }).then((r) => r.body.text());
    await expect(attempt).rejects.toThrow();
    const error = (await attempt.catch((e: unknown) => e)) as Error & { code?: string; cause?: { code?: string } };
    expect(String(error.code ?? error.cause?.code ?? error.message)).toMatch(/ECONNRESET|UND_ERR_SOCKET|ERR_SSL|certificate|alert|socket/i);
    // The request never reached the API: the one entry is the refused handshake.
    expect(t.sim.requests.list(since)).toEqual([expect.objectContaining({ method: 'TLS', route: null, status: 0, refused: reason })]);
    expect((await t.admin('GET', `/admin/requests?since=${since}`)).json).toMatchObject({ entries: [{ method: 'TLS', refused: reason }] });
  });

  it('answers 401 without a token, with a token it did not issue, and for a token in the URL', async () => {
    const missing = await t.call('GET', '/kics/api/v4/about', { token: null });
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect(missing.json).toEqual({ status: 'Error', errors: [{ field: null, path: null, errorMessage: expect.stringContaining('No access token') as string }] });

    const other = await startKicsSimulator({ devices: 1 });
    try {
      const foreignAgent = new Agent({ connect: { cert: other.identity.cert, key: other.identity.key, ca: other.server.caCert } });
      const foreignToken = ((await (await request(`${other.url}/kics/api/auth/v4/token?grant_type=certificate`, { method: 'POST', dispatcher: foreignAgent })).body.json()) as { access_token: string }).access_token;
      await foreignAgent.close();
      const wrong = await t.call('GET', '/kics/api/v4/about', { token: foreignToken });
      expect(wrong.status).toBe(401);
      expect(String(wrong.headers['www-authenticate'])).toContain('invalid_token');
    } finally {
      await other.close();
    }

    const inUrl = await t.call('GET', `/kics/api/v4/about?access_token=${await t.token()}`, { token: null });
    expect(inUrl.status).toBe(401);
    expect((await t.call('GET', '/kics/api/v4/about', { token: 'not-a-token' })).status).toBe(401);
  });

  it('refreshes a token once: the refresh token rotates and the old one is refused', async () => {
    const first = (await (await request(tokenUrl('grant_type=certificate'), { method: 'POST', dispatcher: t.agent })).body.json()) as { access_token: string; refresh_token: string };
    const refreshed = await request(tokenUrl(`grant_type=refresh_token&refresh_token=${encodeURIComponent(first.refresh_token)}`), { method: 'POST', dispatcher: t.agent });
    expect(refreshed.statusCode).toBe(200);
    const second = (await refreshed.body.json()) as { access_token: string; refresh_token: string };
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await t.call('GET', '/kics/api/v4/about', { token: second.access_token })).status).toBe(200);

    const reused = await request(tokenUrl(`grant_type=refresh_token&refresh_token=${encodeURIComponent(first.refresh_token)}`), { method: 'POST', dispatcher: t.agent });
    expect(reused.statusCode).toBe(401);
    expect(await reused.body.json()).toMatchObject({ error: 'invalid_grant' });

    const missing = await request(tokenUrl('grant_type=refresh_token'), { method: 'POST', dispatcher: t.agent });
    expect(missing.statusCode).toBe(400);
    await missing.body.dump();
    const unsupported = await request(tokenUrl('grant_type=password'), { method: 'POST', dispatcher: t.agent });
    expect(unsupported.statusCode).toBe(400);
    expect(await unsupported.body.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('refuses tokens after revocation and after expiry (admin), and issues new ones afterwards', async () => {
    const token = await t.token();
    expect((await t.call('GET', '/kics/api/v4/about', { token })).status).toBe(200);
    const revoked = await t.admin('POST', '/admin/tokens/revoke');
    expect((revoked.json as { revoked: number }).revoked).toBeGreaterThan(0);
    const after = await t.call('GET', '/kics/api/v4/about', { token });
    expect(after.status).toBe(401);
    expect(JSON.stringify(after.json)).toContain('revoked');

    const fresh = await t.token();
    expect((await t.call('GET', '/kics/api/v4/about', { token: fresh })).status).toBe(200);
    await t.admin('POST', '/admin/tokens/expire');
    const expired = await t.call('GET', '/kics/api/v4/about', { token: fresh });
    expect(expired.status).toBe(401);
    expect(JSON.stringify(expired.json)).toContain('expired');
  });

  it('lets tokens expire after --token-ttl', async () => {
    const short = await startTestKicsSimulator({ devices: 1, tokenTtlSeconds: 1 });
    try {
      const response = await request(`${short.url}/kics/api/auth/v4/token?grant_type=certificate`, { method: 'POST', dispatcher: short.agent });
      const grant = (await response.body.json()) as { access_token: string; expires_in: number };
      expect(grant.expires_in).toBe(1);
      expect((await short.call('GET', '/kics/api/v4/about', { token: grant.access_token })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const late = await short.call('GET', '/kics/api/v4/about', { token: grant.access_token });
      expect(late.status).toBe(401);
      expect(JSON.stringify(late.json)).toContain('expired');
    } finally {
      await short.close();
    }
  });

  it('writes a communication data package that Node TLS and OpenSSL 3 open with the password', async () => {
    const pfx = readFileSync(path.join(t.packageDir, 'certificates.pfx'));
    expect(() => tls.createSecureContext({ pfx, passphrase: 'S3cret pw!' })).not.toThrow();
    expect(() => tls.createSecureContext({ pfx, passphrase: 'wrong' })).toThrow();

    const pfxFile = path.join(scratch, 'certificates.pfx');
    writeFileSync(pfxFile, pfx);
    const { stdout } = await run('openssl', ['pkcs12', '-in', pfxFile, '-passin', 'pass:S3cret pw!', '-nodes']);
    expect(stdout).toContain('BEGIN PRIVATE KEY');
    expect(stdout.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    await expect(run('openssl', ['pkcs12', '-in', pfxFile, '-passin', 'pass:wrong', '-nodes'])).rejects.toThrow();

    const metadata = JSON.parse(readFileSync(path.join(t.packageDir, 'metadata.json'), 'utf8')) as Record<string, unknown>;
    const url = new URL(t.url);
    expect(metadata).toMatchObject({
      connectorType: 'Generic',
      serverUrl: t.url,
      serverHost: url.hostname,
      serverPort: Number(url.port),
      apiVersion: 'v4',
      tokenPath: '/kics/api/auth/v4/token',
      certificatesFile: 'certificates.pfx',
    });
    expect(JSON.stringify(metadata)).not.toContain('S3cret');
  });

  it('serves a client that uses only the PFX (the CA inside it verifies the server)', async () => {
    const pfx = readFileSync(path.join(t.packageDir, 'certificates.pfx'));
    const agent = new Agent({ connect: { pfx, passphrase: 'S3cret pw!' } });
    try {
      const response = await request(tokenUrl('grant_type=certificate'), { method: 'POST', dispatcher: agent });
      expect(response.statusCode).toBe(200);
      await response.body.dump();
    } finally {
      await agent.close();
    }
  });

  it('works with curl and PEM files extracted from the package', async () => {
    const { identity, caCerts } = await readConnectorPackage(t.packageDir, 'S3cret pw!');
    const files = { cert: path.join(scratch, 'connector.crt'), key: path.join(scratch, 'connector.key'), ca: path.join(scratch, 'kics-ca.crt') };
    writeFileSync(files.cert, identity.cert);
    writeFileSync(files.key, identity.key, { mode: 0o600 });
    writeFileSync(files.ca, caCerts.join(''));
    const curl = (args: string[]) => run('curl', ['--silent', '--show-error', '--fail-with-body', '--cert', files.cert, '--key', files.key, '--cacert', files.ca, ...args]);
    const token = JSON.parse((await curl(['-X', 'POST', tokenUrl('grant_type=certificate')])).stdout) as { access_token: string };
    const about = JSON.parse((await curl(['-H', `Authorization: Bearer ${token.access_token}`, `${t.url}/kics/api/v3/about`])).stdout) as { version: string };
    expect(about.version).toMatch(/^4\.\d+\.\d+\.\d+$/);
    const page = JSON.parse(
      (await curl(['-H', `Authorization: Bearer ${token.access_token}`, '-H', 'Content-Type: application/json-patch+json', '--data', '{"filter":[],"sort":[{"column":"Id","direction":"Asc"}],"limit":5}', `${t.url}/kics/api/v4/devices/query`])).stdout,
    ) as { values: unknown[] };
    expect(page.values).toHaveLength(5);
    // Without the client certificate, curl cannot even get past the handshake.
    await expect(run('curl', ['--silent', '--fail', '--cacert', files.ca, '-X', 'POST', tokenUrl('grant_type=certificate')])).rejects.toThrow();
  });

  it('keeps the package across restarts with the same state directory, so a configured client keeps working', async () => {
    const stateDir = path.join(scratch, 'state');
    const first = await startKicsSimulator({ devices: 1, stateDir, packagePassword: 'pw1' });
    const firstThumbprint = first.metadata.connectorCertificateThumbprint;
    await first.close();
    const second = await startKicsSimulator({ devices: 1, stateDir, packagePassword: 'pw1' });
    try {
      expect(second.metadata.connectorCertificateThumbprint).toBe(firstThumbprint);
      const { identity, caCerts } = await readConnectorPackage(stateDir, 'pw1');
      const agent = new Agent({ connect: { cert: identity.cert, key: identity.key, ca: caCerts } });
      const response = await request(`${second.url}/kics/api/auth/v4/token?grant_type=certificate`, { method: 'POST', dispatcher: agent });
      expect(response.statusCode).toBe(200);
      await response.body.dump();
      await agent.close();
    } finally {
      await second.close();
    }
    // Another password: the package is written anew with it.
    const third = await startKicsSimulator({ devices: 1, stateDir, packagePassword: 'pw2' });
    try {
      await expect(readConnectorPackage(stateDir, 'pw1')).rejects.toThrow(/password/);
      expect((await readConnectorPackage(stateDir, 'pw2')).identity.cert).toContain('BEGIN CERTIFICATE');
    } finally {
      await third.close();
    }
  });

  it('writes extra packages for expired and foreign identities that the server refuses', async () => {
    for (const kind of ['expired', 'foreign'] as const) {
      const dir = path.join(scratch, kind);
      await t.sim.writeClientPackage(dir, { kind, password: 'x' });
      const agent = new Agent({ connect: { pfx: readFileSync(path.join(dir, 'certificates.pfx')), passphrase: 'x' } });
      await expect(request(tokenUrl('grant_type=certificate'), { method: 'POST', dispatcher: agent }).then((r) => r.body.text())).rejects.toThrow();
      await agent.close();
    }
    const identity = await t.admin('POST', '/admin/identities', { kind: 'expired' });
    expect(identity.status).toBe(200);
    expect(identity.json).toMatchObject({ cert: expect.stringContaining('BEGIN CERTIFICATE') as string, key: expect.stringContaining('PRIVATE KEY') as string });
  });
});
