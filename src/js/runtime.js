// runtime.js — start() and the Runtime: loading the module, starting gort's
// scheduler and collector on threads of their own, and the API's entry
// points. The platform entry files (index.node.js, index.browser.js) give the
// loader: how the module's glue and its .wasm are found.

import { FatalError, GortError, NotIsolatedError, RuntimeClosedError, fatalText } from './errors.js';
import { Channel, select, TickerChannel } from './channel.js';
import { codecOf, codecOfHandle, TIME_CODEC } from './codec.js';
import { Contexts, Context } from './context.js';
import { E, Realm, STATUS, cleanUpAfterWorker } from './realm.js';
import { go } from './goroutine.js';
import { gomaxprocs, setGCCheckmark, setGCPercent, setGCStopTheWorld, setGOMAXPROCS, setMemoryLimit } from './knobs.js';
import { EventReader, HeapMapReader, metricDescriptions, readMetrics } from './observe.js';

// Threads a runtime takes from the pool besides one per processor: the
// thread gort_main blocks in, the collector's, and one spare.
const EXTRA_THREADS = 3;
// enum js_handle_kind of bridge.h.
const HANDLE_KIND = Object.freeze({ CHAN: 1, CONTEXT: 2 });
// How long close() waits for the scheduler to stop before it ends the threads anyway.
const CLOSE_GRACE_MS = 2000;
// How often close() looks whether the stopped runtime's threads have left.
const CLOSE_POLL_MS = 2;
// The default procs: the CPUs less the one left to the thread that started
// the runtime, at least one, at most DEFAULT_MAX_PROCS. With a processor on
// every CPU, the OS shares the CPUs between busy processors and that thread
// (a page's main thread, Node's event loop), and its calls into the runtime
// wait whole OS time slices for a CPU: 3.5-5.3 ms against 0.14-0.43 ms
// with a CPU left to it (npm run bench, the stall rows).
const DEFAULT_MAX_PROCS = 4;
const CPUS_LEFT_TO_THE_CALLER = 1;
// gort_js_start's gogc for 'off' (Go's GOGC=off), and for keeping the default.
const GOGC_OFF = -1;
const GOGC_UNSET = -2;
// How often rt.trace() drains the rings: well before a busy P's ring (4096
// events) wraps.
const TRACE_DRAIN_MS = 20;

const NOT_ISOLATED_FIX =
  'gort needs SharedArrayBuffer, which a browser gives only to a cross-origin isolated page: ' +
  'serve the page with the headers "Cross-Origin-Opener-Policy: same-origin" and ' +
  '"Cross-Origin-Embedder-Policy: require-corp" (on the dev server and on the static host alike)';

/**
 * Whether gort can run here, and why not.
 * @returns {{ supported: boolean, reason?: string }}
 */
export function isSupported() {
  if (typeof WebAssembly != 'object') return { supported: false, reason: 'gort: this engine has no WebAssembly' };
  if (typeof SharedArrayBuffer == 'undefined' || (typeof crossOriginIsolated == 'boolean' && !crossOriginIsolated)) {
    return { supported: false, reason: NOT_ISOLATED_FIX };
  }
  if (typeof Atomics != 'object' || typeof Atomics.waitAsync != 'function') {
    return { supported: false, reason: 'gort: this engine has no Atomics.waitAsync (Chrome 87+, Safari 16.4+, Firefox 145+, Node 16+)' };
  }
  return { supported: true };
}

let nextRuntimeId = 1;

function defaultProcs(cpus) {
  return Math.max(1, Math.min(cpus - CPUS_LEFT_TO_THE_CALLER, DEFAULT_MAX_PROCS));
}

/**
 * A runtime as one realm sees it: what the main thread and attached workers
 * can all do.
 */
export class RuntimeView {
  /** @internal */
  constructor(id, realm) {
    this.id = id;
    this.realm = realm;
    this.context = new Contexts(this);
  }

