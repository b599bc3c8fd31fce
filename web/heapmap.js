// heapmap.js — the heap map: every arena a row, every page a pixel of one
// image (512 pages x up to 256 arenas), drawn scaled on a canvas. Three
// levels: the whole heap, one arena (its pages as a grid with span
// borders), one span (its objects). Three modes: fill (how full each span
// is; pointerful, pointer-free and large spans in three hues), class (the
// span's size class) and collector (each object's colour: white, grey,
// black, from the span's mark and scan bits; unswept spans apart). Over
// any mode, flashes: pages where the write barrier shaded an object or an
// assist scanned since the last frame light up and fade (the runtime's
// per-page work counters).
//
// Everything here reads the heap through the package's HeapMapReader,
// which copies shared memory and never calls into the module, and touches
// no DOM: the same HeapMap draws on the page's canvas or, in a worker
// (mapworker.js), on the OffscreenCanvas the page's canvas handed over.
// Whoever owns it says how wide it is drawn and where it was clicked.

// Okabe-Ito hues (distinguishable with the common colour-vision deficiencies).
const HUE = {
  scan: [0, 114, 178],      // blue: spans whose objects hold pointers
  noscan: [230, 159, 0],    // orange: pointer-free spans
  large: [204, 121, 167],   // purple: large objects (size class 0)
};
const FREE_PAGE = [40, 46, 56];
const NO_ARENA = [24, 27, 33];
// Collector colours: luminance alone tells white, grey and black apart.
export const COLLECTOR = {
  free: [70, 96, 120],
  white: [250, 250, 250],
  grey: [150, 150, 150],
  black: [0, 0, 0],
  unswept: [213, 94, 0],   // vermillion: spans the sweeper has not reached
};
// Flashes: where the write barrier shaded a white object, where an assist
// scanned (Okabe-Ito yellow and bluish green: apart from every map colour).
export const FLASH = {
  shade: [240, 228, 66],
  assist: [0, 158, 115],
};
// How long a flash takes to fade, and its strongest opacity.
const FLASH_MS = 900;
const FLASH_ALPHA = 0.95;
const DIMMED_ALPHA = 0.22;
// Milliseconds of span scanning (span bits read) a frame spends in collector mode.
const SCAN_BUDGET_MS = 4;
const ARENA_COLUMNS = 32;
// Milliseconds a frame spends painting rows of the heap image.
const PAINT_BUDGET_MS = 6;

// What set() changes.
const SETTINGS = ['mode', 'flashes', 'highlightClass', 'width', 'paused'];

const mix = (a, b, t) => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];

/** A canvas to paint an image on before it is drawn scaled: off the DOM where the browser allows. */
function scratchCanvas() {
  return typeof OffscreenCanvas == 'function' ? new OffscreenCanvas(1, 1) : document.createElement('canvas');
}

/** A colour per size class (for class mode): hues around the wheel, lightness alternating. */
function classColour(sizeclass) {
  if (sizeclass === 0) return HUE.large;
  const h = (sizeclass * 137.508) % 360;
  const l = sizeclass % 2 ? 0.62 : 0.45;
  const c = (1 - Math.abs(2 * l - 1)) * 0.75;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
}

