// `npm run bench`: measures gort beside its peers in one run on one machine —
// Go natively (GOMAXPROCS 1, 2, and 4 for the multi-core rows) and as
// js/wasm under the same Node, Emscripten's and glibc's malloc, and the JS
// anchors of the npm package (bench/js.mjs), and the playground's frame rate
// and cost in Chromium (bench/page.mjs) — and prints one table of
// figures per area and the table of gort's ratios to each peer. Each run of
// an area runs every workload once, gort's program then its peers' in turn
// (gort native, Go native, gort wasm, Go js/wasm), so that all see the same
// machine; a figure is the median of the runs, its spread (min..max) kept.
// Writes build/bench/report.html (charts) and build/bench/samples.json
// (every sample).
//
//   npm run bench [-- [--quick] [--runs=N] [--out=DIR] [--no-build] [--debug-builds] [AREA|WORKLOAD...]]
//
// --quick (or GORT_BENCH_QUICK=1): every workload a tenth of its size (the
// collector's programs two depths smaller), 3 runs instead of 5. Words name
// areas (chan, proc, malloc, gc, maps, cores, js, page) or workloads (see
// bench/lib/plan.mjs) to run alone. --no-build runs the programs built last.
// --debug-builds runs gort's programs as npm test builds them
// (build/native-asan under AddressSanitizer, build/wasm-debug) and builds
// only the Go peers: a check that every program still runs, whose figures
// are not speeds (npm test's bench step).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { plan, select } from './lib/plan.mjs';
import { figureTable, gcCpuResultLine, linesOf, parseOutput, ratioTable, samplesOf } from './lib/results.mjs';
import { renderReport } from './lib/report.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const flag = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = argv.includes('--quick') || process.env.GORT_BENCH_QUICK === '1';
const RUNS = Number(flag('runs') ?? (quick ? 3 : 5));
const outDir = flag('out') ?? `${root}build/bench`;
const words = argv.filter((a) => !a.startsWith('--'));
const debugBuilds = argv.includes('--debug-builds');
const gortDirs = debugBuilds ? { native: `${root}build/native-asan`, wasm: `${root}build/wasm-debug` }
  : { native: `${root}build/bench-native`, wasm: `${root}build/bench-wasm` };
// The runtime never returns its metadata to the system: not a leak.
const debugEnv = debugBuilds ? { ASAN_OPTIONS: 'detect_leaks=0' } : {};
// A program that takes longer than this has hung.
const JOB_TIMEOUT_MS = (quick ? 300 : 900) * 1000;
if (!(RUNS >= 1)) throw new Error('--runs must be a positive number');

const areas = select(plan({ quick }), words);

if (!argv.includes('--no-build')) {
  execFileSync('bash', [`${root}bench/build.sh`, ...(debugBuilds ? ['--go-only'] : [])], { stdio: ['ignore', 'inherit', 'inherit'] });
}

const goDir = `${root}build/bench-go`;
const goAbsentReason = existsSync(`${goDir}/ABSENT`) ? readFileSync(`${goDir}/ABSENT`, 'utf8').trim()
  : existsSync(`${goDir}/VERSION`) ? null : 'the Go peers are not built (bench/build.sh)';
const goAbsent = goAbsentReason != null;
// Go 1.19's wasm_exec_node.js assigns globalThis.crypto, which Node 19 and
// later define as a getter unless this flag turns their Web Crypto global off.
const goWasmFlags = process.allowedNodeEnvironmentFlags.has('--no-experimental-global-webcrypto')
  ? ['--no-experimental-global-webcrypto'] : [];

function version(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
  } catch {
    return null;
  }
}

