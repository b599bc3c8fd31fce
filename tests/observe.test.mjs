// The runtime watched from JS (src/js/observe.js): the MMU of a synthetic
// event sequence against hand-computed values, and its worst windows (where
// they are, lowest first, apart, and a greedy pick against every start of
// random sequences); then, on a running runtime
// (dist/), metrics by Go's names, the event rings drained from JS (every
// cycle's phases in order, pauses bracketed, a slow reader losing the
// oldest events and saying how many while goroutines never wait), gctrace
// lines and a Chrome trace written to a file, and the page table: the same
// picture as gort_heap_snapshot on a quiet heap, never a torn span while
// the main thread allocates and the collector sweeps, and a span's objects
// as colours and types (each object's own where a span holds several, and
// the playground's words for it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventReader, mmu, Utilization, worstWindows } from '../src/js/observe.js';

const entry = fileURLToPath(new URL('../dist/index.node.js', import.meta.url));
if (!existsSync(entry)) throw new Error(`${entry} is missing: build it with src/js/build.sh`);
const { start } = await import(entry);

const MS = 1e6;

test('MMU of a synthetic sequence matches hand-computed values', () => {
  // 2 Ps running; a pause from 10 to 11 ms (both stop at 10.5); the
  // collector marks from 11 to 21 ms (one P of two), P0 assists from 15 to
  // 17 ms; the trace ends at 100 ms. Utilization: 1 on [0,10), 0 on
  // [10,11), 0.5 on [11,15), 0 on [15,17), 0.5 on [17,21), 1 on [21,100].
  const u = new Utilization(2);
  const ev = (t, kind, lane, arg) => u.apply({ time: t * MS, kind, lane, arg });
  ev(0, 'state', 0, 'running');
  ev(0, 'state', 1, 'running');
  ev(10, 'stwBegin', 0, 2);
  ev(10.2, 'state', 1, 'stopped');
  ev(10.5, 'state', 0, 'stopped');
  ev(11, 'stwEnd', 0, 1 * MS);
  ev(11, 'state', 256, 'mark');
  ev(15, 'state', 0, 'assist');
  ev(17, 'state', 0, 'running');
  ev(21, 'state', 256, 'idle');
  const at = (w) => mmu(u.points, 0, 100 * MS, w * MS);
  assert.equal(at(1), 0, 'the pause: 1 ms of nothing');
  assert.equal(at(2), 0, 'assist while marking: 2 ms of nothing');
  // [12,17]: 3 ms at 0.5 and 2 at 0 (any start in [12,15] gives the same).
  assert.ok(Math.abs(at(5) - 0.3) < 1e-9, `5 ms: ${at(5)}`);
  // [10,20]: 0 + 4 x 0.5 + 0 + 3 x 0.5 = 3.5 over 10.
  assert.ok(Math.abs(at(10) - 0.35) < 1e-9, `10 ms: ${at(10)}`);
  // The whole trace: 10 + 2 + 2 + 79 = 93 of 100.
  assert.ok(Math.abs(at(100) - 0.93) < 1e-9, `100 ms: ${at(100)}`);
  assert.equal(at(101), null, 'a window longer than the trace has no MMU');
  // Without counting the collector's thread as a P, only the pause and the assist remain.
  const v = new Utilization(2, { collectorTakesP: false });
  for (const p of [[0, 'state', 0, 'running'], [0, 'state', 1, 'running'], [10, 'stwBegin', 0, 2],
    [10.5, 'state', 0, 'stopped'], [10.5, 'state', 1, 'stopped'], [11, 'stwEnd', 0, MS],
    [11, 'state', 256, 'mark'], [15, 'state', 0, 'assist'], [17, 'state', 0, 'running']]) {
    v.apply({ time: p[0] * MS, kind: p[1], lane: p[2], arg: p[3] });
  }
  // 1 on [0,10), 0 on [10,11), 1 on [11,15), 0.5 on [15,17), 1 after: [10,15] holds 4 of 5.
  assert.ok(Math.abs(mmu(v.points, 0, 100 * MS, 5 * MS) - 0.8) < 1e-9);
});

test('MMU agrees with a direct minimum over every window start on random sequences', () => {
  let seed = 12345;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
  // The integral of the step function over [a, b], directly.
  const integral = (pts, end, a, b) => {
    let total = 0;
    for (let i = 0; i < pts.length; i++) {
      const lo = Math.max(a, pts[i].t), hi = Math.min(b, i + 1 < pts.length ? pts[i + 1].t : end);
      if (hi > lo) total += pts[i].u * (hi - lo);
    }
    return total;
  };
  for (let round = 0; round < 50; round++) {
    const pts = [{ t: 0, u: rand() }];
    for (let i = 0; i < 30; i++) pts.push({ t: pts[pts.length - 1].t + 1 + Math.floor(rand() * 20), u: Math.floor(rand() * 5) / 4 });
    const end = pts[pts.length - 1].t + 10;
    for (const w of [1, 3, 7.5, 20, 60, end]) {
      if (w > end) continue;
      // Every start on a grid fine enough to meet every break (integer steps, w a multiple of 0.5).
      let direct = Infinity;
      for (let s = 0; s <= end - w + 1e-9; s += 0.5) direct = Math.min(direct, integral(pts, end, s, s + w) / w);
      assert.ok(Math.abs(mmu(pts, 0, end, w) - direct) < 1e-9, `round ${round} w ${w}: ${mmu(pts, 0, end, w)} vs ${direct}`);
    }
  }
});

