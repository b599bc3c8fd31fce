// realm.js — the one narrow layer between JS and the runtime's memory. A
// realm is one JS thread's view of a runtime: the main thread's, or an
// attached worker's (which is a thread of the wasm module). It holds the
// module's exports, memory views rebuilt when memory grows, the layout that
// C publishes (gort_js_layout: no struct offset is written in JS), op
// records, and one doorbell: a word the runtime increments and wakes
// whenever one of this realm's waiters wakes, awaited with a single
// Atomics.waitAsync however many operations are pending. A realm also
// watches the runtime's fatal word: a fatal error seen by any realm (on a
// runtime thread, or on an attached worker's own) ends every realm's
// operations with the same FatalError.

import { DeadlockError, FatalError, RuntimeClosedError } from './errors.js';

// The names of gort_js_layout's entries, in its order (src/js/bridge.c).
const LAYOUT_FIELDS = [
  'opSize', 'opElem', 'opPending', 'opOk',
  'caseSize', 'caseChan', 'caseDir', 'caseElemSize',
  'stateStatus', 'stateExitCode', 'stateDoorbell', 'stateSlots', 'threadSlots',
  'maxPayload', 'payloadHeader',
  'stateActivity', 'stateFatal', 'stateFatalText', 'fatalTextBytes',
  'stateSleepers', 'sleeperOn', 'sleeperNext', 'stateEnded',
  'sleeperDoorbell', 'sleeperScratch', 'realmScratchBytes',
];

// Error codes of gort/error.h.
export const E = Object.freeze({
  BUSY: -2, // CHAN_EBUSY of chan.h: try mode found a lock taken; nothing was done
  SELECT_BUSY: -256, // SELECT_EBUSY of chan.h: the same for a select
  OK: 0, DEADLOCK: 1, NOMEM: 2, INVAL: 3, STATE: 4, WOULDBLOCK: 8, CLOSED: 9,
  CLOSECLOSED: 10, CLOSENIL: 11, CANCELED: 12, DEADLINE: 13, NILCONTEXT: 14, NILKEY: 15,
});

// gort_js_thread_reap's outcome for a worker that ended inside a call (bridge.c).
const REAP_IN_CALL = 2;
// How soon the cleanup after an ended worker is tried again when it found a lock taken.
const REAP_RETRY_MS = 1;
const TERMINATED_IN_CALL = 'fatal error: a worker attached to the runtime was terminated inside a call into it';

/**
 * The platform saw the worker it names workerId end (Node: a thread's exit;
 * browsers: its lifeline let go). If it was attached and never detached
 * (terminated from outside), the runtime withdraws what it had under way
 * and lets go of its handles and of its hold on the runtime; if it ended
 * inside a call into the runtime, the runtime cannot go on: fatal(text).
 */
export function cleanUpAfterWorker(realm, workerId, fatal) {
  if (realm.closedReason) return;
  const r = realm.module._gort_js_thread_reap(workerId);
  if (r === E.BUSY) setTimeout(() => cleanUpAfterWorker(realm, workerId, fatal), REAP_RETRY_MS);
  else if (r === REAP_IN_CALL) fatal(TERMINATED_IN_CALL);
}

// enum js_status of bridge.h.
export const STATUS = Object.freeze({ IDLE: 0, STARTING: 1, RUNNING: 2, STOPPED: 3 });
// enum js_fatal of bridge.h.
const FATAL = Object.freeze({ NONE: 0, WRITING: 1, PUBLISHED: 2 });

// Op records kept for reuse per realm and size (selects of fewer than
// OP_CACHE_CASES cases), beyond which they are freed: each is a root region.
const OP_CACHE_LIMIT = 64;
const OP_CACHE_CASES = 9;

