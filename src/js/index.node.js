// index.node.js — the package's entry point on Node: the CommonJS glue of a
// module and its .wasm, read from the package's own folder, or from the
// folder of a module of the user's (options.module, built with
// gort_wasm_module).
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import * as os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWith } from './runtime.js';
import { watchWorkerExits } from './exits.node.js';

const require = createRequire(import.meta.url);
const PACKAGE_GLUE = fileURLToPath(new URL('./wasm/node/gort.js', import.meta.url));

/** A path from a path or a file: URL (string or URL). */
function pathOf(where) {
  if (where instanceof URL) return fileURLToPath(where);
  const s = String(where);
  return s.startsWith('file:') ? fileURLToPath(s) : resolve(s);
}

/** The files of the module whose CommonJS glue is at `glue`: <stem>.js, <stem>.wasm, <stem>.worker.js. */
function moduleFiles(glue) {
  if (!glue.endsWith('.js')) {
    throw new TypeError(`gort: options.module must name a module's Node glue (<name>/node/<name>.js), not ${glue}`);
  }
  const dir = dirname(glue);
  return { glue, dir, wasm: join(dir, `${basename(glue, '.js')}.wasm`) };
}

function loaderFor(options) {
  const files = moduleFiles(options.module !== undefined ? pathOf(options.module) : PACKAGE_GLUE);
  return {
    glue: options.module !== undefined ? files.glue : null,
    async compile() {
      return WebAssembly.compile(await readFile(options.wasmURL !== undefined ? pathOf(options.wasmURL) : files.wasm));
    },
    createModule(settings) {
      let factory;
      try {
        factory = require(files.glue);
      } catch (e) {
        throw new Error(`gort: cannot load the module's glue ${files.glue}: ${e.message}`, { cause: e });
      }
      return factory({ ...settings, wasmBinary: new Uint8Array(0) });
    },
    locate(path) {
      if (path.endsWith('.worker.js') && options.workerURL !== undefined) return pathOf(options.workerURL);
      return join(files.dir, path);
    },
    // os.availableParallelism came with Node 18.14.
    cpus: () => (os.availableParallelism ? os.availableParallelism() : os.cpus().length),
    // The runtime's watch over this thread's workers.
    watchWorkers: (runtimeId, ended) => watchWorkerExits(ended),
  };
}

/**
 * Loads the module and starts a runtime.
 * @param {import('./index').StartOptions} [options]
 * @returns {Promise<import('./index').Runtime>}
 */
export function start(options = {}) {
  return startWith(loaderFor(options), options);
}

export * from './api.js';