// The integral of a step function [{ t, u }] over [a, b] (the last step lasts to end), directly.
function integral(pts, end, a, b) {
  let total = 0;
  for (let i = 0; i < pts.length; i++) {
    const lo = Math.max(a, pts[i].t), hi = Math.min(b, i + 1 < pts.length ? pts[i + 1].t : end);
    if (hi > lo) total += pts[i].u * (hi - lo);
  }
  return total;
}

const apart = (x, y) => x.end <= y.start || y.end <= x.start;

test('the worst windows of a synthetic sequence: at its pauses, lowest first, apart', () => {
  // 1 ms at 0 from 10 ms, 2 ms at 0 from 40 ms, 6 ms at half from 70 ms, 1 elsewhere up to 100 ms.
  const pts = [[0, 1], [10, 0], [11, 1], [40, 0], [42, 1], [70, 0.5], [76, 1]].map(([t, u]) => ({ t: t * MS, u }));
  const at = (w, n) => worstWindows(pts, 0, 100 * MS, w * MS, n)?.map((x) => [x.start / MS, x.end / MS, x.utilization]) ?? null;
  // 5 ms windows: inside the half stretch (0.5; the earliest of equals),
  // over the 2 ms pause (3 of 5), over the 1 ms pause (4 of 5), then the
  // half stretch's last ms beside the first window (4.5 of 5), then the
  // first free places at 1.
  const five = at(5, 6);
  assert.deepEqual(five, [[70, 75, 0.5], [37, 42, 0.6], [6, 11, 0.8], [75, 80, 0.9], [0, 5, 1], [11, 16, 1]]);
  assert.equal(five[0][2], mmu(pts, 0, 100 * MS, 5 * MS));
  // Asked for more than fit: 100 ms holds at most 20 windows of 5 ms, each apart from the others.
  const many = worstWindows(pts, 0, 100 * MS, 5 * MS, 100);
  assert.ok(many.length > 6 && many.length <= 20, `${many.length} windows`);
  for (let i = 1; i < many.length; i++) assert.ok(many[i - 1].utilization <= many[i].utilization, `window ${i} is lower than the one before it`);
  for (let i = 0; i < many.length; i++) for (let j = i + 1; j < many.length; j++) assert.ok(apart(many[i], many[j]), `windows ${i} and ${j} overlap`);
  // The whole span: one window; longer: none.
  assert.deepEqual(at(100, 3), [[0, 100, 0.94]]);
  assert.equal(at(101, 3), null);
  assert.equal(worstWindows([], 0, 100 * MS, 5 * MS, 3), null);
  assert.throws(() => worstWindows(pts, 0, 100 * MS, 5 * MS, 0), RangeError);
  assert.throws(() => worstWindows(pts, 0, 100 * MS, 5 * MS, 1.5), RangeError);
});

test('each worst window is the lowest of all starts apart from those before it, on random sequences', () => {
  let seed = 4242;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
  let short = 0;
  for (let round = 0; round < 40; round++) {
    const pts = [{ t: 0, u: rand() }];
    for (let i = 0; i < 25; i++) pts.push({ t: pts[pts.length - 1].t + 1 + Math.floor(rand() * 20), u: Math.floor(rand() * 5) / 4 });
    const end = pts[pts.length - 1].t + 10;
    for (const w of [1, 3, 7.5, 20]) {
      const n = 12;
      const found = worstWindows(pts, 0, end, w, n);
      const direct = (s) => integral(pts, end, s, s + w) / w;
      const what = `round ${round} w ${w}: ${JSON.stringify(found)}`;
      assert.ok(found.length >= 1 && found.length <= n, what);
      assert.equal(found[0].utilization, mmu(pts, 0, end, w), what);
      // Every window start where a pick can lie is on this grid: steps at
      // whole numbers, w a multiple of 0.5, picks and their neighbours' edges at
      // multiples of 0.5.
      const grid = [];
      for (let s = 0; s <= end - w + 1e-9; s += 0.5) grid.push(s);
      found.forEach((x, i) => {
        assert.ok(x.start >= 0 && x.end <= end && Math.abs(x.end - x.start - w) < 1e-9, what);
        assert.ok(Math.abs(x.utilization - direct(x.start)) < 1e-9, `${what}: window ${i}'s utilization`);
        for (let j = 0; j < i; j++) assert.ok(apart(found[j], x), `${what}: windows ${j} and ${i} overlap`);
        // Greedy: no start apart from the windows before it is lower.
        for (const s of grid) {
          const candidate = { start: s, end: s + w };
          if (found.slice(0, i).every((y) => apart(y, candidate))) {
            assert.ok(direct(s) >= x.utilization - 1e-9, `${what}: window ${i} (${x.utilization}) but ${s} gives ${direct(s)}`);
          }
        }
      });
      if (found.length < n) {
        short++;
        // Fewer than asked: no start is left apart from them all.
        const free = grid.filter((s) => found.every((y) => apart(y, { start: s, end: s + w })));
        assert.deepEqual(free, [], `${what}: starts left free`);
      }
    }
  }
  assert.ok(short > 0, 'no sequence ran out of room: the fewer-than-asked case went untested');
});

