// Workers that attach to a runtime ('gort/worker', dist/ built by
// src/js/build.sh): the main thread, two worker_threads and goroutines on the
// same channels with every value checked, cancellation reaching a worker
// blocked in the runtime, aborts in a worker, and blocking forms refused on
// the main thread.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../dist/index.node.js', import.meta.url));
const workerEntry = fileURLToPath(new URL('../dist/worker.node.js', import.meta.url));
if (!existsSync(workerEntry)) throw new Error(`${workerEntry} is missing: build it with src/js/build.sh`);
const { start, GortError, FatalError } = await import(entry);
const partyScript = new URL('./workers/party.mjs', import.meta.url);

let rt;
before(async () => { rt = await start({ procs: 2, godebug: 'gccheckmark=1' }); });
after(async () => { await rt.close(); });

function party(role, data) {
  const worker = new Worker(partyScript, { workerData: { entry: workerEntry, rt: rt.handle, role, ...data } });
  return new Promise((resolve, reject) => {
    worker.once('message', (m) => (m === 'ok' ? resolve() : reject(new Error(m))));
    worker.once('error', reject);
  });
}

test('main thread, two workers and goroutines share channels: every value received exactly once', async () => {
  const COUNT = 1500;
  const work = rt.chan({ cap: 4, codec: 'json' });
  const results = rt.chan({ cap: 4, codec: 'json' });
  const report = rt.chan({ cap: 8, codec: 'json' });
  rt.go('echo', work, results); // a goroutine moves work to results, and closes results after work
  const common = { count: COUNT, work: work.handle, results: results.handle, report: report.handle };
  const workers = [
    party('party', { ...common, name: 'blocking', blocking: true }),
    party('party', { ...common, name: 'async', blocking: false }),
  ];
  const mainIds = [];
  const receiving = (async () => { for await (const v of results) mainIds.push(v.id); })();
  for (let i = 0; i < COUNT; i++) await work.send({ id: `main:${i}` });
  const sent = [];
  while (sent.length < 2) sent.push((await report.recv()).value);
  work.close();
  const received = [mainIds];
  while (received.length < 3) received.push((await report.recv()).value.received);
  await receiving;
  await Promise.all(workers);
  const all = received.flat();
  const unique = new Set(all);
  assert.equal(unique.size, all.length, 'a value was received twice');
  for (const name of ['main', 'blocking', 'async']) {
    for (let i = 0; i < COUNT; i++) assert.ok(unique.has(`${name}:${i}`), `${name}:${i} was lost`);
  }
  assert.equal(all.length, 3 * COUNT);
  assert.ok(received.every((ids) => ids.length > 0), 'a party received nothing');
});

test('two workers on a large buffered channel: every value arrives once and in order, the channel running full and empty', async () => {
  // A sender that finds a large channel full waits for room for several
  // values before it sends again (src/js/bridge.c): between two workers
  // that run at different speeds, both ends of the buffer are exercised.
  const COUNT = 60_000;
  const ch = rt.chan({ cap: 256, codec: 'string' });
  await Promise.all([party('recvNumbered', { ch: ch.handle, count: COUNT }), party('sendNumbered', { ch: ch.handle, count: COUNT })]);
});

