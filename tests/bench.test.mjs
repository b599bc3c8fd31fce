// The benchmark runner's own logic (bench/lib), on output recorded from gort's
// and Go's benchmark programs (tests/bench/): parsing, naming each figure by
// metric, column and Ps, medians with their spread, gort's ratio to each
// peer, the tables when a peer is missing or Go is absent, the area filter,
// and the report. The programs themselves run in scripts/test.sh's quick
// bench step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { plan, select } from '../bench/lib/plan.mjs';
import {
  classify, figureTable, gcCpuOfTrace, gcCpuResultLine, linesOf, parseOutput, ratio, ratioTable, samplesOf, summarize,
} from '../bench/lib/results.mjs';
import { renderReport } from '../bench/lib/report.mjs';

const fixture = (name) => readFileSync(new URL(`./bench/${name}`, import.meta.url), 'utf8');
const gortNative = { impl: 'gort', target: 'native', procs: 2 };
const gortWasm = { impl: 'gort', target: 'wasm', procs: 2 };
const goNative = (procs) => ({ impl: 'go', target: 'native', procs });
const goWasm = { impl: 'go', target: 'wasm', procs: 1 };

// The channel area as plan.mjs has it, with the samples of three gort runs
// and of those Go runs that were recorded: Go native is missing at
// GOMAXPROCS=2 for the ping-pong and at 1 for the 4x4 workload.
function chanSamples() {
  const area = plan({ quick: true }).find((a) => a.id === 'chan');
  const samples = [];
  const add = (file, source, run) => samples.push(...samplesOf(fixture(file), source, 'chan', run).samples);
  [1, 2, 3].forEach((run) => add(`gort_chan_native_run${run}.txt`, gortNative, run));
  add('gort_chan_wasm.txt', gortWasm, 1);
  add('go_chan_pingpong_gomaxprocs1.txt', goNative(1), 1);
  add('go_chan_pingpong_wasm.txt', goWasm, 1);
  add('go_chan_contended_gomaxprocs2.txt', goNative(2), 1);
  return { area, samples, lines: linesOf(area, samples) };
}
const lineOf = (lines, metric, procs) => lines.find((l) => l.metric === metric && l.procs === procs);

test('RESULT, PAUSES and SAMPLE lines are parsed; anything else is ignored', () => {
  const out = parseOutput(`${fixture('gort_gc_wasm.txt')}RESULT broken notanumber ms\nnoise RESULT x 1 ms\n${fixture('js_samples.txt')}`);
  assert.equal(out.results.length, 7);
  assert.deepEqual(out.results[0], { name: 'binary_trees_d14_time', value: 143.5, unit: 'ms' });
  assert.deepEqual(out.results[6], { name: 'binary_trees_d14_gc_cpu', value: 58.5, unit: '%' });
  assert.equal(out.pauses.length, 1);
  assert.equal(out.pauses[0].name, 'binary_trees_d14');
  assert.equal(out.pauses[0].values.length, 18);
  assert.equal(out.pauses[0].values[17], 55.4);
  assert.equal(out.samples.length, 3);
  assert.equal(out.samples[1].column, 'js-anchor');
  assert.equal(out.samples[1].value, 34);
});

// gctrace lines as Go 1.19 and gort print them (Go's with marking on an idle P).
const GO_TRACE = `gc 1 @0.019s 2%: 0.011+9.4+0.076 ms clock, 0.022+0.37/0.73/8.4+0.15 ms cpu, 3->5->5 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 2 @0.046s 1%: 0.024+4.3+0.056 ms clock, 0.049+0.13/0.039/4.1+0.11 ms cpu, 9->10->2 MB, 11 MB goal, 0 MB stacks, 0 MB globals, 2 P
some other line on stderr
`;
const GORT_TRACE = `gc 1 @0.013s 15%: 0.012+5.812+0.004 ms clock, 0.024+0.040/5.812/0+0.009 ms cpu, 3->4->4 MB, 8 MB goal, 2 P
gc 2 @0.030s 14%: 0.006+3.942+0.003 ms clock, 0.012+0.029/3.942/0+0.007 ms cpu, 7->7->3 MB, 6 MB goal, 2 P
`;

