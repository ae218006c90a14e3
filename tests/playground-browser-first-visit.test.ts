/**
 * A first visit to the playground in headless Chromium: the welcome message (once per person — not
 * again on reload, in another browser or after a restart, but for each new person acted as), the tab
 * icon (served, and no failed request in the console), and a data export that downloads under a
 * readable name. A screenshot of the first visit goes to test-artifacts/playground-first-visit.png.
 * Skipped, saying so, where Chromium is not installed (CI installs it).
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { silentLogger } from '../src/log';
import { createPlaygroundAdapter, type PlaygroundAdapter } from '../src/platforms/playground/adapter';
import { WELCOME_KIND } from '../src/platforms/playground/welcome';
import { CHROMIUM, hasChromium, launchChromium } from './helpers/chromium';
import { openTestCore, type TestCore } from './helpers/core';

if (!hasChromium)
  console.warn(
    `playground-browser-first-visit.test: SKIPPED — no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
  );

const WELCOME = `#channel-messages [data-kind="${WELCOME_KIND}"]`;

describe.skipIf(!hasChromium)('a first visit to the playground in headless Chromium', () => {
  let core: TestCore;
  let browser: Browser;
  let adapter: PlaygroundAdapter;
  const stateFile = path.join(mkdtempSync(path.join(tmpdir(), 'tl-first-visit-')), 'playground.jsonl');
  /** A playground keeping its conversation in `stateFile` (as npm start does): a new one replays it. */
  const open = () => createPlaygroundAdapter({ services: core.app.services, log: silentLogger, port: 0, stateFile });

  /** A new browser (its own session, nothing in localStorage) on the playground. */
  async function visit(a: PlaygroundAdapter): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(a.url());
    await page.waitForSelector('body[data-connected="1"]');
    return page;
  }

  /** Welcome lines written to the state file for a person. */
  const welcomesStored = (person: string) =>
    readFileSync(stateFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes(`"kind":"${WELCOME_KIND}"`) && l.includes(`"ephemeralFor":"${person}"`)).length;

  beforeAll(async () => {
    core = await openTestCore();
    adapter = open();
    await adapter.start();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await adapter?.stop();
    await core?.close();
  });

  it('welcomes a person once, in plain words: not again on reload, in another browser or after a restart', async () => {
    const page = await visit(adapter);
    const welcome = page.locator(WELCOME);
    await welcome.waitFor();
    const text = await welcome.innerText();
    expect(text).toContain('Welcome to Tasteloop, Alice!');
    expect(text).toContain('/rate');
    expect(text).toContain('/optimize prompt:');
    expect(text).toContain('Only you see this message');
    // It is the message a first visit opens on: in view, at the bottom of an otherwise empty channel.
    const box = (await welcome.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(page.viewportSize()!.height);
    mkdirSync(path.resolve('test-artifacts'), { recursive: true });
    await page.screenshot({ path: path.resolve('test-artifacts', 'playground-first-visit.png') });

    await page.reload();
    await page.waitForSelector('body[data-connected="1"]');
    expect(await page.locator(WELCOME).count()).toBe(1);
    const other = await visit(adapter);
    expect(await other.locator(WELCOME).count()).toBe(1);
    expect(welcomesStored('alice')).toBe(1);

    // A restart replays the conversation: still the one welcome.
    await adapter.stop();
    adapter = open();
    await adapter.start();
    const afterRestart = await visit(adapter);
    expect(await afterRestart.locator(WELCOME).count()).toBe(1);
    expect(welcomesStored('alice')).toBe(1);
  });

  it('welcomes each new person acted as, by name, and only them', async () => {
    const page = await visit(adapter);
    await page.fill('#new-person', 'erin');
    await page.press('#new-person', 'Enter');
    await page.waitForFunction(() => (document.getElementById('person') as HTMLSelectElement).value === 'erin');
    await page.locator(WELCOME).waitFor();
    expect(await page.locator(WELCOME).count()).toBe(1);
    expect(await page.locator(WELCOME).innerText()).toContain('Welcome to Tasteloop, Erin!');
    await page.selectOption('#person', 'alice');
    await page.waitForFunction(() => document.querySelector('[data-kind="welcome"]')?.textContent?.includes('Alice'));
    expect(await page.locator(WELCOME).count()).toBe(1);
    expect(welcomesStored('erin')).toBe(1);
    expect(welcomesStored('alice')).toBe(1);
  });

  it('has a tab icon: linked from the page and the login page, served, and no request fails in the console', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error') failed.push(m.text());
    });
    await page.goto(adapter.url());
    await page.waitForSelector('body[data-connected="1"]');
    expect(await page.getAttribute('link[rel="icon"]', 'href')).toBe('/favicon.svg');
    const icons = await page.evaluate(async () =>
      Promise.all(
        ['/favicon.svg', '/favicon.ico'].map(async (p) => {
          const r = await fetch(p);
          return { status: r.status, type: r.headers.get('content-type'), svg: (await r.text()).startsWith('<svg') };
        }),
      ),
    );
    expect(icons).toEqual([
      { status: 200, type: 'image/svg+xml', svg: true },
      { status: 200, type: 'image/svg+xml', svg: true },
    ]);
    // The icon is drawn: Chromium decodes it as an image of the page's origin.
    expect(
      await page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const img = new Image();
            img.onload = () => resolve(img.naturalWidth);
            img.onerror = () => resolve(0);
            img.src = '/favicon.svg';
          }),
      ),
    ).toBeGreaterThan(0);
    expect(failed).toEqual([]);
    const login = readFileSync(new URL('../src/platforms/playground/login.html', import.meta.url), 'utf8');
    expect(login).toContain('<link rel="icon" href="/favicon.svg"');
    await ctx.close();
  });

  it('downloads a data export as tasteloop-<name>-<date>.json', async () => {
    const page = await visit(adapter);
    await page.fill('#command-input', '/privacy action:export');
    await page.press('#command-input', 'Enter');
    const link = page.locator('#channel-messages .msg.ephemeral .file-link');
    await link.waitFor();
    const name = (await link.getAttribute('data-file'))!;
    // The date is the export's own day (UTC; a minute's slack around midnight).
    const day = /^tasteloop-alice-(\d{4}-\d\d-\d\d)\.json$/.exec(name)?.[1];
    const now = Date.now();
    expect([new Date(now).toISOString().slice(0, 10), new Date(now - 60_000).toISOString().slice(0, 10)]).toContain(day);
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe(name);
  });
});
