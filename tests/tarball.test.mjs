// The package as its users get it: `npm pack` of the repository (its
// prepack builds dist/ with src/js/build.sh) into a fresh temporary folder,
// installed with `npm install <tarball>` into a scratch project made there
// with `npm init -y`. Node scripts of that project import the installed
// package with no node flags (an ES module on the main thread, a
// worker_threads worker, a CommonJS script when the package has a "require"
// condition), and Chromium loads a page that imports the package from the
// project's node_modules/gort/dist, served with the isolation headers. The
// tarball has no dependencies: installing it needs no network.
//
// npm pack rebuilds the repository's dist/ in place (prepack, which removes
// dist/ first): a test file run beside this one can find dist/ missing for
// that while (package.test.mjs run at the same time failed with 'Cannot find
// module .../dist/wasm/node/gort.worker.js'). node --test runs files side by
// side where there are more than two cores (os.availableParallelism() - 1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serve } from './browser/server.mjs';
import { launchChromium, skipBrowser } from './browser/chromium.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
const screenshots = fileURLToPath(new URL('../build/screenshots/', import.meta.url));

// Packing runs the build (seconds when the wasm module is up to date, about
// 20 s when its C changed); the whole file must stay under 90 s. npm init
// and installing a tarball with no dependencies take about a second each.
const PACK_TIMEOUT_MS = 50_000;
const INSTALL_TIMEOUT_MS = 10_000;
// A script of the scratch project that has not exited by then never will.
const SCRIPT_TIMEOUT_MS = 15_000;
const PAGE_TIMEOUT_MS = 20_000;

// The scripts run as a user's would: no node flags, from NODE_OPTIONS
// either, and nothing of this test runner's own context.
const childEnv = { ...process.env };
delete childEnv.NODE_OPTIONS;
delete childEnv.NODE_TEST_CONTEXT;

let temp;       // the temporary folder: the tarball and the project
let project;    // the scratch project
let installed;  // its node_modules/gort/package.json

/** Runs file with args in cwd; resolves with { code, signal, stdout, stderr } even when it fails. */
function run(file, args, cwd, timeout) {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: childEnv, timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code ?? null : 0, signal: err?.signal ?? null, killed: err?.killed ?? false, stdout, stderr });
    });
  });
}