  /**
   * Turns a handle (ch.handle, ctx.handle, posted from another realm) into a
   * live object of this realm. A channel with a user codec needs it again:
   * open(handle, { codec }).
   */
  open(handle, { codec } = {}) {
    this.realm.check();
    if (!handle || typeof handle != 'object' || typeof handle.gort != 'string') {
      throw new TypeError('gort: open() takes the handle of a channel or a context');
    }
    if (handle.runtime !== this.id) throw new GortError('gort: this handle belongs to another runtime', 'EINVAL');
    if (handle.gort !== 'context' && handle.gort !== 'chan') throw new TypeError(`gort: open() cannot open a '${handle.gort}' handle`);
    if (handle.codec === 'custom' && !codec) throw new TypeError('gort: this channel has a user codec: open(handle, { codec })');
    const chanCodec = handle.gort === 'chan' ? (codec ? codecOf(codec) : codecOfHandle(handle.codec)) : null;
    // A handle of this realm's own: the object opened here holds the channel
    // or context by itself, as a goroutine's reference would.
    const kind = handle.gort === 'context' ? HANDLE_KIND.CONTEXT : HANDLE_KIND.CHAN;
    const h = typeof handle.h == 'number' ? this.realm.module._gort_js_handle_dup(handle.h, kind) : 0;
    if (h === -1) throw new TypeError(`gort: this handle says it is a ${handle.gort === 'chan' ? 'channel' : 'context'}'s, and it is not`);
    if (h === 0) {
      throw new GortError('gort: this handle was disposed, or the object it was read from was dropped and collected (keep that object until the handle is opened)', 'EINVAL');
    }
    return handle.gort === 'context' ? new Context(this, h) : new Channel(this, h, chanCodec);
  }

  /** @internal */
  chanOf(codec, cap) {
    const realm = this.realm;
    realm.check();
    const h = realm.module._gort_js_chan_make(codec.kind, cap, realm.errOut);
    const err = realm.readErr();
    if (err === E.INVAL) throw new RangeError(`makechan: size out of range (cap ${cap})`);
    if (h === 0) throw new RangeError('gort: out of memory for a channel');
    return new Channel(this, h, codec);
  }

  /**
   * make(chan T, cap). codec: 'json' (the default), 'string', 'bytes', 'f64',
   * 'i32', 'bool', or { encode, decode }.
   */
  chan({ cap = 0, codec } = {}) {
    if (!Number.isInteger(cap) || cap < 0) throw new RangeError(`makechan: size out of range (cap ${cap})`);
    return this.chanOf(codecOf(codec), cap);
  }

  /** time.After(ms): a channel that receives the time (ms, the runtime's clock) once, after ms. */
  after(ms) {
    const realm = this.realm;
    realm.check();
    const h = realm.module._gort_js_after(Number(ms));
    if (h === 0) throw new RangeError('gort: out of memory for a timer');
    return new Channel(this, h, TIME_CODEC);
  }

  /**
   * time.NewTicker(ms): a channel that receives the time every ms (a slow
   * receiver misses ticks). stop() (or dispose, or dropping the channel)
   * stops it.
   */
  tick(ms) {
    const realm = this.realm;
    realm.check();
    const t = realm.module._gort_js_ticker(Number(ms), realm.errOut);
    if (t === 0) {
      if (realm.readErr() === E.INVAL) throw new RangeError('non-positive interval for NewTicker');
      throw new RangeError('gort: out of memory for a ticker');
    }
    return new TickerChannel(this, realm.module._gort_js_ticker_chan(t), TIME_CODEC, t);
  }

  /** Go's select over this runtime's channels (see select). */
  select(cases, options) { return select(cases, options); }

  // ---- observation (observe.js) ----

  /** Go's runtime/metrics by name: all of them, or those named. */
  metrics(names) { this.realm.check(); return readMetrics(this.realm, names); }
  /** Every metric's name, kind, meaning and whether it only grows. */
  metricsInfo() { this.realm.check(); return metricDescriptions(this.realm); }
  /** A reader of the event rings: drain(), mmu(), mmuCurve(), worstWindows(), gctrace(), chromeTrace(), close(). */
  events(options) { this.realm.check(); return new EventReader(this.realm, options); }
  /** A reader of the heap's page table: read(), page(), span(). */
  heapMap() { this.realm.check(); return new HeapMapReader(this.realm); }

