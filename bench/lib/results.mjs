// bench/lib/results.mjs — from the programs' output to the tables: parsing
// RESULT and PAUSES lines (and bench/js.mjs's SAMPLE lines), naming each
// figure by metric, column and number of Ps, summarizing the samples of one
// cell (median, min..max), gort's ratio to each peer, and the text tables.
// Pure functions: tests/bench.test.mjs runs them on recorded output.

// The columns of the tables: one per implementation and target.
export const COLUMNS = [
  { id: 'gort-wasm', title: 'gort wasm' },
  { id: 'go-wasm', title: 'Go js/wasm', go: true },
  { id: 'gort-native', title: 'gort native' },
  { id: 'go-native', title: 'Go native', go: true },
  { id: 'malloc-wasm', title: 'Emscripten malloc' },
  { id: 'malloc-native', title: 'glibc malloc' },
  { id: 'gort-js', title: 'gort (npm package)' },
  { id: 'js-anchor', title: 'JS anchor' },
];

// gort's ratio to each peer: how many times better gort's figure is (faster,
// or smaller when lower is better); below 1, gort is behind.
export const RATIOS = [
  { id: 'wasm', gort: 'gort-wasm', peer: 'go-wasm', title: 'gort wasm vs Go js/wasm' },
  { id: 'native', gort: 'gort-native', peer: 'go-native', title: 'gort native vs Go native' },
  { id: 'malloc-wasm', gort: 'gort-wasm', peer: 'malloc-wasm', title: 'gort wasm vs Emscripten malloc' },
  { id: 'malloc-native', gort: 'gort-native', peer: 'malloc-native', title: 'gort native vs glibc malloc' },
  { id: 'js', gort: 'gort-js', peer: 'js-anchor', title: 'gort vs JS anchor' },
];

// Go's js/wasm always has one P: its figure stands beside gort's at any P count.
export const GO_WASM_PROCS = 1;

// The lines a program prints: RESULT <name> <value> <unit>, PAUSES <name>
// <us>..., SAMPLE <json>; anything else is ignored.
export function parseOutput(text) {
  const results = [], pauses = [], samples = [];
  for (const line of text.split('\n')) {
    let m;
    if ((m = /^RESULT (\S+) (\S+) (\S+)\s*$/.exec(line))) {
      const value = Number(m[2]);
      if (Number.isFinite(value)) results.push({ name: m[1], value, unit: m[3] });
    } else if ((m = /^PAUSES (\S+)((?: \S+)*)\s*$/.exec(line))) {
      pauses.push({ name: m[1], values: m[2].trim() ? m[2].trim().split(/ +/).map(Number) : [] });
    } else if ((m = /^SAMPLE (\{.*\})\s*$/.exec(line))) {
      samples.push(JSON.parse(m[1]));
    }
  }
  return { results, pauses, samples };
}

// The collector's CPU over a run, read from the gctrace lines its runtime
// printed (Go's format, which gort's follows: `..., A+B/C/D+E ms cpu, ...,
// N P`): per cycle the two pauses times the Ps (A, E), the assists (B), the
// background marking (C) and the marking on idle Ps (D), summed in ms, and
// the Ps of the last line; null without a line. Go's GCCPUFraction leaves
// the idle marking out (free CPU, to Go), and Go marks mostly there when a
// program leaves a P idle: read from the trace, both runtimes are counted
// alike.
export function gcCpuOfTrace(text) {
  let ms = 0, cycles = 0, procs = null;
  for (const line of text.split('\n')) {
    const m = /^gc \d+ .*?, ([\d.]+)\+([\d.]+)\/([\d.]+)\/([\d.]+)\+([\d.]+) ms cpu,.* (\d+) P\s*$/.exec(line);
    if (!m) continue;
    ms += m.slice(1, 6).reduce((sum, v) => sum + Number(v), 0);
    procs = Number(m[6]);
    cycles++;
  }
  return cycles ? { ms, cycles, procs } : null;
}

