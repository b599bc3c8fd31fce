// app.js — the playground page: starts a gort runtime, runs the chosen
// workload, applies the collector's knobs live, and draws what the runtime
// publishes (heap map, cycle, time strip, MMU, its worst windows and pauses,
// size classes)
// once per animation frame; the heap map is drawn in a worker of its own
// where the browser can (mapview.js). The page's state lives in its URL
// (workload, parameters, knobs, map mode, the worst windows' length, running
// or not, and ?draw=main: the map drawn on this thread), so a view can be
// shared.
//
// window.playground exposes the figures the page shows, for the browser
// test (tests/playground.test.mjs) and for anyone curious in the console.

import { WORKLOADS, DEFAULT_WORKLOAD, runWorkload } from './workloads.js';
import { legend } from './heapmap.js';
import { openMapView } from './mapview.js';
import { drawStrip, drawMMU, drawPauses, percentile, histMax, fmtSeconds, mb, fmtCount, LANE_COLOURS } from './charts.js';

const $ = (id) => document.getElementById(id);
const PHASES = ['sweep termination', 'mark', 'mark termination', 'sweep'];
const STRIP_WINDOW_S = 30;
const METRICS_EVERY_MS = 250;
const TABLES_EVERY_MS = 500;
const STRIP_EVERY_MS = 100;
// The MMU walks every step of the last 10 s per window size: tens of ms
// under a busy collector, so it is computed less often, at fewer sizes.
const MMU_EVERY_MS = 2000;
const MMU_CURVE_POINTS = 16;
// The MMU table's windows (ms); the worst windows' length joins them.
const MMU_TABLE_MS = [1, 10, 100, 1000];
// The lengths the worst windows may be asked for, and how many are shown.
const WORST_CHOICES_MS = [1, 2, 5, 10, 20, 50, 100, 1000];
const DEFAULT_WORST_MS = 10;
const WORST_SHOWN = 5;
const HISTORY_MS = 10_000;
const AB_PHASE_MS = 5000;
const METRICS = {
  objects: '/memory/classes/heap/objects:bytes',
  marked: '/gc/heap/live:bytes',
  goal: '/gc/heap/goal:bytes',
  limit: '/gc/gomemlimit:bytes',
  gogc: '/gc/gogc:percent',
  cycles: '/gc/cycles/total:gc-cycles',
  gcCpu: '/cpu/classes/gc/total:cpu-seconds',
  cpu: '/cpu/classes/total:cpu-seconds',
  allocs: '/gc/heap/allocs:objects',
  pausesTotal: '/sched/pauses/total/gc:seconds',
  pausesStopping: '/sched/pauses/stopping/gc:seconds',
  procs: '/sched/gomaxprocs:threads',
  goroutines: '/sched/goroutines:goroutines',
};
const NO_LIMIT = 2 ** 62;
// The processors the page's runtime starts with: the most GOMAXPROCS can be
// set to (a runtime makes its threads at start). It runs with as many as the
// machine has cores, at most these, unless the URL says otherwise.
const MAX_PROCS = 4;
const defaultProcs = () => Math.max(1, Math.min(MAX_PROCS, navigator.hardwareConcurrency || 2));

const view = {
  rt: null, events: null, map: null, workload: null, running: null,
  reportCount: 0, lastReport: null,
  samples: [], lanes: [], pauses: [], laneState: [], stw: [],
  phase: 'off', phaseSince: 0, phaseLog: [], cycleTimes: new Map(), trigger: null,
  offsetNs: Infinity, lastEventNs: 0,
  metrics: null, prevMetrics: null,
  frame: { ms: 0, events: 0, map: 0, panels: 0, bytes: 0, count: 0, interval: 0, lastAt: 0 }, paused: false,
  // The map's own frames (the worker's where it draws there) and, when it
  // draws on this thread without the URL asking, why.
  mapFrame: { ms: 0, bytes: 0, count: 0, interval: 0, lastAt: 0 }, mapWhy: null, drawAsked: 'worker',
  lastMetricsAt: 0, lastTablesAt: 0, lastStripAt: 0, lastMMUAt: 0,
  // The worst windows' length (ms) and the last found: { windowMs, windows: [{ from, to (s), utilization, ... }] }.
  worstMs: DEFAULT_WORST_MS, worst: null,
};

const playground = {
  ready: false, error: null,
  get phase() { return view.phase; },
  phaseLog: view.phaseLog,
  get metrics() { return view.metrics; },
  /** Reports received since the page loaded. */
  get reports() { return view.reportCount; },
  get lastReport() { return view.lastReport; },
  shown: {},
  mapStats: null,
  frames: 0,
  get workload() { return view.running ? view.running.name : null; },
  /** The runtime itself (rt), for the console and the test. */
  get runtime() { return view.rt; },
  /** The pauses of the time strip (ns each, from the event rings), and their lanes' labels. */
  get pauses() { return view.pauses.map((p) => p.ns); },
  get laneLabels() { return view.lanes.map((l) => l.label); },
  /** The map's flashes: pages seen flashing since load, cells drawn flashing in the last frame. */
  get flashStats() { return view.map?.flashStats ?? null; },
  /** Where the heap map is drawn: 'worker' (OffscreenCanvas) or 'main' (Canvas2D on this thread). */
  get mapDrawing() { return view.map?.drawing ?? null; },
  /** Frames of the heap map drawn (by its worker, or in this thread's frames). */
  get mapFrames() { return view.mapFrame.count; },
  /** Every click and zoom of the map has been answered (at once on the main thread; a worker answers by message). */
  get mapSettled() { return view.map?.settled ?? false; },
  /** The map as the PNG export makes it. */
  mapPNG() { return view.map.toBlob(); },
  /** Frames that drew barrier (shade) and assist flashes, by the collector's phase then. */
  flashFrames: {},
  /** Whether a P lane shows user code since t (s, the runtime's clock). */
  laneRanSince(lane, t) { return view.lanes[lane]?.segments.some((s) => s.state === 'running' && (s.to === null || s.to > t)) ?? false; },
  /** The runtime's clock now (s). */
  get nowS() { return runtimeNowNs() / 1e9; },
};
window.playground = playground;

