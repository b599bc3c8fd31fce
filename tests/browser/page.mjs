// page.mjs — the checks the browser test runs in a page (tests/browser.test.mjs
// drives it). ?suite=isolated runs the package from a cross-origin isolated
// page's main thread, and from module Web Workers (worker.mjs) that attach to
// the page's runtime; ?suite=not-isolated from a page served without the two
// isolation headers. Each check shows as a line of the page (pass or fail,
// with the error), and the whole outcome is left in window.gortBrowserResults
// for the test to read.

import { EDGE_TEXTS } from './edge_texts.mjs';
import { pingPong } from './ping_pong.mjs';

const suite = new URLSearchParams(location.search).get('suite');
// Long enough for a loaded machine, short enough that a hang in one check
// is reported as that check's failure instead of stalling the test.
const CHECK_TIMEOUT_MS = 8000;
// How long each of the module's workloads runs before its context is cancelled.
const WORKLOAD_RUN_MS = 400;
// How long an operation that must stay pending is watched.
const PENDING_WATCH_MS = 60;

// The module Web Worker that attaches to the page's runtime, and every one
// started, with every message its onmessage saw (checked at the end).
const WORKER_URL = new URL('./worker.mjs', import.meta.url);
const startedWorkers = [];

const list = document.getElementById('results');
document.getElementById('suite').textContent = suite;
const results = [];

// A failure's text is cut to this length: a garbled value could be
// megabytes, too much for the page to lay out and the test to print.
const MAX_ERROR_LENGTH = 600;

