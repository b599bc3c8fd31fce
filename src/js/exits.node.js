// exits.node.js — Node tells a thread when a worker it made exits, and no
// one else: the thread that imports the package hears every worker it makes
// from then on (a pool is often made before a runtime starts), and tells the
// runtimes watching, whose attached worker, terminated from outside, never
// detached: they clean up after it.

const watchers = new Set();
process.on('worker', (worker) => {
  // Read now: a worker that has exited says -1.
  const id = worker.threadId;
  worker.once('exit', () => { for (const ended of watchers) ended(id); });
});

/** Calls ended(threadId) for each worker thread of this thread's that exits; returns the function that stops. */
export function watchWorkerExits(ended) {
  watchers.add(ended);
  return () => watchers.delete(ended);
}
