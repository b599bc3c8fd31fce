// The roles a worker of bench/js.mjs plays, in Node (party.mjs) and in
// Chromium (party.browser.mjs) alike: runRole plays the one data.role names
// and posts its figures (or 'ready') to its parent. Every run first warms up
// for warmupMs, untimed (a fresh worker's JIT tiering; see bench/js.mjs), and
// then times n round trips or values.
//
// Round trips: the pinging side decides when the warm-up is over, and ends
// with END, which the echoing side echoes and then stops.
//
// Throughput: the sender sends until its receiver, warm, asks it to stop
// (gate word STOP); then the warm-up's end (a value isEnd takes), and then
// waits at the gate (word GO) until its receiver has had every warm-up
// value, so that the timed values are timed from their first send to their
// last receipt on one clock (the receiver's), however far an unbounded
// queue let the sender run ahead.
//
// Ports are used through onmessage, which Node's MessagePort has as the
// browser's does.

const STOP = 0, GO = 1, RECEIVED = 2;

/**
 * Plays data.role: data is what the parent gave the worker (its figures'
 * sizes, channel handles, ports, the gate, workerEntry: the URL of the
 * package's worker entry); parent posts to the parent and nextMessage()
 * resolves with the parent's next message.
 * @param {Record<string, any>} data
 * @param {{ post: (message: unknown) => void, nextMessage: () => Promise<unknown> }} parent
 */
export async function runRole(data, parent) {
  try {
    parent.post({ result: await rolesOf(data, parent)[data.role](data) });
  } catch (err) {
    parent.post({ error: String(err?.stack ?? err) });
  }
}

