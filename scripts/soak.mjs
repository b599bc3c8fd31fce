// scripts/soak.mjs — the soak's JavaScript parties (`npm run soak`, variant
// js): the package (dist/, built by src/js/build.sh) under Node for a long
// time, with every kind of party on the same channels at once:
//
//   node scripts/soak.mjs [--seconds N]
//
// The main thread sends checksummed jobs into a buffered channel, some with
// an AbortSignal that fires while the send may still wait; two worker_threads
// take jobs with recvSync and answer through an unbuffered channel, now and
// then waiting in select.sync on a context's deadline against a timer; two
// goroutines (the module's echo) take jobs too and hand them back on channels
// of their own, which the main thread drains with Promises. Beside them a
// workload churns the collector (binary_trees, checking its trees), a ticker
// is read on the main thread, and each second a close storm: a fresh channel
// waited on by Promises and a goroutine, then closed, and a worker
// terminated from outside while it waits on a channel of its own (in
// recvSync, select.sync or a Promise), whose wait the runtime must withdraw.
//
// Each second it prints jobs sent, answered and withdrawn, goroutines, live
// heap, the system allocator's memory in use outside the heap's arenas,
// cycles and the longest pause. It fails (exit 1) on an answer with a wrong
// checksum, an answer twice, an answer to a withdrawn send, a send that
// resolved but was never answered, a close that did not wake a waiter, a
// terminated worker's wait left on its channel, a second-long stall of
// answers (STALL_SECONDS), a tick later than MAX_TICK_LATE_MS beyond what the
// event loop itself was held up, a live heap grown past LEAK_FACTOR times its
// size after warm-up plus LEAK_SLACK_BYTES, the system allocator's memory
// outside the heap's arenas grown by more than SYSTEM_SLACK_BYTES after
// warm-up, goroutines left beyond the steady set, or a checksum error of the
// workload. The last line starts with 'soak: done'.
import { isMainThread, Worker, workerData, parentPort } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/', import.meta.url);
const entry = fileURLToPath(new URL('index.node.js', dist));
const workerEntry = fileURLToPath(new URL('worker.node.js', dist));

const WORKERS = 2;
const ECHOES = 2;
const JOB_WORDS = 24;
const JOBS_CAP = 16;
// Every ABORT_EVERY-th send carries a signal that aborts after ABORT_AFTER_MS.
const ABORT_EVERY = 11;
const ABORT_AFTER_MS = 1;
// A worker waits on a context's deadline every DEADLINE_EVERY-th job.
const DEADLINE_EVERY = 64;
const TICK_MS = 100;
// Wider than the C soak's 2 s: the runtime's threads run a CPU-bound
// workload, the echoes and the JS parties' hand-offs on 2 Ps, and on a
// loaded machine a tick was seen 3 s late while the event loop ran; a timer
// that stopped firing still fails it.
const MAX_TICK_LATE_MS = 5000;
const WATCHDOG_MS = 50;
const STALL_SECONDS = 10;
const WARMUP_FRACTION = 0.25;
const LEAK_FACTOR = 1.5;
const LEAK_SLACK_BYTES = 8 << 20;
// Goroutines beyond the count after warm-up that still pass for steady
// (close storms' goroutines, the ticker's, the workload's helpers).
const GOROUTINE_SLACK = 16;
// The system allocator's bytes in use outside the heap's arenas (threads'
// stacks, the realms' own memory) may grow this much after warm-up: a worker
// that went and left its thread behind would add about 200 KB a second. The
// heap's arenas are left out: the heap may take one more as the collector
// paces it (a run once failed on such a step, 24.1 -> 32.9 MB in a second,
// with 0.7 MB live), and its live bytes have their own check.
// The metrics whose sum is the heap's arenas handed out (Go's HeapSys).
const HEAP_ARENA_METRICS = ['/memory/classes/heap/free:bytes', '/memory/classes/heap/objects:bytes', '/memory/classes/heap/unused:bytes'];
const SYSTEM_SLACK_BYTES = 8 << 20;
const WORKLOAD_DEPTH = 12;
// How long a worker to be terminated waits in the runtime first.
const DOOMED_WAIT_MS = 20;
// How long it may take to fall asleep there, on a loaded machine.
const DOOMED_PARK_LIMIT_MS = 10_000;

function checksum(words) {
  let h = 0x811c9dc5;
  for (const w of words) h = Math.imul(h ^ w, 0x01000193) >>> 0;
  return h;
}

