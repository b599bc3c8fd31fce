// bench/page.mjs — what the browser playground (web/) costs and how fast it
// draws, in Debian's Chromium (playwright-core), served as `npm start` serves
// it:
//
//   node bench/page.mjs [--quick] [--runs=N] [--samples] [--draw=worker|main]
//
// For each workload below and each place the heap map is drawn (in its
// worker, the page's default, and on the main thread: draw=main; --draw
// measures one), each run opens the page on a fresh tab with the workload
// running (its state in the URL), lets the heap grow for WARMUP_MS, then
// counts the frames the page and the map drew and reads the page's mean
// main-thread work per frame, the map's own work per frame and the bytes
// read per frame over MEASURE_MS, and last presses the page's A/B button:
// the workload's operations per second with the view paused, then on (5 s
// each). Figures: frames per second, the main thread's work per frame (ms),
// the map's frames per second and work per frame (in the worker, or within
// the main thread's), KB read per frame, the heap's size while measured
// (MB), and the A/B ratio (ops/s with the view on over off: 1 means drawing
// costs the workload nothing). --samples prints every figure as SAMPLE
// <json> for bench/run.mjs; a table follows either way.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchChromium, skipBrowser } from '../tests/browser/chromium.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const quick = argv.includes('--quick') || process.env.GORT_BENCH_QUICK === '1';
const runsFlag = argv.find((a) => a.startsWith('--runs='));
const RUNS = runsFlag ? Number(runsFlag.slice('--runs='.length)) : quick ? 1 : 3;
const printSamples = argv.includes('--samples');
const drawFlag = argv.find((a) => a.startsWith('--draw='))?.slice('--draw='.length);
// Where the map is drawn: its figures' ids (the worker's, the page's default, unmarked) and the URL that asks for it.
const DRAWINGS = [
  { where: 'worker', suffix: '', label: 'map in a worker', query: '' },
  { where: 'main', suffix: '_main', label: 'map on the main thread', query: '&draw=main' },
].filter((d) => !drawFlag || d.where === drawFlag);
if (DRAWINGS.length === 0) throw new Error('--draw takes worker or main');
const WARMUP_MS = quick ? 4000 : 10000;
const MEASURE_MS = quick ? 4000 : 10000;
// The page's A/B: two phases of 5 s (web/app.js AB_PHASE_MS), and some slack.
const AB_TIMEOUT_MS = 30000;
const READY_TIMEOUT_MS = 60000;

// The largest binary-trees the page offers first (depth 21: its heap is
// the figure 'heap while measured').
const WORKLOADS = quick
  ? [{ id: 'page_binary_trees_16', label: 'binary_trees depth 16', query: 'w=binary_trees&depth=16' }]
  : [
      { id: 'page_binary_trees_21', label: 'binary_trees depth 21', query: 'w=binary_trees&depth=21' },
      { id: 'page_binary_trees_16', label: 'binary_trees depth 16', query: 'w=binary_trees&depth=16' },
      // The issue's case: binary-trees over a heap of 256 MB and more.
      { id: 'page_binary_trees_21_gogc300', label: 'binary_trees depth 21, GOGC 300', query: 'w=binary_trees&depth=21&gogc=300' },
      { id: 'page_alloc_churn_256', label: 'alloc_churn, 256 MB live', query: 'w=alloc_churn&live_mb=256&small_pct=80&large_pct=5' },
    ];

for (const f of ['dist/index.browser.js', 'dist/wasm/web/gort.wasm']) {
  if (!existsSync(`${root}${f}`)) throw new Error(`${f} is missing: build the package with src/js/build.sh`);
}
if (skipBrowser) throw new Error(skipBrowser);

function startServer() {
  const child = spawn(process.execPath, [`${root}scripts/serve.mjs`, '--port', '0', '--no-build'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d) => {
      out += d;
      const m = /gort playground: (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1] });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => { out += d; });
    child.once('exit', (code) => reject(new Error(`the server exited (${code}):\n${out}`)));
  });
}