export class HeapMap {
  /**
   * @param {HTMLCanvasElement | OffscreenCanvas} canvas
   * @param {import('gort').HeapMapReader} reader
   * @param {{ onSelect?: (details: object | null) => void, onZoom?: (level: object) => void,
   *   onFrame?: (frame: { ms: number, bytes: number, flash: object }) => void }} [callbacks]
   *   onSelect: what the info panel shows after a click or a zoom (null: nothing);
   *   onZoom: the level zoomed to; onFrame: each frame's cost and flashes
   */
  constructor(canvas, reader, { onSelect, onZoom, onFrame } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.reader = reader;
    this.onSelect = onSelect ?? (() => {});
    this.onZoom = onZoom ?? (() => {});
    this.onFrame = onFrame ?? (() => {});
    // The width (CSS pixels) the map is drawn at: its owner's to tell.
    this.width = 900;
    this.paused = false;
    this.mode = 'fill';
    this.level = { kind: 'heap' };
    this.highlightClass = null;
    this.snapshot = null;
    this.image = null;
    this.spanColours = new Map(); // span base -> { colours, elemsize }
    this.dirtyArenas = new Set(); // arenas whose spans' bits were read since the image was painted
    this.rowKeys = [];
    this.scanCursor = 0;
    this.paintCursor = 0; // the row the next paint starts at
    this.selectedObject = null;
    this.flashes = true;
    this.shadeAt = []; // per arena, per page: when the barrier last shaded there (performance.now())
    this.assistAt = [];
    // Pages seen flashing since the page loaded, and cells drawn flashing in the last frame.
    this.flashStats = { shaded: 0, assisted: 0, drawnShade: 0, drawnAssist: 0 };
  }

  /** Changes any of mode, flashes, highlightClass, width and paused; other names are ignored. */
  set(settings) {
    // Span bits scanned in one mode are not kept for the next.
    if (settings.mode !== undefined && settings.mode !== this.mode) this.spanColours.clear();
    for (const k of SETTINGS) if (k in settings) this[k] = settings[k];
  }

  /** The arenas of the last read. */
  get arenaCount() { return this.snapshot?.arenas.length ?? 0; }

  /**
   * One frame of the map: reads what changed, the collector's work for the
   * flashes and (collector colour) span bits within a budget, and draws.
   * Tells onFrame its cost; returns the bytes it read.
   */
  frame() {
    const t0 = performance.now();
    let bytes = this.read();
    if (this.flashes) bytes += this.readWork();
    if (this.mode === 'collector' && this.level.kind !== 'span') bytes += this.scanSpans();
    bytes += this.draw();
    this.onFrame({ ms: performance.now() - t0, bytes, flash: this.flashStats });
    return bytes;
  }

  /** The map as a PNG file. */
  toBlob() {
    const { canvas } = this;
    if (typeof canvas.convertToBlob == 'function') return canvas.convertToBlob({ type: 'image/png' });
    return new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  }

  /** Reads the page table (changed arenas only). Returns the bytes copied. */
  read() {
    const before = this.snapshot ? this.snapshot.arenas.map((a) => a.gen) : [];
    this.snapshot = this.reader.read();
    let bytes = 0;
    this.snapshot.arenas.forEach((a, i) => { if (a.gen !== before[i] && a.bytes) bytes += a.bytes.length; });
    if (bytes || this.snapshot.sweepgen !== this.listedSweepgen || this.snapshot.arenas.length !== before.length) this.list = null;
    return bytes;
  }

  /** Reads which pages the collector worked on since the last frame (the flashes). Returns bytes read. */
  readWork() {
    const work = this.reader.work();
    const now = performance.now();
    const pages = this.reader.pagesPerArena;
    work.arenas.forEach((flags, a) => {
      this.shadeAt[a] ??= new Float64Array(pages).fill(-Infinity);
      this.assistAt[a] ??= new Float64Array(pages).fill(-Infinity);
      for (let p = 0; p < pages; p++) {
        if (flags[p] & 1) this.shadeAt[a][p] = now;
        if (flags[p] & 2) this.assistAt[a][p] = now;
      }
    });
    this.flashStats.shaded += work.shaded;
    this.flashStats.assisted += work.assisted;
    return work.arenas.length * pages * this.reader.L.workSize;
  }

