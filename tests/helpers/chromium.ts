/**
 * Headless Chromium for the playground's browser tests: Debian's /usr/bin/chromium driven by
 * playwright-core (`npx playwright install` cannot download browsers here), with the flags it needs
 * on a machine without a display, GPU or outside network.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

/** Without the networking flags Chromium's own connections (updates, sync) are refused here and slow it down. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}
