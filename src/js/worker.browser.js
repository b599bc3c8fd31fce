// worker.browser.js — 'gort/worker' in a browser's (module) Web Worker:
// attach() joins a runtime whose handle the page posted.
import createGortModule from './wasm/web/gort.mjs';
import { attachWith } from './attach.js';
import { holdLifeline } from './lifeline.browser.js';

/**
 * @param {import('./index').RuntimeHandle} handle
 * @returns {Promise<import('./worker').WorkerRuntime>}
 */
export async function attach(handle) {
  // A user's module (start({ module })): its own glue, named by the handle.
  const create = handle && typeof handle.glue == 'string' ? (await import(handle.glue)).default : createGortModule;
  const wr = await attachWith(create, handle);
  // Held until detach(): the page cleans up after this worker if it is
  // terminated from outside (which runs nothing here) while attached.
  wr.onDetach(await holdLifeline(handle.runtime, wr.workerId));
  return wr;
}

export * from './api.js';
export { WorkerRuntime } from './attach.js';
