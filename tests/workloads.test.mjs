// The package module's workloads (src/js/workloads.c) from Node: each runs
// for a while with small parameters, reports while it runs, stops when its
// context is cancelled, and ends with a final report whose checksums are
// right (every object it kept or dropped was intact). The same table runs in
// Chromium from tests/browser/page.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WORKLOADS, runWorkload } from './browser/workloads.mjs';

const entry = fileURLToPath(new URL('../dist/index.node.js', import.meta.url));
if (!existsSync(entry)) throw new Error(`${entry} is missing: build it with src/js/build.sh`);
const { start } = await import(entry);

// How long each workload runs before its context is cancelled.
const RUN_MS = 600;
// A workload that does not stop (or a report that never comes) fails its test instead of holding the run.
const TEST_TIMEOUT_MS = 60_000;
const ALLOCS = '/gc/heap/allocs:objects';

let rt;
before(async () => { rt = await start({ procs: 2, gogc: 50 }); });
after(async () => { await rt?.close(); });

for (const workload of WORKLOADS) {
  test(`workload ${workload.name}(${workload.args.join(', ')}) runs, stops through its context, and its checksums are right`, { timeout: TEST_TIMEOUT_MS }, async () => {
    const allocated = () => rt.metrics([ALLOCS])[ALLOCS];
    const allocsBefore = allocated();
    const { reports, final } = await runWorkload(rt, workload, RUN_MS);
    assert.ok(reports.length >= 1, `no report while running (${JSON.stringify(final)})`);
    assert.equal(final.workload, workload.name);
    assert.equal(final.final, true);
    assert.equal(final.error, undefined, final.error);
    assert.equal(final.checksumErrors, 0, JSON.stringify(final));
    assert.ok(final.ops > 0, JSON.stringify(final));
    workload.check(final, reports);
    // Work for the collector: heap objects made while it ran (cycles
    // themselves depend on the goal earlier tests left).
    const allocs = allocated() - allocsBefore;
    if (workload.allocates) assert.ok(allocs >= workload.allocates, `${workload.name} allocated ${allocs} heap objects`);
  });
}

test('the throttle makes a workload sleep its share of the time, and 0 lifts it', { timeout: TEST_TIMEOUT_MS }, async () => {
  const churn = WORKLOADS.find((w) => w.name === 'alloc_churn');
  await rt.go('set_throttle', 800);
  let throttled;
  const t0 = performance.now();
  try {
    throttled = await runWorkload(rt, churn, 600);
  } finally {
    await rt.go('set_throttle', 0);
  }
  const ranMs = performance.now() - t0;
  assert.equal(throttled.final.checksumErrors, 0);
  // 80% asleep, give or take the start and the stop (and late wake-ups only add to it).
  assert.ok(throttled.final.sleptMs > 0.5 * ranMs, `slept ${throttled.final.sleptMs} ms of ${ranMs.toFixed(0)}`);
  const free = await runWorkload(rt, churn, 300);
  assert.equal(free.final.sleptMs, 0);
});

test('workloads refuse arguments that do not fit their parameters', () => {
  const report = rt.chan({ codec: 'json', cap: 8 });
  assert.throws(() => rt.go('binary_trees', report, rt.context.background(), 10), /argument 1 \(ctx\) must be a context/);
  assert.throws(() => rt.go('pipeline', rt.context.background(), report, 2), /takes 4 arguments, not 3/);
});

test('request_loop cancelled at once after a report ends with the latencies of its whole run', { timeout: TEST_TIMEOUT_MS }, async () => {
  // Cancelled as soon as the first periodic report arrives, its last window
  // holds few requests or none; the final report still has the whole run's.
  const ctx = rt.context.withCancel(rt.context.background());
  const report = rt.chan({ codec: 'json', cap: 8 });
  const g = rt.go('request_loop', ctx, report, 4, 16);
  const first = (await report.recv()).value;
  ctx.cancel();
  let final = first;
  while (!final.final) final = (await report.recv()).value;
  await g;
  const { p50, p90, p99, max } = final.latencyUs;
  assert.ok(final.requests >= first.requests, JSON.stringify(final));
  assert.ok(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= max, JSON.stringify(final));
  // Every request's latency up to the first report is among the whole run's
  // samples (none dropped below 8,192 requests): its max cannot be smaller.
  if (final.requests <= 8192) assert.ok(max >= first.latencyUs.max, `${JSON.stringify(final)} after ${JSON.stringify(first)}`);
});
