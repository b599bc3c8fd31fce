// charts.js — the page's charts, drawn with Canvas2D (a handful of lines
// and rectangles each; a charting library would add more than it saves):
// the time strip (heap, one lane per P, GC CPU share, allocation rate,
// pause ticks on one shared time axis, and bands where the MMU's worst
// windows lie), the MMU curve (log window axis) and the pause histogram (log
// buckets).

export const LANE_COLOURS = {
  running: '#009e73',   // green: user code
  assist: '#d55e00',    // vermillion: mark assist
  mark: '#0072b2',      // blue: the collector's mark
  sweep: '#e69f00',     // orange: sweeping
  stopping: '#cc79a7',  // purple: asked to stop
  stopped: '#000000',   // black: stopped for the collector
};

const AXIS = '#8a8f98';
// The strip's marked windows (drawStrip's marks).
const MARK_MIN_PX = 5;
const MARK_FILL = 'rgba(255, 255, 255, 0.22)';
const MARK_EDGE = 'rgba(255, 255, 255, 0.85)';
const MARK_LABEL_H = 13;
const TEXT = '#d8dbe0';
const FONT = '11px system-ui, sans-serif';

function fit(canvas) {
  const w = Math.round(canvas.clientWidth || 600), h = Math.round(canvas.clientHeight || 200);
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, w, h);
  ctx.font = FONT;
  return { ctx, w, h };
}

export const mb = (b) => (b / 1048576).toFixed(b < 10 * 1048576 ? 1 : 0);

/**
 * The time strip: samples [{ t (s), live, goal, limit, gcShare, allocRate }],
 * lanes [{ label, segments: [{ from, to, state }] }] (s), stw segments drawn
 * over every P's lane, pauses [{ t (s), ns }], marks [{ from, to (s), label }]
 * drawn as numbered bands across the strip, over the last `window` seconds
 * ending at now.
 */
