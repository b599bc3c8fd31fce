// bench/observe.mjs — what watching the runtime costs it.
//
//   node bench/observe.mjs [--quick] [--runs N] [--work TREES] [--dist DIR]
//        [--baseline DIR --after DIR]
//
// 1. A reader at 60 Hz: the npm package (dist/) runs a fixed amount of
//    collector work on 2 Ps — 'churn' (binary trees of depth 12, dropped at
//    once; the module's binary_trees workload runs until it is cancelled,
//    which does not time a fixed amount of work) — alone, and
//    with the main thread draining every event ring and copying the page
//    table every 1/60 s and computing the live MMU every --mmu-every frames
//    (30); --work sets how many trees (1000). Runs alternate, each pair in
//    turn led by the one or the other; medians. The bound: <= 2%
//    slower.
// 2. No reader, against a build without the instrumentation: with
//    --baseline (a build folder of the runtime before it, holding
//    gort_bench_chan, gort_bench_malloc and gort_bench_gc, native or .js)
//    and --after (the same programs built now), runs each program in both,
//    alternating, and prints each figure's median before and after.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const quick = args.includes('--quick');
const runs = Number(opt('--runs', quick ? 3 : 7));
const root = fileURLToPath(new URL('..', import.meta.url));
const FRAME_MS = 1000 / 60;
// The live MMU is recomputed twice a second (a display's figures), the rings
// and the page table read every frame.
const MMU_EVERY_FRAMES = Number(opt('--mmu-every', 30));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function readerCost() {
  const dist = opt('--dist', join(root, 'dist'));
  const { start } = await import(join(dist, 'index.node.js'));
  const rt = await start({ procs: 2 });
  const done = rt.chan({ codec: 'f64' });
  const workload = 'churn';
  const arg = Number(opt('--work', quick ? 300 : 1000));
  const once = async () => {
    const t0 = performance.now();
    rt.go(workload, done, arg);
    await done.recv();
    return performance.now() - t0;
  };
  await once(); // warm: the heap grown, the code hot
  const events = rt.events({ historyMs: 2000 });
  const map = rt.heapMap();
  const plain = [], watched = [], frames = [];
  let lost = 0, drained = 0;
  const watchedOnce = async () => {
    events.drain(); // from here on: what this run writes
    const timer = setInterval(() => {
      const f0 = performance.now();
      const d = events.drain();
      lost += d.lost;
      drained += d.events.length;
      map.read();
      if (frames.length % MMU_EVERY_FRAMES === 0) events.mmu();
      frames.push(performance.now() - f0);
    }, FRAME_MS);
    const ms = await once();
    clearInterval(timer);
    return ms;
  };
  // Which goes first alternates: a run after another finds the heap and the
  // pacer as that one left them.
  for (let r = 0; r < runs; r++) {
    if (r % 2 === 0) {
      plain.push(await once());
      watched.push(await watchedOnce());
    } else {
      watched.push(await watchedOnce());
      plain.push(await once());
    }
  }
  await rt.close();
  const a = median(plain), b = median(watched);
  console.log(`\n| ${workload}(${arg}) on 2 Ps, ${runs} runs | median ms |`);
  console.log('|---|---|');
  console.log(`| no reader | ${a.toFixed(1)} |`);
  console.log(`| reader at 60 Hz (rings + page table; MMU every ${MMU_EVERY_FRAMES} frames) | ${b.toFixed(1)} |`);
  console.log(`| slowdown | ${(100 * (b / a - 1)).toFixed(1)}% |`);
  console.log(`| a frame's reading (median, max) | ${median(frames).toFixed(2)} ms, ${Math.max(...frames).toFixed(2)} ms |`);
  console.log(`| events read, lost | ${drained}, ${lost} |`);
  console.log(`RESULT observe_reader_slowdown ${(100 * (b / a - 1)).toFixed(2)} %`);
}

function figures(program, extra) {
  const [cmd, argv] = program.endsWith('.js') ? [process.execPath, [program, ...extra]] : [program, extra];
  const out = execFileSync(cmd, argv, { encoding: 'utf8', maxBuffer: 16 << 20 });
  const m = new Map();
  for (const line of out.split('\n')) {
    const r = /^RESULT (\S+) (\S+) (\S+)$/.exec(line);
    if (r) m.set(r[1], { value: Number(r[2]), unit: r[3] });
  }
  return m;
}

function noReaderCost(before, after) {
  const ext = existsSync(join(after, 'gort_bench_gc.js')) ? '.js' : '';
  const programs = [['chan', []], ['malloc', []], ['gc', ['binary_trees_d16']]];
  // The best of the runs besides the median: on a shared machine interference
  // only ever slows a run.
  console.log(`\n| figure (${ext ? 'wasm' : 'native'}, ${runs} runs) | before: median, best | after: median, best | after/before: median, best |`);
  console.log('|---|---|---|---|');
  for (const [name, extra] of programs) {
    const collected = { before: new Map(), after: new Map() };
    for (let r = 0; r < runs; r++) {
      for (const [which, dir] of [['before', before], ['after', after]]) {
        for (const [k, v] of figures(join(dir, `gort_bench_${name}${ext}`), extra)) {
          if (!collected[which].has(k)) collected[which].set(k, { unit: v.unit, values: [] });
          collected[which].get(k).values.push(v.value);
        }
      }
    }
    for (const [k, { unit, values }] of collected.before) {
      const after = collected.after.get(k);
      if (!after) continue;
      const higherIsBetter = /\/s$/.test(unit);
      const best = (xs) => (higherIsBetter ? Math.max(...xs) : Math.min(...xs));
      const b = median(values), a = median(after.values);
      const bb = best(values), ab = best(after.values);
      console.log(`| ${k} (${unit}) | ${b.toFixed(2)}, ${bb.toFixed(2)} | ${a.toFixed(2)}, ${ab.toFixed(2)} | ` +
        `${(a / b).toFixed(3)}, ${(ab / bb).toFixed(3)} |`);
    }
  }
}

const baseline = opt('--baseline');
if (baseline) noReaderCost(baseline, opt('--after', join(root, 'build/native-release')));
else await readerCost();