test("a worker's sendSync on a full buffered channel goes on when one value is taken", async () => {
  const CAP = 64, MORE = 5;
  const ch = rt.chan({ cap: CAP, codec: 'string' });
  const sending = party('sendNumbered', { ch: ch.handle, count: CAP + MORE });
  const untilFull = async () => {
    for (const t0 = Date.now(); ch.len < CAP;) {
      assert.ok(Date.now() - t0 < 10_000, `the channel stayed at ${ch.len} of ${CAP}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  const pad = '.'.repeat(90);
  for (let i = 0; i < MORE; i++) {
    await untilFull();
    assert.deepEqual(ch.tryRecv(), { state: 'ok', value: `${i}${pad}` });
  }
  await sending;
  assert.equal(ch.len, CAP);
  for (let i = MORE; i < CAP + MORE; i++) assert.equal((await ch.recv()).value, `${i}${pad}`);
  assert.deepEqual(ch.tryRecv(), { state: 'closed' });
});

test("a worker's blocking sends of text arrive whole, the staging area's size and beyond; values no codec takes throw TypeError", async () => {
  const texts = ['', 'a', 'héllo wörld', '🦫 gopher 🦫', 'x'.repeat(100), 'é'.repeat(30_000), 'y'.repeat(64 * 1024), 'z'.repeat(100_000)];
  const values = [{ id: 1, tags: ['a', 'b'] }, 'just a string', 12.5, null, [1, [2, [3]]], { text: 'w'.repeat(70_000) }];
  const strings = rt.chan({ cap: texts.length, codec: 'string' });
  const json = rt.chan({ cap: values.length, codec: 'json' });
  await party('sendTexts', { strings: strings.handle, json: json.handle, texts, values });
  for (const text of texts) assert.deepEqual(strings.tryRecv(), { state: 'ok', value: text });
  for (const value of values) assert.deepEqual(json.tryRecv(), { state: 'ok', value });
  assert.deepEqual(strings.tryRecv(), { state: 'empty' }, 'a value that threw was sent');
  assert.deepEqual(json.tryRecv(), { state: 'empty' }, 'a value that threw was sent');
});

test('close storms: each close wakes the main thread, both workers and a goroutine waiting on it', async () => {
  const ROUNDS = 100;
  const rounds = [rt.chan({ codec: 'json' }), rt.chan({ codec: 'json' })];
  const report = rt.chan({ cap: 4, codec: 'string' });
  const workers = [
    party('closeStorm', { rounds: rounds[0].handle, report: report.handle, blocking: true }),
    party('closeStorm', { rounds: rounds[1].handle, report: report.handle, blocking: false }),
  ];
  for (let i = 0; i < ROUNDS; i++) {
    const c = rt.chan({ codec: i % 2 ? 'string' : 'f64', cap: i % 3 });
    const forwarded = rt.chan({ codec: 'json' });
    rt.go('echo', c, forwarded); // closes forwarded when c closes
    const mine = c.recv();
    for (const r of rounds) await r.send(c.handle);
    // Let every party queue on c (some closes still land first: both orders are Go's).
    if (i % 2) await new Promise((resolve) => setTimeout(resolve, 1));
    c.close();
    assert.equal((await mine).ok, false);
    assert.deepEqual(await forwarded.recv(), { value: undefined, ok: false });
    for (let k = 0; k < 2; k++) assert.equal((await report.recv()).value, 'closed');
    c[Symbol.dispose]();
  }
  for (const r of rounds) r.close();
  await Promise.all(workers);
});

test('a cancel on the main thread wakes a worker blocked in recvSync and a goroutine', async () => {
  const ctx = rt.context.withCancel(rt.context.background());
  const back = rt.chan({ codec: 'string' });
  const forwarded = rt.chan({ codec: 'json' });
  rt.go('echo', ctx.done, forwarded); // ends, closing forwarded, when done closes
  const worker = party('waitDone', { ctx: ctx.handle, back: back.handle });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(forwarded.tryRecv(), { state: 'empty' });
  ctx.cancel();
  assert.deepEqual(await back.recv(), { value: 'woken ok=false', ok: true });
  assert.deepEqual(await forwarded.recv(), { value: undefined, ok: false });
  await worker;
});

test('aborting a worker\'s pending receive withdraws it', async () => {
  const ch = rt.chan({ codec: 'string' });
  const back = rt.chan({ codec: 'string' });
  const worker = party('abortRecv', { ch: ch.handle, back: back.handle });
  assert.equal((await back.recv()).value, 'aborted in worker');
  await worker;
  assert.equal(ch.trySend('nobody'), false, 'the aborted receiver is still queued');
});

/** A party of runtime `of` whose messages (plain objects, not 'ok') are collected in order. */
function reportingParty(of, role, data) {
  // of null: a worker made before its runtime, told of it by a first message.
  const rtData = of === null ? {} : { rt: of.handle };
  const worker = new Worker(partyScript, { workerData: { entry: workerEntry, ...rtData, role, ...data } });
  const messages = [];
  let notify = () => {};
  worker.on('message', (m) => { messages.push(m); notify(); });
  worker.on('error', (err) => { messages.push({ error: String(err && err.stack || err) }); notify(); });
  /** Resolves with the first message that has key (after those already seen). */
  async function next(key) {
    for (;;) {
      const found = messages.find((m) => m && typeof m == 'object' && (key in m || 'error' in m));
      if (found) {
        messages.splice(messages.indexOf(found), 1);
        if ('error' in found && !(key in found)) throw new Error(found.error);
        return found;
      }
      await new Promise((resolve) => { notify = resolve; });
    }
  }
  return { worker, next };
}

test('a worker\'s opened channels hold handles of its own, which detach() lets go', async () => {
  const own = await start({ procs: 1 });
  const live = () => own.realm.module._gort_js_handles_live();
  const ch = own.chan();
  const worker = reportingParty(own, 'openManyThenDetach', { ch: ch.handle, times: 100 });
  try {
    const before = live();
    assert.equal((await within(10_000, worker.next('opened'), 'the worker opening')).opened, 100);
    assert.equal(live(), before + 100, 'handles while the worker holds its channels');
    worker.worker.postMessage('detach');
    await within(10_000, worker.next('detached'), 'the worker detaching');
    assert.equal(live(), before, 'handles once the worker detached');
    // The channel is the page's still.
    assert.equal(ch.trySend('still here'), false); // nobody receives: unbuffered
    ch[Symbol.dispose]();
    assert.equal(live(), before - 1);
  } finally {
    await worker.worker.terminate();
    await own.close();
  }
});

test('a worker that ends without detaching detaches on its way out: its handles go back', async () => {
  const own = await start({ procs: 1 });
  const live = () => own.realm.module._gort_js_handles_live();
  const ch = own.chan();
  const before = live();
  const worker = reportingParty(own, 'openManyThenExit', { ch: ch.handle, times: 100 });
  try {
    const exited = new Promise((resolve) => worker.worker.once('exit', resolve));
    assert.equal((await within(10_000, worker.next('opened'), 'the worker opening')).opened, 100);
    assert.equal(await within(10_000, exited, 'the worker ending'), 0);
    assert.equal(live(), before, 'handles once the worker ended');
    ch[Symbol.dispose]();
  } finally {
    await own.close();
  }
});

test('a worker terminated while it waits in the runtime: what it had under way is withdrawn, its handles go back, deadlocks are seen again', async () => {
  // One worker is made before the runtime starts, as a pool often is.
  const early = reportingParty(null, 'waitToBeTerminated', {});
  const own = await start({ procs: 1, deadlockAfterMs: 300 });
  const live = () => own.realm.module._gort_js_handles_live();
  const background = own.context.background();
  try {
    // (On a buffered channel a worker first watches it, holding nothing, before it queues.)
    for (const how of ['recvSync', 'sendSync', 'selectSync', 'recv', 'recvSync made before start()', 'recvSync buffered', 'sendSync buffered']) {
      const buffered = how.endsWith('buffered');
      const ch = own.chan({ cap: buffered ? 1 : 0 });
      if (how === 'sendSync buffered') assert.equal(ch.trySend('there first'), true);
      const before = live();
      const data = { ch: ch.handle, times: 50, how: how.split(' ')[0] };
      // The first also starts a goroutine that outlives it.
      const ctx = how === 'recvSync' ? own.context.withCancel(background) : null;
      const out = how === 'recvSync' ? own.chan({ codec: 'i32', cap: 1 }) : null;
      if (ctx) data.untildone = { ctx: ctx.handle, out: out.handle };
      let w;
      if (how.endsWith('start()')) {
        w = early;
        w.worker.postMessage({ rt: own.handle, ...data });
      } else {
        w = reportingParty(own, 'waitToBeTerminated', data);
      }
      await within(10_000, w.next('waiting'), `the worker that will wait (${how})`);
      // Time for it to go from its message to its wait in the runtime.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.ok(live() >= before + 50, 'the worker holds handles of its own');
      await w.worker.terminate();
      // Nothing of its wait is left on the channel: a value offered now
      // finds no receiver (a dead one would take it), and no value sits
      // waiting to be received.
      if (how === 'sendSync') assert.deepEqual(ch.tryRecv(), { state: 'empty' }, how);
      else if (how === 'sendSync buffered') {
        assert.deepEqual(ch.tryRecv(), { state: 'ok', value: 'there first' }, how);
        assert.deepEqual(ch.tryRecv(), { state: 'empty' }, how);
      } else if (how === 'recvSync buffered') {
        assert.equal(ch.trySend('for nobody'), true, how);
        assert.deepEqual(ch.tryRecv(), { state: 'ok', value: 'for nobody' }, how);
      } else assert.equal(ch.trySend('for nobody'), false, how);
      if (ctx) {
        // The goroutine the worker started still has what it was given.
        ctx.cancel();
        assert.deepEqual(await within(10_000, out.recv(), 'the goroutine a terminated worker started'), { value: 12, ok: true });
        for (const o of [ctx, out]) o[Symbol.dispose]();
      }
      // (The goroutine lets go of its arguments' handles as it ends.)
      for (let waited = 0; live() !== before && waited < 2000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(live() - before, 0, `handles once the worker (${how}) was terminated`);
      ch[Symbol.dispose]();
    }
    // No party is left that could act: a wait of the main thread's is a deadlock.
    const lonely = own.chan();
    await assert.rejects(within(10_000, lonely.recv(), 'the deadlock'), (err) => err instanceof GortError && err.code === 'EDEADLOCK');
  } finally {
    await early.worker.terminate(); // (already, unless the test failed before its turn)
    await own.close();
  }
});

test('workers gone leave no memory behind: a terminated one\'s thread and staging area, and a detached one\'s thread, go to the next workers', async () => {
  const own = await start({ procs: 1 });
  const m = own.realm.module;
  const live = () => m._gort_js_handles_live();
  const ch = own.chan();
  const staged = own.chan({ codec: 'string', cap: 4 });
  const terminatedWhileWaiting = async () => {
    const before = live();
    const w = reportingParty(own, 'waitToBeTerminated', { ch: ch.handle, times: 1, how: 'recvSync', staged: staged.handle });
    await within(10_000, w.next('waiting'), 'a worker that will wait');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await w.worker.terminate();
    // Cleaned up after once its handles are back.
    for (let waited = 0; live() !== before && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(live(), before, 'the terminated worker was not cleaned up after');
    assert.deepEqual(staged.tryRecv(), { state: 'ok', value: 'staged' });
  };
  const detached = async () => {
    await within(10_000, party('stageAndLeave', { rt: own.handle, staged: staged.handle }), 'a worker that detaches');
    assert.deepEqual(staged.tryRecv(), { state: 'ok', value: 'staged' });
  };
  // Each worker that went and took its memory with it would leave its
  // thread's stack (128 KB) and, when terminated, its staging area (64 KB).
  const ROUNDS = 10, BOUND = 256 * 1024;
  try {
    for (const [name, round] of [['terminated while waiting', terminatedWhileWaiting], ['detached', detached]]) {
      for (let i = 0; i < 2; i++) await round(); // the slots, the spares and the allocator settle
      const base = m._gort_js_malloc_in_use();
      for (let i = 0; i < ROUNDS; i++) await round();
      const grown = m._gort_js_malloc_in_use() - base;
      assert.ok(grown < BOUND, `${ROUNDS} workers ${name} left ${grown} bytes behind`);
    }
  } finally {
    await own.close();
  }
});

test('a worker\'s own worker, attached and terminated while it waits, is cleaned up after by that worker', async () => {
  const ch = rt.chan();
  const parent = reportingParty(rt, 'parentOfDoomed', { ch: ch.handle });
  const { offered } = await within(20_000, parent.next('offered'), 'the parent worker');
  assert.equal(offered, false, 'the terminated child\'s recvSync was left on the channel');
  assert.equal(ch.trySend('for nobody'), false);
  await within(10_000, new Promise((resolve) => parent.worker.once('exit', resolve)), 'the parent worker ending');
  ch[Symbol.dispose]();
});

test('a worker terminated inside a call into the runtime ends it with a FatalError, not a hang', async () => {
  const own = await start({ procs: 1 });
  const realm = own.realm;
  const words = realm.module._malloc(8); // held, release
  try {
    realm.refresh();
    Atomics.store(realm.i32, words >>> 2, 0);
    Atomics.store(realm.i32, (words >>> 2) + 1, 0);
    const ch = own.chan();
    const pending = ch.recv();
    const holder = reportingParty(own, 'holdLock', { ch: ch.handle, held: words, release: words + 4, timeoutMs: 60_000 });
    while (Atomics.load(realm.i32, words >>> 2) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    await holder.worker.terminate(); // with the channel's lock held
    const text = 'fatal error: a worker attached to the runtime was terminated inside a call into it';
    await assert.rejects(within(10_000, pending, 'the pending receive'), (err) => err instanceof FatalError && err.message === text);
    assert.throws(() => own.chan(), (err) => err instanceof FatalError && err.message === text);
  } finally {
    await own.close();
  }
});

test('a fatal error on an attached worker\'s own thread ends the runtime for every realm with Go\'s words', async () => {
  const doomed = await start({ procs: 1 });
  const workers = [];
  try {
    const ch = doomed.chan();
    const pending = ch.recv(); // the main thread's
    const waiter = reportingParty(doomed, 'awaitFatal', { ch: ch.handle });
    workers.push(waiter.worker);
    await waiter.next('waiting');
    const overflowing = reportingParty(doomed, 'overflowThisThread', { ch: ch.handle });
    workers.push(overflowing.worker);
    const text = 'fatal error: stack overflow';
    await assert.rejects(pending, (err) => err instanceof FatalError && err.message === text);
    assert.throws(() => doomed.chan(), (err) => err instanceof FatalError && err.message === text);
    const own = await overflowing.next('own');
    assert.match(own.thrown, /RuntimeError: Aborted\(stack overflow\)/, 'the overflowing call itself throws the abort');
    assert.equal(own.own, `FatalError: ${text}`, 'the overflowing worker\'s own pending receive');
    assert.equal(own.later, `FatalError: ${text}`);
    const other = await waiter.next('outcome');
    assert.equal(other.outcome, `FatalError: ${text}`, 'another worker\'s pending receive');
    assert.equal(other.later, `FatalError: ${text}`);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    await doomed.close();
  }
});

/** What next(key) resolves with, or a rejection after ms (a worker that never answers fails the test). */
function within(ms, promise, what) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

test('a fatal error on a runtime thread wakes workers blocked in recvSync, sendSync and select.sync: they throw FatalError with Go\'s words', async () => {
  const doomed = await start({ procs: 1 });
  const workers = [];
  const ways = ['recvSync', 'sendSync', 'selectSync', 'recvSyncTimeout'];
  // Kept (and disposed at the end) while the workers use their handles: a
  // dropped channel's handle goes once V8 collects the object.
  const channels = ways.map(() => doomed.chan());
  try {
    const blocked = ways.map((how, i) => reportingParty(doomed, 'blockUntilFatal', { ch: channels[i].handle, how }));
    workers.push(...blocked.map((b) => b.worker));
    for (const b of blocked) await within(10_000, b.next('waiting'), 'a worker starting');
    // Time for each to go from its message to its sleep in the runtime.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const overflowing = doomed.go('overflow');
    const text = `fatal error: stack overflow (goroutine ${overflowing.id})`;
    await assert.rejects(overflowing.done, (err) => err instanceof FatalError && err.message === text);
    for (const [i, b] of blocked.entries()) {
      const m = await within(10_000, b.next('outcome'), `the worker blocked in ${ways[i]}`);
      assert.equal(m.outcome, `FatalError: ${text}`, `the worker blocked in ${ways[i]}`);
      assert.equal(m.later, `FatalError: ${text}`);
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    for (const c of channels) c[Symbol.dispose]();
    await doomed.close();
  }
});

test('close() wakes workers blocked in recvSync and select.sync: they throw RuntimeClosedError', async () => {
  const closing = await start({ procs: 1 });
  const workers = [];
  const ways = ['recvSync', 'selectSync'];
  const channels = ways.map(() => closing.chan());
  try {
    const blocked = ways.map((how, i) => reportingParty(closing, 'blockUntilFatal', { ch: channels[i].handle, how }));
    workers.push(...blocked.map((b) => b.worker));
    for (const b of blocked) await within(10_000, b.next('waiting'), 'a worker starting');
    // Time for each to go from its message to its sleep in the runtime.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await closing.close();
    for (const [i, b] of blocked.entries()) {
      const m = await within(10_000, b.next('outcome'), `the worker blocked in ${ways[i]}`);
      assert.equal(m.outcome, 'RuntimeClosedError: gort: the runtime is closed', `the worker blocked in ${ways[i]}`);
      assert.equal(m.later, 'RuntimeClosedError: gort: the runtime is closed');
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    for (const c of channels) c[Symbol.dispose]();
    await closing.close();
  }
});

test('the main thread never waits for a channel\'s lock in select() or an abort: it tries again on later tasks', async () => {
  // A worker holds b's lock until the main thread tells it to let go: a main
  // thread that waited for the lock inside a call would never tell it (the
  // worker gives up after HOLD_MS and says so).
  const HOLD_MS = 5000;
  const a = rt.chan({ codec: 'json' });
  const b = rt.chan({ codec: 'json' });
  const realm = rt.realm;
  const words = realm.module._malloc(8);
  realm.refresh();
  Atomics.store(realm.i32, words >>> 2, 0);
  Atomics.store(realm.i32, (words >>> 2) + 1, 0);
  const readWord = (i) => { realm.refresh(); return Atomics.load(realm.i32, (words >>> 2) + i); };
  try {
    // Pending before the lock is taken: a receive and a select, each to be aborted.
    const recvAbort = new AbortController();
    const selectAbort = new AbortController();
    const outcome = (p) => p.then(() => 'completed', (err) => err.message);
    const pendingRecv = outcome(b.recv({ signal: recvAbort.signal }));
    const pendingSelect = outcome(rt.select([{ recv: a }, { recv: b }], { signal: selectAbort.signal }));
    const holder = reportingParty(rt, 'holdLock', { ch: b.handle, held: words, release: words + 4, timeoutMs: HOLD_MS });
    while (readWord(0) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    // With b's lock taken: two withdrawals and a new select, all busy.
    recvAbort.abort(new Error('recv aborted'));
    selectAbort.abort(new Error('select aborted'));
    const fresh = rt.select([{ recv: b }, { recv: a }]);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    realm.refresh();
    Atomics.store(realm.i32, (words >>> 2) + 1, 1);
    Atomics.notify(realm.i32, (words >>> 2) + 1);
    assert.equal((await within(10_000, holder.next('letGo'), 'the lock holder')).letGo, 'told');
    assert.equal(await pendingRecv, 'recv aborted');
    assert.equal(await pendingSelect, 'select aborted');
    await b.send('to the fresh select');
    assert.deepEqual(await fresh, { index: 0, value: 'to the fresh select', ok: true });
    // Nothing withdrawn is still queued, nor the fresh select's other case.
    assert.equal(b.trySend('nobody'), false);
    assert.equal(a.trySend('nobody'), false);
    await holder.worker.terminate();
  } finally {
    realm.module._free(words);
  }
});

test('blocking forms are refused on the main thread; handles of another runtime too', async () => {
  const ch = rt.chan({ cap: 1 });
  assert.throws(() => ch.recvSync(), (err) => err instanceof GortError && /cannot be made on this thread/.test(err.message));
  assert.throws(() => ch.sendSync(1), /cannot be made on this thread/);
  const other = await start({ procs: 1 });
  try {
    assert.throws(() => other.open(ch.handle), /another runtime/);
  } finally {
    await other.close();
  }
  await ch.send('usable');
  assert.equal((await ch.recv()).value, 'usable');
});
