// channel.js — Go's channels and select for JS, on the runtime's own
// channels: the same queues hold goroutines, blocked workers and the main
// thread's Promises, so every one of Go's rules holds across them all.
// Operations that must wait queue an asynchronous waiter and resolve when the
// realm's doorbell says it woke (realm.js); in a worker, the *Sync forms
// block the thread in the runtime instead.

import { ChannelClosedError, GortError, PanicError, RuntimeClosedError } from './errors.js';
import { ELEM_BOOL, ELEM_F64, ELEM_I32, ELEM_PAYLOAD, ELEM_UNIT, copyIn } from './codec.js';
import { E } from './realm.js';

const SELECT_RECV = 0;
const SELECT_SEND = 1;
const SELECT_DEFAULT = -1;


/**
 * Writes value into the element at address `at` (throws for a value the
 * codec does not take). mayDefer (an asynchronous send): returns false,
 * having written nothing, when the realm's try mode found the allocator's
 * lock taken (call again later); otherwise the allocation waits for it.
 */
function putValue(realm, codec, at, value, { mayDefer = false, encoded } = {}) {
  switch (codec.kind) {
    case ELEM_F64: codec.check(value); realm.refresh(at + 8); realm.f64[at >>> 3] = value; return true;
    case ELEM_I32: codec.check(value); realm.refresh(at + 8); realm.i32[at >>> 2] = value; return true;
    case ELEM_BOOL: codec.check(value); realm.refresh(at + 8); realm.u8[at] = value ? 1 : 0; return true;
    case ELEM_UNIT: return true;
    case ELEM_PAYLOAD: {
      const bytes = encoded ?? encodeValue(realm, codec, value);
      const p = mayDefer && realm.tryMode ? realm.module._gort_js_payload_try(at, bytes.length)
                                          : realm.module._gort_js_payload_new(at, bytes.length);
      if (p === 1) return false;
      if (p === 0) throw new RangeError(`gort: out of memory for a value of ${bytes.length} bytes`);
      realm.refresh(p + bytes.length);
      copyIn(realm.u8, p, bytes);
    }
  }
  return true;
}

/** A payload codec's bytes for value, checked against the element's limit. */
function encodeValue(realm, codec, value) {
  const bytes = codec.encode(value);
  const limit = realm.layout.maxPayload;
  if (bytes.length > limit) {
    throw new TypeError(`gort: a value of ${bytes.length} bytes is larger than a channel element may be (${limit} bytes)`);
  }
  return bytes;
}

/**
 * Puts value into the element at `at`, on a later task (and again) while the
 * allocator's lock is taken (try mode); rejects with signal's reason when it
 * aborts meanwhile (nothing was sent).
 */
async function putValueLater(realm, codec, at, value, signal) {
  // A copy: the codec's bytes may be its reused buffer, which other values
  // pass through before this one goes in.
  const bytes = encodeValue(realm, codec, value).slice();
  for (let attempt = 0; ; attempt++) {
    await realm.busyPause(attempt);
    signal?.throwIfAborted();
    realm.check();
    if (putValue(realm, codec, at, value, { mayDefer: true, encoded: bytes })) return;
  }
}

/**
 * Calls op() (a channel operation of the realm) until it does not answer
 * busy (E.BUSY, or E.SELECT_BUSY for a select: try mode found a lock
 * taken, nothing was done), each retry on a later task; rejects with
 * signal's reason when it aborts meanwhile.
 */
async function retryWhileBusy(realm, op, signal, busy = E.BUSY) {
  let r = busy;
  for (let attempt = 0; r === busy; attempt++) {
    await realm.busyPause(attempt);
    signal?.throwIfAborted();
    realm.check();
    r = op();
  }
  return r;
}

