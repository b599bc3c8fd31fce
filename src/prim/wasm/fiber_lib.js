// fiber_lib.js — a --js-library for every gort wasm program and module: the
// one piece of JavaScript the fiber switch (src/prim/wasm/fiber.c) needs,
// run once per thread's module instance, never in a switch.
//
// With -sSTACK_OVERFLOW_CHECK=2 Binaryen checks every move of the C stack
// pointer against two globals that only its generated export
// __set_stack_limits sets, and C cannot call an export of its own module.
// So fiber.c calls a function pointer whose table slot starts out as its
// installer; the installer asks gort_fiber_install_check_limits to put the
// raw export into that slot of this instance's table, and every later switch
// on this thread sets the limits with a plain call_indirect.
//
// Emscripten would wrap every export in a JS function for its own Asyncify
// bookkeeping: the stack of exports in a call, and the end of an unwind that
// JS started (emscripten_sleep and the like). In gort every unwind is a fiber
// switch, which starts and ends in wasm (fiber.c): JS's Asyncify cannot
// suspend a chain that runs goroutines, and the wrapper only cost each call
// from JS ~10 ns (an f64 receive in a worker, 86 -> 77 ns). So exports stay
// as they are: Module.asm holds the raw functions, which a wasm table can
// hold too. Optimized builds minify export names: the function is then
// found through Emscripten's ___set_stack_limits.
mergeInto(LibraryManager.library, {
  // fiber.c imports Binaryen's intrinsics from the module "asyncify"; the
  // Asyncify pass replaces them with its own functions after Emscripten has
  // checked that every import has a JS definition. These satisfy the check
  // and are never reached.
  start_unwind__sig: 'vi',
  start_unwind: function(data) { abort('asyncify.start_unwind reached JS'); },
  stop_unwind__sig: 'v',
  stop_unwind: function() { abort('asyncify.stop_unwind reached JS'); },
  start_rewind__sig: 'vi',
  start_rewind: function(data) { abort('asyncify.start_rewind reached JS'); },
  stop_rewind__sig: 'v',
  stop_rewind: function() { abort('asyncify.stop_rewind reached JS'); },

  // A symbol only for its postset, which runs before the module is
  // instantiated (postsets follow the library's definitions).
  $gortExportsUnwrapped: null,
  $gortExportsUnwrapped__deps: ['$Asyncify'],
  $gortExportsUnwrapped__postset:
    'Asyncify.instrumentWasmExports = function(exports) { return exports; };',

  gort_fiber_install_check_limits__sig: 'ii',
  gort_fiber_install_check_limits__deps: ['$gortExportsUnwrapped', 'emscripten_stack_get_base',
                                          'emscripten_stack_get_end'],
  gort_fiber_install_check_limits: function(slot) {
    var setter = Module['asm'] && Module['asm']['__set_stack_limits'];
    if (typeof setter != 'function' && typeof Module['___set_stack_limits'] == 'function') {
      // Resolve Emscripten's lazy binding (with the limits already in force
      // on this thread): it then is the export itself.
      Module['___set_stack_limits'](_emscripten_stack_get_base(), _emscripten_stack_get_end());
      setter = Module['___set_stack_limits'];
    }
    if (typeof setter != 'function') return 0;
    wasmTable.set(slot, setter);
    return 1;
  },
});