function describe(err) {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}… (${text.length} characters)` : text;
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether promise is still unsettled after PENDING_WATCH_MS. */
async function stillPending(promise) {
  let settled = false;
  promise.then(() => { settled = true; }, () => { settled = true; });
  await sleep(PENDING_WATCH_MS);
  return !settled;
}

/** The error fn throws or rejects with, or a failure when it does not. */
async function errorOf(fn, what) {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error(`${what} did not fail`);
}

async function check(name, fn) {
  const item = document.createElement('li');
  item.textContent = `…     ${name}`;
  list.append(item);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    // A check may return a line of detail (counts, checksums) to show.
    const detail = await Promise.race([fn(), timeout]);
    results.push({ name, ok: true, ...(typeof detail == 'string' ? { detail } : {}) });
    item.className = 'pass';
    item.textContent = `PASS  ${name}${typeof detail == 'string' ? `\n      ${detail}` : ''}`;
  } catch (err) {
    results.push({ name, ok: false, error: describe(err) });
    item.className = 'fail';
    item.textContent = `FAIL  ${name}\n      ${describe(err)}`;
  } finally {
    clearTimeout(timer);
  }
}

function finish() {
  const failed = results.filter((r) => !r.ok).length;
  const summary = document.getElementById('summary');
  summary.className = failed ? 'failed' : 'passed';
  summary.textContent = `${results.length - failed} passed, ${failed} failed`;
  window.gortBrowserResults = { suite, results };
}

const BOTH_HEADERS = ['Cross-Origin-Opener-Policy: same-origin', 'Cross-Origin-Embedder-Policy: require-corp'];

let gort;
await check("import('gort') loads the package's browser entry", async () => {
  gort = await import('gort');
  expect(typeof gort.start == 'function', 'the module has no start()');
});

if (suite === 'isolated') await isolatedChecks();
else if (suite === 'not-isolated') await notIsolatedChecks();
else await check('the page names its suite', () => { throw new Error(`unknown suite '${suite}'`); });
finish();

async function isolatedChecks() {
  const { start, select, isSupported, GortError, ChannelClosedError, PanicError, RuntimeClosedError, Canceled } = gort;
  let rt;

  await check('the page is cross-origin isolated and isSupported() says yes', () => {
    expect(crossOriginIsolated === true, 'crossOriginIsolated is false');
    equal(isSupported(), { supported: true }, 'isSupported()');
  });

  await check('start() resolves with a running runtime', async () => {
    rt = await start({ procs: 2 });
    expect(rt instanceof gort.Runtime, 'start() did not give a Runtime');
  });

  await check('unbuffered hand-off with an echo goroutine: a send waits for the goroutine to take it', async () => {
    const input = rt.chan({ codec: 'string' });
    const output = rt.chan({ codec: 'string' });
    rt.go('echo', input, output);
    await input.send('first'); // the goroutine took it, and now waits to send it on
    // It holds 'first' until the page receives: nobody takes a second value.
    const second = input.send('second');
    expect(await stillPending(second), 'a send resolved while the goroutine was blocked sending');
    equal(await output.recv(), { value: 'first', ok: true }, 'first receive');
    await second;
    equal(await output.recv(), { value: 'second', ok: true }, 'second receive');
    input.close();
    equal(await output.recv(), { ok: false }, 'receive after the goroutine closed its output');
  });

  await check('a goroutine hands values to the page: primes(out, 10)', async () => {
    const out = rt.chan({ codec: 'i32' });
    rt.go('primes', out, 10);
    const seen = [];
    for await (const p of out) seen.push(p);
    equal(seen, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29], 'primes');
  });

  await check('a buffered channel is FIFO, and len and cap say what it holds', async () => {
    const ch = rt.chan({ cap: 3, codec: 'json' });
    await ch.send({ n: 1 });
    await ch.send([2]);
    await ch.send('three');
    equal([ch.len, ch.cap], [3, 3], '[len, cap]');
    expect(ch.trySend(4) === false, 'a full buffer took a fourth value');
    equal(await ch.recv(), { value: { n: 1 }, ok: true }, 'first out');
    equal(await ch.recv(), { value: [2], ok: true }, 'second out');
    equal(await ch.recv(), { value: 'three', ok: true }, 'third out');
    equal(ch.tryRecv(), { state: 'empty' }, 'tryRecv on the drained channel');
  });

  await check('values of every small size arrive whole (strings of 0 to 15 bytes, twice over)', async () => {
    // Small payloads share 16-byte blocks of the heap, each placed after the
    // previous one: every length is sent so that every placement occurs.
    const ch = rt.chan({ cap: 32, codec: 'string' });
    const sent = [];
    for (let round = 0; round < 2; round++) {
      for (let length = 0; length < 16; length++) sent.push('abcdefghijklmnop'.slice(0, length));
    }
    for (const text of sent) await ch.send(text);
    for (const [i, text] of sent.entries()) {
      const { value } = await ch.recv();
      expect(value === text, `value ${i} ('${text}', ${text.length} bytes) came out as ${value.length} characters: ${JSON.stringify(value.slice(0, 24))}`);
    }
  });

  await check('close wakes a pending receive with ok false', async () => {
    const ch = rt.chan({ codec: 'f64' });
    const receiving = ch.recv();
    expect(await stillPending(receiving), 'a receive on an empty channel resolved');
    ch.close();
    equal(await receiving, { value: 0, ok: false }, 'the woken receive');
  });

  await check('two async loops of the page handing values to each other let timers and animation frames run meanwhile', async () => {
    const rounds = 20000, progress = { round: 0 };
    let timerRound = null, frameRound = null;
    setTimeout(() => { timerRound = progress.round; }, 0);
    requestAnimationFrame(() => { frameRound = progress.round; });
    const { sum, expected } = await pingPong(rt.chan({ codec: 'f64' }), rt.chan({ codec: 'f64' }), rounds, progress);
    equal(sum, expected, 'sum of the echoed values');
    expect(timerRound !== null && timerRound < rounds / 2, `setTimeout(0) ran at round ${timerRound} of ${rounds}`);
    expect(frameRound !== null && frameRound < rounds, `the animation frame ran at round ${frameRound} of ${rounds}`);
  });

  await check('select never chooses a nil case, wakes when a case becomes ready, and select.try is default', async () => {
    const ready = rt.chan({ cap: 1, codec: 'bool' });
    for (let i = 0; i < 50; i++) {
      ready.trySend(true);
      equal(await select([null, { recv: ready }, null]), { index: 1, value: true, ok: true }, `round ${i}`);
    }
    const idle = rt.chan({ codec: 'string' });
    equal(select.try([null, { recv: idle }]), { index: -1, ok: false }, 'select.try with nothing ready');
    const selecting = select([null, { recv: idle }]);
    expect(await stillPending(selecting), 'select resolved with nothing ready');
    expect(idle.trySend('late'), 'the pending select did not take a value sent to it');
    equal(await selecting, { index: 1, value: 'late', ok: true }, 'the woken select');
  });

  await check('an abort signal withdraws a pending receive: it rejects and is no longer queued', async () => {
    const ch = rt.chan({ codec: 'string' });
    const controller = new AbortController();
    const receiving = ch.recv({ signal: controller.signal });
    expect(await stillPending(receiving), 'a receive on an empty channel resolved');
    const reason = new Error('withdrawn by the page');
    controller.abort(reason);
    const err = await errorOf(() => receiving, 'the aborted receive');
    expect(err === reason, `it rejected with ${describe(err)}, not the signal's reason`);
    expect(ch.trySend('nobody') === false, 'the aborted receive is still queued: it took a value');
  });

  await check("a context cancelled from the page wakes a receive pending on ctx.done", async () => {
    const ctx = rt.context.withCancel(rt.context.background());
    const signal = ctx.signal;
    const receiving = ctx.done.recv();
    expect(await stillPending(receiving), 'ctx.done was ready before the cancel');
    expect(ctx.err === null, 'err was set before the cancel');
    ctx.cancel();
    equal(await receiving, { ok: false }, 'the receive on ctx.done');
    expect(ctx.err === Canceled, `err is ${ctx.err}, not Canceled`);
    if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    expect(signal.reason === Canceled, 'ctx.signal did not abort with Canceled');
  });

  // The module's workloads, as the Node test runs them (workloads.mjs).
  const { WORKLOADS, runWorkload } = await import('./workloads.mjs');
  for (const workload of WORKLOADS) {
    await check(`workload ${workload.name}(${workload.args.join(', ')}) runs, stops through its context, checksums right`, async () => {
      const { reports, final } = await runWorkload(rt, workload, WORKLOAD_RUN_MS);
      expect(final.final === true && final.workload === workload.name, `final report ${JSON.stringify(final)}`);
      expect(final.error === undefined && final.checksumErrors === 0 && final.ops > 0, `final report ${JSON.stringify(final)}`);
      workload.check(final, reports);
      return `${final.ops} ops, ${reports.length} reports while running`;
    });
  }

  await check("misuse throws Go's typed errors: ChannelClosedError and PanicError('close of closed channel')", async () => {
    const ch = rt.chan({ codec: 'json' });
    ch.close();
    const sendErr = await errorOf(() => ch.send({ kept: true }), 'a send on a closed channel');
    expect(sendErr instanceof ChannelClosedError && sendErr instanceof GortError, `the send threw ${describe(sendErr)}`);
    equal([sendErr.message, sendErr.value], ['send on closed channel', { kept: true }], '[message, value]');
    const closeErr = await errorOf(() => ch.close(), 'a second close');
    expect(closeErr instanceof PanicError, `the second close threw ${describe(closeErr)}`);
    equal(closeErr.message, 'close of closed channel', 'message');
  });

  await check('wasmURL and workerURL: a .wasm served as application/octet-stream and a worker file away from the glue; procs left to its default, the CPUs less one', async () => {
    const moved = await start({
      wasmURL: new URL('/moved/gort.wasm', location.href),
      workerURL: '/moved/gort.worker.js',
    });
    try {
      const input = moved.chan({ cap: 1, codec: 'string' });
      const output = moved.chan({ codec: 'string' });
      moved.go('echo', input, output);
      await input.send('through the moved files');
      equal(await output.recv(), { value: 'through the moved files', ok: true }, 'echo');
      equal(moved.procs, Math.max(1, Math.min(navigator.hardwareConcurrency - 1, 4)), 'default procs');
    } finally {
      await moved.close();
    }
  });

  await check('a worker file that does not load rejects start() instead of hanging', async () => {
    const err = await errorOf(() => start({ procs: 1, workerURL: '/moved/no-such.worker.js' }), 'start() with a missing worker file');
    expect(err.message.includes('/moved/no-such.worker.js'), `the error does not name the file: ${describe(err)}`);
  });

  await workerChecks(rt);

  await check('close() stops the runtime; afterwards calls throw RuntimeClosedError', async () => {
    await rt.close();
    const err = await errorOf(() => rt.chan(), 'rt.chan() after close()');
    expect(err instanceof RuntimeClosedError, `rt.chan() threw ${describe(err)}`);
  });
}