test('the collector\'s CPU share is read from gctrace alike for Go and gort, idle marking included', () => {
  const go = gcCpuOfTrace(GO_TRACE);
  assert.equal(go.cycles, 2);
  assert.equal(go.procs, 2);
  // Both pauses (times the Ps), assists, background and idle marking.
  assert.ok(Math.abs(go.ms - (0.022 + 0.37 + 0.73 + 8.4 + 0.15 + 0.049 + 0.13 + 0.039 + 4.1 + 0.11)) < 1e-9);
  const gort = gcCpuOfTrace(GORT_TRACE);
  assert.ok(Math.abs(gort.ms - (0.024 + 0.040 + 5.812 + 0.009 + 0.012 + 0.029 + 3.942 + 0.007)) < 1e-9);
  assert.equal(gcCpuOfTrace('no trace here\n'), null);
  // Over the run's time times the Ps: 14.1 ms of 50 ms x 2 Ps.
  const line = gcCpuResultLine('RESULT binary_trees_d14_time 50.0 ms\nRESULT binary_trees_d14_numgc 2 count\n', GO_TRACE);
  assert.deepEqual(parseOutput(line).results, [{ name: 'binary_trees_d14_gc_cpu', value: 14.1, unit: '%' }]);
  assert.equal(gcCpuResultLine('RESULT binary_trees_d14_time 50.0 ms\n', 'no trace\n'), '');
  assert.equal(gcCpuResultLine('', GO_TRACE), '');
});

test('a figure is named by metric, column and Ps', () => {
  assert.deepEqual(classify('chan_pingpong_p2', gortWasm), { metric: 'chan_pingpong', column: 'gort-wasm', procs: 2 });
  assert.deepEqual(classify('chan_contended_rate_p4', gortNative), { metric: 'chan_contended_rate', column: 'gort-native', procs: 4 });
  // gort's name without a suffix: the job's Ps, or the metric's own; a
  // percentile is no suffix.
  assert.deepEqual(classify('gcbench_pause_p50', gortNative), { metric: 'gcbench_pause_p50', column: 'gort-native', procs: 2 });
  assert.deepEqual(classify('goroutine_mem_default', gortNative), { metric: 'goroutine_mem_default', column: 'gort-native', procs: 2 });
  assert.deepEqual(classify('yield_round_trip', { ...gortNative, procsOf: { yield_round_trip: 1 } }),
    { metric: 'yield_round_trip', column: 'gort-native', procs: 1 });
  // Go's names never carry a suffix, even when they end like one.
  assert.deepEqual(classify('chan_pingpong', goNative(2)), { metric: 'chan_pingpong', column: 'go-native', procs: 2 });
  assert.deepEqual(classify('alloc_16', goWasm), { metric: 'alloc_16', column: 'go-wasm', procs: 1 });
  // bench_malloc: who allocated, and on how many threads.
  assert.deepEqual(classify('gort_alloc_256_par2', gortWasm), { metric: 'alloc_256', column: 'gort-wasm', procs: 2 });
  assert.deepEqual(classify('system_malloc_16_p1', gortNative), { metric: 'alloc_16', column: 'malloc-native', procs: 1 });
});

test('medians with their spread', () => {
  assert.deepEqual(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 });
  assert.deepEqual(summarize([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, n: 4 });
  assert.deepEqual(summarize([NaN, 5]), { median: 5, min: 5, max: 5, n: 1 });
  assert.equal(summarize([]), null);
});

test('ratios say how many times better gort is, whichever way is better', () => {
  assert.equal(ratio({ median: 100 }, { median: 250 }, 'lower'), 2.5);
  assert.equal(ratio({ median: 20 }, { median: 10 }, 'higher'), 2);
  assert.equal(ratio({ median: 20 }, { median: 10 }, 'lower'), 0.5);
  assert.equal(ratio({ median: 20 }, null, 'lower'), null);
  assert.equal(ratio({ median: 20 }, { median: 10 }, null), null);
  assert.equal(ratio({ median: 0 }, { median: 10 }, 'lower'), null);
});

test('lines: the median of gort\'s runs beside each peer, and the ratios', () => {
  const { lines } = chanSamples();
  const p1 = lineOf(lines, 'chan_pingpong', 1);
  assert.deepEqual([p1.cells['gort-native'].median, p1.cells['gort-native'].min, p1.cells['gort-native'].max], [458.3, 402, 500]);
  assert.equal(p1.cells['gort-native'].n, 3);
  assert.equal(p1.unit, 'ns/roundtrip');
  assert.equal(p1.ratios.native, 367.2 / 458.3);
  assert.equal(p1.ratios.wasm, 2064.2 / 4128.1);
  // Go's js/wasm has one P: it stands beside gort's wasm figure on 2 Ps too.
  const p2 = lineOf(lines, 'chan_pingpong', 2);
  assert.equal(p2.cells['go-wasm'].median, 2064.2);
  assert.equal(p2.ratios.wasm, 2064.2 / 3777.9);
  // A rate: higher is better.
  const rate = lineOf(lines, 'chan_contended_rate', 2);
  assert.equal(rate.cells['gort-native'].median, 11.287);
  assert.equal(rate.ratios.native, 11.287 / 14.22);
  // The rows nobody ran are not shown; the hidden twin (ns/msg) neither.
  assert.equal(lineOf(lines, 'select4', 1), undefined);
  assert.equal(lines.find((l) => l.metric === 'chan_contended'), undefined);
});