/** Reads the element at `at` (ok false: the zero value of a closed channel) and lets its payload go. */
function takeValue(realm, codec, at, ok) {
  realm.refresh(at + 8);
  switch (codec.kind) {
    case ELEM_F64:
      if (codec.nanos) return (realm.i32[(at >>> 2) + 1] * 2 ** 32 + realm.u32[at >>> 2]) / 1e6;
      return realm.f64[at >>> 3];
    case ELEM_I32: return realm.i32[at >>> 2];
    case ELEM_BOOL: return realm.u8[at] !== 0;
    case ELEM_UNIT: return undefined;
    case ELEM_PAYLOAD: {
      const p = realm.u32[at >>> 2];
      if (!ok || p === 0) return undefined;
      realm.refresh(p + realm.layout.payloadHeader);
      const len = realm.u32[p >>> 2];
      const start = p + realm.layout.payloadHeader;
      realm.refresh(start + len);
      const value = codec.decodeAt(realm.u8, start, len);
      realm.u32[at >>> 2] = 0;
      return value;
    }
  }
  return undefined;
}

function isPending(realm, op) {
  realm.refresh(op + realm.layout.opSize);
  return realm.u32[(op + realm.layout.opPending) >>> 2] !== 0;
}

/** An operation that can never complete (nil channels): only its signal ends it. */
function forever(signal) {
  return new Promise((_, reject) => {
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/**
 * Runs fn(op, elem) with an op record of the realm (elem: its element's
 * address), and clears and gives the record back once fn returns or its
 * Promise settles: no payload stays held by a kept record.
 */
function withOp(realm, fn) {
  const op = realm.opTake();
  const elem = op + realm.layout.opElem;
  const release = () => {
    if (realm.closedReason) return; // the runtime is over: nothing to give back to it
    clearElem(realm, elem);
    realm.opGive(op);
  };
  let result;
  try {
    result = fn(op, elem);
  } catch (err) {
    release();
    throw err;
  }
  if (result instanceof Promise) return result.finally(release);
  release();
  return result;
}

/**
 * What a blocking call into the runtime (a worker's) threw: when the
 * runtime ended meanwhile, the thread's wait gave up (realm.js woke it) and
 * the call throws why, as the realm's Promises reject with it: the
 * FatalError of a runtime that died, RuntimeClosedError after close().
 */
function blockingError(realm, err) {
  realm.check();
  if (err && err.gortGaveUp) {
    const closed = new RuntimeClosedError();
    realm.failAll(closed);
    return closed;
  }
  return err;
}

/** Lets a synchronous operation's op record go (see withOp). */
function releaseOp(realm, op) {
  if (realm.closedReason) return; // the runtime is over: nothing to give back to it
  clearElem(realm, op + realm.layout.opElem);
  realm.opGive(op);
}

function clearElem(realm, at) {
  realm.refresh(at + 8);
  realm.u32[at >>> 2] = 0;
  realm.u32[(at + 4) >>> 2] = 0;
}

function deadHandle(what) {
  return new GortError(`gort: ${what} was disposed`, 'EINVAL');
}

/**
 * A channel (Go's chan T). Made by rt.chan(); in a worker, by attaching a
 * handle. All methods may be called from any realm of its runtime.
 */
export class Channel {
  /** @internal */
  constructor(rt, h, codec, owned = true) {
    this.rt = rt;
    this.h = h;
    this.codec = codec;
    this.owned = owned;
    if (owned) rt.realm.own(this, h);
  }

  get #realm() {
    this.rt.realm.check();
    if (this.h === -1) throw deadHandle('this channel');
    return this.rt.realm;
  }

  /**
   * Sends v: resolves when a receiver took it (unbuffered) or it is
   * buffered. Rejects with ChannelClosedError if the channel is or gets
   * closed; with signal's reason when signal aborts first (then v was not
   * sent).
   * @param {unknown} v
   * @param {{ signal?: AbortSignal }} [options]
   */
  async send(v, { signal } = {}) {
    const realm = this.#realm;
    signal?.throwIfAborted();
    await withOp(realm, async (op, elem) => {
      if (!putValue(realm, this.codec, elem, v, { mayDefer: true })) await putValueLater(realm, this.codec, elem, v, signal);
      const sendOnce = () => realm.module._gort_js_send(this.h, op, realm.doorbell);
      let r = sendOnce();
      if (r === E.BUSY) r = await retryWhileBusy(realm, sendOnce, signal);
      if (r === E.WOULDBLOCK) {
        if (!isPending(realm, op)) return forever(signal); // the nil channel
        await realm.whenReady(op, { signal, send: true });
        realm.module._gort_js_finish(op);
        r = realm.opOk(op) ? E.OK : E.CLOSED;
      }
      if (r === E.CLOSED) throw new ChannelClosedError(v);
      if (r !== E.OK) throw deadHandle('this channel');
      realm.nudge();
    });
    const due = realm.taskDue();
    if (due) await due;
  }

  /**
   * Receives a value: { value, ok }, ok false (and value the zero value)
   * once the channel is closed and drained. With a signal, aborting
   * withdraws the receive: no value is taken.
   * @param {{ signal?: AbortSignal }} [options]
   */
  async recv({ signal } = {}) {
    const realm = this.#realm;
    signal?.throwIfAborted();
    const received = await withOp(realm, async (op, elem) => {
      const recvOnce = () => realm.module._gort_js_recv(this.h, op, realm.doorbell);
      let r = recvOnce();
      if (r === E.BUSY) r = await retryWhileBusy(realm, recvOnce, signal);
      if (r === E.WOULDBLOCK) {
        if (!isPending(realm, op)) return forever(signal); // the nil channel
        await realm.whenReady(op, { signal });
        realm.module._gort_js_finish(op);
        r = E.OK;
      }
      if (r !== E.OK) throw deadHandle('this channel');
      realm.nudge();
      const ok = realm.opOk(op);
      return { value: takeValue(realm, this.codec, elem, ok), ok };
    });
    const due = realm.taskDue();
    if (due) await due;
    return received;
  }

  /** Sends v only if no wait is needed: true when sent. Throws ChannelClosedError on a closed channel. */
  trySend(v) {
    const realm = this.#realm;
    return withOp(realm, (op, elem) => {
      putValue(realm, this.codec, elem, v);
      const r = realm.module._gort_js_trysend(this.h, op);
      if (r === E.CLOSED) throw new ChannelClosedError(v);
      if (r === E.INVAL) throw deadHandle('this channel');
      if (r === E.OK) realm.nudge();
      return r === E.OK;
    });
  }

  /**
   * Receives only if no wait is needed.
   * @returns {{ state: 'ok', value: unknown } | { state: 'empty' } | { state: 'closed' }}
   */
  tryRecv() {
    const realm = this.#realm;
    return withOp(realm, (op, elem) => {
      const r = realm.module._gort_js_tryrecv(this.h, op);
      if (r === E.WOULDBLOCK) return { state: 'empty' };
      if (r !== E.OK) throw deadHandle('this channel');
      realm.nudge();
      if (!realm.opOk(op)) return { state: 'closed' };
      return { state: 'ok', value: takeValue(realm, this.codec, elem, true) };
    });
  }

  /** close(ch). Throws PanicError 'close of closed channel' when it is closed already. */
  close() {
    const realm = this.#realm;
    const r = realm.module._gort_js_chan_close(this.h);
    if (r === E.CLOSECLOSED) throw new PanicError('close of closed channel', 'ECLOSECLOSED');
    if (r === E.CLOSENIL) throw new PanicError('close of nil channel', 'ECLOSENIL');
    if (r !== E.OK) throw deadHandle('this channel');
    realm.nudge();
  }

  #info(i) {
    const realm = this.#realm;
    if (realm.module._gort_js_chan_info(this.h, realm.scratch) !== E.OK) throw deadHandle('this channel');
    realm.refresh();
    return realm.u32[(realm.scratch >>> 2) + i];
  }

  /** len(ch): values buffered now. */
  get len() { return this.#info(0); }
  /** cap(ch): the buffer's size. */
  get cap() { return this.#info(1); }

  /** Plain data naming this channel, for postMessage to a worker (attach it there). */
  get handle() {
    this.#realm;
    return { gort: 'chan', runtime: this.rt.id, h: this.h, codec: this.codec.user ? 'custom' : this.codec.name };
  }

  /** Receives until the channel is closed and drained; break does not close it (Go's range). */
  async *[Symbol.asyncIterator]() {
    for (;;) {
      const { value, ok } = await this.recv();
      if (!ok) return;
      yield value;
    }
  }

  /** A ReadableStream of the values received; cancelling it does not close the channel. */
  readable() {
    return new ReadableStream({
      pull: async (controller) => {
        const { value, ok } = await this.recv();
        if (ok) controller.enqueue(value);
        else controller.close();
      },
    });
  }

  /** A WritableStream that sends each chunk; closing the stream closes the channel. */
  writable() {
    return new WritableStream({
      write: (chunk) => this.send(chunk),
      close: () => this.close(),
    });
  }

  // ---- blocking forms (workers only) ----

  // (The blocking forms are the workers' hot path: no closure per call.)

  /** Worker only: sends v, blocking this thread. */
  sendSync(v) {
    const realm = this.#blockingRealm();
    const op = realm.opTake();
    let r, staged = -1;
    try {
      // Text straight into the runtime's memory, and one call that makes the payload and sends it.
      const staging = this.codec.encodeInto ? realm.stagingArea() : null;
      if (staging !== null) staged = this.codec.encodeInto(v, staging);
      if (staged < 0) putValue(realm, this.codec, op + realm.layout.opElem, v);
      try {
        r = staged >= 0 ? realm.module._gort_js_send_staged_sync(this.h, op, realm.staging, staged)
                        : realm.module._gort_js_send_sync(this.h, op);
      } catch (err) {
        throw blockingError(realm, err);
      }
    } finally {
      releaseOp(realm, op);
    }
    if (r === E.NOMEM) throw new RangeError(`gort: out of memory for a value of ${staged} bytes`);
    if (r === E.CLOSED) throw new ChannelClosedError(v);
    if (r !== E.OK) throw deadHandle('this channel');
  }

  /**
   * Worker only: receives, blocking this thread for at most timeout ms.
   * @returns {{ value: unknown, ok: boolean, timedOut?: true }}
   */
  recvSync(options) {
    const timeout = options?.timeout;
    if (timeout === undefined || timeout === null || timeout < 0) {
      const realm = this.#blockingRealm();
      const op = realm.opTake();
      try {
        let r;
        try {
          r = realm.module._gort_js_recv_sync(this.h, op);
        } catch (err) {
          throw blockingError(realm, err);
        }
        if (r !== E.OK) throw deadHandle('this channel');
        const ok = realm.opOk(op);
        return { value: takeValue(realm, this.codec, op + realm.layout.opElem, ok), ok };
      } finally {
        releaseOp(realm, op);
      }
    }
    const r = selectSync([{ recv: this }], { timeout });
    if (r.index === -1) return { value: undefined, ok: false, timedOut: true };
    return { value: r.value, ok: r.ok };
  }

  #blockingRealm() {
    const realm = this.#realm;
    if (!realm.canBlock) {
      throw new GortError('gort: a blocking call (sendSync, recvSync, select.sync) cannot be made on this thread; use the Promise form, or call it in a worker', 'EWOULDBLOCK');
    }
    return realm;
  }

  /**
   * Lets the channel go (its handle) now, rather than when this object is
   * collected; the channel itself lives while anything else holds it.
   */
  [Symbol.dispose]() {
    if (this.h > 0 && this.owned) this.rt.realm.disown(this, this.h);
    this.h = -1;
  }
}

/** A ticker's channel (rt.tick): stop(), disposing it or dropping it stops the ticker. */
export class TickerChannel extends Channel {
  /** @internal */
  constructor(rt, h, codec, ticker) {
    super(rt, h, codec);
    this.ticker = ticker;
    this.tickerToken = {};
    rt.realm.own(this, ticker, this.tickerToken, true);
  }

  /** Ticker.Stop: no more ticks (one already buffered stays). */
  stop() {
    if (this.ticker === 0) return;
    this.rt.realm.disown(this.tickerToken, this.ticker);
    this.ticker = 0;
  }

  [Symbol.dispose]() {
    this.stop();
    super[Symbol.dispose]();
  }
}

// ---- select ----

function runtimeOf(cases) {
  for (const c of cases) {
    const ch = c && (c.recv ?? c.send);
    if (ch) return ch.rt;
  }
  return null;
}

/** Validates cases and fills an op record's cases; returns the send values' codecs. */
function fillCases(realm, op, cases, rt, room = cases.length) {
  const L = realm.layout;
  const casesAt = op + L.opSize;
  const elemsAt = casesAt + room * L.caseSize;
  realm.refresh();
  cases.forEach((c, i) => {
    const at = casesAt + i * L.caseSize;
    const elem = elemsAt + i * L.caseElemSize;
    if (c == null) {
      realm.u32[(at + L.caseChan) >>> 2] = 0;
      realm.u32[(at + L.caseDir) >>> 2] = SELECT_RECV;
      return;
    }
    const ch = c.recv ?? c.send;
    if (!(ch instanceof Channel)) throw new TypeError('gort: a select case is { recv: channel }, { send: channel, value } or null');
    if (ch.rt !== rt) throw new GortError('gort: a select cannot mix channels of different runtimes', 'EINVAL');
    if (ch.h === -1) throw deadHandle('a channel of this select');
    realm.u32[(at + L.caseChan) >>> 2] = ch.h;
    if (c.send !== undefined && c.recv === undefined) {
      realm.u32[(at + L.caseDir) >>> 2] = SELECT_SEND;
      putValue(realm, ch.codec, elem, c.value);
      realm.refresh();
    } else {
      realm.u32[(at + L.caseDir) >>> 2] = SELECT_RECV;
    }
  });
  return elemsAt;
}

/** Writes the cases' channel handles into op again (a select that found a lock taken turned them into channels). */
function writeHandles(realm, op, cases) {
  const L = realm.layout;
  realm.refresh();
  cases.forEach((c, i) => {
    realm.u32[(op + L.opSize + i * L.caseSize + L.caseChan) >>> 2] = c == null ? 0 : (c.recv ?? c.send).h;
  });
}

function selectOutcome(realm, op, cases, elemsAt, r) {
  const L = realm.layout;
  if (r === -E.CLOSED) {
    const i = cases.findIndex((c) => c && c.send !== undefined && c.recv === undefined);
    throw new ChannelClosedError(i >= 0 ? cases[i].value : undefined);
  }
  if (r === -E.INVAL) throw deadHandle('a channel of this select');
  if (r === SELECT_DEFAULT) return { index: -1, value: undefined, ok: false };
  const ok = realm.opOk(op);
  const c = cases[r];
  let value;
  if (c && c.recv !== undefined) value = takeValue(realm, c.recv.codec, elemsAt + r * L.caseElemSize, ok);
  return { index: r, value, ok };
}

/** Clears op's cases and elements (a kept record must hold no channel or
 * payload alive: it is a root region) and gives it back. */
function releaseCases(realm, op, n) {
  if (realm.closedReason) return; // the runtime is over: nothing to give back to it
  const L = realm.layout;
  const casesAt = op + L.opSize;
  realm.refresh();
  realm.u8.fill(0, casesAt, casesAt + n * (L.caseSize + L.caseElemSize));
  realm.opGive(op, n);
}

/**
 * Go's select over cases ({ recv: ch }, { send: ch, value }, or null for a
 * nil channel's case): waits until one can proceed; a case chosen uniformly
 * at random among those ready. Resolves with { index, value, ok }. With a
 * signal, aborting withdraws every case: nothing is sent or taken.
 * @param {Array<{ recv: Channel } | { send: Channel, value: unknown } | null>} cases
 * @param {{ signal?: AbortSignal }} [options]
 */
export async function select(cases, { signal } = {}) {
  return selectAsync(cases, { signal, keepAlive: true });
}

/** @internal select with the realm's keepAlive choice. */
export async function selectAsync(cases, { signal, keepAlive = true, rt: given } = {}) {
  if (!Array.isArray(cases)) throw new TypeError('gort: select takes an array of cases');
  const rt = given ?? runtimeOf(cases);
  if (!rt) return forever(signal); // select {}: blocks forever
  const realm = rt.realm;
  realm.check();
  signal?.throwIfAborted();
  const op = realm.opTake(cases.length);
  try {
    const elemsAt = fillCases(realm, op, cases, rt);
    const selectOnce = () => realm.module._gort_js_select(op, cases.length, 0, realm.doorbell);
    let r = selectOnce();
    if (r === E.SELECT_BUSY) {
      r = await retryWhileBusy(realm, () => { writeHandles(realm, op, cases); return selectOnce(); }, signal, E.SELECT_BUSY);
    }
    if (r === -E.WOULDBLOCK) {
      if (!isPending(realm, op)) return await forever(signal); // only nil channels
      await realm.whenReady(op, { keepAlive, signal });
      const finishOnce = () => realm.module._gort_js_select_finish(op);
      r = finishOnce();
      // (A case fired: an abort now comes too late.)
      if (r === E.SELECT_BUSY) r = await retryWhileBusy(realm, finishOnce, undefined, E.SELECT_BUSY);
    }
    realm.nudge();
    const outcome = selectOutcome(realm, op, cases, elemsAt, r);
    const due = realm.taskDue();
    if (due) await due;
    return outcome;
  } finally {
    releaseCases(realm, op, cases.length);
  }
}

/**
 * select with Go's default: { index: -1 } at once when no case is ready.
 */
select.try = function trySelect(cases) {
  if (!Array.isArray(cases)) throw new TypeError('gort: select takes an array of cases');
  const rt = runtimeOf(cases);
  if (!rt) return { index: -1, value: undefined, ok: false };
  const realm = rt.realm;
  realm.check();
  const op = realm.opTake(cases.length);
  try {
    const elemsAt = fillCases(realm, op, cases, rt);
    const r = realm.module._gort_js_select(op, cases.length, 1, realm.doorbell);
    realm.nudge();
    return selectOutcome(realm, op, cases, elemsAt, r);
  } finally {
    releaseCases(realm, op, cases.length);
  }
};

/**
 * Worker only: select that blocks this thread, for at most timeout ms
 * ({ index: -1 } when the time ran out).
 */
export function selectSync(cases, { timeout } = {}) {
  if (!Array.isArray(cases)) throw new TypeError('gort: select takes an array of cases');
  const rt = runtimeOf(cases);
  if (!rt) throw new GortError('gort: select.sync with no channel would block forever', 'EDEADLOCK');
  const realm = rt.realm;
  realm.check();
  if (!realm.canBlock) {
    throw new GortError('gort: a blocking call (sendSync, recvSync, select.sync) cannot be made on this thread; use the Promise form, or call it in a worker', 'EWOULDBLOCK');
  }
  const timed = timeout !== undefined && timeout !== null && timeout >= 0;
  const op = realm.opTake(cases.length);
  try {
    const elemsAt = fillCases(realm, op, cases, rt);
    let r;
    try {
      r = realm.module._gort_js_select_sync(op, cases.length, timed ? timeout : -1);
    } catch (err) {
      throw blockingError(realm, err);
    }
    if (timed && r === cases.length) return { index: -1, value: undefined, ok: false };
    return selectOutcome(realm, op, cases, elemsAt, r);
  } finally {
    releaseCases(realm, op, cases.length);
  }
}

select.sync = selectSync;

