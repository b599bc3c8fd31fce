// The npm package from Node's main thread (dist/, built by src/js/build.sh):
// Go's channel semantics across the main thread and goroutines, select,
// abort signals, contexts, misuse, and the process's lifetime.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { pingPong } from './browser/ping_pong.mjs';

const entry = fileURLToPath(new URL('../dist/index.node.js', import.meta.url));
if (!existsSync(entry)) throw new Error(`${entry} is missing: build it with src/js/build.sh`);
const gort = await import(entry);
const { start, select, ChannelClosedError, PanicError, RuntimeClosedError, FatalError, DeadlockError, Canceled, DeadlineExceeded } = gort;

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));
let rt;

before(async () => { rt = await start({ procs: 2, godebug: 'gccheckmark=1' }); });
after(async () => { await rt.close(); });

test('an unbuffered send resolves only when a receiver has taken the value', async () => {
  const ch = rt.chan({ codec: 'string' });
  let sent = false;
  const sending = ch.send('hand-off').then(() => { sent = true; });
  await tick();
  assert.equal(sent, false, 'send resolved with nobody receiving');
  assert.deepEqual(await ch.recv(), { value: 'hand-off', ok: true });
  await sending;
  assert.equal(sent, true);
});

test('a buffered channel is FIFO, and len and cap say what it holds', async () => {
  const ch = rt.chan({ cap: 3, codec: 'json' });
  await ch.send({ n: 1 });
  await ch.send([2]);
  await ch.send('three');
  assert.equal(ch.len, 3);
  assert.equal(ch.cap, 3);
  assert.equal(ch.trySend(4), false, 'a full buffer took a fourth value');
  assert.deepEqual((await ch.recv()).value, { n: 1 });
  assert.deepEqual((await ch.recv()).value, [2]);
  assert.deepEqual((await ch.recv()).value, 'three');
  assert.deepEqual(ch.tryRecv(), { state: 'empty' });
});

test('close wakes waiting receivers and senders; a closed channel drains before ok is false', async () => {
  const waiting = rt.chan({ codec: 'f64' });
  const receivers = [waiting.recv(), waiting.recv()];
  const blocked = rt.chan({ codec: 'string' });
  const sender = blocked.send('never taken');
  await tick();
  waiting.close();
  blocked.close();
  for (const r of await Promise.all(receivers)) assert.deepEqual(r, { value: 0, ok: false });
  await assert.rejects(sender, (err) => err instanceof ChannelClosedError && err.message === 'send on closed channel' && err.value === 'never taken');

  const buffered = rt.chan({ cap: 2, codec: 'i32' });
  await buffered.send(7);
  await buffered.send(8);
  buffered.close();
  assert.deepEqual(await buffered.recv(), { value: 7, ok: true });
  assert.deepEqual(buffered.tryRecv(), { state: 'ok', value: 8 });
  assert.deepEqual(buffered.tryRecv(), { state: 'closed' });
  assert.deepEqual(await buffered.recv(), { value: 0, ok: false });
  await assert.rejects(buffered.send(9), ChannelClosedError);
  assert.throws(() => buffered.close(), (err) => err instanceof PanicError && err.message === 'close of closed channel');
});

test('strings of every small length arrive whole (payload headers stay aligned)', async () => {
  const ch = rt.chan({ cap: 32, codec: 'string' });
  const sent = [];
  for (let round = 0; round < 4; round++) {
    for (let len = 0; len < 24; len++) sent.push('abcdefghijklmnopqrstuvwxyz'.slice(0, len) + 'é'.repeat(round));
  }
  const receiving = (async () => { const got = []; for (const _ of sent) got.push((await ch.recv()).value); return got; })();
  for (const s of sent) await ch.send(s);
  assert.deepEqual(await receiving, sent);
});

