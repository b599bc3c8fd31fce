// bench/lib/plan.mjs — what `npm run bench` measures: the areas, in each the
// workloads (one invocation of a gort program and of its Go peer program
// per run) and the rows of its table (a metric printed by the programs,
// shown on one line per number of Ps).
//
// A workload's gort job runs build/bench-{native,wasm}/gort_bench_<program>
// with its args; its Go job runs build/bench-go/{native,wasm}/<program>
// natively once per GOMAXPROCS in `procs` and once as js/wasm (which always
// has one P). Both get the word quick in quick mode. gort's programs print
// RESULT names with a _pN suffix when they ran on N Ps; a name without one
// was measured on `gortProcs` Ps (the program's default), or on the Ps
// `procsOf` gives for that metric.
//
// A row: metric (the RESULT name without suffix), label, the Ps it is shown
// at, which way is better ('lower', 'higher', or null: no ratio), and
// noGo when no Go program measures it.

export const GO_WASM_PROCS = 1;

function chanArea() {
  const gort = (name) => ({ program: 'chan', args: [name] });
  return {
    id: 'chan',
    title: 'Channels',
    workloads: [
      { id: 'pingpong', gort: gort('pingpong'), go: { program: 'chan_pingpong', procs: [1, 2] } },
      { id: 'spsc', gort: gort('spsc'), go: { program: 'chan_spsc', procs: [1, 2] } },
      { id: 'self', gort: gort('self'), go: { program: 'chan_self', procs: [1] } },
      { id: 'contended', gort: gort('contended'), go: { program: 'chan_contended', procs: [1, 2] } },
      { id: 'select4', gort: gort('select4'), go: { program: 'select4', procs: [1, 2] } },
      { id: 'select4_unbuf', gort: gort('select4_unbuf'), go: { program: 'select4', args: ['unbuf'], procs: [1, 2] } },
    ],
    rows: [
      { metric: 'chan_pingpong', label: 'unbuffered ping-pong (per round trip)', procs: [1, 2], better: 'lower' },
      { metric: 'chan_buffered_spsc', label: 'buffered cap 128, 1 sender 1 receiver (per msg)', procs: [1, 2], better: 'lower' },
      { metric: 'chan_cap1_self', label: 'cap 1, one goroutine sends then receives (per op)', procs: [1], better: 'lower' },
      { metric: 'chan_contended_rate', label: '4 producers x 4 consumers, cap 1024', procs: [1, 2], better: 'higher' },
      { metric: 'select4', label: 'select over 4 buffered channels', procs: [1, 2], better: 'lower' },
      { metric: 'select4_unbuf', label: 'select over 4 unbuffered channels', procs: [1, 2], better: 'lower' },
    ],
    hidden: ['chan_contended'], // the same run as chan_contended_rate, in ns/msg
  };
}

function goroutineArea() {
  return {
    id: 'proc',
    title: 'Goroutines',
    // gort_bench_proc runs all of its workloads in one invocation (on 2 Ps,
    // the yield round trip on 1); it is the first workload's gort job.
    workloads: [
      { id: 'spawn', gort: { program: 'proc', args: [] }, go: { program: 'goroutine_spawn', procs: [2] } },
      { id: 'yield', gort: null, go: { program: 'yield', procs: [1] } },
      { id: 'handoff', gort: null, go: { program: 'mutex_handoff', procs: [2] } },
    ],
    gortProcs: 2,
    procsOf: { yield_round_trip: 1 },
    rows: [
      { metric: 'goroutine_spawn_rate_default', label: 'spawn 100k, cold, default stack', procs: [2], better: 'higher' },
      { metric: 'goroutine_spawn_rate_reuse_default', label: 'spawn 100k, reusing, default stack', procs: [2], better: 'higher' },
      { metric: 'goroutine_spawn_rate_small', label: 'spawn 100k, cold, smallest stack', procs: [2], better: 'higher', noGo: true },
      { metric: 'goroutine_spawn_rate_reuse_small', label: 'spawn 100k, reusing, smallest stack', procs: [2], better: 'higher', noGo: true },
      { metric: 'goroutine_mem_default', label: 'bytes per parked goroutine, default stack', procs: [2], better: 'lower' },
      { metric: 'goroutine_mem_small', label: 'bytes per parked goroutine, smallest stack', procs: [2], better: 'lower', noGo: true },
      // Natively only: what the process's resident memory grew by (the pages
      // of their stacks that parked goroutines touched), beside what they were given.
      { metric: 'goroutine_resident_default', label: 'resident bytes per parked goroutine (the process\'s growth), default stack', procs: [2], better: 'lower' },
      { metric: 'yield_round_trip', label: 'yield round trip, 2 goroutines', procs: [1], better: 'lower' },
      { metric: 'fiber_bare_switch', label: 'bare switch, one fiber to another on one thread', procs: [2], better: 'lower', noGo: true },
      { metric: 'mutex_handoff', label: 'mutex hand-off, 4 goroutines', procs: [2], better: 'lower' },
      { metric: 'stw_latency_max', label: 'stop the world, max', procs: [2], better: 'lower', noGo: true },
      { metric: 'stw_latency_mean', label: 'stop the world, mean', procs: [2], better: 'lower', noGo: true },
    ],
  };
}

