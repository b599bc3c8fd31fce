// worker.node.js — 'gort/worker' on Node (worker_threads): attach() joins a
// runtime whose handle the main thread posted.
import { createRequire } from 'node:module';
import { threadId } from 'node:worker_threads';
import { attachWith } from './attach.js';
import { watchWorkerExits } from './exits.node.js';

const require = createRequire(import.meta.url);

/**
 * @param {import('./index').RuntimeHandle} handle
 * @returns {Promise<import('./worker').WorkerRuntime>}
 */
export async function attach(handle) {
  // A user's module (start({ module })): its own glue, named by the handle.
  const glue = handle && typeof handle.glue == 'string' ? handle.glue : './wasm/node/gort.js';
  // The thread's id names it to the thread that made it, whose runtime cleans
  // up after it when it exits without detaching (a terminate() from outside
  // runs nothing in the worker).
  const wr = await attachWith(require(glue), handle, threadId);
  // A worker whose script runs to its end (or calls process.exit()) detaches
  // on its way out: its thread and handles go back to the runtime.
  const detachOnExit = () => wr.detach();
  process.once('exit', detachOnExit);
  wr.onDetach(() => process.off('exit', detachOnExit));
  // This worker's own workers, attached and terminated, are cleaned up after here.
  wr.onDetach(watchWorkerExits((id) => wr.workerEnded(id)));
  return wr;
}

export * from './api.js';
export { WorkerRuntime } from './attach.js';
