// exit_lib.js — a --js-library for every gort wasm program: how main's
// thread ends under PROXY_TO_PTHREAD and EXIT_RUNTIME. Emscripten 3.1.6's
// __call_main asks the main browser thread to exit and then returns into
// worker.js, which checks the thread's stack cookie and ends the thread. The
// main browser thread, meanwhile, frees every thread's stack as it exits: now
// and then the check read a freed stack and the program aborted after main
// had returned ('Stack cookie has been overwritten', received 0x0 and a heap
// address), more often on a loaded machine. Here main's thread unwinds right
// after asking for the exit, as exit() called on a pthread does, and touches
// nothing the exit frees.
mergeInto(LibraryManager.library, {
  __call_main__deps: ['$exitOnMainThread'],
  __call_main: function(argc, argv) {
    var returnCode = _main(argc, argv);
    if (!keepRuntimeAlive()) {
      exitOnMainThread(returnCode);
      throw 'unwind';
    }
    return returnCode;
  },
});
