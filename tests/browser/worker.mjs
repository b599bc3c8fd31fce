// worker.mjs — a module Web Worker of the browser test (page.mjs starts it
// with new Worker(url, { type: 'module' })). It attaches to the page's
// runtime through 'gort/worker' and plays the role the page's first message
// names. A module worker does not see the page's import map, so it names the
// package's browser file for 'gort/worker' by its path.
//
// Every message it posts is { gortTest: true, type, ... }: the page counts
// any other message as one that leaked from the runtime's own thread code
// (Emscripten's glue posts { cmd: 'loaded' } and the like to a pool worker's
// parent).
import { attach, WorkerRuntime } from '../../dist/worker.browser.js';

function post(type, data = {}) {
  self.postMessage({ gortTest: true, type, ...data });
}

const roles = {
  // Attaches, says so, and sends one value to the page on a channel it was given.
  async hello({ greeting }, wr) {
    if (!(wr instanceof WorkerRuntime)) throw new Error('attach() did not give a WorkerRuntime');
    post('attached', { runtime: wr.id });
    await wr.open(greeting).send('hello from a module worker');
  },

  // Sends its share of values and receives from results until it is
  // closed, and reports the ids it received and their sum (the page checks
  // both against what was sent). With blocking, it sends with sendSync and
  // then receives with recvSync: one thread cannot do both at once. With
  // Promises, it does both at once.
  async party({ name, base, count, blocking, work, results }, wr) {
    const workCh = wr.open(work);
    const resultsCh = wr.open(results);
    const ids = [];
    if (blocking) {
      for (let i = 0; i < count; i++) workCh.sendSync({ id: base + i, from: name });
      post('sent', { name });
      for (;;) {
        const { value, ok } = resultsCh.recvSync();
        if (!ok) break;
        ids.push(value.id);
      }
    } else {
      const receiving = (async () => { for await (const v of resultsCh) ids.push(v.id); })();
      for (let i = 0; i < count; i++) await workCh.send({ id: base + i, from: name });
      post('sent', { name });
      await receiving;
    }
    post('received', { name, ids, sum: ids.reduce((a, b) => a + b, 0) });
  },

  // Reads the clock three ways: the deadline of the page's context, a
  // recvSync with a timeout, and a context with a timeout made here.
  clock({ ctx }, wr) {
    const deadline = wr.open(ctx).deadline.getTime();
    let began = performance.now();
    const timed = wr.chan().recvSync({ timeout: 100 });
    const recvMs = performance.now() - began;
    const own = wr.context.withTimeout(wr.context.background(), 100);
    began = performance.now();
    const done = own.done.recvSync();
    const ctxMs = performance.now() - began;
    post('clock', { deadline, timedOut: timed.timedOut === true, recvMs, doneOk: done.ok, ctxMs, ctxErr: String(own.err?.message) });
  },

  // Says it is attached, then acts on the channel busy every everyMs, acts
  // times, and only then answers on late (the page's deadlock watch must see
  // the acts).
  async actThenAnswer({ busy, late, acts, everyMs }, wr) {
    const busyCh = wr.open(busy);
    post('ready');
    for (let i = 0; i < acts; i++) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      if (!busyCh.trySend(i)) busyCh.tryRecv();
    }
    wr.open(late).sendSync('answered');
  },

  // Waits on a channel with a Promise until a fatal error ends the runtime,
  // and reports what the wait and a later call said.
  async awaitFatal({ ch }, wr) {
    const outcome = wr.open(ch).recv().then(() => 'received', (e) => `${e?.name}: ${e?.message}`);
    post('waiting');
    post('fatal', { outcome: await outcome, later: errorText(() => wr.chan()) });
  },

  // Blocks this thread in recvSync until a fatal error ends the runtime, and
  // reports what the blocking call threw and what a later call says.
  blockUntilFatal({ ch }, wr) {
    const c = wr.open(ch);
    post('waiting');
    post('gaveUp', { outcome: errorText(() => c.recvSync()), later: errorText(() => wr.chan()) });
  },

  // With a receive of its own pending, overflows this thread's stack in the
  // runtime's code (a thread that runs no goroutine), and reports what the
  // call threw, what the receive said and what a later call says.
  async overflowThisThread({ ch }, wr) {
    const own = wr.open(ch).recv().then(() => 'received', (e) => `${e?.name}: ${e?.message}`);
    const thrown = errorText(() => wr.realm.module._gort_js_overflow_this_thread());
    post('overflowed', { thrown, own: await own, later: errorText(() => wr.chan()) });
  },

  // Opens ch `times` times, keeping every object, says so, and waits on it
  // (how: blocked in recvSync, or with a Promise) until the page terminates
  // this worker.
  async waitToBeTerminated({ ch, times, how }, wr) {
    const kept = Array.from({ length: times }, () => wr.open(ch));
    post('waiting');
    if (how === 'recvSync') kept[0].recvSync();
    else await kept[0].recv();
    throw new Error('the wait of a worker to be terminated ended');
  },

  // Receives texts with recvSync and sends each back with sendSync until
  // input is closed, then closes output.
  echoText({ input, output }, wr) {
    const inCh = wr.open(input), outCh = wr.open(output);
    for (let r; (r = inCh.recvSync()).ok;) outCh.sendSync(r.value);
    outCh.close();
  },

  // Blocks this thread in recvSync on a context's Done until the page cancels it.
  waitDone({ ctx }, wr) {
    const done = wr.open(ctx).done;
    post('waiting');
    const began = performance.now();
    const { value, ok } = done.recvSync();
    post('woken', { ok, value: value ?? null, blockedMs: performance.now() - began });
  },
};

function errorText(fn) {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return `${e?.name}: ${e?.message}`;
  }
}

self.onmessage = async ({ data }) => {
  let wr = null;
  try {
    wr = await attach(data.rt);
    const role = roles[data.role];
    if (!role) throw new Error(`no role '${data.role}'`);
    await role(data, wr);
    wr.detach();
    post('done');
  } catch (err) {
    try { wr?.detach(); } catch { /* the error below is the one to report */ }
    post('error', { message: `${err?.name}: ${err?.message}\n${err?.stack ?? ''}` });
  }
};
