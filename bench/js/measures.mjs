// The measures of bench/js.mjs that run wherever the package runs, in Node
// and in a Chromium page alike (page.mjs): round trips and throughput
// between the main thread, workers and goroutines, through gort's channels
// and through their JS anchors (postMessage, MessageChannel, Atomics), and
// the main thread's stalls while the collector works. The caller gives the
// runtimes, how to start a worker playing a role of roles.mjs (partyOf
// makes what it returns) and how to read the event loop's delay.

/**
 * @typedef {{ worker: { terminate(): unknown, postMessage(message: unknown): void }, ready: Promise<unknown>, result: Promise<number> }} Party
 * @typedef {(role: string, data: Record<string, unknown>, transfer?: Transferable[]) => Party} Spawn
 */

// The values of the throughput rows, by name, with the codec of gort's channel.
export const VALUES = {
  f64: { codec: 'f64', value: 3.25 },
  '100-byte string': { codec: 'string', value: 'x'.repeat(100) },
  '0.5 KB object': {
    codec: 'json',
    value: { id: 12345, name: 'gopher', tags: ['a', 'b', 'c'], text: 'y'.repeat(380), nested: { ok: true, n: [1, 2, 3] } },
  },
};

const us = (ms) => ms * 1000;

/**
 * The Party of a worker just started in role: listen(fn) calls fn with
 * every message the worker posts, onError(fn) with an Error when it fails.
 * ready is its first message; result the figure it posts last, or the
 * error it reports instead.
 * @param {Party['worker']} worker
 * @param {string} role
 * @param {(fn: (message: any) => void) => void} listen
 * @param {(fn: (err: Error) => void) => void} onError
 * @returns {Party}
 */
export function partyOf(worker, role, listen, onError) {
  const failed = new Promise((_, reject) => {
    onError(reject);
    listen((m) => { if (m?.error) reject(new Error(`${role}: ${m.error}`)); });
  });
  let first = true;
  const ready = Promise.race([new Promise((resolve) => listen((m) => { if (first) resolve(m); first = false; })), failed]);
  const result = Promise.race([new Promise((resolve) => listen((m) => {
    if (m && typeof m == 'object' && 'result' in m) resolve(m.result);
  })), failed]);
  return { worker, ready, result };
}

/**
 * ms per round trip of roundTrips calls of trip(i) after warmupMs of them;
 * then trip(end), which the other side takes for the end (roles.mjs).
 * @param {(i: number) => Promise<unknown>} trip
 * @param {{ roundTrips: number, warmupMs: number, end: number }} settings
 */
export async function timedRoundTrips(trip, { roundTrips, warmupMs, end }) {
  let i = 0;
  for (const warm = performance.now(); performance.now() - warm < warmupMs;) await trip(i++);
  const t0 = performance.now();
  for (let n = 0; n < roundTrips; n++) await trip(i++);
  const per = (performance.now() - t0) / roundTrips;
  await trip(end);
  return per;
}

/**
 * The measures, each an async function that returns its figure: us per
 * round trip, or M values/s.
 * @param {{ rt: any, spawn: Spawn, roundTrips: number, messages: number, warmupMs: number, end: number, channelCap: number }} settings
 */
