// knobs.js — the runtime's settings changed while it runs: rt.setGCPercent
// (Go's debug.SetGCPercent: GOGC, or 'off'), rt.setMemoryLimit
// (debug.SetMemoryLimit: the soft limit in bytes, or Infinity for none),
// rt.setGCCheckmark and rt.setGCStopTheWorld (GODEBUG's gccheckmark and
// gcstoptheworld=1, from the next cycle on) and rt.setGOMAXPROCS
// (runtime.GOMAXPROCS). Each returns the previous setting in the form it
// takes. The C side is src/js/knobs.c; only setGOMAXPROCS waits on the
// runtime (it stops the world), and it does so asynchronously.

import { GortError } from './errors.js';
import { E } from './realm.js';

// What knobs.c returns for GOGC=off, and the limit it returns for none (INT64_MAX as a double).
const GOGC_OFF = -1;
const NO_LIMIT = 2 ** 63;

/**
 * GOGC from now on: a non-negative integer, or 'off' (no automatic
 * collection; a collection already running finishes). Returns the previous
 * value: a number, or 'off'.
 */
export function setGCPercent(realm, percent) {
  realm.check();
  let value;
  if (percent === 'off' || percent === false) value = GOGC_OFF;
  else if (Number.isInteger(percent) && percent >= 0 && percent <= 0x7fffffff) value = percent;
  else throw new RangeError(`gort: GOGC must be a non-negative integer or 'off', not ${percent}`);
  const old = realm.module._gort_js_set_gc_percent(value);
  return old < 0 ? 'off' : old;
}

/**
 * The soft memory limit from now on, in bytes: a non-negative number, or
 * Infinity for none. Without an argument, only reads it. Returns the
 * previous limit (Infinity for none).
 */
export function setMemoryLimit(realm, bytes) {
  realm.check();
  let value = -1;
  if (bytes !== undefined) {
    if (typeof bytes !== 'number' || Number.isNaN(bytes) || bytes < 0) {
      throw new RangeError(`gort: the memory limit must be a non-negative number of bytes or Infinity, not ${bytes}`);
    }
    value = Math.floor(bytes);
  }
  const old = realm.module._gort_js_set_memory_limit(value);
  return old >= NO_LIMIT ? Infinity : old;
}

function flag(name, on) {
  if (typeof on !== 'boolean') throw new TypeError(`gort: ${name} takes true or false, not ${on}`);
  return on ? 1 : 0;
}

/** gccheckmark from the next cycle on. Returns the previous setting. */
export function setGCCheckmark(realm, on) {
  realm.check();
  return realm.module._gort_js_set_gc_checkmark(flag('setGCCheckmark', on)) !== 0;
}

/** gcstoptheworld=1 from the next cycle on. Returns the previous setting. */
export function setGCStopTheWorld(realm, on) {
  realm.check();
  return realm.module._gort_js_set_gc_stop_the_world(flag('setGCStopTheWorld', on)) !== 0;
}

/** GOMAXPROCS now, and the most it can be (the procs the runtime started with). */
export function gomaxprocs(realm) {
  realm.check();
  return { now: realm.module._gort_js_gomaxprocs(), limit: realm.module._gort_js_gomaxprocs_limit() };
}

/**
 * GOMAXPROCS from now on: an integer from 1, cut to the procs the runtime
 * started with; 0 only reads it. Resolves to the previous setting once the
 * change is made (a goroutine of the runtime stops the world for it).
 */
export async function setGOMAXPROCS(rt, n) {
  const realm = rt.realm;
  realm.check();
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`gort: GOMAXPROCS must be a non-negative integer, not ${n}`);
  if (n === 0) return realm.module._gort_js_gomaxprocs();
  const done = rt.chan({ codec: 'i32' });
  try {
    const err = realm.module._gort_js_set_gomaxprocs(n, done.h);
    if (err !== E.OK) {
      const code = err === E.NOMEM ? 'ENOMEM' : err === E.STATE ? 'ESTATE' : 'EINVAL';
      throw new GortError(`gort: GOMAXPROCS: ${realm.cString(realm.module._gort_js_strerror(err))}`, code);
    }
    return (await done.recv()).value;
  } finally {
    done[Symbol.dispose]();
  }
}
