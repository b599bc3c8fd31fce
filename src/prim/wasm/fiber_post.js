// fiber_post.js — a --post-js for every gort wasm program: two repairs that
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