test('bytes come back as fresh, non-shared Uint8Arrays; user codecs round-trip', async () => {
  const bytes = rt.chan({ cap: 2, codec: 'bytes' });
  await bytes.send(new Uint8Array([1, 2, 3]));
  await bytes.send(new Uint16Array([0x0201]).buffer);
  const a = (await bytes.recv()).value;
  assert.ok(a instanceof Uint8Array);
  assert.ok(!(a.buffer instanceof SharedArrayBuffer), 'a view of shared memory came back');
  assert.deepEqual([...a], [1, 2, 3]);
  assert.equal(new TextDecoder().decode(a), '\x01\x02\x03', 'TextDecoder refused the bytes');
  assert.deepEqual([...(await bytes.recv()).value], [1, 2]);
  assert.throws(() => bytes.trySend('not bytes'), TypeError);

  const dates = rt.chan({ cap: 1, codec: {
    encode: (d) => new TextEncoder().encode(d.toISOString()),
    decode: (b) => new Date(new TextDecoder().decode(b)),
  } });
  const when = new Date(Date.UTC(2009, 10, 10));
  await dates.send(when);
  const back = (await dates.recv()).value;
  assert.ok(back instanceof Date);
  assert.equal(back.getTime(), when.getTime());
});

test('two async loops of one thread handing values to each other let the event loop run meanwhile', async () => {
  const rounds = 20_000, progress = { round: 0 };
  let timerRound = null, immediateRound = null;
  setTimeout(() => { timerRound = progress.round; }, 0);
  setImmediate(() => { immediateRound = progress.round; });
  const { sum, expected } = await pingPong(rt.chan({ codec: 'f64' }), rt.chan({ codec: 'f64' }), rounds, progress);
  assert.equal(sum, expected);
  // Microtasks alone would have run the whole ping-pong before either.
  assert.ok(immediateRound !== null && immediateRound < rounds / 2, `setImmediate ran at round ${immediateRound} of ${rounds}`);
  assert.ok(timerRound !== null && timerRound < rounds / 2, `setTimeout(0) ran at round ${timerRound} of ${rounds}`);
});

test('receives that all complete at once (a full buffer) let the event loop run meanwhile', async () => {
  const count = 50_000;
  const ch = rt.chan({ cap: count, codec: 'f64' });
  for (let i = 0; i < count; i++) assert.equal(ch.trySend(i), true);
  ch.close();
  let received = 0, sum = 0, immediateAt = null;
  setImmediate(() => { immediateAt = received; });
  for await (const v of ch) {
    sum += v;
    received++;
  }
  assert.equal(received, count);
  assert.equal(sum, count * (count - 1) / 2);
  assert.ok(immediateAt !== null && immediateAt < count / 2, `setImmediate ran after ${immediateAt} of ${count} receives`);
});

test('streams: readable() yields what is received, writable() sends and closes', async () => {
  const ch = rt.chan({ cap: 4, codec: 'string' });
  const writer = ch.writable().getWriter();
  const writing = (async () => {
    for (const w of ['a', 'b', 'c']) await writer.write(w);
    await writer.close();
  })();
  const got = [];
  for await (const v of ch.readable()) got.push(v);
  await writing;
  assert.deepEqual(got, ['a', 'b', 'c']);
  assert.deepEqual(ch.tryRecv(), { state: 'closed' });
});

test('for await receives every value in order and ends at close', async () => {
  const ch = rt.chan({ cap: 8, codec: 'i32' });
  const produced = (async () => { for (let i = 0; i < 100; i++) await ch.send(i); ch.close(); })();
  const seen = [];
  for await (const v of ch) seen.push(v);
  await produced;
  assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i));
});

test('select chooses uniformly among ready cases and never a nil case', async () => {
  const a = rt.chan({ cap: 1, codec: 'bool' });
  const b = rt.chan({ cap: 1, codec: 'bool' });
  const ROUNDS = 2000;
  const counts = [0, 0, 0];
  for (let i = 0; i < ROUNDS; i++) {
    a.trySend(true);
    b.trySend(true);
    const { index, value, ok } = await select([{ recv: a }, null, { recv: b }]);
    assert.equal(value, true);
    assert.equal(ok, true);
    counts[index]++;
  }
  assert.equal(counts[1], 0, 'the nil case was chosen');
  for (const i of [0, 2]) {
    assert.ok(counts[i] > ROUNDS * 0.4 && counts[i] < ROUNDS * 0.6, `case ${i} chosen ${counts[i]} of ${ROUNDS} times`);
  }
});

test('select with send cases, and select.try as Go\'s default', async () => {
  const out = rt.chan({ cap: 1, codec: 'string' });
  const idle = rt.chan({ codec: 'string' });
  assert.deepEqual(select.try([{ recv: idle }]), { index: -1, value: undefined, ok: false });
  const r = await select([{ recv: idle }, { send: out, value: 'via select' }]);
  assert.equal(r.index, 1);
  assert.deepEqual(out.tryRecv(), { state: 'ok', value: 'via select' });
  const full = rt.chan({ cap: 1, codec: 'i32' });
  full.trySend(1);
  assert.equal(select.try([{ send: full, value: 2 }]).index, -1);
});

