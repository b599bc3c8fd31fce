// observe.js — the runtime watched while it runs: metrics by Go's names
// (rt.metrics(), one call into the module), and two readers that never call
// into it: an event reader that drains the per-P rings (phases, each P's
// state, pauses, cycle summaries) and computes the minimum mutator
// utilization, a Chrome trace and gctrace lines from them (with goroutine
// events, which a reader asks for and which cost the runtime only while some
// reader wants them: goroutine slices and the arrows from whoever made a
// goroutine runnable to its start); and a heap-map
// reader that copies the page table arena by arena, and for a zoomed span
// its objects' colours. Every address and offset comes from the module's
// layout descriptor (gort_js_observe_layout, src/js/bridge.c), by name. A
// heap-map reader's handle (the memory and that layout) gives another
// thread a reader of its own (openHeapMap) with no module loaded there.
//
// The reading protocols are those of gort/trace.h: a ring's head is loaded
// before and after its records are copied and the records the writer may
// have overwritten meanwhile are dropped and counted lost; an arena's
// generation word (gen << 8 | writers) is loaded before and after its copy,
// which counts only when no writer was in and the word did not move.

// The windows of the live MMU (ms), as the issue and Go's tools show them.
export const MMU_WINDOWS_MS = Object.freeze([1, 2, 5, 10, 20, 50, 100, 1000]);
// Events the reader keeps for the MMU and the trace export.
const DEFAULT_HISTORY_MS = 10_000;
// Tries of an arena copy that meet a writer before the reader gives the
// arena up for this read (it keeps its last copy, marked stale).
const ARENA_TRIES = 8;
// Points of the MMU curve when not told.
const CURVE_POINTS = 60;
// Bins per window when the curve averages a long history (error <= 2 / this).
const CURVE_BINS_PER_WINDOW = 256;
// Worst windows a reader returns when not told how many.
const WORST_WINDOWS = 5;
const TWO_32 = 2 ** 32;

const STATE_NAMES = ['idle', 'running', 'assist', 'sweep', 'stopped', 'mark'];
// A P between a stop request and its stop (never in a ring: inferred).
const STOPPING = 'stopping';
const PHASE_NAMES = ['off', 'sweep termination', 'mark', 'mark termination', 'sweep'];
// enum gort_wait_reason (gort/trace.h): Go's waitReason strings.
const WAIT_REASONS = ['', 'chan send', 'chan receive', 'select', 'select (no cases)', 'sleep', 'sync.Mutex.Lock',
  'sync.RWMutex.Lock', 'sync.RWMutex.RLock', 'semacquire', 'sync.WaitGroup.Wait', 'GC', 'stopping the world',
  'finalizer wait'];
const GO_KINDS = new Set(['goCreate', 'goStart', 'goBlock', 'goUnblock', 'goStop', 'goEnd']);
// Chrome trace thread ids: P p is tid p; its goroutines' track follows it.
const GOROUTINES_TID_BASE = 3000;
const COLORS = Object.freeze({ FREE: 0, WHITE: 1, GREY: 2, BLACK: 3 });
// HeapMapReader.work()'s page flags.
const WORK = Object.freeze({ SHADE: 1, ASSIST: 2 });
// A type's name is read up to this many bytes.
const TYPE_NAME_MAX = 256;

/** Reads the observation layout once per module: name -> value. */
function layoutOf(realm) {
  if (realm.observeLayout) return realm.observeLayout;
  const m = realm.module;
  const count = m._gort_js_observe_layout_count();
  const at = m._gort_js_observe_layout() >>> 2;
  const namesAt = m._gort_js_observe_layout_names();
  realm.refresh();
  const L = {};
  let p = namesAt;
  for (let i = 0; i < count; i++) {
    const end = realm.u8.indexOf(0, p);
    const name = new TextDecoder().decode(realm.u8.slice(p, end));
    L[name] = realm.u32[at + i];
    p = end + 1;
  }
  realm.observeLayout = L;
  return L;
}

const u16 = (u8, at) => u8[at] | (u8[at + 1] << 8);
const u64 = (u32, at) => u32[at >>> 2] + u32[(at >>> 2) + 1] * TWO_32;

// ---- metrics ----

/**
 * rt.metrics(names?): the runtime's metrics by Go's runtime/metrics names.
 * Numbers are Numbers (exact below 2^53); histograms are { buckets, counts }
 * (counts[i] values fell in [buckets[i], buckets[i+1])).
 */
export function readMetrics(realm, names) {
  const m = realm.module;
  const all = metricDescriptions(realm);
  const wanted = names === undefined ? all.map((d) => d.name) : Array.from(names);
  const known = new Set(all.map((d) => d.name));
  for (const n of wanted) {
    if (!known.has(n)) throw new RangeError(`gort: no metric named '${n}' (rt.metricsInfo() lists them)`);
  }
  const maxBuckets = 256;
  const scratch = m._gort_js_malloc(8 * maxBuckets + 32);
  const value = scratch, ncounts = scratch + 8, buckets = scratch + 12, counts = scratch + 16;
  try {
    const out = {};
    for (const name of wanted) {
      const kind = realm.withCString(name, (c) => m._gort_js_metric(c, value, counts, maxBuckets, ncounts, buckets));
      realm.refresh();
      if (kind === 3) {
        const n = realm.u32[ncounts >>> 2];
        const b = realm.u32[buckets >>> 2] >>> 3;
        out[name] = {
          buckets: Array.from(realm.f64.subarray(b, b + n + 1)),
          counts: Array.from(realm.f64.subarray(counts >>> 3, (counts >>> 3) + n)),
        };
      } else {
        out[name] = realm.f64[value >>> 3];
      }
    }
    return out;
  } finally {
    m._gort_js_free(scratch);
  }
}

/** Every metric: { name, description, kind ('uint64'|'float64'|'histogram'), cumulative }. */
export function metricDescriptions(realm) {
  if (realm.metricDescriptions) return realm.metricDescriptions;
  const m = realm.module;
  const L = layoutOf(realm);
  const n = m._gort_js_metrics_count();
  const kinds = ['bad', 'uint64', 'float64', 'histogram'];
  const list = [];
  for (let i = 0; i < n; i++) {
    const d = m._gort_js_metric_description(i);
    realm.refresh();
    list.push({
      name: realm.cString(realm.u32[(d + L.mdName) >>> 2]),
      description: realm.cString(realm.u32[(d + L.mdDescription) >>> 2]),
      kind: kinds[realm.u32[(d + L.mdKind) >>> 2]],
      cumulative: realm.u8[d + L.mdCumulative] !== 0,
    });
  }
  realm.metricDescriptions = list;
  return list;
}

