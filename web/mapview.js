// mapview.js — where the page's heap map is drawn: in a worker of its own
// (mapworker.js) on an OffscreenCanvas the page's <canvas> hands over, so
// that reading the page table and painting it take nothing from the main
// thread's frame; or, where the browser cannot (no transferControlToOffscreen,
// no module workers, no 2D context in a worker) or the page's URL asks for
// it (?draw=main), on the main thread with Canvas2D, as a HeapMap drawn in
// the page's own frame. Both give app.js one surface (MapView below).

import { HeapMap } from './heapmap.js';

// The width the map is drawn at before the canvas is laid out.
const DEFAULT_WIDTH = 900;

/**
 * What app.js drives, wherever the map is drawn.
 * @typedef {object} MapView
 * @property {'worker' | 'main'} drawing where the map is drawn
 * @property {'fill' | 'class' | 'collector'} mode
 * @property {boolean} flashes
 * @property {number | null} highlightClass the size class lit, the others dimmed
 * @property {{ kind: string, arena?: number, base?: number, page?: number }} level the level shown
 * @property {{ shaded: number, assisted: number, drawnShade: number, drawnAssist: number }} flashStats
 * @property {number} arenaCount arenas of the last read
 * @property {boolean} settled every click and zoom asked for has been answered
 * @property {(settings: object) => void} set mode, flashes, highlightClass, width, paused
 * @property {(level: object) => void} zoom
 * @property {(fx: number, fy: number) => void} click where across and down the map, 0 to 1 each
 * @property {() => object[]} classTable per size class: spans, pages, objects, tail waste
 * @property {() => number} frame the main thread's share of a frame: bytes it read
 * @property {() => number} takeMessageMs ms the main thread spent on the worker's messages since the last call
 * @property {() => Promise<Blob>} toBlob the map as PNG
 */

/**
 * The map on the main thread: a HeapMap drawn in the page's frame, its
 * canvas's clicks and width passed to it.
 */
class MainThreadMap extends HeapMap {
  drawing = 'main';
  settled = true;
  takeMessageMs() { return 0; }
}

/**
 * The main thread's side of a map drawn in mapworker.js: settings, zooms
 * and clicks are posted to it; what it posts back (each frame's cost and
 * flashes, the size classes' rows, zooms, what a click selected) is kept
 * for app.js to read and passed to its callbacks.
 */
class WorkerMap {
  drawing = 'worker';
  mode = 'fill';
  flashes = true;
  highlightClass = null;
  level = { kind: 'heap' };
  flashStats = { shaded: 0, assisted: 0, drawnShade: 0, drawnAssist: 0 };
  arenaCount = 0;
  rows = [];
  // Clicks and zooms posted and not yet answered; PNG requests by id.
  pending = 0;
  blobs = new Map();
  nextBlob = 0;
  messageMs = 0;

  /** settings: those the worker started with. */
  constructor(worker, settings, { onSelect, onZoom, onFrame }) {
    this.worker = worker;
    this.keep(settings);
    this.callbacks = { onSelect, onZoom, onFrame };
    worker.addEventListener('message', (e) => this.receive(e.data));
    worker.addEventListener('error', (e) => console.error(`the heap map's worker: ${e.message}`));
  }

  /** The settings app.js reads back. */
  keep(settings) {
    for (const k of ['mode', 'flashes', 'highlightClass']) if (k in settings) this[k] = settings[k];
  }

  get settled() { return this.pending === 0; }

  receive(m) {
    const t0 = performance.now();
    if (m.type === 'frame') {
      this.flashStats = m.flash;
      if (m.classes) { this.rows = m.classes; this.arenaCount = m.arenas; }
      this.callbacks.onFrame(m);
    } else if (m.type === 'select') {
      this.callbacks.onSelect(m.details);
    } else if (m.type === 'zoom') {
      this.level = m.level;
      this.callbacks.onZoom(m.level);
    } else if (m.type === 'done') {
      this.pending--;
    } else if (m.type === 'png') {
      this.blobs.get(m.id)?.(m.blob);
      this.blobs.delete(m.id);
    }
    this.messageMs += performance.now() - t0;
  }

  set(settings) {
    this.keep(settings);
    this.worker.postMessage({ type: 'set', settings });
  }

  zoom(level) {
    this.pending++;
    this.worker.postMessage({ type: 'zoom', level });
  }