export function drawStrip(canvas, { now, window, samples, lanes, stw = [], pauses, marks = [] }) {
  const { ctx, w, h } = fit(canvas);
  const left = 70, right = 8;
  const x = (t) => left + ((t - (now - window)) / window) * (w - left - right);
  const heapH = Math.round(h * 0.36), laneTop = heapH + 10;
  const laneH = Math.max(6, Math.min(16, Math.floor((h * 0.3) / Math.max(1, lanes.length))));
  const cpuTop = laneTop + lanes.length * (laneH + 2) + 8;
  const cpuH = Math.max(24, Math.floor((h - cpuTop - 36) / 2));
  const allocTop = cpuTop + cpuH + 6;
  const tickTop = allocTop + cpuH + 4;

  // Heap: live, goal, limit (MB), one scale.
  const visible = samples.filter((s) => s.t >= now - window);
  // The scale follows live and goal; a limit far above them is drawn at the top edge.
  let top = 1, limitTop = 0;
  for (const s of visible) {
    top = Math.max(top, s.live, s.goal < 2 ** 50 ? s.goal : 0);
    if (s.limit < 2 ** 50) limitTop = Math.max(limitTop, s.limit);
  }
  top = limitTop && limitTop < top * 2 ? Math.max(top, limitTop) * 1.1 : top * 1.25;
  const y = (v) => heapH - (Math.min(v, top) / top) * (heapH - 14);
  const line = (key, colour, dash = []) => {
    ctx.strokeStyle = colour; ctx.setLineDash(dash); ctx.beginPath();
    let started = false;
    for (const s of visible) {
      if (!(s[key] < 2 ** 50)) { started = false; continue; }
      if (started) ctx.lineTo(x(s.t), y(s[key])); else ctx.moveTo(x(s.t), y(s[key]));
      started = true;
    }
    ctx.stroke(); ctx.setLineDash([]);
  };
  ctx.fillStyle = TEXT;
  ctx.fillText(`heap (MB, top ${mb(top)})`, 2, 12);
  if (limitTop > top) {
    ctx.fillStyle = '#d55e00'; ctx.textAlign = 'right';
    ctx.fillText(`limit ${mb(limitTop)} MB: above the scale`, w - right - 4, 12);
    ctx.textAlign = 'left';
  }
  line('live', '#56b4e9');
  line('goal', '#e69f00', [5, 3]);
  line('limit', '#d55e00', [2, 2]);
  ctx.fillStyle = '#56b4e9'; ctx.fillText('live', 2, 26);
  ctx.fillStyle = '#e69f00'; ctx.fillText('goal', 2, 38);
  ctx.fillStyle = '#d55e00'; ctx.fillText('limit', 2, 50);

  // One lane per P (an open segment, to: null, lasts until now); a pause
  // (stw) covers every lane but the last, the collector thread's. Of the
  // segments narrower than a pixel, one per pixel column is drawn.
  const paint = (segments, ly) => {
    let lastColumn = -1;
    for (const s of segments) {
      const to = s.to ?? now;
      if (to < now - window || s.state === 'idle') continue;
      const a = Math.max(left, x(s.from)), b = x(to);
      if (b - a < 1) {
        if (Math.floor(a) === lastColumn) continue;
        lastColumn = Math.floor(a);
      }
      ctx.fillStyle = LANE_COLOURS[s.state] ?? '#888';
      ctx.fillRect(a, ly, Math.max(1, b - a), laneH);
    }
  };
  lanes.forEach(({ label, segments }, p) => {
    const ly = laneTop + p * (laneH + 2);
    ctx.fillStyle = '#2a2f38'; ctx.fillRect(left, ly, w - left - right, laneH);
    paint(segments, ly);
    if (p < lanes.length - 1) paint(stw, ly);
    ctx.fillStyle = TEXT; ctx.fillText(label, 2, ly + laneH - 2);
  });

  // GC CPU share (%) and allocation rate.
  const area = (key, topY, height, scaleTop, colour, label) => {
    ctx.fillStyle = '#2a2f38'; ctx.fillRect(left, topY, w - left - right, height);
    ctx.fillStyle = colour; ctx.beginPath(); ctx.moveTo(x(visible[0]?.t ?? now), topY + height);
    for (const s of visible) ctx.lineTo(x(s.t), topY + height - (Math.min(s[key] ?? 0, scaleTop) / scaleTop) * height);
    ctx.lineTo(x(visible[visible.length - 1]?.t ?? now), topY + height); ctx.fill();
    ctx.fillStyle = TEXT; ctx.fillText(label, 2, topY + 11);
  };
  area('gcShare', cpuTop, cpuH, 100, 'rgba(0,114,178,0.9)', 'GC CPU %');
  ctx.fillStyle = AXIS; ctx.fillText('100', left - 22, cpuTop + 10);
  let allocTopRate = 1;
  for (const s of visible) allocTopRate = Math.max(allocTopRate, s.allocRate ?? 0);
  area('allocRate', allocTop, cpuH, allocTopRate * 1.1, 'rgba(0,158,115,0.9)', 'alloc objs/s');
  ctx.fillStyle = AXIS; ctx.fillText(fmtCount(allocTopRate), left - 40, allocTop + 20);

  // Pause ticks: height by log(pause).
  ctx.fillStyle = TEXT; ctx.fillText('pauses', 2, tickTop + 12);
  ctx.strokeStyle = '#f0e442';
  for (const p of pauses) {
    if (p.t < now - window) continue;
    const len = Math.max(3, Math.min(16, 3 * Math.log10(Math.max(1, p.ns / 1e3)) + 3));
    ctx.beginPath(); ctx.moveTo(x(p.t) + 0.5, tickTop + 16); ctx.lineTo(x(p.t) + 0.5, tickTop + 16 - len); ctx.stroke();
  }
  // Marked windows: a translucent white band (light on every lane colour,
  // which no colour vision confuses with a hue) at least MARK_MIN_PX wide,
  // so that a window of milliseconds shows on a strip of 30 s, edged and
  // numbered at the top.
  const bandBottom = tickTop + 16;
  const shown = marks.filter((m) => m.to >= now - window && m.from <= now)
    .map((m) => ({ m, a: x(Math.max(m.from, now - window)), b: x(Math.min(m.to, now)) }))
    .sort((p, q) => p.a - q.a);
  for (const { a, b } of shown) {
    const mid = (a + b) / 2, half = Math.max(MARK_MIN_PX, b - a) / 2;
    ctx.fillStyle = MARK_FILL;
    ctx.fillRect(mid - half, 0, 2 * half, bandBottom);
    ctx.strokeStyle = MARK_EDGE; ctx.setLineDash([3, 2]);
    ctx.strokeRect(mid - half + 0.5, 0.5, 2 * half - 1, bandBottom - 1);
    ctx.setLineDash([]);
  }
  // Labels over every band; one closer to the one before than a label's width goes a row lower.
  const rowEnds = [];
  for (const { m, a, b } of shown) {
    const mid = (a + b) / 2;
    const labelW = ctx.measureText(m.label).width + 6;
    let row = rowEnds.findIndex((end) => end < mid - labelW / 2);
    if (row < 0) { row = rowEnds.length; rowEnds.push(0); }
    rowEnds[row] = mid + labelW / 2;
    const ly = 1 + row * MARK_LABEL_H;
    ctx.fillStyle = '#000000'; ctx.fillRect(mid - labelW / 2, ly, labelW, MARK_LABEL_H - 1);
    ctx.fillStyle = '#ffffff'; ctx.textAlign = 'center'; ctx.fillText(m.label, mid, ly + MARK_LABEL_H - 3); ctx.textAlign = 'left';
  }
  // The shared axis: seconds before now.
  ctx.fillStyle = AXIS;
  for (let s = 0; s <= window; s += window / 6) ctx.fillText(`-${s.toFixed(0)} s`, x(now - s) - 16, h - 2);
}

