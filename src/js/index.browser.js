// index.browser.js — the package's entry point in browsers (and what
// bundlers pick through the "browser" export condition): the ES module glue
// of the module, its pthread worker file and its .wasm, found beside this
// file unless options.wasmURL or options.workerURL say otherwise, or beside
// the glue of a user's module (options.module). The files
// are named with literal `new URL('...', import.meta.url)` expressions so
// that bundlers see them and ship them with the bundle.
import createGortModule from './wasm/web/gort.mjs';
import { startWith } from './runtime.js';
import { watchLifelines } from './lifeline.browser.js';

// The glue as a file of its own: each pool worker imports it by this URL
// (Emscripten's worker file otherwise imports './gort.mjs' beside itself,
// which is wrong as soon as the worker file is moved with workerURL).
// What a browser that does not say how many CPUs it has is taken to have.
const ASSUMED_CPUS = 2;
const PACKAGE_FILES = {
  glue: new URL('./wasm/web/gort.mjs', import.meta.url),
  wasm: new URL('./wasm/web/gort.wasm', import.meta.url),
  worker: new URL('./wasm/web/gort.worker.js', import.meta.url),
};

const WASM_MIME_TYPE = 'application/wasm';

function mimeTypeOf(response) {
  return (response.headers.get('Content-Type') ?? '').split(';')[0].trim().toLowerCase();
}

/** The files of a user's module whose ES module glue is at url: <stem>.mjs, <stem>.wasm, <stem>.worker.js. */
function moduleFiles(url) {
  const glue = new URL(url, location.href);
  const name = glue.pathname.slice(glue.pathname.lastIndexOf('/') + 1);
  if (!name.endsWith('.mjs')) {
    throw new TypeError(`gort: options.module must name a module's web glue (<name>/web/<name>.mjs), not ${glue}`);
  }
  const stem = name.slice(0, -'.mjs'.length);
  return { glue, wasm: new URL(`${stem}.wasm`, glue), worker: new URL(`${stem}.worker.js`, glue) };
}

function loaderFor(options) {
  const own = options.module !== undefined;
  const files = own ? moduleFiles(options.module) : PACKAGE_FILES;
  return {
    glue: own ? files.glue.href : null,
    async compile() {
      const url = new URL(options.wasmURL ?? files.wasm, location.href);
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

    async createModule(settings) {
      let create = createGortModule;
      if (own) {
        try {
          create = (await import(files.glue.href)).default;
        } catch (e) {
          throw new Error(`gort: cannot load the module's glue ${files.glue}: ${e.message}`, { cause: e });
        }
      }
      // The glue keeps this very object as its Module: the pool's workers are
      // in its PThread once the factory returns.
      const moduleSettings = { ...settings, mainScriptUrlOrBlob: files.glue.href };
      const ready = create(moduleSettings);
      return failOnWorkerLoadError(moduleSettings, ready);
    },

    locate(path) {
      if (path.endsWith('.worker.js')) return new URL(options.workerURL ?? files.worker, location.href).href;
      return new URL(path, files.glue).href;
    },

    cpus() { return navigator.hardwareConcurrency || ASSUMED_CPUS; },

    watchWorkers: watchLifelines,
  };
}

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
      const file = module.locateFile('.worker.js', '');
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
export function start(options = {}) {
  return startWith(loaderFor(options), options);
}

export * from './api.js';
