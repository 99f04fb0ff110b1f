import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKscSimulator, type KscSimulator } from '../../src/simulator/ksc/index.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../support/kics-simulator.js';

/**
 * The simulators' admin endpoints listen on loopback, where a browser on the same machine reaches them
 * too: a page must not fetch a connector key or delete devices through DNS rebinding, from another
 * site, or with a form post.
 */
describe('the simulators\' admin endpoints refuse what a browser page could send', () => {
  let kics: TestKicsSimulator;
  let ksc: KscSimulator;
  beforeAll(async () => {
    kics = await startTestKicsSimulator({ devices: 2 });
    ksc = await startKscSimulator({ stateDir: mkdtempSync(path.join(os.tmpdir(), 'kics-sync-ksc-admin-')) });
  });
  afterAll(async () => {
    await kics.close();
    await ksc.close();
  });

  const endpoints = () => [
    { name: 'KICS', read: `${kics.sim.adminUrl}/admin/devices`, write: `${kics.sim.adminUrl}/admin/tokens/revoke`, body: '{}' },
    { name: 'KSC', read: `${ksc.adminUrl}/hosts`, write: `${ksc.adminUrl}/sessions/expire`, body: '{}' },
  ];

  it('a foreign Host (DNS rebinding): 403, nothing read', async () => {
    for (const e of endpoints()) {
      const answer = await request(e.read, { headers: { host: 'attacker.example:80' } });
      expect(answer.statusCode, e.name).toBe(403);
      expect(JSON.stringify(await answer.body.json())).toContain('Host was \\"attacker.example:80\\"');
    }
  });

  it('a foreign Origin (another site): 403, nothing changed', async () => {
    const tokens = kics.sim.tokens.counts();
    for (const e of endpoints()) {
      const answer = await request(e.write, { method: 'POST', headers: { origin: 'https://attacker.example', 'content-type': 'application/json' }, body: e.body });
      expect(answer.statusCode, e.name).toBe(403);
      expect(await answer.body.text()).toContain('cross-site');
    }
    expect(kics.sim.tokens.counts()).toEqual(tokens);
  });

  it('a form post (text/plain or form-encoded body): 415', async () => {
    for (const e of endpoints()) {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
        const answer = await request(e.write, { method: 'POST', headers: { 'content-type': type }, body: e.body });
        expect(answer.statusCode, `${e.name} ${type}`).toBe(415);
        await answer.body.text();
      }
    }
  });

  it('still answers its own clients: loopback Host, no Origin or a loopback one, JSON bodies', async () => {
    for (const e of endpoints()) {
      const read = await request(e.read);
      expect(read.statusCode, e.name).toBe(200);
      await read.body.text();
      const write = await request(e.write, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://localhost:3000' }, body: e.body });
      expect(write.statusCode, e.name).toBeLessThan(300);
      await write.body.text();
    }
  });
});
