// bench/js.mjs — the npm package's table (`npm run bench` runs it last;
// `node bench/js.mjs [--quick] [--runs=N] [--only=GROUP,...] [--samples]`
// alone): each gort row is measured in the same run as its JS anchor between
// the same parties, in turn (gort, anchor, gort, anchor, ...). Figures are
// medians of RUNS runs with their spread (min..max); compare the columns of
// one run, as ratios: the machines are shared and noisy. GROUPs: roundtrip,
// self, workers, throughput, codec, stall, and browser: the round-trip, worker,
// throughput and stall rows again in Chromium (Debian's, through
// playwright-core).
// --samples prints every sample as SAMPLE <json> for bench/run.mjs before
// the table. Figures are of the steady state: each run's first round trips
// or values are not timed.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { deserialize, serialize } from 'node:v8';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { partyOf, portableMeasures, stallMeasures, timedRoundTrips, VALUES } from './js/measures.mjs';
import { launchChromium, skipBrowser } from '../tests/browser/chromium.mjs';
import { serve } from '../tests/browser/server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const quick = process.argv.includes('--quick') || process.env.GORT_BENCH_QUICK === '1';
const runsFlag = process.argv.find((a) => a.startsWith('--runs='));
const RUNS = runsFlag ? Number(runsFlag.slice('--runs='.length)) : quick ? 3 : 5;
const onlyFlag = process.argv.find((a) => a.startsWith('--only='));
const only = onlyFlag ? onlyFlag.slice('--only='.length).split(',') : null;
const printSamples = process.argv.includes('--samples');
const ROUND_TRIPS = quick ? 2000 : 20000;
const MESSAGES = quick ? 5000 : 100000;
// Every run first warms up for WARMUP_MS, untimed, for gort and its anchor
// alike: a fresh worker's JS (and the module's wasm, in a fresh process) runs
// in V8's baseline tiers until it has run a while, and the optimizing
// compiler then needs the cores that two busy workers hold. A warm-up
// counted in round trips or values made a run's figure depend on how fast
// the party was (gort's worker round trip: ~2.0 us after 5,000, ~1.4 us
// after 300 ms; f64 values 0.6 M/s over 50,000, 1.25 M/s over 200,000).
// Steady state is measured: then ROUND_TRIPS round trips or MESSAGES values.
const WARMUP_MS = quick ? 50 : 500;
// The last value of a round-trip run (echoed back), or of a throughput run's warm-up.
const END = -1;
const CHURN_TREES = quick ? 300 : 3000;
const CHANNEL_CAP = 1024;
const CODEC_VALUES = quick ? 2000 : 50000;
const CODEC_MEMORY_BYTES = 64 * 1024;