async function notIsolatedChecks() {
  const { start, isSupported, NotIsolatedError } = gort;

  await check('the page is not cross-origin isolated and has no SharedArrayBuffer', () => {
    expect(crossOriginIsolated === false, 'crossOriginIsolated is true');
    expect(typeof SharedArrayBuffer == 'undefined', 'SharedArrayBuffer is defined');
  });

  await check('isSupported() says no and names both headers', () => {
    const support = isSupported();
    expect(support.supported === false, 'isSupported() says yes');
    for (const header of BOTH_HEADERS) expect(support.reason.includes(header), `the reason does not name '${header}': ${support.reason}`);
  });

  await check('start() rejects at once with NotIsolatedError naming both headers, loading nothing', async () => {
    const began = performance.now();
    const err = await errorOf(() => start(), 'start()');
    const tookMs = performance.now() - began;
    expect(err instanceof NotIsolatedError, `start() rejected with ${describe(err)}`);
    expect(err.code === 'ENOTISOLATED', `code is ${err.code}`);
    for (const header of BOTH_HEADERS) expect(err.message.includes(header), `the message does not name '${header}'`);
    expect(tookMs < 200, `start() took ${tookMs.toFixed(0)} ms to reject`);
    const fetched = performance.getEntriesByType('resource').map((e) => e.name).filter((name) => name.endsWith('.wasm'));
    equal(fetched, [], 'the .wasm files fetched');
  });
}

