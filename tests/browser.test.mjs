// The npm package in a real browser: Debian's Chromium, driven by
// playwright-core, loads tests/browser/index.html from a local server that
// sends the cross-origin isolation headers, and the page runs the package
// from its main thread and from module Web Workers that attach to its
// runtime (tests/browser/page.mjs and worker.mjs say what each check does).
// The same page served without the headers must get NotIsolatedError.
// Screenshots of both pages go to build/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { serve } from './browser/server.mjs';
import { launchChromium, skipBrowser as skip } from './browser/chromium.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const screenshots = fileURLToPath(new URL('../build/screenshots/', import.meta.url));
// The page's checks time out one by one (8 s each); this bounds the whole page.
const PAGE_TIMEOUT_MS = 90_000;
// A page whose main thread never returns (a blocking call that was not
// refused) answers no evaluate() and cannot be closed: each call into it is
// given this long before the test reports it and moves on.
const PAGE_CALL_TIMEOUT_MS = 10_000;

const entry = fileURLToPath(new URL('../dist/index.browser.js', import.meta.url));
if (!existsSync(entry)) throw new Error(`${entry} is missing: build it with src/js/build.sh`);

let server;
let browser;

before(async () => {
  if (skip) return;
  server = await serve(root);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Resolves as promise does, or rejects after ms naming what did not answer. */
function bounded(promise, what, ms = PAGE_CALL_TIMEOUT_MS) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer in ${ms} ms: the page's main thread is stuck`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * Loads the test page at path in a fresh context, waits for its results,
 * and saves a screenshot. Returns the results and the errors the page
 * logged, less those that mention one of expectedFailures (the checks that
 * make things fail on purpose).
 */
async function runPage(path, screenshotName, expectedFailures = []) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  // A page whose main thread is stuck must not hold the test for long.
  page.setDefaultTimeout(10_000);
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.stack ?? err.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`));
  try {
    await page.goto(`${server.origin}${path}`);
    let outcome;
    try {
      // Playwright's own timeout came minutes late when the page's main
      // thread spun in a blocking call: a timer of the test bounds it too.
      await bounded(page.waitForFunction(() => window.gortBrowserResults, null, { timeout: PAGE_TIMEOUT_MS }),
        'waiting for the results', PAGE_TIMEOUT_MS + PAGE_CALL_TIMEOUT_MS);
      outcome = await bounded(page.evaluate(() => window.gortBrowserResults), 'reading the results');
    } catch (err) {
      outcome = { results: [], error: err.message };
    }
    const shown = await bounded(page.locator('#results li').allTextContents(), 'reading the lines shown')
      .catch((err) => { problems.push(err.message); return []; });
    await mkdir(screenshots, { recursive: true });
    await page.screenshot({ path: `${screenshots}${screenshotName}`, fullPage: true })
      .catch((err) => problems.push(`no screenshot: ${err.message}`));
    const unexpected = problems.filter((p) => !expectedFailures.some((text) => p.includes(text)));
    return { ...outcome, shown, problems: unexpected };
  } finally {
    // A stuck page's context may never close; the browser's close in after() ends it.
    await bounded(context.close(), 'closing the page').catch(() => {});
  }
}

/** Fails unless the page finished, showed every check, and every one passed with no errors logged. */
function assertAllPassed({ results, shown, problems, error }, expectedChecks) {
  const report = [
    // A page that never finished has only the lines it showed.
    ...(results.length ? results.map((r) => `${r.ok ? 'pass' : 'FAIL'}  ${r.name}${r.ok ? '' : `: ${r.error}`}`) : shown),
    ...(error ? [`the page did not finish: ${error}`] : []),
    ...problems,
  ].join('\n');
  assert.ok(!error && results.length > 0, `the page gave no results\n${report}`);
  assert.deepEqual(results.filter((r) => !r.ok), [], `checks failed in the page\n${report}`);
  assert.deepEqual(problems, [], `the page logged errors\n${report}`);
  assert.equal(shown.length, results.length, 'the page does not show every check');
  assert.ok(shown.every((line) => line.startsWith('PASS')), `the page shows:\n${shown.join('\n')}`);
  assert.equal(results.length, expectedChecks, `the page ran ${results.length} checks, not ${expectedChecks}\n${report}`);
}

test('package.json sends browsers and bundlers to the browser entry', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const conditions = Object.keys(pkg.exports['.']);
  // Resolution takes the first listed condition that applies: 'types'
  // first, and 'node' before 'browser' so that where both apply (Electron,
  // test runners that emulate a DOM) Node's entry is the one taken.
  assert.equal(conditions[0], 'types');
  assert.ok(conditions.indexOf('node') < conditions.indexOf('browser'), `conditions in the order ${conditions}`);
  assert.equal(pkg.exports['.'].browser, './dist/index.browser.js');
  // The page's import map names the same file.
  const html = readFileSync(new URL('./browser/index.html', import.meta.url), 'utf8');
  assert.match(html, /"gort": "\.\.\/\.\.\/dist\/index\.browser\.js"/);
  // A module worker sees no import map: the test's worker imports by path
  // the file that 'gort/worker' names for browsers.
  assert.equal(pkg.exports['./worker'].browser, './dist/worker.browser.js');
  const worker = readFileSync(new URL('./browser/worker.mjs', import.meta.url), 'utf8');
  assert.match(worker, /from '\.\.\/\.\.\/dist\/worker\.browser\.js'/);
});

test('a cross-origin isolated page runs the package from its main thread and from module workers attached to it', { skip }, async (t) => {
  const before = server.requests.length;
  // One check starts a runtime whose worker file does not exist.
  const outcome = await runPage('/tests/browser/index.html?suite=isolated', 'browser.png', ['/moved/no-such.worker.js']);
  for (const r of outcome.results) if (r.detail) t.diagnostic(`${r.name}: ${r.detail}`);
  assertAllPassed(outcome, 35);
  const requested = server.requests.slice(before);
  // The moved worker file imported the glue from where the package is, not from beside itself.
  assert.ok(requested.includes('/moved/gort.worker.js') && requested.includes('/moved/gort.wasm'), `requests: ${requested}`);
  assert.ok(!requested.includes('/moved/gort.mjs'), 'a moved worker file looked for the glue beside itself');
});

test('a page served without the isolation headers gets NotIsolatedError at once', { skip }, async () => {
  const before = server.requests.length;
  const outcome = await runPage('/plain/tests/browser/index.html?suite=not-isolated', 'browser-not-isolated.png');
  assertAllPassed(outcome, 4);
  const requested = server.requests.slice(before);
  assert.ok(!requested.some((path) => path.endsWith('.wasm') || path.endsWith('.worker.js')), `requests: ${requested}`);
});
