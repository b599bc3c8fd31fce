/*
 * knobs.c — the collector's settings JS changes while the runtime runs
 * (rt.setGCPercent, rt.setMemoryLimit in knobs.js): GOGC and the soft memory
 * limit, as Go's debug.SetGCPercent and debug.SetMemoryLimit.
 *
 * Invariants:
 *  - callable from the browser's main thread: both settings are atomics and
 *    the pacer's recomputation (gc_controller_commit) takes no lock, so a
 *    call never waits;
 *  - each returns the previous setting, so JS can say what changed.
 */
#include <emscripten/emscripten.h>
#include <stdint.h>

#include "gort/gort.h"

/* GOGC: percent >= 0, or -1 for off. Returns the previous value (-1 for off). */
EMSCRIPTEN_KEEPALIVE int gort_js_set_gc_percent(int percent)
{
    return gort_set_gc_percent(percent < 0 ? -1 : percent);
}

/*
 * The soft memory limit in bytes; a double because JS numbers are, and a
 * limit of 2^53 bytes or more (Infinity included) means none (INT64_MAX).
 * A negative limit only reads it. Returns the previous limit, INT64_MAX as
 * the same double JS turns back into "none".
 */
EMSCRIPTEN_KEEPALIVE double gort_js_set_memory_limit(double limit)
{
    static const double NO_LIMIT_FROM = 9007199254740992.0; /* 2^53 */
    int64_t bytes = limit < 0 ? -1 : limit >= NO_LIMIT_FROM ? INT64_MAX : (int64_t)limit;
    return (double)gort_set_memory_limit(bytes);
}
