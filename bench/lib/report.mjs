// bench/lib/report.mjs — build/bench/report.html: one self-contained page
// (inline SVG, no script, no library) with the machine and versions, gort's
// ratios to each peer, per area a chart of every line (a bar per column at
// its median, a whisker over min..max) above its table, and the collector's
// stop-the-world pauses as histograms on a logarithmic axis.
import { COLUMNS, RATIOS, cellText, fmt, ratioText } from './results.mjs';
import { gcName } from './plan.mjs';

const COLORS = {
  'gort-wasm': '#1f5fa8', 'gort-native': '#6aa9e0', 'go-wasm': '#b5541b', 'go-native': '#f0a04b',
  'malloc-wasm': '#5f6b7a', 'malloc-native': '#a6b0bc', 'gort-js': '#2c7a4b', 'js-anchor': '#a23b3b',
};
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const title = (id) => COLUMNS.find((c) => c.id === id)?.title ?? id;

// Bar chart geometry (px).
const WIDTH = 920, NAME_W = 215, VALUE_W = 170, BAR_H = 13, BAR_GAP = 4, HEAD_H = 22, LINE_GAP = 10;
const BAR_W = WIDTH - NAME_W - VALUE_W;
// The longest column name that fits NAME_W at 12px.
const NAME_CHARS = 30;

function procsText(line, cores) {
  if (line.procs == null) return '';
  return ` · ${line.procs} P${line.procs > 1 ? 's' : ''}${cores && line.procs > cores ? ' (oversubscribed)' : ''}`;
}

function barChart(lines, cores) {
  let y = 0;
  const parts = [];
  for (const line of lines) {
    const cols = COLUMNS.filter((c) => line.cells[c.id]);
    const top = Math.max(...cols.map((c) => line.cells[c.id].max));
    const x = (v) => NAME_W + (top > 0 ? (v / top) * BAR_W : 0);
    const better = line.better === 'lower' ? 'lower is better' : line.better === 'higher' ? 'higher is better' : '';
    parts.push(`<text x="0" y="${y + 15}" class="head">${esc(line.label)}<tspan class="sub">${esc(procsText(line, cores))}` +
      ` · ${esc(line.unit)}${better ? ` · ${better}` : ''}</tspan></text>`);
    y += HEAD_H;
    for (const c of cols) {
      const s = line.cells[c.id];
      const name = c.id === 'js-anchor' && line.anchor ? line.anchor : c.title;
      const mid = y + BAR_H / 2;
      parts.push(`<text x="${NAME_W - 6}" y="${mid + 4}" class="name" text-anchor="end">${esc(name.length > NAME_CHARS ? `${name.slice(0, NAME_CHARS - 1)}…` : name)}<title>${esc(name)}</title></text>`,
        `<rect x="${NAME_W}" y="${y}" width="${Math.max(1, x(s.median) - NAME_W).toFixed(1)}" height="${BAR_H}" fill="${COLORS[c.id]}"><title>${esc(`${name}: ${cellText(s)} ${line.unit}`)}</title></rect>`,
        `<line x1="${x(s.min).toFixed(1)}" x2="${x(s.max).toFixed(1)}" y1="${mid}" y2="${mid}" class="whisker"/>`,
        `<line x1="${x(s.min).toFixed(1)}" x2="${x(s.min).toFixed(1)}" y1="${y + 2}" y2="${y + BAR_H - 2}" class="whisker"/>`,
        `<line x1="${x(s.max).toFixed(1)}" x2="${x(s.max).toFixed(1)}" y1="${y + 2}" y2="${y + BAR_H - 2}" class="whisker"/>`,
        `<text x="${NAME_W + BAR_W + 6}" y="${mid + 4}" class="value">${esc(cellText(s))}</text>`);
      y += BAR_H + BAR_GAP;
    }
    y += LINE_GAP;
  }
  return `<svg width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" role="img">${parts.join('')}</svg>`;
}

// Histogram bins: BINS_PER_DECADE per power of ten, from 1 us to 10 s.
const BINS_PER_DECADE = 4, FIRST_DECADE = 0, LAST_DECADE = 7;
const HIST_W = 920, HIST_NAME_W = 215, HIST_ROW_H = 46;