function allocArea() {
  return {
    id: 'malloc',
    title: 'Allocation',
    workloads: [{ id: 'alloc', gort: { program: 'malloc', args: [] }, go: { program: 'alloc', procs: [1, 2] } }],
    rows: [16, 64, 256].map((size) => ({
      metric: `alloc_${size}`, label: `${size} B objects, ring of 1024 live (per alloc)`, procs: [1, 2], better: 'lower',
    })),
  };
}

const GC_FIGURES = [
  ['time', 'time', 'lower'],
  ['numgc', 'GC cycles', null],
  ['pause_max', 'max STW pause per cycle', 'lower'],
  ['pause_p50', 'median STW pause per cycle', 'lower'],
  ['pause_p95', '95th percentile STW pause', 'lower'],
  ['heapsys', 'peak heap (HeapSys)', 'lower'],
  ['rss', 'peak resident memory (VmHWM; wasm: the Node process)', 'lower'],
  // From each runtime's gctrace (bench/lib/results.mjs, gcCpuOfTrace): the
  // pauses times the Ps, assists, and background and idle marking.
  ['gc_cpu', 'GC CPU share (gctrace: pauses x Ps, assists, marking, idle Ps\' marking included)', 'lower'],
];

/** A collector program's name as the tables and the pause histograms show it. */
export const gcName = (program) => program.replace(/^binary_trees_d(\d+)$/, 'binary-trees depth $1')
  .replace(/^gcbench$/, 'GCBench').replace(/^barrier_storm$/, 'barrier storm');

function gcArea(quick) {
  const depths = quick ? [14, 16] : [16, 18];
  const programs = [...depths.map((d) => `binary_trees_d${d}`), 'gcbench', 'barrier_storm'];
  return {
    id: 'gc',
    title: 'Collector',
    workloads: programs.map((program) => ({
      id: program,
      gort: { program: 'gc', args: [program] },
      go: program.startsWith('binary_trees_d')
        ? { program: 'binary_trees', args: [program.slice('binary_trees_d'.length)], procs: [2] }
        : { program, procs: [2] },
    })),
    gortProcs: 2,
    gctrace: true,
    rows: programs.flatMap((program) => GC_FIGURES.map(([key, label, better]) => ({
      metric: `${program}_${key}`, label: `${gcName(program)}: ${label}`, procs: [2], better,
    }))),
    pauses: programs,
  };
}

function mapArea() {
  const kind = (k) => ({ id: k, gort: { program: 'syncmap', args: [k] }, go: { program: 'syncmap', args: [k], procs: [1, 2] } });
  return {
    id: 'maps',
    title: 'sync.Map, maps and context',
    workloads: [
      kind('syncmap'), kind('rwmutex'), kind('mutex'),
      { id: 'map', gort: { program: 'syncmap', args: ['map'] }, go: { program: 'maps', procs: [1] } },
      { id: 'context', gort: { program: 'syncmap', args: ['context'] }, go: { program: 'context', procs: [1] } },
    ],
    gortProcs: 1,
    rows: [
      { metric: 'syncmap_readheavy_syncmap', label: 'sync.Map, 1,000 keys, 99% loads, 2 goroutines', procs: [1, 2], better: 'lower' },
      { metric: 'syncmap_readheavy_rwmutex', label: 'map + RWMutex, same load', procs: [1, 2], better: 'lower' },
      { metric: 'syncmap_readheavy_mutex', label: 'map + Mutex, same load', procs: [1, 2], better: 'lower' },
      { metric: 'map_lookup_1k', label: 'map lookup, 1,000 keys, hit', procs: [1], better: 'lower' },
      { metric: 'map_lookup_1m', label: 'map lookup, 1e6 keys, hit', procs: [1], better: 'lower' },
      { metric: 'map_miss_1m', label: 'map lookup, 1e6 keys, miss', procs: [1], better: 'lower' },
      { metric: 'map_insert_1m', label: 'map insert, growing to 1e6 keys', procs: [1], better: 'lower' },
      { metric: 'context_tree_build', label: 'WithCancel into a 10,000-node tree, Done made', procs: [1], better: 'lower' },
      { metric: 'context_tree_cancel', label: 'cancel a 10,000-node tree from its root', procs: [1], better: 'lower' },
    ],
  };
}