  /**
   * Records ms of events and returns them as a Chrome trace (a JSON object
   * Perfetto opens); with goroutines (the default), goroutine events too,
   * asked for only while it records.
   */
  async trace({ ms = 1000, everyMs = TRACE_DRAIN_MS, goroutines = true } = {}) {
    const reader = this.events({ historyMs: ms + everyMs, goroutines });
    try {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(everyMs, Math.max(0, until - performance.now()))));
        reader.drain();
      }
    } finally {
      reader.close();
    }
    return reader.chromeTrace();
  }

  /**
   * Go's `go` statement for a goroutine the module exports (GORT_EXPORT_GO
   * in C): starts it with args checked against its parameters (numbers,
   * strings, channels or null, contexts). Returns a Goroutine: awaiting it
   * waits until the function returns.
   * @param {string} name
   * @param {...any} args
   */
  go(name, ...args) { return go(this, name, args); }

  // ---- the collector's settings, live (knobs.js) ----

  /** GOGC from now on (a non-negative integer or 'off'); returns the previous one. */
  setGCPercent(percent) { return setGCPercent(this.realm, percent); }
  /** The soft memory limit from now on (bytes, Infinity for none; no argument reads it); returns the previous one. */
  setMemoryLimit(bytes) { return setMemoryLimit(this.realm, bytes); }
  /** GODEBUG's gccheckmark from the next cycle on; returns the previous setting. */
  setGCCheckmark(on) { return setGCCheckmark(this.realm, on); }
  /** GODEBUG's gcstoptheworld=1 from the next cycle on; returns the previous setting. */
  setGCStopTheWorld(on) { return setGCStopTheWorld(this.realm, on); }
  /** GOMAXPROCS now. */
  get gomaxprocs() { return gomaxprocs(this.realm).now; }
  /** Go's runtime.GOMAXPROCS(n), cut to the procs the runtime started with; resolves to the previous setting. */
  setGOMAXPROCS(n) { return setGOMAXPROCS(this, n); }
}

/** A runtime, as the realm that started it holds it. */
export class Runtime extends RuntimeView {
  /** @internal */
  constructor(module, wasmModule, loader, procs, deadlockAfterMs = null) {
    super(`${Date.now().toString(36)}.${(nextRuntimeId++).toString(36)}.${Math.random().toString(36).slice(2, 8)}`,
      new Realm(module, { canBlock: false, deadlockAfterMs, tryMode: true }));
    this.module = module;
    this.wasmModule = wasmModule;
    this.loader = loader;
    this.procs = procs;
    this.closing = null;
    this.failed = false;
    this.stopWatchingWorkers = null;
  }

  /**
   * @internal A worker this runtime's platform saw end (Node: a thread's
   * exit; browsers: its lock let go). If it was attached and never detached
   * (terminated from outside), the runtime withdraws what it had under way,
   * lets go of its handles and of its hold on the runtime; if it ended
   * inside a call into the runtime, the runtime cannot go on: it fails.
   */
  workerEnded(workerId) {
    if (this.closing || this.failed) return;
    cleanUpAfterWorker(this.realm, workerId, (text) => this.fail(text));
  }

