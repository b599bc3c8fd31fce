// worker.node.js — 'gort/worker' on Node (worker_threads): attach() joins a
// runtime whose handle the main thread posted.
import { createRequire } from 'node:module';
import { attachWith } from './attach.js';

const require = createRequire(import.meta.url);

/**
 * @param {import('./index').RuntimeHandle} handle
 * @returns {Promise<import('./worker').WorkerRuntime>}
 */
export function attach(handle) {
  return attachWith(require('./wasm/node/gort.js'), handle);
}

export * from './api.js';
export { WorkerRuntime } from './attach.js';