// ---- events ----

/**
 * Utilization from a time-ordered event list: the change points
 * [{ t, u }] (t in ns, u in [0, 1]) of the share of GOMAXPROCS available to
 * goroutines. A P counts when it is running user code or idle; assisting,
 * sweeping for an allocation, stopping and stopped take it; the collector's
 * dedicated mark takes one P (as Go's dedicated worker does), unless
 * options.collectorTakesP is false.
 */
export class Utilization {
  constructor(nprocs, { collectorTakesP = true, collector = 256 } = {}) {
    this.nprocs = nprocs;
    this.collector = collector;
    this.collectorTakesP = collectorTakesP;
    this.state = new Array(nprocs).fill('idle');
    this.saved = new Array(nprocs).fill('idle');
    this.marking = false;
    this.points = [];
  }

  value() {
    let avail = 0;
    for (const s of this.state) if (s === 'running' || s === 'idle') avail++;
    if (this.marking && this.collectorTakesP) avail--;
    return Math.max(0, avail) / this.nprocs;
  }

  /** Applies one event ({ time, kind, lane, arg } with kind a name) and records the change. */
  apply(e) {
    switch (e.kind) {
      case 'state':
        if (e.lane === this.collector) this.marking = e.arg === 'mark';
        else if (e.lane < this.nprocs) this.state[e.lane] = e.arg;
        break;
      case 'stwBegin':
        for (let p = 0; p < this.nprocs; p++) {
          this.saved[p] = this.state[p] === 'idle' ? 'idle' : 'running';
          if (this.state[p] !== 'stopped') this.state[p] = STOPPING;
        }
        break;
      case 'stwEnd':
        for (let p = 0; p < this.nprocs; p++) {
          if (this.state[p] === 'stopped' || this.state[p] === STOPPING) this.state[p] = this.saved[p];
        }
        break;
      default:
        return;
    }
    const u = this.value();
    const last = this.points[this.points.length - 1];
    // An event a reader drains after a later one of another P (its writer
    // read the clock, then published after the reader had passed its ring)
    // counts from the last step: the steps' times never go back.
    const t = last && e.time < last.t ? last.t : e.time;
    if (last && last.t === t) last.u = u;
    else if (!last || last.u !== u) this.points.push({ t, u });
  }
}

/**
 * The minimum mutator utilization over windows of w ns, of the step
 * function `points` on [t0, t1] (the value of a point holds until the
 * next): min over window starts s of (1/w) x the integral over [s, s + w].
 * The integral is piecewise linear in s with breaks where s or s + w meets
 * a step, so the minimum is at one of those starts. null when the span is
 * shorter than w.
 */
export function mmu(points, t0, t1, w) { return steps(points, t0, t1).mmu(w); }

/**
 * The n worst windows of w ns of the step function `points` on [t0, t1]:
 * [{ start, end, utilization }] (ns), lowest utilization first, no two
 * overlapping (one may end where another starts). Chosen greedily: the
 * lowest window of all (its utilization is mmu(w)), then the lowest that
 * overlaps none chosen before, and so on; fewer than n when no room is
 * left; ties go to the earliest. null when the span is shorter than w.
 */
export function worstWindows(points, t0, t1, w, n) { return steps(points, t0, t1).worst(w, n); }

/** The step function on [t0, t1] as arrays: step starts, values, integral up to each start. */
function stepArrays(points, t0, t1) {
  const n = points.length;
  const T = new Float64Array(n + 1), U = new Float64Array(n + 1), C = new Float64Array(n + 1);
  let u0 = n ? points[0].u : 0;
  for (let i = 0; i < n && points[i].t <= t0; i++) u0 = points[i].u;
  T[0] = t0; U[0] = u0; C[0] = 0;
  let k = 1;
  for (let i = 0; i < n; i++) {
    const t = points[i].t;
    if (t <= t0 || t >= t1) continue;
    C[k] = C[k - 1] + U[k - 1] * (t - T[k - 1]);
    T[k] = t; U[k] = points[i].u;
    k++;
  }
  return { T, U, C, k };
}

const clamp01 = (v) => Math.min(1, Math.max(0, v));