function rolesOf(data, parent) {
  // END: the last value of a round-trip run (bench/js.mjs's).
  const { n, warmupMs, end: END } = data;
  const gate = data.gate && new Int32Array(data.gate);
  // How many values a throughput's sender by postMessage keeps in flight during
  // the warm-up: the capacity of gort's channel in the same row.
  const WARMUP_AHEAD = data.cap;
  // The warm-up's last value in a throughput run, whatever the codec: the
  // values sent are never these.
  const WARMUP_END = { f64: END, string: '', json: null };
  const WARMUP_ENDS = new Set(Object.values(WARMUP_END));
  const isEnd = (v) => WARMUP_ENDS.has(v);
  const attach = async (handle) => (await import(data.workerEntry)).attach(handle);

  const warm = (t0) => performance.now() - t0 >= warmupMs;

  function raise(word) {
    Atomics.store(gate, word, 1);
    Atomics.notify(gate, word);
  }

  function awaitRaised(word) {
    while (Atomics.load(gate, word) === 0) Atomics.wait(gate, word, 0);
  }

  /** The receiver: it has had every warm-up value; lets the sender go on and returns the time it did. */
  function openGate() {
    const t0 = performance.now();
    raise(GO);
    return t0;
  }

  /**
   * The two sides of a counter handed back and forth in cells[0] (the ping
   * waits for cells[1] to start): sleeping in Atomics.wait between turns, or
   * spinning. The ping's END (written as is) ends the pong.
   */
  function handOffRoles(name, sleeps) {
    const waitFor = (c, was) => {
      let v;
      while ((v = Atomics.load(c, 0)) === was) if (sleeps) Atomics.wait(c, 0, was);
      return v;
    };
    const give = (c, v) => {
      Atomics.store(c, 0, v);
      if (sleeps) Atomics.notify(c, 0);
    };
    return {
      async [`${name}Pong`]({ cells }) {
        const c = new Int32Array(cells);
        parent.post('ready');
        for (let v = 0; (v = waitFor(c, v)) !== END;) give(c, ++v);
      },
      async [`${name}Ping`]({ cells }) {
        const c = new Int32Array(cells);
        parent.post('ready');
        while (Atomics.load(c, 1) === 0) Atomics.wait(c, 1, 0);
        let v = 0;
        const trip = () => {
          give(c, v + 1);
          v = waitFor(c, v + 1);
        };
        for (const w0 = performance.now(); !warm(w0);) trip();
        const t0 = performance.now();
        for (let i = 0; i < n; i++) trip();
        const per = (performance.now() - t0) / n;
        give(c, END);
        return per;
      },
    };
  }

  return {
    // gort: a worker attached to the runtime, blocking in the runtime.
    async gortEcho({ rt, a, b }) {
      const wr = await attach(rt);
      const inCh = wr.open(a), outCh = wr.open(b);
      parent.post('ready');
      for (let v = 0; v !== END;) outCh.sendSync(v = inCh.recvSync().value);
    },
    async gortPing({ rt, a, b }) {
      const wr = await attach(rt);
      const out = wr.open(a), back = wr.open(b);
      parent.post('ready');
      let i = 0;
      for (const w0 = performance.now(); !warm(w0);) {
        out.sendSync(i++);
        back.recvSync();
      }
      const t0 = performance.now();
      for (let k = 0; k < n; k++) {
        out.sendSync(i++);
        back.recvSync();
      }
      const per = (performance.now() - t0) / n;
      out.sendSync(END);
      back.recvSync();
      return per;
    },
    async gortSend({ rt, a, codec, value }) {
      const wr = await attach(rt);
      const ch = wr.open(a, { codec });
      parent.post('ready');
      while (Atomics.load(gate, STOP) === 0) ch.sendSync(value);
      ch.sendSync(WARMUP_END[codec]);
      awaitRaised(GO);
      for (let i = 0; i < n; i++) ch.sendSync(value);
    },
    async gortRecv({ rt, a, codec }) {
      const wr = await attach(rt);
      const ch = wr.open(a, { codec });
      parent.post('ready');
      const w0 = performance.now();
      for (let asked = false; !isEnd(ch.recvSync().value);) {
        if (!asked && warm(w0)) {
          raise(STOP);
          asked = true;
        }
      }
      const t0 = openGate();
      for (let i = 0; i < n; i++) ch.recvSync();
      return (performance.now() - t0) / n;
    },
    // postMessage over a MessagePort (structured clone).
    async portEcho({ port }) {
      port.onmessage = (e) => port.postMessage(e.data);
      parent.post('ready');
      await new Promise(() => {});
    },
    async portPing({ port }) {
      parent.post('ready');
      await parent.nextMessage(); // go
      let i = 0, answered;
      port.onmessage = () => answered();
      const trip = () => {
        port.postMessage(i++);
        return new Promise((r) => { answered = r; });
      };
      for (const w0 = performance.now(); !warm(w0);) await trip();
      const t0 = performance.now();
      for (let k = 0; k < n; k++) await trip();
      return (performance.now() - t0) / n;
    },
    async portSend({ port, value }) {
      parent.post('ready');
      await parent.nextMessage(); // go
      // Its queue has no bound: during the warm-up it stays at most
      // WARMUP_AHEAD values ahead of its receiver (gort's channel holds as many).
      for (let sent = 0; Atomics.load(gate, STOP) === 0;) {
        if (sent - Atomics.load(gate, RECEIVED) < WARMUP_AHEAD) {
          port.postMessage(value);
          sent++;
        }
      }
      port.postMessage(null);
      awaitRaised(GO);
      for (let i = 0; i < n; i++) port.postMessage(value);
    },
    async portRecv({ port }) {
      parent.post('ready');
      const w0 = performance.now();
      let timing = false, asked = false, count = 0, t0 = 0;
      return new Promise((resolve) => {
        port.onmessage = ({ data: v }) => {
          if (timing) {
            if (++count === n) resolve((performance.now() - t0) / n);
          } else if (isEnd(v)) {
            timing = true;
            t0 = openGate();
          } else {
            Atomics.add(gate, RECEIVED, 1);
            if (!asked && warm(w0)) {
              raise(STOP);
              asked = true;
            }
          }
        };
      });
    },
    // The floor: two workers handing a counter back and forth with Atomics.wait/notify;
    // and the same with both sides spinning instead of sleeping: what one round trip of
    // two cache-line transfers between two cores costs here.
    ...handOffRoles('atomics', true),
    ...handOffRoles('spin', false),
  };
}
