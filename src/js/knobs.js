// knobs.js — the collector's settings changed while the runtime runs:
// rt.setGCPercent (Go's debug.SetGCPercent: GOGC, or 'off') and
// rt.setMemoryLimit (debug.SetMemoryLimit: the soft limit in bytes, or
// Infinity for none). Each returns the previous setting in the form it
// takes. The C side is src/js/knobs.c; neither call waits on the runtime.

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