// ---- module Web Workers attached to the page's runtime ('gort/worker') ----

/**
 * Starts worker.mjs as a module worker in role, handing it the runtime's
 * handle and data. messageOf(type) resolves with the worker's next message of
 * that type (and rejects when the worker reports an error or fails to load).
 */
function startWorker(rt, role, data = {}) {
  const worker = new Worker(WORKER_URL, { type: 'module', name: `gort-test-${role}` });
  const record = { role, worker, messages: [] };
  startedWorkers.push(record);
  const waiters = [];
  let failure = null;
  const fail = (err) => {
    failure ??= err;
    for (const w of waiters.splice(0)) w.reject(failure);
  };
  worker.onmessage = ({ data: message }) => {
    record.messages.push(message);
    if (message?.gortTest !== true) return; // counted by the last check
    if (message.type === 'error') { fail(new Error(`the ${role} worker failed: ${message.message}`)); return; }
    const i = waiters.findIndex((w) => w.type === message.type);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(message);
    else record.unclaimed = [...(record.unclaimed ?? []), message];
  };
  worker.onmessageerror = () => fail(new Error(`a message of the ${role} worker could not be read`));
  worker.onerror = (event) => {
    event.preventDefault(); // reported as this check's failure, not as an error of the page
    fail(new Error(`the ${role} worker failed to load or threw: ${event.message || 'no message'}`));
  };
  worker.postMessage({ role, rt: rt.handle, ...data });
  return {
    worker,
    messageOf(type) {
      if (failure) return Promise.reject(failure);
      const i = (record.unclaimed ?? []).findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(record.unclaimed.splice(i, 1)[0]);
      return new Promise((resolve, reject) => waiters.push({ type, resolve, reject }));
    },
    /** Whether a message of type has arrived and is not yet claimed. */
    has(type) { return (record.unclaimed ?? []).some((m) => m.type === type); },
    terminate() { worker.terminate(); },
  };
}

