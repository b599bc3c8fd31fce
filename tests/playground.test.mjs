// The browser playground (web/, served by `npm start`, scripts/serve.mjs):
// the server as a process, exactly as npm start runs it (on a free port, not
// building), and the page in Debian's Chromium through playwright-core. The
// page runs a workload; its heap map shows spans; collector cycles are
// counted and pass through the four phases in order; a workload stops and
// starts again; GOGC and the memory limit change live and the runtime
// reports them; the URL carries the state to a fresh page; pause figures
// agree with the runtime's metrics; the MMU's worst windows are listed and
// marked on the time strip; served without the isolation headers it
// says so in words. Screenshots go to build/screenshots/playground-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, symlink, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { launchChromium, skipBrowser as skip } from './browser/chromium.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const screenshots = fileURLToPath(new URL('../build/screenshots/', import.meta.url));
// How long the page is given to reach a state (a loaded machine runs four
// runtimes' worth of threads on 2 cores).
const WAIT_MS = 60_000;
// Collector cycles a running workload must complete while the test watches.
const CYCLES_WATCHED = 3;
// Seconds of a workload's run before the MMU's worst windows are checked.
const HISTORY_FILLED_S = 8;

for (const f of ['dist/index.browser.js', 'dist/knobs.js', 'dist/wasm/web/gort.wasm']) {
  if (!existsSync(`${root}${f}`)) throw new Error(`${root}${f} is missing: build the package with src/js/build.sh`);
}

let server;
let url;
let browser;

/** Starts `node scripts/serve.mjs --port 0 --no-build` and reads the URL it prints. */
function startServer() {
  const child = spawn(process.execPath, [`${root}scripts/serve.mjs`, '--port', '0', '--no-build'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the server printed no URL:\n${out}`)), 20_000);
    const onData = (d) => {
      out += d;
      const m = /gort playground: (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, url: m[1], output: () => out }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => { out += d; });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the server exited (${code}):\n${out}`)); });
  });
}

/** A raw request (the path is sent as it is: no client-side normalization of '..'). */
function raw(path, { method = 'GET', host, address } = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: address ?? u.hostname, port: u.port, method, path, headers: host ? { Host: host } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`no answer for ${path}`)));
    req.end();
  });
}

before(async () => {
  server = await startServer();
  url = server.url;
  if (!skip) browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.child.kill();
});

test('npm start serves the playground on loopback with the isolation headers, and nothing outside its files', async () => {
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const isolated = (r, what) => {
    assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', `${what}: COOP`);
    assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', `${what}: COEP`);
  };
  for (const [path, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/style.css', 'text/css'],
    ['/mapworker.js', 'text/javascript'], ['/mapview.js', 'text/javascript'], ['/heapmap.js', 'text/javascript'],
    ['/dist/index.browser.js', 'text/javascript'], ['/dist/observe.js', 'text/javascript'],
    ['/dist/wasm/web/gort.wasm', 'application/wasm'], ['/dist/wasm/web/gort.worker.js', 'text/javascript'],
    ['/index.html?w=churn', 'text/html']]) {
    const r = await raw(path);
    assert.equal(r.status, 200, `${path}: ${r.status}`);
    assert.ok(r.headers['content-type'].startsWith(type), `${path}: ${r.headers['content-type']}`);
    isolated(r, path);
  }
  const refused = [
    '/../package.json', '/%2e%2e/package.json', '/%2E%2E/%2E%2E/package.json', '/%2e%2e%2fpackage.json',
    '/dist/../package.json', '/dist/%2e%2e/package.json', '/web/../package.json', '/..%5cpackage.json',
    '/%5c..%5cpackage.json', '//etc/passwd', '/%2fetc%2fpasswd', '/etc/passwd', '/./index.html', '/index.html%00.js',
    '/dist/index.node.cjs', '/dist/wasm/node/gort.wasm', '/dist/wasm/web/../../../package.json', '/dist/', '/dist',
    '/no-such-file.js', '/scripts/serve.mjs', '/%', '/app.js/', 'http://127.0.0.1/../package.json',
  ];
  for (const path of refused) {
    const r = await raw(path);
    assert.equal(r.status, 404, `${path} answered ${r.status}: ${r.body.toString().slice(0, 80)}`);
    isolated(r, path);
    assert.ok(!r.body.toString().includes('"name": "gort"'), `${path} leaked package.json`);
  }
  // A symlink inside web/ to a file outside it is not followed out.
  const link = `${root}web/.playground-test-link-${process.pid}`;
  await symlink(`${root}package.json`, link);
  try {
    const r = await raw(`/.playground-test-link-${process.pid}`);
    assert.equal(r.status, 404, `a symlink out of web/ answered ${r.status}`);
  } finally {
    await rm(link, { force: true });
  }
  const post = await raw('/', { method: 'POST' });
  assert.equal(post.status, 405);
  isolated(post, 'POST');
  // A page of another site reaching the server through its own host name.
  const rebound = await raw('/', { host: 'attacker.example:80' });
  assert.equal(rebound.status, 421);
  // Not on the machine's other addresses.
  const other = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (other) await assert.rejects(raw('/', { address: other.address }), /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/);
});

test('rt.setGCPercent and rt.setMemoryLimit change the collector\'s settings while the runtime runs (Node)', async () => {
  const { start } = await import('../dist/index.node.js');
  const rt = await start({ procs: 2 });
  try {
    const read = () => rt.metrics(['/gc/gogc:percent', '/gc/gomemlimit:bytes', '/gc/heap/goal:bytes']);
    assert.equal(rt.setGCPercent(100), 100);
    const goal100 = read()['/gc/heap/goal:bytes'];
    assert.equal(rt.setGCPercent(400), 100);
    assert.equal(read()['/gc/gogc:percent'], 400);
    assert.ok(read()['/gc/heap/goal:bytes'] > goal100, 'the goal did not move with GOGC');
    assert.equal(rt.setGCPercent('off'), 400);
    assert.equal(read()['/gc/gogc:percent'], 0);
    assert.equal(rt.setGCPercent(50), 'off');
    assert.throws(() => rt.setGCPercent(-1), RangeError);
    assert.throws(() => rt.setGCPercent(1.5), RangeError);
    assert.throws(() => rt.setGCPercent('100'), RangeError);
    assert.equal(rt.setMemoryLimit(), Infinity);
    assert.equal(rt.setMemoryLimit(64 * 1048576), Infinity);
    assert.equal(read()['/gc/gomemlimit:bytes'], 64 * 1048576);
    assert.equal(rt.setMemoryLimit(Infinity), 64 * 1048576);
    assert.equal(rt.setMemoryLimit(), Infinity);
    assert.throws(() => rt.setMemoryLimit(-5), RangeError);
    assert.throws(() => rt.setMemoryLimit(NaN), RangeError);
    // The setting holds while the collector runs.
    const done = rt.chan({ codec: 'f64' });
    rt.go('churn', done, 4);
    assert.equal((await done.recv()).value, 4);
    assert.equal(read()['/gc/gogc:percent'], 50);
  } finally {
    await rt.close();
  }
});

