// `npm run bench`: builds the optimized native and wasm targets, runs every
// benchmark program on both, and prints one table per area with Go's figures
// (bench/go_figures.json) beside gort's. Figures from a shared machine are
// noisy: compare the columns of one run, as ratios. Last, the npm package's
// table (bench/js.mjs).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const go = JSON.parse(readFileSync(new URL('go_figures.json', import.meta.url), 'utf8'));

execFileSync('bash', [`${root}scripts/build.sh`, 'native-release', 'wasm-release'], {
  stdio: ['ignore', 'ignore', 'inherit'],
});

function results(program, extra = []) {
  const [command, args] = program.endsWith('.js')
    ? [process.execPath, [program, ...extra]]
    : [program, extra];
  const out = execFileSync(command, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  const figures = new Map();
  for (const line of out.split('\n')) {
    const m = /^RESULT (\S+) (\S+) (\S+)$/.exec(line);
    if (m) figures.set(m[1], Number(m[2]));
  }
  return figures;
}

function run(name, extra = []) {
  return {
    native: results(`${root}build/native-release/gort_bench_${name}`, extra),
    wasm: results(`${root}build/wasm-release/gort_bench_${name}.js`, extra),
  };
}

const fmt = (v) => (v == null || Number.isNaN(v) ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2));

function table(header, rows) {
  console.log('\n| ' + header.join(' | ') + ' |');
  console.log('|' + header.map(() => '---').join('|') + '|');
  for (const [label, ...values] of rows) console.log(`| ${label} | ${values.map(fmt).join(' | ')} |`);
}

// Allocation.
const malloc = run('malloc');
const allocRows = [];
for (const size of [16, 64, 256]) {
  for (const par of ['p1', 'par2']) {
    const [goP1, goP2, goWasm] = go.figures[`alloc_${size}_${par}`];
    allocRows.push([
      `${size} B, ${par === 'p1' ? '1 thread' : '2 threads'}`,
      malloc.wasm.get(`gort_alloc_${size}_${par}`),
      malloc.wasm.get(`system_malloc_${size}_${par}`),
      malloc.native.get(`gort_alloc_${size}_${par}`),
      malloc.native.get(`system_malloc_${size}_${par}`),
      par === 'p1' ? goP1 : goP2,
      goWasm,
    ]);
  }
}
table(['allocation (ns/alloc)', 'gort wasm', 'emscripten malloc', 'gort native', 'glibc malloc',
  'Go native', 'Go js/wasm'], allocRows);
console.log(`
gort and Go: collector on, its cost included (the ring is a heap array, as Go's
slice). malloc columns free the object leaving a ring of 1024. 2 threads: gort
and Go run 2 goroutines on 2 Ps. Go native: GOMAXPROCS=1 for 1 thread, 2 for 2.`);
const speedups = [16, 64, 256].map((size) =>
  (malloc.wasm.get(`system_malloc_${size}_par2`) / malloc.wasm.get(`gort_alloc_${size}_par2`)).toFixed(1));
console.log(`wasm, 2 threads: gort allocates ${speedups.join(' / ')}x faster than Emscripten's malloc (16 / 64 / 256 B).`);

// Rows of workloads run with 1 and 2 Ps (keys KEY_p1, KEY_p2) beside Go's
// three figures for KEY.
const perProcsHeader = ['gort wasm 1 P', 'gort wasm 2 Ps', 'gort native 1 P', 'gort native 2 Ps',
  'Go native p1', 'Go native p2', 'Go js/wasm'];
function perProcsRows(res, rows) {
  return rows.map(([label, key]) => {
    const [goP1, goP2, goWasm] = go.figures[key];
    return [label, res.wasm.get(`${key}_p1`), res.wasm.get(`${key}_p2`),
      res.native.get(`${key}_p1`), res.native.get(`${key}_p2`), goP1, goP2, goWasm];
  });
}

// Channels.
const chan = run('chan');
table(['channels', ...perProcsHeader], perProcsRows(chan, [
  ['unbuffered ping-pong (ns/round trip)', 'chan_pingpong'],
  ['buffered cap 128, 1 sender 1 receiver (ns/msg)', 'chan_buffered_spsc'],
  ['cap 1, one goroutine sends then receives (ns/op)', 'chan_cap1_self'],
  ['4 producers x 4 consumers, cap 1024 (M msgs/s)', 'chan_contended_rate'],
  ['select over 4 buffered channels (ns/select)', 'select4'],
  ['select over 4 unbuffered channels (ns/select)', 'select4_unbuf'],
]));