/** mmu(), its approximation and the worst windows over one step function. */
function steps(points, t0, t1) {
  const { T, U, C, k } = stepArrays(points, t0, t1);
  const n = points.length;
  // The integral from t0 to x, with x in step i.
  const integralIn = (i, x) => C[i] + U[i] * (x - T[i]);
  // A cursor over the integral for x that never decreases.
  const integralTo = () => {
    let i = 0;
    return (x) => { while (i + 1 < k && T[i + 1] <= x) i++; return integralIn(i, x); };
  };
  // The integral at any x: its step found by bisection (T is increasing).
  const integralAt = (x) => {
    let lo = 0, hi = k - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (T[mid] <= x) lo = mid; else hi = mid - 1;
    }
    return integralIn(lo, x);
  };
  return {
    steps: k,
    /**
     * mmu(w) within 2 / CURVE_BINS_PER_WINDOW (under 1%): the function's
     * averages over bins of w / CURVE_BINS_PER_WINDOW, whose window integrals
     * differ from the function's by at most the two partial bins at the
     * ends; exact when there are fewer steps than bins.
     */
    approx(w) {
      if (!(w > 0) || t1 - t0 < w || n === 0) return null;
      const bin = w / CURVE_BINS_PER_WINDOW;
      const nb = Math.ceil((t1 - t0) / bin);
      if (nb >= k) return this.mmu(w);
      const at = integralTo();
      const points = new Array(nb);
      let prev = 0;
      for (let b = 0; b < nb; b++) {
        const lo = t0 + b * bin, hi = Math.min(t1, lo + bin);
        const next = at(hi);
        points[b] = { t: lo, u: (next - prev) / (hi - lo) };
        prev = next;
      }
      return steps(points, t0, t1).mmu(w);
    },
    /**
     * Calls visit(start, utilization) for every window start where the
     * minimum of the window integral can lie (see mmu()), in nondecreasing
     * order (a start may come twice); the last is t1 - w. One pass over
     * the steps: O(k) for k steps.
     */
    walk(w, visit) {
      // Window starts in increasing order: every step (a window starting
      // there) and every step - w (a window ending there), merged; the
      // integrals up to s and up to s + w follow with cursors that only
      // move forward.
      const upToStart = integralTo(), upToEnd = integralTo();
      const last = t1 - w;
      let a = 0, b = 0;
      for (;;) {
        const sa = a < k ? T[a] : Infinity, sb = b < k ? T[b] - w : Infinity;
        let start = sa <= sb ? sa : sb;
        if (start === Infinity) break;
        if (sa <= sb) a++; else b++;
        if (start < t0) start = t0;
        if (start > last) break;
        visit(start, (upToEnd(start + w) - upToStart(start)) / w);
      }
      visit(last, (upToEnd(t1) - upToStart(last)) / w);
    },
    mmu(w) {
      if (!(w > 0) || t1 - t0 < w || n === 0) return null;
      let best = Infinity;
      this.walk(w, (start, v) => { if (v < best) best = v; });
      return clamp01(best);
    },
    /**
     * worstWindows(): the window integral at every start of walk() (where
     * the lowest window lies), then n picks, each the lowest start that
     * overlaps no window picked before. Once windows are excluded, the
     * lowest allowed start may also lie where an excluded stretch ends,
     * a window's length before or after a picked one: those starts join the
     * candidates as each window is picked, so every pick is the lowest of
     * all allowed starts, not only of the walk's. Cost: one walk (O(k) for
     * k steps, O(k) memory for its <= 2k + 1 starts), then per pick a pass
     * over those starts and the <= 2n added ones: O(n x (k + n)) in all.
     */
    worst(w, count) {
      if (!Number.isInteger(count) || count < 1) throw new RangeError(`gort: worst windows: the count must be a whole number from 1 (got ${count})`);
      if (!(w > 0) || t1 - t0 < w || n === 0) return null;
      const starts = new Float64Array(2 * k + 1), values = new Float64Array(2 * k + 1);
      let m = 0;
      this.walk(w, (start, v) => { starts[m] = start; values[m] = v; m++; });
      const last = t1 - w;
      // The same comparison decides every overlap: the windows returned
      // never overlap by their own start and end figures.
      const overlaps = (s, win) => s < win.end && s + w > win.start;
      const picked = [];
      let extra = []; // { start, value }: starts where an excluded stretch ends
      while (picked.length < count) {
        // Excluded walk starts hold Infinity: none left reads as Infinity.
        let bestValue = Infinity, bestStart = Infinity;
        for (let c = 0; c < m; c++) {
          if (values[c] < bestValue) { bestValue = values[c]; bestStart = starts[c]; }
        }
        for (const x of extra) {
          if (x.value < bestValue || (x.value === bestValue && x.start < bestStart)) { bestValue = x.value; bestStart = x.start; }
        }
        if (bestStart === Infinity) break;
        const win = { start: bestStart, end: bestStart + w, utilization: clamp01(bestValue) };
        picked.push(win);
        // Walk starts are nondecreasing: those overlapping the window are
        // one run, from the first whose window ends after its start.
        let lo = 0, hi = m;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (starts[mid] + w > win.start) hi = mid; else lo = mid + 1;
        }
        for (let c = lo; c < m && overlaps(starts[c], win); c++) values[c] = Infinity;
        extra = extra.filter((x) => !overlaps(x.start, win));
        for (const s of [win.start - w, win.end]) {
          if (s < t0 || s > last || picked.some((p) => overlaps(s, p))) continue;
          extra.push({ start: s, value: (integralAt(s + w) - integralAt(s)) / w });
        }
      }
      return picked;
    },
  };
}

function kindNames(L) {
  const k = {};
  for (const [name, value] of Object.entries(L)) {
    if (/^ev[A-Z]/.test(name)) k[value] = name[2].toLowerCase() + name.slice(3);
  }
  return k;
}

/**
 * Drains the event rings without calling into the module. Keeps the events
 * of the last historyMs for the MMU, the trace export and gctrace lines.
 */
export class EventReader {
  /** @internal */
  constructor(realm, { historyMs = DEFAULT_HISTORY_MS, collectorTakesP = true, goroutines = false } = {}) {
    this.realm = realm;
    this.L = layoutOf(realm);
    // Asked for before the rings' present is taken: none written after it is missed.
    this.goroutines = false;
    if (goroutines) {
      Atomics.add(realm.u32, (this.L.traceHeader + this.L.traceGoroutineReaders) >>> 2, 1);
      this.goroutines = true;
    }
    this.kinds = kindNames(this.L);
    this.historyNs = historyMs * 1e6;
    this.collectorTakesP = collectorTakesP;
    this.next = new Map(); // lane -> next index to read
    this.lost = 0;
    this.events = [];
    this.util = null;
    this.t0 = null;
    // Start at each ring's present: what came before this reader is not lost to it.
    this.forEachRing((lane, ring) => { this.next.set(lane, this.head(ring)); });
  }

  /**
   * Stops asking for goroutine events (when this reader asked for them):
   * the runtime writes them only while some reader wants them. The reader
   * keeps what it read.
   */
  close() {
    if (!this.goroutines) return;
    this.goroutines = false;
    this.realm.refresh();
    Atomics.sub(this.realm.u32, (this.L.traceHeader + this.L.traceGoroutineReaders) >>> 2, 1);
  }

  get nprocs() {
    const L = this.L;
    this.realm.refresh(L.traceHeader + L.traceRings);
    return Atomics.load(this.realm.u32, (L.traceHeader + L.traceNprocs) >>> 2);
  }

  head(ring) { return Atomics.load(this.realm.u32, (ring + this.L.ringHead) >>> 2); }

  forEachRing(fn) {
    const { realm, L } = this;
    realm.refresh();
    const lanes = [...Array(Math.min(this.nprocs, L.traceCollector)).keys(), L.traceCollector];
    for (const lane of lanes) {
      const ring = Atomics.load(realm.u32, (L.traceHeader + L.traceRings + 4 * lane) >>> 2);
      if (ring !== 0) fn(lane, ring);
    }
  }

