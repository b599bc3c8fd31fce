// fiber_lib.js — a --js-library for every gort wasm program: Emscripten
// 3.1.6's emscripten_fiber_swap (library_async.js), doing the same with one
// change: the fiber's field is written through the memory view already held
// when it covers the field, instead of asking the shared memory for its
// current buffer on every switch (see fiber_post.js, repair 3).
mergeInto(LibraryManager.library, {
  emscripten_fiber_swap__sig: 'vii',
  emscripten_fiber_swap__deps: ['$Asyncify', '$Fibers'],
  emscripten_fiber_swap: function(oldFiber, newFiber) {
    if (ABORT) return;
    if (Asyncify.state === Asyncify.State.Normal) {
      Asyncify.state = Asyncify.State.Unwinding;
      var asyncifyData = oldFiber + {{{ C_STRUCTS.emscripten_fiber_s.asyncify_data }}};
      Asyncify.setDataRewindFunc(asyncifyData);
      Asyncify.currData = asyncifyData;
      Module['_asyncify_start_unwind'](asyncifyData);
      var field = (oldFiber + {{{ C_STRUCTS.emscripten_fiber_s.stack_ptr }}}) >>> 2;
      var view = Module['HEAP32']; /* a bare HEAP32 would become GROWABLE_HEAP_I32() */
      if (field >= view.length) view = GROWABLE_HEAP_I32();
      view[field] = stackSave();
      Fibers.nextFiber = newFiber;
    } else {
      Asyncify.state = Asyncify.State.Normal;
      Module['_asyncify_stop_rewind']();
      Asyncify.currData = null;
    }
  },
});
