// index.node.js — the package's entry point on Node: the CommonJS glue of
// the module and its .wasm, read from the package's own folder.
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startWith } from './runtime.js';

const require = createRequire(import.meta.url);
const WASM_DIR = new URL('./wasm/node/', import.meta.url);

const loader = {
  async compile(options) {
    return WebAssembly.compile(await readFile(options.wasmURL ?? new URL('gort.wasm', WASM_DIR)));
  },
  createModule(settings) {
    return require('./wasm/node/gort.js')({ ...settings, wasmBinary: new Uint8Array(0) });
  },
  locate(path, prefix, options) {
    if (path.endsWith('.worker.js') && options.workerURL) return fileURLToPath(options.workerURL);
    return fileURLToPath(new URL(path, WASM_DIR));
  },
};

/**
 * Loads the module and starts a runtime.
 * @param {import('./index').StartOptions} [options]
 * @returns {Promise<import('./index').Runtime>}
 */
export function start(options) {
  return startWith(loader, options);
}

export * from './api.js';