  /**
   * Reads every event written since the last drain: returns them merged in
   * time order ({ time (ns), kind, lane, arg }) and how many the rings
   * overwrote before this reader reached them.
   */
  drain() {
    const { realm, L } = this;
    const cap = Atomics.load(realm.u32, (L.traceHeader + L.traceRingEvents) >>> 2);
    const fresh = [];
    let lost = 0;
    this.forEachRing((lane, ring) => {
      const head = this.head(ring);
      let next = this.next.has(lane) ? this.next.get(lane) : head;
      let avail = (head - next) >>> 0;
      if (avail > cap) { lost += avail - cap; next = (head - cap) >>> 0; avail = cap; }
      const copied = [];
      const { u8, u32 } = realm;
      for (let k = 0; k < avail; k++) {
        const at = ring + L.ringEvents + (((next + k) & (cap - 1)) * L.eventSize);
        copied.push({
          time: u64(u32, at + L.eventTime),
          kind: u16(u8, at + L.eventKind),
          lane: u16(u8, at + L.eventLane),
          arg: u64(u32, at + L.eventArg),
          argLo: u32[(at + L.eventArg) >>> 2],
        });
      }
      const head2 = this.head(ring);
      let bad = 0;
      // Records at index <= head2 - cap may be the writer's by now.
      while (bad < avail && ((next + bad + cap - head2) | 0) <= 0) bad++;
      lost += bad;
      for (let k = bad; k < avail; k++) fresh.push(copied[k]);
      this.next.set(lane, (next + avail) >>> 0);
    });
    const out = fresh.map((e) => this.decode(e));
    out.sort(byTimeThenRank);
    this.lost += lost;
    this.keep(out);
    return { events: out, lost };
  }

  /** @internal */
  decode(e) {
    const L = this.L;
    const kind = this.kinds[e.kind] ?? `kind${e.kind}`;
    let arg = e.arg;
    if (kind === 'state') arg = STATE_NAMES[e.argLo] ?? e.argLo;
    else if (kind === 'gcPhase') arg = { phase: PHASE_NAMES[e.argLo & 0xff], cycle: Math.floor(e.arg / 256) };
    else if (kind === 'goBlock') arg = { goid: Math.floor(e.arg / 256), reason: WAIT_REASONS[e.argLo & 0xff] ?? `reason ${e.argLo & 0xff}` };
    else if (kind === 'cycleAssistRatio') {
      const b = new DataView(new ArrayBuffer(8));
      b.setUint32(0, e.argLo, true);
      b.setUint32(4, Math.floor(e.arg / TWO_32), true);
      arg = b.getFloat64(0, true);
    }
    return { time: e.time, kind, lane: e.lane === L.traceCollector ? 'collector' : e.lane, arg };
  }

  /** @internal */
  keep(fresh) {
    if (fresh.length === 0) return;
    if (this.util === null) this.util = new Utilization(this.nprocs, { collectorTakesP: this.collectorTakesP });
    // A drain is in time order, but an event can come a drain late (its
    // writer read the clock, then published after this reader had passed
    // its ring): the kept events are merged back into time order, so that
    // what is made of them (gctrace, the Chrome trace's slices and flows)
    // sees each P's events where they happened.
    const firstNew = fresh[0];
    let at = this.events.length;
    while (at > 0 && byTimeThenRank(this.events[at - 1], firstNew) > 0) at--;
    const moved = this.events.splice(at);
    for (const e of fresh) {
      if (this.t0 === null) this.t0 = e.time;
      this.util.apply({ ...e, lane: e.lane === 'collector' ? 256 : e.lane });
    }
    for (const e of moved.length === 0 ? fresh : mergeByTime(moved, fresh)) this.events.push(e);
    const horizon = this.events[this.events.length - 1].time - this.historyNs;
    let cut = 0;
    while (cut < this.events.length && this.events[cut].time < horizon) cut++;
    if (cut > 0) this.events.splice(0, cut);
    const pts = this.util.points;
    let pcut = 0;
    while (pcut + 1 < pts.length && pts[pcut + 1].t < horizon) pcut++;
    if (pcut > 0) pts.splice(0, pcut);
    if (this.t0 < horizon) this.t0 = horizon;
  }

  /** The span of the kept history, in ns: [from, to]. */
  span() {
    if (this.events.length === 0) return null;
    return [this.t0, this.events[this.events.length - 1].time];
  }

  /** MMU over the kept history for each window (ms): { [ms]: utilization | null }. */
  mmu(windowsMs = MMU_WINDOWS_MS) {
    const out = {};
    const span = this.span();
    const f = span ? steps(this.util.points, span[0], span[1]) : null;
    for (const w of windowsMs) out[w] = f ? f.mmu(w * 1e6) : null;
    return out;
  }

  /**
   * The whole MMU curve over the kept history: [{ windowMs, mmu }], windows
   * spaced logarithmically; each within 1% (see steps().approx), so that a
   * long history of short steps costs a pass per window over at most
   * CURVE_BINS_PER_WINDOW x history / window bins.
   */
  mmuCurve(points = CURVE_POINTS) {
    const span = this.span();
    if (!span || span[1] - span[0] < 1e3) return [];
    const lo = 1e3, hi = span[1] - span[0];
    const f = steps(this.util.points, span[0], span[1]);
    const curve = [];
    for (let i = 0; i < points; i++) {
      const w = lo * (hi / lo) ** (i / (points - 1));
      curve.push({ windowMs: w / 1e6, mmu: f.approx(w) });
    }
    return curve;
  }

  /**
   * The n worst windows of windowMs over the kept history (see
   * worstWindows()): [{ start, end (ns, the runtime's clock), utilization,
   * phases, cycles, pauses, pausedNs }], lowest first, none overlapping; the
   * first's utilization is mmu([windowMs]). phases: the GC phases in effect
   * during the window, in order ('off' between cycles; none known before the
   * first phase change the reader kept); cycles: the numbers of the cycles
   * whose phases other than 'off' it overlaps; pauses: the stop-the-world
   * pauses that overlap it, pausedNs how much of it they took. null when the history is
   * shorter than the window. Costs one walk of the history's steps (as
   * mmu()), a pass per window over the walk's starts, and one pass over the
   * kept events.
   */
  worstWindows(windowMs, n = WORST_WINDOWS) {
    const span = this.span();
    if (!span) return null;
    const windows = steps(this.util.points, span[0], span[1]).worst(windowMs * 1e6, n);
    if (windows) this.describeWindows(windows);
    return windows;
  }