  /**
   * Paints the fading flashes over the whole-heap view: one pixel per page
   * in an image of its own, drawn scaled over the map in one call (a
   * rectangle per lit page costs milliseconds on a large heap).
   */
  drawHeapFlashes(width, rows, w, h) {
    const stats = this.flashStats;
    stats.drawnShade = stats.drawnAssist = 0;
    if (!this.flashes) return;
    if (!this.flashImage || this.flashImage.width !== width || this.flashImage.height !== rows) this.flashImage = new ImageData(width, rows);
    const px = this.flashImage.data;
    px.fill(0);
    const now = performance.now();
    const alpha = (at) => { const age = now - at; return age < FLASH_MS ? FLASH_ALPHA * (1 - age / FLASH_MS) : 0; };
    for (let a = 0; a < Math.min(rows, this.shadeAt.length); a++) {
      const shade = this.shadeAt[a], assist = this.assistAt[a];
      for (let p = 0; p < width; p++) {
        // A page with both shows the barrier's flash.
        let x = alpha(shade[p]), c = FLASH.shade;
        if (x > 0) stats.drawnShade++;
        else if ((x = alpha(assist[p])) > 0) { c = FLASH.assist; stats.drawnAssist++; } else continue;
        const o = (a * width + p) * 4;
        px[o] = c[0]; px[o + 1] = c[1]; px[o + 2] = c[2]; px[o + 3] = Math.round(255 * x);
      }
    }
    if (!stats.drawnShade && !stats.drawnAssist) return;
    this.flashScratch ??= scratchCanvas();
    this.drawScaled(this.flashScratch, this.flashImage, w, h);
  }

  /**
   * Paints the fading flashes over the drawn map: cell(arena, page) gives a
   * page's rectangle [x, y, w, h] or null when it is not shown.
   */
  drawFlashes(cell) {
    this.flashStats.drawnShade = 0;
    this.flashStats.drawnAssist = 0;
    if (!this.flashes) return;
    const { ctx } = this;
    const now = performance.now();
    const paint = (at, colour, arena, counter) => {
      for (let p = 0; p < at.length; p++) {
        const age = now - at[p];
        if (!(age < FLASH_MS)) continue;
        const r = cell(arena, p);
        if (!r) continue;
        ctx.fillStyle = `rgba(${colour},${(FLASH_ALPHA * (1 - age / FLASH_MS)).toFixed(3)})`;
        ctx.fillRect(r[0], r[1], r[2], r[3]);
        this.flashStats[counter]++;
      }
    };
    for (let a = 0; a < this.shadeAt.length; a++) {
      if (this.assistAt[a]) paint(this.assistAt[a], FLASH.assist, a, 'drawnAssist');
      if (this.shadeAt[a]) paint(this.shadeAt[a], FLASH.shade, a, 'drawnShade');
    }
  }

  /** Every span start of the heap: { arena, page, rec, base }. */
  *spans() {
    const { pageSize } = this.reader;
    for (const a of this.snapshot?.arenas ?? []) {
      if (!a.bytes) continue;
      const { L } = this.reader;
      for (let i = 0; i < this.reader.pagesPerArena; i++) {
        if (a.bytes[i * L.pageRecordSize + L.pageState] !== L.pageSpanStart) continue;
        const rec = this.reader.page(a, i, this.snapshot.sweepgen);
        yield { arena: a, page: i, rec, base: a.base + i * pageSize };
        i += Math.max(1, rec.npages) - 1;
      }
    }
  }

  /** The span starts of the heap, listed again only when the page table changed. */
  spanList() {
    if (!this.list) {
      this.list = [...this.spans()];
      this.listedSweepgen = this.snapshot?.sweepgen;
    }
    return this.list;
  }

  /** Per size class: spans, objects in use, capacity, tail waste (bytes). */
  classTable() {
    const rows = new Map();
    const { pageSize } = this.reader;
    for (const { rec } of this.spanList()) {
      let r = rows.get(rec.sizeclass);
      if (!r) rows.set(rec.sizeclass, r = { sizeclass: rec.sizeclass, elemsize: rec.sizeclass === 0 ? null : rec.elemsize, spans: 0, pages: 0, inuse: 0, nelems: 0, tail: 0, noscan: 0 });
      r.spans++;
      r.pages += rec.npages;
      r.inuse += rec.inuse;
      r.nelems += rec.nelems;
      if (rec.noscan) r.noscan++;
      if (rec.sizeclass !== 0) r.tail += rec.npages * pageSize - rec.nelems * rec.elemsize;
    }
    return [...rows.values()].sort((a, b) => a.sizeclass - b.sizeclass);
  }

