import { existsSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildConsole } from '../../src/console/server.js';
import { addUser } from '../../src/console/users.js';
import { silentLogger } from '../../src/log.js';
import { describeEachEngine } from '../support/db.js';
import { bobsPlan, mixedPlan } from './support.js';

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
      page = await context.newPage();
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
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
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForLoadState('load');
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

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForLoadState('load');
      expect(new URL(page.url()).pathname).toBe('/login');
    });

    it('an owner approves a plan of their own items from the plans page; a plan with other owners\' items is refused and says why', async () => {
      const own = await bobsPlan(t().db);
      await signIn('bob', 'bob-password-123');
      await page.getByRole('button', { name: `Approve plan ${own}` }).click();
      await page.waitForLoadState('load');
      expect(new URL(page.url()).pathname).toBe('/');
      const row = page.getByRole('row').filter({ has: page.getByRole('cell', { name: String(own), exact: true }) });
      expect(await row.getByRole('cell').nth(1).textContent()).toBe('approved');
      expect(await page.getByRole('button', { name: `Approve plan ${own}` }).count()).toBe(0);

      const mixed = own - 1;
      await page.getByRole('button', { name: `Approve plan ${mixed}` }).click();
      await page.waitForLoadState('load');
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
});