test('rt.setGOMAXPROCS, rt.setGCCheckmark and rt.setGCStopTheWorld change the runtime while it runs (Node)', async () => {
  const { start } = await import('../dist/index.node.js');
  const rt = await start({ procs: 3 });
  try {
    const read = (names) => rt.metrics(names);
    // With no cycle ending between the two metrics.
    const pausesAndCycles = () => {
      for (;;) {
        const before = read(['/gc/cycles/total:gc-cycles'])['/gc/cycles/total:gc-cycles'];
        const m = read(['/sched/pauses/total/gc:seconds', '/gc/cycles/total:gc-cycles']);
        if (m['/gc/cycles/total:gc-cycles'] === before) {
          return { pauses: m['/sched/pauses/total/gc:seconds'].counts.reduce((a, b) => a + b, 0), cycles: before };
        }
      }
    };
    const churn = async (n) => {
      const done = rt.chan({ codec: 'f64' });
      rt.go('churn', done, n);
      assert.equal((await done.recv()).value, n);
      done[Symbol.dispose]();
    };
    // Pauses and cycles over churns of 60 trees until 4 cycles or more
    // have ended (with fewer, the bounds below that a window's ends allow
    // would not tell one pause a cycle from two) (how many cycles a churn takes depends on how the
    // collector's threads keep up with it: a loaded machine merges some).
    const overCycles = async () => {
      await churn(4); // a cycle begun before a change ends as it began
      const a = pausesAndCycles();
      let b;
      for (let tries = 0; tries < 10; tries++) {
        await churn(60);
        b = pausesAndCycles();
        if (b.cycles - a.cycles >= 4) break;
      }
      return { pauses: b.pauses - a.pauses, cycles: b.cycles - a.cycles };
    };
    assert.equal(rt.gomaxprocs, 3);
    assert.equal(await rt.setGOMAXPROCS(1), 3);
    assert.equal(rt.gomaxprocs, 1);
    assert.equal(read(['/sched/gomaxprocs:threads'])['/sched/gomaxprocs:threads'], 1);
    // One P: the events show no other lane running from now on.
    const events = rt.events();
    events.drain();
    await churn(8);
    const ran = new Set(events.drain().events.filter((e) => e.kind === 'state' && e.arg === 'running').map((e) => e.lane));
    assert.deepEqual([...ran].filter((lane) => lane !== 0 && lane < 3), [], `lanes that ran: ${[...ran]}`);
    assert.equal(await rt.setGOMAXPROCS(8), 1, 'above the procs it started with: cut to them');
    assert.equal(rt.gomaxprocs, 3);
    assert.equal(await rt.setGOMAXPROCS(0), 3);
    await assert.rejects(rt.setGOMAXPROCS(-1), RangeError);
    await assert.rejects(rt.setGOMAXPROCS(1.5), RangeError);

    // Stop-the-world collector: one pause a cycle; concurrent: two.
    rt.setGCPercent(10);
    assert.equal(rt.setGCStopTheWorld(true), false);
    assert.equal(rt.setGCCheckmark(true), false);
    const stopped = await overCycles();
    assert.ok(stopped.cycles >= 4, JSON.stringify(stopped));
    assert.ok(stopped.pauses <= stopped.cycles + 1, JSON.stringify(stopped));
    assert.equal(rt.setGCStopTheWorld(false), true);
    assert.equal(rt.setGCCheckmark(false), true);
    const concurrent = await overCycles();
    // A cycle in flight at either end of the window adds or drops a pause.
    assert.ok(concurrent.cycles >= 4 && concurrent.pauses >= 2 * concurrent.cycles - 2, JSON.stringify(concurrent));
    assert.throws(() => rt.setGCStopTheWorld(1), TypeError);
    assert.throws(() => rt.setGCCheckmark('on'), TypeError);
  } finally {
    await rt.close();
  }
});

test('set_seed: the workloads started afterwards take the seed and report it (Node)', async () => {
  const { start } = await import('../dist/index.node.js');
  const rt = await start({ procs: 2 });
  try {
    const seedOf = async (name, ...args) => {
      const ctx = rt.context.withCancel(rt.context.background());
      const report = rt.chan({ cap: 4 });
      const g = rt.go(name, ctx, report, ...args);
      const first = (await report.recv()).value;
      ctx.cancel();
      for (let r = first; !r.final; r = (await report.recv()).value);
      await g;
      return first.seed;
    };
    assert.equal(await seedOf('fragmenter', 2), 0);
    await rt.go('set_seed', 12345);
    assert.equal(await seedOf('fragmenter', 2), 12345);
    assert.equal(await seedOf('lru_cache', 1000, 64), 12345);
    await rt.go('set_seed', 0);
    assert.equal(await seedOf('fragmenter', 2), 0);
  } finally {
    await rt.close();
  }
});

