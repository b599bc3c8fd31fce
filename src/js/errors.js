// errors.js — the errors gort's JS API throws. Misuse that Go reports as a
// panic carries Go's words; every one leaves the runtime usable, except
// FatalError, which ends that runtime (not the page or the process).

/** The base class of gort's errors. `code` is the C API's error code name. */
export class GortError extends Error {
  constructor(message, code, options) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** 'send on closed channel': the value was not sent; it is in `value`. */
export class ChannelClosedError extends GortError {
  constructor(value) {
    super('send on closed channel', 'ECLOSED');
    this.value = value;
  }
}

/** Go's other channel panics: 'close of closed channel', 'close of nil channel'. */
export class PanicError extends GortError {}

/**
 * 'all goroutines are asleep - deadlock!': pending operations that nothing
 * can complete (Node: the process has nothing else to do, and no goroutine
 * can run or timer fire). The runtime stays usable.
 */
export class DeadlockError extends GortError {
  constructor() {
    super('all goroutines are asleep - deadlock!', 'EDEADLOCK');
  }
}

/** The runtime was closed (rt.close()) or ended: nothing more can be done with it. */
export class RuntimeClosedError extends GortError {
  constructor(message = 'gort: the runtime is closed') {
    super(message, 'ECLOSEDRUNTIME');
  }
}

/**
 * SharedArrayBuffer is not available: the page is not cross-origin isolated.
 * The message names the fix.
 */
export class NotIsolatedError extends GortError {
  constructor(message) {
    super(message, 'ENOTISOLATED');
  }
}

/**
 * A fatal error inside the runtime ('fatal error: ...' in Go's words) ended it.
 * Where this thread saw the runtime's thread fail, `cause` is that thread's
 * error, whose stack names the place in the module.
 */
export class FatalError extends GortError {
  constructor(message, options) {
    super(message, 'EFATAL', options);
  }
}

/**
 * Go's words for an abort of the module: what reaches JS as the abort's own
 * text ('stack overflow (goroutine 7)') or as the thread's error
 * ('Aborted(stack overflow (goroutine 7)). Build with -s ASSERTIONS=1 for
 * more info.'), both giving the same text. An abort from C carries no text:
 * then the runtime's own record of its fatal error (fatalMessage()) gives it.
 * @internal
 */
export function fatalText(what, fatalMessage) {
  const aborted = /^(?:RuntimeError: )?Aborted\((.*)\)(?:\. Build with .*)?$/s.exec(String(what));
  let words = aborted ? aborted[1] : String(what);
  if (words === '') {
    try { words = fatalMessage(); } catch { words = ''; }
  }
  return `fatal error: ${words || 'abort()'}`;
}