test('aborting a pending operation withdraws it: nothing is sent or taken', async () => {
  const ch = rt.chan({ codec: 'string' });
  const controller = new AbortController();
  const receiving = ch.recv({ signal: controller.signal });
  await tick();
  controller.abort(new Error('stop'));
  await assert.rejects(receiving, /stop/);
  assert.equal(ch.trySend('x'), false, 'an aborted receiver is still queued');

  const sendAbort = new AbortController();
  const sending = ch.send('withdrawn', { signal: sendAbort.signal });
  await tick();
  sendAbort.abort();
  await assert.rejects(sending, (err) => err.name === 'AbortError');
  assert.deepEqual(ch.tryRecv(), { state: 'empty' }, 'an aborted send was delivered');

  const already = AbortSignal.abort();
  await assert.rejects(ch.recv({ signal: already }), (err) => err.name === 'AbortError');
});

test('goroutines and the main thread share channels: every value arrives exactly once', async () => {
  const COUNT = 5000;
  const input = rt.chan({ cap: 16, codec: 'json' });
  const outputs = [rt.chan({ cap: 16, codec: 'json' }), rt.chan({ codec: 'json' })];
  for (const out of outputs) rt.go('echo', input, out); // two goroutines take from one channel
  const sending = (async () => {
    for (let i = 0; i < COUNT; i++) await input.send({ i, text: `value ${i}` });
    input.close();
  })();
  const seen = new Set();
  const open = [...outputs];
  while (open.some(Boolean)) {
    const { index, value, ok } = await select(open.map((ch) => (ch ? { recv: ch } : null)));
    if (!ok) { open[index] = null; continue; }
    assert.equal(value.text, `value ${value.i}`);
    assert.ok(!seen.has(value.i), `value ${value.i} arrived twice`);
    seen.add(value.i);
  }
  await sending;
  assert.equal(seen.size, COUNT, 'values were lost');
});

test('a C prime sieve feeds for await', async () => {
  const primes = rt.chan({ codec: 'f64' });
  rt.go('primes', primes, 25);
  const got = [];
  for await (const p of primes) got.push(p);
  assert.deepEqual(got, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97]);
});

test('timers: after fires once, a ticker ticks until stopped', async () => {
  const t0 = performance.now();
  const { ok } = await rt.after(50).recv();
  assert.ok(ok);
  assert.ok(performance.now() - t0 >= 45, 'after(50) fired early');
  const ticker = rt.tick(10);
  const first = (await ticker.recv()).value;
  const second = (await ticker.recv()).value;
  assert.ok(second > first, 'ticks carry increasing times');
  ticker.stop();
  ticker[Symbol.dispose]();
  const r = await select([{ recv: rt.after(30) }, null]);
  assert.equal(r.index, 0);
});

test('contexts: cancel, timeout, values, signals', async () => {
  const bg = rt.context.background();
  assert.equal(bg.done, null, 'Background has a Done channel');
  const ctx = rt.context.withCancel(bg);
  const child = rt.context.withValue(ctx, 'user', { name: 'gopher' });
  assert.deepEqual(child.value('user'), { name: 'gopher' });
  assert.equal(child.value('other'), undefined);
  assert.equal(ctx.err, null);
  const waiting = child.done.recv();
  const signal = child.signal;
  ctx.cancel();
  assert.deepEqual(await waiting, { value: undefined, ok: false });
  assert.equal(ctx.err, Canceled);
  assert.equal(child.err, Canceled);
  assert.equal(Canceled.message, 'context canceled');
  // A sentinel printed says what it is, not where the package was loaded.
  assert.equal(Canceled.stack, 'ContextError: context canceled');
  assert.equal(DeadlineExceeded.stack, 'ContextError: context deadline exceeded');
  await tick();
  assert.equal(signal.aborted, true);
  assert.equal(signal.reason, Canceled);

  const timed = rt.context.withTimeout(bg, 30);
  assert.ok(timed.deadline instanceof Date);
  const r = await select([{ recv: timed.done }, { recv: rt.after(5000) }]);
  assert.equal(r.index, 0, 'the timeout did not come first');
  assert.equal(timed.err, DeadlineExceeded);
  assert.equal(DeadlineExceeded.message, 'context deadline exceeded');

  const controller = new AbortController();
  const fromSignal = rt.context.fromSignal(controller.signal);
  controller.abort();
  assert.deepEqual(await fromSignal.done.recv(), { value: undefined, ok: false });
});