  /** Scans span bits for collector mode within a time budget, round-robin. Returns bytes read. */
  scanSpans() {
    const list = this.level.kind === 'arena'
      ? this.spanList().filter((s) => s.arena.index === this.level.arena)
      : this.spanList();
    if (list.length === 0) return 0;
    const until = performance.now() + SCAN_BUDGET_MS;
    let bytes = 0;
    for (let k = 0; k < list.length && performance.now() < until; k++) {
      const s = list[(this.scanCursor + k) % list.length];
      const obj = this.reader.span(s.base);
      this.dirtyArenas.add(s.arena.index);
      if (obj) {
        this.spanColours.set(s.base, { colours: obj.colors, elemsize: obj.elemsize });
        bytes += Math.ceil(obj.nelems / 8) * 3;
      } else {
        this.spanColours.delete(s.base);
      }
      this.scanCursor = (this.scanCursor + 1) % list.length;
    }
    return bytes;
  }

  /** The colour of page i of a span starting at page `start` (rec: the start's record). */
  pageColour(rec, start, i) {
    if (this.mode === 'class') return classColour(rec.sizeclass);
    if (this.mode === 'collector') {
      if (rec.sweep === 'unswept') return COLLECTOR.unswept;
      return this.collectorColour(rec, start, i) ?? COLLECTOR.free;
    }
    const hue = rec.sizeclass === 0 ? HUE.large : rec.noscan ? HUE.noscan : HUE.scan;
    const fill = rec.nelems ? rec.inuse / rec.nelems : 0;
    return mix(FREE_PAGE, hue, 0.25 + 0.75 * fill);
  }

  collectorColour(rec, startBase, i) {
    const seen = this.spanColours.get(startBase);
    if (!seen) return null;
    const { pageSize } = this.reader;
    const { colours, elemsize } = seen;
    const first = Math.floor((i * pageSize) / elemsize);
    const last = Math.min(colours.length - 1, Math.floor(((i + 1) * pageSize - 1) / elemsize));
    let white = 0, grey = 0, black = 0;
    for (let k = first; k <= last; k++) {
      const c = colours[k];
      if (c === 1) white++; else if (c === 2) grey++; else if (c === 3) black++;
    }
    if (grey) return COLLECTOR.grey;
    if (!white && !black) return COLLECTOR.free;
    return black >= white ? COLLECTOR.black : COLLECTOR.white;
  }

  /**
   * Builds the heap image: 512 x narenas pixels, one per page. A row is
   * painted again only when its arena's copy changed, the sweep generation
   * or the view's settings moved, or (collector mode) its spans' bits were
   * read again.
   */
  heapImage() {
    const snap = this.snapshot;
    const n = Math.max(1, snap?.arenas.length ?? 0);
    const width = this.reader.pagesPerArena;
    if (!this.image || this.image.height !== n) { this.image = new ImageData(width, n); this.rowKeys = []; }
    const px = this.image.data;
    const { pageSize } = this.reader;
    const settings = `${this.mode}/${this.highlightClass}/${snap?.sweepgen}`;
    // Rows are painted from where the last frame stopped, within a budget:
    // a heap of many arenas that all change is painted over a few frames.
    const until = performance.now() + PAINT_BUDGET_MS;
    let painted = 0;
    for (let k = 0; k < n; k++) {
      const row = (this.paintCursor + k) % n;
      const a = snap?.arenas[row];
      const key = a && a.bytes ? `${a.gen}/${settings}` : 'none';
      if (this.rowKeys[row] === key && !(this.mode === 'collector' && this.dirtyArenas.has(row))) continue;
      if (painted > 0 && performance.now() > until) { this.paintCursor = row; break; }
      painted++;
      this.dirtyArenas.delete(row);
      this.rowKeys[row] = key;
      // Only a span's first page is decoded (one record object per span);
      // its other pages take the span's colour, or in collector mode their own.
      const { L } = this.reader;
      const bytes = a && a.bytes;
      let start = null, startPage = 0, spanColour = null, dim = false;
      for (let i = 0; i < width; i++) {
        let c;
        if (!bytes) c = NO_ARENA;
        else {
          const state = bytes[i * L.pageRecordSize + L.pageState];
          if (state === L.pageSpanStart) {
            start = this.reader.page(a, i, snap.sweepgen);
            startPage = i;
            spanColour = this.mode === 'collector' ? null : this.pageColour(start, 0, 0);
            dim = this.highlightClass !== null && start.sizeclass !== this.highlightClass;
          } else if (state !== L.pageSpanRest) {
            start = null;
          }
          if (!start) c = FREE_PAGE;
          else c = spanColour ?? this.pageColour(start, a.base + startPage * pageSize, i - startPage);
          if (start && dim) c = mix(FREE_PAGE, c, DIMMED_ALPHA);
        }
        const o = (row * width + i) * 4;
        px[o] = c[0]; px[o + 1] = c[1]; px[o + 2] = c[2]; px[o + 3] = 255;
      }
    }
    return this.image;
  }

