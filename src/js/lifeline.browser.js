// lifeline.browser.js — how a page's runtime learns that a Web Worker
// attached to it has ended without detaching. A terminate() from outside
// runs nothing in the worker, and no event tells the page; but the browser
// lets go of the Web Locks a terminated worker held. So each attached worker
// holds a lock named after itself (its lifeline) from attach to detach, and
// says so on a BroadcastChannel of its runtime; the page, hearing it, asks
// for the same lock, which it gets once the worker has detached or ended,
// and then cleans up after it if it never detached (runtime.js).

/** The lock an attached worker holds while it is attached. */
function lifelineName(runtimeId, workerId) {
  return `gort:${runtimeId}:worker:${workerId}`;
}

function channelName(runtimeId) {
  return `gort:${runtimeId}:lifelines`;
}

/** Whether this realm has what lifelines take (Web Locks and BroadcastChannel). */
function canHoldLifelines() {
  return typeof navigator != 'undefined' && !!navigator.locks && typeof BroadcastChannel == 'function';
}

/**
 * Worker side: takes the worker's lifeline and tells the page. Resolves with
 * the function that lets it go (detach), or with null where the browser has
 * no Web Locks (then the page cannot clean up after a terminated worker).
 */
export async function holdLifeline(runtimeId, workerId) {
  if (!canHoldLifelines()) return null;
  let release = null;
  await new Promise((held, failed) => {
    navigator.locks.request(lifelineName(runtimeId, workerId), () => {
      held();
      return new Promise((resolve) => { release = resolve; });
    }).catch(failed);
  });
  // Posted only once the lock is held: the page's request then waits for it.
  const channel = new BroadcastChannel(channelName(runtimeId));
  channel.postMessage({ attached: workerId });
  channel.close();
  return release;
}

/**
 * Page side: calls ended(workerId) once each worker that says it attached
 * has let its lifeline go (detached, or ended). Returns the function that
 * stops watching.
 */
export function watchLifelines(runtimeId, ended) {
  if (!canHoldLifelines()) return () => {};
  const channel = new BroadcastChannel(channelName(runtimeId));
  const stop = new AbortController();
  channel.onmessage = ({ data }) => {
    const workerId = data?.attached;
    if (!Number.isInteger(workerId) || workerId <= 0) return;
    navigator.locks.request(lifelineName(runtimeId, workerId), { signal: stop.signal }, () => ended(workerId))
      .catch(() => { /* stopped watching */ });
  };
  return () => {
    channel.close();
    stop.abort();
  };
}