// The package's build, the ts-chan row and the MessagePack rows need the dev dependencies.
if (!['esbuild', 'ts-chan', '@msgpack/msgpack'].every((dep) => existsSync(`${root}node_modules/${dep}`))) {
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
execFileSync('bash', [`${root}src/js/build.sh`], { stdio: ['ignore', 'ignore', 'inherit'] });
const { Chan: TsChan } = await import('ts-chan');
const { Encoder: MsgpackEncoder, Decoder: MsgpackDecoder } = await import('@msgpack/msgpack');
const { CODECS } = await import(`${root}dist/codec.js`);
const entry = `${root}dist/index.node.js`;
const workerEntry = `${root}dist/worker.node.js`;
const { start } = await import(entry);
const party = new URL('./js/party.mjs', import.meta.url);

/** Starts a worker playing role (bench/js/roles.mjs): a party of bench/js/measures.mjs. */
function spawn(role, data, transfer = []) {
  const worker = new Worker(party, { workerData: { role, workerEntry, end: END, ...data }, transferList: transfer });
  return partyOf(worker, role, (fn) => worker.on('message', fn), (fn) => worker.once('error', fn));
}

const stats = (values) => {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  return { median: mid, min: v[0], max: v[v.length - 1] };
};

const PROCS = 2;
const rt = await start({ procs: PROCS });
// The stall rows again with start()'s default procs, which leave the main
// thread a core of its own: with every core running a P, the main thread
// waits for the OS to give it one, whatever the runtime does.
const spareRt = only == null || only.includes('stall') ? await start() : null;
const SPARE_PROCS = spareRt?.procs ?? Math.max(1, availableParallelism() - 1);
const us = (ms) => ms * 1000;

// Round trips and throughput (bench/js/measures.mjs), in this process.
const portable = portableMeasures({
  rt, spawn, roundTrips: ROUND_TRIPS, messages: MESSAGES, warmupMs: WARMUP_MS, end: END, channelCap: CHANNEL_CAP,
});

// The same measures in Chromium: bench/js/index.html, served as the browser
// tests serve their page, runs them on runtimes of its own (PROCS Ps, and
// start()'s default for the stall rows' second), one at a time as this
// process asks. Opened at the first one.
const CHROMIUM_LOAD_TIMEOUT_MS = 60_000;
// How long the page rests after its runtime started, before the first
// measure: for its first seconds Chromium is busy with work of its own (a
// first main <-> goroutine run at once read 19-34 us, the runs after it
// 2.8-3.9; after a rest of 3 s, the first read as the others, with or
// without the engine's dynamic tiering of wasm).
const CHROMIUM_SETTLE_MS = 3000;
let chromium = null;

async function openChromium() {
  if (skipBrowser) throw new Error(skipBrowser);
  const server = await serve(root, { folders: ['dist', 'bench/js'] });
  const browser = await launchChromium();
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const settings = {
    procs: PROCS, roundTrips: ROUND_TRIPS, messages: MESSAGES, warmupMs: WARMUP_MS, end: END, channelCap: CHANNEL_CAP, churnTrees: CHURN_TREES,
  };
  await page.goto(`${server.origin}/bench/js/index.html?settings=${encodeURIComponent(JSON.stringify(settings))}`);
  try {
    await page.waitForFunction(() => window.gortBench?.ready, null, { timeout: CHROMIUM_LOAD_TIMEOUT_MS });
  } catch (err) {
    throw new Error(`the bench page did not load: ${errors.join('; ') || err.message}`);
  }
  await new Promise((resolve) => setTimeout(resolve, quick ? 0 : CHROMIUM_SETTLE_MS));
  return { server, browser, page };
}

async function chromiumMeasure(name) {
  chromium ??= await openChromium();
  return chromium.page.evaluate((measure) => window.gortBench.run(measure), name);
}

// ---- one thread: the main thread ping-pongs with itself ----

// Two async loops of the main thread hand a number back and forth through
// two unbuffered channels: gort's, and ts-chan's (a Promise-based channel
// library in pure JS, a dev dependency for this row).
async function selfPingPong(a, b, recvValue) {
  const echo = (async () => {
    for (let v = 0; v !== END;) await b.send(v = recvValue(await a.recv()));
  })();
  const per = await timedRoundTrips(async (i) => { await a.send(i); await b.recv(); }, { roundTrips: ROUND_TRIPS, warmupMs: WARMUP_MS, end: END });
  await echo;
  return us(per);
}

const mainSelfGort = () => selfPingPong(rt.chan({ codec: 'f64' }), rt.chan({ codec: 'f64' }), (r) => r.value);
const mainSelfTsChan = () => selfPingPong(new TsChan(0), new TsChan(0), (r) => r.value);

// ---- one thread: a value into shared memory and out again ----

// What the package's codecs do for a value sent between JS parties: bytes
// written into the runtime's shared memory and read back from there. Each
// codec row is gort's codec against an encoding the package could have used
// instead, all into and out of the same shared memory in this thread: JSON
// text (JSON.stringify and encodeInto, TextDecoder and JSON.parse), the
// structured clone's wire format (Node's v8.serialize and v8.deserialize:
// postMessage's format, though postMessage itself runs V8's serializer
// without Node's JS class around it), and MessagePack (@msgpack/msgpack, a
// dev dependency for these rows).
const codecMemory = new Uint8Array(new SharedArrayBuffer(CODEC_MEMORY_BYTES));
// Where values are written: off a multiple of 8, as a payload's bytes may be.
const CODEC_AT = 4100;
const codecTarget = codecMemory.subarray(CODEC_AT);
const jsonEncoder = new TextEncoder();
const jsonDecoder = new TextDecoder();
const CODEC_WAYS = {
  gort: (codec) => (v) => codec.decodeAt(codecMemory, CODEC_AT, codec.encodeInto(v, codecTarget)),
  json: () => (v) => {
    const { written } = jsonEncoder.encodeInto(JSON.stringify(v), codecTarget);
    return JSON.parse(jsonDecoder.decode(codecMemory.subarray(CODEC_AT, CODEC_AT + written)));
  },
  structuredClone: () => (v) => {
    const bytes = serialize(v);
    codecMemory.set(bytes, CODEC_AT);
    return deserialize(codecMemory.subarray(CODEC_AT, CODEC_AT + bytes.length));
  },
  // Its fastest use: an encoder and a decoder kept, the encoder's bytes a
  // view of its own buffer (encodeSharedRef), copied in at once.
  msgpack: () => {
    const encoder = new MsgpackEncoder(), decoder = new MsgpackDecoder();
    return (v) => {
      const bytes = encoder.encodeSharedRef(v);
      codecMemory.set(bytes, CODEC_AT);
      return decoder.decode(codecMemory.subarray(CODEC_AT, CODEC_AT + bytes.length));
    };
  },
};

/** us per value of `way` (CODEC_WAYS) for the value named (VALUES), after WARMUP_MS of it. */
function codecRoundTrip(way, name) {
  const { codec, value } = VALUES[name];
  const trip = CODEC_WAYS[way](CODECS[codec]);
  let sink = 0;
  for (const warm = performance.now(); performance.now() - warm < WARMUP_MS;) sink += trip(value) === null ? 1 : 0;
  const t0 = performance.now();
  for (let i = 0; i < CODEC_VALUES; i++) sink += trip(value) === null ? 1 : 0;
  const per = (performance.now() - t0) / CODEC_VALUES;
  if (sink !== 0) throw new Error(`the ${way} codec gave null for ${name}`);
  return us(per);
}

// ---- the main thread during a collector-heavy workload ----

// The stall rows' measures (bench/js/measures.mjs), the event loop's delay
// read by Node's own monitor.
function eventLoopDelay() {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  return {
    start: () => histogram.enable(),
    stop: () => {
      histogram.disable();
      return histogram.max / 1e6;
    },
  };
}
const stalls = stallMeasures({ rt, spareRt, churnTrees: CHURN_TREES, loopDelay: eventLoopDelay });
const STALL_MEASURES = Object.keys(stalls);

// ---- the rows: gort and its anchor, measured in turn in every run ----

// The rows whose measures run in Node and in Chromium alike (bench/js/measures.mjs).
const PORTABLE_ROWS = [
  { id: 'js_main_goroutine', group: 'roundtrip', label: 'round trip main <-> goroutine (unbuffered)',
    gort: 'mainGoroutine', anchor: 'mainWorkerPort', anchorName: 'postMessage main <-> worker', unit: 'us', better: 'lower' },
  { id: 'js_main_worker', group: 'roundtrip', label: 'round trip main <-> worker (unbuffered)',
    gort: 'mainWorkerGort', anchor: 'mainWorkerPort', anchorName: 'postMessage main <-> worker', unit: 'us', better: 'lower' },
  { id: 'js_worker_worker_port', group: 'workers', label: 'round trip worker <-> worker (unbuffered)',
    gort: 'workerWorkerGort', anchor: 'workerWorkerPort', anchorName: 'MessageChannel worker <-> worker', unit: 'us', better: 'lower' },
  { id: 'js_worker_worker_atomics', group: 'workers', label: 'round trip worker <-> worker (unbuffered)',
    gort: 'workerWorkerGort', anchor: 'workerWorkerAtomics', anchorName: 'Atomics.wait/notify (the floor)', unit: 'us', better: 'lower' },
  { id: 'js_worker_worker_spin', group: 'workers', label: 'round trip worker <-> worker (unbuffered)',
    gort: 'workerWorkerGort', anchor: 'workerWorkerSpin', anchorName: 'Atomics spin, no sleep (two cache-line transfers)', unit: 'us', better: 'lower' },
  ...Object.keys(VALUES).map((name) => ({
    id: `js_throughput_${name.replace(/[^a-z0-9]+/gi, '_')}`, group: 'throughput',
    label: `throughput worker -> worker, ${name} (cap ${CHANNEL_CAP})`, gort: `throughputGort ${name}`,
    anchor: `throughputPort ${name}`, anchorName: 'postMessage (structured clone)', unit: 'M values/s', better: 'higher',
  })),
];

// The codecs' rows: the 'json' codec against each other encoding of the
// object, the 'string' codec against those that take a string.
const CODEC_ANCHORS = {
  json: 'JSON text (stringify + encodeInto, TextDecoder + parse)',
  structuredClone: "structured clone's format (v8.serialize / v8.deserialize)",
  msgpack: 'MessagePack (@msgpack/msgpack)',
};
const CODEC_ROWS = [['0.5 KB object', ['json', 'structuredClone', 'msgpack']], ['100-byte string', ['structuredClone', 'msgpack']]]
  .flatMap(([name, anchors]) => anchors.map((way) => ({
    id: `js_codec_${name.replace(/[^a-z0-9]+/gi, '_')}_${way}`, group: 'codec',
    label: `${name} into shared memory and out again, one thread (codec '${VALUES[name].codec}')`,
    gort: `codec gort ${name}`, anchor: `codec ${way} ${name}`, anchorName: CODEC_ANCHORS[way], unit: 'us', better: 'lower',
    measures: { [`codec gort ${name}`]: () => codecRoundTrip('gort', name), [`codec ${way} ${name}`]: () => codecRoundTrip(way, name) },
  })));

// The main thread while the collector works (bench/js/measures.mjs's stallMeasures).
const STALL_ROWS = [
  ...[['stall', `${PROCS} Ps`, ''], ['stallSpare', `start()'s default, ${SPARE_PROCS} P${SPARE_PROCS > 1 ? 's' : ''}: a core left to the main thread`, '_spare']]
    .flatMap(([measure, runtime, suffix]) => [
      { id: `js_stall_longest_op${suffix}`, group: 'stall', label: `longest main-thread round trip with a goroutine while another churns ${CHURN_TREES} trees (${runtime})`,
        gort: `${measure} longestOp`, unit: 'ms', better: 'lower' },
      { id: `js_stall_longest_call${suffix}`, group: 'stall', label: `longest main-thread call into the runtime meanwhile (inside send() or recv(); ${runtime})`,
        gort: `${measure} longestCall`, unit: 'ms', better: 'lower' },
      { id: `js_stall_loop_delay${suffix}`, group: 'stall', label: `longest event-loop delay meanwhile (${runtime})`,
        gort: `${measure} loopDelayMax`, anchor: 'idleLoop loopDelayMax', anchorName: 'the same wait, nothing running (the floor)',
        unit: 'ms', better: 'lower' },
    ]),
];

// The same rows in Chromium (group browser): measured in a page served with
// the two isolation headers, between its main thread, module Web Workers and
// goroutines of the page's runtimes (the stall rows' event-loop delay there
// is a 1 ms interval timer's lateness).
const inChromium = (name) => `chromium:${name}`;
const CHROMIUM_ROWS = [...PORTABLE_ROWS, ...STALL_ROWS].map((r) => ({
  ...r, id: `${r.id}_chromium`, group: 'browser', label: `Chromium: ${r.label}`,
  gort: inChromium(r.gort), anchor: r.anchor && inChromium(r.anchor),
}));

const ROWS = [
  ...PORTABLE_ROWS,
  { id: 'js_main_main', group: 'self', label: 'round trip main <-> main, two async loops (unbuffered)',
    gort: 'mainSelfGort', anchor: 'mainSelfTsChan', anchorName: 'ts-chan (pure JS) on the same thread', unit: 'us', better: 'lower' },
  ...CODEC_ROWS,
  ...STALL_ROWS,
  ...CHROMIUM_ROWS,
].filter((r) => only == null || only.includes(r.group));

const MEASURES = {
  ...portable,
  ...Object.fromEntries([...Object.keys(portable), ...STALL_MEASURES].map((name) => [inChromium(name), () => chromiumMeasure(name)])),
  mainSelfGort, mainSelfTsChan,
  ...stalls,
  ...Object.assign({}, ...CODEC_ROWS.map((r) => r.measures)),
};
// A row's figure is a measure's result, or a field of it ('stall longestOp').
const COMPOSITE = new Set([...STALL_MEASURES, ...STALL_MEASURES.map(inChromium)]);
const measureOf = (name) => COMPOSITE.has(name.split(' ')[0]) ? name.split(' ')[0] : name;
const pick = (results, name) => {
  const [measure, field] = name.split(' ');
  return COMPOSITE.has(measure) ? results[measure][field] : results[name];
};

// Every run measures each measure once, in the rows' order: gort, then its anchor.
const order = [...new Set(ROWS.flatMap((r) => [r.gort, r.anchor].filter(Boolean).map(measureOf)))];
const runs = [];
for (let i = 0; i < RUNS; i++) {
  const results = {};
  for (const name of order) results[name] = await MEASURES[name]();
  runs.push(results);
}
await rt.close();
await spareRt?.close();
if (chromium) {
  await chromium.browser.close();
  await chromium.server.close();
}

if (printSamples) {
  runs.forEach((results, run) => {
    for (const r of ROWS) {
      const base = { metric: r.id, label: r.label, unit: r.unit, better: r.anchor ? r.better : null, anchor: r.anchorName, run };
      console.log(`SAMPLE ${JSON.stringify({ ...base, column: 'gort-js', value: pick(results, r.gort) })}`);
      if (r.anchor) console.log(`SAMPLE ${JSON.stringify({ ...base, column: 'js-anchor', value: pick(results, r.anchor) })}`);
    }
  });
}

// ---- report ----

const fmt = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const cell = (s) => `${fmt(s.median)} (${fmt(s.min)}..${fmt(s.max)})`;
console.log('\n| JS parties | gort | anchor | anchor figure | unit | gort vs anchor |');
console.log('|---|---|---|---|---|---|');
for (const r of ROWS) {
  const gort = stats(runs.map((x) => pick(x, r.gort)));
  if (!r.anchor) {
    console.log(`| ${r.label} | ${cell(gort)} | | | ${r.unit} | |`);
    continue;
  }
  const anchor = stats(runs.map((x) => pick(x, r.anchor)));
  const ratio = r.better === 'higher' ? gort.median / anchor.median : anchor.median / gort.median;
  console.log(`| ${r.label} | ${cell(gort)} | ${r.anchorName} | ${cell(anchor)} | ${r.unit} | ${ratio.toFixed(1)}x |`);
}
console.log(`
Medians of ${RUNS} runs (min..max). Each run warms up for ${WARMUP_MS} ms, then times ${ROUND_TRIPS} round trips or ${MESSAGES} values.
"gort vs anchor" is how many times faster gort is (below 1x: slower).`);
