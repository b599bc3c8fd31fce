// context.js — Go's context package for JS, on the runtime's contexts: a
// cancel anywhere (the main thread, a worker, a goroutine, a deadline's
// timer) closes the same Done channel, which wakes every party waiting on it.

import { GortError } from './errors.js';
import { Channel, selectAsync } from './channel.js';
import { UNIT_CODEC } from './codec.js';
import { E } from './realm.js';

/** The error of a context that is done: context.Canceled or context.DeadlineExceeded. */
export class ContextError extends GortError {}

/**
 * A sentinel, as Go's context errors are: one value compared by identity.
 * Its stack is its text alone: it is made as the package loads, and a
 * stack of that moment would point the reader of a printed error there.
 */
function sentinel(message, code) {
  const err = new ContextError(message, code);
  err.stack = `${err.name}: ${message}`;
  return Object.freeze(err);
}

/** Go's context.Canceled ('context canceled'). */
export const Canceled = sentinel('context canceled', 'ECANCELED');
/** Go's context.DeadlineExceeded ('context deadline exceeded'). */
export const DeadlineExceeded = sentinel('context deadline exceeded', 'EDEADLINE');

function check(rt, err, what) {
  if (err === E.NILCONTEXT) throw new GortError('cannot create context from nil parent', 'ENILCONTEXT');
  if (err === E.NOMEM) throw new RangeError(`gort: out of memory for ${what}`);
  if (err !== E.OK) throw new GortError(`gort: ${what} failed (${err})`, 'EINVAL');
}

export class Context {
  /** @internal */
  constructor(rt, h, owned = true) {
    this.rt = rt;
    this.h = h;
    this.owned = owned;
    this.doneChannel = undefined;
    this.abortController = null;
    if (owned) rt.realm.own(this, h);
  }

  get #realm() {
    this.rt.realm.check();
    if (this.h === -1) throw new GortError('gort: this context was disposed', 'EINVAL');
    return this.rt.realm;
  }

  /** A channel closed when the context is done (a never-done context's is the nil channel: null). */
  get done() {
    if (this.doneChannel === undefined) {
      const realm = this.#realm;
      const h = realm.module._gort_js_ctx_done(this.h, realm.errOut);
      check(this.rt, realm.readErr(), 'a Done channel');
      this.doneChannel = h === 0 ? null : new Channel(this.rt, h, UNIT_CODEC);
    }
    return this.doneChannel;
  }

  /** null while not done; then Canceled or DeadlineExceeded, for good. */
  get err() {
    const r = this.#realm.module._gort_js_ctx_err(this.h);
    if (r === E.CANCELED) return Canceled;
    if (r === E.DEADLINE) return DeadlineExceeded;
    return null;
  }

  /** The deadline (a Date), or null without one. */
  get deadline() {
    const realm = this.#realm;
    const at = realm.module._gort_js_ctx_deadline(this.h);
    if (at < 0) return null;
    return new Date(Date.now() + (at - realm.module._gort_js_now()));
  }

  /** The value for key carried by this context or an ancestor, or undefined. */
  value(key) {
    const realm = this.#realm;
    const p = realm.withCString(String(key), (k) => realm.module._gort_js_ctx_value(this.h, k));
    if (p === 0) return undefined;
    realm.refresh();
    const len = realm.u32[p >>> 2];
    const start = p + realm.layout.payloadHeader;
    return JSON.parse(new TextDecoder().decode(realm.u8.slice(start, start + len)));
  }

  /** Cancels it (and everything derived from it). Does nothing when it is done already. */
  cancel() {
    const realm = this.#realm;
    const r = realm.module._gort_js_ctx_cancel(this.h);
    realm.flushDeferred(); // the goroutines it woke, when the scheduler's lock was taken
    if (r !== E.OK) throw new GortError('gort: only a context made by withCancel, withTimeout or withDeadline can be cancelled', 'EINVAL');
  }

  /**
   * An AbortSignal of this realm that aborts (with err as its reason) when
   * the context is done. Watching does not keep a Node process alive.
   */
  get signal() {
    if (!this.abortController) {
      const controller = new AbortController();
      this.abortController = controller;
      const done = this.done;
      if (done !== null) {
        selectAsync([{ recv: done }], { keepAlive: false }).then(
          () => controller.abort(this.err ?? Canceled),
          () => {});
      }
    }
    return this.abortController.signal;
  }

  /** Plain data naming this context, for postMessage to a worker. */
  get handle() {
    this.#realm;
    return { gort: 'context', runtime: this.rt.id, h: this.h };
  }

  [Symbol.dispose]() {
    if (this.h > 0 && this.owned) this.rt.realm.disown(this, this.h);
    this.doneChannel?.[Symbol.dispose]();
    this.h = -1;
  }
}

