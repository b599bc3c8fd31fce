// chromium.mjs — how the browser tests (browser.test.mjs, tarball.test.mjs)
// get a browser: Debian's Chromium, driven by playwright-core (a dev
// dependency). `npx playwright install` cannot download browsers on the
// machines these tests run on, so the system's Chromium is launched.
import { existsSync } from 'node:fs';

// Debian's package puts it here; GORT_CHROMIUM names another Chromium.
export const chromiumPath = process.env.GORT_CHROMIUM ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** false when Chromium is there, else why the browser tests are skipped (node:test's skip). */
export const skipBrowser = existsSync(chromiumPath)
  ? false
  : `${chromiumPath} is missing: install Debian's chromium package (scripts/test.sh does, where it can)`;

/**
 * Launches Chromium headless. launch() gives the browser a fresh temporary
 * profile, removed on close.
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchChromium() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (err) {
    throw new Error(`playwright-core (a devDependency) is missing: run npm ci (${err.message})`);
  }
  return chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS, timeout: 30_000 });
}