// ---- state in the URL ----

function readURL() {
  const q = new URLSearchParams(location.search);
  const w = Object.hasOwn(WORKLOADS, q.get('w')) ? q.get('w') : DEFAULT_WORKLOAD;
  const params = {};
  for (const p of WORKLOADS[w].params) {
    const v = Number(q.get(p.name));
    params[p.name] = q.has(p.name) && Number.isFinite(v) ? Math.min(p.max, Math.max(p.min, v)) : p.value;
  }
  const gogcText = q.get('gogc');
  const gogc = gogcText === 'off' ? 'off' : Number.isInteger(Number(gogcText)) && gogcText !== null && Number(gogcText) >= 0 ? Number(gogcText) : 100;
  const limit = Number(q.get('limit'));
  const throttle = Number(q.get('throttle'));
  const mode = ['fill', 'class', 'collector'].includes(q.get('mode')) ? q.get('mode') : 'fill';
  const procs = Number(q.get('procs'));
  const seed = Number(q.get('seed'));
  const worst = Number(q.get('worst'));
  return {
    w, params, gogc, limit: q.has('limit') && limit > 0 ? limit : null,
    throttle: Number.isFinite(throttle) ? Math.min(900, Math.max(0, throttle)) : 0,
    procs: q.has('procs') && Number.isInteger(procs) ? Math.min(MAX_PROCS, Math.max(1, procs)) : defaultProcs(),
    checkmark: q.get('checkmark') === '1', stw: q.get('stw') === '1',
    seed: q.has('seed') && Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED ? seed : 0,
    mode, flashes: q.get('flash') !== '0', run: q.get('run') === '1',
    worst: WORST_CHOICES_MS.includes(worst) ? worst : DEFAULT_WORST_MS,
    draw: q.get('draw') === 'main' ? 'main' : 'worker',
  };
}

function stateOfControls() {
  const w = $('workload').value;
  const params = {};
  for (const p of WORKLOADS[w].params) params[p.name] = Number($(`param-${p.name}`).value);
  const limit = Number($('limit').value);
  return {
    w, params,
    gogc: $('gogc-off').checked ? 'off' : Number($('gogc').value),
    limit: $('limit').value !== '' && limit > 0 ? limit : null,
    throttle: Number($('throttle').value),
    procs: Number($('procs').value),
    checkmark: $('checkmark').checked, stw: $('stw').checked,
    seed: Number($('seed').value),
    mode: document.querySelector('input[name=mode]:checked').value,
    flashes: $('flashes').checked,
    run: view.running !== null,
    worst: Number($('worst-window').value),
  };
}

function writeURL() {
  const s = stateOfControls();
  const q = new URLSearchParams();
  q.set('w', s.w);
  for (const [k, v] of Object.entries(s.params)) q.set(k, String(v));
  q.set('seed', String(s.seed));
  q.set('gogc', String(s.gogc));
  if (s.limit !== null) q.set('limit', String(s.limit));
  if (s.throttle) q.set('throttle', String(s.throttle));
  q.set('procs', String(s.procs));
  if (s.checkmark) q.set('checkmark', '1');
  if (s.stw) q.set('stw', '1');
  q.set('mode', s.mode);
  if (!s.flashes) q.set('flash', '0');
  if (s.run) q.set('run', '1');
  if (s.worst !== DEFAULT_WORST_MS) q.set('worst', String(s.worst));
  if (view.drawAsked === 'main') q.set('draw', 'main');
  history.replaceState(null, '', `${location.pathname}?${q}`);
}

function showParams(w, values) {
  const box = $('params');
  box.textContent = '';
  for (const p of WORKLOADS[w].params) {
    const label = document.createElement('label');
    label.textContent = `${p.name} `;
    const input = document.createElement('input');
    Object.assign(input, { type: 'number', id: `param-${p.name}`, min: p.min, max: p.max, value: values?.[p.name] ?? p.value });
    input.addEventListener('change', writeURL);
    label.append(input);
    box.append(label);
  }
  $('workload').title = WORKLOADS[w].about;
}

function applyToControls(s) {
  $('workload').value = s.w;
  showParams(s.w, s.params);
  $('gogc-off').checked = s.gogc === 'off';
  $('gogc').value = s.gogc === 'off' ? 100 : s.gogc;
  $('gogc').disabled = s.gogc === 'off';
  $('limit').value = s.limit ?? '';
  $('throttle').value = s.throttle;
  $('throttle-out').textContent = `${s.throttle}‰`;
  $('procs').value = s.procs;
  $('seed').value = s.seed;
  $('checkmark').checked = s.checkmark;
  $('stw').checked = s.stw;
  document.querySelector(`input[name=mode][value=${s.mode}]`).checked = true;
  $('flashes').checked = s.flashes;
  $('worst-window').value = String(s.worst);
  view.worstMs = s.worst;
  showWorstKey();
}

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

// ---- knobs ----

function applyGOGC() {
  const s = stateOfControls();
  $('gogc').disabled = s.gogc === 'off';
  if (s.gogc !== 'off' && !(Number.isInteger(s.gogc) && s.gogc >= 0)) return status('GOGC must be a whole number from 0, or off', true);
  const old = view.rt.setGCPercent(s.gogc);
  status(`GOGC ${old} → ${s.gogc}`);
  writeURL();
}

