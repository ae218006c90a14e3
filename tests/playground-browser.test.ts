/**
 * The playground in a real headless Chromium (Debian's chromium + playwright-core): rate an image,
 * run a short /optimize and watch its iterations arrive live; keeps a screenshot in test-artifacts/.
 * Skipped, saying so, where Chromium is not installed (CI installs it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { silentLogger } from '../src/log';
import { userKeyOf } from '../src/core/identity';
import { createPlaygroundAdapter, personFor, type PlaygroundAdapter } from '../src/platforms/playground/adapter';
import { GatedGenerator, openTestCore, type TestCore } from './helpers/core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`playground-browser.test: SKIPPED — no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
const ARTIFACTS = path.resolve('test-artifacts');

describe.skipIf(!hasChromium)('playground in headless Chromium', () => {
  let core: TestCore;
  let adapter: PlaygroundAdapter;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    // The real core; each image takes ≥ 150 ms (a provider's latency) so the page sees iterations arrive one by one.
    core = await openTestCore({ generator: new GatedGenerator({ delayMs: 150 }) });
    adapter = createPlaygroundAdapter({ services: core.app.services, log: silentLogger, port: 0, runFeedPollMs: 50 });
    await adapter.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(adapter.url());
    await page.waitForSelector('body[data-connected="1"]');
  });
  afterAll(async () => {
    await browser?.close();
    await adapter?.stop();
    await core?.close();
  });

  it('rates an image with a button: the rating is stored for the acting person', async () => {
    await page.selectOption('#person', 'bob');
    await page.fill('#command-input', '/rate count:3');
    await page.press('#command-input', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('#channel-messages [data-kind="rate"] .ratebar').length === 3);
    const first = page.locator('#channel-messages [data-kind="rate"]').first();
    const messageId = await first.getAttribute('data-message-id');
    await first.locator('.rate-btn[data-score="8"]').click();
    await page.waitForSelector(`[data-message-id="${messageId}"] .rate-btn.mine[data-score="8"]`);
    const imageId = adapter.state.messages.get(messageId!)!.imageId!;
    expect(await core.rating(userKeyOf(personFor('bob')), imageId)).toBe(8);
    // The image itself is served from the store.
    const ok = await page.evaluate(async (src) => (await fetch(src)).headers.get('content-type'), `/images/${imageId}.png`);
    expect(ok).toBe('image/png');
  });

  it('runs a short /optimize whose iterations stream into its thread', async () => {
    await page.fill('#command-input', '/optimize prompt:a lighthouse at dusk, oil painting iterations:3 candidates:2');
    await page.press('#command-input', 'Enter');
    await page.waitForSelector('#thread-panel.open');
    // Iterations arrive live: the first summary shows while the run is still going.
    await page.waitForSelector('#thread-messages [data-kind="iteration"]');
    const seenEarly = await page.locator('#thread-messages [data-kind="summary"]').count();
    await page.waitForSelector('#thread-messages [data-kind="summary"]', { timeout: 20_000 });
    expect(seenEarly).toBe(0);
    expect(await page.locator('#thread-messages [data-kind="iteration"]').count()).toBe(4); // the initial prompt + 3
    expect(await page.locator('#thread-messages [data-kind="candidate"] img').count()).toBe(1 + 3 * 2);
    expect(await page.locator('#thread-messages [data-kind="progress"]').count()).toBe(1);
    expect(await page.locator('#thread-messages [data-kind="progress"]').innerText()).toContain('Done');
    // Rate a candidate from the thread.
    const cand = page.locator('#thread-messages [data-kind="candidate"]').nth(3);
    await cand.locator('.rate-btn[data-score="9"]').click();
    await cand.locator('.rate-btn.mine[data-score="9"]').waitFor();
    await page.evaluate(() => {
      const box = document.getElementById('thread-messages')!;
      box.scrollTop = box.scrollHeight;
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'playground.png') });
  });
});
