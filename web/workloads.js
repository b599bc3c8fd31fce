// workloads.js — the workloads the page offers: goroutines the package's
// module exports (rt.go), each with its parameters (name, default, bounds)
// (the bounds are src/js/workloads.c's, which clamps what it is given) and
// a line on what it stresses. Every workload but 'churn' takes
// (context ctx, chan report, ...params), runs until ctx is done and sends a
// JSON report on `report` about every 250 ms and a final one before it
// returns. 'churn' (chan done, number n) is the module's older, smaller
// goroutine: n trees, then n on done; the page runs it in rounds.

export const WORKLOADS = {
  binary_trees: {
    about: 'Builds and drops binary trees (the classic GC benchmark): many small pointerful objects, short lives.',
    params: [{ name: 'depth', value: 16, min: 6, max: 21 }],
  },
  alloc_churn: {
    about: 'Keeps live_mb of objects live and replaces them: small, medium and large by the shares given.',
    params: [
      { name: 'live_mb', value: 64, min: 1, max: 512 },
      { name: 'small_pct', value: 80, min: 0, max: 100 },
      { name: 'large_pct', value: 5, min: 0, max: 100 },
    ],
  },
  lru_cache: {
    about: 'An LRU cache of capacity entries of value_bytes each: long-lived objects with pointers between them.',
    params: [
      { name: 'capacity', value: 100000, min: 100, max: 2000000 },
      { name: 'value_bytes', value: 256, min: 16, max: 65536 },
    ],
  },
  fragmenter: {
    about: 'Frees every other object of live_mb: spans stay in use, half empty (watch the fill mode).',
    params: [{ name: 'live_mb', value: 64, min: 1, max: 512 }],
  },
  large_churn: {
    about: 'Large objects (their own spans of several pages) allocated and dropped over live_mb.',
    params: [
      { name: 'live_mb', value: 64, min: 1, max: 512 },
      { name: 'object_kb', value: 256, min: 33, max: 16384 },
    ],
  },
  barrier_storm: {
    about: 'Rewrites pointers among objects while the collector marks: the write barrier shades what they drop.',
    params: [{ name: 'objects', value: 100000, min: 100, max: 4194304 }],
  },
  pipeline: {
    about: 'stages of goroutines passing values over channels, width goroutines per stage.',
    params: [
      { name: 'stages', value: 4, min: 1, max: 64 },
      { name: 'width', value: 64, min: 1, max: 64 },
    ],
  },
  spawn_storm: {
    about: 'Starts per_round goroutines a round and waits for them: stacks come and go.',
    params: [{ name: 'per_round', value: 1000, min: 1, max: 100000 }],
  },
  request_loop: {
    about: 'A server loop: each request allocates work_kb over a live_mb heap; reports latency percentiles.',
    params: [
      { name: 'live_mb', value: 32, min: 1, max: 512 },
      { name: 'work_kb', value: 64, min: 1, max: 16384 },
    ],
  },
  churn: {
    about: 'The module\'s small test goroutine: n trees of depth 12 (about 300 KB each) per round, dropped at once.',
    params: [{ name: 'n', value: 10, min: 1, max: 1000 }],
    rounds: true,
  },
};

export const DEFAULT_WORKLOAD = 'binary_trees';

/**
 * Runs one workload until stop(): calls onReport with each report (the
 * final one has final: true). Resolves stop() once the goroutine returned.
 * Throws at once when the module does not export the workload.
 */
export function runWorkload(rt, name, values, onReport) {
  const spec = WORKLOADS[name];
  const args = spec.params.map((p) => values[p.name]);
  if (spec.rounds) return runRounds(rt, name, args, onReport);
  const ctx = rt.context.withCancel(rt.context.background());
  const report = rt.chan({ codec: 'json', cap: 8 });
  let g;
  try {
    g = rt.go(name, ctx, report, ...args);
  } catch (err) {
    report[Symbol.dispose]();
    ctx[Symbol.dispose]();
    throw err;
  }
  const receiving = (async () => {
    for (;;) {
      const { value, ok } = await report.recv();
      if (!ok) return;
      onReport(value);
      if (value && value.final) return;
    }
  })();
  return {
    goroutine: g,
    async stop() {
      ctx.cancel();
      await g;
      await receiving;
      report[Symbol.dispose]();
      ctx[Symbol.dispose]();
    },
  };
}

/** 'churn' in rounds: each round n trees, then n on done; reports made here, as the others' are. */
function runRounds(rt, name, [n], onReport) {
  const done = rt.chan({ codec: 'f64' });
  let stopping = false;
  let ops = 0;
  let last = performance.now();
  const first = rt.go(name, done, n);
  const loop = (async () => {
    for (let g = first; ; g = rt.go(name, done, n)) {
      await done.recv();
      await g;
      ops += n;
      const now = performance.now();
      if (stopping || now - last >= 250) {
        last = now;
        onReport({ workload: name, ops, checksumErrors: 0, final: stopping });
      }
      if (stopping) return;
    }
  })();
  return {
    goroutine: first,
    async stop() {
      stopping = true;
      await loop;
      done[Symbol.dispose]();
    },
  };
}
