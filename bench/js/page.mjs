// The page of bench/js.mjs's browser rows: starts a runtime of the package's
// browser build and runs the portable measures (measures.mjs) between its
// main thread, module Web Workers (party.browser.mjs) and its goroutines,
// one at a time, as bench/js.mjs asks through window.gortBench.run(name).
// The settings (sizes, Ps) come in the URL, as JSON.
import { start } from '../../dist/index.browser.js';
import { portableMeasures } from './measures.mjs';

const settings = JSON.parse(new URLSearchParams(location.search).get('settings'));
const workerEntry = new URL('../../dist/worker.browser.js', import.meta.url).href;
const party = new URL('./party.browser.mjs', import.meta.url);
const state = document.getElementById('state');

/** Starts a module worker playing role (roles.mjs). */
function spawn(role, data, transfer = []) {
  const worker = new Worker(party, { type: 'module', name: `bench-${role}` });
  const failed = new Promise((_, reject) => {
    worker.addEventListener('error', (e) => reject(new Error(`${role}: ${e.message}`)));
    worker.addEventListener('message', ({ data: m }) => { if (m?.error) reject(new Error(`${role}: ${m.error}`)); });
  });
  const ready = Promise.race([new Promise((resolve) => worker.addEventListener('message', resolve, { once: true })), failed]);
  const result = Promise.race([new Promise((resolve) => worker.addEventListener('message', ({ data: m }) => {
    if (m && typeof m == 'object' && 'result' in m) resolve(m.result);
  })), failed]);
  worker.postMessage({ role, workerEntry, end: settings.end, ...data }, transfer);
  return { worker, ready, result };
}

const rt = await start({ procs: settings.procs });
const measures = portableMeasures({ rt, spawn, ...settings });

window.gortBench = {
  ready: true,
  /** Runs the measure name once: its figure. */
  async run(name) {
    state.textContent = `measuring ${name}…`;
    const figure = await measures[name]();
    state.textContent = `${name}: ${figure}`;
    return figure;
  },
};
state.textContent = 'ready';
