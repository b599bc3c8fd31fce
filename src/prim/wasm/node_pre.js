// Runs before Emscripten's startup code in every gort wasm program. Node 18+
// defines fetch(), and Emscripten 3.1.6 then fetches the .wasm by its file
// path and fails ('Failed to parse URL'). On Node's main thread we read the
// bytes ourselves (honouring Module.locateFile); pthread workers are sent the
// compiled module by message and need nothing.
if (typeof process == 'object' && process.versions && process.versions.node &&
    !Module['wasmBinary'] && require('worker_threads').isMainThread) {
  var gortWasmName = require('path').basename(__filename).replace(/\.c?js$/, '.wasm');
  var gortWasmPath = Module['locateFile'] ? Module['locateFile'](gortWasmName, __dirname + '/')
                                          : require('path').join(__dirname, gortWasmName);
  Module['wasmBinary'] = require('fs').readFileSync(gortWasmPath);
}
