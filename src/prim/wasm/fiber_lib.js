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
// Emscripten wraps every export for its own Asyncify bookkeeping (a JS
// function, which a wasm table cannot hold), so the raw exports are kept
// when the module is instantiated. Optimized builds minify export names:
// the raw function is then found under the key whose wrapper Emscripten's
// ___set_stack_limits resolved to.
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

  $gortRawExports: null,
  $gortRawExports__deps: ['$Asyncify'],
  // Runs before the module is instantiated (postsets follow the library's
  // definitions): keeps the first exports object instrumentWasmExports sees.
  $gortRawExports__postset:
    '(function() {' +
    '  var instrument = Asyncify.instrumentWasmExports;' +
    '  Asyncify.instrumentWasmExports = function(exports) {' +
    '    if (!gortRawExports) gortRawExports = exports;' +
    '    return instrument(exports);' +
    '  };' +
    '})();',

  gort_fiber_install_check_limits__sig: 'ii',
  gort_fiber_install_check_limits__deps: ['$gortRawExports', 'emscripten_stack_get_base',
                                          'emscripten_stack_get_end'],
  gort_fiber_install_check_limits: function(slot) {
    if (!gortRawExports) return 0;
    var setter = gortRawExports['__set_stack_limits'];
    if (typeof setter != 'function' && typeof Module['___set_stack_limits'] == 'function') {
      // Resolve Emscripten's lazy wrapper (with the limits already in force
      // on this thread), then find its key among the wrapped exports.
      Module['___set_stack_limits'](_emscripten_stack_get_base(), _emscripten_stack_get_end());
      var wrapped = Module['___set_stack_limits'];
      for (var name in Module['asm']) {
        if (Module['asm'][name] === wrapped) setter = gortRawExports[name];
      }
    }
    if (typeof setter != 'function') return 0;
    wasmTable.set(slot, setter);
    return 1;
  },
});