test('misuse throws typed errors and leaves the runtime usable', async () => {
  const ints = rt.chan({ codec: 'i32' });
  assert.throws(() => ints.trySend(1.5), TypeError);
  assert.throws(() => ints.trySend('1'), TypeError);
  const json = rt.chan({ cap: 1 });
  assert.throws(() => json.trySend(undefined), TypeError);
  assert.throws(() => rt.chan({ codec: 'xml' }), TypeError);
  assert.throws(() => rt.chan({ cap: -1 }), RangeError);
  assert.throws(() => rt.tick(0), /non-positive interval for NewTicker/);
  assert.throws(() => rt.context.withCancel(null), /cannot create context from nil parent/);
  const gone = rt.chan({ cap: 1 });
  gone[Symbol.dispose]();
  assert.throws(() => gone.trySend(1), /disposed/);
  assert.throws(() => rt.go('nonesuch'), /no goroutine named/);
  // Still usable.
  const ok = rt.chan({ cap: 1, codec: 'string' });
  await ok.send('still here');
  assert.deepEqual(await ok.recv(), { value: 'still here', ok: true });
});

test('a channel opened from a handle holds it by itself; a disposed handle opens nothing, also once its number\'s slot holds another object', async () => {
  const owner = rt.chan({ cap: 1, codec: 'i32' });
  const handle = owner.handle;
  const opened = rt.open(handle); // another holder of the channel, as a worker's
  owner[Symbol.dispose]();
  // Made next, these take the slot the channel's handle had.
  const others = [rt.context.withCancel(rt.context.background()), rt.chan({ codec: 'f64' })];
  assert.equal(opened.trySend(1), true);
  assert.deepEqual(opened.tryRecv(), { state: 'ok', value: 1 });
  assert.throws(() => rt.open(handle), (err) => err instanceof gort.GortError && /was disposed/.test(err.message));
  for (const o of others) assert.equal(o.handle.h === handle.h, false, 'a new object got the disposed handle\'s number');
  // The objects that took the slot are whole.
  others[0].cancel();
  assert.deepEqual(await others[0].done.recv(), { value: undefined, ok: false });
  assert.equal(others[1].trySend(1.5), false);
  for (const o of others) o[Symbol.dispose]();
  opened[Symbol.dispose]();
  assert.throws(() => opened.trySend(1), /was disposed/);
  // A context the same way.
  const ctx = rt.context.withCancel(rt.context.background());
  const openedCtx = rt.open(ctx.handle);
  ctx[Symbol.dispose]();
  openedCtx.cancel();
  assert.deepEqual(await openedCtx.done.recv(), { value: undefined, ok: false });
  assert.equal(openedCtx.err, gort.Canceled);
  openedCtx[Symbol.dispose]();
});