function applyLimit() {
  const s = stateOfControls();
  const old = view.rt.setMemoryLimit(s.limit === null ? Infinity : s.limit * 1048576);
  status(`memory limit ${old === Infinity ? 'none' : `${mb(old)} MB`} → ${s.limit === null ? 'none' : `${s.limit} MB`}`);
  writeURL();
}

// One GOMAXPROCS change at a time (each stops the world); the last asked for wins.
let procsChanging = null;
async function applyProcs() {
  const s = stateOfControls();
  if (!Number.isInteger(s.procs) || s.procs < 1 || s.procs > view.rt.procs) {
    return status(`GOMAXPROCS must be a whole number from 1 to ${view.rt.procs} (the processors this runtime started with)`, true);
  }
  writeURL();
  while (procsChanging) await procsChanging;
  procsChanging = view.rt.setGOMAXPROCS(s.procs);
  try {
    const old = await procsChanging;
    status(`GOMAXPROCS ${old} → ${s.procs}`);
  } finally {
    procsChanging = null;
  }
}

function applyDebug() {
  const s = stateOfControls();
  const oldCheckmark = view.rt.setGCCheckmark(s.checkmark);
  const oldStw = view.rt.setGCStopTheWorld(s.stw);
  const word = (on) => (on ? 'on' : 'off');
  status(`from the next cycle: gccheckmark ${word(oldCheckmark)} → ${word(s.checkmark)}, ` +
    `stop-the-world collector ${word(oldStw)} → ${word(s.stw)}`);
  writeURL();
}

// The workloads started from now on draw their random choices from the seed
// (0: the streams they always drew); the module's set_seed goroutine.
const MAX_SEED = 2 ** 31 - 1;
let seedAvailable = true;
async function applySeed(seed) {
  if (!seedAvailable) return;
  try {
    await view.rt.go('set_seed', seed);
  } catch (err) {
    if (err.code !== 'EINVAL') throw err;
    seedAvailable = false;
    $('seed').disabled = true;
    $('seed').parentElement.title = 'this build of the package has no set_seed goroutine';
  }
}

let throttleAvailable = true;
async function applyThrottle() {
  const s = stateOfControls();
  $('throttle-out').textContent = `${s.throttle}‰`;
  writeURL();
  if (!throttleAvailable) return;
  try {
    await view.rt.go('set_throttle', s.throttle);
  } catch (err) {
    if (err.code !== 'EINVAL') throw err;
    throttleAvailable = false;
    $('throttle').disabled = true;
    $('throttle').parentElement.title = 'this build of the package has no set_throttle goroutine';
    status('the mutator throttle is not in this build of the package (no set_throttle goroutine)', true);
  }
}

// ---- workloads ----

async function startWorkload() {
  const s = stateOfControls();
  for (const p of WORKLOADS[s.w].params) {
    const v = s.params[p.name];
    if (!Number.isFinite(v) || v < p.min || v > p.max) return status(`${p.name} must be from ${p.min} to ${p.max}`, true);
  }
  if (!(Number.isInteger(s.seed) && s.seed >= 0 && s.seed <= MAX_SEED)) return status(`the seed must be a whole number from 0 to ${MAX_SEED}`, true);
  await applySeed(s.seed);
  let handle;
  try {
    handle = runWorkload(view.rt, s.w, s.params, (r) => {
      view.reportCount++;
      view.lastReport = r;
    });
  } catch (err) {
    return status(err.code === 'EINVAL' ? `this build of the package has no '${s.w}' workload yet` : String(err), true);
  }
  view.running = { name: s.w, params: s.params, handle, since: performance.now() };
  view.lastReport = null;
  status(`running ${s.w}(${Object.entries(s.params).map(([k, v]) => `${k}=${v}`).join(', ')}), seed ${s.seed}`);
  setButtons();
  writeURL();
}

async function stopWorkload() {
  const r = view.running;
  if (!r) return;
  $('stop').disabled = true; $('restart').disabled = true;
  status(`stopping ${r.name}…`);
  await r.handle.stop();
  view.running = null;
  status(`${r.name} stopped after ${((performance.now() - r.since) / 1000).toFixed(1)} s` +
    (view.lastReport ? `: ${fmtCount(view.lastReport.ops)} ops, checksum errors ${view.lastReport.checksumErrors}` : ''));
  setButtons();
  writeURL();
}

function setButtons() {
  const on = view.running !== null;
  $('start').disabled = on || !view.rt;
  $('stop').disabled = !on;
  $('restart').disabled = !on;
  $('workload').disabled = on;
}

// ---- events: phases, lanes, pauses ----

function laneOf(lane) { return lane === 'collector' ? view.lanes.length - 1 : lane; }

function openSegment(i, state, t) {
  const lane = view.lanes[i];
  const last = lane.segments[lane.segments.length - 1];
  if (last && last.to === null) last.to = t;
  lane.segments.push({ from: t, to: null, state });
}

function ensureLanes(nprocs) {
  if (view.lanes.length === nprocs + 1) return;
  view.lanes = [];
  for (let p = 0; p < nprocs; p++) view.lanes.push({ label: `P${p}`, segments: [] });
  view.lanes.push({ label: 'GC worker', segments: [] });
  view.laneState = new Array(nprocs + 1).fill('idle');
}