  /** @internal Adds to each window the GC phases and pauses it overlaps. */
  describeWindows(windows) {
    const entered = windows.map(() => false);
    for (const win of windows) Object.assign(win, { phases: [], cycles: [], pauses: 0, pausedNs: 0 });
    let phase = null, cycle = null, stwAt = null;
    const note = (win) => {
      if (phase === null) return;
      if (win.phases[win.phases.length - 1] !== phase) win.phases.push(phase);
      if (phase !== 'off' && win.cycles[win.cycles.length - 1] !== cycle) win.cycles.push(cycle);
    };
    for (const e of this.events) {
      const t = e.time;
      windows.forEach((win, i) => {
        // The phase in effect as the window starts: the last before this event.
        if (!entered[i] && t > win.start) { entered[i] = true; note(win); }
      });
      if (e.kind === 'gcPhase') {
        phase = e.arg.phase;
        cycle = e.arg.cycle;
        for (const win of windows) if (t > win.start && t < win.end) note(win);
      } else if (e.kind === 'stwBegin') {
        stwAt = t;
      } else if (e.kind === 'stwEnd') {
        // A pause begun before the kept history: its length is the event's.
        const from = stwAt ?? t - e.arg;
        stwAt = null;
        for (const win of windows) {
          const inside = Math.min(t, win.end) - Math.max(from, win.start);
          // A pause shorter than the clock's resolution reads 0 and counts where it lies.
          if (inside > 0 || (from === t && t >= win.start && t < win.end)) { win.pauses++; win.pausedNs += Math.max(0, inside); }
        }
      }
    }
  }

  /** The collection cycles in the kept history, one object per cycle summary. */
  cycles() {
    const cycles = [];
    let cur = { phases: {} };
    const pauses = [];
    for (const e of this.events) {
      if (e.kind === 'gcPhase') {
        if (e.arg.phase === 'sweep termination') cur = { cycle: e.arg.cycle, phases: {}, pauses: [] };
        cur.phases[e.arg.phase] = e.time;
      } else if (e.kind === 'stwBegin') {
        // GOMAXPROCS as the cycle's first pause began.
        if (cur.pauses && cur.procs === undefined) cur.procs = e.arg;
      } else if (e.kind === 'stwEnd') {
        pauses.push({ end: e.time, ns: e.arg });
        if (cur.pauses) cur.pauses.push(e.arg);
      } else if (e.kind.startsWith('cycle')) {
        const key = e.kind.slice(5, 6).toLowerCase() + e.kind.slice(6);
        cur[key] = e.arg;
        if (e.kind === 'cycleEnd') { cur.number = e.arg; cycles.push(cur); }
      }
    }
    return cycles;
  }

  /**
   * Go's gctrace lines for the cycles in the kept history:
   * 'gc N @Ts P%: stw1+mark+stw2 ms clock, ..., A->B->C MB, G MB goal, N P'.
   * P% is the collector's share of the CPU over the kept history. A cycle
   * of the stop-the-world collector (gcstoptheworld) has one pause, its mark
   * inside it: 'pause+mark+0', the mark counted once.
   */
  gctrace() {
    const span = this.span();
    const lines = [];
    let gcNs = 0;
    const ms = (ns) => (ns / 1e6).toFixed(3);
    const mb = (b) => (b / 1048576).toFixed(0);
    for (const c of this.cycles()) {
      if (!c.pauses || c.pauses.length < 1 || c.phases['sweep termination'] === undefined) continue;
      const [stw1, stw2 = 0] = c.pauses;
      const stopped = c.pauses.length === 1;
      const procs = c.procs ?? this.nprocs;
      gcNs += (stw1 + stw2) * procs + (stopped ? 0 : c.markNs ?? 0) + (c.assistNs ?? 0);
      const t = c.phases['sweep termination'];
      const elapsed = span ? t - span[0] : 0;
      const pct = elapsed > 0 ? Math.round((100 * gcNs) / (elapsed * procs)) : 0;
      lines.push(`gc ${c.number} @${(t / 1e9).toFixed(3)}s ${pct}%: ${ms(stw1)}+${ms(c.markNs ?? 0)}+${ms(stw2)} ms clock, ` +
        `${ms(stw1 * procs)}+${ms(c.assistNs ?? 0)}/${ms(c.markNs ?? 0)}/0+${ms(stw2 * procs)} ms cpu, ` +
        `${mb(c.liveStart)}->${mb(c.liveEnd)}->${mb(c.marked)} MB, ${mb(c.goal)} MB goal, ${procs} P`);
    }
    return lines;
  }