  #stopWatchingWorkers() {
    if (this.stopWatchingWorkers !== null) this.stopWatchingWorkers();
    this.stopWatchingWorkers = null;
  }

  /**
   * Plain data for postMessage: a worker passes it to attach() (from
   * 'gort/worker') to join this runtime.
   */
  get handle() {
    this.realm.check();
    return {
      gort: 'runtime', runtime: this.id, module: this.wasmModule, memory: this.module.wasmMemory,
      state: this.realm.state, glue: this.loader.glue ?? null,
    };
  }

  /** Stops the runtime and ends its threads; afterwards every call throws RuntimeClosedError. */
  close() {
    if (!this.closing) this.closing = this.#close();
    return this.closing;
  }

  async #close() {
    const realm = this.realm;
    const deadline = performance.now() + CLOSE_GRACE_MS;
    // (A runtime that died of a fatal error does not stop: its threads just end.)
    if (!this.failed && realm.status === STATUS.RUNNING) {
      realm.module._gort_js_stop();
      realm.flushDeferred(); // goroutine 1, woken by the stop, when the scheduler's lock was taken
      await waitForStatus(realm, STATUS.STOPPED, CLOSE_GRACE_MS);
    }
    // STOPPED is stored by the thread gort_main ran on just before it
    // returns; the thread then still runs on its stack (Emscripten checks
    // the stack's cookie after the start routine returns, then frees the
    // thread's TLS). terminateAllThreads frees the stack and the thread's
    // data of every pthread the main thread has not yet cleaned up: a
    // thread still running then read freed memory ('Stack cookie has been
    // overwritten'). Each exited thread's worker goes back to the pool when
    // the main thread handles its message: wait for that.
    if (realm.status === STATUS.STOPPED) await poolThreadsGone(this.module.PThread, deadline);
    realm.stopWatchingFatal();
    this.#stopWatchingWorkers();
    // Attached workers blocked in the runtime throw RuntimeClosedError.
    realm.endBlockingCalls();
    // Pending operations reject in the turn that close() resolves in, so
    // that a caller who awaits close() handles them before Node calls them
    // unhandled.
    if (!realm.closedReason) realm.failAll(new RuntimeClosedError());
    this.module.PThread.terminateAllThreads();
  }

  /**
   * @internal A fatal error in the runtime, seen on this thread or published
   * by an attached worker: it is over; pending operations here and in every
   * attached worker reject with the text that was published first.
   */
  fail(message, cause) {
    const realm = this.realm;
    if (this.failed || (realm.closedReason && !(realm.closedReason instanceof FatalError))) return;
    this.failed = true;
    const text = realm.publishFatal(message) ?? message;
    realm.stopWatchingFatal();
    this.#stopWatchingWorkers();
    // The cause goes with its own text, not with one another thread published first.
    const options = cause instanceof Error && text === message ? { cause } : undefined;
    if (!realm.closedReason) realm.failAll(new FatalError(text, options));
    try { this.module.PThread.terminateAllThreads(); } catch { /* the threads may be gone */ }
  }

  [Symbol.asyncDispose]() { return this.close(); }
}


/**
 * Resolves once no pthread runs on a pool worker (each thread that exited
 * has been cleaned up by the main thread), or at deadline (performance.now()).
 * Emscripten tells of a thread's end by a message and no event: this polls.
 */
async function poolThreadsGone(pthread, deadline) {
  while (pthread.runningWorkers.length > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, CLOSE_POLL_MS));
  }
}

/** Resolves once the state word reaches status, or after timeoutMs. */
async function waitForStatus(realm, status, timeoutMs = Infinity) {
  realm.hold(1);
  try {
    return await waitForStatusHeld(realm, status, timeoutMs);
  } finally {
    realm.hold(-1);
  }
}

async function waitForStatusHeld(realm, status, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    realm.refresh();
    const index = (realm.state + realm.layout.stateDoorbell) >>> 2;
    const seen = Atomics.load(realm.i32, index);
    const now = realm.status;
    if (now === status || now === STATUS.STOPPED) return now;
    const left = deadline - performance.now();
    if (left <= 0) return now;
    const r = Atomics.waitAsync(realm.i32, index, seen, Number.isFinite(left) ? left : undefined);
    if (r.async) await r.value;
  }
}

/** Go's words for an abort of the module (a runtime thread's reaches the main thread twice, in either order). */
function fatalTextOf(module, what) {
  return fatalText(what, () => {
    const p = module._gort_js_fatal_message();
    const u8 = new Uint8Array(module.wasmMemory.buffer);
    const end = u8.indexOf(0, p);
    return new TextDecoder().decode(u8.slice(p, end < 0 ? p : end));
  });
}

