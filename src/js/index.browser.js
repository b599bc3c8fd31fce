// index.browser.js — the package's entry point in browsers (and what
// bundlers pick through the "browser" export condition): the ES module glue
// of the module, its pthread worker file and its .wasm, found beside this
// file unless options.wasmURL or options.workerURL say otherwise. The files
// are named with literal `new URL('...', import.meta.url)` expressions so
// that bundlers see them and ship them with the bundle.
import createGortModule from './wasm/web/gort.mjs';
import { startWith } from './runtime.js';

// The glue as a file of its own: each pool worker imports it by this URL
// (Emscripten's worker file otherwise imports './gort.mjs' beside itself,
// which is wrong as soon as the worker file is moved with workerURL).
const GLUE_URL = new URL('./wasm/web/gort.mjs', import.meta.url);
const WASM_URL = new URL('./wasm/web/gort.wasm', import.meta.url);
const WORKER_URL = new URL('./wasm/web/gort.worker.js', import.meta.url);

const WASM_MIME_TYPE = 'application/wasm';

function mimeTypeOf(response) {
  return (response.headers.get('Content-Type') ?? '').split(';')[0].trim().toLowerCase();
}

const loader = {
  async compile(options) {
    const url = new URL(options.wasmURL ?? WASM_URL, location.href);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`gort: fetching ${url} failed: ${response.status} ${response.statusText}`);
    // compileStreaming compiles while the bytes arrive, but only accepts a
    // response served as application/wasm; many static hosts serve .wasm
    // as application/octet-stream, whose bytes compile just as well.
    if (typeof WebAssembly.compileStreaming == 'function' && mimeTypeOf(response) === WASM_MIME_TYPE) {
      return WebAssembly.compileStreaming(response);
    }
    return WebAssembly.compile(await response.arrayBuffer());
  },

  createModule(settings) {
    // The glue keeps this very object as its Module: the pool's workers are
    // in its PThread once the factory returns.
    const moduleSettings = { ...settings, mainScriptUrlOrBlob: GLUE_URL.href };
    const ready = createGortModule(moduleSettings);
    return failOnWorkerLoadError(moduleSettings, ready);
  },

  locate(path, prefix, options) {
    if (path.endsWith('.worker.js')) return new URL(options.workerURL ?? WORKER_URL, location.href).href;
    return new URL(path, GLUE_URL).href;
  },
};

/**
 * The glue's Promise settles only when every pool worker has loaded; a
 * worker file that cannot be fetched (a wrong workerURL, a missing file, a
 * host that serves it with a type that is not JavaScript) would leave it
 * pending forever. An 'error' event from a pool worker before the module is
 * ready rejects instead, naming the file, and ends the pool.
 */
function failOnWorkerLoadError(module, ready) {
  const workers = module.PThread ? [...module.PThread.unusedWorkers] : [];
  let onError;
  const failed = new Promise((_, reject) => {
    onError = (event) => {
      // Emscripten's own handler (set later, so it runs after this one)
      // rethrows the event as an uncaught error on the page.
      event.stopImmediatePropagation();
      event.preventDefault();
      for (const w of workers) w.terminate();
      const file = module.locateFile('gort.worker.js', '');
      reject(new Error(event.message
        ? `gort: a thread of the runtime failed while loading (${file}): ${event.message}`
        : `gort: a thread of the runtime could not load its worker file ${file} ` +
          '(check workerURL, and that the file is served as text/javascript from this origin)'));
    };
  });
  for (const w of workers) w.addEventListener('error', onError);
  return Promise.race([ready, failed]).finally(() => {
    for (const w of workers) w.removeEventListener('error', onError);
  });
}

/**
 * Loads the module and starts a runtime. The page must be cross-origin
 * isolated (served with Cross-Origin-Opener-Policy: same-origin and
 * Cross-Origin-Embedder-Policy: require-corp): otherwise this rejects at once
 * with NotIsolatedError.
 * @param {import('./index').StartOptions} [options]
 * @returns {Promise<import('./index').Runtime>}
 */
export function start(options) {
  return startWith(loader, options);
}

export * from './api.js';