test('a reader\'s worst windows name the GC phases and pauses they overlap', () => {
  // 2 Ps running; sweep termination pauses 10 to 11 ms; the collector marks
  // from 11 to 21 ms, P0 assists from 15 to 17 ms; mark termination pauses
  // 21 to 21.5 ms; sweep, then off at 30 ms; the history ends at 100 ms.
  // Utilization: 1, 0 on [10,11), 0.5, 0 on [15,17), 0.5, 0 on [21,21.5), 1.
  const u = new Utilization(2);
  const events = [];
  const ev = (t, kind, lane, arg) => {
    const e = { time: t * MS, kind, lane, arg };
    events.push(e);
    u.apply({ ...e, lane: lane === 'collector' ? 256 : lane });
  };
  ev(0, 'state', 0, 'running');
  ev(0, 'state', 1, 'running');
  ev(10, 'stwBegin', 0, 2);
  ev(10, 'gcPhase', 0, { phase: 'sweep termination', cycle: 1 });
  ev(10, 'state', 0, 'stopped');
  ev(10, 'state', 1, 'stopped');
  ev(11, 'gcPhase', 0, { phase: 'mark', cycle: 1 });
  ev(11, 'stwEnd', 0, 1 * MS);
  ev(11, 'state', 'collector', 'mark');
  ev(15, 'state', 0, 'assist');
  ev(17, 'state', 0, 'running');
  ev(21, 'stwBegin', 0, 2);
  ev(21, 'gcPhase', 0, { phase: 'mark termination', cycle: 1 });
  ev(21, 'state', 'collector', 'idle');
  ev(21.5, 'gcPhase', 0, { phase: 'sweep', cycle: 1 });
  ev(21.5, 'stwEnd', 0, 0.5 * MS);
  ev(30, 'gcPhase', 0, { phase: 'off', cycle: 1 });
  ev(100, 'state', 1, 'running');
  const reader = Object.create(EventReader.prototype);
  Object.assign(reader, { util: u, t0: 0, events });
  const found = reader.worstWindows(2, 3);
  const brief = found.map((x) => ({ from: x.start / MS, to: x.end / MS, u: x.utilization, phases: x.phases, cycles: x.cycles, pauses: x.pauses, pausedMs: x.pausedNs / MS }));
  // The assist while marking (nothing left), the first pause and a ms of
  // mark (a quarter), mark's last 1.5 ms at half and the second pause.
  assert.deepEqual(brief, [
    { from: 15, to: 17, u: 0, phases: ['mark'], cycles: [1], pauses: 0, pausedMs: 0 },
    { from: 10, to: 12, u: 0.25, phases: ['sweep termination', 'mark'], cycles: [1], pauses: 1, pausedMs: 1 },
    { from: 19.5, to: 21.5, u: 0.375, phases: ['mark', 'mark termination'], cycles: [1], pauses: 1, pausedMs: 0.5 },
  ]);
  // Between cycles, and across one's end and the next one's start.
  const late = reader.worstWindows(40, 2);
  assert.deepEqual(late.map((x) => [x.start / MS, x.phases, x.cycles]), [[0, ['sweep termination', 'mark', 'mark termination', 'sweep', 'off'], [1]], [40, ['off'], []]]);
  assert.equal(found[0].utilization, reader.mmu([2])[2]);
  // The default count, and a window longer than the history.
  assert.equal(reader.worstWindows(1).length, 5);
  assert.equal(reader.worstWindows(101), null);
});

test('an event drained a drain late is kept in time order: gctrace, flows and the MMU steps', () => {
  // P1's writer read the clock at 5 ms and published after the reader had
  // passed its ring: its events come in the drain after P0's of 6 to 8 ms.
  const reader = Object.create(EventReader.prototype);
  Object.defineProperty(reader, 'nprocs', { value: 2 }); // read from the runtime's memory otherwise
  Object.assign(reader, { util: null, t0: null, events: [], collectorTakesP: true, historyNs: 10_000 * MS, lost: 0 });
  const e = (t, kind, lane, arg) => ({ time: t * MS, kind, lane, arg });
  reader.keep([e(0, 'state', 0, 'running'), e(0, 'state', 1, 'running'), e(1, 'goStart', 0, 7), e(6, 'goBlock', 0, { goid: 7, reason: 'chan receive' }),
    e(6.5, 'goStart', 0, 9), e(7, 'state', 0, 'assist'), e(8, 'state', 0, 'running')]);
  reader.keep([e(2, 'goStart', 1, 8), e(5, 'goUnblock', 1, 9), e(5, 'state', 1, 'assist'), e(9, 'goEnd', 1, 8), e(9.5, 'state', 1, 'running')]);
  const times = reader.events.map((x) => x.time);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'kept events in time order');
  assert.equal(reader.events.length, 12);
  // The late unblock's flow ends where G9 next started, after it began.
  const trace = reader.chromeTrace();
  const starts = new Map(trace.traceEvents.filter((x) => x.ph === 's').map((x) => [x.id, x]));
  const ends = trace.traceEvents.filter((x) => x.ph === 'f');
  assert.equal(ends.length, 1);
  assert.ok(starts.get(ends[0].id).ts <= ends[0].ts);
  // The late assist counts from the last step the MMU had: its steps never go back.
  const pts = reader.util.points.map((x) => x.t);
  assert.deepEqual(pts, [...pts].sort((a, b) => a - b));
});

