/**
 * A whole /optimize run watched in headless Chromium, the way a new person meets it: rate a few images,
 * start a run, and the thread follows it — each new candidate, the progress message kept last, up to
 * the final summary — without touching the scroll bar. Scrolled up to read, it stays put and offers a
 * "new messages ↓" pill that brings it back and follows again (the thread and the channel alike).
 *
 * The image generator is held and let through one image at a time, so each check looks at a page that
 * is not changing under it; "in view" is measured from the elements' boxes against the pane and the
 * window, never by waiting a while. Screenshots of the first iteration, the middle of the run, its end
 * and the pill go to test-artifacts/playground-run/.
 * Skipped, saying so, where Chromium is not installed (CI installs it).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { silentLogger } from '../src/log';
import { createPlaygroundAdapter, type PlaygroundAdapter } from '../src/platforms/playground/adapter';
import { hasChromium, CHROMIUM, launchChromium } from './helpers/chromium';
import { GatedGenerator, openTestCore, type TestCore } from './helpers/core';
import { waitFor } from './helpers/wait';

if (!hasChromium)
  console.warn(`playground-browser-run.test: SKIPPED — no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
const SHOTS = path.resolve('test-artifacts', 'playground-run');

/** Where a pane's newest message and the run's progress message are, measured in the page at one moment. */
interface PaneView {
  ok: boolean;
  following: string | undefined;
  pane: { top: number; bottom: number };
  windowHeight: number;
  newest: { kind: string | undefined; top: number; bottom: number; imagesLoaded: boolean } | null;
  progress: { top: number; bottom: number; last: boolean } | null;
}

/**
 * In the page: the newest message of a list (and, in a thread, the progress message) against the list's
 * visible box and the window. `ok` once both are wholly in view, the newest one's images loaded and
 * the progress message last. Self-contained: Playwright sends its source to the page.
 */
function paneView(listId: string): PaneView {
  const list = document.getElementById(listId)!;
  const msgs = Array.from(list.querySelectorAll<HTMLElement>('.msg'));
  const newest = msgs.filter((m) => !m.classList.contains('progress')).at(-1);
  const progress = Array.from(list.querySelectorAll<HTMLElement>('.msg.progress')).at(-1);
  const p = list.getBoundingClientRect();
  const inView = (r: DOMRect) => r.top >= p.top - 1 && r.bottom <= p.bottom + 1 && r.bottom <= window.innerHeight + 1;
  const n = newest?.getBoundingClientRect();
  const g = progress?.getBoundingClientRect();
  const imagesLoaded = !newest || Array.from(newest.querySelectorAll('img')).every((i) => i.complete && i.naturalWidth > 0);
  return {
    ok: Boolean(n && inView(n) && imagesLoaded && (!g || (inView(g) && msgs.at(-1) === progress))),
    following: list.dataset.following,
    pane: { top: p.top, bottom: p.bottom },
    windowHeight: window.innerHeight,
    newest: n ? { kind: newest!.dataset.kind, top: n.top, bottom: n.bottom, imagesLoaded } : null,
    progress: g ? { top: g.top, bottom: g.bottom, last: msgs.at(-1) === progress } : null,
  };
}

declare global {
  interface Window {
    /** paneView, installed in the page (addInitScript) for the checks that run there. */
    paneViewInPage: typeof paneView;
  }
}

/** Waits (up to a guard's deadline) for the list to show its newest message; returns what was measured. */
async function followed(page: Page, listId = 'thread-messages'): Promise<PaneView> {
  const seen = await page
    .waitForFunction((id) => ((v) => (v.ok ? v : null))(window.paneViewInPage(id)), listId, { timeout: 10_000 })
    .then((h) => h.jsonValue() as Promise<PaneView>)
    .catch(() => page.evaluate((id) => window.paneViewInPage(id), listId));
  // On failure the diff shows where the newest message was against the pane.
  expect(seen, JSON.stringify(seen)).toMatchObject({ ok: true, following: '1' });
  return seen;
}

/** What the run posts in its thread (the progress message is edited, not posted again), and its end. */
const POSTED = '#thread-messages .msg:not(.progress)';
const SUMMARY = '#thread-messages [data-kind="summary"]';

/** Elements matching a selector, counted in the page. */
const count = (page: Page, selector: string) => page.locator(selector).count();