const machine = {
  date: new Date().toISOString(),
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  memoryGB: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  loadBefore: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  node: process.version,
  emcc: version('emcc', ['--version'])?.replace(/^emcc \(.*?\)\s*/, 'emcc ').replace(/\s*\(\)$/, ''),
  cc: version('cc', ['--version']),
  go: goAbsent ? `absent: ${goAbsentReason}` : readFileSync(`${goDir}/VERSION`, 'utf8').trim(),
  gort: version('git', ['-C', root, 'describe', '--always', '--dirty']),
  quick,
  runs: RUNS,
  debugBuilds,
};

const samples = [], pauses = [], failures = [];

// Runs one program once and keeps its samples; a failure is kept and
// reported at the end (the other measurements go on).
function job(area, run, what, command, args, source, env = {}) {
  const started = Date.now();
  const r = spawnSync(command, args, {
    encoding: 'utf8', maxBuffer: 64 << 20, timeout: JOB_TIMEOUT_MS, env: { ...process.env, ...env },
  });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
    failures.push({ area: area.id, run, what, why, stderr: (r.stderr ?? '').trim().split('\n').slice(-5).join('\n') });
    process.stderr.write(`bench: ${what} failed (${why})\n${r.stderr ?? ''}`);
    return;
  }
  // A collector program's CPU share comes from its runtime's trace (gctrace).
  const stdout = area.gctrace ? r.stdout + gcCpuResultLine(r.stdout, r.stderr ?? '') : r.stdout;
  const got = samplesOf(stdout, source, area.id, run);
  if (got.samples.length === 0) {
    failures.push({ area: area.id, run, what, why: 'printed no RESULT line', stderr: '' });
  }
  samples.push(...got.samples.map((s) => ({ ...s, job: what, ms: Date.now() - started })));
  pauses.push(...got.pauses);
}

const quickArgs = quick ? ['quick'] : [];

function gortJob(area, run, w, target) {
  const { program, args, procs } = w.gort;
  const file = target === 'native' ? `${gortDirs.native}/gort_bench_${program}` : `${gortDirs.wasm}/gort_bench_${program}.js`;
  const traced = area.gctrace ? [...args, 'gctrace=1'] : args;
  const [command, all] = target === 'native' ? [file, [...traced, ...quickArgs]] : [process.execPath, [file, ...traced, ...quickArgs]];
  job(area, run, `gort ${target} ${program} ${args.join(' ')}`.trim(), command, all,
    { impl: 'gort', target, procs: procs ?? area.gortProcs, procsOf: area.procsOf }, debugEnv);
}

function goJob(area, run, w, target, procs) {
  if (goAbsent) return;
  const { program, args = [] } = w.go;
  const what = `Go ${target} ${program} ${args.join(' ')}${target === 'native' ? ` GOMAXPROCS=${procs}` : ''}`;
  const traced = area.gctrace ? { GODEBUG: 'gctrace=1' } : {};
  if (target === 'native') {
    job(area, run, what, `${goDir}/native/${program}`, [...args, ...quickArgs], { impl: 'go', target, procs },
      { GOMAXPROCS: String(procs), ...traced });
  } else {
    job(area, run, what, process.execPath,
      [...goWasmFlags, `${goDir}/wasm_exec_node.js`, `${goDir}/wasm/${program}`, ...args, ...quickArgs],
      { impl: 'go', target, procs: 1 }, traced);
  }
}

function runArea(area) {
  for (let run = 0; run < RUNS; run++) {
    process.stderr.write(`bench: ${area.id}, run ${run + 1} of ${RUNS}\n`);
    for (const w of area.workloads) {
      if (w.gort) gortJob(area, run, w, 'native');
      for (const p of w.go?.procs ?? []) goJob(area, run, w, 'native', p);
      if (w.gort) gortJob(area, run, w, 'wasm');
      if (w.go && w.go.wasm !== false) goJob(area, run, w, 'wasm', 1);
    }
  }
}

