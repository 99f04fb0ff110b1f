import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KscClient, authorizationHeader } from '../../../src/adapters/ksc/client.js';
import { KscError, KscPxgError, klstdCodes } from '../../../src/adapters/ksc/errors.js';
import { parseConfig } from '../../../src/config/index.js';
import { captureLogger, startSimulator, type SimulatorHandle } from './simulator-handle.js';

describe('KSC Open API client against the simulator over HTTPS', () => {
  let h: SimulatorHandle;
  beforeAll(async () => {
    h = await startSimulator({ tokens: ['ksct-token-of-a-service-account'] });
  });
  afterAll(async () => {
    await h.close();
  });

  const callsOf = (method: string): number => h.sim.core.calls.filter((c) => c.method === method).length;

  it('logs in with KSCBasic, verifying the server certificate against the configured CA', async () => {
    const client = h.client();
    const info = await client.call('HostGroup.GetStaticInfo', { pValues: ['KLADMSRV_SERVER_VERSION_ID'] });
    expect(info.retval).toEqual({ KLADMSRV_SERVER_VERSION_ID: h.sim.core.serverVersion });
    expect(client.sessionGeneration).toBe(1);
  });

  it('reads the CA from the file ksc.ca names, as a deployment does', async () => {
    const config = parseConfig({ ksc: { url: h.sim.url, user: 'kics-sync', password: 'kics-sync-simulator', internalUser: true, ca: h.sim.caFile } }, { env: {} });
    const client = await KscClient.fromConfig(config.ksc!, captureLogger().logger);
    try {
      await client.login();
      expect(client.sessionGeneration).toBe(1);
    } finally {
      await client.close();
    }
    expect(readFileSync(h.sim.caFile, 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it('refuses a server certificate it cannot verify, and says to set ksc.ca', async () => {
    const client = h.client({ ca: undefined });
    const error = await client.login().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KscError);
    expect((error as KscError).code).toBe('KSC_TLS_UNTRUSTED');
    expect((error as KscError).message).toMatch(/ksc\.ca/);
  });

  it('with ksc.insecure connects without verification and warns about it', async () => {
    const { logger, lines } = captureLogger();
    const config = parseConfig({ ksc: { url: h.sim.url, user: 'kics-sync', password: 'kics-sync-simulator', internalUser: true, insecure: true } }, { env: {} });
    const client = await KscClient.fromConfig(config.ksc!, logger);
    try {
      await client.login();
    } finally {
      await client.close();
    }
    expect(lines().some((l) => /"level":40/.test(l) && /NOT verified/.test(l))).toBe(true);
  });

  it('logs in with a KSCT token', async () => {
    const client = h.client({ credentials: { kind: 'token', token: 'ksct-token-of-a-service-account' } });
    await client.login();
    expect(client.sessionGeneration).toBe(1);
  });

  it('reports a refused login once, without retrying it and without the password anywhere', async () => {
    const { logger, lines } = captureLogger();
    const before = h.sim.core.stats.failedLogins;
    const client = h.client({ credentials: { kind: 'basic', user: 'kics-sync', password: 'wrong-Pa55word', internal: true }, logger });
    const error = await client.call('Session.Ping').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KscError);
    expect((error as KscError).code).toBe('KSC_AUTH_FAILED');
    expect(h.sim.core.stats.failedLogins - before).toBe(1);
    const everything = [String((error as Error).message), JSON.stringify((error as KscError).toJSON()), ...lines()].join('\n');
    expect(everything).not.toContain('wrong-Pa55word');
    expect(everything).not.toContain(Buffer.from('wrong-Pa55word').toString('base64'));
  });

  it('logs in again when KSC forgets the session, and the call still succeeds', async () => {
    const client = h.client();
    await client.login();
    const logins = h.sim.core.stats.logins;
    await h.admin('POST', '/sessions/expire');
    const info = await client.call('HostGroup.GetStaticInfo', { pValues: ['KLADMSRV_PRODUCT_NAME'] });
    expect(info.retval).toHaveProperty('KLADMSRV_PRODUCT_NAME');
    expect(h.sim.core.stats.logins - logins).toBe(1);
    expect(client.sessionGeneration).toBe(2);
  });

  it('logs in again when the session idles out (the expiry knob)', async () => {
    const client = h.client();
    await client.login();
    h.sim.core.settings.sessionIdleMs = 30;
    try {
      await new Promise((resolve) => setTimeout(resolve, 80));
      await client.call('Session.Ping');
      expect(client.sessionGeneration).toBe(2);
    } finally {
      h.sim.core.settings.sessionIdleMs = 30 * 60_000;
    }
  });

  it('maps a PxgError to a typed error with code, module and message, and does not retry it', async () => {
    const client = h.client();
    const before = callsOf('ChunkAccessor.GetItemsCount');
    const error = await client.call('ChunkAccessor.GetItemsCount', { strAccessor: 'no-such-accessor' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KscPxgError);
    const pxg = error as KscPxgError;
    expect(pxg.is('STDE_NOTFOUND')).toBe(true);
    expect(pxg.code).toBe('KSC_CALL_REFUSED');
    expect(pxg.retryable).toBe(false);
    expect(pxg.pxg).toMatchObject({ code: klstdCodes.STDE_NOTFOUND, module: 'KLSTD' });
    expect(pxg.message).toMatch(/ChunkAccessor\.GetItemsCount.*not found.*KLSTD STDE_NOTFOUND/);
    expect(pxg.toJSON()).toMatchObject({ method: 'ChunkAccessor.GetItemsCount', pxgCode: klstdCodes.STDE_NOTFOUND, pxgModule: 'KLSTD' });
    expect(callsOf('ChunkAccessor.GetItemsCount') - before).toBe(1);
  });

  it('treats a PxgError as KSC\'s answer also when it comes with HTTP 500', async () => {
    const client = h.client();
    h.sim.core.settings.pxgErrorStatus = 500;
    try {
      const before = callsOf('ChunkAccessor.Release');
      const error = await client.call('ChunkAccessor.Release', { strAccessor: 'gone' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KscPxgError);
      expect(callsOf('ChunkAccessor.Release') - before).toBe(1);
    } finally {
      h.sim.core.settings.pxgErrorStatus = 200;
    }
  });

  it('retries transient failures (HTTP 503, a dropped connection) of a call that is safe to repeat', async () => {
    const client = h.client();
    await client.login();
    await h.admin('POST', '/failures', { method: 'Session.Ping', count: 2, status: 503 });
    const before = callsOf('Session.Ping');
    await client.call('Session.Ping');
    expect(callsOf('Session.Ping') - before).toBe(3);

    await h.admin('POST', '/failures', { method: 'HostGroup.GetStaticInfo', count: 1, drop: true });
    const info = await client.call('HostGroup.GetStaticInfo', { pValues: ['KLADMSRV_SERVER_VERSION_ID'] });
    expect(info.retval).toHaveProperty('KLADMSRV_SERVER_VERSION_ID');
  });

  it('does not repeat a call that is not safe to repeat once it may have reached KSC', async () => {
    const client = h.client();
    await client.login();
    await h.admin('POST', '/failures', { method: 'ConEvents.Subscribe', count: 1, status: 503 });
    const before = callsOf('ConEvents.Subscribe');
    const error = await client.call('ConEvents.Subscribe', { wstrEvent: 'KLSRV_EVENT_HOSTS_NEW_DETECTED', pFilter: {} }, { idempotent: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KscError);
    expect((error as KscError).code).toBe('KSC_HTTP_ERROR');
    expect(callsOf('ConEvents.Subscribe') - before).toBe(1);
  });

  it('gives up on retries with an error that names KSC and the method', async () => {
    const client = h.client();
    await client.login();
    await h.admin('POST', '/failures', { method: 'Session.Ping', count: 10, status: 502 });
    const error = await client.call('Session.Ping').catch((e: unknown) => e);
    expect((error as KscError).message).toMatch(/KSC at 127\.0\.0\.1:\d+: Session\.Ping answered HTTP 502/);
    h.sim.core.failures.length = 0;
  });

  it('sends one request at a time per connection and queues the rest', async () => {
    const client = h.client();
    await client.login();
    h.sim.core.settings.latencyMs = 15;
    h.sim.core.stats.maxConcurrentPerConnection = 0;
    try {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => client.call('HostGroup.GetStaticInfo', { pValues: [i % 2 ? 'KLADMSRV_PRODUCT_NAME' : 'KLADMSRV_SERVER_VERSION_ID'] })));
      expect(results).toHaveLength(12);
      expect(results.every((r) => r.retval !== null)).toBe(true);
      expect(h.sim.core.stats.maxConcurrentPerConnection).toBe(1);
    } finally {
      h.sim.core.settings.latencyMs = 0;
    }
  });

  it('builds the KSCBasic header as KSC expects it (base64 user and password)', () => {
    expect(authorizationHeader({ kind: 'basic', user: 'adm', password: 'p"w', internal: true })).toBe(`KSCBasic user="${Buffer.from('adm').toString('base64')}", pass="${Buffer.from('p"w').toString('base64')}", internal="1"`);
    expect(authorizationHeader({ kind: 'token', token: 'abc' })).toBe('KSCT abc');
  });
});