export function fmtCount(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/** The MMU curve: [{ windowMs, mmu }], x log from the first window to the last. */
export function drawMMU(canvas, curve) {
  const { ctx, w, h } = fit(canvas);
  const left = 34, bottom = 18, top = 8, right = 8;
  ctx.strokeStyle = AXIS; ctx.strokeRect(left, top, w - left - right, h - top - bottom);
  ctx.fillStyle = AXIS;
  ctx.fillText('1', left - 12, top + 8); ctx.fillText('0', left - 12, h - bottom);
  ctx.save(); ctx.translate(10, h / 2 + 30); ctx.rotate(-Math.PI / 2); ctx.fillText('MMU (share)', 0, 0); ctx.restore();
  const pts = curve.filter((p) => p.mmu !== null);
  if (pts.length < 2) { ctx.fillText('collecting events…', left + 10, h / 2); return; }
  const lo = Math.log10(pts[0].windowMs), hi = Math.log10(pts[pts.length - 1].windowMs);
  const x = (ms) => left + ((Math.log10(ms) - lo) / (hi - lo || 1)) * (w - left - right);
  const y = (u) => top + (1 - u) * (h - top - bottom);
  for (let d = Math.ceil(lo); d <= hi; d++) {
    const ms = 10 ** d;
    ctx.fillText(ms >= 1000 ? `${ms / 1000}s` : ms >= 1 ? `${ms}ms` : `${ms * 1000}µs`, x(ms) - 10, h - 4);
    ctx.strokeStyle = '#333a44'; ctx.beginPath(); ctx.moveTo(x(ms), top); ctx.lineTo(x(ms), h - bottom); ctx.stroke();
  }
  ctx.strokeStyle = '#56b4e9'; ctx.lineWidth = 2; ctx.beginPath();
  pts.forEach((p, i) => (i ? ctx.lineTo(x(p.windowMs), y(p.mmu)) : ctx.moveTo(x(p.windowMs), y(p.mmu))));
  ctx.stroke(); ctx.lineWidth = 1;
}

/**
 * Pause histograms (log buckets): [{ label, colour, hist: { buckets (s), counts } }]
 * drawn as bars side by side per decade bucket.
 */
export function drawPauses(canvas, series) {
  const { ctx, w, h } = fit(canvas);
  const left = 34, bottom = 18, top = 8, right = 8;
  // Decades from 1 µs to 1 s: each histogram's counts are summed into them.
  const edges = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];
  const labels = ['1µs', '10µs', '100µs', '1ms', '10ms', '100ms', '1s'];
  const binned = series.map((s) => {
    const out = new Array(edges.length + 1).fill(0);
    const { buckets, counts } = s.hist;
    counts.forEach((c, i) => {
      if (!c) return;
      const mid = Number.isFinite(buckets[i + 1]) ? buckets[i + 1] : buckets[i];
      let k = 0;
      while (k < edges.length && mid > edges[k]) k++;
      out[k] += c;
    });
    return out;
  });
  const most = Math.max(1, ...binned.flat());
  const groups = edges.length + 1, gw = (w - left - right) / groups;
  ctx.strokeStyle = AXIS; ctx.strokeRect(left, top, w - left - right, h - top - bottom);
  binned.forEach((bins, si) => {
    ctx.fillStyle = series[si].colour;
    bins.forEach((c, k) => {
      const bh = (Math.log10(1 + c) / Math.log10(1 + most)) * (h - top - bottom);
      const bw = gw / (series.length + 1);
      ctx.fillRect(left + k * gw + 2 + si * bw, h - bottom - bh, bw - 1, bh);
    });
  });
  ctx.fillStyle = AXIS;
  labels.forEach((l, k) => ctx.fillText(`≤${l}`, left + k * gw + 2, h - 4));
  ctx.fillText('>1s', left + edges.length * gw + 2, h - 4);
  ctx.save(); ctx.translate(10, h / 2 + 30); ctx.rotate(-Math.PI / 2); ctx.fillText('count (log)', 0, 0); ctx.restore();
  series.forEach((s, i) => { ctx.fillStyle = s.colour; ctx.fillText(s.label, w - 150, top + 12 + 12 * i); });
}

/** Percentile q (0..1) of a histogram: the upper edge of the bucket where it falls (s), or null. */
export function percentile(hist, q) {
  const total = hist.counts.reduce((a, b) => a + b, 0);
  if (!total) return null;
  let seen = 0;
  for (let i = 0; i < hist.counts.length; i++) {
    seen += hist.counts[i];
    if (seen >= q * total) return Number.isFinite(hist.buckets[i + 1]) ? hist.buckets[i + 1] : hist.buckets[i];
  }
  return null;
}

/** The largest bucket that holds a value (its upper edge, s), or null. */
export function histMax(hist) {
  for (let i = hist.counts.length - 1; i >= 0; i--) {
    if (hist.counts[i]) return Number.isFinite(hist.buckets[i + 1]) ? hist.buckets[i + 1] : hist.buckets[i];
  }
  return null;
}

export function fmtSeconds(s) {
  if (s === null || s === undefined) return '–';
  if (s >= 1) return `${s.toFixed(2)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toFixed(2)} ms`;
  if (s >= 1e-6) return `${(s * 1e6).toFixed(0)} µs`;
  return `${(s * 1e9).toFixed(0)} ns`;
}
