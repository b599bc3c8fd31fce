// overflow_lib.js — a --js-library of every gort wasm program. With
// -sSTACK_OVERFLOW_CHECK=2 every move of the C stack pointer is checked
// against the running fiber's limits and Emscripten's own handler aborts with
// 'stack overflow (Attempt to set SP ...)'. This definition replaces that
// handler (a later library's definition wins) so that the error names the
// goroutine, in Go's words, as the native runtime does. A goroutine's stack
// limit lies above its guard zone: the handler lowers the limit into the zone
// to make room for the one call that asks which goroutine this is — both
// limits, the check's own (__set_stack_limits) and Emscripten's, or the
// call's own frame trips the check again when the failed move left less
// room than that frame.
mergeInto(LibraryManager.library, {
  $gortOverflowReported: false,
  __handle_stack_overflow__deps: ['$gortOverflowReported', 'emscripten_stack_get_base',
                                  'emscripten_stack_get_end', 'emscripten_stack_set_limits'],
  __handle_stack_overflow: function(requested) {
    requested = requested >>> 0;
    var base = _emscripten_stack_get_base() >>> 0;
    var end = _emscripten_stack_get_end() >>> 0;
    var goid = 0;
    if (!gortOverflowReported && Module['_gort_running_goid']) {
      gortOverflowReported = true;
      _emscripten_stack_set_limits(base, end - 512);
      if (Module['___set_stack_limits']) Module['___set_stack_limits'](base, end - 512);
      goid = Module['_gort_running_goid']() >>> 0;
    }
    if (goid !== 0) {
      err('runtime: goroutine ' + goid + ' stack exceeds ' + (base - end) + '-byte limit');
    } else {
      err('runtime: stack exceeds ' + (base - end) + '-byte limit (SP 0x' + requested.toString(16) + ')');
    }
    err('fatal error: stack overflow');
    // The embedder (the npm package) reports what abort is given.
    abort(goid !== 0 ? 'stack overflow (goroutine ' + goid + ')' : 'stack overflow');
  },
});
