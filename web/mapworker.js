// mapworker.js — the playground's heap map drawn off the page's main thread:
// a module worker that owns the OffscreenCanvas the page's map canvas handed
// over and a HeapMap over a reader of its own (the package's openHeapMap of
// the page's reader handle: the runtime's shared memory and its layout, no
// module loaded here), and draws in a frame loop of its own. The page
// (mapview.js) posts settings, zooms, clicks and PNG requests; the worker
// posts back each frame's cost and flashes, the size classes' rows twice a
// second, the levels zoomed to, what a click selected, and the PNG.
//
// Workers do not see the page's import map: the package's browser entry is
// imported by its URL beside the page (dist/, as npm start and a static
// host serve it).

import { openHeapMap } from './dist/index.browser.js';
import { HeapMap } from './heapmap.js';

// How often the size classes' rows are posted (the page redraws its table as often).
const ROWS_EVERY_MS = 500;
// A frame's interval where a worker has no requestAnimationFrame.
const FRAME_MS = 16;

const nextFrame = typeof self.requestAnimationFrame == 'function'
  ? (f) => self.requestAnimationFrame(f)
  : (f) => setTimeout(f, FRAME_MS);

/** @type {HeapMap | null} */
let map = null;
let rowsAt = -Infinity;

function start({ canvas, handle, settings }) {
  if (!canvas.getContext('2d')) {
    postMessage({ type: 'failed', why: 'this browser has no 2D context for a canvas in a worker' });
    return;
  }
  map = new HeapMap(canvas, openHeapMap(handle), {
    onSelect: (details) => postMessage({ type: 'select', details }),
    onZoom: (level) => postMessage({ type: 'zoom', level }),
    onFrame: ({ ms, bytes, flash }) => {
      const m = { type: 'frame', ms, bytes, flash };
      const now = performance.now();
      if (now - rowsAt >= ROWS_EVERY_MS) {
        rowsAt = now;
        m.classes = map.classTable();
        m.arenas = map.arenaCount;
      }
      postMessage(m);
    },
  });
  map.set(settings);
  postMessage({ type: 'ready' });
  nextFrame(frame);
}

function frame() {
  nextFrame(frame);
  if (!map.paused) map.frame();
}

/** Runs what the page asked for, then says it is done: the page knows when it shows. */
function answer(fn) {
  try {
    fn();
  } finally {
    postMessage({ type: 'done' });
  }
}

self.onmessage = async ({ data: m }) => {
  switch (m.type) {
    case 'start': start(m); break;
    case 'set': map.set(m.settings); break;
    case 'zoom': answer(() => map.zoom(m.level)); break;
    case 'click': answer(() => map.click(m.fx, m.fy)); break;
    case 'png': postMessage({ type: 'png', id: m.id, blob: await map.toBlob() }); break;
    default: throw new Error(`mapworker.js: no message of type '${m.type}'`);
  }
};
