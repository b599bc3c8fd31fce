// node_pre.js — runs before Emscripten's startup code in every gort wasm
// program, and acts only on Node's main thread (pthread workers are sent the
// compiled module by message): it loads the .wasm, and it sets how V8
// compiles it.
//
// Node 18+ defines fetch(), and Emscripten 3.1.6 then fetches the .wasm by
// its file path and fails ('Failed to parse URL'): we read the bytes
// ourselves (honouring Module.locateFile).
var gortNodeMainThread = typeof process == 'object' && process.versions &&
    process.versions.node && require('worker_threads').isMainThread;
if (gortNodeMainThread && !Module['wasmBinary']) {
  var gortWasmName = require('path').basename(__filename).replace(/\.c?js$/, '.wasm');
  var gortWasmPath = Module['locateFile'] ? Module['locateFile'](gortWasmName, __dirname + '/')
                                          : require('path').join(__dirname, gortWasmName);
  Module['wasmBinary'] = require('fs').readFileSync(gortWasmPath);
}

// V8 tiers code up while it runs, and each step that lands on a runtime
// thread during a stop-the-world stretches the pause by 0.1 to 3 ms: wasm
// functions are compiled on first call and recompiled when hot by background
// threads that take the cores the goroutines run on; JS glue (the clock, the
// fiber switch) gets its feedback vector after a few calls and then baseline
// code, compiled in a batch on the calling thread. So, on Node:
//  - the module is compiled whole and at the top tier when it loads. These
//    two flags are read at compile time: they are set for this compilation
//    and then given back Node's defaults;
//  - JS functions get their feedback vector on their first call. This flag is
//    read as functions run, so it stays set; it costs the memory of feedback
//    vectors for functions called only once.
// The flags are process-wide. One that the user gave on the command line or
// in NODE_OPTIONS is left alone.
if (gortNodeMainThread) {
  var gortV8 = require('v8');
  var gortUserFlags = process.execArgv.concat((process.env.NODE_OPTIONS || '').split(/\s+/))
                          .join(' ').replace(/_/g, '-');
  var gortUnset = function (flag) { return gortUserFlags.indexOf(flag) < 0; };
  var gortCompileFlags = ['wasm-lazy-compilation', 'wasm-dynamic-tiering'].filter(gortUnset);
  gortCompileFlags.forEach(function (f) { gortV8.setFlagsFromString('--no-' + f); });
  Module['preRun'] = [].concat(Module['preRun'] || [], function () {
    // Both default to on from V8 11 (Node 20); older V8s keep them off.
    if (parseInt(process.versions.v8, 10) >= 11)
      gortCompileFlags.forEach(function (f) { gortV8.setFlagsFromString('--' + f); });
  });
  if (gortUnset('lazy-feedback-allocation'))
    gortV8.setFlagsFromString('--no-lazy-feedback-allocation');
}