async function workerChecks(rt) {
  const { GortError, start } = gort;

  await check("a module worker attaches to the page's runtime with gort/worker's attach(rt.handle)", async () => {
    const greeting = rt.chan({ codec: 'string' });
    const w = startWorker(rt, 'hello', { greeting: greeting.handle });
    try {
      const attached = await w.messageOf('attached');
      equal(attached.runtime, rt.id, 'the runtime the worker attached to');
      equal(await greeting.recv(), { value: 'hello from a module worker', ok: true }, 'what the worker sent');
      await w.messageOf('done');
    } finally {
      w.terminate();
    }
  });

  await check("text of every kind comes back whole from a worker's recvSync and sendSync", async () => {
    const input = rt.chan({ cap: 4, codec: 'string' });
    const output = rt.chan({ cap: 4, codec: 'string' });
    const w = startWorker(rt, 'echoText', { input: input.handle, output: output.handle });
    try {
      const receiving = (async () => {
        const got = [];
        for await (const text of output) got.push(text);
        return got;
      })();
      for (const text of EDGE_TEXTS) await input.send(text);
      input.close();
      const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
      const encoder = new TextEncoder();
      equal(await receiving, EDGE_TEXTS.map((text) => utf8.decode(encoder.encode(text))), 'the texts that came back');
      await w.messageOf('done');
    } finally {
      w.terminate();
    }
  });

  await check('the page, a worker blocking in sendSync/recvSync, a worker using Promises and an echo goroutine share channels: every value received exactly once', async () => {
    const COUNT = 1000; // values each of the three senders sends
    const work = rt.chan({ cap: 4, codec: 'json' });
    const results = rt.chan({ cap: 4, codec: 'json' });
    rt.go('echo', work, results); // moves work to results; closes results after work is closed
    // Ids: the page sends 0..COUNT-1, the workers the next two ranges.
    const common = { count: COUNT, work: work.handle, results: results.handle };
    const blocking = startWorker(rt, 'party', { ...common, name: 'blocking', base: COUNT, blocking: true });
    const promises = startWorker(rt, 'party', { ...common, name: 'promises', base: 2 * COUNT, blocking: false });
    try {
      const pageIds = [];
      const receiving = (async () => { for await (const v of results) pageIds.push(v.id); })();
      // The blocking worker receives only once it has sent all it sends:
      // the page sends its share after that, so that all three receive.
      await blocking.messageOf('sent');
      for (let i = 0; i < COUNT; i++) await work.send({ id: i, from: 'page' });
      await promises.messageOf('sent');
      work.close();
      const [fromBlocking, fromPromises] = await Promise.all([blocking.messageOf('received'), promises.messageOf('received')]);
      await receiving;
      const seen = new Uint8Array(3 * COUNT);
      for (const id of [...pageIds, ...fromBlocking.ids, ...fromPromises.ids]) {
        expect(Number.isInteger(id) && id >= 0 && id < seen.length, `a value no one sent: ${JSON.stringify(id)}`);
        expect(seen[id] === 0, `value ${id} was received twice`);
        seen[id] = 1;
      }
      const lost = seen.indexOf(0);
      expect(lost === -1, `value ${lost} was never received`);
      // The sums the workers computed over what they received add up to the sum of every id sent.
      const pageSum = pageIds.reduce((a, b) => a + b, 0);
      const total = pageSum + fromBlocking.sum + fromPromises.sum;
      const expected = (3 * COUNT * (3 * COUNT - 1)) / 2;
      equal(total, expected, 'the sum of every id received');
      for (const [name, ids] of [['page', pageIds], ['blocking worker', fromBlocking.ids], ['promises worker', fromPromises.ids]]) {
        expect(ids.length > 0, `the ${name} received nothing`);
      }
      await Promise.all([blocking.messageOf('done'), promises.messageOf('done')]);
      return `${3 * COUNT} values; received by the page ${pageIds.length}, the blocking worker ${fromBlocking.ids.length}, ` +
        `the promises worker ${fromPromises.ids.length}; checksum ${total} = ${expected}`;
    } finally {
      blocking.terminate();
      promises.terminate();
    }
  });

  await check('a context cancelled from the page wakes a worker blocked in ctx.done.recvSync()', async () => {
    const ctx = rt.context.withCancel(rt.context.background());
    const w = startWorker(rt, 'waitDone', { ctx: ctx.handle });
    try {
      await w.messageOf('waiting');
      await sleep(150);
      expect(!w.has('woken'), 'the worker woke before the cancel');
      ctx.cancel();
      const woken = await w.messageOf('woken');
      equal([woken.ok, woken.value], [false, null], "the worker's receive on ctx.done [ok, value]");
      expect(woken.blockedMs >= 100, `the worker was blocked only ${woken.blockedMs.toFixed(1)} ms`);
      await w.messageOf('done');
      return `the worker was blocked for ${woken.blockedMs.toFixed(0)} ms`;
    } finally {
      w.terminate();
    }
  });

  await check('a worker terminated while it waits (blocked in recvSync; with a Promise) is cleaned up after: its wait is withdrawn and its handles let go', async () => {
    const live = () => rt.realm.module._gort_js_handles_live();
    const took = [];
    for (const how of ['recvSync', 'recv']) {
      const ch = rt.chan();
      const before = live();
      const w = startWorker(rt, 'waitToBeTerminated', { ch: ch.handle, times: 20, how });
      try {
        await w.messageOf('waiting');
        await sleep(150);
        expect(live() >= before + 20, `the worker (${how}) holds ${live() - before} handles, not 20`);
      } finally {
        w.terminate();
      }
      const began = performance.now();
      while (live() > before) {
        if (performance.now() - began > 5000) throw new Error(`5 s after terminate() the worker's (${how}) ${live() - before} handles are still held`);
        await sleep(5);
      }
      took.push(`${how} ${(performance.now() - began).toFixed(0)} ms`);
      expect(!ch.trySend('for nobody'), `a value offered after the cleanup was taken by the terminated worker (${how})`);
      ch[Symbol.dispose]();
    }
    return `cleaned up after terminate(): ${took.join(', ')}`;
  });

  await check("a worker's clock is the runtime's: deadlines read the same there, and its timeouts last as long as asked", async () => {
    const ctx = rt.context.withTimeout(rt.context.background(), 60_000);
    const w = startWorker(rt, 'clock', { ctx: ctx.handle });
    try {
      const clock = await w.messageOf('clock');
      // Each side turns the runtime's deadline into a Date with its own clock.
      const apart = Math.abs(clock.deadline - ctx.deadline.getTime());
      expect(apart <= 20, `the worker reads the page's deadline ${apart} ms away from the page`);
      expect(clock.timedOut, 'recvSync({ timeout: 100 }) on an empty channel did not time out');
      expect(clock.recvMs >= 99.9 && clock.recvMs < 2000, `recvSync({ timeout: 100 }) returned after ${clock.recvMs.toFixed(1)} ms`);
      equal([clock.doneOk, clock.ctxErr], [false, 'context deadline exceeded'], "the worker's own 100 ms context [done ok, err]");
      expect(clock.ctxMs >= 99.9 && clock.ctxMs < 2000, `the worker's 100 ms context ended after ${clock.ctxMs.toFixed(1)} ms`);
      await w.messageOf('done');
      ctx.cancel();
      return `deadlines ${apart} ms apart; timeout after ${clock.recvMs.toFixed(1)} ms, context after ${clock.ctxMs.toFixed(1)} ms`;
    } finally {
      w.terminate();
    }
  });

  await check("recvSync and sendSync on the page's main thread throw 'cannot be made on this thread'", async () => {
    const ch = rt.chan({ cap: 1, codec: 'string' });
    for (const [what, call] of [['recvSync', () => ch.recvSync()], ['sendSync', () => ch.sendSync('x')]]) {
      const err = await errorOf(call, `ch.${what}() on the main thread`);
      expect(err instanceof GortError && err.code === 'EWOULDBLOCK', `${what} threw ${describe(err)}`);
      expect(err.message.includes('cannot be made on this thread'), `${what}'s message: ${err.message}`);
    }
    // Nothing was sent or queued by the refused calls.
    equal(ch.len, 0, 'len after the refused sendSync');
    expect(ch.trySend('usable'), 'the channel is not usable after the refused calls');
    equal(await ch.recv(), { value: 'usable', ok: true }, 'the value sent after');
  });

  await check('deadlockAfterMs: a receive nothing can complete rejects with DeadlockError after the quiet spell; a worker acting meanwhile holds it off', async () => {
    const { DeadlockError } = gort;
    const SPELL_MS = 200;
    const own = await start({ procs: 1, deadlockAfterMs: SPELL_MS });
    const busy = own.chan({ cap: 1, codec: 'i32' });
    const late = own.chan({ codec: 'string' });
    const w = startWorker(own, 'actThenAnswer', { busy: busy.handle, late: late.handle, acts: 12, everyMs: SPELL_MS / 3 });
    try {
      // (Attaching takes longer than the spell; the watch runs only while the page waits.)
      await w.messageOf('ready');
      equal(await late.recv(), { value: 'answered', ok: true }, 'the receive a worker answered after acting for four spells');
      await w.messageOf('done');
      const nobody = own.chan();
      const began = performance.now();
      const err = await errorOf(() => nobody.recv(), 'a receive nothing can complete');
      const waited = performance.now() - began;
      expect(err instanceof DeadlockError && err.message === 'all goroutines are asleep - deadlock!', `it rejected with ${describe(err)}`);
      expect(waited >= SPELL_MS, `reported after ${waited.toFixed(1)} ms, before the spell was over`);
      expect(!nobody.trySend(1), 'the withdrawn receiver is still queued');
      expect(busy.trySend(1) || busy.tryRecv().state === 'ok', 'the runtime is not usable after the deadlock');
      return `reported after ${waited.toFixed(0)} ms of quiet (spell ${SPELL_MS} ms)`;
    } finally {
      w.terminate();
      await own.close();
    }
  });

  await check("a fatal error on an attached worker's own thread ends the runtime: the page's and another worker's waiting operations reject with FatalError, and a worker blocked in recvSync throws it", async () => {
    const { FatalError } = gort;
    const doomed = await start({ procs: 1 });
    const ch = doomed.chan();
    const waiter = startWorker(doomed, 'awaitFatal', { ch: ch.handle });
    const blocked = startWorker(doomed, 'blockUntilFatal', { ch: ch.handle });
    let overflowing = null;
    try {
      await waiter.messageOf('waiting');
      await blocked.messageOf('waiting');
      // Time for it to go from its message to its sleep in the runtime.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const pending = ch.recv();
      overflowing = startWorker(doomed, 'overflowThisThread', { ch: ch.handle });
      const text = 'fatal error: stack overflow';
      const err = await errorOf(() => pending, "the page's waiting receive");
      expect(err instanceof FatalError && err.message === text, `the page's receive rejected with ${describe(err)}`);
      const later = await errorOf(() => doomed.chan(), 'rt.chan() after the fatal error');
      expect(later instanceof FatalError && later.message === text, `rt.chan() threw ${describe(later)}`);
      const own = await overflowing.messageOf('overflowed');
      expect(own.thrown.startsWith('RuntimeError: Aborted(stack overflow)'), `the overflowing call threw ${own.thrown}`);
      equal([own.own, own.later], [`FatalError: ${text}`, `FatalError: ${text}`], "the overflowing worker's [waiting receive, later call]");
      const other = await waiter.messageOf('fatal');
      equal([other.outcome, other.later], [`FatalError: ${text}`, `FatalError: ${text}`], "the other worker's [waiting receive, later call]");
      const gaveUp = await blocked.messageOf('gaveUp');
      equal([gaveUp.outcome, gaveUp.later], [`FatalError: ${text}`, `FatalError: ${text}`], "the blocked worker's [recvSync, later call]");
      await Promise.all([waiter.messageOf('done'), overflowing.messageOf('done'), blocked.messageOf('done')]);
    } finally {
      blocked.terminate();
      waiter.terminate();
      overflowing?.terminate();
      await doomed.close();
    }
  });

  await check("the workers' onmessage saw only the test's own messages (none from the runtime's thread code)", async () => {
    expect(startedWorkers.length >= 5, `only ${startedWorkers.length} workers were started`);
    const stray = startedWorkers.flatMap((w) => w.messages.filter((m) => m?.gortTest !== true).map((m) => `${w.role}: ${JSON.stringify(m)}`));
    equal(stray, [], 'messages that are not the test\'s');
    const count = startedWorkers.reduce((n, w) => n + w.messages.length, 0);
    return `${count} messages from ${startedWorkers.length} workers`;
  });
}