// A script of its own measures an area in all its runs and prints every
// sample (SAMPLE lines).
function runScript(area, script, runs, extraArgs = []) {
  process.stderr.write(`bench: ${area.id}, ${runs} runs\n`);
  const args = [`${root}bench/${script}`, '--samples', `--runs=${runs}`, ...(quick ? ['--quick'] : []), ...extraArgs];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: JOB_TIMEOUT_MS * 4,
    stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) {
    failures.push({ area: area.id, run: null, what: `bench/${script}`, why: r.error?.message ?? `exit status ${r.status}`, stderr: '' });
    return;
  }
  samples.push(...parseOutput(r.stdout).samples.map((s) => ({ area: area.id, procs: null, ...s })));
}

// bench/js.mjs measures gort and each anchor in turn in every run.
function runJs(area) {
  const all = area.workloads.length === plan({ quick }).find((a) => a.id === 'js').workloads.length;
  runScript(area, 'js.mjs', RUNS, all ? [] : [`--only=${area.workloads.map((w) => w.id.replace(/^js_/, '')).join(',')}`]);
}

// bench/page.mjs measures the playground in Chromium, every run in one
// browser; a run takes about half a minute a workload, and three are enough
// to see the spread.
const PAGE_RUNS_MAX = 3;
function runPage(area) {
  runScript(area, 'page.mjs', Math.min(RUNS, PAGE_RUNS_MAX));
}

const runners = { js: runJs, page: runPage };
for (const area of areas) (runners[area.id] ?? runArea)(area);
machine.loadAfter = os.loadavg().map((x) => x.toFixed(2)).join(' ');

// ---- the tables ----

const cores = os.cpus().length;
const results = areas.map((area) => ({ area, lines: linesOf(area, samples) }));
for (const { area, lines } of results) {
  if (lines.length === 0) continue;
  console.log(`\n${figureTable(area, lines, { goAbsent, cores })}`);
}
if (debugBuilds) console.log('\ngort ran as npm test builds it (sanitizers, debug wasm): these figures are not speeds.');
console.log(`
Figures: median (min..max) of ${RUNS} runs${quick ? ' (quick: a tenth of every size)' : ''}. Go js/wasm runs on
one thread: its figure stands on every line. Collector rows: gort and Go on 2 Ps; a pause
per cycle is both stop-the-world pauses summed (Go's PauseNs); peak heap is the arenas
mapped (Go's HeapSys: gort maps 64 MB natively at once, Go counts 4 MB steps), peak
resident memory the process's (on wasm the Node process's, its workers included).
Malloc columns free the object leaving the ring; 2 threads: gort and Go run 2
goroutines on 2 Ps.${goAbsent ? `\nGo: ${goAbsentReason}.` : ''}`);

console.log(`\n${ratioTable(results.flatMap((r) => r.lines), { goAbsent, cores })}`);
console.log(`
Ratios: how many times better gort's median is (faster, or smaller when lower is better);
below 1x gort is behind.${cores < Math.max(...results.flatMap((r) => r.lines.map((l) => l.procs ?? 0)))
  ? ` This machine has ${cores} cores: more Ps than that are oversubscribed.` : ''}
Machine: ${machine.cpu}, ${cores} cores, load ${machine.loadBefore} before, ${machine.loadAfter} after;
Node ${machine.node}, ${machine.emcc}, ${machine.go}.`);

mkdirSync(outDir, { recursive: true });
const data = { machine, goAbsentReason, areas: results.map(({ area, lines }) => ({ id: area.id, title: area.title, lines })),
  samples, pauses, failures };
writeFileSync(`${outDir}/samples.json`, JSON.stringify(data, null, 1));
writeFileSync(`${outDir}/report.html`, renderReport(data));
console.log(`\nReport: ${outDir}/report.html (every sample: ${outDir}/samples.json)`);

if (failures.length) {
  console.error(`\nbench: ${failures.length} program run(s) failed:`);
  for (const f of failures) console.error(`  ${f.what} (run ${f.run == null ? '-' : f.run + 1}): ${f.why}${f.stderr ? `\n    ${f.stderr.replace(/\n/g, '\n    ')}` : ''}`);
  process.exitCode = 1;
}