test('a handle relabelled by hand does not open as another kind of object', async () => {
  const ctx = rt.context.withCancel(rt.context.background());
  const ch = rt.chan({ cap: 1, codec: 'f64' });
  assert.throws(() => rt.open({ ...ctx.handle, gort: 'chan', codec: 'f64' }),
    (err) => err instanceof TypeError && /says it is a channel's, and it is not/.test(err.message));
  assert.throws(() => rt.open({ ...ch.handle, gort: 'context' }),
    (err) => err instanceof TypeError && /says it is a context's, and it is not/.test(err.message));
  // Both are whole, and their own handles open as what they are.
  const opened = rt.open(ch.handle);
  assert.equal(opened.trySend(2.5), true);
  assert.deepEqual(ch.tryRecv(), { state: 'ok', value: 2.5 });
  rt.open(ctx.handle).cancel();
  assert.deepEqual(await ctx.done.recv(), { value: undefined, ok: false });
  for (const o of [ctx, ch, opened]) o[Symbol.dispose]();
});

test('a channel opened from a handle lives on after the object the handle was read from is dropped and collected', async () => {
  v8.setFlagsFromString('--expose-gc');
  const collect = vm.runInNewContext('gc');
  let maker = rt.chan({ cap: 1, codec: 'i32' });
  const handle = maker.handle;
  const opened = rt.open(handle);
  maker = null;
  // Until V8 has collected the maker and its registry let the maker's handle go.
  let makerGone = false;
  for (let i = 0; i < 100 && !makerGone; i++) {
    collect();
    await new Promise((resolve) => setTimeout(resolve, 10));
    try {
      rt.open(handle)[Symbol.dispose]();
    } catch (err) {
      if (!/was disposed/.test(err.message)) throw err;
      makerGone = true;
    }
  }
  assert.ok(makerGone, 'V8 did not collect the dropped channel object');
  assert.equal(opened.trySend(7), true);
  assert.deepEqual(opened.tryRecv(), { state: 'ok', value: 7 });
  opened[Symbol.dispose]();
});

test('rt.go starts exported goroutines with numbers, strings, channels and contexts, and settles when they return', async () => {
  const out = rt.chan({ codec: 'f64', cap: 4 });
  const measuring = rt.go('utf8len', out, 'héllo, 世界');
  assert.ok(Number.isInteger(measuring.id) && measuring.id > 1, `goroutine id ${measuring.id}`);
  assert.equal(measuring.name, 'utf8len');
  assert.equal(await measuring, undefined); // awaiting a Goroutine waits for its function to return
  assert.deepEqual(await out.recv(), { value: 14, ok: true }); // UTF-8 bytes, as C sees them
  assert.equal(await rt.go('utf8len', out, ''), undefined);
  assert.deepEqual(await out.recv(), { value: 0, ok: true });

  const ctx = rt.context.withCancel(rt.context.background());
  const waiting = rt.go('untildone', ctx, out);
  await tick();
  assert.equal(out.tryRecv().state, 'empty'); // still waiting on ctx
  ctx.cancel();
  await waiting.done;
  assert.deepEqual(await out.recv(), { value: 12, ok: true }); // GORT_ECANCELED
  const timed = rt.context.withTimeout(rt.context.background(), 5);
  await rt.go('untildone', timed, out);
  assert.deepEqual(await out.recv(), { value: 13, ok: true }); // GORT_EDEADLINE

  // echo returns once its input is closed and drained: its promise settles then, not before.
  const input = rt.chan({ codec: 'i32', cap: 2 });
  const echoed = rt.chan({ codec: 'i32', cap: 2 });
  let returned = false;
  const echo = rt.go('echo', input, echoed);
  echo.then(() => { returned = true; });
  await input.send(7);
  assert.deepEqual(await echoed.recv(), { value: 7, ok: true });
  await tick();
  assert.equal(returned, false);
  input.close();
  await echo;
  assert.equal(returned, true);
  assert.deepEqual(await echoed.recv(), { value: 0, ok: false });
});

test('rt.go checks the name and the arguments against the goroutine\'s parameters', async () => {
  const out = rt.chan({ codec: 'f64', cap: 1 });
  const ctx = rt.context.background();
  assert.throws(() => rt.go('nonesuch'), (err) => err.code === 'EINVAL' &&
    /no goroutine named 'nonesuch' in this module \(it exports: .*\bchurn\b.*\becho\b.*\butf8len\b/.test(err.message));
  assert.throws(() => rt.go(42), TypeError);
  assert.throws(() => rt.go('echo', out), /echo\(chan in, chan out\) takes 2 arguments, not 1/);
  assert.throws(() => rt.go('utf8len', out, 5), /utf8len\(chan out, string s\): argument 2 \(s\) must be a string, not a number/);
  assert.throws(() => rt.go('utf8len', 'x', 'y'), /argument 1 \(out\) must be a chan or null, not a string/);
  assert.throws(() => rt.go('untildone', out, out), /argument 1 \(ctx\) must be a context, not a chan/);
  assert.throws(() => rt.go('untildone', ctx, ctx), /argument 2 \(out\) must be a chan or null, not a context/);
  assert.throws(() => rt.go('primes', out, '5'), /argument 2 \(n\) must be a number, not a string/);
  assert.throws(() => rt.go('utf8len', out, 'a\0b'), /NUL character/);
  const other = await start({ procs: 1 });
  try {
    assert.throws(() => rt.go('utf8len', other.chan({ codec: 'f64' }), 'x'), /argument 1 \(out\) belongs to another runtime/);
  } finally {
    await other.close();
  }
  // None of it started anything; the runtime is as usable as before.
  await rt.go('utf8len', out, 'four').done;
  assert.deepEqual(await out.recv(), { value: 4, ok: true });
});

test('values the program drops are collected: the heap stays bounded', async () => {
  const ch = rt.chan({ cap: 64, codec: 'string' });
  const big = 'x'.repeat(16 * 1024);
  const memory = rt.handle.memory;
  const before = memory.buffer.byteLength;
  for (let i = 0; i < 20000; i++) { // 320 MB through the channel
    await ch.send(big);
    const { value } = await ch.recv();
    if (value.length !== big.length) assert.fail('a value changed on its way');
    if (i % 1000 === 0) rt.chan({ cap: 1 })[Symbol.dispose](); // and channels dropped too
  }
  const grown = memory.buffer.byteLength - before;
  assert.ok(grown < 128 * 1024 * 1024, `linear memory grew by ${grown} bytes`);
});

test('a million channels made and disposed: the heap stays bounded', async () => {
  const memory = rt.handle.memory;
  const before = memory.buffer.byteLength;
  const CHANNELS = 1_000_000;
  const BATCH = 20_000;
  for (let made = 0; made < CHANNELS; made += BATCH) {
    for (let i = 0; i < BATCH; i++) {
      const ch = rt.chan({ cap: 4, codec: 'f64' });
      ch.trySend(i); // a buffered value, so that each is more than its header
      ch[Symbol.dispose]();
    }
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const grown = memory.buffer.byteLength - before;
  // Kept, the channels and their handles would take over 100 MB.
  assert.ok(grown < 48 * 1024 * 1024, `linear memory grew by ${grown} bytes for ${CHANNELS} channels`);
});

const run = promisify(execFile);
const script = (body) => `const { start } = await import(${JSON.stringify(entry)});\n${body}`;

test('Node: a script that uses channels and returns exits by itself', async () => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script(`
    const rt = await start({ procs: 2 });
    const ch = rt.chan({ cap: 1 });
    await ch.send('done');
    console.log((await ch.recv()).value);
  `)], { timeout: 30000 });
  assert.equal(stdout.trim(), 'done');
});

test('Node: a pending receive keeps the process alive while a goroutine or a timer can still answer', async () => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script(`
    const rt = await start({ procs: 1 });
    const done = rt.chan({ codec: 'f64' });
    rt.go('churn', done, 300); // works for a while, then sends
    console.log((await done.recv()).value);
    const { ok } = await rt.after(300).recv();
    console.log(ok ? 'timer' : 'no timer');
  `)], { timeout: 60000 });
  assert.equal(stdout.trim(), '300\ntimer');
});