  /** Paints img on the scratch canvas, then draws it scaled to w x h over the map. */
  drawScaled(scratch, img, w, h) {
    if (scratch.width !== img.width || scratch.height !== img.height) { scratch.width = img.width; scratch.height = img.height; }
    scratch.getContext('2d').putImageData(img, 0, 0);
    this.ctx.imageSmoothingEnabled = false;
    this.ctx.drawImage(scratch, 0, 0, w, h);
  }

  /** Draws the current level. Returns the bytes it read (a span's bits). */
  draw() {
    const { canvas, ctx } = this;
    const cssWidth = this.width;
    if (this.level.kind === 'heap') {
      const img = this.heapImage();
      const rowPx = Math.max(3, Math.min(32, Math.floor(560 / img.height)));
      const w = Math.round(cssWidth), h = img.height * rowPx;
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      this.scratch ??= scratchCanvas();
      this.drawScaled(this.scratch, img, w, h);
      if (rowPx >= 6) {
        ctx.strokeStyle = 'rgba(0,0,0,0.5)';
        for (let r = 1; r < img.height; r++) { ctx.beginPath(); ctx.moveTo(0, r * rowPx + 0.5); ctx.lineTo(w, r * rowPx + 0.5); ctx.stroke(); }
      }
      this.geometry = { rowPx, pagePx: w / img.width };
      this.drawHeapFlashes(img.width, img.height, w, h);
    } else if (this.level.kind === 'arena') {
      this.drawArena(cssWidth);
    } else {
      return this.drawSpan(cssWidth);
    }
    return 0;
  }

  drawArena(cssWidth) {
    const { canvas, ctx } = this;
    const a = this.snapshot?.arenas[this.level.arena];
    const cols = ARENA_COLUMNS, rows = this.reader.pagesPerArena / cols;
    const cell = Math.floor(cssWidth / cols);
    const w = cell * cols, h = cell * rows * 0.6;
    const cellH = h / rows;
    if (canvas.width !== w || canvas.height !== Math.round(h)) { canvas.width = w; canvas.height = Math.round(h); }
    ctx.fillStyle = `rgb(${NO_ARENA})`;
    ctx.fillRect(0, 0, w, h);
    if (!a || !a.bytes) return;
    const { pageSize } = this.reader;
    let start = null, startPage = 0;
    for (let i = 0; i < this.reader.pagesPerArena; i++) {
      const rec = this.reader.page(a, i, this.snapshot.sweepgen);
      if (rec.kind === 'start') { start = rec; startPage = i; } else if (rec.kind === 'free') start = null;
      let c = FREE_PAGE;
      if (start && rec.kind !== 'free') {
        c = this.pageColour(start, a.base + startPage * pageSize, i - startPage);
        if (this.highlightClass !== null && start.sizeclass !== this.highlightClass) c = mix(FREE_PAGE, c, DIMMED_ALPHA);
      }
      const x = (i % cols) * cell, y = Math.floor(i / cols) * cellH;
      ctx.fillStyle = `rgb(${c[0] | 0},${c[1] | 0},${c[2] | 0})`;
      ctx.fillRect(x + 1, y + 1, cell - 2, cellH - 2);
      if (rec.kind === 'start') {
        // A span's first page carries a notch: where one span ends and the next begins.
        ctx.fillStyle = '#f0e442';
        ctx.fillRect(x + 1, y + 1, 3, cellH - 2);
      }
    }
    this.geometry = { cell, cellH, cols };
    this.drawFlashes((arena, p) => (arena === this.level.arena ? [(p % cols) * cell + 1, Math.floor(p / cols) * cellH + 1, cell - 2, cellH - 2] : null));
  }

