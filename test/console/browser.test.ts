import { existsSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildConsole } from '../../src/console/server.js';
import { addUser } from '../../src/console/users.js';
import { silentLogger } from '../../src/log.js';
import { describeEachEngine } from '../support/db.js';
import { bobsPlan, mixedPlan } from './support.js';
import { startPlant, type Plant } from '../e2e/plant.js';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc-provider.js';

/**
 * The review console in a real browser: Debian's chromium driven by playwright-core, on both
 * databases. Under CI=true a missing Chromium fails the run; elsewhere the test is skipped with a warning.
 */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ci = process.env.CI === 'true' || process.env.CI === '1';
const haveChromium = existsSync(chromiumPath);
if (!haveChromium && !ci) process.stderr.write(`\n!!! ${chromiumPath} not found: the console browser test is SKIPPED. Install Debian's chromium package to run it. !!!\n\n`);
const launchOptions = {
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

/** A new tab; dialogs (an `alert()` that got through) are dismissed and their text kept in `dialogs`. */
async function openPage(context: BrowserContext, dialogs: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return page;
}

/**
 * Clicks what submits a form or follows a link and waits for the document it leads to: waiting for
 * "load" after the click could see the page that was already there.
 */
async function submit(target: Locator): Promise<void> {
  await Promise.all([target.page().waitForEvent('load'), target.click()]);
}

(haveChromium || ci ? describe : describe.skip)('review console in Chromium', () => {
  let context: BrowserContext;
  beforeAll(async () => {
    if (!haveChromium) throw new Error(`CI=true and ${chromiumPath} is missing: the console must be tested in a browser (apt-get install chromium)`);
    context = await chromium.launchPersistentContext(path.join(mkdtempSync(path.join(os.tmpdir(), 'kics-sync-console-')), 'profile'), launchOptions);
  });
  afterAll(async () => {
    await context?.close();
  });

  describeEachEngine('pages', (t) => {
    let app: FastifyInstance;
    let base: string;
    let page: Page;
    const dialogs: string[] = [];
    const cspViolations: string[] = [];

    beforeEach(async () => {
      app = await buildConsole({ db: t().db, logger: silentLogger() });
      base = await app.listen({ host: '127.0.0.1', port: 0 });
      await context.clearCookies();
      page = await openPage(context, dialogs);
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
      });
      await mixedPlan(t().db, { owner: '<img src=x onerror=alert(3)>' });
      await addUser(t().db, { name: 'bob', role: 'owner', owners: ['bob'], password: 'bob-password-123' });
    });
    afterEach(async () => {
      await page.close();
      await app.close();
      await t().db.execute(`TRUNCATE console_user, api_token, plan CASCADE`);
    });

    const signIn = async (name: string, password: string): Promise<void> => {
      await page.goto(`${base}/login`);
      await page.getByLabel('User').fill(name);
      await page.getByLabel('Password').fill(password);
      await submit(page.getByRole('button', { name: 'Sign in' }));
    };

    it('an owner signs in and sees their plan with only their items counted; data shows as text, nothing runs', async () => {
      await page.goto(base);
      expect(new URL(page.url()).pathname).toBe('/login');
      await signIn('bob', 'wrong-password-1');
      expect(await page.getByRole('alert').textContent()).toBe('Unknown user or wrong password.');
      await signIn('bob', 'bob-password-123');
      expect(new URL(page.url()).pathname).toBe('/');
      expect(await page.getByText('Signed in as bob (owner: bob).').isVisible()).toBe(true);
      const row = page.getByRole('row').filter({ hasText: 'draft' });
      expect(await row.getByRole('cell').nth(4).textContent()).toBe('2');
      expect(await row.getByRole('cell').nth(3).textContent()).toBe('owner <img src=x onerror=alert(3)>');
      expect(dialogs).toEqual([]);
      expect(cspViolations).toEqual([]);
      // The stylesheet is the console's own.
      expect(await page.locator('body').evaluate((body) => (body as unknown as { ownerDocument: { defaultView: { getComputedStyle(e: unknown): { fontFamily: string } } } }).ownerDocument.defaultView.getComputedStyle(body).fontFamily)).toContain('system-ui');

      await submit(page.getByRole('button', { name: 'Sign out' }));
      expect(new URL(page.url()).pathname).toBe('/login');
    });

    it('an owner approves a plan of their own items from the plans page; a plan with other owners\' items is refused and says why', async () => {
      const own = await bobsPlan(t().db);
      await signIn('bob', 'bob-password-123');
      await submit(page.getByRole('button', { name: `Approve plan ${own}` }));
      expect(new URL(page.url()).pathname).toBe(`/plans/${own}`);
      expect(await page.getByText('Status approved').isVisible()).toBe(true);
      await page.goto(base);
      const row = page.getByRole('row').filter({ has: page.getByRole('cell', { name: `Plan ${own}`, exact: true }) });
      expect(await row.getByRole('cell').nth(1).textContent()).toBe('approved');
      expect(await page.getByRole('button', { name: `Approve plan ${own}` }).count()).toBe(0);

      const mixed = own - 1;
      await submit(page.getByRole('button', { name: `Approve plan ${mixed}` }));
      expect(await page.getByRole('alert').textContent()).toMatch(/has 1 item\(s\) of other owners/);
      const [state] = await t().db.query<{ status: string }>(`SELECT status::text AS status FROM plan WHERE id = $1`, [mixed]);
      expect(state!.status).toBe('draft');
    });

    it('a form posted from another site is refused: the session stays, nothing changes', async () => {
      await signIn('bob', 'bob-password-123');
      // Another origin (another port is another site for the browser) posts a sign-out form to the console.
      const evil = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<form id="f" method="post" action="${base}/logout"><input name="x" value="1"></form><script>document.getElementById('f').submit()</script>`);
      });
      await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
      try {
        const responses: number[] = [];
        page.on('response', (r) => {
          if (r.url() === `${base}/logout`) responses.push(r.status());
        });
        await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
        await page.waitForURL(`${base}/logout`);
        expect(responses).toEqual([403]);
        await page.goto(base);
        expect(await page.getByText('Signed in as bob (owner: bob).').isVisible()).toBe(true);
      } finally {
        evil.closeAllConnections();
        evil.close();
      }
    });
  });
  describeEachEngine('an owner\'s review, from plan to apply', (t) => {
    let plant: Plant;
    let app: FastifyInstance;
    let base: string;
    let page: Page;
    const dialogs: string[] = [];

    beforeEach(async () => {
      plant = await startPlant(t().dataDir);
      app = await buildConsole({ db: t().db, logger: silentLogger(), runs: { config: plant.config(), dataDir: plant.dir } });
      base = await app.listen({ host: '127.0.0.1', port: 0 });
      await context.clearCookies();
      page = await openPage(context, dialogs);
      await addUser(t().db, { name: 'bob', role: 'owner', owners: ['bob'], password: 'bob-password-123' });
      await addUser(t().db, { name: 'carol', role: 'owner', owners: ['carol'], password: 'carol-password-123' });
    });
    afterEach(async () => {
      await page.close();
      await app.close();
      await plant.close();
      await t().db.execute(`TRUNCATE console_user, api_token, plan, decision, sync_run CASCADE`);
    });

    const signIn = async (name: string, password: string): Promise<void> => {
      await context.clearCookies();
      await page.goto(`${base}/login`);
      await page.getByLabel('User').fill(name);
      await page.getByLabel('Password').fill(password);
      await submit(page.getByRole('button', { name: 'Sign in' }));
    };
    /** Starts a plan of Bob's assets from the plans page, waits on the run's page (it reloads itself), opens the plan. */
    const planMine = async (): Promise<number> => {
      await page.goto(base);
      await submit(page.getByRole('button', { name: 'Start a plan' }));
      expect(new URL(page.url()).pathname).toMatch(/^\/runs\/\d+$/);
      await app.consoleRuns!.idle();
      // The run's page reloads itself until the run has ended, then links to its plan.
      const link = page.getByRole('link', { name: /^plan \d+$/ });
      await link.waitFor();
      const planId = Number((await link.textContent())!.replace('plan ', ''));
      await submit(link);
      return planId;
    };
    const openItem = async (planId: number, deviceName: string): Promise<void> => {
      await page.goto(`${base}/plans/${planId}?q=${encodeURIComponent(deviceName)}`);
      await submit(page.getByRole('row').filter({ hasText: deviceName }).first().getByRole('link').first());
    };

    it('an owner plans their assets, rejects one change with a reason, pins a conflict, approves the rest and applies; the next plan holds the rejected change and follows the pin; another owner sees none of it', async () => {
      const [d0, d1, a, b] = plant.devices;
      const split = { id: 'C-split', name: 'PLC-SPLIT', mac: a!.addressInformation[0]!.macAddress!, ip: b!.addressInformation[0]!.ipAddresses[0]!.ip, owner: 'bob' };
      plant.writeCmdb([
        plant.rowOf(d0!, { description: 'not yet' }),
        plant.rowOf(d1!, { description: '<script>alert(1)</script> checked' }),
        split,
        plant.rowOf(plant.devices[4]!, { description: 'carol\'s change', owner: 'carol' }),
      ]);
      await signIn('bob', 'bob-password-123');
      const first = await planMine();
      // Only Bob's items: Carol's change is not in a plan scoped to Bob.
      expect(await page.getByRole('cell', { name: plant.devices[4]!.name, exact: true }).count()).toBe(0);
      expect(await page.getByRole('img', { name: 'items by action' }).isVisible()).toBe(true);

      // Reject one change with a reason.
      await openItem(first, d0!.name);
      expect(await page.getByRole('cell', { name: 'not yet', exact: true }).isVisible()).toBe(true);
      await page.getByLabel('Reason').first().fill('the PLC is being commissioned');
      await submit(page.getByRole('button', { name: 'Reject this change' }));
      expect(await page.getByText('Decision', { exact: false }).filter({ hasText: 'the PLC is being commissioned' }).isVisible()).toBe(true);
      expect(await page.getByText('held by decision').isVisible()).toBe(true);

      // Settle the conflict: this record is device a.
      await openItem(first, 'PLC-SPLIT');
      expect(await page.getByRole('heading', { name: 'Conflict: mac_ip_split' }).isVisible()).toBe(true);
      await page.getByRole('radio', { name: /PLC-SPLIT/ }).check();
      await page.getByRole('radio', { name: new RegExp(`^${a!.id} `) }).check();
      await page.getByLabel('Reason').nth(0).fill('the cabinet label says so');
      await submit(page.getByRole('button', { name: 'Pin the match' }));
      expect(new URL(page.url()).pathname).toBe('/decisions');
      expect(await page.getByRole('cell', { name: 'the cabinet label says so' }).isVisible()).toBe(true);

      // Approve the rest (the plan as a whole) and apply it.
      await page.goto(`${base}/plans/${first}`);
      await submit(page.getByRole('button', { name: `Approve plan ${first}` }));
      await submit(page.getByRole('button', { name: `Apply plan ${first}` }));
      await app.consoleRuns!.idle();
      await page.getByRole('cell', { name: 'succeeded' }).waitFor();
      expect(plant.sim.sim.store.get(d1!.id)!.description).toBe('<script>alert(1)</script> checked');
      expect(plant.sim.sim.store.get(d0!.id)!.description).not.toBe('not yet');
      const audit = await t().db.query<{ actor: string; operation: string }>(`SELECT actor, operation FROM audit_record WHERE plan_id = $1 ORDER BY id`, [first]);
      expect(audit.map((r) => r.operation)).toEqual(expect.arrayContaining(['decide_hold', 'approve_plan', 'update']));
      expect(new Set(audit.filter((r) => ['decide_hold', 'approve_plan', 'update'].includes(r.operation)).map((r) => r.actor))).toEqual(new Set(['console:bob']));

      // The device's history shows the change, by Bob, as text.
      await page.goto(`${base}/devices/${d1!.id}`);
      expect(await page.getByText('<script>alert(1)</script> checked', { exact: false }).first().isVisible()).toBe(true);

      // The next plan: the rejected change held by decision, the pinned record matched to device a.
      const second = await planMine();
      await openItem(second, d0!.name);
      expect(await page.getByText('held by decision').first().isVisible()).toBe(true);
      expect(await page.getByText('the PLC is being commissioned').isVisible()).toBe(true);
      await page.goto(`${base}/plans/${second}?action=conflict`);
      expect(await page.getByRole('cell', { name: 'PLC-SPLIT' }).count()).toBe(0);
      await page.goto(`${base}/plans/${second}?action=update&q=${encodeURIComponent(a!.name)}`);
      expect(await page.getByRole('row').filter({ hasText: a!.name }).count()).toBeGreaterThan(0);
      expect(dialogs).toEqual([]);

      // Carol: none of Bob's items, in the page or through the API.
      await signIn('carol', 'carol-password-123');
      await page.goto(`${base}/plans/${second}`);
      expect(await page.getByRole('cell', { name: d0!.name, exact: true }).count()).toBe(0);
      const refused = await page.goto(`${base}/plans/${second}/items/1`);
      expect(refused!.status()).toBe(403);
      const api = await page.request.get(`${base}/api/v1/plans/${second}/items/1`);
      expect(api.status()).toBe(403);
      expect(await api.json()).toEqual({ error: 'this item belongs to another owner' });
      await page.goto(base);
      const csrf = (await page.locator('input[name=_csrf]').first().getAttribute('value'))!;
      const approve = await page.request.post(`${base}/api/v1/plans/${second}/approve`, { headers: { 'csrf-token': csrf } });
      expect(approve.status()).toBe(403);
      expect(((await approve.json()) as { error: string }).error).toMatch(/item\(s\) of other owners/);
    });
  });
  describeEachEngine('single sign-on with OpenID Connect', (t) => {
    let idp: TestOidcProvider;
    let app: FastifyInstance;
    let base: string;
    let page: Page;

    beforeEach(async () => {
      // The console's port is known only once it listens; the provider needs the callback first: reserve a port.
      const probe = http.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const port = (probe.address() as AddressInfo).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      base = `http://127.0.0.1:${port}`;
      idp = await startOidcProvider({ redirectUri: `${base}/auth/callback`, groups: { bob: ['plant-a-engineers'], ada: ['kics-admins'], stranger: ['visitors'] } });
      app = await buildConsole({
        db: t().db,
        logger: silentLogger(),
        oidc: {
          issuer: idp.issuer,
          clientId: idp.clientId,
          clientSecret: idp.clientSecret,
          redirectUri: `${base}/auth/callback`,
          scopes: ['openid', 'profile'],
          nameClaim: 'preferred_username',
          claim: 'groups',
          label: 'Sign in with the plant directory',
          map: { 'plant-a-engineers': { role: 'owner', owners: ['bob', 'line 2'] }, 'kics-admins': { role: 'admin', owners: [] } },
        },
      });
      await app.listen({ host: '127.0.0.1', port });
      await context.clearCookies();
      page = await context.newPage();
      await mixedPlan(t().db);
    });
    afterEach(async () => {
      await page.close();
      await app.close();
      await idp.close();
      await t().db.execute(`TRUNCATE console_user, api_token, plan CASCADE`);
    });

    const signInWithProvider = async (account: string): Promise<void> => {
      await context.clearCookies();
      await page.goto(`${base}/login`);
      await submit(page.getByRole('link', { name: 'Sign in with the plant directory' }));
      // The provider's own login form.
      expect(new URL(page.url()).origin).toBe(idp.issuer);
      await page.locator('input[name=login]').fill(account);
      await page.locator('input[name=password]').fill('any password');
      await page.locator('button[type=submit]').first().click();
      await page.waitForURL((url) => url.origin === base);
      await page.waitForLoadState('load');
    };

    it('a user signs in at the provider and gets the role and owners their groups map to; only their items; a user whose groups map to nothing is refused', async () => {
      await signInWithProvider('bob');
      expect(new URL(page.url()).pathname).toBe('/');
      expect(await page.getByText('Signed in as bob (owner: bob, line 2).').isVisible()).toBe(true);
      const row = page.getByRole('row').filter({ hasText: 'draft' });
      expect(await row.getByRole('cell').nth(4).textContent()).toBe('2');
      const [stored] = await t().db.query<{ role: string; owners: string[]; password_hash: string | null; oidc_subject: string }>(`SELECT role::text AS role, owners, password_hash, oidc_subject FROM console_user WHERE name = 'bob'`);
      expect(stored).toEqual({ role: 'owner', owners: ['bob', 'line 2'], password_hash: null, oidc_subject: `${idp.issuer} bob` });

      await signInWithProvider('stranger');
      expect(await page.getByRole('alert').textContent()).toBe('stranger signed in, but none of their groups maps to an owner or a role in kics-sync (console.oidc.map): ask an admin');
      await page.goto(base);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await t().db.query(`SELECT 1 FROM console_user WHERE name = 'stranger'`)).toEqual([]);

      await signInWithProvider('ada');
      expect(await page.getByText('Signed in as ada (admin).').isVisible()).toBe(true);
      // A callback nobody started is refused.
      const forged = await page.goto(`${base}/auth/callback?code=x&state=y`);
      expect(forged!.status()).toBe(400);
    });
  });
});