/** A set of non-negative integer ids, one bit each, growing as ids do. */
class IdBits {
  constructor() {
    this.words = new Uint32Array(1 << 12);
    this.size = 0;
    this.end = 0; // one past the largest id added
  }

  has(id) {
    const w = id >>> 5;
    return w < this.words.length && (this.words[w] & (1 << (id & 31))) !== 0;
  }

  add(id) {
    const w = id >>> 5;
    if (w >= this.words.length) {
      const grown = new Uint32Array(Math.max(w + 1, this.words.length * 2));
      grown.set(this.words);
      this.words = grown;
    }
    if ((this.words[w] & (1 << (id & 31))) === 0) this.size++;
    this.words[w] |= 1 << (id & 31);
    this.end = Math.max(this.end, id + 1);
  }
}

if (isMainThread) await soak();
else if (workerData.role === 'doomed') await doomedParty(workerData);
else await workerParty(workerData);

async function soak() {
  const secondsArg = process.argv.indexOf('--seconds');
  const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 60;
  if (!(seconds > 0)) throw new Error('soak.mjs: --seconds takes a positive number');
  if (!existsSync(workerEntry)) throw new Error(`${workerEntry} is missing: build it with src/js/build.sh`);
  const { start, select } = await import(entry);

  const failures = [];
  const fail = (what) => {
    if (failures.length < 20) failures.push(what);
    console.log(`soak: FAIL ${what}`);
  };

  const rt = await start({ procs: 2 });
  const jobs = rt.chan({ cap: JOBS_CAP });
  const answers = rt.chan();
  const echoed = Array.from({ length: ECHOES }, () => rt.chan());

  // id -> checksum, from the moment a send is attempted until its answer (a
  // Map holds at most 2^24 entries; a long run sends more jobs than that);
  // the outcome of the send (resolved or withdrawn) is recorded when its
  // Promise settles, and answers, in bit sets indexed by id.
  const issued = new Map();
  const resolved = new IdBits();
  const withdrawn = new IdBits();
  const answered = new IdBits();
  let answeredCount = 0;

  const take = (id, sum, from) => {
    if (answered.has(id)) return fail(`job ${id} answered twice (the second by ${from})`);
    if (!issued.has(id)) return fail(`${from} answered job ${id}, which was never sent`);
    if (issued.get(id) !== sum) return fail(`${from} answered job ${id} with checksum ${sum}, sent ${issued.get(id)}`);
    issued.delete(id);
    answered.add(id);
    answeredCount++;
  };

  const workers = Array.from({ length: WORKERS }, (_, i) => new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), {
      workerData: { entry: workerEntry, rt: rt.handle, jobs: jobs.handle, answers: answers.handle, name: `worker${i}` },
    });
    w.once('message', (m) => (m === 'ok' ? resolve() : reject(new Error(m))));
    w.once('error', reject);
  }));
  const echoes = echoed.map((out) => rt.go('echo', jobs, out));

  const consumers = [
    (async () => { for await (const a of answers) take(a.id, a.sum, a.by); })(),
    ...echoed.map((out, i) => (async () => {
      for await (const job of out) take(job.id, checksum(job.words), `echo${i}`);
    })()),
  ];

  const workloadCtx = rt.context.withCancel(rt.context.background());
  const reports = rt.chan();
  const workload = rt.go('binary_trees', workloadCtx, reports, WORKLOAD_DEPTH);
  let workloadOps = 0;
  const workloadReader = (async () => {
    for await (const r of reports) {
      if (r.checksumErrors) fail(`binary_trees reported ${r.checksumErrors} checksum errors`);
      workloadOps = r.ops;
      if (r.final) break;
    }
  })();

  // A tick is late when the runtime's timers were, not when this thread's
  // event loop could not run (a starved process): the gap between ticks is
  // judged less the longest gap between runs of a watchdog interval.
  let loopGap = 0;
  let loopAt = performance.now();
  const watchdog = setInterval(() => {
    const now = performance.now();
    loopGap = Math.max(loopGap, now - loopAt);
    loopAt = now;
  }, WATCHDOG_MS);
  const ticker = rt.tick(TICK_MS);
  let ticks = 0;
  const tickReader = (async () => {
    let last = performance.now();
    for await (const _ of ticker) {
      const now = performance.now();
      const late = now - last - TICK_MS - loopGap;
      if (late > MAX_TICK_LATE_MS) fail(`a tick came ${Math.round(now - last)} ms after the one before, the event loop's longest gap meanwhile ${Math.round(loopGap)} ms`);
      last = now;
      loopGap = 0;
      ticks++;
    }
  })();

  let stopping = false;
  let sent = 0;
  const producer = (async () => {
    for (let id = 0; !stopping; id++) {
      const words = Array.from({ length: JOB_WORDS }, () => (Math.random() * 2 ** 32) >>> 0);
      issued.set(id, checksum(words));
      const aborting = id % ABORT_EVERY === 0;
      try {
        await jobs.send({ id, words }, aborting ? { signal: AbortSignal.timeout(ABORT_AFTER_MS) } : undefined);
        resolved.add(id);
        sent++;
      } catch (err) {
        if (!aborting || err.name !== 'TimeoutError') throw err;
        withdrawn.add(id);
      }
    }
  })();

  const closeStorm = async () => {
    const c = rt.chan();
    const sink = rt.chan();
    const waiters = [c.recv(), c.recv(), select([{ recv: c }, null])];
    const g = rt.go('echo', c, sink);
    const sinkDrained = (async () => { for await (const _ of sink) fail('the close storm\'s echo forwarded a value'); })();
    await new Promise((r) => setTimeout(r, 5));
    c.close();
    const woken = await Promise.all(waiters);
    if (woken.some((r) => r.ok)) fail('a receive on a closed channel said ok');
    await g;
    await sinkDrained;
    c[Symbol.dispose]();
    sink[Symbol.dispose]();
  };

  // A worker that will be terminated while it waits on a channel of its own,
  // the three ways in turn; once terminate() resolves, nothing of its wait
  // may be left on the channel (a value offered would go to the dead).
  let terminated = 0;
  const terminateStorm = async () => {
    const ways = ['recvSync', 'selectSync', 'recv'];
    const how = ways[terminated % ways.length];
    const doomed = rt.chan();
    const w = new Worker(new URL(import.meta.url), {
      workerData: { role: 'doomed', entry: workerEntry, rt: rt.handle, ch: doomed.handle, how },
    });
    const said = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    if (said?.state !== 'waiting') fail(`a worker to be terminated said ${JSON.stringify(said)}`);
    // A blocking wait is terminated only once the worker sleeps in it: ended
    // in any other part of a call (a loaded machine can hold it there for
    // milliseconds), a worker ends the runtime, as designed.
    if (how !== 'recv') {
      const asleep = rt.realm.module._gort_js_sleeper_parked;
      const since = performance.now();
      while (!asleep(said.sleeper) && performance.now() - since < DOOMED_PARK_LIMIT_MS) await new Promise((r) => setTimeout(r, 1));
      if (!asleep(said.sleeper)) fail(`a worker to be terminated did not sleep in its ${how} within ${DOOMED_PARK_LIMIT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, DOOMED_WAIT_MS));
    await w.terminate();
    if (doomed.trySend(1)) fail(`a terminated worker's wait (${how}) was left on its channel and took a value`);
    doomed[Symbol.dispose]();
    terminated++;
  };

  const sample = () => rt.metrics(['/sched/goroutines:goroutines', '/gc/heap/live:bytes', '/gc/cycles/total:gc-cycles']);
  const began = performance.now();
  let baseline = null;
  let lastAnswered = 0;
  let stalledFor = 0;
  let maxPauseNs = 0;
  let maxLive = 0;
  for (let second = 1; second <= seconds && failures.length === 0; second++) {
    await new Promise((r) => setTimeout(r, 1000 - ((performance.now() - began) % 1000)));
    await closeStorm();
    await terminateStorm();
    const m = sample();
    const goroutines = m['/sched/goroutines:goroutines'];
    const live = m['/gc/heap/live:bytes'];
    maxLive = Math.max(maxLive, live);
    const pauses = rt.metrics(['/sched/pauses/total/gc:seconds'])['/sched/pauses/total/gc:seconds'];
    const top = pauses.counts.findLastIndex((n) => n > 0);
    if (top >= 0) maxPauseNs = Math.max(maxPauseNs, Math.round(pauses.buckets[top] * 1e9));
    const arenas = Object.values(rt.metrics(HEAP_ARENA_METRICS)).reduce((a, b) => a + b, 0);
    const system = rt.realm.module._gort_js_malloc_in_use() - arenas;
    console.log(`soak: ${second}s sent ${sent} answered ${answeredCount} withdrawn ${withdrawn.size} ` +
      `goroutines ${goroutines} live ${(live / 1048576).toFixed(1)} MB system ${(system / 1048576).toFixed(1)} MB cycles ${m['/gc/cycles/total:gc-cycles']} ` +
      `workload ops ${workloadOps} ticks ${ticks} terminated ${terminated}`);
    stalledFor = answeredCount === lastAnswered ? stalledFor + 1 : 0;
    lastAnswered = answeredCount;
    if (stalledFor >= STALL_SECONDS) fail(`no answer for ${stalledFor} s`);
    if (baseline === null && second >= Math.max(2, seconds * WARMUP_FRACTION)) baseline = { live: maxLive, goroutines, system };
    if (baseline !== null) {
      if (system > baseline.system + SYSTEM_SLACK_BYTES) {
        fail(`the system allocator holds ${system} bytes outside the heap's arenas, ${baseline.system} after warm-up`);
      }
      if (live > baseline.live * LEAK_FACTOR + LEAK_SLACK_BYTES) {
        fail(`live heap ${live} bytes, ${baseline.live} after warm-up`);
      }
      if (goroutines > baseline.goroutines + GOROUTINE_SLACK) {
        fail(`${goroutines} goroutines, ${baseline.goroutines} after warm-up`);
      }
    }
  }

  // Wind down: the producer stops, jobs closes (the workers' recvSync and the
  // echoes see it), answers closes once the workers are done.
  stopping = true;
  await producer;
  jobs.close();
  await Promise.all(workers);
  answers.close();
  await Promise.all(echoes);
  await Promise.all(consumers);
  workloadCtx.cancel();
  await workload;
  await workloadReader;
  // A stopped ticker's channel stays open (as Go's): its reader's pending
  // receive ends with the runtime.
  ticker.stop();
  tickReader.catch(() => {});
  clearInterval(watchdog);

  for (let id = 0; id < resolved.end; id++) {
    if (resolved.has(id) && !answered.has(id)) fail(`job ${id} was sent and never answered`);
    if (withdrawn.has(id) && answered.has(id)) fail(`job ${id} was withdrawn and still answered`);
  }
  if (answered.size !== resolved.size) fail(`${answered.size} answers for ${resolved.size} sends`);
  const left = rt.metrics(['/sched/goroutines:goroutines'])['/sched/goroutines:goroutines'];
  await rt.close();
  if (failures.length) {
    console.log(`soak: FAILED: ${failures.join('; ')}`);
    process.exit(1);
  }
  console.log(`soak: done: ${sent} jobs answered, ${withdrawn.size} withdrawn by their signal, ` +
    `${workloadOps} binary_trees ops, ${ticks} ticks, ${terminated} workers terminated while waiting, at most ${(maxLive / 1048576).toFixed(1)} MB live, ` +
    `longest pause at least ${(maxPauseNs / 1e3).toFixed(0)} us, ${left} goroutines at the end`);
}

// A worker that attaches, says so and waits on ch (how) until it is terminated.
async function doomedParty({ entry: workerModule, rt: handle, ch, how }) {
  const { attach, select } = await import(workerModule);
  const wr = await attach(handle);
  const c = wr.open(ch);
  parentPort.postMessage({ state: 'waiting', sleeper: wr.sleeper });
  if (how === 'recvSync') c.recvSync();
  else if (how === 'selectSync') select.sync([{ recv: c }, { recv: wr.after(60_000) }]);
  else await c.recv();
  parentPort.postMessage(`its wait (${how}) ended`);
}

// A worker party: answers jobs until the channel is closed and drained.
async function workerParty({ entry: workerModule, rt: handle, jobs: jobsHandle, answers: answersHandle, name }) {
  try {
    const { attach, select } = await import(workerModule);
    const wr = await attach(handle);
    const jobs = wr.open(jobsHandle);
    const answers = wr.open(answersHandle);
    for (let n = 1; ; n++) {
      const { value, ok } = jobs.recvSync();
      if (!ok) break;
      answers.sendSync({ id: value.id, sum: checksum(value.words), by: name });
      if (n % DEADLINE_EVERY === 0) {
        const ctx = wr.context.withTimeout(wr.context.background(), 2);
        const timer = wr.after(1000);
        const r = select.sync([{ recv: ctx.done }, { recv: timer }], { timeout: 5000 });
        if (r.index !== 0 || ctx.err?.code !== 'EDEADLINE') {
          throw new Error(`${name}: a 2 ms deadline lost to a 1 s timer (case ${r.index}, err ${ctx.err})`);
        }
        ctx[Symbol.dispose]();
        timer[Symbol.dispose]();
      }
    }
    wr.detach();
    parentPort.postMessage('ok');
  } catch (err) {
    parentPort.postMessage(`error: ${err && err.stack || err}`);
  }
}
