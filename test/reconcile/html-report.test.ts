import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReportText } from '../../src/reconcile/report/index.js';
import { asset, device, plan, record } from './support.js';

/**
 * The HTML report in a real browser: Debian's chromium, driven by playwright-core. Under CI=true a
 * missing Chromium fails the run (.ci/run installs it); elsewhere the test is skipped with a warning.
 */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ci = process.env.CI === 'true' || process.env.CI === '1';
const haveChromium = existsSync(chromiumPath);
if (!haveChromium && !ci) process.stderr.write(`\n!!! ${chromiumPath} not found: the HTML report browser test is SKIPPED. Install Debian's chromium package to run it. !!!\n\n`);

const xss = '<script>alert(1)</script>';
const launchOptions = {
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};
const mac = (i: number): string => `00:1b:1b:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

function reportPlan() {
  const devices = [
    ...Array.from({ length: 120 }, (_, i) => device(i + 1, `pump-${String(i).padStart(3, '0')}`, [{ mac: mac(i), ips: [`10.1.0.${i + 1}`], space: 1 }])),
    device(121, 'intruder', [{ mac: mac(121), ips: ['10.1.0.250'], space: 1 }], { status: 'Unauthorized' }),
  ];
  const records = [
    ...Array.from({ length: 100 }, (_, i) => record('cmdb', `u${i}`, asset(`valve-${String(i).padStart(3, '0')}`, [{ mac: mac(i) }], { description: `line ${i % 4}`, owner: i < 50 ? 'alice' : 'bob' }))),
    ...Array.from({ length: 110 }, (_, i) => record('cmdb', `n${i}`, asset(`motor-${String(i).padStart(3, '0')}`, [{ mac: mac(500 + i), ips: [`10.2.1.${i + 1}`] }]))),
    record('csv', 'evil', asset(xss, [{ mac: mac(900), ips: ['10.2.9.9'] }], { description: '"><img src=x onerror=alert(2)>' })),
    record('csv', 'split', asset('A01-PLC-00093', [{ mac: mac(100), ips: ['10.1.0.102'] }])),
  ];
  const p = plan({ records, devices });
  p.header.id = 5;
  return p;
}

(haveChromium || ci ? describe : describe.skip)('HTML report in Chromium', () => {
  let dir: string;
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];
  const errors: string[] = [];
  let total = 0;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`CI=true and ${chromiumPath} is missing: the HTML report must be tested in a browser (apt-get install chromium)`);
    const value = reportPlan();
    total = value.items.length;
    dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-html-'));
    const file = path.join(dir, 'plan-5.html');
    writeFileSync(file, await renderReportText('html', value.header, value.items));
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), launchOptions);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('#items tbody tr.item');
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const rowNames = (): Promise<string[]> => page.locator('#items tbody tr.item td.device').allTextContents();

  it('renders the summary, the charts and the first page of items, with no script error', async () => {
    expect(await page.textContent('#summary')).toMatch(/111\s*create\s*100\s*update/);
    expect(await page.locator('svg[aria-label="items by action"] rect').count()).toBeGreaterThan(0);
    expect(await page.locator('svg[aria-label="items by address space"] rect').count()).toBeGreaterThan(0);
    expect(await page.textContent('#shown')).toBe(`${total} of ${total} items`);
    expect(await page.locator('#items tbody tr.item').count()).toBe(100);
    expect(await page.textContent('#page')).toBe(`page 1 of ${Math.ceil(total / 100)}`);
    expect(errors).toEqual([]);
  });

  it('pages through the items', async () => {
    await page.click('#next');
    expect(await page.textContent('#page')).toBe(`page 2 of ${Math.ceil(total / 100)}`);
    expect(await page.locator('#items tbody tr.item').first().getAttribute('data-seq')).toBe('101');
    await page.click('#prev');
  });

  it('filters by text, and a device named <script>alert(1)</script> shows as text: no dialog, no element', async () => {
    await page.fill('#filter', 'alert');
    await expect.poll(() => page.textContent('#shown')).toMatch(/^1 of /);
    expect(await rowNames()).toEqual([xss]);
    expect(await page.locator('#items tbody script, #items tbody img').count()).toBe(0);
    await page.click('#items tbody tr.item');
    const diff: string[][] = [];
    for (const row of await page.locator('tr.details .diff tr').all()) diff.push(await row.locator('td').allTextContents());
    expect(diff).toContainEqual(['name', '', xss]);
    expect(diff).toContainEqual(['description', '', '"><img src=x onerror=alert(2)>']);
    expect(await page.locator('tr.details img').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await page.fill('#filter', '');
    await expect.poll(() => page.textContent('#shown')).toBe(`${total} of ${total} items`);
  });

  it('filters by action and shows a conflict with its reason and both sides', async () => {
    await page.selectOption('#action-filter', 'conflict');
    await expect.poll(() => page.textContent('#shown')).toMatch(/^1 of /);
    await page.click('#items tbody tr.item');
    const details = await page.textContent('tr.details');
    expect(details).toMatch(/mac_ip_split: MAC 00:1b:1b:00:00:64 .* is on device 101, but IP 10\.1\.0\.102 .* is on device 102/);
    expect(details).toContain('csv "split"');
    expect(details).toContain('device 101 "pump-100"');
    // Labelled with the asset it is about, not with a device it collided with.
    expect(await rowNames()).toEqual(['A01-PLC-00093']);
    await page.selectOption('#action-filter', '');
    // Found by the asset's name, and by a device its details name.
    for (const text of ['A01-PLC-00093', 'pump-101']) {
      await page.fill('#filter', text);
      await expect.poll(() => rowNames()).toContain('A01-PLC-00093');
    }
    await page.fill('#filter', '');
    // The filter applies after a pause in typing: wait until every item is listed again.
    await expect.poll(() => page.textContent('#shown')).toBe(`${total} of ${total} items`);
  });

  it('sorts by a column, ascending then descending', async () => {
    await page.click('#items th[data-key="device"]');
    const ascending = await rowNames();
    const inOrder = await page.evaluate((names) => names.every((n, i) => i === 0 || names[i - 1]!.localeCompare(n) <= 0), ascending);
    expect(inOrder).toBe(true);
    expect(await page.getAttribute('#items th[data-key="device"]', 'aria-sort')).toBe('ascending');
    await page.click('#items th[data-key="device"]');
    const descending = await rowNames();
    expect(await page.evaluate((names) => names.every((n, i) => i === 0 || names[i - 1]!.localeCompare(n) >= 0), descending)).toBe(true);
    expect(descending[0]).not.toBe(ascending[0]);
    await page.click('#items th[data-key="id"]');
    const ids = (await page.locator('#items tbody tr.item td:nth-child(4)').allTextContents()).filter((t) => t !== '').map(Number);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('filters by owner, and the summary counts follow the filter', async () => {
    await page.selectOption('#owner-filter', 'alice');
    await expect.poll(() => page.textContent('#shown')).toBe(`50 of ${total} items`);
    const card = (action: string) => page.textContent(`#summary .card[data-action="${action}"] b`);
    expect(await card('update')).toBe('50');
    expect(await card('create')).toBe('0');
    expect(await card('unchanged')).toBe('–');
    expect(new Set(await page.locator('#items tbody tr.item td:nth-child(6)').allTextContents())).toEqual(new Set(['alice']));
    await page.selectOption('#owner-filter', { index: 0 });
    await expect.poll(() => page.textContent('#shown')).toBe(`${total} of ${total} items`);
    expect(await card('update')).toBe('100');
    expect(await card('create')).toBe('111');
  });

  it('shows a device in no source as "no change: in KICS only", not as a diff, and flags the Recognized ones', async () => {
    // pump-102 .. pump-119 are Recognized in KICS and in no source; intruder is Unauthorized.
    expect(await page.textContent('#summary .card[data-action="recognized-unknown"] b')).toBe('18');
    await page.fill('#filter', 'intruder');
    await expect.poll(rowNames).toEqual(['intruder']);
    await page.click('#items tbody tr.item');
    expect(await page.textContent('tr.details')).toContain('no change: in KICS only');
    expect(await page.textContent('tr.details')).not.toContain('Recognized there');
    expect(await page.locator('tr.details .diff th').allTextContents()).toEqual(['field', 'in KICS']);
    await page.fill('#filter', 'pump-119');
    await expect.poll(rowNames).toEqual(['pump-119']);
    expect(await page.textContent('#items tbody tr.item td.reason')).toContain('Recognized, in no source');
    await page.click('#items tbody tr.item');
    expect(await page.textContent('tr.details')).toContain('no change: in KICS only, and Recognized there although no source knows it');
    expect(await page.locator('tr.details td.after').count()).toBe(0);
    await page.fill('#filter', '');
    await expect.poll(() => page.textContent('#shown')).toBe(`${total} of ${total} items`);
  });

  it('finds a conflict by what its details name, names its address spaces, and says how to settle it', async () => {
    // pump-101 is the device holding the IP in the split conflict: named only in the conflict's details.
    await page.fill('#filter', 'pump-101');
    await expect.poll(rowNames).toEqual(['A01-PLC-00093']);
    await page.click('#items tbody tr.item');
    const details = (await page.textContent('tr.details')) ?? '';
    expect(details).toContain('(Plant A)');
    expect(details).not.toMatch(/\bspace 1\b/);
    expect(details).toMatch(/To settle it: .*correct the MAC or the IP in the source/);
    await page.fill('#filter', '');
    await expect.poll(() => page.textContent('#shown')).toBe(`${total} of ${total} items`);
  });

  it('without scripts, shows the items as a plain table', async () => {
    const plain = await chromium.launchPersistentContext(path.join(dir, 'profile-noscript'), { ...launchOptions, javaScriptEnabled: false });
    try {
      const noScriptPage = plain.pages()[0] ?? (await plain.newPage());
      await noScriptPage.goto(page.url());
      expect(await noScriptPage.locator('noscript p.meta').textContent()).toBe(`Scripts are off: ${total} items, in plan order.`);
      const rows = noScriptPage.locator('noscript table tbody tr');
      expect(await rows.count()).toBe(total);
      const texts = await rows.allTextContents();
      expect(texts.filter((t) => t.includes('alice'))).toHaveLength(50);
      expect(texts.filter((t) => t.includes('no change: in KICS only, and Recognized there'))).toHaveLength(18);
      expect(await noScriptPage.locator('noscript table tbody script, noscript table tbody img').count()).toBe(0);
      expect(texts.some((t) => t.includes(xss))).toBe(true);
    } finally {
      await plain.close();
    }
  });
});