// A waiter's wake-up through Atomics.waitAsync takes 50-100 us (the notifying
// thread posts a task to this one), while a goroutine or worker on the other
// side of a hand-off often answers within microseconds: when nothing else is
// pending, the realm watches the operation's cell for this long first. The
// wait is bounded, so a main thread may do it. It does not while this
// realm's operations hand values to its own waiters (two async loops of one
// thread): the other side's turn would come only after the watch.
const SPIN_BEFORE_WAIT_MS = 0.03;

// The main thread never waits for a lock of the runtime (try mode, bridge.c):
// an operation that found one taken is tried again on a later task, after
// these pauses (ms; the last repeats), and so are goroutines it woke while
// the scheduler's lock was taken (deferred readies).
const BUSY_PAUSES_MS = [0, 0, 1, 2, 4, 8];

// A pause of 0 ms is the next task: setImmediate in Node, a MessageChannel
// message elsewhere. setTimeout(0) would wait a millisecond or more (Node
// and browsers clamp it), and a lock found taken is most often free again
// within microseconds: with setTimeout, a main thread's round trip with a
// goroutine took twice as long.
const nextTask = typeof setImmediate === 'function'
  ? (resolve) => setImmediate(resolve)
  : (() => {
      const waiting = [];
      const channel = new MessageChannel();
      channel.port1.onmessage = () => waiting.shift()?.();
      return (resolve) => { waiting.push(resolve); channel.port2.postMessage(null); };
    })();

/** Calls fn after ms, on the next task when ms is 0. */
function after(ms, fn) {
  if (ms === 0) nextTask(fn);
  else setTimeout(fn, ms);
}

// A worker's blocking sends of text encode it straight into an area of the
// runtime's memory of this size, and one call makes the payload from there
// and sends it (gort_js_send_staged_sync).
const STAGING_BYTES = 64 * 1024;

// Own-thread hand-offs (two async loops of one thread passing values) find
// each other's completions in microtasks, which run before any task: a
// ping-pong between them would hold off timers, I/O and rendering for as
// long as it lasts. A run of such polls in microtasks lasts at most this
// long (ms); the next poll is then a task of its own.
const MICROTASK_RUN_MS = 0.5;
const QUICK_OPS_PER_LOOK = 16;

// Node does not count a pending Atomics.waitAsync as work (nodejs/node#61941):
// a timer that never fires holds a thread open while it must wait.
const HOLD_INTERVAL_MS = 1 << 30;
// How often the main thread of a Node process with waiting operations looks
// whether the runtime can still complete them, and how many looks in a row
// must say no before it lets the process end (one look may fall between a
// goroutine's wake-up and its run).
const DEADLOCK_CHECK_MS = 20;
const QUIET_LOOKS = 2;
// A browser's event loop never ends, so nothing says, as Node's 'beforeExit'
// does, that the page has nothing else to do. With start({ deadlockAfterMs })
// the main realm takes a quiet spell as that word instead: its waiting
// operations reject with DeadlockError once, for that long, at every look
// (every DEADLOCK_CHECK_MS) no goroutine could run, no timer was pending and
// no JS party (this thread or an attached worker) started an operation.

// Handles of objects this realm made and dropped without disposing them are
// released when the JS object is collected. That is a safety net, not a
// bound: V8 collects by the pressure on its own heap, and a Channel object is
// small beside the channel it holds in the runtime's (a million dropped
// channels can grow the wasm memory by 100 MB before V8 collects their
// objects). Disposing releases at once. Another realm that opens a posted
// handle gets a handle of its own (open()), so what the owner does with its
// object after that does not reach it.
const droppedHandles = new FinalizationRegistry(({ realm, h }) => realm.dropHandle(h));

