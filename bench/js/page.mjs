// The page of bench/js.mjs's browser rows: starts a runtime of the package's
// browser build and runs the portable measures (measures.mjs) between its
// main thread, module Web Workers (party.browser.mjs) and its goroutines,
// and the stall measures (on it and on a second runtime with start()'s
// default procs), one at a time, as bench/js.mjs asks through
// window.gortBench.run(name).
// The settings (sizes, Ps) come in the URL, as JSON.
import { start } from '../../dist/index.browser.js';
import { partyOf, portableMeasures, stallMeasures } from './measures.mjs';

const settings = JSON.parse(new URLSearchParams(location.search).get('settings'));
const workerEntry = new URL('../../dist/worker.browser.js', import.meta.url).href;
const party = new URL('./party.browser.mjs', import.meta.url);
const state = document.getElementById('state');

/** Starts a module worker playing role (roles.mjs). */
function spawn(role, data, transfer = []) {
  const worker = new Worker(party, { type: 'module', name: `bench-${role}` });
  const started = partyOf(worker, role, (fn) => worker.addEventListener('message', ({ data: m }) => fn(m)),
    (fn) => worker.addEventListener('error', (e) => fn(new Error(`${role}: ${e.message}`))));
  worker.postMessage({ role, workerEntry, end: settings.end, ...data }, transfer);
  return started;
}

// The event loop's delay in a page: how late an interval timer of
// PROBE_MS fires (browsers clamp a repeating timer to 4 ms: the idle row
// shows that floor).
const PROBE_MS = 1;
function timerLateness() {
  let timer = 0, last = 0, latest = 0;
  const tick = () => {
    const now = performance.now();
    latest = Math.max(latest, now - last - PROBE_MS);
    last = now;
  };
  return {
    start() {
      last = performance.now();
      timer = setInterval(tick, PROBE_MS);
    },
    stop() {
      clearInterval(timer);
      tick();
      return latest;
    },
  };
}

const rt = await start({ procs: settings.procs });
// The stall rows' other runtime: start()'s default procs, which leave the main thread a core.
const spareRt = await start();
const measures = {
  ...portableMeasures({ rt, spawn, ...settings }),
  ...stallMeasures({ rt, spareRt, churnTrees: settings.churnTrees, loopDelay: timerLateness }),
};

window.gortBench = {
  ready: true,
  /** Runs the measure name once: its figure. */
  async run(name) {
    state.textContent = `measuring ${name}…`;
    const figure = await measures[name]();
    state.textContent = `${name}: ${JSON.stringify(figure)}`;
    return figure;
  },
};
state.textContent = 'ready';
