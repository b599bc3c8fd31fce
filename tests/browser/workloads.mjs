// workloads.mjs — the workloads of the package's module with small parameters,
// what each one's final report must show, and how to run one: shared by the
// Node test (workloads.test.mjs) and the Chromium page (page.mjs).
// Plain JS without Node's modules, so that a browser imports it too.

function ok(condition, message) {
  if (!condition) throw new Error(message);
}

// allocates: heap objects a workload must have made while it ran (the Node
// test reads the runtime's count).
export const WORKLOADS = [
  {
    name: 'binary_trees', args: [10], allocates: 1000,
    check(final) { ok(final.rounds >= 0, 'binary_trees reports rounds'); },
  },
  {
    name: 'alloc_churn', args: [4, 60, 5], allocates: 1000,
    check(final) { ok(final.liveBytes > 0 && final.liveBytes <= 5 * 2 ** 20, `alloc_churn live bytes ${final.liveBytes}`); },
  },
  {
    name: 'lru_cache', args: [2000, 4096], allocates: 1000,
    check(final) {
      ok(final.hits > 0 && final.misses > 0, `lru_cache hits ${final.hits} misses ${final.misses}`);
      ok(final.size <= 2000, `lru_cache size ${final.size} above its capacity`);
    },
  },
  {
    name: 'fragmenter', args: [2], allocates: 1000,
    check(final) { ok(final.pass >= 1 && final.liveObjects > 0, `fragmenter pass ${final.pass}`); },
  },
  {
    name: 'large_churn', args: [8, 64], allocates: 100, // 64 KB objects: filling its 8 MB alone makes 128
    check(final) { ok(final.slots >= 2, `large_churn slots ${final.slots}`); },
  },
  {
    name: 'barrier_storm', args: [5000], allocates: 1000,
    check(final) { ok(final.walks > 0 && final.nodes >= 5000, `barrier_storm walks ${final.walks} nodes ${final.nodes}`); },
  },
  {
    name: 'pipeline', args: [3, 4], allocates: 1000,
    check(final) {
      ok(final.sent > 0 && final.sent === final.received, `pipeline sent ${final.sent} received ${final.received}`);
      ok(final.stages === 3 && final.width === 4, 'pipeline reports its shape');
    },
  },
  {
    name: 'spawn_storm', args: [200], allocates: 1000,
    check(final) { ok(final.rounds >= 1, `spawn_storm rounds ${final.rounds}`); },
  },
  {
    name: 'request_loop', args: [4, 16], allocates: 1000,
    check(final, reports) {
      ok(final.requests > 0, 'request_loop served requests');
      const { p50, p90, p99, max } = final.latencyUs;
      // A page's clock ticks every 5 us (cross-origin isolated Chromium), and
      // on a fast machine most requests take less: the median may read 0.
      ok(max > 0 && p50 <= p90 && p90 <= p99 && p99 <= max, `request_loop latencies ${JSON.stringify(final.latencyUs)}`);
      ok(reports.every((r) => r.latencyUs && typeof r.requests == 'number'), 'every report has latencies');
    },
  },
];

/**
 * Runs workload on rt for ms, then cancels its context and returns the
 * reports it sent while running and its final report (after the goroutine
 * has returned).
 */
export async function runWorkload(rt, workload, ms) {
  const report = rt.chan({ codec: 'json', cap: 8 });
  const ctx = rt.context.withCancel(rt.context.background());
  const g = rt.go(workload.name, ctx, report, ...workload.args);
  const reports = [];
  const stopAt = Date.now() + ms;
  let final = null;
  for (;;) {
    const left = stopAt - Date.now();
    if (left <= 0) break;
    const timer = rt.after(left);
    const got = await rt.select([{ recv: report }, { recv: timer }]);
    timer[Symbol.dispose]();
    if (got.index !== 0) break;
    if (got.value.final) { final = got.value; break; }
    reports.push(got.value);
  }
  ctx.cancel();
  while (final === null) {
    const { value, ok: received } = await report.recv();
    if (!received) throw new Error(`${workload.name}: its report channel closed without a final report`);
    if (value.final) final = value; else reports.push(value);
  }
  await g;
  report[Symbol.dispose]();
  return { reports, final };
}