/** Like run, but rejects with the command's output unless it exits with 0. */
async function must(file, args, cwd, timeout) {
  const r = await run(file, args, cwd, timeout);
  if (r.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} failed (code ${r.code}, signal ${r.signal})\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

/**
 * Runs a script of the project with node and no flags: it must exit by
 * itself, with code 0 and nothing on stderr. Returns its stdout's last line,
 * parsed as JSON.
 */
async function runScript(name) {
  const r = await run(process.execPath, [name], project, SCRIPT_TIMEOUT_MS);
  const output = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  assert.ok(!r.killed, `${name} had not exited by itself after ${SCRIPT_TIMEOUT_MS} ms\n${output}`);
  assert.equal(r.code, 0, `${name} exited with ${r.code} (signal ${r.signal})\n${output}`);
  assert.equal(r.stderr, '', `${name} wrote to stderr\n${output}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** Every string in a package.json "exports" value (its targets), however nested. */
function targetsOf(value) {
  if (typeof value == 'string') return [value];
  if (value && typeof value == 'object') return Object.values(value).flatMap(targetsOf);
  return [];
}

/**
 * The target an "exports" value resolves to under conditions, and the
 * condition keys that led there (Node's algorithm: in each object, the first
 * key in its order that is one of the conditions and resolves).
 * @returns {{ target: string, keys: string[] } | null}
 */
function resolveExportPath(value, conditions) {
  if (typeof value == 'string') return { target: value, keys: [] };
  if (!value || typeof value != 'object') return null;
  for (const [key, inner] of Object.entries(value)) {
    if (!conditions.includes(key)) continue;
    const found = resolveExportPath(inner, conditions);
    if (found) return { target: found.target, keys: [key, ...found.keys] };
  }
  return null;
}

function resolveExport(value, conditions) {
  return resolveExportPath(value, conditions)?.target ?? null;
}

/** The file URL of the installed package's file that an "exports" target names. */
function installedURL(target) {
  return pathToFileURL(join(project, 'node_modules', 'gort', target)).href;
}

before(async () => {
  // The real path: Node's resolver reports installed files by theirs.
  temp = await realpath(await mkdtemp(join(tmpdir(), 'gort-tarball-')));
  await must('npm', ['pack', '--pack-destination', temp], repo, PACK_TIMEOUT_MS);
  const tarballs = (await readdir(temp)).filter((name) => name.endsWith('.tgz'));
  assert.equal(tarballs.length, 1, `npm pack made ${tarballs.join(', ') || 'no tarball'}`);
  project = join(temp, 'project');
  await mkdir(project);
  await must('npm', ['init', '-y'], project, INSTALL_TIMEOUT_MS);
  // --offline: the tarball has no dependencies, so nothing may be fetched.
  await must('npm', ['install', '--offline', '--no-audit', '--no-fund', join(temp, tarballs[0])], project, INSTALL_TIMEOUT_MS);
  installed = JSON.parse(await readFile(join(project, 'node_modules', 'gort', 'package.json'), 'utf8'));
}, { timeout: PACK_TIMEOUT_MS + 2 * INSTALL_TIMEOUT_MS });

after(async () => {
  if (temp) await rm(temp, { recursive: true, force: true });
});

test('the tarball holds dist/ with every file package.json exports names, and no sources', async () => {
  const tarball = (await readdir(temp)).find((name) => name.endsWith('.tgz'));
  const { stdout } = await must('tar', ['-tzf', join(temp, tarball)], temp, 10_000);
  const entries = stdout.trim().split('\n');
  const outside = entries.filter((e) => !e.startsWith('package/dist/') && !/^package\/(package\.json|README\.md|LICENSE[^/]*)$/.test(e));
  assert.deepEqual(outside, [], 'files outside dist/ besides package.json, README and LICENSE');
  for (const file of ['dist/wasm/node/gort.wasm', 'dist/wasm/web/gort.wasm', 'dist/wasm/web/gort.worker.js', 'dist/wasm/web/gort.mjs']) {
    assert.ok(entries.includes(`package/${file}`), `the tarball has no ${file}`);
  }
  const targets = [...new Set(targetsOf(installed.exports)), installed.main, installed.types].filter(Boolean);
  const missing = targets.filter((t) => !existsSync(fileURLToPath(installedURL(t))));
  assert.deepEqual(missing, [], 'files package.json names that the installed package lacks');
  assert.deepEqual(Object.keys(installed.dependencies ?? {}), [], 'the package has dependencies (installing it would need the network)');
});

test("an ES module script imports { start, select } from 'gort', sends, receives and selects, and exits by itself", async () => {
  await writeFile(join(project, 'esm.mjs'), `
import { start, select } from 'gort';

const rt = await start({ procs: 2 });
const input = rt.chan({ codec: 'string' });
const output = rt.chan({ codec: 'string' });
rt.go('echo', input, output); // left blocked on input at the end: it must not hold the process
await input.send('ping');
const echoed = await output.recv();
const ready = rt.chan({ cap: 1, codec: 'i32' });
const idle = rt.chan({ codec: 'i32' });
await ready.send(42);
const chosen = await select([{ recv: idle }, null, { recv: ready }]);
console.log(JSON.stringify({ resolved: import.meta.resolve('gort'), echoed, chosen }));
`);
  const out = await runScript('esm.mjs');
  assert.equal(out.resolved, installedURL(resolveExport(installed.exports['.'], ['node', 'import', 'default'])), "what 'gort' resolved to");
  assert.deepEqual(out.echoed, { value: 'ping', ok: true });
  assert.deepEqual(out.chosen, { index: 2, value: 42, ok: true });
});

test("a worker_threads worker imports { attach } from 'gort/worker' and receives a value with recvSync", async () => {
  await writeFile(join(project, 'workers.mjs'), `
import { Worker } from 'node:worker_threads';
import { start } from 'gort';

const rt = await start({ procs: 2 });
const ch = rt.chan({ codec: 'json' });
const worker = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: { rt: rt.handle, ch: ch.handle } });
const reply = new Promise((resolve, reject) => {
  worker.once('message', resolve);
  worker.once('error', reject);
});
await ch.send({ n: 7, text: 'to the worker' }); // unbuffered: resolves once the worker took it
console.log(JSON.stringify(await reply));
`);
  await writeFile(join(project, 'worker.mjs'), `
import { workerData, parentPort } from 'node:worker_threads';
import { attach } from 'gort/worker';

const wr = await attach(workerData.rt);
const received = wr.open(workerData.ch).recvSync();
wr.detach();
parentPort.postMessage({ resolved: import.meta.resolve('gort/worker'), received });
`);
  const out = await runScript('workers.mjs');
  assert.equal(out.resolved, installedURL(resolveExport(installed.exports['./worker'], ['node', 'import', 'default'])), "what 'gort/worker' resolved to");
  assert.deepEqual(out.received, { value: { n: 7, text: 'to the worker' }, ok: true });
});

test("a CommonJS script calls require('gort'), sends, receives and selects, and exits by itself", async (t) => {
  // Node 20.19+ can require() an ES module without top-level await, so
  // require('gort') may load without a CommonJS build: what is checked here
  // is the package's own "require" condition, when it has one.
  const required = resolveExportPath(installed.exports['.'], ['node', 'require', 'default']);
  if (!required?.keys.includes('require')) {
    t.skip(`package.json's "exports" for '.' has no "require" condition: require('gort') is not supported by this package yet`);
    return;
  }
  await writeFile(join(project, 'cjs.cjs'), `
const { start, select } = require('gort');

(async () => {
  const rt = await start({ procs: 2 });
  const input = rt.chan({ codec: 'string' });
  const output = rt.chan({ codec: 'string' });
  rt.go('echo', input, output);
  await input.send('from CommonJS');
  const echoed = await output.recv();
  const ready = rt.chan({ cap: 1, codec: 'f64' });
  await ready.send(2.5);
  const chosen = await select([null, { recv: ready }]);
  console.log(JSON.stringify({ resolved: require.resolve('gort'), echoed, chosen }));
})();
`);
  const out = await runScript('cjs.cjs');
  assert.equal(pathToFileURL(out.resolved).href, installedURL(required.target), "what require('gort') resolved to");
  assert.deepEqual(out.echoed, { value: 'from CommonJS', ok: true });
  assert.deepEqual(out.chosen, { index: 1, value: 2.5, ok: true });
});

