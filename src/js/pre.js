// pre.js — a --pre-js of the npm package's module. A worker that attaches
// (worker.js) runs the module as a thread of its own rather than as one of
// Emscripten's pool workers, and the messages Emscripten's thread code posts
// to a pool worker's parent ('loaded', and so on) must not reach the parent of
// the user's worker. This declaration shadows the global postMessage for all
// of the module's code. One of them is not dropped: abort() on such a thread
// (a fatal error of the runtime on the worker's own thread) tells its parent
// with { cmd: 'onAbort' }, which goes to the worker's own handler instead
// (Module.gortOnAbort, attach.js): it ends the runtime for every realm.
var postMessage = function(message, transfer) {
  if (!Module['gortAttached']) {
    globalThis.postMessage(message, transfer);
  } else if (message && message['cmd'] === 'onAbort' && Module['gortOnAbort']) {
    Module['gortOnAbort'](message['arg']);
  }
};