test('the MMU curve of a long history of short steps is within 1% of the exact MMU', () => {
  const u = new Utilization(2);
  let seed = 99;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
  const states = ['running', 'assist', 'sweep', 'idle'];
  let t = 0;
  u.apply({ time: 0, kind: 'state', lane: 1, arg: 'running' });
  for (let i = 0; i < 20000; i++) {
    t += 1000 + Math.floor(rand() * 50_000); // 1 to 51 us
    u.apply({ time: t, kind: 'state', lane: i % 2, arg: states[Math.floor(rand() * states.length)] });
  }
  const reader = Object.create(EventReader.prototype);
  Object.assign(reader, { util: u, t0: 0, events: [{ time: t }] });
  const curve = reader.mmuCurve(12);
  assert.equal(curve.length, 12);
  for (const p of curve) {
    const exact = mmu(u.points, 0, t, p.windowMs * 1e6);
    assert.ok(Math.abs(p.mmu - exact) <= 0.01, `${p.windowMs} ms: ${p.mmu} vs ${exact}`);
  }
});

let rt;
before(async () => { rt = await start({ procs: 2 }); });
after(async () => { await rt?.close(); });

/** Sends n strings of the given sizes through an echo goroutine and back. */
async function churn(n, sizes = [10, 1000, 5000, 40_000, 120_000]) {
  const input = rt.chan({ cap: 4, codec: 'string' });
  const output = rt.chan({ cap: 4, codec: 'string' });
  rt.go('echo', input, output);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const s = 'x'.repeat(sizes[i % sizes.length]);
    await input.send(s);
    bytes += (await output.recv()).value.length;
  }
  input.close();
  return bytes;
}

test('metrics by Go\'s names: cycles count up, the goal follows the live heap, pauses are counted', async () => {
  const info = rt.metricsInfo();
  assert.ok(info.length >= 30);
  assert.ok(info.every((d) => /^\/[a-z/-]+:[a-z-]+$/.test(d.name)), 'Go-style names');
  const before = rt.metrics();
  for (const d of info) {
    const v = before[d.name];
    if (d.kind === 'histogram') {
      assert.equal(v.counts.length + 1, v.buckets.length, d.name);
    } else {
      assert.equal(typeof v, 'number', d.name);
    }
  }
  assert.throws(() => rt.metrics(['/no/such:thing']), RangeError);
  await churn(400);
  const m = rt.metrics(['/gc/cycles/total:gc-cycles', '/gc/heap/goal:bytes', '/gc/heap/live:bytes',
    '/gc/gogc:percent', '/sched/gomaxprocs:threads', '/sched/pauses/total/gc:seconds',
    '/sched/pauses/stopping/gc:seconds']);
  assert.ok(m['/gc/cycles/total:gc-cycles'] > before['/gc/cycles/total:gc-cycles'], 'no cycle ran');
  assert.equal(m['/sched/gomaxprocs:threads'], 2);
  assert.equal(m['/gc/gogc:percent'], 100);
  // Live heap and goal of one cycle: read again if a cycle ended between them.
  let live, goal;
  for (let tries = 0; ; tries++) {
    const c1 = rt.metrics(['/gc/cycles/total:gc-cycles'])['/gc/cycles/total:gc-cycles'];
    ({ '/gc/heap/live:bytes': live, '/gc/heap/goal:bytes': goal } = rt.metrics(['/gc/heap/live:bytes', '/gc/heap/goal:bytes']));
    if (rt.metrics(['/gc/cycles/total:gc-cycles'])['/gc/cycles/total:gc-cycles'] === c1) break;
    assert.ok(tries < 50);
  }
  const minimum = Math.floor((4 << 20) / 100) * 100; // the pacer's smallest goal at GOGC 100
  assert.equal(goal, Math.max(live + Math.floor(live / 100) * 100, minimum));
  const sum = (h) => h.counts.reduce((a, b) => a + b, 0);
  assert.ok(sum(m['/sched/pauses/total/gc:seconds']) >= 2 * m['/gc/cycles/total:gc-cycles']);
  assert.equal(sum(m['/sched/pauses/stopping/gc:seconds']), sum(m['/sched/pauses/total/gc:seconds']));
  // The echo goroutine waited for each string: some of its runnable spells were sampled.
  const after = rt.metrics(['/sched/latencies:seconds', '/gc/heap/allocs:bytes', '/gc/heap/frees:bytes']);
  assert.ok(sum(after['/sched/latencies:seconds']) > sum(before['/sched/latencies:seconds']));
  // 400 strings of 10 B to 120 KB went into the heap and out again.
  assert.ok(after['/gc/heap/allocs:bytes'] - before['/gc/heap/allocs:bytes'] >= 400 / 5 * (10 + 1000 + 5000 + 40_000 + 120_000));
  assert.ok(after['/gc/heap/frees:bytes'] > before['/gc/heap/frees:bytes']);
});

