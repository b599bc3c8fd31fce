// bench/js.mjs — the npm package's table (`npm run bench` runs it last;
// `node bench/js.mjs [--quick]` alone): each gort row is measured in the same
// run as its JS anchor between the same parties. Figures are medians of RUNS
// runs with their spread (min..max); compare the columns of one run, as
// ratios: the machines are shared and noisy.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { MessageChannel, Worker } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const quick = process.argv.includes('--quick') || process.env.GORT_BENCH_QUICK === '1';
const RUNS = quick ? 3 : 5;
const ROUND_TRIPS = quick ? 2000 : 20000;
const MESSAGES = quick ? 5000 : 50000;
const CHURN_TREES = quick ? 300 : 3000;
const CHANNEL_CAP = 1024;

// The package's build and the ts-chan row need the dev dependencies.
if (!['esbuild', 'ts-chan'].every((dep) => existsSync(`${root}node_modules/${dep}`))) {
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
execFileSync('bash', [`${root}src/js/build.sh`], { stdio: ['ignore', 'ignore', 'inherit'] });
const { Chan: TsChan } = await import('ts-chan');
const entry = `${root}dist/index.node.js`;
const workerEntry = `${root}dist/worker.node.js`;
const { start } = await import(entry);
const party = new URL('./js/party.mjs', import.meta.url);

function spawn(role, data, transfer = []) {
  const worker = new Worker(party, { workerData: { role, workerEntry, ...data }, transferList: transfer });
  const ready = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const result = new Promise((resolve, reject) => {
    worker.on('message', (m) => { if (m && typeof m == 'object' && 'result' in m) resolve(m.result); });
    worker.once('error', reject);
  });
  return { worker, ready, result };
}

const stats = (values) => {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  return { median: mid, min: v[0], max: v[v.length - 1] };
};

async function repeat(measure) {
  const values = [];
  for (let i = 0; i < RUNS; i++) values.push(await measure());
  return stats(values);
}

const rt = await start({ procs: 2 });
const us = (ms) => ms * 1000;

// ---- round trips ----

async function mainGoroutine() {
  const a = rt.chan({ codec: 'f64' }), b = rt.chan({ codec: 'f64' });
  rt.go('echo', a, b);
  const t0 = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) { await a.send(i); await b.recv(); }
  const per = (performance.now() - t0) / ROUND_TRIPS;
  a.close();
  return us(per);
}

async function mainWorkerGort() {
  const a = rt.chan({ codec: 'f64' }), b = rt.chan({ codec: 'f64' });
  const w = spawn('gortEcho', { n: ROUND_TRIPS, rt: rt.handle, a: a.handle, b: b.handle });
  await w.ready;
  const t0 = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) { await a.send(i); await b.recv(); }
  const per = (performance.now() - t0) / ROUND_TRIPS;
  await w.worker.terminate();
  return us(per);
}

async function mainWorkerPort() {
  const { port1, port2 } = new MessageChannel();
  const w = spawn('portEcho', { n: ROUND_TRIPS, port: port2 }, [port2]);
  await w.ready;
  const t0 = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) {
    port1.postMessage(i);
    await new Promise((r) => port1.once('message', r));
  }
  const per = (performance.now() - t0) / ROUND_TRIPS;
  port1.close();
  await w.worker.terminate();
  return us(per);
}

async function workerWorkerGort() {
  const a = rt.chan({ codec: 'f64' }), b = rt.chan({ codec: 'f64' });
  const echo = spawn('gortEcho', { n: ROUND_TRIPS, rt: rt.handle, a: a.handle, b: b.handle });
  const ping = spawn('gortPing', { n: ROUND_TRIPS, rt: rt.handle, a: a.handle, b: b.handle });
  await Promise.all([echo.ready, ping.ready]);
  const per = await ping.result;
  await Promise.all([echo.worker.terminate(), ping.worker.terminate()]);
  return us(per);
}

async function workerWorkerPort() {
  const { port1, port2 } = new MessageChannel();
  const echo = spawn('portEcho', { n: ROUND_TRIPS, port: port2 }, [port2]);
  const ping = spawn('portPing', { n: ROUND_TRIPS, port: port1 }, [port1]);
  await Promise.all([echo.ready, ping.ready]);
  ping.worker.postMessage('go');
  const per = await ping.result;
  await Promise.all([echo.worker.terminate(), ping.worker.terminate()]);
  return us(per);
}

async function workerWorkerAtomics() {
  const cells = new SharedArrayBuffer(8);
  const pong = spawn('atomicsPong', { n: ROUND_TRIPS, cells });
  const ping = spawn('atomicsPing', { n: ROUND_TRIPS, cells });
  await Promise.all([pong.ready, ping.ready]);
  const c = new Int32Array(cells);
  Atomics.store(c, 1, 1);
  Atomics.notify(c, 1);
  const per = await ping.result;
  await Promise.all([pong.worker.terminate(), ping.worker.terminate()]);
  return us(per);
}

// ---- one thread: the main thread ping-pongs with itself ----

// Two async loops of the main thread hand a number back and forth through
// two unbuffered channels: gort's, and ts-chan's (a Promise-based channel
// library in pure JS, a dev dependency for this row).
async function selfPingPong(a, b, recvValue) {
  const echo = (async () => {
    for (let i = 0; i < ROUND_TRIPS; i++) await b.send(recvValue(await a.recv()));
  })();
  const t0 = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) { await a.send(i); await b.recv(); }
  const per = (performance.now() - t0) / ROUND_TRIPS;
  await echo;
  return us(per);
}

