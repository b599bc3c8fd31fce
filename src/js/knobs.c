/*
 * knobs.c — the runtime's settings JS changes while it runs (knobs.js): GOGC
 * and the soft memory limit (Go's debug.SetGCPercent, debug.SetMemoryLimit),
 * GODEBUG's gccheckmark and gcstoptheworld, and GOMAXPROCS
 * (runtime.GOMAXPROCS).
 *
 * Invariants:
 *  - callable from the browser's main thread, which may not block: the
 *    collector's settings are atomics and the pacer's recomputation
 *    (gc_controller_commit) takes no lock, so those calls never wait;
 *    GOMAXPROCS stops the world, so a goroutine of its own makes the change
 *    and sends the previous setting on a channel JS receives from;
 *  - each returns the previous setting, so JS can say what changed.
 */
#include <emscripten/emscripten.h>
#include <stdint.h>
#include <stdlib.h>

#include "gort/gort.h"
#include "bridge.h"
#include "mgc.h"

/* GOGC: percent >= 0, or -1 for off. Returns the previous value (-1 for off). */
EMSCRIPTEN_KEEPALIVE int gort_js_set_gc_percent(int percent)
{
    JS_CALL;
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
    JS_CALL;
    static const double NO_LIMIT_FROM = 9007199254740992.0; /* 2^53 */
    int64_t bytes = limit < 0 ? -1 : limit >= NO_LIMIT_FROM ? INT64_MAX : (int64_t)limit;
    return (double)gort_set_memory_limit(bytes);
}

/* gccheckmark and gcstoptheworld=1 from the next cycle on; each returns the previous setting (0 or 1). */
EMSCRIPTEN_KEEPALIVE int gort_js_set_gc_checkmark(int on) { JS_CALL; return gort_set_gc_checkmark(on != 0); }
EMSCRIPTEN_KEEPALIVE int gort_js_set_gc_stop_the_world(int on) { JS_CALL; return gort_set_gc_stop_the_world(on != 0); }

/* GOMAXPROCS now, and the most it can be (0, 0 when no runtime runs). */
EMSCRIPTEN_KEEPALIVE int gort_js_gomaxprocs(void) { return gort_gomaxprocs(); }
EMSCRIPTEN_KEEPALIVE int gort_js_gomaxprocs_limit(void) { return gort_gomaxprocs_limit(); }

typedef struct gomaxprocs_change {
    int n;
    gort_chan *done; /* an i32 channel: JS holds its handle until it receives */
} gomaxprocs_change;

static void change_gomaxprocs(void *arg)
{
    gomaxprocs_change change = *(gomaxprocs_change *)arg;
    free(arg);
    int32_t previous = gort_set_gomaxprocs(change.n);
    gort_chan_send(change.done, &previous);
}

/*
 * Sets GOMAXPROCS to n (cut to the limit) on a goroutine of its own, which
 * then sends the previous setting on done, an i32 channel's handle.
 * GORT_OK, GORT_EINVAL (done is no such channel), GORT_ENOMEM or
 * GORT_ESTATE (no runtime).
 */
EMSCRIPTEN_KEEPALIVE int gort_js_set_gomaxprocs(int n, uint32_t done)
{
    JS_CALL;
    gort_chan *c = handles_get_kind(done, JS_HANDLE_CHAN);
    if (c == NULL || gort_chan_elemsize(c) != sizeof(int32_t))
        return GORT_EINVAL;
    gomaxprocs_change *change = malloc(sizeof *change);
    if (change == NULL)
        return GORT_ENOMEM;
    *change = (gomaxprocs_change){n, c};
    int err = gort_go(change_gomaxprocs, change);
    if (err != GORT_OK)
        free(change);
    return err;
}
