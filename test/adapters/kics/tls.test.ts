import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KicsApiError, createKicsClient } from '../../../src/adapters/kics/index.js';
import { createCa, createServerCertificate } from '../../../src/simulator/kics/certificates.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';
import { captureLog, kicsConfigFor, simulatorCa, startLoopbackKics, tokenAnswer, type LoopbackServer } from './support.js';

/** Mutual TLS and the pinned server certificate: who the client talks to, and how it refuses anyone else. */
describe('KICS client TLS', () => {
  let kics: TestKicsSimulator;
  let other: TestKicsSimulator;
  let dir: string;

  beforeAll(async () => {
    [kics, other] = await Promise.all([startTestKicsSimulator({ devices: 3 }), startTestKicsSimulator({ devices: 3 })]);
    dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-tls-'));
  });
  afterAll(async () => {
    await Promise.all([kics.close(), other.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const pinned = (): string => new X509Certificate(kics.sim.server.cert).fingerprint256;

  it('talks to the server of its package', async () => {
    const client = await createKicsClient(kicsConfigFor(kics), { logger: captureLog().logger });
    expect((await client.about()).version).toBe('4.2.0.3250');
    await client.close();
  });

  it('kics.pem.ca may hold the server certificate alone (no CA): it is pinned and trusted as it is', async () => {
    const write = (name: string, text: string): string => {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      return file;
    };
    const pem = { cert: write('connector.pem', kics.sim.identity.cert), key: write('connector.key', kics.sim.identity.key), ca: write('server-only.pem', kics.sim.server.cert) };
    const client = await createKicsClient(kicsConfigFor(kics, { package: undefined, pem }), { logger: captureLog().logger });
    try {
      expect((await client.about()).version).toBe('4.2.0.3250');
    } finally {
      await client.close();
    }
    // Another KICS with that file: refused, naming two different certificates.
    const elsewhere = await createKicsClient(kicsConfigFor({ ...kics, url: other.url }, { package: undefined, pem }), { logger: captureLog().logger });
    try {
      const error = (await elsewhere.about().catch((e: unknown) => e)) as KicsApiError;
      expect(error).toBeInstanceOf(KicsApiError);
      const fingerprints = [...new Set(error.message.match(/([0-9A-F]{2}:){31}[0-9A-F]{2}/g) ?? [])];
      expect(fingerprints).toEqual(expect.arrayContaining([pinned(), new X509Certificate(other.sim.server.cert).fingerprint256]));
    } finally {
      await elsewhere.close();
    }
  });

  it('refuses a server with another CA (another KICS) in one line naming both certificates, and sends nothing', async () => {
    const client = await createKicsClient(kicsConfigFor({ ...kics, url: other.url }), { logger: captureLog().logger });
    const error = (await client.about().catch((e: unknown) => e)) as KicsApiError;
    expect(error).toBeInstanceOf(KicsApiError);
    expect(error.code).toBe('KICS_TLS_UNTRUSTED');
    expect(error.retryable).toBe(false);
    const presented = new X509Certificate(other.sim.server.cert);
    const subject = (x: X509Certificate): string => x.subject.replace(/\n/g, ', ');
    const iso = (text: string): string => new Date(Date.parse(text)).toISOString();
    expect(error.message).toBe(
      `KICS at ${new URL(other.url).host} is not the server of the communication data package: it presented ${subject(presented)}, SHA-256 ${presented.fingerprint256}, valid ${iso(presented.validFrom)} to ${iso(presented.validTo)}; ` +
        `the pinned certificate from the communication data package is ${subject(new X509Certificate(kics.sim.server.cert))}, SHA-256 ${pinned()}. Check kics.url, or download the package again if KICS's certificate was renewed`,
    );
    expect(other.sim.requests.list()).toHaveLength(0);
    await client.close();
  });

  it('refuses a certificate from the same CA that is not the pinned one', async () => {
    const impostor = createServerCertificate(simulatorCa(kics), ['127.0.0.1']);
    const server = await startLoopbackKics(impostor, () => ({ status: 200, body: tokenAnswer() }));
    try {
      const client = await createKicsClient(kicsConfigFor({ ...kics, url: server.url }), { logger: captureLog().logger });
      const error = (await client.about().catch((e: unknown) => e)) as KicsApiError;
      expect(error.code).toBe('KICS_TLS_PIN_MISMATCH');
      expect(error.message).toContain(`SHA-256 ${new X509Certificate(impostor.cert).fingerprint256}`);
      expect(error.message).toContain(`the pinned certificate from the communication data package is`);
      expect(error.message).toContain(pinned());
      expect(server.requests).toHaveLength(0);
      await client.close();
    } finally {
      await server.close();
    }
  });

  it('says the connector certificate may not be accepted when KICS closes the connection after the handshake', async () => {
    const foreign = path.join(dir, 'foreign');
    await kics.sim.writeClientPackage(foreign, { kind: 'foreign', password: 'pw' });
    const client = await createKicsClient(kicsConfigFor({ url: kics.url, packageDir: foreign, packagePassword: 'pw' }, { retry: { retries: 1, minTimeoutMs: 5, maxTimeoutMs: 5 } }), { logger: captureLog().logger });
    const error = (await client.about().catch((e: unknown) => e)) as KicsApiError;
    expect(error.code).toBe('KICS_TLS_CLIENT_REFUSED');
    expect(error.message).toMatch(
      /^KICS token \(POST \/kics\/api\/auth\/v4\/token\): the connection to 127\.0\.0\.1:\d+ was lost before an answer \(\w+\); if this persists, KICS may not accept the connector certificate \(.*CN=kics-sync connector.*, issued by .*CN=Unrelated CA.*\): download the communication data package again \(2 attempts\)$/,
    );
    await client.close();
  });

  it('with kics.insecure: warns on every client it makes, and then accepts any server certificate', async () => {
    const stranger = createServerCertificate(createCa('Somebody else'), ['127.0.0.1']);
    let server: LoopbackServer | null = null;
    server = await startLoopbackKics(stranger, ({ path: p }) => (p.startsWith('/kics/api/auth/') ? { status: 200, body: tokenAnswer() } : { status: 200, body: JSON.stringify({ version: '4.0.0.1' }) }));
    try {
      for (let run = 0; run < 2; run += 1) {
        const log = captureLog();
        const client = await createKicsClient(kicsConfigFor({ ...kics, url: server.url }, { insecure: true }), { logger: log.logger });
        expect(log.lines.filter((l) => l.level === 40 && String(l.msg).startsWith('kics.insecure is set: the KICS server certificate is NOT verified'))).toHaveLength(1);
        expect((await client.about()).version).toBe('4.0.0.1');
        await client.close();
      }
      const verified = await createKicsClient(kicsConfigFor({ ...kics, url: server.url }), { logger: captureLog().logger });
      expect(((await verified.about().catch((e: unknown) => e)) as KicsApiError).code).toBe('KICS_TLS_UNTRUSTED');
      await verified.close();
    } finally {
      await server.close();
    }
  });
});