function histogram(program, byColumn) {
  const nbins = (LAST_DECADE - FIRST_DECADE) * BINS_PER_DECADE;
  const binOf = (us) => Math.min(nbins - 1, Math.max(0, Math.floor((Math.log10(Math.max(us, 1e-3)) - FIRST_DECADE) * BINS_PER_DECADE)));
  const plotW = HIST_W - HIST_NAME_W - 20, bw = plotW / nbins;
  const parts = [];
  let y = 4;
  for (const [col, values] of byColumn) {
    const counts = new Array(nbins).fill(0);
    for (const v of values) counts[binOf(v)]++;
    const most = Math.max(1, ...counts);
    const sorted = [...values].sort((a, b) => a - b);
    parts.push(`<text x="${HIST_NAME_W - 6}" y="${y + 20}" class="name" text-anchor="end">${esc(title(col))}</text>`,
      `<text x="${HIST_NAME_W - 6}" y="${y + 33}" class="sub" text-anchor="end">${values.length} pauses, max ${fmt(sorted.at(-1))} us</text>`);
    counts.forEach((n, i) => {
      if (!n) return;
      const h = (n / most) * (HIST_ROW_H - 8);
      const lo = 10 ** (FIRST_DECADE + i / BINS_PER_DECADE), hi = 10 ** (FIRST_DECADE + (i + 1) / BINS_PER_DECADE);
      parts.push(`<rect x="${(HIST_NAME_W + i * bw + 1).toFixed(1)}" y="${(y + HIST_ROW_H - 4 - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[col]}"><title>${n} pauses of ${fmt(lo)}..${fmt(hi)} us</title></rect>`);
    });
    parts.push(`<line x1="${HIST_NAME_W}" x2="${HIST_NAME_W + plotW}" y1="${y + HIST_ROW_H - 4}" y2="${y + HIST_ROW_H - 4}" class="axis"/>`);
    y += HIST_ROW_H;
  }
  const ticks = ['1 us', '10 us', '100 us', '1 ms', '10 ms', '100 ms', '1 s', '10 s'];
  for (let d = FIRST_DECADE; d <= LAST_DECADE; d++) {
    const x = HIST_NAME_W + (d - FIRST_DECADE) * BINS_PER_DECADE * bw;
    parts.push(`<line x1="${x}" x2="${x}" y1="4" y2="${y}" class="grid"/>`,
      `<text x="${x}" y="${y + 14}" class="sub" text-anchor="middle">${ticks[d]}</text>`);
  }
  const name = gcName(program);
  return `<h3>${esc(name)}</h3><svg width="${HIST_W}" height="${y + 20}" viewBox="0 0 ${HIST_W} ${y + 20}" role="img">${parts.join('')}</svg>`;
}

function pauseSection(pauses) {
  const programs = [...new Set(pauses.filter((p) => p.area === 'gc').map((p) => p.program))];
  if (programs.length === 0) return '';
  const order = COLUMNS.map((c) => c.id);
  return `<h2 id="pauses">Stop-the-world pauses</h2>
<p>Every pause per collector cycle of every run (the last 256 cycles of a run), both pauses of a cycle summed,
gort and Go on 2 Ps; bars are counts per quarter decade, each row scaled to its own tallest bar.</p>` +
    programs.map((program) => {
      const byColumn = new Map();
      for (const p of pauses.filter((x) => x.area === 'gc' && x.program === program).sort((a, b) => order.indexOf(a.column) - order.indexOf(b.column))) {
        if (!byColumn.has(p.column)) byColumn.set(p.column, []);
        byColumn.get(p.column).push(...p.values);
      }
      return histogram(program, byColumn);
    }).join('');
}

function ratioCell(r) {
  if (r == null) return '<td class="none">–</td>';
  const strength = Math.min(1, Math.abs(Math.log10(r)) / 1.3);
  const color = r >= 1 ? `rgba(44,160,90,${(0.12 + 0.6 * strength).toFixed(2)})` : `rgba(200,60,60,${(0.12 + 0.6 * strength).toFixed(2)})`;
  return `<td style="background:${color}">${esc(ratioText(r))}</td>`;
}

function ratioSection(areas, cores) {
  const rows = areas.flatMap((a) => a.lines.filter((l) => RATIOS.some((r) => l.ratios[r.id] != null)).map((l) => ({ ...l, areaTitle: a.title })));
  if (rows.length === 0) return '<p>No line has both gort and a peer.</p>';
  const used = RATIOS.filter((r) => rows.some((l) => l.ratios[r.id] != null));
  let area = null;
  return `<table><tr><th>line</th><th>Ps</th>${used.map((r) => `<th>${esc(r.title)}</th>`).join('')}</tr>` +
    rows.map((l) => (l.areaTitle !== area ? `<tr><th colspan="${used.length + 2}" class="area">${esc(area = l.areaTitle)}</th></tr>` : '') +
      `<tr><td>${esc(l.label)}${l.anchor ? ` <span class="sub">(${esc(l.anchor)})</span>` : ''}</td>` +
      `<td>${l.procs ?? ''}${cores && l.procs > cores ? '*' : ''}</td>${used.map((r) => ratioCell(l.ratios[r.id])).join('')}</tr>`).join('') + '</table>';
}

