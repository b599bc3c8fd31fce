// A worker_threads party of tests/workers.test.mjs: attaches to the runtime
// whose handle it was given and plays the role named in workerData. A worker
// made before the runtime (workerData without rt) waits for its first
// message, which brings the runtime's handle and the role's data.
import { Worker, workerData as given, parentPort } from 'node:worker_threads';
import { once } from 'node:events';

const workerData = given.rt !== undefined ? given : { ...given, ...(await once(parentPort, 'message'))[0] };
const { attach, select } = await import(workerData.entry);
const wr = await attach(workerData.rt);
const roles = {
  // Sends its share with the blocking form or Promises, and receives from
  // results until it is closed, reporting every id it received.
  async party({ name, count, blocking, work, results, report }) {
    const workCh = wr.open(work);
    const resultsCh = wr.open(results);
    const receiving = (async () => {
      const ids = [];
      if (blocking) {
        for (;;) {
          const { value, ok } = resultsCh.recvSync();
          if (!ok) break;
          ids.push(value.id);
          if (ids.length % 64 === 0) await null; // let the sending loop below run
        }
      } else {
        for await (const v of resultsCh) ids.push(v.id);
      }
      return ids;
    })();
    const pad = 'w'.repeat(512);
    for (let i = 0; i < count; i++) {
      const value = { id: `${name}:${i}`, pad };
      if (blocking) workCh.sendSync(value);
      else await workCh.send(value);
    }
    wr.open(report).sendSync({ name, sent: count });
    const ids = await receiving;
    wr.open(report).sendSync({ name, received: ids });
  },
  // Sends each text on a 'string' channel and each value on a 'json' one
  // with sendSync (text up to the staging area's 64 KB goes straight into
  // the runtime's memory, longer text the other way), after values no codec
  // takes, which must throw TypeError and send nothing.
  sendTexts({ strings, json, texts, values }) {
    const stringCh = wr.open(strings), jsonCh = wr.open(json);
    for (const bad of [42, null, { not: 'a string' }]) {
      try {
        stringCh.sendSync(bad);
      } catch (err) {
        if (err instanceof TypeError) continue;
        throw new Error(`sendSync(${JSON.stringify(bad)}) on a 'string' channel threw ${err}`);
      }
      throw new Error(`sendSync(${JSON.stringify(bad)}) on a 'string' channel did not throw`);
    }
    let threw = null;
    try {
      jsonCh.sendSync(undefined);
    } catch (err) {
      threw = err;
    }
    if (!(threw instanceof TypeError)) throw new Error(`sendSync(undefined) on a 'json' channel threw ${threw}`);
    for (const text of texts) stringCh.sendSync(text);
    for (const value of values) jsonCh.sendSync(value);
  },
  // Sends count numbered strings on ch with sendSync, then closes it.
  sendNumbered({ ch, count }) {
    const c = wr.open(ch, { codec: 'string' });
    for (let i = 0; i < count; i++) c.sendSync(numbered(i));
    c.close();
  },
  // Receives from ch with recvSync until it is closed, checking that the
  // numbered strings come each once and in order.
  recvNumbered({ ch, count }) {
    const c = wr.open(ch, { codec: 'string' });
    for (let i = 0; ; i++) {
      const { value, ok } = c.recvSync();
      if (!ok) {
        if (i !== count) throw new Error(`closed after ${i} values of ${count}`);
        return;
      }
      if (value !== numbered(i)) throw new Error(`value ${i} was ${JSON.stringify(value.slice(0, 12))}...`);
    }
  },
  // Close storm: for each channel handle that arrives on rounds, waits on
  // that channel (blocking or with a Promise) until it is closed, and
  // reports what the wake-up said.
  async closeStorm({ rounds, report, blocking }) {
    const roundsCh = wr.open(rounds);
    const reportCh = wr.open(report);
    for (;;) {
      const { value: handle, ok } = roundsCh.recvSync();
      if (!ok) return;
      const c = wr.open(handle);
      const r = blocking ? c.recvSync() : await c.recv();
      reportCh.sendSync(r.ok ? 'received?' : 'closed');
    }
  },
  // Blocks in recvSync on a context's Done until someone cancels it.
  waitDone({ ctx, back }) {
    const done = wr.open(ctx).done;
    const r = done.recvSync();
    wr.open(back).sendSync(`woken ok=${r.ok}`);
  },
  // A pending Promise receive in a worker, withdrawn by its signal.
  async abortRecv({ ch, back }) {
    const c = wr.open(ch);
    const controller = new AbortController();
    const pending = c.recv({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error('aborted in worker')), 30);
    const outcome = await pending.then(() => 'received', (e) => e.message);
    wr.open(back).sendSync(outcome);
  },
  // Waits on a channel with a Promise until a fatal error ends the runtime,
  // and reports (to the parent: the runtime is gone) what the wait and a
  // later call said.
  async awaitFatal({ ch }) {
    const c = wr.open(ch);
    const outcome = c.recv().then(() => 'received', (e) => `${e.name}: ${e.message}`);
    parentPort.postMessage({ waiting: true });
    parentPort.postMessage({ outcome: await outcome, later: errorOf(() => wr.chan()) });
  },
  // Blocks in the runtime (recvSync, sendSync or select.sync, as `how`
  // says) until a fatal error ends it, and reports what the blocking call
  // threw and what a later call says.
  blockUntilFatal({ ch, how }) {
    const c = wr.open(ch);
    parentPort.postMessage({ waiting: how });
    const block = {
      recvSync: () => c.recvSync(),
      sendSync: () => c.sendSync('never taken'),
      selectSync: () => select.sync([{ recv: c }, { send: c, value: 'never taken' }]),
      recvSyncTimeout: () => c.recvSync({ timeout: 60_000 }),
    }[how];
    parentPort.postMessage({ outcome: errorOf(block), later: errorOf(() => wr.chan()) });
  },
  // Holds channel ch's lock until the main thread sets the word at release
  // (held says when it has it), and reports whether it was told to let go
  // or gave up after timeoutMs.
  holdLock({ ch, held, release, timeoutMs }) {
    const r = wr.realm.module._gort_js_hold_chan_lock(wr.open(ch).h, held, release, timeoutMs);
    parentPort.postMessage({ letGo: r === 1 ? 'told' : r === 0 ? 'timed out' : 'dead handle' });
  },
  // Opens handle ch `times` times, keeping every object, says so, and
  // detaches when told (each open takes a handle of the worker's own, which
  // detach() lets go).
  async openManyThenDetach({ ch, times }) {
    const kept = Array.from({ length: times }, () => wr.open(ch));
    parentPort.postMessage({ opened: kept.length });
    await new Promise((resolve) => parentPort.once('message', resolve));
    wr.detach();
    parentPort.postMessage({ detached: true });
  },
  // Opens handle ch `times` times, keeping every object, says so, and ends
  // the worker without detaching.
  async openManyThenExit({ ch, times }) {
    const kept = Array.from({ length: times }, () => wr.open(ch));
    parentPort.postMessage({ opened: kept.length });
    process.exit(0);
  },
  // Opens handle ch `times` times, keeping every object, and waits on the
  // channel (how: recvSync, sendSync, selectSync, or a Promise of recv)
  // after saying so; whoever terminates it finds it there.
  // With untildone ({ ctx, out }), it first starts the module's untildone
  // goroutine, which outlives it (its arguments are the goroutine's).
  async waitToBeTerminated({ ch, times, how, untildone, staged }) {
    const kept = Array.from({ length: times }, () => wr.open(ch));
    const c = kept[0];
    if (untildone) wr.go('untildone', wr.open(untildone.ctx), wr.open(untildone.out));
    if (staged) stage(staged);
    parentPort.postMessage({ waiting: true });
    if (how === 'recvSync') c.recvSync();
    else if (how === 'sendSync') c.sendSync('sent by a terminated worker');
    else if (how === 'selectSync') select.sync([{ recv: c }, { recv: kept[1] }]);
    else await c.recv();
    parentPort.postMessage({ error: `the wait (${how}) ended` });
  },
  // Sends a string with sendSync (its text goes through the realm's
  // staging area, made then) and detaches.
  async stageAndLeave({ staged }) { stage(staged); },
  // Makes a worker of its own that attaches to the same runtime and blocks
  // in recvSync on ch, terminates it there, and reports whether a value
  // offered on ch then still finds a receiver.
  async parentOfDoomed({ ch }) {
    const child = new Worker(new URL(import.meta.url), {
      workerData: { entry: workerData.entry, rt: workerData.rt, role: 'waitToBeTerminated', ch, times: 10, how: 'recvSync' },
    });
    const [said] = await once(child, 'message');
    if (!said?.waiting) throw new Error(`the child said ${JSON.stringify(said)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await child.terminate();
    parentPort.postMessage({ offered: wr.open(ch).trySend('for nobody') });
  },
  // With a receive of its own pending, overflows its own thread's stack in
  // the runtime's code (a thread that runs no goroutine), and reports what
  // the call threw, what the receive said and what a later call says.
  async overflowThisThread({ ch }) {
    const pending = wr.open(ch).recv().then(() => 'received', (e) => `${e.name}: ${e.message}`);
    const thrown = errorOf(() => wr.realm.module._gort_js_overflow_this_thread());
    parentPort.postMessage({ thrown, own: await pending, later: errorOf(() => wr.chan()) });
  },
};

/** The i-th value of sendNumbered and recvNumbered: ~100 bytes that say i. */
function numbered(i) { return `${i}${'.'.repeat(90)}`; }

function stage(staged) { wr.open(staged, { codec: 'string' }).sendSync('staged'); }

function errorOf(fn) {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
}
try {
  await roles[workerData.role](workerData);
  wr.detach();
  parentPort.postMessage('ok');
} catch (err) {
  parentPort.postMessage(`error: ${err && err.stack || err}`);
}