function takeEvents() {
  const { events, lost } = view.events.drain();
  const nowNs = performance.now() * 1e6;
  if (events.length) {
    view.lastEventNs = events[events.length - 1].time;
    view.offsetNs = Math.min(view.offsetNs, nowNs - view.lastEventNs);
  }
  ensureLanes(view.events.nprocs);
  const sec = (ns) => ns / 1e9;
  for (const e of events) {
    const t = sec(e.time);
    if (e.kind === 'gcPhase') {
      const { phase, cycle } = e.arg;
      const prev = view.phase;
      if (prev !== 'off') {
        const c = view.cycleTimes.get(view.phaseCycle) ?? {};
        c[prev] = (c[prev] ?? 0) + (e.time - view.phaseSince);
        view.cycleTimes.set(view.phaseCycle, c);
      }
      if (phase === 'sweep termination') view.cycleTimes.set(cycle, {});
      view.phase = phase; view.phaseSince = e.time; view.phaseCycle = cycle;
      view.phaseLog.push({ phase, cycle, t: e.time });
      if (view.phaseLog.length > 400) view.phaseLog.splice(0, 100);
      if (view.cycleTimes.size > 8) view.cycleTimes.delete(view.cycleTimes.keys().next().value);
    } else if (e.kind === 'state') {
      const i = laneOf(e.lane);
      if (i >= view.lanes.length) continue;
      view.laneState[i] = e.arg;
      openSegment(i, e.arg, t);
    } else if (e.kind === 'stwBegin') {
      // Pauses are drawn over every P's lane (stw); a begin whose end never
      // came (lost, or ordered before it) is dropped by the next begin.
      const open = view.stw[view.stw.length - 1];
      if (open && open.to === null) view.stw.pop();
      view.stw.push({ from: t, stoppedAt: null, to: null });
    } else if (e.kind === 'stwStopped') {
      const open = view.stw[view.stw.length - 1];
      if (open && open.to === null) open.stoppedAt = t;
    } else if (e.kind === 'stwEnd') {
      const open = view.stw[view.stw.length - 1];
      if (open && open.to === null) open.to = t;
      view.pauses.push({ t, ns: e.arg });
    } else if (e.kind === 'cycleTrigger') {
      view.trigger = e.arg;
    }
  }
  // Forget what left the strip.
  const horizon = sec(view.lastEventNs) - STRIP_WINDOW_S - 1;
  for (const lane of view.lanes) {
    let cut = 0;
    while (cut < lane.segments.length - 1 && lane.segments[cut].to !== null && lane.segments[cut].to < horizon) cut++;
    if (cut) lane.segments.splice(0, cut);
  }
  while (view.pauses.length && view.pauses[0].t < horizon) view.pauses.shift();
  while (view.stw.length && view.stw[0].to !== null && view.stw[0].to < horizon) view.stw.shift();
  return events.length * 24 + (lost ? 0 : 0);
}

/** The runtime's clock now (ns), from the offset between it and this page's. */
const runtimeNowNs = () => (Number.isFinite(view.offsetNs) ? performance.now() * 1e6 - view.offsetNs : view.lastEventNs);

// ---- metrics, sampled ----

function sampleMetrics(nowMs) {
  const m = view.rt.metrics(Object.values(METRICS));
  const get = (k) => m[METRICS[k]];
  const prev = view.prevMetrics;
  const s = {
    t: runtimeNowNs() / 1e9,
    live: get('objects'), goal: get('goal'), limit: get('limit') >= NO_LIMIT ? Infinity : get('limit'),
    gcShare: 0, allocRate: 0,
  };
  if (prev) {
    const dCpu = get('cpu') - prev.m[METRICS.cpu];
    s.gcShare = dCpu > 0 ? Math.min(100, (100 * (get('gcCpu') - prev.m[METRICS.gcCpu])) / dCpu) : 0;
    s.allocRate = ((get('allocs') - prev.m[METRICS.allocs]) * 1000) / Math.max(1, nowMs - prev.at);
  }
  view.prevMetrics = { m, at: nowMs };
  view.metrics = m;
  // Lanes of processors parked out of GOMAXPROCS stay "stopped" while parked.
  const running = m[METRICS.procs];
  view.lanes.forEach((lane, p) => { if (p < view.lanes.length - 1) lane.label = p < running ? `P${p}` : `P${p} parked`; });
  view.samples.push(s);
  while (view.samples.length && view.samples[0].t < s.t - STRIP_WINDOW_S - 1) view.samples.shift();
}

// ---- panels ----

function drawClock() {
  const svg = $('clock');
  const arcs = [];
  const r = 50;
  // Quarter per phase, clockwise from the top; the stop-the-world phases drawn dark.
  PHASES.forEach((p, i) => {
    const a0 = (i / 4) * 2 * Math.PI - Math.PI / 2, a1 = ((i + 1) / 4) * 2 * Math.PI - Math.PI / 2;
    const active = view.phase === p || (p === 'sweep' && view.phase === 'off');
    const stw = p.endsWith('termination');
    const fill = active ? (stw ? '#d55e00' : '#56b4e9') : stw ? '#3a2a22' : '#24313d';
    arcs.push(`<path d="M0 0 L${r * Math.cos(a0)} ${r * Math.sin(a0)} A${r} ${r} 0 0 1 ${r * Math.cos(a1)} ${r * Math.sin(a1)} Z" fill="${fill}" stroke="#15181d" stroke-width="2"/>`);
    const am = (a0 + a1) / 2;
    const short = ['STW 1', 'mark', 'STW 2', 'sweep'][i];
    arcs.push(`<text x="${32 * Math.cos(am)}" y="${32 * Math.sin(am) + 4}" text-anchor="middle" font-size="10" fill="${active ? '#000' : '#ccc'}">${short}</text>`);
  });
  // The hand: how far into the current phase, by the last cycle's length of it.
  const i = view.phase === 'off' ? 3 : PHASES.indexOf(view.phase);
  const last = lastCycle();
  const expected = last?.[PHASES[i]] ?? 1e6;
  const into = Math.min(0.95, (runtimeNowNs() - view.phaseSince) / Math.max(1, expected));
  const a = ((i + (view.phase === 'off' ? 0.97 : into)) / 4) * 2 * Math.PI - Math.PI / 2;
  arcs.push(`<line x1="0" y1="0" x2="${56 * Math.cos(a)}" y2="${56 * Math.sin(a)}" stroke="#f0e442" stroke-width="3"/>`);
  svg.innerHTML = arcs.join('');
  $('phase').textContent = `phase: ${view.phase === 'off' ? 'off (between cycles)' : view.phase}`;
}