function figureSection(area, goAbsent) {
  const used = COLUMNS.filter((c) => area.lines.some((l) => l.cells[c.id]));
  return `<table><tr><th>line</th><th>Ps</th>${used.map((c) => `<th>${esc(c.title)}</th>`).join('')}<th>unit</th></tr>` +
    area.lines.map((l) => `<tr><td>${esc(l.label)}${l.anchor ? ` <span class="sub">(anchor: ${esc(l.anchor)})</span>` : ''}</td><td>${l.procs ?? ''}</td>` +
      used.map((c) => `<td>${l.cells[c.id] ? esc(cellText(l.cells[c.id])) : c.id.startsWith('go-') && goAbsent && !l.noGo ? 'no Go' : '–'}</td>`).join('') +
      `<td>${esc(l.unit)}</td></tr>`).join('') + '</table>';
}

export function renderReport({ machine, goAbsentReason, areas, pauses, failures }) {
  const cores = machine.cores;
  const legend = COLUMNS.filter((c) => areas.some((a) => a.lines.some((l) => l.cells[c.id])))
    .map((c) => `<span class="key"><span class="swatch" style="background:${COLORS[c.id]}"></span>${esc(c.title)}</span>`).join('');
  const facts = [
    ['date', machine.date], ['CPU', `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB`], ['OS', machine.os],
    ['load average (1, 5, 15 min)', `${machine.loadBefore} before, ${machine.loadAfter} after`],
    ['Node', machine.node], ['Emscripten', machine.emcc], ['C compiler', machine.cc], ['Go', machine.go],
    ['gort', machine.gort], ['runs', `${machine.runs} per figure${machine.quick ? ', quick (every size a tenth)' : ''}` +
      `${machine.debugBuilds ? '; gort as npm test builds it (sanitizers, debug wasm): not speeds' : ''}`],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gort benchmarks</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 960px; color: #1d2330; padding: 0 12px; }
h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #d8dde6; } h3 { font-size: 15px; margin-bottom: 4px; }
table { border-collapse: collapse; margin: 10px 0; font-size: 12.5px; }
td, th { border: 1px solid #d8dde6; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f1f4f8; } th.area { background: #e4e9f1; }
.sub { fill: #6b7585; color: #6b7585; font-size: 11px; }
svg text { font-size: 12px; fill: #1d2330; } svg .head { font-weight: 600; } svg .value { font-variant-numeric: tabular-nums; }
svg .sub { font-weight: 400; fill: #6b7585; }
.whisker { stroke: #1d2330; stroke-width: 1.2; } .axis { stroke: #8a93a3; } .grid { stroke: #e3e7ee; }
.key { margin-right: 14px; white-space: nowrap; } .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px; }
.failures { background: #fdecec; border: 1px solid #e3a0a0; padding: 6px 12px; }
td.none { color: #9aa3b2; }
</style></head><body>
<h1>gort beside its peers</h1>
<p>One run on one machine: every workload of an area runs once per run, gort's program and then each peer's in turn,
so that all of them see the same machine. Bars are medians, whiskers the spread (min..max) of the runs.
Ratios are how many times better gort's median is than the peer's (faster, or smaller where lower is better);
green: gort ahead, red: behind.${goAbsentReason ? ` <b>Go is absent (${esc(goAbsentReason)}): its columns are empty.</b>` : ''}</p>
<table>${facts.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v ?? 'unknown')}</td></tr>`).join('')}</table>
${failures.length ? `<div class="failures"><b>${failures.length} program run(s) failed</b><ul>${failures.map((f) => `<li>${esc(f.what)}: ${esc(f.why)}</li>`).join('')}</ul></div>` : ''}
<h2 id="ratios">gort's ratios</h2>
<p>Go js/wasm runs on one thread: every line compares gort's wasm figure at that P count with it.${cores ? ` * more Ps than the machine's ${cores} cores: oversubscribed.` : ''}</p>
${ratioSection(areas, cores)}
<p>${legend}</p>
${areas.filter((a) => a.lines.length).map((a) => `<h2 id="${esc(a.id)}">${esc(a.title)}</h2>${barChart(a.lines, cores)}${figureSection(a, goAbsentReason != null)}`).join('\n')}
${pauseSection(pauses)}
</body></html>
`;
}