// sync.Map and maps behind locks; the runtime map alone; context trees.
const maps = run('syncmap');
table(['1,000 keys, 99% loads, 2 goroutines (ns/op)', ...perProcsHeader], perProcsRows(maps, [
  ['sync.Map', 'syncmap_readheavy_syncmap'],
  ['map + RWMutex', 'syncmap_readheavy_rwmutex'],
  ['map + Mutex', 'syncmap_readheavy_mutex'],
]));
table(['runtime map and context', 'gort wasm', 'gort native'], [
  ['map lookup, 1,000 keys, hit (ns)', 'map_lookup_1k'],
  ['map lookup, 1e6 keys, hit (ns)', 'map_lookup_1m'],
  ['map lookup, 1e6 keys, miss (ns)', 'map_miss_1m'],
  ['map insert, growing to 1e6 keys (ns)', 'map_insert_1m'],
  ['WithCancel into a 10,000-node tree, Done made (ns/context)', 'context_tree_build'],
  ['cancel a 10,000-node tree from its root (us)', 'context_tree_cancel'],
].map(([label, key]) => [label, maps.wasm.get(key), maps.native.get(key)]));
console.log(`
The maps behind locks are gort's runtime map (a Swiss table, src/map.c) behind
gort's Mutex and RWMutex; Go's are Go's map. Go has no figures for the last
table (no peer program).`);

// Goroutines.
const proc = run('proc');
const goRow = (key) => go.figures[key] ?? [null, null, null];
const procRows = [
  ['spawn 100k, cold, default stack (M/s)', 'goroutine_spawn_rate_default', 'goroutine_spawn_rate'],
  ['spawn 100k, reusing, default stack (M/s)', 'goroutine_spawn_rate_reuse_default', 'goroutine_spawn_rate_reuse'],
  ['spawn 100k, cold, smallest stack (M/s)', 'goroutine_spawn_rate_small', null],
  ['spawn 100k, reusing, smallest stack (M/s)', 'goroutine_spawn_rate_reuse_small', null],
  ['bytes per parked goroutine, default stack', 'goroutine_mem_default', 'goroutine_mem'],
  ['bytes per parked goroutine, smallest stack', 'goroutine_mem_small', null],
  ['yield round trip, 1 P (ns)', 'yield_round_trip', null],
  ['mutex hand-off, 4 goroutines on 2 Ps (ns/op)', 'mutex_handoff', null],
  ['stop the world, max (us)', 'stw_latency_max', null],
  ['stop the world, mean (us)', 'stw_latency_mean', null],
].map(([label, key, goKey]) => {
  const [goP1, goP2, goWasm] = goKey ? goRow(goKey) : [null, null, null];
  return [label, proc.wasm.get(key), proc.native.get(key), goP1, goP2, goWasm];
});
table(['goroutines', 'gort wasm', 'gort native', 'Go native p1', 'Go native p2', 'Go js/wasm'], procRows);
// The collector. Each program runs GC_RUNS times per target and every figure
// is the median of its runs, as Go's figures are medians of 15 runs
// (PEERS.md); the worst run's max pause is shown beside them.
const GC_RUNS = 5;
const median = (values) => {
  const v = values.filter((x) => x != null).sort((a, b) => a - b);
  return v.length === 0 ? null : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const gcRows = [];
for (const program of ['binary_trees_d16', 'binary_trees_d18', 'gcbench']) {
  const runs = Array.from({ length: GC_RUNS }, () => run('gc', [program]));
  const fig = (target, key, pick = median) => pick(runs.map((r) => r[target].get(`${program}_${key}`)));
  const worst = (values) => Math.max(...values.filter((x) => x != null));
  const name = program.replace('_d', ' depth ').replace('_', '-');
  for (const [label, key, unit] of [
    ['time', 'time', 'ms'], ['GC cycles', 'numgc', 'count'], ['max STW pause per cycle', 'pause_max', 'us'],
    ['median STW pause per cycle', 'pause_p50', 'us'], ['95th percentile STW pause', 'pause_p95', 'us'],
    ['peak heap (HeapSys)', 'heapsys', 'MB'],
    ['GC CPU share', 'gc_cpu', '%'],
  ]) {
    const [goP1, goP2, goWasm] = go.figures[`${program}_${key}`] ?? [null, null, null];
    gcRows.push([`${name}: ${label} (${unit})`, fig('wasm', key), fig('native', key), goP1, goP2, goWasm]);
  }
  gcRows.push([`${name}: max STW pause, worst of ${GC_RUNS} runs (us)`,
    fig('wasm', 'pause_max', worst), fig('native', 'pause_max', worst), null, null, null]);
}
table(['collector', 'gort wasm 2 Ps', 'gort native 2 Ps', 'Go native p1', 'Go native p2', 'Go js/wasm'], gcRows);
console.log(`
Sequential programs (one goroutine allocates) on a runtime of 2 Ps, with gort's
collector thread marking beside them. A pause per cycle is both of its
stop-the-world pauses summed (Go's PauseNs); peak heap is the arenas mapped.
gort's figures are medians of ${GC_RUNS} runs, Go's of 15.`);

console.log(`
gort runs 2 Ps. Memory per goroutine: its stack, its g and the sudog it parks on
(Go: StackInuse + HeapInuse delta; its stacks start at 2 KB and grow, gort's
cannot move). Default and smallest stacks: see include/gort/proc.h.

Source of Go's figures: ${go.source}`);

// The npm package's table: JS parties beside their JS anchors (bench/js.mjs).
execFileSync(process.execPath, [fileURLToPath(new URL('js.mjs', import.meta.url)), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