function lastCycle() {
  const keys = [...view.cycleTimes.keys()];
  for (let k = keys.length - 1; k >= 0; k--) {
    if (keys[k] !== view.phaseCycle || view.phase === 'off') {
      const c = view.cycleTimes.get(keys[k]);
      if (c && c.mark !== undefined) return c;
    }
  }
  return null;
}

function fmtNs(ns) { return ns === undefined ? '–' : fmtSeconds(ns / 1e9); }

function drawCycleTables() {
  const m = view.metrics;
  if (!m) return;
  const cur = view.phase === 'off' ? null : view.cycleTimes.get(view.phaseCycle) ?? {};
  const last = lastCycle();
  const rows = PHASES.map((p) => {
    let now = cur?.[p];
    if (cur && p === view.phase) now = (now ?? 0) + (runtimeNowNs() - view.phaseSince);
    return `<tr><td>${p}</td><td>${fmtNs(now)}</td><td>${fmtNs(last?.[p])}</td></tr>`;
  });
  $('phase-table').tBodies[0].innerHTML = rows.join('');
  $('cycles').textContent = `cycles: ${m[METRICS.cycles]} · GOGC ${m[METRICS.gogc] || 'off'} · ${m[METRICS.procs]} P · ${m[METRICS.goroutines]} goroutines`;
  const limit = m[METRICS.limit] >= NO_LIMIT ? 'none' : `${mb(m[METRICS.limit])} MB`;
  const goal = m[METRICS.goal] >= NO_LIMIT ? 'none (GOGC off)' : `${mb(m[METRICS.goal])} MB`;
  const figures = [
    ['heap live now', `${mb(m[METRICS.objects])} MB`],
    ['marked live (last cycle)', `${mb(m[METRICS.marked])} MB`],
    ['trigger', view.trigger === null || view.trigger >= NO_LIMIT ? '–' : `${mb(view.trigger)} MB`],
    ['goal', goal],
    ['memory limit', limit],
  ];
  $('heap-figures').tBodies[0].innerHTML = figures.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('');
  playground.shown.goal = m[METRICS.goal];
  playground.shown.cycles = m[METRICS.cycles];
  const lines = view.events.gctrace();
  if (lines.length) $('gctrace').textContent = lines.slice(-4).join('\n');
  playground.shown.gctrace = lines.slice(-1)[0] ?? null;
}

const fmtShare = (u) => (u === null || u === undefined ? '–' : `${(u * 100).toFixed(0)}%`);

/**
 * The MMU curve and table, and the worst windows of the chosen length: all
 * from one history, so the first worst window's figure is the table's.
 */
function drawMMUFigures() {
  const curve = view.events.mmuCurve(MMU_CURVE_POINTS);
  drawMMU($('mmu'), curve);
  const windows = [...new Set([...MMU_TABLE_MS, view.worstMs])].sort((a, b) => a - b);
  const mmu = view.events.mmu(windows);
  const chosen = (w) => (w === view.worstMs ? ' class="selected"' : '');
  $('mmu-table').innerHTML = `<tr><th>window</th>${windows.map((w) => `<th data-window="${w}"${chosen(w)} title="show the worst windows of ${w} ms">${w} ms</th>`).join('')}</tr>` +
    `<tr><td>MMU</td>${windows.map((w) => `<td${chosen(w)}>${fmtShare(mmu[w])}</td>`).join('')}</tr>`;
  playground.shown.mmu = mmu;
  let found;
  timed('worst', () => { found = view.events.worstWindows(view.worstMs, WORST_SHOWN) ?? []; });
  view.worst = {
    windowMs: view.worstMs,
    windows: found.map((x) => ({ from: x.start / 1e9, to: x.end / 1e9, utilization: x.utilization, phases: x.phases, cycles: x.cycles, pauses: x.pauses, pausedNs: x.pausedNs })),
  };
  drawWorstTable();
}

/** The worst windows' table; "when" on the strip's axis, so it is redrawn as time moves. */
function drawWorstTable() {
  const body = $('worst-table').tBodies[0];
  const worst = view.worst;
  if (!worst || worst.windows.length === 0) {
    body.innerHTML = `<tr><td colspan="4">no window of ${view.worstMs} ms in the events kept yet</td></tr>`;
    playground.shown.worst = worst && { windowMs: worst.windowMs, windows: [] };
    return;
  }
  const now = runtimeNowNs() / 1e9;
  const digits = worst.windowMs < 10 ? 3 : 2;
  // One cycle's phases in order; several cycles by their numbers (a long window holds many).
  const phases = (x) => {
    if (x.cycles.length > 1) return `gc ${x.cycles[0]}–${x.cycles[x.cycles.length - 1]}: ${x.cycles.length} cycles`;
    if (x.cycles.length === 1) return `gc ${x.cycles[0]}: ${x.phases.join(' → ')}`;
    return x.phases.length ? 'between cycles' : 'phase not seen yet';
  };
  const gcThen = (x) => phases(x) + (x.pauses ? ` · ${x.pauses} pause${x.pauses > 1 ? 's' : ''}, ${fmtSeconds(x.pausedNs / 1e9)}` : '');
  const rows = worst.windows.map((x, i) => ({ rank: i + 1, when: `−${(now - x.from).toFixed(digits)} s`, shown: fmtShare(x.utilization), gc: gcThen(x) }));
  body.innerHTML = rows.map((r) => `<tr><td>${r.rank}</td><td>${r.when}</td><td>${r.shown}</td><td>${r.gc}</td></tr>`).join('');
  playground.shown.worst = { windowMs: worst.windowMs, windows: worst.windows.map((x, i) => ({ ...x, shown: rows[i].shown, gc: rows[i].gc })) };
}