// A collector program's GC CPU share as a RESULT line (its <name>_gc_cpu, in
// %): the CPU its trace (stderr) counts over its run's time (its RESULT
// <name>_time, in ms, on stdout) times the Ps; '' without either.
export function gcCpuResultLine(stdout, stderr) {
  const cpu = gcCpuOfTrace(stderr);
  const time = parseOutput(stdout).results.find((r) => r.name.endsWith('_time') && r.unit === 'ms');
  if (!cpu || !time || !(time.value > 0)) return '';
  const name = time.name.slice(0, -'_time'.length);
  return `RESULT ${name}_gc_cpu ${(100 * cpu.ms / (time.value * cpu.procs)).toFixed(2)} %\n`;
}

// Names one RESULT: its metric, the column it belongs to and its P count.
// source: { impl: 'gort' | 'go', target: 'native' | 'wasm', procs, procsOf }.
// gort_bench_malloc's names carry who allocated and how many threads
// (gort_alloc_16_p1, system_malloc_64_par2); the others a _pN suffix when
// the program chose the Ps (N up to bench.h's BENCH_MAX_PROCS, 8: _p50 is
// a median); without one, the Ps are the job's (procsOf may name a metric's
// own).
export function classify(name, source) {
  let m;
  if ((m = /^(gort_alloc|system_malloc)_(\d+)_(p1|par2)$/.exec(name))) {
    const column = m[1] === 'gort_alloc' ? `gort-${source.target}` : `malloc-${source.target}`;
    return { metric: `alloc_${m[2]}`, column, procs: m[3] === 'p1' ? 1 : 2 };
  }
  const column = `${source.impl}-${source.target}`;
  if (source.impl === 'gort' && (m = /^(.+)_p([1-8])$/.exec(name))) {
    return { metric: m[1], column, procs: Number(m[2]) };
  }
  return { metric: name, column, procs: source.procsOf?.[name] ?? source.procs };
}

// The samples of one run of one program.
export function samplesOf(output, source, area, run) {
  const { results, pauses } = parseOutput(output);
  return {
    samples: results.map((r) => ({ area, run, ...classify(r.name, source), value: r.value, unit: r.unit })),
    pauses: pauses.map((p) => ({ area, run, program: p.name, ...classify(p.name, source), metric: p.name, values: p.values })),
  };
}

export function summarize(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  return { median: mid, min: v[0], max: v[v.length - 1], n: v.length };
}

export function ratio(gort, peer, better) {
  if (!gort || !peer || !better || !(gort.median > 0) || !(peer.median > 0)) return null;
  return better === 'lower' ? peer.median / gort.median : gort.median / peer.median;
}

// The rows of an area, with the rows its programs printed that the plan
// does not list (shown under their own names, without a ratio). JS rows
// come with their samples.
function rowsOf(area, samples) {
  const rows = [...area.rows];
  const known = new Set([...rows.map((r) => r.metric), ...(area.hidden ?? [])]);
  for (const s of samples) {
    if (known.has(s.metric)) continue;
    known.add(s.metric);
    const procs = [...new Set(samples.filter((x) => x.metric === s.metric && x.procs != null).map((x) => x.procs))]
      .sort((a, b) => a - b);
    rows.push({ metric: s.metric, label: s.label ?? s.metric, procs: procs.length ? procs : [null],
      better: s.better ?? null, anchor: s.anchor, noGo: true });
  }
  return rows;
}

