// lib.js — a --js-library of the npm package's module: pthreads made for
// workers to adopt (thread.c) are not handed to a pool worker. Emscripten's
// __pthread_create_js starts every new pthread on a pool worker (or asks the
// main thread to); for a pthread whose start routine is thread.c's marker it
// must do nothing: the memory pthread_create made is all a worker that
// attaches needs.
mergeInto(LibraryManager.library, {
  $gortCreatePooledThread__deps: LibraryManager.library.__pthread_create_js__deps,
  $gortCreatePooledThread: LibraryManager.library.__pthread_create_js,
  __pthread_create_js__sig: 'iiiii',
  __pthread_create_js__deps: ['$gortCreatePooledThread'],
  __pthread_create_js: function(pthread_ptr, attr, start_routine, arg) {
    if (start_routine === Module['_gort_js_adopted_start']()) return 0;
    return gortCreatePooledThread(pthread_ptr, attr, start_routine, arg);
  },
});
