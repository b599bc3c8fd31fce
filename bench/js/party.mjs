// A worker of bench/js.mjs: plays one side of a measurement, named by
// workerData.role, and posts its figures (or 'ready') to its parent. Of n
// round trips or values, the first `warmup` are not timed (a fresh worker's
// JIT tiering; see bench/js.mjs). A throughput's sender then waits at the
// gate until its receiver has had every warm-up value, so that the timed
// values are timed from their first send to their last receipt on one
// clock (the receiver's), however far an unbounded queue let the sender run
// ahead.
import { parentPort, workerData } from 'node:worker_threads';

const { role, n, warmup } = workerData;
const gate = workerData.gate && new Int32Array(workerData.gate);

/** The receiver: its warm-up done, lets the sender go on; returns the time it did. */
function openGate() {
  const t0 = performance.now();
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  return t0;
}

/** The sender: waits until the receiver has had the warm-up values. */
function awaitGate() {
  while (Atomics.load(gate, 0) === 0) Atomics.wait(gate, 0, 0);
}
/**
 * The two sides of a counter handed back and forth in cells[0] (the ping
 * waits for cells[1] to start): sleeping in Atomics.wait between turns, or
 * spinning.
 */
function handOffRoles(name, sleeps) {
  const waitFor = (c, want, was) => {
    while (Atomics.load(c, 0) !== want) if (sleeps) Atomics.wait(c, 0, was);
  };
  const give = (c, v) => {
    Atomics.store(c, 0, v);
    if (sleeps) Atomics.notify(c, 0);
  };
  return {
    async [`${name}Pong`]({ cells }) {
      const c = new Int32Array(cells);
      parentPort.postMessage('ready');
      for (let i = 0; i < n; i++) {
        waitFor(c, 2 * i + 1, 2 * i);
        give(c, 2 * i + 2);
      }
    },
    async [`${name}Ping`]({ cells }) {
      const c = new Int32Array(cells);
      parentPort.postMessage('ready');
      while (Atomics.load(c, 1) === 0) Atomics.wait(c, 1, 0);
      let t0 = 0;
      for (let i = 0; i < n; i++) {
        if (i === warmup) t0 = performance.now();
        give(c, 2 * i + 1);
        waitFor(c, 2 * i + 2, 2 * i + 1);
      }
      return (performance.now() - t0) / (n - warmup);
    },
  };
}

const roles = {
  // gort: a worker attached to the runtime, blocking in the runtime.
  async gortEcho({ rt, a, b }) {
    const { attach } = await import(workerData.workerEntry);
    const wr = await attach(rt);
    const inCh = wr.open(a), outCh = wr.open(b);
    parentPort.postMessage('ready');
    for (let i = 0; i < n; i++) outCh.sendSync(inCh.recvSync().value);
  },
  async gortPing({ rt, a, b }) {
    const { attach } = await import(workerData.workerEntry);
    const wr = await attach(rt);
    const out = wr.open(a), back = wr.open(b);
    parentPort.postMessage('ready');
    let t0 = 0;
    for (let i = 0; i < n; i++) {
      if (i === warmup) t0 = performance.now();
      out.sendSync(i);
      back.recvSync();
    }
    return (performance.now() - t0) / (n - warmup);
  },
  async gortSend({ rt, a, codec, value }) {
    const { attach } = await import(workerData.workerEntry);
    const wr = await attach(rt);
    const ch = wr.open(a, { codec });
    parentPort.postMessage('ready');
    for (let i = 0; i < n; i++) {
      if (i === warmup) awaitGate();
      ch.sendSync(value);
    }
  },
  async gortRecv({ rt, a, codec }) {
    const { attach } = await import(workerData.workerEntry);
    const wr = await attach(rt);
    const ch = wr.open(a, { codec });
    parentPort.postMessage('ready');
    for (let i = 0; i < warmup; i++) ch.recvSync();
    const t0 = openGate();
    for (let i = warmup; i < n; i++) ch.recvSync();
    return (performance.now() - t0) / (n - warmup);
  },
  // postMessage over a MessagePort (structured clone).
  async portEcho({ port }) {
    port.on('message', (v) => port.postMessage(v));
    parentPort.postMessage('ready');
    await new Promise(() => {});
  },
  async portPing({ port }) {
    parentPort.postMessage('ready');
    await new Promise((r) => parentPort.once('message', r)); // go
    let t0 = 0;
    for (let i = 0; i < n; i++) {
      if (i === warmup) t0 = performance.now();
      port.postMessage(i);
      await new Promise((r) => port.once('message', r));
    }
    return (performance.now() - t0) / (n - warmup);
  },
  async portSend({ port, value }) {
    parentPort.postMessage('ready');
    await new Promise((r) => parentPort.once('message', r)); // go
    for (let i = 0; i < n; i++) {
      if (i === warmup) awaitGate();
      port.postMessage(value);
    }
  },
  async portRecv({ port }) {
    parentPort.postMessage('ready');
    let count = 0, t0 = 0;
    return new Promise((resolve) => port.on('message', () => {
      if (++count === warmup) t0 = openGate();
      if (count === n) resolve((performance.now() - t0) / (n - warmup));
    }));
  },
  // The floor: two workers handing a counter back and forth with Atomics.wait/notify;
  // and the same with both sides spinning instead of sleeping: what one round trip of
  // two cache-line transfers between two cores costs here.
  ...handOffRoles('atomics', true),
  ...handOffRoles('spin', false),
};
const result = await roles[role](workerData);
parentPort.postMessage({ result });