// One line per row and P count: its cells (summaries per column) and ratios.
export function linesOf(area, samples) {
  const mine = samples.filter((s) => s.area === area.id);
  const lines = [];
  for (const row of rowsOf(area, mine)) {
    for (const procs of row.procs) {
      const cells = {};
      let unit = null;
      for (const col of COLUMNS) {
        const want = col.id === 'go-wasm' ? GO_WASM_PROCS : procs;
        const values = mine.filter((s) => s.metric === row.metric && s.column === col.id && (want == null || s.procs === want));
        const stats = summarize(values.map((s) => s.value));
        if (stats) {
          cells[col.id] = { ...stats, values: values.map((s) => s.value) };
          unit ??= values[0].unit;
        }
      }
      if (Object.keys(cells).length === 0) continue;
      const ratios = {};
      for (const r of RATIOS) ratios[r.id] = ratio(cells[r.gort], cells[r.peer], row.better);
      lines.push({ area: area.id, metric: row.metric, label: row.label, procs, unit, better: row.better,
        anchor: row.anchor, noGo: Boolean(row.noGo || area.id === 'js'), cells, ratios });
    }
  }
  return lines;
}

// ---- text ----

export function fmt(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 0.1 ? v.toFixed(2) : v.toPrecision(2);
}

export function cellText(stats) {
  if (!stats) return '–';
  return stats.n > 1 ? `${fmt(stats.median)} (${fmt(stats.min)}..${fmt(stats.max)})` : fmt(stats.median);
}

export function ratioText(r) {
  return r == null ? '–' : `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}x`;
}

// What a column's empty cell says: Go's when Go is missing and the line
// has a Go program.
function missing(line, col, goAbsent) {
  return COLUMNS.find((c) => c.id === col)?.go && goAbsent && !line.noGo ? 'no Go' : '–';
}

function markdown(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const procsText = (line, cores) => line.procs == null ? '' :
  `${line.procs}${cores && line.procs > cores ? ' (oversubscribed)' : ''}`;

// An area's figures: median (min..max) per column that has any figure, and
// the columns of Go when Go is missing.
export function figureTable(area, lines, { goAbsent = false, cores = null } = {}) {
  const used = COLUMNS.filter((c) => lines.some((l) => l.cells[c.id]) ||
    (c.go && goAbsent && area.workloads?.some((w) => w.go)));
  const hasAnchor = lines.some((l) => l.anchor);
  const header = [area.title, 'Ps', ...used.flatMap((c) => (c.id === 'js-anchor' && hasAnchor ? ['anchor', c.title] : [c.title])), 'unit'];
  const rows = lines.map((l) => [l.label, procsText(l, cores),
    ...used.flatMap((c) => {
      const cell = l.cells[c.id] ? cellText(l.cells[c.id]) : missing(l, c.id, goAbsent);
      return c.id === 'js-anchor' && hasAnchor ? [l.anchor ?? '', cell] : [cell];
    }), l.unit ?? '']);
  return markdown(header, rows);
}

// gort's ratios over every area: against Go (wasm and native), and against
// the other peers of the row (C's malloc, the JS anchors).
export function ratioTable(lines, { goAbsent = false, cores = null } = {}) {
  const goCell = (l, id) => {
    if (l.ratios[id] != null) return ratioText(l.ratios[id]);
    const r = RATIOS.find((x) => x.id === id);
    return l.cells[r.gort] && goAbsent && !l.noGo ? 'no Go' : '–';
  };
  const others = (l) => RATIOS.filter((r) => r.id !== 'wasm' && r.id !== 'native' && l.ratios[r.id] != null)
    .map((r) => `${r.id === 'js' ? l.anchor ?? 'anchor' : COLUMNS.find((c) => c.id === r.peer).title}: ${ratioText(l.ratios[r.id])}`)
    .join('; ');
  // The lines with a ratio, and those that miss only Go's.
  const shown = lines.filter((l) => l.better &&
    (RATIOS.some((r) => l.ratios[r.id] != null) || (goAbsent && !l.noGo && RATIOS.some((r) => l.cells[r.gort]))));
  return markdown(['row', 'Ps', 'gort wasm vs Go js/wasm', 'gort native vs Go native', 'gort vs other peers'],
    shown.map((l) => [l.label, procsText(l, cores), goCell(l, 'wasm'), goCell(l, 'native'), others(l) || '–']));
}