  /**
   * A Chrome trace (the JSON object format; Perfetto and chrome://tracing
   * open it) of the kept history, or of [fromMs, toMs] in the events' time
   * base: a lane per P and one for the collector with their states, a lane
   * of GC phases, one of stop-the-world pauses, and counters of the heap.
   * With goroutine events, each P has a second lane of the goroutines it
   * ran ('G<id>' slices, args saying how each run ended: the wait reason,
   * 'yield' or 'end'), and a flow arrow goes from where a goroutine was
   * created or unblocked (inside the slice of the goroutine that did it) to
   * the slice where it next ran.
   */
  chromeTrace({ fromMs = -Infinity, toMs = Infinity } = {}) {
    const from = fromMs * 1e6, to = toMs * 1e6;
    const us = (ns) => ns / 1e3;
    const PID = 1, COLLECTOR_TID = 1000, PHASES_TID = 2000, STW_TID = 2001;
    const out = [
      { ph: 'M', pid: PID, name: 'process_name', args: { name: 'gort' } },
      { ph: 'M', pid: PID, tid: COLLECTOR_TID, name: 'thread_name', args: { name: 'collector' } },
      { ph: 'M', pid: PID, tid: PHASES_TID, name: 'thread_name', args: { name: 'GC phases' } },
      { ph: 'M', pid: PID, tid: STW_TID, name: 'thread_name', args: { name: 'stop-the-world' } },
    ];
    const procs = this.nprocs;
    const hasGoroutines = this.events.some((e) => GO_KINDS.has(e.kind));
    for (let p = 0; p < procs; p++) {
      out.push({ ph: 'M', pid: PID, tid: p, name: 'thread_name', args: { name: `P${p}` } });
      out.push({ ph: 'M', pid: PID, tid: p, name: 'thread_sort_index', args: { sort_index: 2 * p } });
      if (!hasGoroutines) continue;
      const tid = GOROUTINES_TID_BASE + p;
      out.push({ ph: 'M', pid: PID, tid, name: 'thread_name', args: { name: `P${p} goroutines` } });
      out.push({ ph: 'M', pid: PID, tid, name: 'thread_sort_index', args: { sort_index: 2 * p + 1 } });
    }
    // Goroutine slices: lane -> { goid, since, flowsIn, flowsOut }. A flow
    // goes from inside the slice of the goroutine that made another
    // runnable to inside the slice where that one next ran ('bp: e': both
    // ends bound to the slice around them), each end written with its slice
    // and a nanosecond inside it, so that no viewer binds it to a neighbour.
    const running = new Map();
    const pendingFlows = new Map(); // goid -> flow ids waiting for its start
    let flowId = 0;
    const goLeave = (lane, t, how) => {
      const r = running.get(lane);
      if (!r) return;
      running.delete(lane);
      const a = Math.max(r.since, from), b = Math.min(t, to);
      if (b <= a) return;
      const tid = GOROUTINES_TID_BASE + lane;
      out.push({ ph: 'X', pid: PID, tid, name: `G${r.goid}`, cat: 'goroutine', ts: us(a), dur: us(b - a), args: { goid: r.goid, ended: how } });
      const inset = Math.min(1, (b - a) / 4);
      const inside = (x) => Math.min(Math.max(x, a + inset), b - inset);
      for (const f of r.flowsOut) out.push({ ph: 's', pid: PID, tid, id: f.id, name: 'ready', cat: 'goroutine', ts: us(inside(f.t)), args: { goid: f.goid, by: f.by } });
      for (const id of r.flowsIn) out.push({ ph: 'f', bp: 'e', pid: PID, tid, id, name: 'ready', cat: 'goroutine', ts: us(a + inset) });
    };
    const goEvent = (e) => {
      const t = e.time;
      if (typeof e.lane !== 'number') return; // the collector runs no goroutine
      if (e.kind === 'goStart') {
        goLeave(e.lane, t, 'unknown');
        running.set(e.lane, { goid: e.arg, since: t, flowsIn: pendingFlows.get(e.arg) ?? [], flowsOut: [] });
        pendingFlows.delete(e.arg);
      } else if (e.kind === 'goBlock' || e.kind === 'goStop' || e.kind === 'goEnd') {
        goLeave(e.lane, t, e.kind === 'goBlock' ? e.arg.reason : e.kind === 'goStop' ? 'yield' : 'end');
      } else {
        // goCreate, goUnblock: an arrow only from a goroutine (a P's own
        // scheduler, running timers, has no slice to start it from).
        const r = running.get(e.lane);
        if (!r) return;
        const id = ++flowId;
        r.flowsOut.push({ id, t, goid: e.arg, by: e.kind === 'goCreate' ? 'go' : 'unblock' });
        if (!pendingFlows.has(e.arg)) pendingFlows.set(e.arg, []);
        pendingFlows.get(e.arg).push(id);
      }
    };
    const open = new Map(); // tid -> { name, since }
    const close = (tid, t) => {
      const o = open.get(tid);
      if (!o) return;
      open.delete(tid);
      const a = Math.max(o.since, from), b = Math.min(t, to);
      if (b > a && o.name !== 'idle' && o.name !== 'off') {
        out.push({ ph: 'X', pid: PID, tid, name: o.name, cat: o.cat, ts: us(a), dur: us(b - a), args: o.args ?? {} });
      }
    };
    const begin = (tid, name, t, cat, args) => { close(tid, t); open.set(tid, { name, since: t, cat, args }); };
    let stwAt = null;
    const saved = new Map();
    for (const e of this.events) {
      const t = e.time;
      if (GO_KINDS.has(e.kind)) {
        goEvent(e);
      } else if (e.kind === 'state') {
        begin(e.lane === 'collector' ? COLLECTOR_TID : e.lane, e.arg, t, 'sched');
      } else if (e.kind === 'gcPhase') {
        begin(PHASES_TID, e.arg.phase, t, 'gc', { cycle: e.arg.cycle });
      } else if (e.kind === 'stwBegin') {
        stwAt = t;
        for (let p = 0; p < procs; p++) {
          const o = open.get(p);
          saved.set(p, o && o.name === 'idle' ? 'idle' : 'running');
          if (!o || o.name !== 'stopped') begin(p, STOPPING, t, 'sched');
        }
      } else if (e.kind === 'stwEnd') {
        if (stwAt !== null && t >= from && stwAt <= to) {
          out.push({ ph: 'X', pid: PID, tid: STW_TID, name: 'stop-the-world', cat: 'gc', ts: us(Math.max(stwAt, from)), dur: us(Math.min(t, to) - Math.max(stwAt, from)), args: { pause_us: us(e.arg) } });
        }
        stwAt = null;
        for (let p = 0; p < procs; p++) {
          const o = open.get(p);
          if (o && (o.name === 'stopped' || o.name === STOPPING)) begin(p, saved.get(p) ?? 'running', t, 'sched');
        }
      } else if (e.kind === 'cycleEnd' || e.kind === 'cycleGoal' || e.kind === 'cycleMarked' || e.kind === 'cycleLiveEnd') {
        if (t >= from && t <= to) {
          const name = { cycleGoal: 'heap goal', cycleMarked: 'heap marked', cycleLiveEnd: 'heap live', cycleEnd: null }[e.kind];
          if (name) out.push({ ph: 'C', pid: PID, name, ts: us(t), args: { bytes: e.arg } });
        }
      }
    }
    const end = this.events.length ? this.events[this.events.length - 1].time : 0;
    for (const tid of [...open.keys()]) close(tid, end);
    for (const lane of [...running.keys()]) goLeave(lane, end, 'running');
    return { traceEvents: out, displayTimeUnit: 'ms', otherData: { source: 'gort', lost: this.lost } };
  }
}