function showWorstKey() {
  const key = $('worst-key');
  if (key) key.textContent = `worst ${view.worstMs} ms windows (1: the lowest)`;
}

/** A new length for the worst windows: the MMU figures are made again at once. */
function chooseWorst(ms) {
  if (!WORST_CHOICES_MS.includes(ms)) return;
  view.worstMs = ms;
  $('worst-window').value = String(ms);
  showWorstKey();
  writeURL();
  if (view.events) { view.lastMMUAt = performance.now(); timed('mmu', drawMMUFigures); view.lastStripAt = -Infinity; }
}

function drawPauseFigures() {
  const m = view.metrics;
  if (!m) return;
  const total = m[METRICS.pausesTotal], stopping = m[METRICS.pausesStopping];
  drawPauses($('pauses'), [
    { label: 'stopping', colour: '#cc79a7', hist: stopping },
    { label: 'total (stopped)', colour: '#f0e442', hist: total },
  ]);
  const row = (name, h) => {
    const n = h.counts.reduce((a, b) => a + b, 0);
    return [name, n, percentile(h, 0.5), percentile(h, 0.9), percentile(h, 0.99), histMax(h)];
  };
  const rows = [row('stopping', stopping), row('total', total)];
  playground.shown.pauses = Object.fromEntries(rows.map((r) => [r[0], { count: r[1], p50: r[2], p90: r[3], p99: r[4], max: r[5] }]));
  $('pause-table').innerHTML = '<tr><th>pauses</th><th>n</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>' +
    rows.map((r) => `<tr><td>${r[0]}</td><td>${r[1]}</td>${r.slice(2).map((v) => `<td>${fmtSeconds(v)}</td>`).join('')}</tr>`).join('');
}

function drawClasses() {
  const rows = view.map.classTable();
  const body = $('class-table').tBodies[0];
  body.innerHTML = rows.map((r) => `<tr data-class="${r.sizeclass}" class="${view.map.highlightClass === r.sizeclass ? 'selected' : ''}">` +
    `<td>${r.sizeclass === 0 ? 'large' : r.sizeclass}</td><td>${r.elemsize === null ? '–' : `${r.elemsize} B`}</td>` +
    `<td>${r.spans} (${r.noscan})</td><td>${r.inuse} / ${r.nelems}</td>` +
    `<td>${r.nelems - r.inuse}</td><td>${(r.tail / 1024).toFixed(1)} KB</td></tr>`).join('');
  let spans = 0, pages = 0;
  for (const r of rows) { spans += r.spans; pages += r.pages; }
  playground.mapStats = { spans, pages, arenas: view.map.arenaCount, classes: rows.length };
}

function drawLegend() {
  const spanLevel = view.map.level.kind === 'span';
  $('legend').innerHTML = legend(spanLevel ? 'collector' : view.map.mode, view.map.flashes && !spanLevel).map(([label, colour]) => `<li><i style="background:${colour}"></i>${label}</li>`).join('');
}

function drawCrumbs() {
  const l = view.map.level;
  const parts = ['<a data-level="heap">heap</a>'];
  if (l.kind !== 'heap') parts.push(l.kind === 'arena' ? `arena ${l.arena}` : `<a data-level="arena">arena ${l.arena}</a>`);
  if (l.kind === 'span') parts.push(`span 0x${l.base.toString(16)}`);
  $('crumbs').innerHTML = parts.join(' › ') + (l.kind === 'heap' ? ' <small>(click an arena)</small>' : l.kind === 'arena' ? ' <small>(click a span)</small>' : ' <small>(click an object)</small>');
}

function showInfo(d) {
  const box = $('info');
  if (!d) { box.hidden = true; return; }
  box.hidden = false;
  box.innerHTML = `<b>${d.title}</b><table>${d.rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table>`;
}

function drawReport() {
  const r = view.lastReport;
  $('report').textContent = r ? JSON.stringify(r, null, 1) : view.running ? 'waiting for the first report…' : 'no workload running';
}

const DRAWING = { worker: 'worker (OffscreenCanvas)', main: 'main thread (Canvas2D)' };
const rate = (interval) => (interval ? `${(1000 / interval).toFixed(1)} /s` : '–');