test('a missing peer leaves its cell and ratio empty', () => {
  const { area, lines } = chanSamples();
  const p2 = lineOf(lines, 'chan_pingpong', 2);
  assert.equal(p2.cells['go-native'], undefined);
  assert.equal(p2.ratios.native, null);
  const rate1 = lineOf(lines, 'chan_contended_rate', 1);
  assert.equal(rate1.ratios.native, null);
  assert.equal(rate1.ratios.wasm, null); // no wasm run of it either

  const table = figureTable(area, lines);
  const row = table.split('\n').find((l) => l.startsWith('| unbuffered ping-pong (per round trip) | 2 |'));
  assert.deepEqual(row.split(' | ').map((c) => c.trim()),
    ['| unbuffered ping-pong (per round trip)', '2', '3778', '2064', '1091 (991..1200)', '–', 'ns/roundtrip |']);
  const ratios = ratioTable(lines);
  assert.match(ratios, /\| unbuffered ping-pong \(per round trip\) \| 1 \| 0\.50x \| 0\.80x \| – \|/);
  assert.match(ratios, /\| unbuffered ping-pong \(per round trip\) \| 2 \| 0\.55x \| – \| – \|/);
});

test('without Go, the Go columns say so', () => {
  const area = plan({ quick: true }).find((a) => a.id === 'chan');
  const samples = [1, 2, 3].flatMap((run) => samplesOf(fixture(`gort_chan_native_run${run}.txt`), gortNative, 'chan', run).samples);
  const lines = linesOf(area, samples);
  const table = figureTable(area, lines, { goAbsent: true });
  assert.match(table.split('\n')[0], /\| Go js\/wasm \|.*\| Go native \|/);
  assert.match(table, /\| unbuffered ping-pong \(per round trip\) \| 1 \| no Go \| 458 \(402\.\.500\) \| no Go \|/);
  assert.match(ratioTable(lines, { goAbsent: true }), /\| 4 producers x 4 consumers, cap 1024 \| 2 \| – \| no Go \| – \|/);
});

test('malloc rows: gort against Go and against the C allocator of its target', () => {
  const area = plan({ quick: true }).find((a) => a.id === 'malloc');
  const samples = samplesOf(fixture('gort_malloc_native.txt'), gortNative, 'malloc', 1).samples;
  const lines = linesOf(area, samples);
  const two = lineOf(lines, 'alloc_16', 2);
  assert.equal(two.cells['gort-native'].median, 43.16);
  assert.equal(two.cells['malloc-native'].median, 9.1);
  assert.equal(two.ratios['malloc-native'], 9.1 / 43.16);
  assert.match(ratioTable(lines), /\| 16 B objects, ring of 1024 live \(per alloc\) \| 2 \| – \| – \| glibc malloc: 0\.21x \|/);
});

test('a row the plan does not list is shown under its own name, without a ratio', () => {
  const area = plan({ quick: true }).find((a) => a.id === 'proc');
  const lines = linesOf(area, samplesOf(fixture('gort_proc_native.txt'), { ...gortNative, procsOf: area.procsOf }, 'proc', 1).samples);
  const extra = lines.find((l) => l.metric === 'bare_switch');
  assert.equal(extra.label, 'bare_switch');
  assert.equal(extra.procs, 2);
  assert.equal(extra.better, null);
  assert.equal(lineOf(lines, 'yield_round_trip', 1).cells['gort-native'].median, 587.1);
  assert.doesNotMatch(ratioTable(lines), /bare_switch/);
  // Without Go, only the lines that have a Go program say so.
  const table = figureTable(area, lines, { goAbsent: true });
  assert.match(table, /\| bytes per parked goroutine, default stack \| 2 \| no Go \| 65784 \| no Go \|/);
  assert.match(table, /\| stop the world, max \| 2 \| – \| 44\.4 \| – \|/);
  assert.match(table, /\| bare_switch \| 2 \| – \| 41\.0 \| – \|/);
  const ratios = ratioTable(lines, { goAbsent: true });
  assert.match(ratios, /\| mutex hand-off, 4 goroutines \| 2 \| – \| no Go \| – \|/);
  assert.doesNotMatch(ratios, /stop the world/);
});

