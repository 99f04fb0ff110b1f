import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { KscPxgError } from '../../../src/adapters/ksc/errors.js';
import { matchesFilter, parseFilter } from '../../../src/simulator/ksc/filter.js';
import { ipToLong } from '../../../src/simulator/ksc/state.js';
import { startSimulator, type SimulatorHandle } from '../../adapters/ksc/simulator-handle.js';

describe('KSC simulator', () => {
  let h: SimulatorHandle;
  let agent: Agent;
  beforeAll(async () => {
    h = await startSimulator({ hosts: [{ id: 'h1', displayName: 'PLC-1', ip: '10.0.0.1', macs: ['00:1b:1b:00:00:01'] }] });
    agent = new Agent({ connect: { ca: h.sim.caPem } });
  });
  afterAll(async () => {
    await agent.close();
    await h.close();
  });

  const post = async (method: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, unknown> }> => {
    const response = await request(`${h.sim.url}/api/v1.0/${method}`, { method: 'POST', dispatcher: agent, body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
    const text = await response.body.text();
    return { status: response.statusCode, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: response.headers };
  };
  const basic = `KSCBasic user="${Buffer.from('kics-sync').toString('base64')}", pass="${Buffer.from('kics-sync-simulator').toString('base64')}", internal="1"`;

  it('writes its CA certificate and URLs to the state directory', () => {
    expect(readFileSync(h.sim.caFile, 'utf8')).toBe(h.sim.caPem);
    expect(JSON.parse(readFileSync(path.join(h.dir, 'ksc-simulator.json'), 'utf8'))).toEqual({ url: h.sim.url, adminUrl: h.sim.adminUrl, caFile: h.sim.caFile });
  });

  it('answers 401 without a session, 403 for a session it does not know', async () => {
    expect((await post('Session.Ping', {})).status).toBe(401);
    expect((await post('Session.Ping', {}, { 'X-KSC-Session': 'nsid-made-up' })).status).toBe(403);
  });

  it('logs in with POST /login and a session cookie, as well as with Session.StartSession', async () => {
    const login = await post('login', {}, { Authorization: basic });
    expect(login.status).toBe(200);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect((await post('Session.Ping', {}, { Cookie: cookie })).status).toBe(200);
    const started = await post('Session.StartSession', {}, { Authorization: basic });
    expect(started.body.PxgRetVal).toMatch(/^nsid/);
    expect((await post('Session.EndSession', {}, { 'X-KSC-Session': started.body.PxgRetVal as string })).status).toBe(200);
    expect((await post('Session.Ping', {}, { 'X-KSC-Session': started.body.PxgRetVal as string })).status).toBe(403);
  });

  it('refuses a login with the wrong internal flag or password', async () => {
    const domainUser = basic.replace('internal="1"', 'internal="0"');
    expect((await post('Session.StartSession', {}, { Authorization: domainUser })).status).toBe(401);
    expect((await post('Session.StartSession', {}, { Authorization: 'KSCBasic user="eA==", pass="eA==", internal="1"' })).status).toBe(401);
  });

  it('is strict about what it is sent: types, attribute names, lifetimes, Content-Type', async () => {
    const client = h.client();
    const refused = async (method: string, args: Record<string, unknown>): Promise<string> => {
      const error = await client.call(method, args as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KscPxgError);
      return (error as KscPxgError).message;
    };
    expect(await refused('HostGroup.FindHosts', { wstrFilter: '', vecFieldsToReturn: ['KLHST_WKS_NO_SUCH'], lMaxLifeTime: 100 })).toMatch(/unknown host attribute KLHST_WKS_NO_SUCH/);
    expect(await refused('HostGroup.FindHosts', { wstrFilter: '', vecFieldsToReturn: ['KLHST_WKS_DN'], lMaxLifeTime: 7201 })).toMatch(/lMaxLifeTime must be 1\.\.7200/);
    expect(await refused('HostGroup.FindHosts', { wstrFilter: '(NOPE = 1)', vecFieldsToReturn: ['KLHST_WKS_DN'], lMaxLifeTime: 100 })).toMatch(/unknown attribute NOPE in the filter/);
    expect(await refused('ChunkAccessor.GetItemsChunk', { strAccessor: 'x', nStart: 0, nCount: 1 })).toMatch(/not found/);
    expect(await refused('ServiceNwcCommandProvider.SetCommandError', { wstrCommandId: 'nope', pError: {} })).toMatch(/not found/);
    const session = await post('Session.StartSession', {}, { Authorization: basic });
    const plain = await request(`${h.sim.url}/api/v1.0/Session.Ping`, { method: 'POST', dispatcher: agent, body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded', 'X-KSC-Session': session.body.PxgRetVal as string } });
    expect(plain.statusCode).toBe(400);
    await plain.body.text();
  });

  it('checks the command error container it is given', async () => {
    const client = h.client();
    const { commandId } = await h.admin<{ commandId: string }>('POST', '/commands', { name: 'status' });
    const error = await client.call('ServiceNwcCommandProvider.SetCommandError', { wstrCommandId: commandId, pError: { CMD_ERR_STR_ID: 'ERR_MADE_UP', CMD_ERR_ORIGINATOR_ID: 'x', CMD_ERR_DESCR: 'd' } }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/ERR_MADE_UP.*not a known error id/);
    await client.call('ServiceNwcCommandProvider.SetCommandError', { wstrCommandId: commandId, pError: { CMD_ERR_STR_ID: 'ERR_NO_BACKEND', CMD_ERR_ORIGINATOR_ID: 'x', CMD_ERR_DESCR: 'KICS down' } });
    const again = await client.call('ServiceNwcCommandProvider.SetCommandResult', { wstrCommandId: commandId, pResult: {} }).catch((e: unknown) => e);
    expect((again as Error).message).toMatch(/already answered/);
    expect(await h.admin('GET', `/commands/${commandId}`)).toMatchObject({ status: 'error', error: { CMD_ERR_STR_ID: 'ERR_NO_BACKEND' } });
  });

  it('serves KLHST_WKS_IP_LONG as paramLong and KLHST_WKS_LAST_VISIBLE as datetime', async () => {
    const session = await post('Session.StartSession', {}, { Authorization: basic });
    const headers = { 'X-KSC-Session': session.body.PxgRetVal as string };
    const found = await post('HostGroup.FindHosts', { wstrFilter: '(KLHST_WKS_DN = "plc-*")', vecFieldsToReturn: ['KLHST_WKS_IP_LONG', 'KLHST_WKS_LAST_VISIBLE'], vecFieldsToOrder: [], pParams: {}, lMaxLifeTime: 60 }, headers);
    expect(found.body.PxgRetVal).toBe(1);
    const chunk = await post('ChunkAccessor.GetItemsChunk', { strAccessor: found.body.strAccessor, nStart: 0, nCount: 10 }, headers);
    const item = (chunk.body.pChunk as { KLCSP_ITERATOR_ARRAY: { type: string; value: Record<string, { type: string; value: unknown }> }[] }).KLCSP_ITERATOR_ARRAY[0]!;
    expect(item.type).toBe('params');
    expect(item.value.KLHST_WKS_IP_LONG).toEqual({ type: 'long', value: 167772161 });
    expect(item.value.KLHST_WKS_LAST_VISIBLE!.type).toBe('datetime');
    expect(String(item.value.KLHST_WKS_LAST_VISIBLE!.value)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it('delivers a command issued before any console subscribed to the first console that does', async () => {
    await h.admin('POST', '/commands', { name: 'plan', productName: 'early-product', productVersion: '2' });
    const client = h.client();
    await client.call('ConEvents.Subscribe', { wstrEvent: 'KLSRV_EV_PROD_BACKEND_CMD', pFilter: { CMD_PROD_NAME: 'early-product', CMD_PROD_VERSION: '2' } }, { idempotent: false });
    h.sim.core.settings.pollPeriodMs = 0;
    try {
      const retrieved = await client.call('ConEvents.Retrieve', {}, { idempotent: false });
      expect(Array.isArray(retrieved.out.pEvents) && retrieved.out.pEvents.length).toBe(1);
    } finally {
      h.sim.core.settings.pollPeriodMs = 1_000;
    }
  });
});

describe('KSC search filter syntax', () => {
  const host = { KLHST_WKS_DN: 'PLC-07', KLHST_WKS_GROUPID: 4, KLHST_WKS_FROM_UNASSIGNED: false, KLHST_WKS_LAST_VISIBLE: new Date('2026-05-01T10:00:00Z') };
  const check = (filter: string): boolean => matchesFilter(parseFilter(filter), host);

  it('evaluates comparisons, wildcards, and / or / not', () => {
    expect(check('(KLHST_WKS_DN = "plc-*")')).toBe(true);
    expect(check('(KLHST_WKS_DN <> "PLC-07")')).toBe(false);
    expect(check('(&(KLHST_WKS_GROUPID >= 4)(KLHST_WKS_FROM_UNASSIGNED = 0))')).toBe(true);
    expect(check('(|(KLHST_WKS_GROUPID = 1)(KLHST_WKS_GROUPID = 2))')).toBe(false);
    expect(check('(!(KLHST_WKS_GROUPID = 1))')).toBe(true);
    expect(check('(KLHST_WKS_LAST_VISIBLE > T"2026-04-30 00:00:00")')).toBe(true);
    expect(check('(KLHST_WKS_DN = "say \\"hi\\"")')).toBe(false);
    expect(matchesFilter(parseFilter(''), host)).toBe(true);
  });

  it('refuses malformed filters with the position', () => {
    expect(() => parseFilter('(KLHST_WKS_DN = "x"')).toThrow(/expected "\)"/);
    expect(() => parseFilter('(&)')).toThrow(/has no operands/);
    expect(() => parseFilter('(KLHST_WKS_DN ~ 1)')).toThrow(/expected a comparison/);
    expect(() => parseFilter('(A = 1) trailing')).toThrow(/unexpected/);
  });

  it('converts IPv4 to KLHST_WKS_IP_LONG', () => {
    expect(ipToLong('10.0.0.50')).toBe(167772210);
    expect(ipToLong('255.255.255.255')).toBe(4294967295);
    expect(ipToLong(null)).toBe(0);
  });
});
