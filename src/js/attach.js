// attach.js — a worker the user created joins a runtime. The worker
// instantiates the module on the runtime's shared memory, as Emscripten's
// pool workers do, and adopts one of the pthreads the runtime keeps ready
// (thread.c): its stack and thread pointer make it a thread of the module,
// which may call the runtime and block in it (Atomics.wait is allowed in a
// worker). It then has the whole API of the main thread, plus the blocking
// forms (sendSync, recvSync, select.sync). A fatal error on the worker's own
// thread (an abort while it runs runtime code) is published to every realm,
// as one on a runtime thread is: the page's runtime and every attached
// worker end their operations with the same FatalError, and a worker blocked
// in the runtime is woken to throw it (after the runtime's close(), to throw
// RuntimeClosedError).

import { GortError, RuntimeClosedError, fatalText } from './errors.js';
import { Realm, STATUS, cleanUpAfterWorker } from './realm.js';
import { RuntimeView } from './runtime.js';

/** A runtime as an attached worker sees it. */
export class WorkerRuntime extends RuntimeView {
  /** @internal */
  constructor(id, realm, thread, sleeper) {
    super(id, realm);
    this.thread = thread;
    this.sleeper = sleeper;
    /** The runtime's name for this worker (its platform's, or one the runtime gave). */
    this.workerId = 0;
    this.detached = [];
  }

  /** @internal A worker this one's platform saw end: see cleanUpAfterWorker. */
  workerEnded(workerId) {
    if (this.thread === 0) return;
    const realm = this.realm;
    cleanUpAfterWorker(realm, workerId, (text) => realm.failFatal(realm.publishFatal(text) ?? text));
  }

  /** @internal Calls fn (when not null) once this worker has detached. */
  onDetach(fn) {
    if (typeof fn == 'function') this.detached.push(fn);
  }

  /**
   * Gives this worker's thread back for another worker to adopt, and lets go
   * of the handles this worker's objects hold. Objects opened here must not
   * be used afterwards.
   */
  detach() {
    if (this.thread === 0) return;
    const realm = this.realm;
    realm.stopWatchingFatal();
    if (!realm.closedReason) {
      realm.releaseOwned();
      realm.failAll(new RuntimeClosedError('gort: this worker detached from the runtime'));
      realm.releaseStaging();
    }
    realm.module._gort_js_thread_detached(this.sleeper, this.thread);
    this.thread = 0;
    for (const fn of this.detached.splice(0)) fn();
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
 * Joins the runtime of handle (rt.handle, posted to this worker).
 * @param {(settings: object) => Promise<object>} createModule the Emscripten glue's factory
 * @param {object} handle
 */
export async function attachWith(createModule, handle, workerId = 0) {
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
    // The web glue's own clock on a worker is performance.now() less this
    // drift, which Emscripten's worker file sets from its 'run' message; an
    // attached worker gets none, and undefined would make that clock NaN.
    // The glue times only its own waits with it (the runtime's clock is
    // another, the same on every thread: src/prim/wasm/prim.c), so 0 does.
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
  // Its waits in the runtime give up once the runtime is over (its blocking
  // calls then throw the FatalError or RuntimeClosedError): whoever ends the
  // runtime wakes it.
  // workerId: the platform's name for this worker, by which the realm that
  // sees it end cleans up after it if it never detached (0: the runtime names it).
  const sleeper = module._gort_js_thread_attached(workerId);
  // The doorbell and scratch area live in the worker's record, which outlives
  // the worker and goes to the next one (a record is missing only without memory).
  const L = probe.layout;
  const doorbell = sleeper !== 0 ? sleeper + L.sleeperDoorbell : module._gort_js_malloc(4);
  const scratch = sleeper !== 0 ? sleeper + L.sleeperScratch : undefined;
  const realm = new Realm(module, { canBlock: true, doorbell, scratch, state: handle.state });
  realm.refresh();
  Atomics.store(realm.u32, doorbell >>> 2, 0);
  reporter = realm;
  // A fatal error published by another realm ends this one's operations.
  realm.watchFatal(() => {});
  module._gort_js_slots_fill(handle.state);
  const wr = new WorkerRuntime(handle.runtime, realm, thread, sleeper);
  wr.workerId = sleeper === 0 ? 0 : module._gort_js_thread_worker_id(sleeper);
  return wr;
}