  drawSpan(cssWidth) {
    const { canvas, ctx } = this;
    const obj = this.reader.span(this.level.base);
    const w = Math.round(cssWidth);
    if (!obj) {
      if (canvas.width !== w || canvas.height !== 120) { canvas.width = w; canvas.height = 120; }
      ctx.fillStyle = `rgb(${NO_ARENA})`; ctx.fillRect(0, 0, w, 120);
      ctx.fillStyle = '#ddd'; ctx.font = '14px system-ui';
      ctx.fillText('This span is gone (freed, or reused at another size): go back up a level.', 12, 60);
      this.geometry = null;
      return 0;
    }
    const cols = Math.min(obj.nelems, Math.max(8, Math.ceil(Math.sqrt(obj.nelems * 3))));
    const rows = Math.ceil(obj.nelems / cols);
    const cell = Math.max(4, Math.min(40, Math.floor(w / cols)));
    const h = Math.max(60, rows * cell);
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    ctx.fillStyle = `rgb(${NO_ARENA})`; ctx.fillRect(0, 0, w, h);
    const names = ['free', 'white', 'grey', 'black'];
    for (let i = 0; i < obj.nelems; i++) {
      const c = COLLECTOR[names[obj.colors[i]]];
      ctx.fillStyle = `rgb(${c})`;
      ctx.fillRect((i % cols) * cell + 1, Math.floor(i / cols) * cell + 1, cell - 2, cell - 2);
    }
    if (this.selectedObject !== null && this.selectedObject < obj.nelems) {
      const i = this.selectedObject;
      ctx.strokeStyle = '#f0e442'; ctx.lineWidth = 2;
      ctx.strokeRect((i % cols) * cell + 1, Math.floor(i / cols) * cell + 1, cell - 2, cell - 2);
      ctx.lineWidth = 1;
    }
    this.geometry = { cols, cell, obj };
    this.flashStats.drawnShade = this.flashStats.drawnAssist = 0;
    return Math.ceil(obj.nelems / 8) * 3;
  }

  /** The span record and base that page `page` of arena `a` belongs to, or null. */
  spanAt(a, page) {
    for (let i = page; i >= 0; i--) {
      const rec = this.reader.page(a, i, this.snapshot.sweepgen);
      if (rec.kind === 'free') return null;
      if (rec.kind === 'start') return i + rec.npages > page ? { rec, base: a.base + i * this.reader.pageSize, page: i } : null;
    }
    return null;
  }

  /** A click at (fx, fy): where across and down the drawn map, 0 to 1 each. */
  click(fx, fy) {
    const x = fx * this.canvas.width, y = fy * this.canvas.height;
    const g = this.geometry;
    if (!g || !this.snapshot) return;
    if (this.level.kind === 'heap') {
      const arena = Math.floor(y / g.rowPx);
      if (arena < this.snapshot.arenas.length) this.zoom({ kind: 'arena', arena });
    } else if (this.level.kind === 'arena') {
      const page = Math.floor(y / g.cellH) * g.cols + Math.floor(x / g.cell);
      const a = this.snapshot.arenas[this.level.arena];
      const s = a && this.spanAt(a, page);
      if (s) this.zoom({ kind: 'span', arena: this.level.arena, base: s.base, page: s.page });
    } else {
      const i = Math.floor(y / g.cell) * g.cols + Math.floor(x / g.cell);
      if (i >= 0 && i < g.obj.nelems && x < g.cols * g.cell) {
        this.selectedObject = i;
        this.onSelect(this.describeObject(i));
      }
    }
  }