// What a worker thread's reader (openHeapMap of the main thread's handle) sees, on request.
const HEAP_MAP_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.entry).then(({ openHeapMap }) => {
  const reader = openHeapMap(workerData.handle);
  parentPort.on('message', (base) => {
    const { arenas } = reader.read();
    const span = reader.span(base);
    parentPort.postMessage({
      pageSize: reader.pageSize, pagesPerArena: reader.pagesPerArena, bases: arenas.map((a) => a.base),
      copied: arenas.every((a) => a.bytes && a.bytes.length === reader.pagesPerArena * reader.L.pageRecordSize),
      span: span && { elemsize: span.elemsize, nelems: span.nelems, types: span.types },
      memoryBytes: workerData.handle.memory.buffer.byteLength, viewBytes: reader.realm.u8.length,
    });
  });
  parentPort.postMessage('ready');
});`;

test('a heap map reader\'s handle gives a worker thread a reader of the same heap, as the memory grows (Node)', async () => {
  const { start, openHeapMap } = await import('../dist/index.node.js');
  const { runWorkload } = await import('../web/workloads.js');
  const rt = await start({ procs: 2 });
  const { Worker } = await import('node:worker_threads');
  let thread;
  try {
    const reader = rt.heapMap();
    const handle = reader.handle;
    assert.equal(handle.gort, 'heapMap');
    assert.throws(() => openHeapMap(rt.handle), TypeError);
    assert.throws(() => openHeapMap({ ...handle, memory: new WebAssembly.Memory({ initial: 1 }).buffer }), TypeError);
    assert.throws(() => openHeapMap({ ...handle, layout: { ...handle.layout, heapmapHeader: 'x' } }), TypeError);
    thread = new Worker(HEAP_MAP_THREAD, { eval: true, workerData: { entry: new URL('../dist/index.node.js', import.meta.url).href, handle } });
    const replies = [];
    let wake = null;
    thread.on('message', (m) => { replies.push(m); wake?.(); });
    thread.on('error', (e) => { replies.push(e); wake?.(); });
    const next = async () => {
      while (!replies.length) await new Promise((r) => { wake = r; });
      const m = replies.shift();
      if (m instanceof Error) throw m;
      return m;
    };
    assert.equal(await next(), 'ready');
    // Both read the heap while no workload allocates: the same arenas, and
    // a span's objects alike (the sweeper may free a span between the two
    // reads: then another span is asked for).
    const spanOf = (base) => { const x = reader.span(base); return x && { elemsize: x.elemsize, nelems: x.nelems, types: x.types }; };
    const compare = async () => {
      const { arenas } = reader.read();
      const typed = arenas.flatMap((a) => [...Array(reader.pagesPerArena).keys()].filter((i) => reader.page(a, i).kind === 'start')
        .map((i) => a.base + i * reader.pageSize)).filter((b) => reader.span(b)?.types.length);
      assert.ok(typed.length > 0, 'no span with a type on the heap');
      let seen, mine;
      // The newest arenas' spans first: their records are the likeliest above the memory the views were made over.
      for (const base of typed.reverse().slice(0, 5)) {
        mine = spanOf(base);
        thread.postMessage(base);
        seen = await next();
        if (seen.span && mine && JSON.stringify(seen.span) === JSON.stringify(mine)) break;
      }
      assert.deepEqual(seen.span, mine);
      // Arenas are only added (the runtime may add one between the reads).
      const before = arenas.map((a) => a.base), after = reader.read().arenas.map((a) => a.base);
      assert.deepEqual(seen.bases.slice(0, before.length), before);
      assert.deepEqual(after.slice(0, seen.bases.length), seen.bases);
      assert.ok(seen.copied, 'the worker copied no page records');
      assert.equal(seen.pageSize, reader.pageSize);
      assert.equal(seen.pagesPerArena, reader.pagesPerArena);
      assert.equal(seen.viewBytes, seen.memoryBytes, 'the worker\'s views do not cover the memory');
      return seen;
    };
    const done = rt.chan({ codec: 'f64' });
    rt.go('churn', done, 4);
    await done.recv();
    const small = await compare();
    // A heap that grows the memory past what the worker's views were made over.
    const growing = runWorkload(rt, 'alloc_churn', { live_mb: 96, small_pct: 80, large_pct: 5 }, () => {});
    while (handle.memory.buffer.byteLength < small.memoryBytes + 64 * 1048576) await new Promise((r) => setTimeout(r, 50));
    await growing.stop();
    const large = await compare();
    assert.ok(large.memoryBytes > small.memoryBytes && large.bases.length > small.bases.length, `${small.bases.length} arenas in ${small.memoryBytes} bytes, then ${large.bases.length} in ${large.memoryBytes}`);
  } finally {
    await thread?.terminate();
    await rt.close();
  }
});

const waitFor = (page, fn, arg) => page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 100 });

/** Opens the playground at `query` in a fresh context, once it is ready (the context closed if it
 * failed); problems collects console errors. prepare(page) runs before the page loads. */
async function openPage(query, { viewport = { width: 1400, height: 1100 }, prepare } = {}) {
  const context = await browser.newContext({ viewport, acceptDownloads: false });
  const page = await context.newPage();
  await prepare?.(page);
  page.setDefaultTimeout(WAIT_MS);
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.stack ?? e.message}`));
  await page.goto(`${url}${query}`);
  try {
    await waitFor(page, () => window.playground.ready || window.playground.error);
    assert.equal(await page.evaluate(() => window.playground.error), null);
  } catch (e) {
    await context.close();
    throw e;
  }
  await mkdir(screenshots, { recursive: true });
  return { context, page, problems };
}

/**
 * Counts the map's pixels as the page shows them, by kind: 'collector' (each
 * collector colour), 'flash' (a fresh flash: the barrier's yellow, the
 * assists' green) or 'colour' (how far all pixels are from a free page's
 * colour, summed, and the pixels of spans: opaque, far from a free page's
 * colour and from the background's). A canvas handed to a worker gives this thread no context:
 * the frame it shows is copied onto one.
 */
const mapPixels = (page, kind) => page.evaluate((kind) => {
  const c = document.getElementById('map');
  const copy = new OffscreenCanvas(c.width, c.height).getContext('2d');
  copy.drawImage(c, 0, 0);
  const d = copy.getImageData(0, 0, c.width, c.height).data;
  const counts = { white: 0, grey: 0, black: 0, shade: 0, assist: 0, colour: 0, spans: 0 };
  for (let i = 0; i < d.length; i += 4) {
    const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
    if (kind === 'colour') {
      const free = Math.abs(r - 40) + Math.abs(g - 46) + Math.abs(b - 56);
      counts.colour += free;
      if (d[i + 3] === 255 && free > 60 && Math.abs(r - 24) + Math.abs(g - 27) + Math.abs(b - 33) > 60) counts.spans++;
    } else if (kind === 'collector') {
      if (r === 250 && g === 250 && b === 250) counts.white++;
      else if (r === 150 && g === 150 && b === 150) counts.grey++;
      else if (r === 0 && g === 0 && b === 0) counts.black++;
    } else if (r > 180 && g > 165 && b < 0.6 * g) {
      // Collector colour has greys, a slate blue and vermillion: none is yellow or green.
      counts.shade++;
    } else if (g > r + 80 && g > b + 20) {
      counts.assist++;
    }
  }
  return counts;
}, kind);
const collectorPixels = (page) => mapPixels(page, 'collector');
const flashPixels = (page) => mapPixels(page, 'flash');

/**
 * Clicks the map (or what selector names) and waits until the page has
 * the answer: a map drawn in a worker answers by message.
 */
async function clickMap(page, position, selector = '#map') {
  await page.locator(selector).click(position ? { position } : {});
  await waitFor(page, () => window.playground.mapSettled);
}

async function setControl(page, selector, value) {
  await page.locator(selector).fill(String(value));
  await page.locator(selector).dispatchEvent('change');
}