export const CORES_PROCS = [1, 2, 4];

function coresArea(quick) {
  const depth = quick ? 14 : 16;
  const trees = `binary_trees_d${depth}`;
  return {
    id: 'cores',
    title: 'Multi-core: the same workloads at 1, 2 and 4 Ps',
    workloads: [
      {
        id: 'cores_contended',
        gort: { program: 'chan', args: ['contended', ...CORES_PROCS.map((p) => `procs=${p}`)] },
        go: { program: 'chan_contended', procs: CORES_PROCS },
      },
      ...CORES_PROCS.map((p) => ({
        id: `cores_${trees}_p${p}`,
        group: 'cores_binary_trees',
        gort: { program: 'gc', args: [trees, `procs=${p}`], procs: p },
        go: { program: 'binary_trees', args: [String(depth)], procs: [p], wasm: p === 1 },
      })),
    ],
    rows: [
      { metric: 'chan_contended_rate', label: '4 producers x 4 consumers, cap 1024', procs: CORES_PROCS, better: 'higher' },
      { metric: `${trees}_time`, label: `${gcName(trees)}: time`, procs: CORES_PROCS, better: 'lower' },
      { metric: `${trees}_pause_max`, label: `${gcName(trees)}: max STW pause per cycle`, procs: CORES_PROCS, better: 'lower' },
    ],
    hidden: ['chan_contended', ...GC_FIGURES.map(([key]) => `${trees}_${key}`)],
  };
}

// The npm package's table (bench/js.mjs): its rows come with the samples.
function jsArea() {
  return {
    id: 'js',
    title: 'The npm package beside the JS anchors',
    workloads: ['js_roundtrip', 'js_self', 'js_workers', 'js_throughput', 'js_codec', 'js_stall', 'js_browser'].map((id) => ({ id, js: true })),
    rows: [],
  };
}

// The browser playground's frame rate and cost (bench/page.mjs, in
// Chromium): figures of its own, no peer.
function pageArea() {
  return {
    id: 'page',
    title: 'The browser playground in Chromium',
    workloads: [{ id: 'page_frames', js: true }],
    rows: [],
  };
}

export function plan({ quick }) {
  return [chanArea(), goroutineArea(), allocArea(), gcArea(quick), mapArea(), coresArea(quick), jsArea(), pageArea()];
}

// Selects the workloads named by words (an area's id: all of its workloads;
// a workload's id, or its group's: that one). No words: everything. A
// workload whose gort figures come from another's program (gort: null) brings
// that program along, without its Go peer unless that was named too.
export function select(areas, words) {
  if (words.length === 0) return areas;
  const known = new Set(areas.flatMap((a) => [a.id, ...a.workloads.flatMap((w) => [w.id, w.group].filter(Boolean))]));
  const unknown = words.filter((w) => !known.has(w));
  if (unknown.length) {
    throw new Error(`unknown area or workload: ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  }
  return areas
    .map((a) => {
      if (words.includes(a.id)) return a;
      const workloads = a.workloads.filter((w) => words.includes(w.id) || words.includes(w.group));
      const carrier = a.workloads.find((w) => w.gort);
      if (workloads.some((w) => !w.gort) && carrier && !workloads.includes(carrier)) {
        workloads.unshift({ ...carrier, go: null });
      }
      return { ...a, workloads };
    })
    .filter((a) => a.workloads.length > 0);
}