function drawCost() {
  const f = view.frame, m = view.mapFrame;
  const inWorker = view.map.drawing === 'worker';
  const why = view.mapWhy ? `: ${view.mapWhy}` : inWorker ? '' : ' (draw=main in the URL)';
  $('cost').tBodies[0].innerHTML = [
    ['heap map drawn in', `${DRAWING[view.map.drawing]}${why}`],
    ['frame time (main thread\'s work, mean)', `${f.ms.toFixed(2)} ms`],
    ['… events / heap map / charts', `${f.events.toFixed(2)} / ${f.map.toFixed(2)} / ${f.panels.toFixed(2)} ms`],
    ['frame rate', rate(f.interval)],
    ...(inWorker ? [['heap map in its worker: work per frame, frame rate', `${m.ms.toFixed(2)} ms, ${rate(m.interval)}`]] : []),
    ['bytes read per frame (mean)', inWorker ? `${(f.bytes / 1024).toFixed(1)} KB here, ${(m.bytes / 1024).toFixed(1)} KB in the worker` : `${(f.bytes / 1024).toFixed(1)} KB`],
    ['frames drawn', String(playground.frames)],
  ].map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('');
}

// ---- the frame ----

/** Runs fn and keeps its last time (ms) in playground.shown.panelMs[name]. */
function timed(name, fn) {
  const t = performance.now();
  fn();
  (playground.shown.panelMs ??= {})[name] = performance.now() - t;
}

/**
 * Folds one frame's figures into running means (the mean of the first 30
 * frames, then over about the last 30), and the interval since the last.
 */
function fold(means, figures, at) {
  const k = means.count < 30 ? 1 / (means.count + 1) : 1 / 30;
  for (const [name, v] of Object.entries(figures)) means[name] += (v - means[name]) * k;
  if (means.lastAt) means.interval += (at - means.lastAt - means.interval) * k;
  means.lastAt = at;
  means.count++;
}

/** A frame of the heap map, drawn here or in its worker: its cost, and whether it drew flashes (by phase). */
function mapFrameDrawn({ ms, bytes, flash }) {
  fold(view.mapFrame, { ms, bytes }, performance.now());
  if (flash.drawnShade > 0 || flash.drawnAssist > 0) (playground.flashFrames[view.phase] ??= { shade: 0, assist: 0 });
  if (flash.drawnShade > 0) playground.flashFrames[view.phase].shade++;
  if (flash.drawnAssist > 0) playground.flashFrames[view.phase].assist++;
}

function frame() {
  requestAnimationFrame(frame);
  if (!view.rt || view.paused) return;
  const t0 = performance.now();
  let bytes = takeEvents();
  const t1 = performance.now();
  bytes += view.map.frame();
  const t2 = performance.now();
  // Drawn in a worker, the map still costs this thread its messages (handled between frames).
  const messageMs = view.map.takeMessageMs();
  if (t0 - view.lastMetricsAt >= METRICS_EVERY_MS) { view.lastMetricsAt = t0; timed('metrics', () => sampleMetrics(t0)); drawReport(); }
  if (t0 - view.lastTablesAt >= TABLES_EVERY_MS) {
    view.lastTablesAt = t0;
    timed('cycle', drawCycleTables);
    timed('pauses', drawPauseFigures);
    if (t0 - view.lastMMUAt >= MMU_EVERY_MS) {
      view.lastMMUAt = t0;
      timed('mmu', drawMMUFigures);
      // New worst windows may end after the strip's last right edge: the strip is drawn now, so that it holds its marks.
      view.lastStripAt = -Infinity;
    } else drawWorstTable();
    timed('classes', drawClasses);
    drawCost();
  }
  if (t0 - view.lastStripAt >= STRIP_EVERY_MS) {
    view.lastStripAt = t0;
    const now = runtimeNowNs() / 1e9;
    // A pause covers every P's lane: stopping until all stopped, then stopped.
    const stw = [];
    for (const p of view.stw) {
      const to = p.to ?? now;
      if (to < p.from) continue;
      const stopped = p.stoppedAt ?? to;
      stw.push({ from: p.from, to: stopped, state: 'stopping' });
      if (stopped < to) stw.push({ from: stopped, to, state: 'stopped' });
    }
    const marks = (view.worst?.windows ?? []).map((x, i) => ({ from: x.from, to: x.to, label: String(i + 1) }));
    timed('strip', () => drawStrip($('strip'), { now, window: STRIP_WINDOW_S, samples: view.samples, lanes: view.lanes, stw, pauses: view.pauses, marks }));
    playground.shown.strip = { from: now - STRIP_WINDOW_S, to: now, marks };
    drawClock();
  }
  const t3 = performance.now();
  fold(view.frame, { ms: t3 - t0 + messageMs, events: t1 - t0, map: t2 - t1 + messageMs, panels: t3 - t2, bytes }, t0);
  playground.frames++;
  playground.shown.frameMs = view.frame.ms;
  // What the map's worker read per frame joins what this thread read.
  playground.shown.frameKB = (view.frame.bytes + (view.map.drawing === 'worker' ? view.mapFrame.bytes : 0)) / 1024;
  playground.shown.fps = view.frame.interval ? 1000 / view.frame.interval : null;
  playground.shown.mapMs = view.mapFrame.ms;
  playground.shown.mapFps = view.mapFrame.interval ? 1000 / view.mapFrame.interval : null;
}

// ---- A/B and export ----

async function abRun() {
  if (!view.running) return ($('ab-result').textContent = 'start a workload first');
  $('ab').disabled = true;
  const opsAt = () => view.lastReport?.ops ?? 0;
  const measure = async () => {
    const a = opsAt(), t = performance.now();
    await new Promise((r) => setTimeout(r, AB_PHASE_MS));
    return ((opsAt() - a) * 1000) / (performance.now() - t);
  };
  $('ab-result').textContent = 'view off…';
  view.paused = true;
  view.map.set({ paused: true });
  const off = await measure();
  view.paused = false;
  view.map.set({ paused: false });
  $('ab-result').textContent = 'view on…';
  const on = await measure();
  playground.shown.ab = { off, on };
  $('ab-result').textContent = `workload ops/s with the view off ${fmtCount(off)}, on ${fmtCount(on)}` +
    (off > 0 ? ` (on/off ${(on / off).toFixed(2)})` : '') + ': one run of 5 s each, as noisy as the machine';
  $('ab').disabled = false;
}

