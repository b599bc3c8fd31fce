// `npm run bench`: builds the optimized native and wasm targets, runs every
// benchmark program on both, and prints one table per area with Go's figures
// (bench/go_figures.json) beside gort's. Figures from a shared machine are
// noisy: compare the columns of one run, as ratios.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const go = JSON.parse(readFileSync(new URL('go_figures.json', import.meta.url), 'utf8'));

execFileSync('bash', [`${root}scripts/build.sh`, 'native-release', 'wasm-release'], {
  stdio: ['ignore', 'ignore', 'inherit'],
});

function results(command, args) {
  const out = execFileSync(command, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  const figures = new Map();
  for (const line of out.split('\n')) {
    const m = /^RESULT (\S+) (\S+) (\S+)$/.exec(line);
    if (m) figures.set(m[1], Number(m[2]));
  }
  return figures;
}

const native = results(`${root}build/native-release/gort_bench`, []);
const wasm = results(process.execPath, [`${root}build/wasm-release/gort_bench.js`]);

const fmt = (v) => (v == null || Number.isNaN(v) ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const rows = [];
for (const size of [16, 64, 256]) {
  for (const par of ['p1', 'par2']) {
    const key = `alloc_${size}_${par}`;
    const threads = par === 'p1' ? '1 thread' : '2 threads';
    const [goP1, goP2, goWasm] = go.figures[key];
    rows.push([
      `${size} B, ${threads}`,
      wasm.get(`gort_alloc_${size}_${par}`),
      wasm.get(`gort_alloc_fresh_${size}_${par}`),
      wasm.get(`system_malloc_${size}_${par}`),
      native.get(`gort_alloc_${size}_${par}`),
      native.get(`gort_alloc_fresh_${size}_${par}`),
      native.get(`system_malloc_${size}_${par}`),
      par === 'p1' ? goP1 : goP2,
      goWasm,
    ]);
  }
}

const header = ['allocation (ns/alloc)', 'gort wasm', 'gort wasm fresh', 'emscripten malloc',
  'gort native', 'gort native fresh', 'glibc malloc', 'Go native', 'Go js/wasm'];
console.log('\n' + '| ' + header.join(' | ') + ' |');
console.log('|' + header.map(() => '---').join('|') + '|');
for (const [label, ...values] of rows) console.log(`| ${label} | ${values.map(fmt).join(' | ')} |`);
console.log(`
gort: recycled spans (the heap a sweep leaves), collector cost not included;
'fresh': every object from never-touched pages. malloc columns free the object
leaving a ring of 1024; Go's include its collector. Go native: GOMAXPROCS=1 for
1 thread, 2 for 2 threads. Source of Go's figures: ${go.source}`);

const speedups = [16, 64, 256].map((size) =>
  (wasm.get(`system_malloc_${size}_par2`) / wasm.get(`gort_alloc_${size}_par2`)).toFixed(1));
console.log(`\nwasm, 2 threads: gort allocates ${speedups.join(' / ')}x faster than Emscripten's malloc (16 / 64 / 256 B).`);