test('the npm package\'s rows come with their anchors', () => {
  const area = plan({ quick: true }).find((a) => a.id === 'js');
  const samples = parseOutput(fixture('js_samples.txt')).samples.map((s) => ({ area: 'js', procs: null, ...s }));
  const lines = linesOf(area, samples);
  assert.equal(lines.length, 2);
  assert.equal(lines[0].anchor, 'postMessage main <-> worker');
  assert.equal(lines[0].ratios.js, 34 / 8.5);
  assert.equal(lines[1].ratios.js, null);
  assert.match(figureTable(area, lines), /\| round trip main <-> worker \(unbuffered\) \|  \| 8\.50 \| postMessage main <-> worker \| 34\.0 \| us \|/);
  assert.match(ratioTable(lines), /postMessage main <-> worker: 4\.00x/);
});

test('areas and workloads are picked by name', () => {
  const areas = plan({ quick: false });
  assert.deepEqual(select(areas, []).map((a) => a.id), ['chan', 'proc', 'malloc', 'gc', 'maps', 'cores', 'js', 'page']);
  assert.deepEqual(select(areas, ['gc'])[0].workloads.map((w) => w.id), ['binary_trees_d16', 'binary_trees_d18', 'gcbench', 'barrier_storm']);
  const picked = select(areas, ['pingpong', 'cores_binary_trees', 'js_stall']);
  assert.deepEqual(picked.map((a) => [a.id, a.workloads.map((w) => w.id)]), [
    ['chan', ['pingpong']],
    ['cores', ['cores_binary_trees_d16_p1', 'cores_binary_trees_d16_p2', 'cores_binary_trees_d16_p4']],
    ['js', ['js_stall']],
  ]);
  assert.throws(() => select(areas, ['pingpong', 'nosuch']), /unknown area or workload: nosuch/);
  // The yield round trip is measured by gort's goroutine program (the spawn workload's): it
  // comes along, without spawn's Go peer.
  const proc = select(areas, ['yield'])[0].workloads;
  assert.deepEqual(proc.map((w) => [w.id, Boolean(w.gort), w.go?.program ?? null]), [['spawn', true, null], ['yield', false, 'yield']]);
  // quick mode: the collector's programs two depths smaller.
  assert.deepEqual(plan({ quick: true }).find((a) => a.id === 'gc').workloads.map((w) => w.id),
    ['binary_trees_d14', 'binary_trees_d16', 'gcbench', 'barrier_storm']);
});

test('the report draws every line, the pause histograms and the machine', () => {
  const { area, lines } = chanSamples();
  const gc = plan({ quick: true }).find((a) => a.id === 'gc');
  const gcRun = [samplesOf(fixture('gort_gc_wasm.txt'), gortWasm, 'gc', 1), samplesOf(fixture('go_binary_trees_wasm.txt'), goWasm, 'gc', 1)];
  const gcLines = linesOf(gc, gcRun.flatMap((r) => r.samples));
  const html = renderReport({
    machine: { date: 'today', cpu: 'a <CPU>', cores: 2, memoryGB: 8, os: 'Linux', loadBefore: '1', loadAfter: '2', node: 'v20',
      emcc: 'emcc 3.1.6', cc: 'cc', go: 'go1.19.8', gort: 'abc', runs: 3, quick: true },
    goAbsentReason: null,
    areas: [{ id: 'chan', title: area.title, lines }, { id: 'gc', title: gc.title, lines: gcLines }],
    pauses: gcRun.flatMap((r) => r.pauses),
    failures: [{ what: 'Go wasm select4', why: 'exit status 2' }],
  });
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /a &lt;CPU&gt;, 2 cores/);
  assert.match(html, /Go wasm select4: exit status 2/);
  // One bar (with its whisker) per cell of every line.
  const cells = [...lines, ...gcLines].reduce((n, l) => n + Object.keys(l.cells).length, 0);
  assert.equal((html.match(/<rect [^>]*><title>/g) ?? []).length - (html.match(/<title>\d+ pauses of /g) ?? []).length, cells);
  // The histograms: gort's 18 pauses and Go's 17, in rows of their own.
  assert.match(html, /<h3>binary-trees depth 14<\/h3>/);
  assert.match(html, />18 pauses, max 55\.4 us</);
  assert.match(html, />17 pauses, max 24598 us</);
  assert.match(html, /0\.50x/);
});