describe.skipIf(!hasChromium)('a whole /optimize run in headless Chromium', () => {
  let core: TestCore;
  let generator: GatedGenerator;
  let adapter: PlaygroundAdapter;
  let browser: Browser;
  let page: Page;

  /**
   * Lets images through one at a time until the thread shows more messages matching `selector` than
   * `than` (a run may post an iteration's images only once all of them are drawn), then holds again.
   */
  async function imagesUntilMore(selector: string, than: number): Promise<void> {
    await waitFor(async () => {
      if ((await page.locator(selector).count()) > than) return true;
      if (generator.waiting > 0) {
        generator.release();
        generator.hold();
      }
      return false;
    }, `more than ${than} of ${selector}`);
  }

  async function command(text: string): Promise<void> {
    await page.fill('#command-input', text);
    await page.press('#command-input', 'Enter');
  }

  beforeAll(async () => {
    generator = new GatedGenerator();
    core = await openTestCore({ generator });
    adapter = createPlaygroundAdapter({ services: core.app.services, log: silentLogger, port: 0, runFeedPollMs: 50 });
    await adapter.start();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    // Helpers the page-side checks call (paneView's source, under one name).
    await page.addInitScript(`window.paneViewInPage = ${paneView.toString()};`);
    await page.goto(adapter.url());
    await page.waitForSelector('body[data-connected="1"]');
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    generator?.release();
    await browser?.close();
    await adapter?.stop();
    await core?.close();
  });

  it('follows a run from its first images to the final summary, the progress message last', async () => {
    // A new person: rate a few images with the buttons, then optimize a prompt.
    await command('/rate count:4');
    await page.waitForFunction(() => document.querySelectorAll('#channel-messages [data-kind="rate"] .ratebar').length === 4);
    const offers = page.locator('#channel-messages [data-kind="rate"]');
    for (const [i, score] of [8, 3, 9, 5].entries()) {
      await offers.nth(i).locator(`.rate-btn[data-score="${score}"]`).click();
      await offers.nth(i).locator(`.rate-btn.mine[data-score="${score}"]`).waitFor();
    }
    await core.app.taste.idle();

    generator.hold();
    const iterations = 4;
    const perIteration = 3;
    await command(`/optimize prompt:a quiet harbor at dawn iterations:${iterations} candidates:${perIteration}`);
    await page.waitForSelector('#thread-panel.open');
    // The thread is named after the prompt, its owner and the time it started, in the list and on top.
    const label = /^🎨 a quiet harbor at dawn — Alice, \d\d:\d\d$/;
    expect(await page.locator('#thread-title').innerText()).toMatch(label);
    expect(await page.locator('#threads li').first().getAttribute('title')).toMatch(label);
    // The sidebar is narrow: the prompt on one line, whose run and when on the next.
    expect(await page.locator('#threads li .by').first().innerText()).toMatch(/^Alice, \d\d:\d\d$/);

    // Iteration messages: the initial prompt's, then one per iteration.
    const mid = 1 + Math.ceil(iterations / 2);
    const shots = new Set<string>();
    // Each message the run posts (its images, however they are grouped, and its summaries), one by one.
    while ((await count(page, SUMMARY)) === 0) {
      await imagesUntilMore(POSTED, await count(page, POSTED));
      const view = await followed(page);
      expect(view.newest!.bottom).toBeLessThanOrEqual(Math.min(view.pane.bottom, view.windowHeight) + 1);
      const done = await count(page, '#thread-messages [data-kind="iteration"]');
      for (const [name, after] of [
        ['1-first-iteration', 2],
        ['2-mid-run', mid],
      ] as const) {
        if (done < after || shots.has(name)) continue;
        shots.add(name);
        await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
      }
    }
    generator.release();
    const summary = page.locator(SUMMARY);
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('#thread-messages .msg.progress')).at(-1)?.textContent?.includes('Done'),
    );
    const end = await followed(page);
    expect(end.newest!.kind).toBe('summary');
    expect(end.progress).toMatchObject({ last: true });
    // The final summary, measured by Playwright: wholly inside the thread pane and the window.
    const box = (await summary.boundingBox())!;
    const pane = (await page.locator('#thread-messages').boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(pane.y - 1);
    expect(box.y + box.height).toBeLessThanOrEqual(Math.min(pane.y + pane.height, page.viewportSize()!.height) + 1);
    await page.screenshot({ path: path.join(SHOTS, '3-end.png') });
    // The end of the run at once, in a tall window: the last iteration's grid (its picture and one row
    // of buttons per tile), the summary with the best image, the score chart and the Details toggle
    // (opened), and the progress message last.
    const grids = page.locator('#thread-messages [data-kind="grid"]');
    expect(await grids.count()).toBe(1 + iterations);
    expect(await grids.last().locator('.tile-row').count()).toBe(perIteration);
    expect(await grids.last().locator('img[data-file^="iteration-"]').count()).toBe(1);
    expect(await summary.locator('img[data-file="scores.png"]').count()).toBe(1);
    await summary.locator('details.details summary').click();
    expect(await summary.locator('details.details .text').innerText()).toMatch(/max − init [+−-]?\d\.\d — /);
    await page.setViewportSize({ width: 1440, height: 1700 });
    await page.locator('#thread-messages').evaluate((b) => (b.scrollTop = b.scrollHeight));
    await page.screenshot({ path: path.join(SHOTS, '4-grid-and-summary.png') });
    await page.setViewportSize({ width: 1440, height: 900 });
    expect([...shots]).toEqual(['1-first-iteration', '2-mid-run']);
    expect(await count(page, '#thread-messages [data-kind="iteration"]')).toBe(1 + iterations);
    expect(await count(page, '#thread-messages .msg img')).toBeGreaterThan(iterations);
  }, 120_000);

  it('scrolled up, the thread stays put and offers "new messages ↓"; the pill brings it back and it follows again', async () => {
    generator.hold();
    const iterations = 6;
    await command(`/optimize prompt:a red fox in the snow iterations:${iterations} candidates:2`);
    await page.waitForFunction(() => document.getElementById('thread-title')!.textContent.includes('red fox'));
    // Enough of the run to scroll, with iterations still to come (each posts its images, then its summary).
    while (!(await page.evaluate(() => ((b) => b.scrollHeight - b.clientHeight > 300)(document.getElementById('thread-messages')!))))
      await imagesUntilMore(POSTED, await count(page, POSTED));
    expect(await count(page, '#thread-messages [data-kind="iteration"]')).toBeLessThanOrEqual(iterations - 2);
    await followed(page);

    // The person scrolls up with the mouse wheel to look at earlier images.
    const pane = (await page.locator('#thread-messages').boundingBox())!;
    await page.mouse.move(pane.x + pane.width / 2, pane.y + pane.height / 2);
    await page.mouse.wheel(0, -250);
    await page.waitForSelector('#thread-jump:visible');
    expect(await page.getAttribute('#thread-messages', 'data-following')).toBe('0');
    // Where the wheel left it (once it stopped moving).
    const readAt = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const box = document.getElementById('thread-messages')!;
          let last = -1;
          const check = () => (box.scrollTop === last ? resolve(last) : ((last = box.scrollTop), requestAnimationFrame(check)));
          requestAnimationFrame(check);
        }),
    );

    // New images arrive below: the pane is not pulled away from what the person reads.
    await imagesUntilMore(POSTED, await count(page, POSTED));
    await page.waitForFunction(() => document.getElementById('thread-jump')!.textContent === 'new messages ↓');
    expect(await page.evaluate(() => document.getElementById('thread-messages')!.scrollTop)).toBe(readAt);
    expect(await page.getAttribute('#thread-messages', 'data-following')).toBe('0');
    await page.screenshot({ path: path.join(SHOTS, '4-scrolled-up-pill.png') });

    // The pill: back at the newest message, and following the next ones again.
    await page.click('#thread-jump');
    await followed(page);
    expect(await page.isHidden('#thread-jump')).toBe(true);
    await imagesUntilMore(POSTED, await count(page, POSTED));
    await followed(page);
    generator.release();
    await page.locator(SUMMARY).waitFor();
    await followed(page);
  }, 120_000);

  it('the channel does the same: scrolled up, a new message shows the pill; the pill follows again', async () => {
    await page.click('#thread-close');
    const channel = (await page.locator('#channel-messages').boundingBox())!;
    expect(
      await page.evaluate(() => ((b) => b.scrollHeight - b.clientHeight)(document.getElementById('channel-messages')!)),
    ).toBeGreaterThan(300);
    await page.mouse.move(channel.x + channel.width / 2, channel.y + channel.height / 2);
    await page.mouse.wheel(0, -250);
    await page.waitForSelector('#channel-jump:visible');
    await adapter.channel.post({ kind: 'info', text: 'A message for everyone while alice reads further up.' });
    await page.waitForFunction(() => document.getElementById('channel-jump')!.textContent === 'new messages ↓');
    expect(await page.getAttribute('#channel-messages', 'data-following')).toBe('0');
    await page.click('#channel-jump');
    const view = await followed(page, 'channel-messages');
    expect(await page.locator('#channel-messages .msg').last().innerText()).toContain('A message for everyone');
    expect(view.newest!.bottom).toBeLessThanOrEqual(view.pane.bottom + 1);
  }, 60_000);
});