/** rt.context: the constructors of contexts of one runtime. */
export class Contexts {
  /** @internal */
  constructor(rt) {
    this.rt = rt;
    this.root = null;
  }

  #make(what, fn) {
    const realm = this.rt.realm;
    realm.check();
    const h = fn(realm);
    realm.flushDeferred(); // a context born done closes its done channel, waking its waiters
    check(this.rt, realm.readErr(), what);
    return new Context(this.rt, h);
  }

  #parentHandle(parent) {
    if (!(parent instanceof Context) || parent.rt !== this.rt) {
      throw new GortError('cannot create context from nil parent', 'ENILCONTEXT');
    }
    return parent.h;
  }

  /** context.Background(): never cancelled, no values, no deadline. */
  background() {
    if (!this.root) {
      this.rt.realm.check();
      this.root = new Context(this.rt, this.rt.realm.module._gort_js_ctx_background(), false);
    }
    return this.root;
  }

  /** context.WithCancel(parent): a child that ctx.cancel() (or the parent's end) cancels. */
  withCancel(parent) {
    const p = this.#parentHandle(parent);
    return this.#make('a context', (realm) => realm.module._gort_js_ctx_with_cancel(p, realm.errOut));
  }

  /** context.WithTimeout(parent, ms). */
  withTimeout(parent, ms) {
    const p = this.#parentHandle(parent);
    return this.#make('a context', (realm) => realm.module._gort_js_ctx_with_timeout(p, Number(ms), realm.errOut));
  }

  /** context.WithDeadline(parent, deadline): a Date or epoch milliseconds. */
  withDeadline(parent, deadline) {
    const p = this.#parentHandle(parent);
    const epochMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
    return this.#make('a context', (realm) => {
      const at = realm.module._gort_js_now() + (epochMs - Date.now());
      return realm.module._gort_js_ctx_with_deadline(p, at, realm.errOut);
    });
  }

  /** context.WithValue(parent, key, value): key a string, value anything JSON takes. */
  withValue(parent, key, value) {
    const p = this.#parentHandle(parent);
    if (key === null || key === undefined) throw new GortError('nil key', 'ENILKEY');
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError('gort: a context value must be something JSON.stringify takes');
    const bytes = new TextEncoder().encode(text);
    return this.#make('a context', (realm) => {
      const op = realm.opTake();
      try {
        const slot = op + realm.layout.opElem;
        const at = realm.module._gort_js_payload_new(slot, bytes.length);
        if (at === 0) throw new RangeError('gort: out of memory for a context value');
        realm.refresh();
        realm.u8.set(bytes, at);
        return realm.withCString(String(key), (k) =>
          realm.module._gort_js_ctx_with_value(p, k, slot, realm.errOut));
      } finally {
        realm.opGive(op);
      }
    });
  }

  /** A context cancelled when signal aborts (at once if it has). */
  fromSignal(signal) {
    const ctx = this.withCancel(this.background());
    if (signal.aborted) ctx.cancel();
    else signal.addEventListener('abort', () => { if (ctx.h !== -1) ctx.cancel(); }, { once: true });
    return ctx;
  }
}