export class Realm {
  /**
   * @param {object} module the Emscripten module instance
   * @param {{ canBlock: boolean, doorbell?: number, state?: number, threadless?: boolean }} options
   *   state: the runtime's state words (the main realm asks C for them);
   *   threadless: this thread is not one of the module's yet (it may only read).
   */
  constructor(module, { canBlock, doorbell, scratch, state, threadless = false, deadlockAfterMs = null, tryMode = false }) {
    this.module = module;
    this.memory = module.wasmMemory;
    this.canBlock = canBlock;
    /** The handles this realm's objects own (h -> whether a ticker's), for releaseOwned(). */
    this.ownedHandles = new Map();
    this.buffer = null;
    this.viewBytes = 0;
    this.refresh();
    const count = module._gort_js_layout_count();
    const at = module._gort_js_layout() >>> 2;
    // Made whole by fromEntries: an object given its fields one keyed store
    // at a time turns into a dictionary past 16 of them in V8, and every
    // operation reads some (a lookup of ~20 ns each in a receive's profile).
    /** @type {Record<string, number>} */
    this.layout = Object.fromEntries(LAYOUT_FIELDS.map((name, i) => [name, this.u32[at + i]]));
    if (count !== LAYOUT_FIELDS.length) throw new Error('gort: the package\'s JS and wasm are from different builds');
    this.state = state ?? module._gort_js_state();
    // The words check() loads on every operation, and the end of the views they need.
    this.statusIndex = (this.state + this.layout.stateStatus) >>> 2;
    this.fatalIndex = (this.state + this.layout.stateFatal) >>> 2;
    this.checkEnd = Math.max(this.state + this.layout.stateSlots, this.state + this.layout.stateFatal + 4);
    this.scratch = threadless ? 0 : scratch ?? module._gort_js_malloc(this.layout.realmScratchBytes);
    this.staging = 0;
    this.stagingView = null;
    this.doorbell = doorbell ?? this.state + this.layout.stateDoorbell;
    this.opCache = [];
    this.pending = new Set();
    this.waiting = false;
    this.holds = 0;
    this.holdTimer = null;
    this.kept = 0;
    this.keeping = false; // what keep() holds open is held (let go a task after kept reaches 0)
    this.letGoQueued = false;
    this.onLoopEmpty = null;
    this.nudged = false;
    this.microtaskRunSince = null;
    this.quickOps = 0;
    this.doorbellWaitOut = false;
    this.handingToItself = false;
    this.watchTimer = null;
    // Node's main thread: only it has an event loop whose end says that
    // nothing else will happen (see keep).
    this.watchesIdle = !canBlock && typeof process == 'object' && typeof process.on == 'function' &&
      typeof process.versions == 'object' && typeof process.versions.node == 'string';
    this.deadlockAfterMs = deadlockAfterMs;
    this.quietTimer = null;
    // This thread waits for no lock of the runtime: the C side is told once.
    this.tryMode = tryMode;
    if (tryMode) module._gort_js_try_mode();
    this.flushScheduled = false;
    this.closedReason = null;
    this.onFatal = null;
    this.fatalWatched = false;
  }

  /**
   * Views over the shared memory, rebuilt when another thread grew it. A
   * caller that touches nothing past `end` skips the memory's buffer getter
   * (a tenth of a channel operation) while the views reach that far: a
   * shared buffer is never detached, so an old view stays valid.
   */
  refresh(end = Infinity) {
    if (end <= this.viewBytes) return;
    const buffer = this.memory.buffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.viewBytes = buffer.byteLength;
    this.u8 = new Uint8Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
  }

  get status() {
    this.refresh(this.state + this.layout.stateSlots);
    return Atomics.load(this.u32, (this.state + this.layout.stateStatus) >>> 2);
  }

  // ---- C strings and out-parameters ----

  /** Calls fn with str as a NUL-terminated UTF-8 C string. */
  withCString(str, fn) {
    const bytes = new TextEncoder().encode(str);
    const p = this.module._gort_js_malloc(bytes.length + 1);
    try {
      this.refresh();
      this.u8.set(bytes, p);
      this.u8[p + bytes.length] = 0;
      return fn(p);
    } finally {
      this.module._gort_js_free(p);
    }
  }

  /** The NUL-terminated UTF-8 string at address p (copied out: TextDecoder rejects shared views). */
  cString(p) {
    this.refresh();
    const end = this.u8.indexOf(0, p);
    return new TextDecoder().decode(this.u8.slice(p, end < 0 ? p : end));
  }