async function measure(browser, url, workload, drawing) {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${url}?${workload.query}&run=1${drawing.query}`);
    await page.waitForFunction(() => window.playground?.ready && window.playground.reports > 0, null, { timeout: READY_TIMEOUT_MS });
    const where = await page.evaluate(() => window.playground.mapDrawing);
    if (where !== drawing.where) throw new Error(`the page drew its map in '${where}', not '${drawing.where}'`);
    await page.waitForTimeout(WARMUP_MS);
    const read = () => page.evaluate(() => {
      const m = window.playground.metrics ?? {};
      return {
        frames: window.playground.frames, mapFrames: window.playground.mapFrames, at: performance.now(),
        frameMs: window.playground.shown.frameMs, frameKB: window.playground.shown.frameKB, mapMs: window.playground.shown.mapMs,
        heapBytes: (m['/memory/classes/heap/objects:bytes'] ?? 0) + (m['/memory/classes/heap/unused:bytes'] ?? 0) +
          (m['/memory/classes/heap/free:bytes'] ?? 0),
      };
    });
    const a = await read();
    const frameMs = [];
    const mapMs = [];
    const heap = [];
    const kbs = [];
    for (let t = 0; t < MEASURE_MS; t += 1000) {
      await page.waitForTimeout(1000);
      const s = await read();
      frameMs.push(s.frameMs);
      mapMs.push(s.mapMs);
      heap.push(s.heapBytes);
      kbs.push(s.frameKB);
    }
    const b = await read();
    await page.click('#ab');
    await page.waitForFunction(() => window.playground.shown.ab, null, { timeout: AB_TIMEOUT_MS });
    const ab = await page.evaluate(() => window.playground.shown.ab);
    if (errors.length) throw new Error(`the page threw: ${errors.join('; ')}`);
    const mean = (xs) => xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
    return {
      fps: ((b.frames - a.frames) * 1000) / (b.at - a.at),
      frameMs: mean(frameMs),
      mapFps: ((b.mapFrames - a.mapFrames) * 1000) / (b.at - a.at),
      mapMs: mean(mapMs),
      kbPerFrame: mean(kbs),
      heapMB: Math.max(...heap) / 1048576,
      abRatio: ab.off > 0 ? ab.on / ab.off : NaN,
    };
  } finally {
    await page.close();
  }
}

const FIGURES = [
  { key: 'fps', label: 'frames per second', unit: '/s', better: 'higher' },
  { key: 'frameMs', label: "the page's main-thread work per frame (mean)", unit: 'ms', better: 'lower' },
  { key: 'mapFps', label: 'heap map frames per second', unit: '/s', better: 'higher' },
  { key: 'mapMs', label: "the heap map's work per frame (mean)", unit: 'ms', better: 'lower' },
  { key: 'kbPerFrame', label: 'shared memory read per frame (mean)', unit: 'KB', better: 'lower' },
  { key: 'heapMB', label: 'heap while measured (objects, unused and free spans)', unit: 'MB', better: null },
  { key: 'abRatio', label: 'workload ops/s with the view on over off (A/B)', unit: 'x', better: 'higher' },
];

const server = await startServer();
const browser = await launchChromium();
const runs = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const results = {};
    // Both places one after the other for each workload: they see the same machine.
    for (const w of WORKLOADS) {
      for (const d of DRAWINGS) {
        process.stderr.write(`bench page: ${w.label}, ${d.label}, run ${run + 1} of ${RUNS}\n`);
        results[w.id + d.suffix] = await measure(browser, server.url, w, d);
      }
    }
    runs.push(results);
  }
} finally {
  await browser.close();
  server.child.kill();
}

// Every workload in each place the map is drawn.
const MEASURED = WORKLOADS.flatMap((w) => DRAWINGS.map((d) => ({ id: w.id + d.suffix, label: `${w.label}, ${d.label}` })));

if (printSamples) {
  runs.forEach((results, run) => {
    for (const w of MEASURED) {
      for (const f of FIGURES) {
        console.log(`SAMPLE ${JSON.stringify({ metric: `${w.id}_${f.key}`, label: `${w.label}: ${f.label}`, unit: f.unit,
          better: null, column: 'gort-js', value: results[w.id][f.key], run })}`);
      }
    }
  });
}

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (v) => (!Number.isFinite(v) ? '–' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
console.log('\n| the playground in Chromium | figure | median (min..max) |');
console.log('|---|---|---|');
for (const w of MEASURED) {
  for (const f of FIGURES) {
    const xs = runs.map((r) => r[w.id][f.key]).filter(Number.isFinite);
    console.log(`| ${w.label} | ${f.label} (${f.unit}) | ${fmt(median(xs))} (${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))}) |`);
  }
}
console.log(`\n${RUNS} run(s); ${WARMUP_MS / 1000} s of warm-up and ${MEASURE_MS / 1000} s measured each, then the page's A/B (5 s off, 5 s on).`);