test('event rings from JS: every cycle\'s phases in order, pauses bracketed, gctrace and a Chrome trace', async (t) => {
  const reader = rt.events();
  const all = [];
  let lost = 0;
  const drainInto = () => { const r = reader.drain(); all.push(...r.events); lost += r.lost; };
  for (let i = 0; i < 6; i++) { await churn(100); drainInto(); }
  drainInto();
  assert.equal(lost, 0, 'a reader draining every few ms lost events');
  const order = ['sweep termination', 'mark', 'mark termination', 'sweep', 'off'];
  let cycle = 0, next = null, complete = 0;
  for (const e of all) {
    if (e.kind !== 'gcPhase') continue;
    const { phase, cycle: n } = e.arg;
    if (phase === 'sweep termination') {
      if (cycle !== 0) assert.equal(next, 'sweep termination', `cycle ${cycle} ended at ${next}`);
      if (cycle !== 0) assert.equal(n, cycle + 1);
      cycle = n;
      next = 'mark';
      continue;
    }
    if (cycle === 0) continue; // the tail of a cycle begun before the reader
    assert.equal(phase, next, `cycle ${n}`);
    assert.equal(n, cycle);
    if (phase === 'off') complete++;
    next = order[(order.indexOf(phase) + 1) % order.length];
  }
  assert.ok(complete >= 2, `only ${complete} whole cycles seen`);
  let begin = null, pauses = 0;
  for (const e of all) {
    if (e.kind === 'stwBegin') { assert.equal(begin, null); begin = e.time; }
    if (e.kind === 'stwEnd') { assert.notEqual(begin, null); assert.equal(e.arg, e.time - begin); begin = null; pauses++; }
  }
  assert.ok(pauses >= 2 * complete);
  const lines = reader.gctrace();
  assert.ok(lines.length >= complete - 1);
  for (const l of lines) assert.match(l, /^gc \d+ @\d+\.\d{3}s \d+%: [\d.]+\+[\d.]+\+[\d.]+ ms clock, .* MB goal, 2 P$/);
  const mmuNow = reader.mmu();
  for (const w of [1, 2, 5, 10, 20, 50, 100]) {
    assert.ok(mmuNow[w] === null || (mmuNow[w] >= 0 && mmuNow[w] <= 1), `MMU ${w} ms: ${mmuNow[w]}`);
  }
  const curve = reader.mmuCurve(20);
  assert.ok(curve.length === 20 && curve.every((p) => p.mmu === null || (p.mmu >= 0 && p.mmu <= 1)));
  // The worst 10 ms windows of the same history: the first is the MMU's, all within it and apart.
  const worst = reader.worstWindows(10, 4);
  const [from, to] = reader.span();
  if (mmuNow[10] === null) assert.equal(worst, null);
  else {
    assert.equal(worst[0].utilization, mmuNow[10]);
    for (let i = 0; i < worst.length; i++) {
      assert.ok(worst[i].start >= from && worst[i].end <= to, JSON.stringify(worst[i]));
      assert.ok(i === 0 || worst[i - 1].utilization <= worst[i].utilization);
      for (let j = 0; j < i; j++) assert.ok(worst[j].end <= worst[i].start || worst[i].end <= worst[j].start, `windows ${j} and ${i} overlap`);
    }
    t.diagnostic(`worst 10 ms windows: ${worst.map((x) => `${(x.utilization * 100).toFixed(1)}% (${x.phases.join(', ') || 'no phase known'}; ${x.pauses} pauses)`).join(' | ')}`);
  }
  // The export a user writes and opens in Perfetto.
  const dir = mkdtempSync(join(tmpdir(), 'gort-trace-'));
  try {
    const file = join(dir, 'trace.json');
    writeFileSync(file, JSON.stringify(reader.chromeTrace()));
    const trace = JSON.parse(readFileSync(file, 'utf8'));
    const names = new Set(trace.traceEvents.filter((e) => e.name === 'thread_name').map((e) => e.args.name));
    for (const lane of ['P0', 'P1', 'collector', 'GC phases', 'stop-the-world']) assert.ok(names.has(lane), lane);
    const spans = trace.traceEvents.filter((e) => e.ph === 'X');
    assert.ok(spans.some((e) => e.name === 'mark' && e.tid === 1000), 'the collector\'s mark');
    assert.ok(spans.some((e) => e.name === 'stop-the-world'));
    assert.ok(spans.every((e) => e.dur > 0 && Number.isFinite(e.ts)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const recorded = await rt.trace({ ms: 200 });
  assert.ok(Array.isArray(recorded.traceEvents));
});

test('goroutine events from JS: asked for by a reader, each P running one goroutine at a time, slices and flows in the Chrome trace', async () => {
  const reader = rt.events({ goroutines: true });
  const all = [];
  let lost = 0;
  const drainInto = () => { const r = reader.drain(); all.push(...r.events); lost += r.lost; };
  // The sieve: each prime's filter is a goroutine the primes goroutine
  // makes, and every number passes from filter to filter over unbuffered
  // channels; JS takes each prime and drains meanwhile.
  const out = rt.chan({ codec: 'f64' });
  rt.go('primes', out, 40);
  const got = [];
  for await (const p of out) { got.push(p); drainInto(); }
  // The primes goroutine closes the channel, then ends: JS may see the close first.
  const deadline = Date.now() + 10_000;
  drainInto();
  while (!all.some((e) => e.kind === 'goEnd') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    drainInto();
  }
  reader.close();
  assert.equal(got[39], 173);
  assert.equal(lost, 0, 'a reader draining at every prime lost events');
  const go = all.filter((e) => e.kind.startsWith('go'));
  const count = (kind) => go.filter((e) => e.kind === kind).length;
  assert.ok(count('goCreate') >= 40, `${count('goCreate')} goroutines made`);
  assert.ok(count('goEnd') >= 1, 'the primes goroutine ended');
  const blocks = go.filter((e) => e.kind === 'goBlock');
  assert.ok(blocks.length >= 100, `${blocks.length} blocks`);
  for (const b of blocks) assert.ok(Number.isInteger(b.arg.goid) && b.arg.goid > 0);
  assert.ok(blocks.some((b) => b.arg.reason === 'chan send') && blocks.some((b) => b.arg.reason === 'chan receive'));
  // Each block is undone but the sieve's (its goroutines stay blocked) and
  // the sends to JS, whose receiver, a thread without a P, writes no event.
  assert.ok(count('goUnblock') >= blocks.length - 41 - 40, `${count('goUnblock')} unblocks of ${blocks.length} blocks`);
  // A P runs one goroutine at a time: its start, then that goroutine's block, stop or end.
  for (const lane of [0, 1]) {
    let runningNow = null;
    for (const e of go) {
      if (e.lane !== lane) continue;
      const goid = typeof e.arg === 'number' ? e.arg : e.arg.goid;
      if (e.kind === 'goStart') { assert.equal(runningNow, null, `P${lane} started G${goid} while G${runningNow} ran`); runningNow = goid; }
      if (e.kind === 'goBlock' || e.kind === 'goStop' || e.kind === 'goEnd') { assert.equal(goid, runningNow); runningNow = null; }
    }
  }
  // A goroutine runs after it was made.
  const created = new Map(go.filter((e) => e.kind === 'goCreate').map((e) => [e.arg, e.time]));
  for (const e of go) if (e.kind === 'goStart' && created.has(e.arg)) assert.ok(e.time >= created.get(e.arg));

  const trace = JSON.parse(JSON.stringify(reader.chromeTrace()));
  const names = new Set(trace.traceEvents.filter((e) => e.name === 'thread_name').map((e) => e.args.name));
  for (const lane of ['P0', 'P0 goroutines', 'P1', 'P1 goroutines']) assert.ok(names.has(lane), lane);
  const slices = trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'goroutine');
  assert.ok(slices.length >= 100, `${slices.length} goroutine slices`);
  for (const sl of slices) {
    assert.match(sl.name, /^G\d+$/);
    assert.ok(sl.dur > 0 && sl.tid >= 3000);
  }
  // Slices on one lane never overlap.
  const byTid = new Map();
  for (const sl of slices) { if (!byTid.has(sl.tid)) byTid.set(sl.tid, []); byTid.get(sl.tid).push(sl); }
  for (const list of byTid.values()) {
    list.sort((a, b) => a.ts - b.ts);
    for (let i = 1; i < list.length; i++) assert.ok(list[i].ts >= list[i - 1].ts + list[i - 1].dur - 1e-6);
  }
  // Every flow end has its start, earlier, each inside a goroutine slice of its lane.
  const starts = new Map(trace.traceEvents.filter((e) => e.ph === 's').map((e) => [e.id, e]));
  const ends = trace.traceEvents.filter((e) => e.ph === 'f');
  assert.ok(ends.length >= 50, `${ends.length} flows`);
  const within = (e) => byTid.get(e.tid)?.some((sl) => e.ts > sl.ts && e.ts < sl.ts + sl.dur);
  for (const f of ends) {
    const st = starts.get(f.id);
    assert.ok(st, `flow ${f.id} has no start`);
    assert.ok(st.ts <= f.ts);
    assert.equal(f.bp, 'e');
    assert.ok(within(st) && within(f), `flow ${f.id}'s ends are not inside slices`);
  }

  // Closed: no reader wants them, and the runtime writes none.
  const quiet = rt.events();
  const out2 = rt.chan({ codec: 'f64' });
  rt.go('primes', out2, 10);
  for await (const p of out2) assert.ok(p > 0);
  assert.equal(quiet.drain().events.filter((e) => e.kind.startsWith('go')).length, 0);
});

test('a slow reader loses the oldest events, says how many, and no goroutine waits for it', async (t) => {
  // Goroutine events: every hand-off with the echoing goroutine parks and
  // readies it, several ring-fulls of events while nobody reads. (Its P's
  // state changes alone are too few: a P that finds nothing looks a while
  // before it goes idle, and the next hand-off comes first.)
  const reader = rt.events({ goroutines: true });
  t.after(() => reader.close());
  const t0 = performance.now();
  await churn(6000, [8]);
  const elapsed = performance.now() - t0;
  const { events, lost } = reader.drain();
  assert.ok(lost > 0, 'nothing was lost: the test did not outrun the rings');
  assert.ok(events.length > 0);
  const perLane = new Map();
  for (const e of events) perLane.set(e.lane, (perLane.get(e.lane) ?? 0) + 1);
  for (const [lane, n] of perLane) assert.ok(n < 4096, `lane ${lane}: ${n} events from a ring of 4096`);
  for (let i = 1; i < events.length; i++) assert.ok(events[i].time >= events[i - 1].time);
  assert.equal(reader.lost, lost);
  assert.ok(elapsed < 60_000);
  const again = reader.drain();
  assert.equal(again.lost, 0, 'a reader caught up loses nothing');
});

/** Checks one arena copy: a span's first page says how many pages follow, and exactly those are its. */
function consistent(map, arena) {
  for (let i = 0; i < map.pagesPerArena;) {
    const p = map.page(arena, i);
    if (p.kind === 'free') { i++; continue; }
    if (p.kind === 'rest') {
      if (i !== 0) return `page ${i}: a rest page without a span start`;
      while (i < map.pagesPerArena && map.page(arena, i).kind === 'rest') i++;
      continue;
    }
    if (p.npages < 1 || p.inuse > p.nelems || p.marked > p.nelems) return `page ${i}: ${JSON.stringify(p)}`;
    for (let k = i + 1; k < i + p.npages && k < map.pagesPerArena; k++) {
      if (map.page(arena, k).kind !== 'rest') return `page ${k}: not part of the span at ${i} (${p.npages} pages)`;
    }
    i += p.npages;
  }
  return null;
}

test('the page table never shows a torn span while the main thread allocates and the collector sweeps', async () => {
  const map = rt.heapMap();
  let stop = false, reads = 0, stale = 0;
  const problems = [];
  const looking = (async () => {
    while (!stop) {
      const { arenas } = map.read();
      for (const a of arenas) {
        if (a.stale) { stale++; continue; }
        reads++;
        const why = consistent(map, a);
        if (why) problems.push(`arena ${a.index}: ${why}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  })();
  await churn(1500);
  stop = true;
  await looking;
  assert.deepEqual(problems, []);
  assert.ok(reads > 20, `${reads} arena copies`);
});

test('on a quiet heap the page table agrees with gort_heap_snapshot, and spans show their objects', async () => {
  await churn(200);
  const map = rt.heapMap();
  const m = rt.module;
  // Quiet: no cycle runs and every span is swept.
  let view;
  for (let tries = 0; ; tries++) {
    const total1 = rt.metrics(['/gc/cycles/total:gc-cycles'])['/gc/cycles/total:gc-cycles'];
    view = map.read();
    const swept = view.arenas.every((a) => {
      for (let i = 0; i < map.pagesPerArena; i++) {
        const p = map.page(a, i, view.sweepgen);
        if (p.kind === 'start' && p.sweep !== 'swept') return false;
      }
      return true;
    });
    const total2 = rt.metrics(['/gc/cycles/total:gc-cycles'])['/gc/cycles/total:gc-cycles'];
    if (swept && total1 === total2) break;
    assert.ok(tries < 200, 'the heap never went quiet');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const pages = view.arenas.length * map.pagesPerArena;
  const L = rt.realm.observeLayout;
  const recordSize = 12; // gort_page_record (gort/mstats.h)
  const buf = m._malloc(pages * recordSize);
  try {
    assert.equal(m._gort_js_heap_snapshot(buf, pages), pages);
    rt.realm.refresh();
    const snap = rt.realm.u8.slice(buf, buf + pages * recordSize);
    const u16 = (b, at) => b[at] | (b[at + 1] << 8);
    let spans = 0, checkedObjects = 0;
    for (const a of view.arenas) {
      for (let i = 0; i < map.pagesPerArena; i++) {
        const at = (a.index * map.pagesPerArena + i) * recordSize;
        const p = map.page(a, i, view.sweepgen);
        const state = snap[at];
        assert.equal(p.kind, ['free', 'start', 'rest'][state], `arena ${a.index} page ${i}`);
        if (p.kind !== 'start') continue;
        spans++;
        assert.equal(p.spanclass, snap[at + 1]);
        assert.equal(p.nelems, u16(snap, at + 2));
        assert.equal(p.npages, u16(snap, at + 6));
        // A span a thread's cache holds has had allocations since its event.
        if (p.cached) assert.ok(p.inuse <= u16(snap, at + 4));
        else assert.equal(p.inuse, u16(snap, at + 4), `arena ${a.index} page ${i}`);
        if (!p.cached && spans % 7 === 0) {
          const objs = map.span(a.base + i * map.pageSize);
          assert.ok(objs, 'a span start the map shows is a span');
          assert.equal(objs.nelems, p.nelems);
          assert.equal(objs.colors.filter((c) => c !== 0).length, p.inuse);
          // A span that holds objects names the types they were allocated with.
          if (p.inuse > 0) assert.ok(objs.types.length > 0 && objs.types.every((n) => n === null || typeof n === 'string'), JSON.stringify(objs.types));
          checkedObjects++;
        }
      }
    }
    assert.ok(spans > 5 && checkedObjects > 0);
    assert.equal(L.pageRecordSize, recordSize);
  } finally {
    m._free(buf);
  }
});

// The pipeline's check of a message (src/js/workloads.c check_of), in 64 bits.
const U64 = (1n << 64n) - 1n;
function checkOf(a, b) {
  let x = ((a * 0x9E3779B97F4A7C15n) & U64) ^ ((b + 0x632BE59BD9B4E019n) & U64);
  x ^= x >> 31n;
  x = (x * 0xBF58476D1CE4E5B9n) & U64;
  return x ^ (x >> 29n);
}

test('a span that has held several types names each object\'s own: pipeline messages among spawn tasks', async (t) => {
  // Both workloads allocate 16-byte pointer-free objects on one P, into the
  // same spans; a message carries its own check, which no spawn task
  // matches: each object's type as the span names it can be verified. No
  // collection meanwhile: the objects are all still there, intact, once the
  // workloads end.
  const gogc = rt.setGCPercent('off');
  const procs = await rt.setGOMAXPROCS(1);
  t.after(async () => { rt.setGCPercent(gogc); await rt.setGOMAXPROCS(procs); });
  const ctx = rt.context.withCancel(rt.context.background());
  const reports = [rt.chan({ codec: 'json', cap: 64 }), rt.chan({ codec: 'json', cap: 64 })];
  const drain = reports.map(async (ch) => { for await (const r of ch) if (r.final) break; });
  const running = [rt.go('pipeline', ctx, reports[0], 2, 2), rt.go('spawn_storm', ctx, reports[1], 50)];
  await new Promise((resolve) => setTimeout(resolve, 500));
  ctx.cancel();
  await Promise.all(running);
  await Promise.all(drain);
  const map = rt.heapMap();
  const view = map.read();
  rt.realm.refresh();
  const memory = new DataView(rt.realm.u8.buffer);
  let messages = 0, others = 0, mixedSpans = 0;
  const wrong = [];
  for (const a of view.arenas) {
    for (let i = 0; i < map.pagesPerArena; i++) {
      const p = map.page(a, i, view.sweepgen);
      if (p.kind !== 'start' || p.elemsize !== 16) continue;
      const objs = map.span(a.base + i * map.pageSize);
      const message = objs?.types.indexOf('pipeline message') ?? -1;
      if (!objs?.typeOf || message < 0) continue;
      mixedSpans++;
      for (let k = 0; k < objs.nelems; k++) {
        if (objs.colors[k] === 0) continue;
        const at = objs.base + k * objs.elemsize;
        const looksLikeOne = memory.getBigUint64(at + 8, true) === checkOf(memory.getBigUint64(at, true), 1n);
        const named = objs.typeOf[k] === message;
        if (named) messages++;
        else others++;
        if (named !== looksLikeOne) wrong.push(`${at.toString(16)}: ${named ? 'named a message, not one' : `a message named ${objs.types[objs.typeOf[k]] ?? 'another type'}`}`);
      }
    }
  }
  t.diagnostic(`${mixedSpans} spans with messages and codes: ${messages} messages, ${others} other objects`);
  assert.ok(mixedSpans > 0 && messages >= 20 && others >= 20, `${mixedSpans} spans with messages and codes: ${messages} messages, ${others} other objects`);
  assert.deepEqual(wrong.slice(0, 10), []);
});

test('the playground names an object by its own code, and says so when the span cannot', async () => {
  const { typeText } = await import('../web/heapmap.js');
  const span = (typeOf) => ({ types: ['node', null, 'leaf', 'edge'], typesMore: true, colors: Uint8Array.of(1, 3, 2, 1, 0), typeOf });
  const coded = span(Int8Array.of(0, 1, 2, -1, 3));
  assert.equal(typeText(coded, 0), 'node');
  assert.equal(typeText(coded, 1), 'untyped bytes');
  assert.equal(typeText(coded, 2), 'leaf');
  assert.match(typeText(coded, 3), /^a type other than node, untyped bytes, leaf, edge and others/);
  assert.equal(typeText(coded, 4), 'none: a free slot');
  assert.match(typeText(span(null), 0), /^one of node, untyped bytes, leaf, edge and others/);
  assert.equal(typeText({ types: ['a<b>'], typesMore: false, colors: Uint8Array.of(3), typeOf: null }, 0), 'a&#60;b&#62;');
});