export function portableMeasures({ rt, spawn, roundTrips, messages, warmupMs, end, channelCap }) {
  const timed = (trip) => timedRoundTrips(trip, { roundTrips, warmupMs, end });
  const sides = { n: roundTrips, warmupMs };

  async function mainGoroutine() {
    const a = rt.chan({ codec: 'f64' }), b = rt.chan({ codec: 'f64' });
    rt.go('echo', a, b);
    const per = await timed(async (i) => { await a.send(i); await b.recv(); });
    a.close();
    return us(per);
  }

  async function mainWorkerGort() {
    const a = rt.chan({ codec: 'f64' }), b = rt.chan({ codec: 'f64' });
    const w = spawn('gortEcho', { ...sides, rt: rt.handle, a: a.handle, b: b.handle });
    await w.ready;
    const per = await timed(async (i) => { await a.send(i); await b.recv(); });
    await w.worker.terminate();
    return us(per);
  }

  async function mainWorkerPort() {
    const { port1, port2 } = new MessageChannel();
    const w = spawn('portEcho', { ...sides, port: port2 }, [port2]);
    await w.ready;
    let answered;
    port1.onmessage = () => answered();
    const per = await timed((i) => new Promise((resolve) => {
      answered = resolve;
      port1.postMessage(i);
    }));
    port1.close();
    await w.worker.terminate();
    return us(per);
  }

  async function workerWorkerGort() {
    const a = rt.chan({ codec: 'f64' }), b = rt.chan({ codec: 'f64' });
    const echo = spawn('gortEcho', { ...sides, rt: rt.handle, a: a.handle, b: b.handle });
    const ping = spawn('gortPing', { ...sides, rt: rt.handle, a: a.handle, b: b.handle });
    await Promise.all([echo.ready, ping.ready]);
    const per = await ping.result;
    await Promise.all([echo.worker.terminate(), ping.worker.terminate()]);
    // (Kept until here: a handle opens only while the object it was read from lives.)
    a[Symbol.dispose]();
    b[Symbol.dispose]();
    return us(per);
  }

  async function workerWorkerPort() {
    const { port1, port2 } = new MessageChannel();
    const echo = spawn('portEcho', { ...sides, port: port2 }, [port2]);
    const ping = spawn('portPing', { ...sides, port: port1 }, [port1]);
    await Promise.all([echo.ready, ping.ready]);
    ping.worker.postMessage('go');
    const per = await ping.result;
    await Promise.all([echo.worker.terminate(), ping.worker.terminate()]);
    return us(per);
  }

  async function workerWorkerAtomics(kind = 'atomics') {
    const cells = new SharedArrayBuffer(8);
    const pong = spawn(`${kind}Pong`, { ...sides, cells });
    const ping = spawn(`${kind}Ping`, { ...sides, cells });
    await Promise.all([pong.ready, ping.ready]);
    const c = new Int32Array(cells);
    Atomics.store(c, 1, 1);
    Atomics.notify(c, 1);
    const per = await ping.result;
    await Promise.all([pong.worker.terminate(), ping.worker.terminate()]);
    return us(per);
  }

  const workerWorkerSpin = () => workerWorkerAtomics('spin');

  const flow = { n: messages, warmupMs };

  async function throughputGort({ codec, value }) {
    const ch = rt.chan({ cap: channelCap, codec });
    const gate = new SharedArrayBuffer(12);
    const recv = spawn('gortRecv', { ...flow, gate, rt: rt.handle, a: ch.handle, codec });
    await recv.ready;
    const send = spawn('gortSend', { ...flow, gate, rt: rt.handle, a: ch.handle, codec, value });
    const per = await recv.result;
    await Promise.all([recv.worker.terminate(), send.worker.terminate()]);
    ch[Symbol.dispose]();
    return 1e-3 / per; // M values/s (per: ms per value)
  }

  async function throughputPort({ value }) {
    const { port1, port2 } = new MessageChannel();
    const gate = new SharedArrayBuffer(12);
    const recv = spawn('portRecv', { ...flow, gate, port: port2 }, [port2]);
    const send = spawn('portSend', { ...flow, gate, port: port1, value, cap: channelCap }, [port1]);
    await Promise.all([recv.ready, send.ready]);
    send.worker.postMessage('go');
    const per = await recv.result;
    await Promise.all([recv.worker.terminate(), send.worker.terminate()]);
    return 1e-3 / per;
  }

  return {
    mainGoroutine, mainWorkerGort, mainWorkerPort,
    workerWorkerGort, workerWorkerPort, workerWorkerAtomics, workerWorkerSpin,
    ...Object.fromEntries(Object.entries(VALUES).flatMap(([name, v]) => [
      [`throughputGort ${name}`, () => throughputGort(v)], [`throughputPort ${name}`, () => throughputPort(v)]])),
  };
}

/**
 * The main thread during a collector-heavy workload, each measure an async
 * function that returns its figures: stall keeps a round trip at a time
 * going with an echo goroutine of rt while another goroutine churns
 * churnTrees trees, stallSpare the same on spareRt (start()'s default
 * procs), and idleLoop waits as long as the last of them took with nothing
 * running (the floor of the machine and the engine: timers, the OS).
 * loopDelay() makes a probe of the event loop's delay: start(), and stop()
 * -> the longest delay it saw, in ms.
 * @param {{ rt: any, spareRt: any, churnTrees: number, loopDelay: () => { start(): void, stop(): number } }} settings
 */
export function stallMeasures({ rt, spareRt, churnTrees, loopDelay }) {
  let lastStallMs = 1000;

  async function mainThreadStall(rt) {
    const delay = loopDelay();
    const began = performance.now();
    const done = rt.chan({ codec: 'f64' });
    const a = rt.chan({ codec: 'f64' }), b = rt.chan({ codec: 'f64' });
    rt.go('echo', a, b);
    delay.start();
    rt.go('churn', done, churnTrees);
    // longestCall: the longest the main thread spent inside one send() or
    // recv() call before it returned its Promise (its channel operation, which
    // waits for no lock of the runtime: try mode), as opposed to awaiting it.
    let longest = 0, longestCall = 0, trips = 0;
    for (;;) {
      const t0 = performance.now();
      const sending = a.send(trips);
      const t1 = performance.now();
      await sending;
      const t2 = performance.now();
      const receiving = b.recv();
      longestCall = Math.max(longestCall, t1 - t0, performance.now() - t2);
      await receiving;
      longest = Math.max(longest, performance.now() - t0);
      trips++;
      if (done.tryRecv().state === 'ok') break;
    }
    const loopDelayMax = delay.stop();
    a.close();
    lastStallMs = performance.now() - began;
    return { longestOp: longest, longestCall, loopDelayMax, trips };
  }

  // The event loop's longest delay over as long as the last stall run took, with nothing running.
  async function idleLoop() {
    const delay = loopDelay();
    delay.start();
    await new Promise((resolve) => setTimeout(resolve, lastStallMs));
    return { loopDelayMax: delay.stop() };
  }

  return { stall: () => mainThreadStall(rt), stallSpare: () => mainThreadStall(spareRt), idleLoop };
}