test('Node: a receive nothing can complete rejects with DeadlockError, and the runtime stays usable', async () => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script(`
    const { DeadlockError } = await import(${JSON.stringify(entry)});
    const rt = await start({ procs: 1 });
    const nobody = rt.chan();
    try {
      await nobody.recv();
      console.log('received?');
    } catch (err) {
      console.log(err instanceof DeadlockError, err.message);
    }
    console.log(nobody.trySend(1) ? 'a receiver is still queued' : 'withdrawn');
    const ch = rt.chan({ cap: 1, codec: 'string' });
    await ch.send('after');
    console.log((await ch.recv()).value);
  `)], { timeout: 30000 });
  assert.equal(stdout.trim(), 'true all goroutines are asleep - deadlock!\nwithdrawn\nafter');
});

test('deadlockAfterMs: after a quiet spell waiting operations reject with DeadlockError; goroutines, timers and JS acting hold it off', { timeout: 60_000 }, async () => {
  const SPELL_MS = 150;
  const own = await start({ procs: 1, deadlockAfterMs: SPELL_MS });
  // Something else holds the process open, as a server would: Node's own
  // 'beforeExit' never speaks, and only the quiet spell can say deadlock.
  const elsewhere = setInterval(() => {}, 1000);
  try {
    const done = own.chan({ codec: 'f64' });
    own.go('churn', done, 300); // runs for longer than the spell, then sends
    assert.deepEqual(await done.recv(), { value: 300, ok: true });
    assert.equal((await own.after(3 * SPELL_MS).recv()).ok, true, 'a pending timer is no deadlock');
    // The main thread acts on another channel for longer than the spell, then answers.
    const late = own.chan({ codec: 'string' });
    const busy = own.chan({ cap: 1, codec: 'i32' });
    let acts = 0;
    const acting = setInterval(() => {
      busy.trySend(acts) || busy.tryRecv();
      if (++acts === 12) { clearInterval(acting); late.trySend('answered'); }
    }, SPELL_MS / 3);
    assert.deepEqual(await late.recv(), { value: 'answered', ok: true });
    const nobody = own.chan();
    const began = performance.now();
    const waiting = [nobody.recv(), select([{ recv: nobody }, { send: own.chan(), value: 1 }])];
    for (const w of waiting) await assert.rejects(w, (err) => err instanceof DeadlockError && err.message === 'all goroutines are asleep - deadlock!');
    assert.ok(performance.now() - began >= SPELL_MS, 'reported before the spell was over');
    assert.equal(nobody.trySend(1), false, 'a receiver is still queued');
    const ch = own.chan({ cap: 1, codec: 'string' });
    await ch.send('usable');
    assert.equal((await ch.recv()).value, 'usable');
  } finally {
    clearInterval(elsewhere);
    await own.close();
  }
  await assert.rejects(start({ deadlockAfterMs: 0 }), RangeError);
});