  /** The int out-parameter at the scratch area (calls write it there). */
  get errOut() { return this.scratch; }

  /** A view of this realm's staging area (STAGING_BYTES, made on first use), or null without memory. */
  stagingArea() {
    if (this.staging === 0) {
      this.staging = this.module._gort_js_staging_new(STAGING_BYTES);
      if (this.staging === 0) return null;
    }
    this.refresh(this.staging + STAGING_BYTES);
    if (this.stagingView === null || this.stagingView.buffer !== this.buffer) {
      this.stagingView = new Uint8Array(this.buffer, this.staging, STAGING_BYTES);
    }
    return this.stagingView;
  }

  /** Gives the staging area back (a worker that detaches). */
  releaseStaging() {
    if (this.staging === 0) return;
    this.module._gort_js_staging_free(this.staging);
    this.staging = 0;
    this.stagingView = null;
  }
  readErr() { this.refresh(); return this.i32[this.scratch >>> 2]; }

  // ---- op records ----

  /** An op record with room for ncases select cases (0: a channel operation). */
  opTake(ncases = 0) {
    const cache = this.opCache[ncases];
    if (cache && cache.length > 0) return cache.pop();
    const op = this.module._gort_js_op_new(ncases);
    if (op === 0) throw new RangeError('gort: out of memory for an operation');
    return op;
  }

  /** Takes op back for reuse (its elements must be cleared). */
  opGive(op, ncases = 0) {
    if (ncases < OP_CACHE_CASES) {
      const cache = (this.opCache[ncases] ??= []);
      if (cache.length < OP_CACHE_LIMIT) {
        this.refresh(op + this.layout.opSize);
        this.u32[(op + this.layout.opElem) >>> 2] = 0;
        this.u32[(op + this.layout.opElem + 4) >>> 2] = 0;
        cache.push(op);
        return;
      }
    }
    this.module._gort_js_op_free(op);
  }

  opOk(op) { this.refresh(op + this.layout.opSize); return this.u32[(op + this.layout.opOk) >>> 2] !== 0; }

  // ---- waiting for pending operations ----

  /**
   * Resolves when the pending operation in op has completed. Rejects with
   * signal's reason when signal aborts first and the operation could still
   * be withdrawn (then nothing was sent or received; otherwise it completes
   * as if the abort came late). keepAlive: the wait keeps a Node process
   * open while something can still complete it (a user's operation does;
   * the runtime's own watchers, such as a context's signal, do not). send:
   * which queue a channel operation waits in (for its withdrawal).
   */
  whenReady(op, { keepAlive = true, signal, send = false } = {}) {
    if (this.pending.size === 0 && this.spinUntilReady(op)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const entry = { op, resolve, reject, keepAlive, send, signal, onAbort: null };
      this.pending.add(entry);
      if (keepAlive) this.keep(1);
      if (signal) {
        entry.onAbort = () => this.withdraw(entry, signal.reason);
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      // It may have completed before its doorbell was armed.
      if (this.module._gort_js_ready(op)) this.complete(entry);
      else this.arm();
    });
  }

  /** Watches op's wake cell for SPIN_BEFORE_WAIT_MS: true when it completed. */
  spinUntilReady(op) {
    if (this.handingToItself) return false;
    const cell = this.module._gort_js_wakecell(op) >>> 2;
    if (cell === 0) return false;
    this.refresh(4 * cell + 4);
    const until = performance.now() + SPIN_BEFORE_WAIT_MS;
    do {
      if (Atomics.load(this.i32, cell) !== 0) return true;
    } while (performance.now() < until);
    return false;
  }

  #settle(entry) {
    this.pending.delete(entry);
    if (entry.keepAlive) this.keep(-1);
    if (entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
  }

  complete(entry) {
    this.#settle(entry);
    entry.resolve();
  }

