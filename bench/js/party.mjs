// A worker of bench/js.mjs: plays one side of a measurement, named by
// workerData.role, and posts its figures (or 'ready') to its parent.
import { parentPort, workerData } from 'node:worker_threads';

const { role, n } = workerData;
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
    const t0 = performance.now();
    for (let i = 0; i < n; i++) { out.sendSync(i); back.recvSync(); }
    return (performance.now() - t0) / n;
  },
  async gortSend({ rt, a, codec, value }) {
    const { attach } = await import(workerData.workerEntry);
    const wr = await attach(rt);
    const ch = wr.open(a, { codec });
    parentPort.postMessage('ready');
    for (let i = 0; i < n; i++) ch.sendSync(value);
  },
  async gortRecv({ rt, a, codec }) {
    const { attach } = await import(workerData.workerEntry);
    const wr = await attach(rt);
    const ch = wr.open(a, { codec });
    parentPort.postMessage('ready');
    ch.recvSync();
    const t0 = performance.now();
    for (let i = 1; i < n; i++) ch.recvSync();
    return (performance.now() - t0) / (n - 1);
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
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      port.postMessage(i);
      await new Promise((r) => port.once('message', r));
    }
    return (performance.now() - t0) / n;
  },
  async portSend({ port, value }) {
    parentPort.postMessage('ready');
    await new Promise((r) => parentPort.once('message', r)); // go
    for (let i = 0; i < n; i++) port.postMessage(value);
  },
  async portRecv({ port }) {
    parentPort.postMessage('ready');
    let count = 0, t0 = 0;
    return new Promise((resolve) => port.on('message', () => {
      if (count++ === 0) t0 = performance.now();
      if (count === n) resolve((performance.now() - t0) / (n - 1));
    }));
  },
  // The floor: two workers handing a counter back and forth with Atomics.wait/notify.
  async atomicsPong({ cells }) {
    const c = new Int32Array(cells);
    parentPort.postMessage('ready');
    for (let i = 0; i < n; i++) {
      while (Atomics.load(c, 0) !== 2 * i + 1) Atomics.wait(c, 0, 2 * i);
      Atomics.store(c, 0, 2 * i + 2);
      Atomics.notify(c, 0);
    }
  },
  async atomicsPing({ cells }) {
    const c = new Int32Array(cells);
    parentPort.postMessage('ready');
    while (Atomics.load(c, 1) === 0) Atomics.wait(c, 1, 0);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      Atomics.store(c, 0, 2 * i + 1);
      Atomics.notify(c, 0);
      while (Atomics.load(c, 0) !== 2 * i + 2) Atomics.wait(c, 0, 2 * i + 1);
    }
    return (performance.now() - t0) / n;
  },
};
const result = await roles[role](workerData);
parentPort.postMessage({ result });