const mainSelfGort = () => selfPingPong(rt.chan({ codec: 'f64' }), rt.chan({ codec: 'f64' }), (r) => r.value);
const mainSelfTsChan = () => selfPingPong(new TsChan(0), new TsChan(0), (r) => r.value);

// ---- throughput between two workers ----

const VALUES = {
  f64: { codec: 'f64', value: 3.25 },
  '100-byte string': { codec: 'string', value: 'x'.repeat(100) },
  '0.5 KB object': {
    codec: 'json',
    value: { id: 12345, name: 'gopher', tags: ['a', 'b', 'c'], text: 'y'.repeat(380), nested: { ok: true, n: [1, 2, 3] } },
  },
};

async function throughputGort({ codec, value }) {
  const ch = rt.chan({ cap: CHANNEL_CAP, codec });
  const recv = spawn('gortRecv', { n: MESSAGES, rt: rt.handle, a: ch.handle, codec });
  await recv.ready;
  const send = spawn('gortSend', { n: MESSAGES, rt: rt.handle, a: ch.handle, codec, value });
  const per = await recv.result;
  await Promise.all([recv.worker.terminate(), send.worker.terminate()]);
  return 1e-3 / per; // M values/s (per: ms per value)
}

async function throughputPort({ value }) {
  const { port1, port2 } = new MessageChannel();
  const recv = spawn('portRecv', { n: MESSAGES, port: port2 }, [port2]);
  const send = spawn('portSend', { n: MESSAGES, port: port1, value }, [port1]);
  await Promise.all([recv.ready, send.ready]);
  send.worker.postMessage('go');
  const per = await recv.result;
  await Promise.all([recv.worker.terminate(), send.worker.terminate()]);
  return 1e-3 / per;
}

// ---- the main thread during a collector-heavy workload ----

async function mainThreadStall() {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const done = rt.chan({ codec: 'f64' });
  const a = rt.chan({ codec: 'f64' }), b = rt.chan({ codec: 'f64' });
  rt.go('echo', a, b);
  histogram.enable();
  rt.go('churn', done, CHURN_TREES);
  let longest = 0, trips = 0;
  for (;;) {
    const t0 = performance.now();
    await a.send(trips);
    await b.recv();
    longest = Math.max(longest, performance.now() - t0);
    trips++;
    if (done.tryRecv().state === 'ok') break;
  }
  histogram.disable();
  a.close();
  return { longestOp: longest, loopDelayMax: histogram.max / 1e6, trips };
}

// ---- report ----

const fmt = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const cell = (s) => `${fmt(s.median)} (${fmt(s.min)}..${fmt(s.max)})`;
const rows = [];
function row(label, gort, anchor, anchorName, unit, higherIsBetter = false) {
  const ratio = higherIsBetter ? gort.median / anchor.median : anchor.median / gort.median;
  rows.push([label, cell(gort), anchorName, cell(anchor), unit, `${ratio.toFixed(1)}x`]);
}

const mainGo = await repeat(mainGoroutine);
const mainW = await repeat(mainWorkerGort);
const mainWPort = await repeat(mainWorkerPort);
row('round trip main <-> goroutine (unbuffered)', mainGo, mainWPort, 'postMessage main <-> worker', 'us');
row('round trip main <-> worker (unbuffered)', mainW, mainWPort, 'postMessage main <-> worker', 'us');
row('round trip main <-> main, two async loops (unbuffered)', await repeat(mainSelfGort), await repeat(mainSelfTsChan),
  'ts-chan (pure JS) on the same thread', 'us');
const wwGort = await repeat(workerWorkerGort);
const wwPort = await repeat(workerWorkerPort);
const wwAtomics = await repeat(workerWorkerAtomics);
row('round trip worker <-> worker (unbuffered)', wwGort, wwPort, 'MessageChannel worker <-> worker', 'us');
row('round trip worker <-> worker (unbuffered)', wwGort, wwAtomics, 'Atomics.wait/notify (the floor)', 'us');
for (const [name, v] of Object.entries(VALUES)) {
  const g = await repeat(() => throughputGort(v));
  const p = await repeat(() => throughputPort(v));
  row(`throughput worker -> worker, ${name} (cap ${CHANNEL_CAP})`, g, p, 'postMessage (structured clone)', 'M values/s', true);
}
const stall = [];
for (let i = 0; i < RUNS; i++) stall.push(await mainThreadStall());
await rt.close();

console.log('\n| JS parties | gort | anchor | anchor figure | unit | gort vs anchor |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
const longest = stats(stall.map((s) => s.longestOp));
const loop = stats(stall.map((s) => s.loopDelayMax));
console.log(`| longest main-thread operation while a goroutine churns ${CHURN_TREES} trees | ${cell(longest)} | | | ms | |`);
console.log(`| longest event-loop delay meanwhile | ${cell(loop)} | | | ms | |`);
console.log(`
Medians of ${RUNS} runs (min..max). Round trips: ${ROUND_TRIPS} per run; throughput: ${MESSAGES} values per run.
"gort vs anchor" is how many times faster gort is (below 1x: slower).`);
