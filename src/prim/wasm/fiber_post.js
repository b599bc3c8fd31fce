// fiber_post.js — a --post-js for every gort wasm program: three repairs that
// Emscripten 3.1.6's fibers (library_async.js) need once fibers move between
// threads and threads come and go (the facts are in DESIGN.md).
//
// 1. Same Asyncify call-stack ids on every worker. A switch stores in the
//    suspended fiber the id of the export at the bottom of its call chain;
//    whichever worker resumes it maps that id back to a name in its own
//    table (Asyncify.callStackIdToName). Ids are handed out in order of first
//    use, so each worker would number them differently and a migrated fiber
//    could not be resumed ('start is not a function' in doRewind). So the
//    first time a thread asks for an id, we number every export of the
//    module, sorted by name: the same numbers on every thread. (Registering
//    a few names such as 'dynCall_vi' is not enough: optimized builds
//    minify export names, dynCall_vi becoming '_' or the like.)
//
// 2. Pool workers reused after fibers. Every fiber's first entry leaves one
//    runtimeKeepaliveCounter push unmatched (the unwind pushes, only a rewind
//    pops), and a pthread_exit() inside the fiber trampoline throws past it
//    and leaves Fibers.trampolineRunning set. The next pthread run on that
//    worker would then never end (keepRuntimeAlive) and never enter a fiber
//    (the trampoline believes it is running). A pthread starts with none of
//    that state, so we clear it when a worker begins a new thread.
//
// 3. Fewer memory-buffer checks per switch. Emscripten's JS reads and writes
//    the fiber's fields through GROWABLE_HEAP_I32(), which asks the shared
//    memory for its current buffer each time; that getter was a fifth of a
//    goroutine switch's cost. A shared buffer is never detached when memory
//    grows, so the view we hold serves every address below its length; a
//    fresh view is fetched only for a field beyond it. The functions below do
//    what library_async.js's do (emscripten 3.1.6), with that view; the
//    field offsets are emscripten_fiber_t's, checked at compile time in
//    fiber.c.
//
// Invariant: in a build without Asyncify or without fibers (no Asyncify or
// Fibers object in this scope) this file does nothing.

(function gortFiberPostJs() {
  if (typeof Asyncify == 'undefined' || typeof Asyncify.getCallStackId != 'function') return;

  var assignId = Asyncify.getCallStackId;
  var numbered = false;
  Asyncify.getCallStackId = function(funcName) {
    // An id is first needed when a wasm call chain unwinds, so the exports
    // exist by then.
    if (!numbered && typeof Module != 'undefined' && Module['asm']) {
      numbered = true;
      Object.keys(Module['asm']).sort().forEach(function(name) { assignId(name); });
    }
    return assignId(funcName);
  };

  if (typeof Fibers != 'undefined' && typeof Fibers.finishContextSwitch == 'function') {
    var FIBER_STACK_BASE = 0, FIBER_STACK_LIMIT = 4, FIBER_STACK_PTR = 8, FIBER_ENTRY = 12,
        FIBER_USER_DATA = 16, FIBER_ASYNCIFY_DATA = 20, DATA_REWIND_ID = 8;
    // Module['HEAP32'] is the view updateGlobalBufferAndViews last made: the
    // build rewrites every bare HEAP32 into a GROWABLE_HEAP_I32() call.
    var viewFor = function(addr) {
      var view = Module['HEAP32'];
      return (addr >>> 2) < view.length ? view : GROWABLE_HEAP_I32();
    };
    Asyncify.setDataRewindFunc = function(ptr) {
      var id = Asyncify.getCallStackId(Asyncify.exportCallStack[0]);
      viewFor(ptr + DATA_REWIND_ID)[(ptr + DATA_REWIND_ID) >>> 2] = id;
    };
    Asyncify.getDataRewindFunc = function(ptr) {
      var id = viewFor(ptr + DATA_REWIND_ID)[(ptr + DATA_REWIND_ID) >>> 2];
      return Module['asm'][Asyncify.callStackIdToName[id]];
    };
    Fibers.finishContextSwitch = function(fiber) {
      var heap = viewFor(fiber + FIBER_USER_DATA);
      var base = heap[(fiber + FIBER_STACK_BASE) >>> 2];
      var limit = heap[(fiber + FIBER_STACK_LIMIT) >>> 2];
      _emscripten_stack_set_limits(base, limit);
      if (Module['___set_stack_limits']) Module['___set_stack_limits'](base, limit);
      stackRestore(heap[(fiber + FIBER_STACK_PTR) >>> 2]);
      var entry = heap[(fiber + FIBER_ENTRY) >>> 2];
      if (entry !== 0) {
        // Unlike library_async.js, no stack cookie at the fiber's low end:
        // Emscripten checks the cookie of a thread's own stack only, and
        // goroutine stacks keep a guard zone there (fiber.c).
        Asyncify.currData = null;
        heap[(fiber + FIBER_ENTRY) >>> 2] = 0;
        dynCall_vi(entry, heap[(fiber + FIBER_USER_DATA) >>> 2]);
      } else {
        var data = fiber + FIBER_ASYNCIFY_DATA;
        Asyncify.currData = data;
        Asyncify.state = Asyncify.State.Rewinding;
        Module['_asyncify_start_rewind'](data);
        Asyncify.doRewind(data);
      }
    };
  }

  if (typeof PThread == 'undefined' || typeof PThread.threadInit != 'function') return;
  // worker.js calls Module['PThread'].threadInit() before each thread's start
  // routine; Module['PThread'] is this same object.
  var threadInit = PThread.threadInit;
  PThread.threadInit = function() {
    if (typeof ENVIRONMENT_IS_PTHREAD != 'undefined' && ENVIRONMENT_IS_PTHREAD) {
      if (typeof runtimeKeepaliveCounter != 'undefined') runtimeKeepaliveCounter = 0;
      Asyncify.state = Asyncify.State.Normal;
      Asyncify.currData = null;
      Asyncify.exportCallStack.length = 0;
      if (typeof Fibers != 'undefined') {
        Fibers.trampolineRunning = false;
        Fibers.nextFiber = 0;
      }
    }
    return threadInit.apply(this, arguments);
  };
})();