  click(fx, fy) {
    this.pending++;
    this.worker.postMessage({ type: 'click', fx, fy });
  }

  classTable() { return this.rows; }

  // The worker draws in its own loop: nothing of the map is left for the page's frame.
  frame() { return 0; }

  takeMessageMs() {
    const ms = this.messageMs;
    this.messageMs = 0;
    return ms;
  }

  toBlob() {
    const id = this.nextBlob++;
    return new Promise((resolve) => {
      this.blobs.set(id, resolve);
      this.worker.postMessage({ type: 'png', id });
    });
  }
}

/** Why this browser cannot draw the map in a worker, or null when it can. */
function workerDrawingMissing() {
  if (typeof HTMLCanvasElement.prototype.transferControlToOffscreen != 'function') return 'this browser cannot hand a canvas to a worker (no transferControlToOffscreen)';
  if (typeof OffscreenCanvas != 'function') return 'this browser has no OffscreenCanvas';
  return null;
}

/**
 * Starts mapworker.js drawing on canvas. Resolves with the worker once it
 * is ready to draw, or with why it cannot and whether canvas was handed
 * over (then the caller must replace it: it cannot draw here again).
 */
function startWorker(canvas, handle, settings) {
  let moduleType = false;
  // A browser without module workers never reads the type it was asked for.
  const worker = new Worker(new URL('./mapworker.js', import.meta.url), { get type() { moduleType = true; return 'module'; } });
  if (!moduleType) {
    worker.terminate();
    return Promise.resolve({ why: 'this browser has no module workers' });
  }
  const offscreen = canvas.transferControlToOffscreen();
  return new Promise((resolve) => {
    const failed = (why) => { worker.terminate(); resolve({ why, transferred: true }); };
    const onError = (e) => { e.preventDefault(); failed(`the map's worker did not start: ${e.message || 'its script failed to load'}`); };
    worker.addEventListener('error', onError);
    worker.addEventListener('message', function first(e) {
      worker.removeEventListener('message', first);
      worker.removeEventListener('error', onError);
      if (e.data.type === 'ready') resolve({ worker });
      else failed(e.data.why);
    });
    worker.postMessage({ type: 'start', canvas: offscreen, handle, settings }, [offscreen]);
  });
}

/**
 * Passes view the canvas's clicks, as fractions of its drawn box (the same
 * wherever the map is drawn, whatever size its bitmap has), and its width.
 */
function wire(canvas, view, width) {
  canvas.addEventListener('click', (e) => {
    const r = canvas.getBoundingClientRect();
    view.click((e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height);
  });
  // The map is drawn as wide as the canvas is laid out (a worker cannot
  // ask); its height follows what is drawn, so only a new width counts.
  new ResizeObserver(() => {
    if (canvas.clientWidth && canvas.clientWidth !== width) view.set({ width: (width = canvas.clientWidth) });
  }).observe(canvas);
}

/**
 * The map on canvas, read through reader: in a worker unless where is
 * 'main' or the browser cannot. Resolves with the MapView and, when it
 * draws on the main thread without being asked to, why.
 * @param {HTMLCanvasElement} canvas
 * @param {import('gort').HeapMapReader} reader
 * @param {{ where: 'worker' | 'main', settings: object, onSelect: Function, onZoom: Function, onFrame: Function }} options
 * @returns {Promise<{ view: MapView, why: string | null }>}
 */
export async function openMapView(canvas, reader, { where, settings: asked, onSelect, onZoom, onFrame }) {
  const settings = { ...asked, width: canvas.clientWidth || DEFAULT_WIDTH };
  let why = where === 'main' ? null : workerDrawingMissing();
  if (where !== 'main' && !why) {
    const started = await startWorker(canvas, reader.handle, settings);
    if (started.worker) {
      const view = new WorkerMap(started.worker, settings, { onSelect, onZoom, onFrame });
      wire(canvas, view, settings.width);
      return { view, why: null };
    }
    why = started.why;
    if (started.transferred) {
      const fresh = canvas.cloneNode(false);
      canvas.replaceWith(fresh);
      canvas = fresh;
    }
  }
  const view = new MainThreadMap(canvas, reader, { onSelect, onZoom, onFrame });
  view.set(settings);
  wire(canvas, view, settings.width);
  return { view, why };
}