test('start() leaves the thread that calls it a CPU: procs defaults to the CPUs less one, 1 to 4', async () => {
  const own = await start();
  try {
    assert.equal(own.procs, Math.max(1, Math.min(availableParallelism() - 1, 4)));
    assert.equal(own.gomaxprocs, own.procs);
  } finally {
    await own.close();
  }
});

test('close() ends the runtime: every call then throws RuntimeClosedError', async () => {
  const own = await start({ procs: 1 });
  const ch = own.chan();
  const pending = ch.recv();
  await own.close();
  await assert.rejects(pending, RuntimeClosedError);
  assert.throws(() => own.chan(), RuntimeClosedError);
  await assert.rejects(ch.send(1), RuntimeClosedError);
});

test("close() ends the threads only once each has left its start routine: none is freed while it runs", async () => {
  // The thread gort_main ran on says the runtime stopped just before it
  // returns, and Emscripten still runs on its stack after that (it checks
  // the stack's cookie); ending the threads then freed that stack under it,
  // and Chromium reported 'Stack cookie has been overwritten'. When close()
  // ends the threads, no pthread may still be running on a pool worker.
  const own = await start({ procs: 1 });
  const input = own.chan({ cap: 1, codec: 'string' });
  const output = own.chan({ codec: 'string' });
  own.go('echo', input, output); // the runtime's thread switches fibers before it stops
  await input.send('round trip');
  assert.deepEqual(await output.recv(), { value: 'round trip', ok: true });
  const pthread = own.module.PThread;
  const terminate = pthread.terminateAllThreads;
  let running = null;
  pthread.terminateAllThreads = function () {
    running = pthread.runningWorkers.length;
    return terminate.call(this);
  };
  await own.close();
  assert.equal(running, 0, `close() ended the threads while ${running} pthread(s) still ran on pool workers`);
});

test('a trap on a runtime thread ends its runtime with a FatalError whose cause is that thread\'s error, its stack naming the module\'s functions', async () => {
  const doomed = await start({ procs: 1 });
  try {
    const pending = doomed.chan().recv();
    doomed.go('trap');
    await assert.rejects(pending, (err) => {
      assert.ok(err instanceof FatalError, String(err));
      assert.equal(err.message, 'fatal error: null function or function signature mismatch');
      assert.ok(err.cause instanceof Error, 'the thread\'s error as the cause');
      assert.match(err.cause.stack, /at trap \(wasm:/);
      return true;
    });
    assert.throws(() => doomed.chan(), FatalError);
  } finally {
    await doomed.close();
  }
});

test('a fatal error ends its runtime, not the process: pending operations reject with Go\'s words', async () => {
  const doomed = await start({ procs: 1 });
  const pending = doomed.chan().recv();
  const overflowing = doomed.go('overflow');
  const fatal = (err) => err instanceof FatalError &&
    err.message === `fatal error: stack overflow (goroutine ${overflowing.id})`;
  await assert.rejects(pending, fatal);
  await assert.rejects(overflowing.done, fatal); // the goroutine's own promise names it
  assert.throws(() => doomed.chan(), FatalError);
  await doomed.close();
  const fresh = await start({ procs: 1 });
  const ch = fresh.chan({ cap: 1, codec: 'i32' });
  await ch.send(42);
  assert.deepEqual(await ch.recv(), { value: 42, ok: true });
  await fresh.close();
});