/** Two lists in time order merged into one (ties: a's first). */
function mergeByTime(a, b) {
  const out = [];
  let i = 0, j = 0;
  while (i < a.length && j < b.length) out.push(byTimeThenRank(b[j], a[i]) < 0 ? b[j++] : a[i++]);
  while (i < a.length) out.push(a[i++]);
  while (j < b.length) out.push(b[j++]);
  return out;
}

function byTimeThenRank(a, b) {
  if (a.time !== b.time) return a.time - b.time;
  return rank(a) - rank(b);
}
// At one instant a pause's begin comes first and its end last.
function rank(e) { return e.kind === 'stwBegin' ? 0 : e.kind === 'stwEnd' ? 2 : 1; }

// ---- the heap map ----

/**
 * Copies the page table without calling into the module: read() gives every
 * arena's records (re-copied only when its generation moved), span(addr)
 * a span's objects and their colours.
 */
export class HeapMapReader {
  /** @internal */
  constructor(realm) {
    this.realm = realm;
    this.L = layoutOf(realm);
    this.arenas = [];
    realm.refresh();
    const { u32 } = realm;
    this.pagesPerArena = u32[(this.L.heapmapHeader + this.L.hmPagesPerArena) >>> 2];
    this.pageSize = u32[(this.L.heapmapHeader + this.L.hmPageSize) >>> 2];
    this.sizes = Array.from(u32.subarray(this.L.classToSize >>> 2, (this.L.classToSize >>> 2) + this.L.numSizeClasses));
  }

  /**
   * What another thread needs to read the same heap: the module's memory
   * and the layout C published, plain data that postMessage carries (a
   * shared WebAssembly.Memory is passed, not copied). openHeapMap(handle)
   * makes a reader of it there, without the module.
   */
  get handle() {
    return { gort: 'heapMap', memory: this.realm.memory, layout: { ...this.L } };
  }

  /** The heap's sweepgen now (for a record's sweep state). */
  sweepgen() {
    const { realm, L } = this;
    const at = realm.u32[(L.heapmapHeader + L.hmSweepgen) >>> 2];
    return Atomics.load(realm.u32, at >>> 2);
  }

  /**
   * Copies every arena that changed since the last read. Returns
   * { arenas: [{ index, base, gen, changed, stale, bytes }], sweepgen }: bytes
   * is the arena's records (page(arena, i) decodes one); stale says every
   * try met a writer and bytes is the previous copy.
   */
  read() {
    const { realm, L } = this;
    realm.refresh();
    const n = Atomics.load(realm.u32, (L.heapmapHeader + L.hmNarenas) >>> 2);
    const bytes = this.pagesPerArena * L.pageRecordSize;
    for (let i = 0; i < n; i++) {
      const a = realm.u32[(L.heapmapHeader + L.hmArenas + 4 * i) >>> 2];
      let entry = this.arenas[i];
      if (!entry) {
        entry = { index: i, base: u64(realm.u32, a + L.hmArenaBase), gen: -1, changed: false, stale: false, bytes: null, at: a };
        this.arenas[i] = entry;
      }
      entry.changed = false;
      entry.stale = false;
      const genAt = (a + L.hmArenaGen) >>> 2;
      let done = false;
      for (let t = 0; t < ARENA_TRIES && !done; t++) {
        const g1 = Atomics.load(realm.u32, genAt);
        if ((g1 & 0xff) !== 0) continue;
        if (g1 >>> 8 === entry.gen) { done = true; break; }
        const copy = realm.u8.slice(a + L.hmArenaPages, a + L.hmArenaPages + bytes);
        if (Atomics.load(realm.u32, genAt) === g1) {
          entry.bytes = copy;
          entry.gen = g1 >>> 8;
          entry.changed = true;
          done = true;
        }
      }
      if (!done) entry.stale = true;
    }
    return { arenas: this.arenas.slice(0, n), sweepgen: this.sweepgen() };
  }

  /**
   * Which pages saw the collector's work since the last call, read straight
   * from the per-page counters (gort_heapmap_work): per arena (by index) a
   * Uint8Array of its pages, bit WORK.SHADE set where the write barrier
   * shaded a white object, bit WORK.ASSIST where an assist scanned. The
   * first call (and an arena's first) reports nothing. Returns
   * { arenas, shaded, assisted }: the counts of such pages. The arrays are
   * the reader's own, rewritten by the next call.
   */
  work() {
    const { realm, L } = this;
    realm.refresh();
    const { u32 } = realm;
    const n = Atomics.load(u32, (L.heapmapHeader + L.hmNarenas) >>> 2);
    const pages = this.pagesPerArena;
    const stride = L.workSize >>> 2; // the two counters share one word
    const sh = L.workShades * 8, as = L.workAssists * 8;
    this.workSeen ??= [];
    this.workFlags ??= [];
    let shaded = 0, assisted = 0;
    for (let i = 0; i < n; i++) {
      const a = u32[(L.heapmapHeader + L.hmArenas + 4 * i) >>> 2];
      const at = (a + u32[(a + L.hmArenaWorkOffset) >>> 2]) >>> 2;
      const seen = this.workSeen[i];
      const flags = (this.workFlags[i] ??= new Uint8Array(pages));
      flags.fill(0);
      if (!seen) {
        this.workSeen[i] = u32.slice(at, at + pages * stride);
        continue;
      }
      for (let p = 0; p < pages; p++) {
        const k = p * stride;
        const x = u32[at + k], y = seen[k];
        if (x === y) continue;
        seen[k] = x;
        if (((x >>> sh) & 0xffff) !== ((y >>> sh) & 0xffff)) { flags[p] |= WORK.SHADE; shaded++; }
        if (((x >>> as) & 0xffff) !== ((y >>> as) & 0xffff)) { flags[p] |= WORK.ASSIST; assisted++; }
      }
    }
    return { arenas: this.workFlags.slice(0, n), shaded, assisted };
  }