/** Keeps the pool's workers from holding a Node process open. */
function unrefWorkers(PThread) {
  for (const w of [...PThread.unusedWorkers, ...PThread.runningWorkers]) {
    if (typeof w.unref == 'function') w.unref();
  }
}

/**
 * Starts a runtime. The platform's entry gives the loader: compile(options)
 * (the WebAssembly.Module), createModule(settings) (the Emscripten glue's
 * factory), locate(path, prefix, options) (where the glue's files are),
 * cpus() (the logical CPUs this process may use).
 */
export async function startWith(loader, options = {}) {
  const support = isSupported();
  if (!support.supported) throw new NotIsolatedError(support.reason);
  const procs = options.procs ?? defaultProcs(loader.cpus());
  if (!Number.isInteger(procs) || procs < 1 || procs > 64) throw new RangeError(`gort: procs must be an integer from 1 to 64, not ${procs}`);
  let gogc = GOGC_UNSET;
  if (options.gogc === 'off' || options.gogc === false) {
    gogc = GOGC_OFF;
  } else if (options.gogc !== undefined) {
    if (!Number.isInteger(options.gogc) || options.gogc < 0) {
      throw new RangeError(`gort: gogc must be a non-negative integer or 'off', not ${options.gogc}`);
    }
    gogc = options.gogc;
  }
  const memoryLimit = options.memoryLimit ?? -1;
  const deadlockAfterMs = options.deadlockAfterMs ?? null;
  if (deadlockAfterMs !== null && !(typeof deadlockAfterMs == 'number' && deadlockAfterMs > 0 && Number.isFinite(deadlockAfterMs))) {
    throw new RangeError(`gort: deadlockAfterMs must be a positive number of milliseconds, not ${deadlockAfterMs}`);
  }
  const wasmModule = await loader.compile(options);
  let rt = null;
  const pendingFatal = [];
  let module = null;
  module = await loader.createModule({
    gortPoolSize: procs + EXTRA_THREADS,
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(wasmModule, imports).then((instance) => receive(instance, wasmModule));
      return {};
    },
    locateFile: (path, prefix) => loader.locate(path, prefix, options),
    onAbort(what) {
      const text = fatalTextOf(module, what);
      if (rt) rt.fail(text, what); else pendingFatal.push(text);
    },
  });
  rt = new Runtime(module, wasmModule, loader, procs, deadlockAfterMs);
  for (const w of [...module.PThread.unusedWorkers]) {
    // Emscripten rethrows a pool worker's error on the main thread, which
    // would end the page's script or the Node process: it ends this runtime.
    w.onerror = (e) => rt.fail(fatalTextOf(module, e && e.message ? e.message : e), e);
  }
  unrefWorkers(module.PThread);
  const err = rt.realm.withCString(options.godebug ?? '', (debug) =>
    module._gort_js_start(procs, gogc, memoryLimit, debug));
  if (err !== E.OK) throw new GortError(`gort: the runtime did not start (${err})`, 'ESTATE');
  const status = await waitForStatus(rt.realm, STATUS.RUNNING);
  unrefWorkers(module.PThread);
  if (status !== STATUS.RUNNING) {
    const code = rt.realm.i32[(rt.realm.state + rt.realm.layout.stateExitCode) >>> 2];
    const why = rt.realm.cString(module._gort_js_strerror(code));
    throw new GortError(`gort: the runtime stopped as it started: ${why}`, 'ESTATE');
  }
  if (pendingFatal.length) throw new FatalError(pendingFatal[0]);
  // A fatal error an attached worker's own thread publishes reaches this thread here.
  rt.realm.watchFatal((text) => rt.fail(text));
  rt.stopWatchingWorkers = loader.watchWorkers?.(rt.id, (workerId) => rt.workerEnded(workerId)) ?? null;
  module._gort_js_slots_fill(rt.realm.state);
  return rt;
}