  zoom(level) {
    this.level = level;
    this.selectedObject = null;
    this.onSelect(level.kind === 'span' ? this.describeSpan() : null);
    this.draw();
    this.onZoom(level);
  }

  /** What the info panel shows for the zoomed span. */
  describeSpan() {
    const a = this.snapshot.arenas[this.level.arena];
    const rec = this.reader.page(a, this.level.page, this.snapshot.sweepgen);
    if (rec.kind !== 'start') return { title: 'span gone', rows: [] };
    return {
      title: `span at 0x${this.level.base.toString(16)}`,
      rows: [
        ['size class', rec.sizeclass === 0 ? '0 (large object)' : String(rec.sizeclass)],
        ['pointers', rec.noscan ? 'none (pointer-free: never scanned)' : 'yes (scanned when marked)'],
        ['element size', `${rec.elemsize} B`],
        ['pages', String(rec.npages)],
        ['slots', String(rec.nelems)],
        ['in use', String(rec.inuse)],
        ['marked (last mark)', String(rec.marked)],
        ['sweep', rec.sweep],
        ['in an mcache', rec.cached ? 'yes' : 'no'],
      ],
    };
  }

  describeObject(i) {
    const d = this.describeSpan();
    const obj = this.geometry.obj;
    const mark = ['free slot', 'white (not marked)', 'grey (marked, not yet scanned)', 'black (marked and scanned)'][obj.colors[i]];
    return {
      title: `object ${i} at 0x${(obj.base + i * obj.elemsize).toString(16)}`,
      rows: [['mark', mark], ['type', typeText(obj, i)], ...d.rows],
    };
  }
}

/**
 * The type of the span's object i: exact while the span has held one type
 * and, once it holds several, from the object's own code; named from the
 * span's list only when the span has no codes.
 */
export function typeText(obj, i) {
  const escape = (x) => x.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const name = (t) => (t === null ? 'untyped bytes' : t === '' ? '(unnamed type)' : escape(t));
  if (obj.colors[i] === 0) return 'none: a free slot';
  if (obj.types.length === 0) return 'not recorded';
  if (obj.types.length === 1 && !obj.typesMore) return name(obj.types[0]);
  const k = obj.typeOf ? obj.typeOf[i] : undefined;
  if (k >= 0) return name(obj.types[k]);
  const list = `${obj.types.map(name).join(', ')}${obj.typesMore ? ' and others' : ''}`;
  if (k === -1) return `a type other than ${list} (the span has held more than ${obj.types.length} types)`;
  return `one of ${list} (the span has held several types)`;
}

/** The legend of the current mode: [[label, rgb]]; flashes: with the flashes' entries. */
export function legend(mode, flashes = false) {
  const css = (c) => `rgb(${c.map((v) => v | 0)})`;
  const flash = flashes ? [['flash: the write barrier shaded an object here', css(FLASH.shade)],
    ['flash: an assist scanned here', css(FLASH.assist)]] : [];
  return [...modeLegend(mode, css), ...flash];
}

function modeLegend(mode, css) {
  if (mode === 'collector') {
    return [['white: not (yet) marked', css(COLLECTOR.white)], ['grey: marked, to scan', css(COLLECTOR.grey)],
      ['black: marked and scanned', css(COLLECTOR.black)], ['free slots', css(COLLECTOR.free)],
      ['unswept span', css(COLLECTOR.unswept)], ['free page', css(FREE_PAGE)]];
  }
  if (mode === 'class') return [['each size class its own colour (the table below lists them)', css(classColour(5))], ['large objects', css(HUE.large)], ['free page', css(FREE_PAGE)]];
  return [['pointerful span (full → bright)', css(HUE.scan)], ['pointer-free span', css(HUE.noscan)],
    ['large object', css(HUE.large)], ['half-full pointerful span', css(mix(FREE_PAGE, HUE.scan, 0.625))], ['free page', css(FREE_PAGE)]];
}
