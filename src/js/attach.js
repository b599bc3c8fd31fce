// attach.js — a worker the user created joins a runtime. The worker
// instantiates the module on the runtime's shared memory, as Emscripten's
// pool workers do, and adopts one of the pthreads the runtime keeps ready
// (thread.c): its stack and thread pointer make it a thread of the module,
// which may call the runtime and block in it (Atomics.wait is allowed in a
// worker). It then has the whole API of the main thread, plus the blocking
// forms (sendSync, recvSync, select.sync). A fatal error on the worker's own
// thread (an abort while it runs runtime code) is published to every realm,
// as one on a runtime thread is: the page's runtime and every attached
// worker end their operations with the same FatalError.

import { GortError, RuntimeClosedError, fatalText } from './errors.js';
import { Realm, STATUS } from './realm.js';
import { RuntimeView } from './runtime.js';

/** A runtime as an attached worker sees it. */
export class WorkerRuntime extends RuntimeView {
  /** @internal */
  constructor(id, realm, thread, slotsAt, slotCount) {
    super(id, realm);
    this.thread = thread;
    this.slotsAt = slotsAt;
    this.slotCount = slotCount;
  }

  /**
   * Gives this worker's thread back for another worker to adopt. Objects
   * opened here must not be used afterwards.
   */
  detach() {
    if (this.thread === 0) return;
    const realm = this.realm;
    realm.stopWatchingFatal();
    if (!realm.closedReason) realm.failAll(new RuntimeClosedError('gort: this worker detached from the runtime'));
    realm.refresh();
    for (let i = 0; i < this.slotCount; i++) {
      if (Atomics.compareExchange(realm.u32, (this.slotsAt >>> 2) + i, 0, this.thread) === 0) break;
    }
    this.thread = 0;
  }

  [Symbol.dispose]() { this.detach(); }
}

/** Takes a pthread from the runtime's slots (0 when none is ready). */
function takeThread(u32, slotsAt, count) {
  for (let i = 0; i < count; i++) {
    const t = Atomics.exchange(u32, (slotsAt >>> 2) + i, 0);
    if (t !== 0) return t;
  }
  return 0;
}

/**
 * Sets this thread's clock to the runtime's. The web glue's clock on a
 * thread that is not the page's main thread is performance.now() less
 * Module.__performance_now_clock_drift, which Emscripten's worker file sets
 * from the time its 'run' message carries; an attached worker gets no such
 * message, and without a drift its clock is NaN (timeouts and deadlines made
 * here never come, or come at once). A worker's performance.now() counts from
 * when the worker started, so the drift is measured against the runtime
 * itself: a timer due at once fires on a runtime thread, which sends its
 * clock. Taking the time before the timer was made as the moment of that
 * reading leaves this clock ahead of the runtime's by at most the round trip,
 * so a timeout set here ends late by that much, never early.
 */
function setClockFromRuntime(module, wr) {
  // With drift 0 this thread's clock is behind the runtime's (this worker
  // started after the runtime): the timer is due as soon as it is made.
  module.__performance_now_clock_drift = 0;
  const before = performance.now();
  const timer = wr.after(0);
  try {
    const { value } = timer.recvSync();
    module.__performance_now_clock_drift = before - value;
  } finally {
    timer[Symbol.dispose]();
  }
}

/**
 * Joins the runtime of handle (rt.handle, posted to this worker).
 * @param {(settings: object) => Promise<object>} createModule the Emscripten glue's factory
 * @param {object} handle
 * @param {{ clockFromRuntime?: boolean }} [options] clockFromRuntime: the
 *   glue's clock on this thread needs the drift that Emscripten's worker file
 *   would have set (the web glue; the Node glue reads process.hrtime, the
 *   same on every thread)
 */
export async function attachWith(createModule, handle, { clockFromRuntime = false } = {}) {
  if (!handle || handle.gort !== 'runtime' || !(handle.memory instanceof WebAssembly.Memory) ||
      !(handle.module instanceof WebAssembly.Module)) {
    throw new TypeError('gort: attach() takes a runtime\'s handle (rt.handle, posted to this worker)');
  }
  // The realm that reports an abort on this thread: the probe until the thread is adopted.
  let reporter = null;
  const module = await createModule({
    ENVIRONMENT_IS_PTHREAD: true,
    gortOnAbort(what) {
      if (reporter === null) return;
      const text = fatalText(what, () => reporter.cString(module._gort_js_fatal_message()));
      reporter.failFatal(reporter.publishFatal(text) ?? text);
    },
    // Never undefined (a NaN clock), even before setClockFromRuntime runs.
    __performance_now_clock_drift: 0,
    gortAttached: true,
    wasmModule: handle.module,
    wasmMemory: handle.memory,
    buffer: handle.memory.buffer,
    instantiateWasm(imports, receive) {
      const instance = new WebAssembly.Instance(handle.module, imports);
      receive(instance, handle.module);
      return instance.exports;
    },
  });
  const probe = new Realm(module, { canBlock: true, threadless: true, state: handle.state });
  if (probe.status === STATUS.STOPPED) throw new RuntimeClosedError();
  probe.check(); // a runtime that died of a fatal error
  reporter = probe;
  const slotsAt = handle.state + probe.layout.stateSlots;
  const thread = takeThread(probe.u32, slotsAt, probe.layout.threadSlots);
  if (thread === 0) {
    throw new GortError(`gort: no thread is ready for this worker (at most ${probe.layout.threadSlots} workers attach at once)`, 'EAGAIN');
  }
  // What a pool worker does when it is told to run a pthread (Emscripten's worker.js).
  module.__emscripten_thread_init(thread, 0, 0, 1);
  module.establishStackSpace();
  module.PThread.threadInit();
  const doorbell = module._malloc(4);
  const realm = new Realm(module, { canBlock: true, doorbell, state: handle.state });
  realm.refresh();
  Atomics.store(realm.u32, doorbell >>> 2, 0);
  reporter = realm;
  // A fatal error published by another realm ends this one's operations.
  realm.watchFatal(() => {});
  module._gort_js_slots_fill(handle.state);
  const wr = new WorkerRuntime(handle.runtime, realm, thread, slotsAt, realm.layout.threadSlots);
  if (clockFromRuntime) {
    try {
      setClockFromRuntime(module, wr);
    } catch (err) {
      wr.detach();
      throw err;
    }
  }
  return wr;
}