  /**
   * Withdraws entry's operation if nobody has taken it yet, rejecting it
   * with reason. When a lock it needs is taken (try mode), it tries again on
   * later tasks, until it withdraws the operation or the operation completes.
   */
  withdraw(entry, reason, attempt = 0) {
    if (!this.pending.has(entry)) return false;
    const r = this.module._gort_js_cancel(entry.op, entry.send ? 1 : 0);
    if (r === E.BUSY) {
      after(BUSY_PAUSES_MS[Math.min(attempt + 1, BUSY_PAUSES_MS.length - 1)], () => {
        if (this.closedReason === null) this.withdraw(entry, reason, attempt + 1);
      });
      return false;
    }
    if (r !== 1) return false;
    this.#settle(entry);
    entry.reject(reason);
    return true;
  }

  /**
   * After an operation of this realm that completed at once: it may have
   * handed a value to one of this realm's own waiters (two async loops of
   * one thread), whose doorbell ring would reach this thread only as a task,
   * after a trip through the event loop. Look at once, after this task.
   */
  nudge() {
    this.flushDeferred();
    if (this.pending.size > 0 && !this.nudged) {
      this.nudged = true;
      this.#soon(() => {
        this.nudged = false;
        if (this.poll() > 0 && !this.handingToItself) {
          this.handingToItself = true;
          setTimeout(() => { this.handingToItself = false; }, 0);
        }
      });
    }
  }

  /** Calls fn in a microtask, or on the next task once this run of microtasks is MICROTASK_RUN_MS old. */
  #soon(fn) {
    if (this.#runOverdue()) nextTask(fn);
    else queueMicrotask(fn);
  }

  /**
   * Null, or (once this run of microtasks is MICROTASK_RUN_MS old) a
   * Promise of the next task, which an operation that completed awaits
   * before it resolves: a loop whose operations all complete at once (a
   * receive from a buffer that a worker keeps full) would otherwise run in
   * microtasks for as long as they do. The clock is read every
   * QUICK_OPS_PER_LOOK operations.
   */
  taskDue() {
    if (++this.quickOps < QUICK_OPS_PER_LOOK) return null;
    this.quickOps = 0;
    return this.#runOverdue() ? new Promise(nextTask) : null;
  }

  /** Whether the run of microtasks this one belongs to is MICROTASK_RUN_MS old. */
  #runOverdue() {
    const now = performance.now();
    if (this.microtaskRunSince === null) {
      this.microtaskRunSince = now;
      // Runs only once the microtasks have let a task run.
      nextTask(() => { this.microtaskRunSince = null; });
      return false;
    }
    return now - this.microtaskRunSince > MICROTASK_RUN_MS;
  }

  /** Resolves on a later task, after the pause[attempt] of a busy retry (try mode). */
  busyPause(attempt) {
    const ms = BUSY_PAUSES_MS[Math.min(attempt, BUSY_PAUSES_MS.length - 1)];
    return new Promise((resolve) => after(ms, resolve));
  }

  /**
   * Readies the goroutines this thread woke while the scheduler's lock was
   * taken (try mode), now if the lock is free, else on later tasks until it is.
   */
  flushDeferred() {
    if (!this.tryMode || this.flushScheduled) return;
    if (this.module._gort_js_flush_deferred() === 0) return;
    let attempt = 0;
    const again = () => {
      this.flushScheduled = false;
      if (this.closedReason !== null || this.module._gort_js_flush_deferred() === 0) return;
      this.flushScheduled = true;
      after(BUSY_PAUSES_MS[Math.min(++attempt, BUSY_PAUSES_MS.length - 1)], again);
    };
    this.flushScheduled = true;
    after(0, again);
  }

  /** Looks at every pending operation; then awaits the doorbell again. */
  poll() {
    this.waiting = false;
    let completed = 0;
    for (const entry of this.pending) {
      if (this.module._gort_js_ready(entry.op)) {
        this.complete(entry);
        completed++;
      }
    }
    this.arm();
    return completed;
  }

  arm() {
    if (this.waiting || this.pending.size === 0) return;
    this.refresh();
    const index = this.doorbell >>> 2;
    const seen = Atomics.load(this.i32, index);
    // A ring between the last look and this load would be missed: look again.
    for (const entry of this.pending) {
      if (this.module._gort_js_ready(entry.op)) {
        this.#soon(() => this.poll());
        this.waiting = true;
        return;
      }
    }
    this.waiting = true;
    // One Atomics.waitAsync at a time: one still out answers the next ring
    // (every ring notifies), and one more per look would pile up waiters
    // that all wake at the next ring.
    if (this.doorbellWaitOut) return;
    const result = Atomics.waitAsync(this.i32, index, seen);
    if (result.async) {
      this.doorbellWaitOut = true;
      result.value.then(() => {
        this.doorbellWaitOut = false;
        this.poll();
      });
    } else {
      nextTask(() => this.poll());
    }
  }

  /** Rejects every pending operation (the runtime closed or died). */
  failAll(error) {
    this.closedReason = error;
    this.#unwatchQuiet();
    for (const entry of this.pending) {
      this.#settle(entry);
      entry.reject(error);
    }
  }

  // ---- keeping a Node process alive ----

  /**
   * Counts operations that should keep a Node process alive. Elsewhere than
   * on Node's main thread (workers) a timer holds the thread while they
   * wait. On Node's main thread a timer holds the process only while the
   * runtime can still complete them: once no goroutine can run and no timer
   * is pending (looked at every DEADLOCK_CHECK_MS) it lets go, and if the
   * process then has nothing else to do ('beforeExit') that is Go's deadlock:
   * the waiting operations are withdrawn and reject with DeadlockError.
   */
  keep(delta) {
    this.kept += delta;
    if (this.kept > 0) {
      if (!this.keeping) {
        this.keeping = true;
        this.#holdOpen();
      } else if (this.watchesIdle) {
        // The watch stops itself once the runtime looked quiet (see #watch):
        // a new wait looks again.
        this.#watch();
      }
    } else if (this.keeping && !this.letGoQueued) {
      // A task later, if nothing was kept meanwhile: a thread whose
      // operations wait, complete and wait again would otherwise add and
      // remove a listener and timers for every one.
      this.letGoQueued = true;
      nextTask(() => {
        this.letGoQueued = false;
        if (this.kept === 0 && this.keeping) {
          this.keeping = false;
          this.#letGo();
        }
      });
    }
  }

  #holdOpen() {
    if (this.deadlockAfterMs !== null) this.#watchQuiet();
    if (!this.watchesIdle) {
      this.hold(1);
      return;
    }
    this.onLoopEmpty = () => this.#loopEmpty();
    process.on('beforeExit', this.onLoopEmpty);
    this.#watch();
  }

  #letGo() {
    if (this.deadlockAfterMs !== null) this.#unwatchQuiet();
    if (!this.watchesIdle) {
      this.hold(-1);
      return;
    }
    process.off('beforeExit', this.onLoopEmpty);
    this.onLoopEmpty = null;
    this.#unwatch();
  }

  #watch() {
    if (this.watchTimer !== null) return;
    let quietLooks = 0;
    this.watchTimer = setInterval(() => {
      quietLooks = this.module._gort_js_quiescent() ? quietLooks + 1 : 0;
      if (quietLooks >= QUIET_LOOKS) this.#unwatch();
    }, DEADLOCK_CHECK_MS);
  }

  #unwatch() {
    if (this.watchTimer === null) return;
    clearInterval(this.watchTimer);
    this.watchTimer = null;
  }

  #loopEmpty() {
    // Wake-ups already in memory settle first: their continuations may act.
    if (this.poll() > 0 || this.kept === 0) return;
    if (!this.module._gort_js_quiescent()) {
      this.#watch();
      return;
    }
    this.#deadlock();
  }

  /** Withdraws every waiting operation that keeps the process alive, rejecting it with DeadlockError. */
  #deadlock() {
    const deadlock = new DeadlockError();
    for (const entry of this.pending) {
      if (entry.keepAlive) this.withdraw(entry, deadlock);
    }
  }

  /** Takes the runtime's activity word: whether a JS party started an operation since the last take. */
  #takeActivity() {
    this.refresh(this.state + this.layout.stateActivity + 4);
    return Atomics.exchange(this.u32, (this.state + this.layout.stateActivity) >>> 2, 0) !== 0;
  }

  /** The quiet-spell watch of start({ deadlockAfterMs }) (see DEADLOCK_CHECK_MS). */
  #watchQuiet() {
    if (this.quietTimer !== null) return;
    this.#takeActivity();
    let quietSince = null;
    this.quietTimer = setInterval(() => {
      const quiet = this.module._gort_js_quiescent() && !this.#takeActivity();
      const now = performance.now();
      if (!quiet) {
        quietSince = null;
      } else if (quietSince === null) {
        quietSince = now;
      } else if (now - quietSince >= this.deadlockAfterMs && this.poll() === 0) {
        // (Wake-ups already in memory settled first: their continuations may act.)
        this.#deadlock();
      }
    }, DEADLOCK_CHECK_MS);
    // It never holds a Node process open: 'beforeExit' speaks there too.
    if (typeof this.quietTimer == 'object' && typeof this.quietTimer.unref == 'function') this.quietTimer.unref();
  }

  #unwatchQuiet() {
    if (this.quietTimer === null) return;
    clearInterval(this.quietTimer);
    this.quietTimer = null;
  }

  /** Holds a Node thread open (start, close, and waits in workers). */
  hold(delta) {
    this.holds += delta;
    if (typeof process != 'object' || typeof setInterval != 'function') return;
    if (this.holds > 0 && this.holdTimer === null) {
      this.holdTimer = setInterval(() => {}, HOLD_INTERVAL_MS);
    } else if (this.holds === 0 && this.holdTimer !== null) {
      clearInterval(this.holdTimer);
      this.holdTimer = null;
    }
  }

  // ---- fatal errors ----

  /** The runtime's published fatal error, or null. */
  fatalText() {
    this.refresh(this.state + this.layout.stateFatalText + this.layout.fatalTextBytes);
    if (Atomics.load(this.i32, (this.state + this.layout.stateFatal) >>> 2) !== FATAL.PUBLISHED) return null;
    return this.cString(this.state + this.layout.stateFatalText);
  }

  /**
   * Publishes a fatal error of the runtime to every realm (the first one
   * published stands) and returns the text that stands, or null when
   * another realm is still writing its own (its watchers then see it).
   */
  publishFatal(text) {
    this.refresh(this.state + this.layout.stateFatalText + this.layout.fatalTextBytes);
    const word = (this.state + this.layout.stateFatal) >>> 2;
    if (Atomics.compareExchange(this.i32, word, FATAL.NONE, FATAL.WRITING) === FATAL.NONE) {
      const bytes = new TextEncoder().encode(text).subarray(0, this.layout.fatalTextBytes - 1);
      const at = this.state + this.layout.stateFatalText;
      this.u8.set(bytes, at);
      this.u8[at + bytes.length] = 0;
      Atomics.store(this.i32, word, FATAL.PUBLISHED);
      Atomics.notify(this.i32, word);
      this.endBlockingCalls();
    }
    return this.fatalText();
  }

  /**
   * The runtime is over (closed, or dead of a fatal error published first):
   * every attached worker's thread sleeping in it wakes, its wait gives up
   * and its blocking call throws (prim_futex_give_up_when, bridge.c's
   * gort_js_thread_attached); later waits there give up at once.
   */
  endBlockingCalls() {
    const L = this.layout;
    this.refresh();
    Atomics.store(this.u32, (this.state + L.stateEnded) >>> 2, 1);
    for (let s = Atomics.load(this.u32, (this.state + L.stateSleepers) >>> 2); s !== 0;
         s = this.u32[(s + L.sleeperNext) >>> 2]) {
      const on = Atomics.load(this.u32, (s + L.sleeperOn) >>> 2);
      if (on !== 0) Atomics.notify(this.i32, on >>> 2);
    }
  }

  /**
   * Calls onFatal(text) once the runtime's fatal word is published, from
   * whichever realm publishes it. One Atomics.waitAsync, which holds no
   * Node thread open; stopWatchingFatal (close) wakes it to end.
   */
  watchFatal(onFatal) {
    this.onFatal = onFatal;
    if (this.fatalWatched) return;
    this.fatalWatched = true;
    const word = (this.state + this.layout.stateFatal) >>> 2;
    const look = () => {
      if (this.onFatal === null) return;
      const text = this.fatalText();
      if (text !== null) {
        this.failFatal(text);
        return;
      }
      this.refresh();
      const r = Atomics.waitAsync(this.i32, word, Atomics.load(this.i32, word));
      if (r.async) r.value.then(look);
      else setTimeout(look, 0);
    };
    look();
  }

  /** The runtime died of text: watchFatal's callback runs, then every operation here rejects. */
  failFatal(text) {
    const call = this.onFatal;
    this.onFatal = null;
    if (call) call(text);
    if (!this.closedReason) this.failAll(new FatalError(text));
  }

  /** Ends watchFatal's wait (the runtime closed, or this worker detached). */
  stopWatchingFatal() {
    if (this.onFatal === null) return;
    this.onFatal = null;
    this.refresh();
    Atomics.notify(this.i32, (this.state + this.layout.stateFatal) >>> 2);
  }

  // ---- handles ----

  /**
   * object (a Channel, a Context) owns handle h: it is released when object
   * is collected, unless disown(token, ...) released it first. ticker: h is
   * a ticker's, which is stopped too.
   */
  own(object, h, token = object, ticker = false) {
    droppedHandles.register(object, { realm: this, h }, token);
    this.ownedHandles.set(h, ticker);
  }

  /** Releases a handle registered with token, now. */
  disown(token, h) {
    droppedHandles.unregister(token);
    this.dropHandle(h);
  }

  /** Releases an owned handle (its object was disposed or collected). */
  dropHandle(h) {
    const ticker = this.ownedHandles.get(h);
    if (ticker === undefined) return; // released with the rest (releaseOwned)
    this.ownedHandles.delete(h);
    this.releaseHandle(h, ticker);
  }

  /**
   * Releases every handle this realm's objects own, whose objects must not
   * be used afterwards (an attached worker's detach(): a worker's heap is not
   * collected when it ends, so its objects' handles would stay for good).
   */
  releaseOwned() {
    for (const [h, ticker] of this.ownedHandles) this.releaseHandle(h, ticker);
    this.ownedHandles.clear();
  }

  releaseHandle(h, ticker = false) {
    // (Nothing goes back to a runtime that is over, even before this realm
    // has seen why: its locks may be held by threads that are gone.)
    if (this.closedReason !== null || this.status !== STATUS.RUNNING ||
        Atomics.load(this.u32, (this.state + this.layout.stateEnded) >>> 2) !== 0) return;
    if (ticker) this.module._gort_js_ticker_stop(h);
    this.module._gort_js_release(h);
  }

  /** Throws when the runtime has stopped. (On every operation: two loads.) */
  check() {
    if (this.closedReason) throw this.closedReason;
    this.refresh(this.checkEnd);
    if (Atomics.load(this.i32, this.fatalIndex) === FATAL.PUBLISHED) {
      this.failFatal(this.fatalText());
      throw this.closedReason;
    }
    if (Atomics.load(this.u32, this.statusIndex) === STATUS.STOPPED) {
      this.closedReason = new RuntimeClosedError();
      throw this.closedReason;
    }
  }
}
