/**
 * The playground in a real headless Chromium (Debian's chromium + playwright-core): rate an image,
 * run a short /optimize and watch its iterations arrive live; keeps a screenshot in test-artifacts/.
 * The browser's own rules are part of the test: the page calls the server from its origin with its
 * session cookie (the person switcher is the session's), a second browser has its own session, and
 * with PLAYGROUND_TOKEN the page asks for the token first.
 * Skipped, saying so, where Chromium is not installed (CI installs it).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { silentLogger } from '../src/log';
import { userKeyOf } from '../src/core/identity';
import { createPlaygroundAdapter, personFor, type PlaygroundAdapter } from '../src/platforms/playground/adapter';
import { CHROMIUM, hasChromium, launchChromium } from './helpers/chromium';
import { GatedGenerator, openTestCore, type TestCore } from './helpers/core';
import { waitFor } from './helpers/wait';

if (!hasChromium)
  console.warn(`playground-browser.test: SKIPPED — no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
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
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(adapter.url());
    await page.waitForSelector('body[data-connected="1"]');
  });
  const others: BrowserContext[] = [];
  afterAll(async () => {
    for (const c of others) await c.close().catch(() => {});
  });
  afterAll(async () => {
    await browser?.close();
    await adapter?.stop();
    await core?.close();
  });

  it('rates an image with a button: the rating is stored for the acting person', async () => {
    // The session's cookie is out of the page's reach (HttpOnly), and the server knows who acts.
    expect(await page.evaluate(() => document.cookie)).toBe('');
    expect(await page.inputValue('#person')).toBe('alice');
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
    // One grid picture per iteration, a row of buttons per candidate.
    expect(await page.locator('#thread-messages [data-kind="grid"] img').count()).toBe(4);
    expect(await page.locator('#thread-messages [data-kind="grid"] .tile-row').count()).toBe(1 + 3 * 2);
    expect(await page.locator('#thread-messages [data-kind="progress"]').count()).toBe(1);
    expect(await page.locator('#thread-messages [data-kind="progress"]').innerText()).toContain('Done');
    // Rate a candidate from the thread: its tile's button.
    const grid = page.locator('#thread-messages [data-kind="grid"]').nth(2);
    const gridId = (await grid.getAttribute('data-message-id'))!;
    const tile = grid.locator('.tile-row').nth(1);
    await tile.locator('.rate-btn[data-choice="r9"]').click();
    await tile.locator('.rate-btn.mine[data-choice="r9"]').waitFor();
    const tileImage = adapter.state.messages.get(gridId)!.grid!.tiles[1]!.imageId!;
    await waitFor(async () => (await core.rating(userKeyOf(personFor('bob')), tileImage)) === 9, 'the tile rating');
    await page.evaluate(() => {
      const box = document.getElementById('thread-messages')!;
      box.scrollTop = box.scrollHeight;
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'playground.png') });
  });

  it('hints the syntax of a command and suggests people after "@"', async () => {
    await page.click('#thread-close');
    await page.fill('#command-input', '/compare ');
    await page.waitForSelector('#hints .usage');
    expect(await page.locator('#hints .usage').innerText()).toContain('/compare users:@a @b');
    expect(await page.locator('#hints .opt b').allInnerTexts()).toEqual(['users:']);
    await page.fill('#command-input', '/compare users:@');
    await page.waitForFunction(() => document.querySelectorAll('#hints b').length >= 3);
    expect(await page.locator('#hints div:not(.usage) b').allInnerTexts()).toEqual(expect.arrayContaining(['@alice', '@bob', '@carol']));
    // Tab takes the first suggestion.
    await page.fill('#command-input', '/compare users:@al');
    await page.press('#command-input', 'Tab');
    expect(await page.inputValue('#command-input')).toBe('/compare users:@alice ');
    await page.fill('#command-input', '');
  });

  it('a refused command is answered privately and left in the box to fix', async () => {
    await page.fill('#command-input', '/rate count:50');
    await page.press('#command-input', 'Enter');
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('#channel-messages .msg.ephemeral')).some((e) =>
        e.textContent.includes('count must be from 1 to 10'),
      ),
    );
    expect(await page.inputValue('#command-input')).toBe('/rate count:50');
    await page.fill('#command-input', '');
  });

  it('shows /profile with its charts inline (screenshot)', async () => {
    // A few more ratings by bob, clicked in the page, so the profile has something to show.
    await page.fill('#command-input', '/rate count:6');
    await page.press('#command-input', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('#channel-messages [data-kind="rate"] .ratebar').length === 9);
    const toRate = page.locator('#channel-messages [data-kind="rate"]');
    for (let i = 1; i < 9; i++) {
      const score = [8, 3, 9, 2, 7, 5, 10, 4, 6][i]!;
      await toRate.nth(i).locator(`.rate-btn[data-score="${score}"]`).click();
      await toRate.nth(i).locator(`.rate-btn.mine[data-score="${score}"]`).waitFor();
    }
    await core.app.taste.idle();
    await page.fill('#command-input', '/profile');
    await page.press('#command-input', 'Enter');
    // Both charts load as real images in the page (naturalWidth > 0 only once the PNG decoded).
    await page.waitForFunction(() => {
      const imgs = Array.from(document.querySelectorAll<HTMLImageElement>('#channel-messages .msg.ephemeral .attachment img'));
      return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    });
    const profile = page.locator('#channel-messages .msg.ephemeral').last();
    // (/rate may show an image again that was shown but not rated before, so count distinct images loosely.)
    expect(await profile.innerText()).toMatch(/Your taste profile — (?:[5-9]|10) ratings/);
    expect(await profile.locator('.attachment img').evaluateAll((els) => els.map((e) => e.getAttribute('data-file')))).toEqual([
      'taste-grid.png',
      'ratings.png',
    ]);
    await page.evaluate(() => {
      const box = document.getElementById('channel-messages')!;
      box.scrollTop = box.scrollHeight;
    });
    await page.screenshot({ path: path.join(ARTIFACTS, 'playground-profile.png') });
  });

  it('a second browser has its own session: it acts as its own person and never sees bob’s private replies or files', async () => {
    const bobPrivate = [...adapter.state.messages.values()].filter((m) => m.ephemeralFor === 'bob');
    expect(bobPrivate.length).toBeGreaterThan(0);
    const chart = bobPrivate.flatMap((m) => m.files ?? [])[0]!;
    const ctx = await browser.newContext();
    others.push(ctx);
    const other = await ctx.newPage();
    await other.goto(adapter.url());
    await other.waitForSelector('body[data-connected="1"]');
    expect(await other.inputValue('#person')).toBe('alice');
    // Only alice's own welcome is private to her there.
    expect(await other.locator('.msg.ephemeral:not([data-kind="welcome"])').count()).toBe(0);
    for (const m of bobPrivate) expect(await other.locator(`[data-message-id="${m.id}"]`).count()).toBe(0);
    // bob's chart is not there for alice's session, even by its address.
    expect(await other.evaluate(async (href) => (await fetch(href)).status, adapter.fileUrl(chart))).toBe(404);
    expect(await page.evaluate(async (href) => (await fetch(href)).status, adapter.fileUrl(chart))).toBe(200);
    // Switching the first browser does not switch the second.
    await page.selectOption('#person', 'carol');
    await page.waitForFunction(() => document.querySelectorAll('#channel-messages .msg.ephemeral:not([data-kind="welcome"])').length === 0);
    expect(await other.inputValue('#person')).toBe('alice');
    await page.selectOption('#person', 'bob');
    await page.waitForFunction(() => document.querySelectorAll('#channel-messages .msg.ephemeral:not([data-kind="welcome"])').length > 0);
  });

  it('with PLAYGROUND_TOKEN the page asks for the token first, then works', async () => {
    const token = 'browser-test-token-0123456789';
    const guarded = createPlaygroundAdapter({ services: core.app.services, log: silentLogger, port: 0, runFeedPollMs: 50, token });
    await guarded.start();
    try {
      const ctx = await browser.newContext();
      others.push(ctx);
      const p = await ctx.newPage();
      await p.goto(guarded.url());
      await p.waitForSelector('#token');
      await p.fill('#token', 'not the token');
      await p.click('button[type="submit"]');
      await p.waitForFunction(() => document.getElementById('error')!.textContent === 'wrong token');
      await p.fill('#token', token);
      await p.click('button[type="submit"]');
      await p.waitForSelector('body[data-connected="1"]');
      // A person of one's own, added with the "+ person" box (the server switches the session to her).
      await p.fill('#new-person', 'dora');
      await p.press('#new-person', 'Enter');
      await p.waitForFunction(() => (document.getElementById('person') as HTMLSelectElement).value === 'dora');
      await p.fill('#command-input', '/privacy action:status');
      await p.press('#command-input', 'Enter');
      await p.waitForSelector('#channel-messages .msg.ephemeral');
      expect([...guarded.state.messages.values()].some((m) => m.ephemeralFor === 'dora')).toBe(true);
    } finally {
      await guarded.stop();
    }
  });
});