test('the playground runs a workload and draws the heap and the collector live', { skip, timeout: 300_000 }, async (t) => {
  const { context, page, problems } = await openPage('?gogc=100&mode=fill');
  try {
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    // Chromium hands the map's canvas to a worker, and the cost panel says so.
    assert.equal(await page.evaluate(() => window.playground.mapDrawing), 'worker');

    // The module's workloads: binary_trees where this build has it, else the older churn.
    await page.locator('#workload').selectOption('binary_trees');
    await setControl(page, '#param-depth', 14);
    await setControl(page, '#seed', 7);
    await page.locator('#start').click();
    await page.waitForTimeout(300);
    let workload = 'binary_trees';
    if (/no 'binary_trees' workload/.test(await page.locator('#status').textContent())) {
      workload = 'churn';
      t.diagnostic('this build has no binary_trees: running churn');
      await page.locator('#workload').selectOption('churn');
      await page.locator('#start').click();
    }
    await waitFor(page, (w) => window.playground.workload === w && window.playground.lastReport?.ops > 0, workload);
    // The workload took the page's seed as it started.
    assert.equal(await page.evaluate(() => window.playground.lastReport.seed), 7);

    // Spans on the map, and cycles counted while it runs.
    await waitFor(page, () => window.playground.mapStats?.spans > 0 && window.playground.shown.cycles > 0);
    const cycles0 = await page.evaluate(() => window.playground.shown.cycles);
    await waitFor(page, (n) => window.playground.shown.cycles >= n, cycles0 + CYCLES_WATCHED);
    // The table and the figures are made together: read them at one moment.
    const { stats, rows } = await page.evaluate(() => ({
      stats: window.playground.mapStats, rows: document.querySelectorAll('#class-table tbody tr').length,
    }));
    t.diagnostic(`map: ${JSON.stringify(stats)}`);
    assert.ok(stats.spans > 0 && stats.arenas > 0 && stats.classes > 1, JSON.stringify(stats));
    assert.equal(rows, stats.classes);

    // The phase clock passed through the four phases, in order, for every cycle it saw.
    const log = await page.evaluate(() => window.playground.phaseLog.map((p) => p.phase));
    const order = ['sweep termination', 'mark', 'mark termination', 'sweep', 'off'];
    const seen = new Set(log);
    for (const p of ['sweep termination', 'mark', 'mark termination', 'sweep']) assert.ok(seen.has(p), `phase ${p} never shown: ${log.join(', ')}`);
    for (let i = 1; i < log.length; i++) {
      const a = order.indexOf(log[i - 1]), b = order.indexOf(log[i]);
      const next = log[i] === 'sweep termination' ? ['sweep', 'off'].includes(log[i - 1]) : b === a + 1;
      assert.ok(next, `phase ${log[i - 1]} followed by ${log[i]}`);
    }
    assert.match(await page.locator('#gctrace').textContent(), /^gc \d+ @[\d.]+s \d+%: /m);

    // The map changes as the collector runs; in collector colour it shows white and black objects.
    const map = page.locator('#map');
    const shot1 = await map.screenshot({ path: `${screenshots}playground-map-1.png` });
    await waitFor(page, (n) => window.playground.shown.cycles >= n, (await page.evaluate(() => window.playground.shown.cycles)) + 1);
    const shot2 = await map.screenshot({ path: `${screenshots}playground-map-2.png` });
    assert.ok(!shot1.equals(shot2), 'the map did not change across a collector cycle');
    await page.locator('input[name=mode][value=collector]').check();
    const colours = { white: 0, grey: 0, black: 0 };
    for (let i = 0; i < 40 && !(colours.white && colours.black && colours.grey); i++) {
      const c = await collectorPixels(page);
      for (const k of Object.keys(colours)) colours[k] += c[k] ? 1 : 0;
      await page.waitForTimeout(100);
    }
    t.diagnostic(`frames showing each collector colour (of up to 40): ${JSON.stringify(colours)}`);
    assert.ok(colours.white > 0 && colours.black > 0, `collector colours seen: ${JSON.stringify(colours)}`);
    await map.screenshot({ path: `${screenshots}playground-map-collector.png` });

    // A size class chosen in the table lights its spans: the others dim
    // towards a free page's colour (flashes off: they would colour it too).
    await page.locator('input[name=mode][value=fill]').check();
    await page.locator('#flashes').uncheck();
    await page.waitForTimeout(1200);
    const fewest = await page.evaluate(() => [...document.querySelectorAll('#class-table tbody tr')]
      .map((r) => ({ c: r.dataset.class, spans: parseInt(r.cells[2].textContent, 10) })).sort((a, b) => a.spans - b.spans)[0].c);
    const lit = async (want) => {
      let x;
      for (let i = 0; i < 30; i++) {
        x = (await mapPixels(page, 'colour')).colour;
        if (want(x)) break;
        await page.waitForTimeout(100);
      }
      return x;
    };
    const unlit = (await mapPixels(page, 'colour')).colour;
    await page.locator(`#class-table tr[data-class="${fewest}"]`).click();
    // Its share of the spans is at most half (more than one class is on the
    // map): the others, dimmed to 22%, leave at most 61% of the colour.
    const highlighted = await lit((x) => x < unlit * 0.75);
    await map.screenshot({ path: `${screenshots}playground-map-class.png` });
    t.diagnostic(`size class ${fewest} lit: the map's colour ${unlit} -> ${highlighted}`);
    assert.ok(highlighted < unlit * 0.75, `lighting size class ${fewest} dimmed nothing: ${unlit} -> ${highlighted}`);
    await waitFor(page, (c) => document.querySelector('#class-table tr.selected')?.dataset.class === c, fewest);
    await page.locator(`#class-table tr[data-class="${fewest}"]`).click();
    const cleared = await lit((x) => x > highlighted / 0.75);
    assert.ok(cleared > highlighted / 0.75, `the class stayed lit: ${highlighted} -> ${cleared}`);
    await page.locator('#flashes').check();

    // The PNG export is the map as drawn.
    const png = await page.evaluate(async () => {
      const blob = await window.playground.mapPNG();
      const image = await createImageBitmap(blob);
      const c = document.getElementById('map');
      return { type: blob.type, width: image.width, height: image.height, canvas: [c.width, c.height] };
    });
    assert.deepEqual(png, { type: 'image/png', width: png.canvas[0], height: png.canvas[1], canvas: png.canvas });
    assert.ok(png.width > 0 && png.height > 0, JSON.stringify(png));

    // Zoom: an arena, then a span, then an object.
    await clickMap(page, { x: 200, y: 2 });
    await waitFor(page, () => /arena \d+/.test(document.getElementById('crumbs').textContent));
    const box = await map.boundingBox();
    let opened = false;
    for (let k = 0; k < 64 && !opened; k++) {
      const cell = box.width / 32;
      await clickMap(page, { x: (k % 32) * cell + cell / 2, y: Math.floor(k / 32) * (cell * 0.6) + 4 });
      opened = /span 0x/.test(await page.locator('#crumbs').textContent());
    }
    assert.ok(opened, 'no span opened from the arena view');
    await clickMap(page, { x: 5, y: 5 });
    const info = await page.locator('#info').textContent();
    assert.match(info, /size class/);
    await page.screenshot({ path: `${screenshots}playground-span.png`, fullPage: true });
    await clickMap(page, null, '#crumbs a[data-level=heap]');
    assert.match(await page.locator('#cost').textContent(), /heap map drawn inworker \(OffscreenCanvas\)/);

    // GOGC changed live: the goal the page shows and the runtime's follow.
    const goalAt100 = await page.evaluate(() => window.playground.metrics['/gc/heap/goal:bytes']);
    await setControl(page, '#gogc', 400);
    await waitFor(page, () => window.playground.metrics['/gc/gogc:percent'] === 400);
    await waitFor(page, (g) => window.playground.shown.goal > g, goalAt100);
    const shownGoal = await page.locator('#heap-figures').textContent();
    t.diagnostic(`goal at GOGC=100: ${(goalAt100 / 1048576).toFixed(1)} MB; at 400 the page shows: ${shownGoal}`);
    await page.locator('#gogc-off').check();
    await waitFor(page, () => window.playground.metrics['/gc/gogc:percent'] === 0);
    await waitFor(page, () => /none \(GOGC off\)/.test(document.getElementById('heap-figures').textContent));
    // GOGC off and a memory limit of 16 MB: cycles go on, started by the
    // limit alone, and the heap's objects stay under it.
    const LIMIT_MB = 16;
    await setControl(page, '#limit', LIMIT_MB);
    await waitFor(page, (b) => window.playground.metrics['/gc/gomemlimit:bytes'] === b, LIMIT_MB * 1048576);
    const offCycles = await page.evaluate(() => window.playground.metrics['/gc/cycles/total:gc-cycles']);
    await waitFor(page, (n) => window.playground.metrics['/gc/cycles/total:gc-cycles'] >= n, offCycles + 2);
    let most = 0;
    for (let i = 0; i < 20; i++) {
      most = Math.max(most, await page.evaluate(() => window.playground.runtime.metrics(['/memory/classes/heap/objects:bytes'])['/memory/classes/heap/objects:bytes']));
      await page.waitForTimeout(100);
    }
    t.diagnostic(`GOGC off, limit ${LIMIT_MB} MB: heap objects at most ${(most / 1048576).toFixed(1)} MB over 2 s`);
    assert.ok(most <= LIMIT_MB * 1048576, `the heap's objects reached ${most} bytes over a limit of ${LIMIT_MB} MB`);
    await page.locator('#gogc-off').uncheck();
    await waitFor(page, () => window.playground.metrics['/gc/gogc:percent'] === 400);
    // The memory limit, live.
    await setControl(page, '#limit', 512);
    await waitFor(page, () => window.playground.metrics['/gc/gomemlimit:bytes'] === 512 * 1048576);
    await waitFor(page, () => /memory limit512 MB/.test(document.getElementById('heap-figures').textContent));

    // GOMAXPROCS, live: down to 1, the other Ps' lanes run nothing and say
    // they are parked; back up, the runtime reports it.
    const procs = await page.evaluate(() => window.playground.runtime.procs);
    assert.equal(procs, 4, 'the page starts its runtime with 4 Ps');
    await setControl(page, '#procs', 1);
    await waitFor(page, () => window.playground.metrics['/sched/gomaxprocs:threads'] === 1);
    const parkedAt = await page.evaluate(() => window.playground.nowS);
    await page.waitForTimeout(1500);
    const lanes = await page.evaluate((t) => ({
      labels: window.playground.laneLabels, ran: [0, 1, 2, 3].map((p) => window.playground.laneRanSince(p, t)),
    }), parkedAt + 0.05);
    t.diagnostic(`GOMAXPROCS 1: lanes ${JSON.stringify(lanes)}`);
    assert.deepEqual(lanes.ran, [true, false, false, false]);
    assert.deepEqual(lanes.labels.slice(0, 4), ['P0', 'P1 parked', 'P2 parked', 'P3 parked']);
    await setControl(page, '#procs', 3);
    await waitFor(page, () => window.playground.metrics['/sched/gomaxprocs:threads'] === 3);
    await waitFor(page, () => window.playground.laneLabels[2] === 'P2' && window.playground.laneLabels[3] === 'P3 parked');
    await setControl(page, '#procs', 2);
    await waitFor(page, () => window.playground.metrics['/sched/gomaxprocs:threads'] === 2);

    // The stop-the-world collector, live: one pause per cycle instead of two.
    // Read with no cycle ending between the two metrics (the page's thread
    // may be held up between them while cycles go on).
    const pausesAndCycles = () => page.evaluate(() => {
      const rt = window.playground.runtime;
      for (;;) {
        const before = rt.metrics(['/gc/cycles/total:gc-cycles'])['/gc/cycles/total:gc-cycles'];
        const m = rt.metrics(['/sched/pauses/total/gc:seconds', '/gc/cycles/total:gc-cycles']);
        if (m['/gc/cycles/total:gc-cycles'] === before) {
          return { pauses: m['/sched/pauses/total/gc:seconds'].counts.reduce((a, b) => a + b, 0), cycles: before };
        }
      }
    });
    const cyclesOf = async (n) => {
      const a = await pausesAndCycles();
      await waitFor(page, (k) => window.playground.metrics['/gc/cycles/total:gc-cycles'] >= k, a.cycles + n);
      const b = await pausesAndCycles();
      return { pauses: b.pauses - a.pauses, cycles: b.cycles - a.cycles };
    };
    const concurrent = await cyclesOf(4);
    await page.locator('#stw').check();
    await cyclesOf(1); // a cycle begun before the change ends as it began
    const stopped = await cyclesOf(4);
    t.diagnostic(`pauses per cycle: concurrent ${JSON.stringify(concurrent)}, stop-the-world ${JSON.stringify(stopped)}`);
    // A cycle in flight at either end of a window adds or drops a pause:
    // one begun before the window and ended in it brings one of its two,
    // one counted as ended at the window's end (its count goes up inside
    // its second pause) has not yet recorded that pause.
    assert.ok(concurrent.pauses >= 2 * concurrent.cycles - 2, JSON.stringify(concurrent));
    assert.ok(stopped.pauses <= stopped.cycles + 1, JSON.stringify(stopped));
    await page.locator('#stw').uncheck();
    // gccheckmark, live: cycles go on verified (a missed object would end the runtime).
    await page.locator('#checkmark').check();
    const checked = await cyclesOf(2);
    assert.ok(checked.cycles >= 2);
    assert.equal(await page.evaluate(() => window.playground.error), null);

    // The runtime's clock runs forward across its threads: a turn passed
    // among a goroutine per P, each reading the clock as its turn comes.
    const clock = await page.evaluate(async () => {
      const rt = window.playground.runtime;
      const out = rt.chan({ codec: 'json' });
      await rt.setGOMAXPROCS(4);
      try {
        rt.go('clockcheck', out, 20000);
        return (await out.recv()).value;
      } finally {
        out[Symbol.dispose]();
        await rt.setGOMAXPROCS(Number(document.getElementById('procs').value));
      }
    });
    t.diagnostic(`clock across threads: ${JSON.stringify(clock)}`);
    assert.ok(clock.otherThread > 0, `the turn never went to another thread: ${JSON.stringify(clock)}`);
    assert.equal(clock.backwards, 0, `readings went back: ${JSON.stringify(clock)}`);

    // Stop: the final report arrives; start again: reports again.
    await page.locator('#stop').click();
    await waitFor(page, () => window.playground.workload === null && window.playground.lastReport?.final === true);
    const reports = await page.evaluate(() => window.playground.reports);
    await page.locator('#start').click();
    await waitFor(page, (n) => window.playground.workload !== null && window.playground.reports > n && !window.playground.lastReport?.final, reports);
    await page.locator('#restart').click();
    await waitFor(page, () => window.playground.workload !== null && window.playground.lastReport?.ops > 0 && !window.playground.lastReport.final);

    // The URL carries the state: a fresh page opens with the same controls.
    await page.locator('input[name=mode][value=collector]').check();
    const state = async (p) => p.evaluate(() => ({
      workload: document.getElementById('workload').value,
      params: [...document.querySelectorAll('#params input')].map((i) => `${i.id}=${i.value}`),
      gogc: document.getElementById('gogc').value,
      off: document.getElementById('gogc-off').checked,
      limit: document.getElementById('limit').value,
      procs: document.getElementById('procs').value,
      seed: document.getElementById('seed').value,
      checkmark: document.getElementById('checkmark').checked,
      stw: document.getElementById('stw').checked,
      mode: document.querySelector('input[name=mode]:checked').value,
    }));
    const shared = page.url();
    t.diagnostic(`shared URL: ${shared}`);
    assert.match(shared, /gogc=400/);
    assert.match(shared, /limit=512/);
    assert.match(shared, /run=1/);
    assert.match(shared, /procs=2/);
    assert.match(shared, /checkmark=1/);
    assert.match(shared, /seed=7/);
    const before = await state(page);
    t.diagnostic(`the page's own cost: ${await page.locator('#cost').textContent()}`);
    await page.screenshot({ path: `${screenshots}playground.png`, fullPage: true });

    // Pause figures on the page against the runtime's own histograms, with the runtime quiet.
    await page.locator('#stop').click();
    await waitFor(page, () => window.playground.workload === null);
    // The figures are redrawn twice a second: until then they may lag the runtime's by a cycle.
    const compare = () => {
      const m = window.playground.runtime.metrics(['/sched/pauses/total/gc:seconds', '/sched/pauses/stopping/gc:seconds']);
      const pct = (h, q) => {
        const n = h.counts.reduce((a, b) => a + b, 0);
        let seen = 0;
        for (let i = 0; i < h.counts.length; i++) { seen += h.counts[i]; if (seen >= q * n) return Number.isFinite(h.buckets[i + 1]) ? h.buckets[i + 1] : h.buckets[i]; }
        return null;
      };
      const of = (h) => ({ count: h.counts.reduce((a, b) => a + b, 0), p50: pct(h, 0.5), p90: pct(h, 0.9), p99: pct(h, 0.99) });
      const runtime = { total: of(m['/sched/pauses/total/gc:seconds']), stopping: of(m['/sched/pauses/stopping/gc:seconds']) };
      const shown = window.playground.shown.pauses;
      const same = ['total', 'stopping'].every((k) => ['count', 'p50', 'p90', 'p99'].every((f) => shown[k][f] === runtime[k][f]));
      return { same, runtime, shown };
    };
    await page.waitForFunction(`(${compare})().same`, null, { timeout: 10_000, polling: 100 }).catch(() => {});
    const agree = await page.evaluate(compare);
    for (const k of ['total', 'stopping']) {
      for (const f of ['count', 'p50', 'p90', 'p99']) assert.equal(agree.shown[k][f], agree.runtime[k][f], `${k} ${f}: ${JSON.stringify(agree)}`);
    }
    assert.ok(agree.runtime.total.count > 0);

    // Every pause is below 10 s: a begin stamped after its end wrapped to
    // ~2^64 ns. (0 is a pause shorter than the browser's clock resolution,
    // 5 us in Chromium; one that came out at 0 because its begin was
    // stamped late is what the clock check above rules out.) How many
    // read 0 depends on how fast the machine is at the moment: the
    // pauses of a small heap are a tick or two of Chromium's clock, and
    // two threads' ticks fall up to one apart. A clock that never moves
    // within a pause reads 0 for every one of them.
    const pauses = await page.evaluate(() => window.playground.pauses);
    assert.ok(pauses.length > 0);
    const odd = pauses.filter((ns) => !(ns >= 0 && ns < 10e9));
    assert.deepEqual(odd, [], `pauses of the time strip out of range (ns): ${odd.slice(0, 10)}`);
    const zeros = pauses.filter((ns) => ns === 0).length;
    t.diagnostic(`pauses of the strip: ${pauses.length}, of them ${zeros} shorter than the clock's resolution`);
    assert.ok(zeros < pauses.length, `all ${pauses.length} pauses read 0`);
    const hist = await page.evaluate(() => window.playground.runtime.metrics(['/sched/pauses/total/gc:seconds'])['/sched/pauses/total/gc:seconds']);
    const tooLong = hist.counts.reduce((n, c, i) => n + (hist.buckets[i] >= 10 ? c : 0), 0);
    assert.equal(tooLong, 0, `the runtime's histogram holds ${tooLong} pauses of 10 s or more`);
    // And so is every figure of the gctrace lines.
    const traceLines = (await page.locator('#gctrace').textContent()).split('\n').filter((l) => l.startsWith('gc '));
    assert.ok(traceLines.length > 0);
    for (const line of traceLines) {
      const m = /: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock, ([\d.]+)\+([\d.]+)\/([\d.]+)\/0\+([\d.]+) ms cpu/.exec(line);
      assert.ok(m, `not a gctrace line: ${line}`);
      for (const ms of m.slice(1)) assert.ok(Number(ms) < 60_000, `a figure of ${ms} ms in: ${line}`);
    }

    const fresh = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
    const again = await fresh.newPage();
    await again.goto(shared);
    await waitFor(again, () => window.playground.ready);
    assert.deepEqual(await state(again), before);
    await waitFor(again, () => window.playground.workload !== null && window.playground.lastReport?.ops > 0);
    assert.equal(await again.evaluate(() => window.playground.lastReport.seed), 7);
    await again.screenshot({ path: `${screenshots}playground-shared.png`, fullPage: true });
    await fresh.close();

    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

/** The MMU table's and the worst windows' figures, the strip's range and its marked columns, at one moment. */
const mmuPanel = (page) => page.evaluate(() => {
  const table = document.getElementById('mmu-table');
  const heads = [...table.rows[0].cells].slice(1).map((c) => c.textContent);
  const cells = [...table.rows[1].cells].slice(1).map((c) => c.textContent);
  const selected = [...table.rows[0].cells].filter((c) => c.classList.contains('selected')).map((c) => c.textContent);
  const rows = [...document.querySelectorAll('#worst-table tbody tr')].map((r) => [...r.cells].map((c) => c.textContent));
  const { worst, strip } = window.playground.shown;
  // The strip's columns at the middle of each mark it drew, and one 29 s ago
  // (before the 10 s of events): how many of their pixels above the lanes are painted.
  const canvas = document.getElementById('strip');
  const ctx = canvas.getContext('2d');
  const left = 70, right = 8, top = 14, bottom = Math.round(canvas.height * 0.36) - 4;
  const column = (t) => {
    const x = Math.round(left + ((t - strip.from) / (strip.to - strip.from)) * (canvas.width - left - right));
    const d = ctx.getImageData(x, top, 1, bottom - top).data;
    let painted = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
    return painted / (bottom - top);
  };
  return {
    mmu: Object.fromEntries(heads.map((h, i) => [h, cells[i]])), selected, rows, worst, strip,
    marked: strip.marks.map((m) => column((m.from + m.to) / 2)), unmarked: column(strip.from + 1),
  };
});

test('with draw=main in the URL, or when the map\'s worker cannot start, the map is drawn on the main thread', { skip, timeout: 300_000 }, async (t) => {
  const cyclesNow = (page) => page.evaluate(() => window.playground.shown.cycles ?? 0);
  const drawn = (page, how) => waitFor(page, (text) => document.getElementById('cost').textContent.includes(text), `heap map drawn in${how}`);
  {
    const { context, page, problems } = await openPage('?w=binary_trees&depth=14&seed=5&run=1&draw=main');
    try {
      assert.equal(await page.evaluate(() => window.playground.mapDrawing), 'main');
      await waitFor(page, () => window.playground.workload === 'binary_trees' && window.playground.mapStats?.spans > 0);
      await drawn(page, 'main thread (Canvas2D) (draw=main in the URL)');
      assert.match(page.url(), /draw=main/);
      // The map changes across a cycle.
      const map = page.locator('#map');
      const shot1 = await map.screenshot();
      await waitFor(page, (n) => window.playground.shown.cycles >= n, (await cyclesNow(page)) + 2);
      const shot2 = await map.screenshot({ path: `${screenshots}playground-main-thread-map.png` });
      assert.ok(!shot1.equals(shot2), 'the map drawn on the main thread did not change across collector cycles');
      // A click opens an arena, another a span, whose details show.
      await clickMap(page, { x: 200, y: 2 });
      await waitFor(page, () => /arena \d+/.test(document.getElementById('crumbs').textContent));
      const cell = (await map.boundingBox()).width / 32;
      for (let k = 0; k < 64 && !/span 0x/.test(await page.locator('#crumbs').textContent()); k++) {
        await clickMap(page, { x: (k % 32) * cell + cell / 2, y: Math.floor(k / 32) * (cell * 0.6) + 4 });
      }
      assert.match(await page.locator('#info').textContent(), /span at 0x[0-9a-f]+.*size class/s);
      await page.screenshot({ path: `${screenshots}playground-main-thread.png`, fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  }
  // The worker's script fails to load after the canvas was handed to it: a
  // fresh canvas takes the old one's place and the main thread draws on it.
  const { context, page, problems } = await openPage('?w=binary_trees&depth=14&seed=5&run=1', {
    prepare: (p) => p.route('**/mapworker.js', (route) => route.fulfill({ status: 404, body: 'not found' })),
  });
  try {
    assert.equal(await page.evaluate(() => window.playground.mapDrawing), 'main');
    await drawn(page, 'main thread (Canvas2D): the map\'s worker did not start');
    await waitFor(page, () => window.playground.mapStats?.spans > 0);
    let pixels;
    for (let i = 0; i < 30 && !(pixels = await mapPixels(page, 'colour')).spans; i++) await page.waitForTimeout(100);
    assert.ok(pixels.spans > 0, 'the fresh canvas shows no span');
    assert.equal(await page.evaluate(() => document.querySelectorAll('canvas#map').length), 1);
    t.diagnostic(`a worker that did not load: ${await page.locator('#cost tr:first-child').textContent()}`);
    assert.deepEqual(problems.filter((p) => !/404/.test(p)), []);
  } finally {
    await context.close();
  }
});

test('the MMU panel lists its worst windows and the time strip marks them', { skip, timeout: 300_000 }, async (t) => {
  const { context, page, problems } = await openPage('?w=binary_trees&depth=14&seed=3&run=1');
  try {
    await waitFor(page, () => window.playground.workload === 'binary_trees' && window.playground.lastReport?.ops > 0);
    const began = await page.evaluate(() => window.playground.nowS);
    await waitFor(page, () => window.playground.shown.cycles > 0);
    const cycles0 = await page.evaluate(() => window.playground.shown.cycles);
    await waitFor(page, (n) => window.playground.shown.cycles >= n, cycles0 + CYCLES_WATCHED);
    // Most of the MMU's 10 s of history, so that the windows can lie apart on the strip.
    await waitFor(page, (t0) => window.playground.nowS >= t0, began + HISTORY_FILLED_S);
    // The MMU figures are made every 2 s: wait for ones made after those cycles, and for the strip to draw their marks.
    const after = await page.evaluate(() => window.playground.nowS);
    await waitFor(page, (t0) => (window.playground.shown.worst?.windows ?? []).some((x) => x.to > t0 - 10) &&
      window.playground.shown.strip.marks.length === window.playground.shown.worst.windows.length, after);
    await page.waitForTimeout(300);

    const check = async (ms) => {
      const p = await mmuPanel(page);
      t.diagnostic(`${ms} ms: MMU table ${JSON.stringify(p.mmu)}; worst windows ${JSON.stringify(p.rows)}; painted share of marked columns ${p.marked.map((v) => v.toFixed(2))}, of an unmarked one ${p.unmarked.toFixed(2)}`);
      assert.equal(p.worst.windowMs, ms);
      assert.deepEqual(p.selected, [`${ms} ms`]);
      const windows = p.worst.windows;
      assert.ok(windows.length >= 1 && windows.length <= 5, JSON.stringify(p.rows));
      assert.equal(p.rows.length, windows.length);
      // The lowest window's figure is the MMU's, as the table rounds it.
      assert.match(p.rows[0][2], /^\d+%$/);
      assert.equal(p.rows[0][2], p.mmu[`${ms} ms`]);
      p.rows.forEach((r, i) => {
        assert.equal(r[0], String(i + 1));
        assert.match(r[1], /^−\d+\.\d+ s$/);
        assert.equal(r[2], windows[i].shown);
      });
      for (let i = 0; i < windows.length; i++) {
        const x = windows[i];
        assert.ok(Math.abs(x.to - x.from - ms / 1e3) < 1e-6, `window ${i} lasts ${x.to - x.from} s`);
        assert.ok(x.from >= p.strip.from && x.to <= p.strip.to, `window ${i} [${x.from}, ${x.to}] outside the strip's [${p.strip.from}, ${p.strip.to}]`);
        assert.ok(i === 0 || windows[i - 1].utilization <= x.utilization, `window ${i} is lower than the one before it`);
        for (let j = 0; j < i; j++) assert.ok(windows[j].to <= x.from || x.to <= windows[j].from, `windows ${j} and ${i} overlap`);
      }
      // The strip draws a band down each mark's column; elsewhere the heap's area is mostly bare.
      assert.ok(p.marked.length === windows.length && p.marked.every((v) => v > 0.9), `marked columns: ${p.marked}`);
      assert.ok(p.unmarked < 0.5, `an unmarked column: ${p.unmarked}`);
      return p;
    };
    const ten = await check(10);
    // Cycles ran in the 10 s the MMU covers: its worst 10 ms window left goroutines less than every P.
    assert.ok(ten.worst.windows[0].utilization < 1, JSON.stringify(ten.worst.windows[0]));
    const box = async (id) => page.locator(id).boundingBox();
    const strip = await box('#strip-panel'), mmu = await box('#mmu-panel');
    const clip = { x: Math.min(strip.x, mmu.x), y: strip.y, width: Math.max(strip.x + strip.width, mmu.x + mmu.width) - Math.min(strip.x, mmu.x), height: mmu.y + mmu.height - strip.y };
    await page.screenshot({ path: `${screenshots}playground-worst-windows.png`, clip, fullPage: true });

    // Another length from the MMU table's header: the figures are made again at once, the URL keeps it.
    await page.locator('#mmu-table th[data-window="100"]').click();
    await waitFor(page, () => window.playground.shown.worst?.windowMs === 100 && window.playground.shown.strip.marks.length === window.playground.shown.worst.windows.length &&
      window.playground.shown.strip.marks.every((m, i) => m.from === window.playground.shown.worst.windows[i].from));
    assert.equal(await page.locator('#worst-window').inputValue(), '100');
    assert.match(page.url(), /worst=100/);
    await check(100);
    await page.locator('#worst-window').selectOption('2');
    await waitFor(page, () => window.playground.shown.worst?.windowMs === 2 && window.playground.shown.strip.marks.length === window.playground.shown.worst.windows.length &&
      window.playground.shown.strip.marks.every((m, i) => m.from === window.playground.shown.worst.windows[i].from));
    // 2 ms is not among the table's windows: it joins them.
    await check(2);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

// Small parameters: each workload's first report comes quickly on a loaded machine.
const SMALL = {
  binary_trees: { depth: 8 }, alloc_churn: { live_mb: 8, small_pct: 80, large_pct: 5 },
  lru_cache: { capacity: 1000, value_bytes: 64 }, fragmenter: { live_mb: 8 },
  large_churn: { live_mb: 8, object_kb: 64 }, barrier_storm: { objects: 1000 },
  pipeline: { stages: 2, width: 4 }, spawn_storm: { per_round: 100 },
  request_loop: { live_mb: 4, work_kb: 16 }, churn: { n: 2 },
};

test('every workload of the list starts, reports and stops from the page', { skip, timeout: 300_000 }, async (t) => {
  const { context, page, problems } = await openPage('');
  try {
    const names = await page.locator('#workload option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(names.sort(), Object.keys(SMALL).sort());
    const missing = [];
    for (const name of names) {
      await page.locator('#workload').selectOption(name);
      for (const [k, v] of Object.entries(SMALL[name])) await setControl(page, `#param-${k}`, v);
      const before = await page.evaluate(() => window.playground.reports);
      await page.locator('#start').click();
      await waitFor(page, ({ w, n }) => (window.playground.workload === w && window.playground.reports > n) ||
        /workload yet/.test(document.getElementById('status').textContent), { w: name, n: before });
      if (await page.evaluate(() => window.playground.workload) === null) {
        missing.push(name);
        continue;
      }
      const first = await page.evaluate(() => window.playground.lastReport);
      assert.equal(first.workload, name);
      assert.equal(first.checksumErrors, 0, `${name}: ${JSON.stringify(first)}`);
      await page.locator('#stop').click();
      await waitFor(page, () => window.playground.workload === null && window.playground.lastReport?.final === true);
      const last = await page.evaluate(() => window.playground.lastReport);
      assert.equal(last.workload, name);
      assert.equal(last.checksumErrors, 0, `${name}: ${JSON.stringify(last)}`);
      assert.ok(last.ops >= first.ops, `${name}: ${JSON.stringify(last)}`);
      if (name === 'request_loop') assert.ok(last.latencyUs && 'p99' in last.latencyUs, JSON.stringify(last));
      t.diagnostic(`${name}: ${JSON.stringify(last)}`);
    }
    // A module without the newer workloads still has the older churn.
    assert.ok(!missing.includes('churn'));
    if (missing.length) t.diagnostic(`not in this build of the package: ${missing.join(', ')}`);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('the map flashes where the write barrier shades, and a clicked object shows its type', { skip, timeout: 300_000 }, async (t) => {
  const { context, page, problems } = await openPage('?w=barrier_storm&objects=100000&gogc=50&mode=collector');
  try {
    assert.equal(await page.evaluate(() => document.getElementById('flashes').checked), true);
    await page.locator('#start').click();
    await waitFor(page, () => window.playground.workload === 'barrier_storm' && window.playground.lastReport?.ops > 0);
    // Frames drew barrier flashes while the collector marked, and the canvas shows them.
    await waitFor(page, () => (window.playground.flashFrames.mark?.shade ?? 0) > 0);
    let seen = { shade: 0, assist: 0 };
    for (let i = 0; i < 100 && !seen.shade; i++) {
      const c = await flashPixels(page);
      seen = { shade: seen.shade + (c.shade ? 1 : 0), assist: seen.assist + (c.assist ? 1 : 0) };
      if (c.shade) await page.locator('#map').screenshot({ path: `${screenshots}playground-map-flashes.png` });
      else await page.waitForTimeout(50);
    }
    const stats = await page.evaluate(() => ({ frames: window.playground.flashFrames, pages: window.playground.flashStats }));
    t.diagnostic(`flash frames by phase: ${JSON.stringify(stats.frames)}; pages flashed: ${JSON.stringify(stats.pages)}; samples with flash pixels: ${JSON.stringify(seen)}`);
    assert.ok(seen.shade > 0, 'no barrier flash on the canvas');
    assert.ok(stats.pages.shaded > 0);
    assert.match(await page.locator('#legend').textContent(), /write barrier shaded/);

    // Flashes off: the legend and the URL say so, and no flash is drawn.
    await page.locator('#flashes').uncheck();
    assert.match(await page.evaluate(() => location.search), /flash=0/);
    await page.waitForTimeout(1200);
    assert.equal((await flashPixels(page)).shade, 0);
    assert.doesNotMatch(await page.locator('#legend').textContent(), /write barrier shaded/);
    await page.locator('#flashes').check();

    // Clicking an object names its type (the workload's gort_type).
    const map = page.locator('#map');
    await page.locator('input[name=mode][value=fill]').check();
    await clickMap(page, { x: 200, y: 2 });
    await waitFor(page, () => /arena \d+/.test(document.getElementById('crumbs').textContent));
    const box = await map.boundingBox();
    const cell = box.width / 32;
    const types = new Set();
    for (let k = 0; k < 512 && !types.has('barrier-storm node'); k++) {
      await clickMap(page, { x: (k % 32) * cell + cell / 2, y: Math.floor(k / 32) * (cell * 0.6) + 4 });
      if (!/span 0x/.test(await page.locator('#crumbs').textContent())) continue;
      await clickMap(page, { x: 5, y: 5 });
      const type = await page.locator('#info tr').evaluateAll((rows) => rows.find((r) => r.cells[0].textContent === 'type')?.cells[1].textContent ?? 'no type row');
      types.add(type);
      if (type === 'barrier-storm node') await page.screenshot({ path: `${screenshots}playground-object-type.png`, fullPage: true });
      await clickMap(page, null, '#crumbs a[data-level=arena]');
    }
    t.diagnostic(`types shown: ${[...types].join(' | ')}`);
    assert.ok(types.has('barrier-storm node'), [...types].join(' | '));
    await page.locator('#stop').click();
    await waitFor(page, () => window.playground.workload === null);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('served without the isolation headers, the page says why it cannot run', { skip, timeout: 60_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 500 } });
  const page = await context.newPage();
  // The same files, with the two headers taken out (as a static host that does not send them).
  await page.route('**/*', async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['cross-origin-opener-policy'];
    delete headers['cross-origin-embedder-policy'];
    await route.fulfill({ response, headers });
  });
  try {
    await page.goto(url);
    await waitFor(page, () => window.playground?.error);
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    const banner = page.locator('#isolation');
    assert.ok(await banner.isVisible());
    assert.match(await banner.textContent(), /not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/s);
    await page.screenshot({ path: `${screenshots}playground-not-isolated.png` });
  } finally {
    await context.close();
  }
});