  /** Decodes page i of a copied arena. */
  page(arena, i, sweepgen = this.sweepgen()) {
    const { L } = this;
    const b = arena.bytes;
    const at = i * L.pageRecordSize;
    const state = b[at + L.pageState];
    const kind = state === L.pageSpanStart ? 'start' : state === L.pageSpanRest ? 'rest' : 'free';
    if (kind !== 'start') return { kind };
    const spanclass = b[at + L.pageSpanclass];
    const sizeclass = spanclass >> 1;
    const lag = (sweepgen - b[at + L.pageSweepgen]) & 0xff;
    const npages = u16(b, at + L.pageNpages);
    return {
      kind,
      spanclass,
      sizeclass,
      noscan: (spanclass & 1) === 1,
      elemsize: sizeclass === 0 ? npages * this.pageSize : this.sizes[sizeclass],
      nelems: u16(b, at + L.pageNelems),
      inuse: u16(b, at + L.pageInuse),
      marked: u16(b, at + L.pageMarked),
      npages,
      sweep: lag === 1 ? 'sweeping' : lag === 2 ? 'unswept' : 'swept',
      cached: (b[at + L.pageFlags] & L.pageCached) !== 0,
    };
  }

  /**
   * The objects of the span that starts at addr: { base, elemsize, nelems,
   * colors, types, typesMore, typeOf } with one byte per slot (0 free, 1
   * white, 2 grey: marked, not yet scanned, 3 black), read straight from the
   * span's bits; types: the names of the gort_types its objects were
   * allocated with since the span was made (null: untyped bytes), the first
   * few of them, typesMore: there were others; typeOf: per slot, the index
   * in types of the type its object was allocated with, -1 for one of the
   * others (null when the span does not say: it held one type only, or had
   * no memory for the codes). The bits change while it reads (allocation,
   * marking): the picture is of a moment around the call, never of freed
   * memory; null when no span starts there.
   */
  span(addr) {
    const { realm, L } = this;
    realm.refresh();
    const { u32, u8 } = realm;
    const heapBase = u32[L.heapBase >>> 2];
    const slot = ((addr - heapBase) / 2 ** L.arenaShift) | 0;
    const ha = Atomics.load(u32, (L.heapArenas + 4 * slot) >>> 2);
    if (ha === 0) return null;
    const arenaBase = heapBase + slot * 2 ** L.arenaShift;
    const page = ((addr - arenaBase) / 2 ** L.pageShift) | 0;
    const s = Atomics.load(u32, (ha + L.haSpans + 4 * page) >>> 2);
    if (s === 0 || u32[(s + L.spanStart) >>> 2] !== addr || u8[s + L.spanState] !== L.spanInUse) return null;
    const nelems = u16(u8, s + L.spanNelems);
    const elemsize = u32[(s + L.spanElemsize) >>> 2];
    const freeindex = u16(u8, s + L.spanFreeindex);
    const noscan = (u8[s + L.spanClass] & 1) === 1;
    const alloc = u32[(s + L.spanAllocBits) >>> 2];
    const mark = u32[(s + L.spanMarkBits) >>> 2];
    const scan = s + L.spanScanBits;
    const ntypes = Math.min(u8[s + L.spanNtypes], L.spanTypesMax);
    const types = [];
    for (let k = 0; k < ntypes; k++) types.push(this.typeName(u32[(s + L.spanTypes + 4 * k) >>> 2]));
    const typesMore = u8[s + L.spanTypesMore] !== 0;
    const bit = (p, i) => (u8[p + (i >> 3)] >> (i & 7)) & 1;
    const colors = new Uint8Array(nelems);
    for (let i = 0; i < nelems; i++) {
      if (i >= freeindex && !bit(alloc, i)) colors[i] = COLORS.FREE;
      else if (!bit(mark, i)) colors[i] = COLORS.WHITE;
      else colors[i] = noscan || bit(scan, i) ? COLORS.BLACK : COLORS.GREY;
    }
    const codes = ntypes > 1 ? u32[(s + L.spanTypecodes) >>> 2] : 0;
    let typeOf = null;
    if (codes !== 0) {
      const bits = L.spanTypeCodeBits, perByte = 8 / bits, mask = (1 << bits) - 1;
      typeOf = new Int8Array(nelems);
      for (let i = 0; i < nelems; i++) {
        const code = (u8[codes + ((i / perByte) | 0)] >> (bits * (i % perByte))) & mask;
        typeOf[i] = code < ntypes ? code : -1; // C's SPAN_TYPE_OTHER: not among the first few
      }
    }
    return { base: addr, elemsize, nelems, colors, types, typesMore, typeOf };
  }

  /** A gort_type's name (null for untyped bytes), read from its descriptor once. */
  typeName(t) {
    if (t === 0) return null;
    this.typeNames ??= new Map();
    let name = this.typeNames.get(t);
    if (name === undefined) {
      const { u8, u32 } = this.realm;
      const at = u32[(t + this.L.typeName) >>> 2];
      let end = at;
      while (at !== 0 && u8[end] !== 0 && end - at < TYPE_NAME_MAX) end++;
      name = at === 0 ? '' : new TextDecoder().decode(u8.slice(at, end));
      this.typeNames.set(t, name);
    }
    return name;
  }
}

/**
 * The memory-only realm a reader of another thread reads through: views of
 * the shared memory, rebuilt when a thread of the runtime grew it (as
 * Realm.refresh() does), and the layout the handle carries.
 */
class MemoryRealm {
  constructor(memory, layout) {
    this.memory = memory;
    this.observeLayout = layout;
    this.buffer = null;
    this.refresh();
  }

  refresh() {
    const buffer = this.memory.buffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.u8 = new Uint8Array(buffer);
    this.u32 = new Uint32Array(buffer);
  }
}

/**
 * A HeapMapReader from a reader's handle (reader.handle, posted from the
 * thread that has the runtime): a worker reads and draws the heap map
 * without loading the module or joining the runtime, as the main thread's
 * reader does, never calling into it.
 */
export function openHeapMap(handle) {
  if (!handle || typeof handle != 'object' || handle.gort !== 'heapMap') {
    throw new TypeError('gort: openHeapMap() takes a heap map reader\'s handle (reader.handle)');
  }
  if (!(handle.memory instanceof WebAssembly.Memory)) throw new TypeError('gort: the handle\'s memory is not a WebAssembly.Memory');
  const { layout } = handle;
  if (!layout || typeof layout != 'object' || !Object.values(layout).every(Number.isInteger) || !Number.isInteger(layout.heapmapHeader)) {
    throw new TypeError('gort: the handle\'s layout is not the one a reader published');
  }
  return new HeapMapReader(new MemoryRealm(handle.memory, { ...layout }));
}

export { COLORS, WORK };

/** A reader's layout, for tests: the names and values C published. */
export function observeLayout(realm) { return { ...layoutOf(realm) }; }