function download(name, blob) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ---- start ----

async function main() {
  const select = $('workload');
  for (const name of Object.keys(WORKLOADS)) {
    const o = document.createElement('option');
    o.value = name; o.textContent = name; o.title = WORKLOADS[name].about;
    select.append(o);
  }
  for (const ms of WORST_CHOICES_MS) {
    const o = document.createElement('option');
    o.value = String(ms); o.textContent = `${ms} ms`;
    $('worst-window').append(o);
  }
  const initial = readURL();
  applyToControls(initial);
  if (!globalThis.crossOriginIsolated) {
    const banner = $('isolation');
    banner.hidden = false;
    banner.textContent = 'This page is not cross-origin isolated, so the browser gives it no SharedArrayBuffer and gort cannot run here. ' +
      'Serve it with the headers "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp" ' +
      '(npm start does; on a static host, set both headers for every file).';
    status('not cross-origin isolated: see above', true);
    playground.error = 'not cross-origin isolated';
    return;
  }
  const { start } = await import('gort');
  const rt = await start({ procs: MAX_PROCS });
  view.rt = rt;
  $('procs').max = String(rt.procs);
  if (typeof rt.setGCPercent !== 'function') throw new Error('this build of the package has no rt.setGCPercent: rebuild dist/ (src/js/build.sh)');
  view.events = rt.events({ historyMs: HISTORY_MS });
  view.drawAsked = initial.draw;
  const opened = await openMapView($('map'), rt.heapMap(), {
    where: initial.draw, settings: { mode: initial.mode, flashes: initial.flashes },
    onSelect: showInfo, onZoom: () => { drawCrumbs(); drawLegend(); }, onFrame: mapFrameDrawn,
  });
  view.map = opened.view;
  view.mapWhy = opened.why;
  drawLegend();
  drawCrumbs();
  $('lane-legend').innerHTML = Object.entries(LANE_COLOURS).map(([k, c]) => `<li><i style="background:${c}"></i>${k === 'running' ? 'user code' : k}</li>`).join('') +
    '<li><i class="worst-key"></i><span id="worst-key"></span></li>';
  showWorstKey();

  select.addEventListener('change', () => { showParams(select.value); writeURL(); });
  $('start').addEventListener('click', startWorkload);
  $('stop').addEventListener('click', stopWorkload);
  $('restart').addEventListener('click', async () => { await stopWorkload(); await startWorkload(); });
  $('gogc').addEventListener('change', applyGOGC);
  $('gogc-off').addEventListener('change', applyGOGC);
  $('limit').addEventListener('change', applyLimit);
  $('throttle').addEventListener('input', () => { $('throttle-out').textContent = `${$('throttle').value}‰`; });
  $('throttle').addEventListener('change', () => applyThrottle().catch((e) => status(String(e), true)));
  $('procs').addEventListener('change', () => applyProcs().catch((e) => status(String(e), true)));
  $('seed').addEventListener('change', writeURL);
  $('checkmark').addEventListener('change', applyDebug);
  $('stw').addEventListener('change', applyDebug);
  for (const r of document.querySelectorAll('input[name=mode]')) {
    r.addEventListener('change', () => { view.map.set({ mode: r.value }); drawLegend(); writeURL(); });
  }
  $('flashes').addEventListener('change', () => { view.map.set({ flashes: $('flashes').checked }); drawLegend(); writeURL(); });
  $('crumbs').addEventListener('click', (e) => {
    const to = e.target.dataset?.level;
    if (to === 'heap') view.map.zoom({ kind: 'heap' });
    else if (to === 'arena') view.map.zoom({ kind: 'arena', arena: view.map.level.arena });
  });
  $('class-table').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-class]');
    if (!tr) return;
    const c = Number(tr.dataset.class);
    view.map.set({ highlightClass: view.map.highlightClass === c ? null : c });
    drawClasses();
  });
  $('worst-window').addEventListener('change', () => chooseWorst(Number($('worst-window').value)));
  $('mmu-table').addEventListener('click', (e) => {
    const th = e.target.closest('th[data-window]');
    if (th) chooseWorst(Number(th.dataset.window));
  });
  $('ab').addEventListener('click', abRun);
  $('export-trace').addEventListener('click', () => download('gort-trace.json', new Blob([JSON.stringify(view.events.chromeTrace())], { type: 'application/json' })));
  $('export-gctrace').addEventListener('click', () => download('gort-gctrace.txt', new Blob([view.events.gctrace().join('\n') + '\n'], { type: 'text/plain' })));
  $('export-png').addEventListener('click', async () => download('gort-heap-map.png', await view.map.toBlob()));

  rt.setGCPercent(initial.gogc);
  rt.setMemoryLimit(initial.limit === null ? Infinity : initial.limit * 1048576);
  if (initial.throttle) await applyThrottle();
  rt.setGCCheckmark(initial.checkmark);
  rt.setGCStopTheWorld(initial.stw);
  await rt.setGOMAXPROCS(initial.procs);
  setButtons();
  status(`runtime running: GOMAXPROCS ${rt.gomaxprocs} of ${rt.procs} P. Choose a workload and start it.`);
  playground.ready = true;
  requestAnimationFrame(frame);
  if (initial.run) await startWorkload();
  writeURL();
}

main().catch((err) => {
  console.error(err);
  playground.error = String(err && err.message ? err.message : err);
  status(`the playground stopped: ${playground.error}`, true);
});