test("a page imports the installed package's browser entry from node_modules/gort/dist and hands values to a goroutine", { skip: skipBrowser, timeout: 45_000 }, async () => {
  // The import map sends 'gort' where the package's "browser" condition says.
  const entry = resolveExport(installed.exports['.'], ['browser']);
  assert.ok(entry, 'package.json has no "browser" condition for \'.\'');
  const www = join(project, 'www');
  await mkdir(www);
  await writeFile(join(www, 'index.html'), `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gort from its tarball</title>
<link rel="icon" href="data:,">
<script type="importmap">
{ "imports": { "gort": ${JSON.stringify(`/node_modules/gort/${entry.replace(/^\.\//, '')}`)} } }
</script>
<style>body { font: 15px/1.5 system-ui, sans-serif; margin: 24px; } li { font-family: monospace; }</style>
</head>
<body>
<h1>gort, installed from its tarball</h1>
<ol id="lines"></ol>
<script type="module" src="page.mjs"></script>
</body>
</html>
`);
  await writeFile(join(www, 'page.mjs'), `
const show = (text) => document.getElementById('lines').append(Object.assign(document.createElement('li'), { textContent: text }));
try {
  const { start } = await import('gort');
  show('imported gort');
  const rt = await start({ procs: 2 });
  show('started a runtime');
  const input = rt.chan({ codec: 'string' });
  const output = rt.chan({ codec: 'string' });
  rt.go('echo', input, output);
  const received = [];
  for (const word of ['one', 'two', 'three']) {
    await input.send(word); // unbuffered: resolves once the goroutine took it
    received.push((await output.recv()).value);
  }
  input.close();
  const closed = await output.recv(); // the goroutine closes output when input is closed
  show('the goroutine handed back ' + received.join(', ') + '; then closed its output (ok ' + closed.ok + ')');
  await rt.close();
  window.tarballResult = { received, closedOk: closed.ok, isolated: crossOriginIsolated };
} catch (err) {
  show('FAILED: ' + err.stack);
  window.tarballResult = { error: String(err && err.stack || err) };
}
`);
  const server = await serve(project, { folders: ['node_modules/gort/dist', 'www'] });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
    page.on('pageerror', (err) => problems.push(`page error: ${err.stack ?? err.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    await page.goto(`${server.origin}/www/index.html`);
    await page.waitForFunction(() => window.tarballResult, null, { timeout: PAGE_TIMEOUT_MS });
    const result = await page.evaluate(() => window.tarballResult);
    await mkdir(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, 'tarball.png'), fullPage: true });
    assert.deepEqual(result, { received: ['one', 'two', 'three'], closedOk: false, isolated: true });
    assert.deepEqual(problems, []);
    // The glue, its worker file and the .wasm came from the installed package.
    for (const file of ['wasm/web/gort.mjs', 'wasm/web/gort.worker.js', 'wasm/web/gort.wasm']) {
      assert.ok(server.requests.includes(`/node_modules/gort/dist/${file}`), `${file} was not fetched from node_modules/gort/dist: ${server.requests}`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
});
