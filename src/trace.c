/*
 * trace.c — the event rings (gort/trace.h): per-P single-writer rings of
 * fixed-size records in memory readers share, which overwrite their oldest
 * records and never wait for a reader, and the reader's side of their
 * protocol for C callers.
 *
 * Invariants:
 *  - a ring has one writer at a time (observe.h says who); its head counts
 *    the records ever written and is stored (release) only after the record
 *    it publishes; a writer makes the previous head visible (release fence)
 *    before it overwrites the slot of the record `capacity` back, so a
 *    reader that copied a slot the writer was overwriting sees a head that
 *    condemns it;
 *  - while a C trace runs (tracechrome.c), a ring's writer hands it each
 *    half ring it completes (trace_spill), so that trace loses nothing
 *    whatever its reader's delay;
 *  - rings are made once per lane, never freed nor moved: a reader may hold
 *    their addresses for the life of the process;
 *  - lane_state[i] is touched only by ring i's writer;
 *  - goroutine events are written only while goroutine_readers is not 0;
 *    the runtime looks at that word with one relaxed load at each hook
 *    (observe.h), so a reader that turns them on sees them from a moment
 *    shortly after, and one that turns them off may see a few more.
 */
#include <stdatomic.h>
#include <string.h>

#include "gort/trace.h"
#include "observe.h"
#include "prim/prim.h"
#include "mgc.h"
#include "runtime2.h"

_Static_assert(sizeof(gort_trace_event) == 24, "an event is 24 bytes: the JS reader's stride");
_Static_assert((GORT_TRACE_RING_EVENTS & (GORT_TRACE_RING_EVENTS - 1)) == 0,
               "ring indexes wrap with a mask");

/* The public reasons are the runtime's own (runtime2.h), value for value. */
#define SAME_REASON(pub, own) ((int)GORT_WAIT_##pub == (int)WAIT_REASON_##own)
_Static_assert(SAME_REASON(CHAN_SEND, CHAN_SEND) &&
                   SAME_REASON(CHAN_RECEIVE, CHAN_RECEIVE) &&
                   SAME_REASON(SELECT, SELECT) &&
                   SAME_REASON(SELECT_NO_CASES, SELECT_NO_CASES) &&
                   SAME_REASON(SLEEP, SLEEP) &&
                   SAME_REASON(SYNC_MUTEX_LOCK, SYNC_MUTEX_LOCK) &&
                   SAME_REASON(SYNC_RWMUTEX_LOCK, SYNC_RWMUTEX_LOCK) &&
                   SAME_REASON(SYNC_RWMUTEX_RLOCK, SYNC_RWMUTEX_RLOCK) &&
                   SAME_REASON(SEMACQUIRE, SEMACQUIRE) &&
                   SAME_REASON(SYNC_WAITGROUP, SYNC_WAITGROUP) &&
                   SAME_REASON(GC, GC) &&
                   SAME_REASON(STOPPED, STOPPED) &&
                   SAME_REASON(FINALIZER, FINALIZER_WAIT),
               "gort_wait_reason follows wait_reason");
#undef SAME_REASON

/* Natively relaxed atomics (visible as such to ThreadSanitizer, plain moves
 * on x86); plain stores on wasm, where an atomic store is an exchange. */
#ifdef __wasm__
#define RING_STORE(field, v) ((field) = (v))
#else
#define RING_STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#endif
#define RING_LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

gort_trace_header trace_header = {.ring_events = GORT_TRACE_RING_EVENTS};
static mutex rings_lock = MUTEX_INIT;

/* What each lane is doing and since when, for the idle-time metric. */
static struct {
    uint8_t state;
    int64_t since;
} lane_state[GORT_TRACE_RINGS];

static _Thread_local bool on_collector_thread;

/* Stop-the-world times (scheduler lock held). */
static int64_t stw_started;
static int64_t stw_stopped_at;

const gort_trace_header *gort_trace_rings(void) { return &trace_header; }

int64_t gort_trace_now(void) { return prim_nanotime() - trace_header.epoch; }

static void make_ring(int lane)
{
    if (trace_header.rings[lane] != NULL)
        return;
    gort_trace_ring *r = prim_sys_alloc(sizeof *r);
    if (r == NULL)
        gort_throw("runtime: out of memory for trace rings");
    lane_state[lane].state = GORT_TRACE_IDLE;
    lane_state[lane].since = prim_nanotime();
    __atomic_store_n(&trace_header.rings[lane], r, __ATOMIC_RELEASE);
}

void trace_procs(int nprocs)
{
    lock(&rings_lock);
    if (trace_header.epoch == 0)
        trace_header.epoch = prim_nanotime();
    for (int i = 0; i < nprocs && i < GORT_TRACE_COLLECTOR; i++)
        make_ring(i);
    make_ring(GORT_TRACE_COLLECTOR);
    __atomic_store_n(&trace_header.nprocs, (uint32_t)nprocs, __ATOMIC_RELEASE);
    unlock(&rings_lock);
}

int gort_trace_goroutines(int on)
{
    if (on) {
        __atomic_fetch_add(&trace_header.goroutine_readers, 1, __ATOMIC_RELAXED);
        return GORT_OK;
    }
    uint32_t n = __atomic_load_n(&trace_header.goroutine_readers, __ATOMIC_RELAXED);
    do {
        if (n == 0)
            return GORT_ESTATE;
    } while (!__atomic_compare_exchange_n(&trace_header.goroutine_readers, &n, n - 1, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return GORT_OK;
}

void trace_go_leave(int lane, uint64_t goid, uint32_t status, uint8_t waitreason)
{
    if (status == G_DEAD)
        trace_event(lane, GORT_EV_GO_END, goid);
    else if (waitreason == WAIT_REASON_ZERO)
        trace_event(lane, GORT_EV_GO_STOP, goid);
    else
        trace_event(lane, GORT_EV_GO_BLOCK, goid << 8 | waitreason);
}

void trace_collector_thread(void) { on_collector_thread = true; }

int trace_lane_self(void)
{
    if (on_collector_thread)
        return GORT_TRACE_COLLECTOR;
    m *mp = getm();
    return mp != NULL && mp->p != NULL ? mp->p->id : -1;
}

#ifdef GORT_DEBUG
/* Debug builds check the one-writer rule: a second writer would overwrite
 * a record unseen by any reader. */
static atomic_int ring_writing[GORT_TRACE_RINGS];

static void ring_enter(int lane)
{
    if (atomic_exchange_explicit(&ring_writing[lane], 1, memory_order_acquire) != 0)
        gort_throw("runtime: two writers at once on a trace ring");
}

static void ring_leave(int lane) { atomic_store_explicit(&ring_writing[lane], 0, memory_order_release); }
#else
static inline void ring_enter(int lane) { (void)lane; }
static inline void ring_leave(int lane) { (void)lane; }
#endif

void trace_event_at(int lane, uint16_t kind, int64_t time, uint64_t arg)
{
    if (lane < 0)
        return;
    gort_trace_ring *r = trace_header.rings[lane];
    if (r == NULL)
        return;
    ring_enter(lane);
    uint32_t h = RING_LOAD(r->head);
    atomic_thread_fence(memory_order_release);
    gort_trace_event *ev = &r->events[h & (GORT_TRACE_RING_EVENTS - 1)];
    RING_STORE(ev->time, (uint64_t)(time - trace_header.epoch));
    RING_STORE(ev->kind, kind);
    RING_STORE(ev->lane, (uint16_t)lane);
    RING_STORE(ev->arg, arg);
    __atomic_store_n(&r->head, h + 1, __ATOMIC_RELEASE);
    if (__builtin_expect(((h + 1) & (TRACE_SPILL_EVENTS - 1)) == 0, 0))
        trace_spill(lane, r, h + 1);
    ring_leave(lane);
}

void trace_event(int lane, uint16_t kind, uint64_t arg)
{
    if (lane >= 0)
        trace_event_at(lane, kind, prim_nanotime(), arg);
}

void trace_state(int lane, enum gort_trace_state state, int64_t time)
{
    if (lane < 0 || trace_header.rings[lane] == NULL)
        return;
    /* The collector's loop says idle at each turn; a P's lane may not skip
     * a repeat (a P stopped in place goes on without an event). */
    if (lane == GORT_TRACE_COLLECTOR && lane_state[lane].state == state)
        return;
    if (time <= 0)
        time = prim_nanotime();
    if (lane != GORT_TRACE_COLLECTOR && lane_state[lane].state == GORT_TRACE_IDLE && state != GORT_TRACE_IDLE)
        metrics_add_idle(time - lane_state[lane].since);
    if (lane_state[lane].state != state) {
        lane_state[lane].state = (uint8_t)state;
        lane_state[lane].since = time;
    }
    trace_event_at(lane, GORT_EV_STATE, time, state);
}

void trace_stw_begin(int lane, int64_t started, int nprocs)
{
    stw_started = started;
    stw_stopped_at = 0;
    trace_event_at(lane, GORT_EV_STW_BEGIN, started, (uint64_t)nprocs);
}

void trace_stw_stopped(int lane)
{
    stw_stopped_at = prim_nanotime();
    trace_event_at(lane, GORT_EV_STW_STOPPED, stw_stopped_at, (uint64_t)(stw_stopped_at - stw_started));
}

void trace_stw_end(int lane, bool gc)
{
    int64_t now = prim_nanotime();
    int64_t stopped = stw_stopped_at != 0 ? stw_stopped_at : now;
    trace_event_at(lane, GORT_EV_STW_END, now, (uint64_t)(now - stw_started));
    metrics_record_pause(stopped - stw_started, now - stw_started, gc);
}

int trace_sweep_begin(void)
{
    if (atomic_load_explicit(&sweep_remaining, memory_order_relaxed) == 0)
        return -1;
    int lane = trace_lane_self();
    if (lane < 0 || lane == GORT_TRACE_COLLECTOR)
        return -1;
    trace_state(lane, GORT_TRACE_SWEEP, 0);
    return lane;
}

void trace_sweep_end(int lane)
{
    if (lane < 0)
        return;
    trace_state(lane, GORT_TRACE_RUNNING, 0);
}

/* ---- the reader ---- */

static void copy_event(gort_trace_event *to, const gort_trace_event *from)
{
    to->time = RING_LOAD(from->time);
    to->kind = RING_LOAD(from->kind);
    to->lane = RING_LOAD(from->lane);
    to->reserved = 0;
    to->arg = RING_LOAD(from->arg);
}

/* How many more times a read looks at a ring whose writer overtook its copy
 * (the records it may have overwritten dropped) before it goes on to the
 * next ring: a reader copies a ring far faster than a P fills one. */
#define RING_REREADS 2

/* One look at ring r of lane: copies its unread records, at most room of
 * them, to out and advances the cursor past them. Returns how many it kept;
 * *dropped gets the copied records the writer may have overtaken (counted
 * in *missed with those overwritten before the look). */
static uint32_t ring_read(const gort_trace_ring *r, int lane, gort_trace_cursor *cur, gort_trace_event *out,
                          size_t room, uint64_t *missed, uint32_t *dropped)
{
    const uint32_t cap = GORT_TRACE_RING_EVENTS;
    uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    if (!cur->started[lane]) {
        cur->started[lane] = 1;
        cur->next[lane] = head > cap ? head - cap : 0;
    }
    uint32_t next = cur->next[lane];
    uint32_t avail = head - next;
    if (avail > cap) {
        *missed += avail - cap;
        next = head - cap;
        avail = cap;
    }
    if (avail > room)
        avail = (uint32_t)room;
    for (uint32_t k = 0; k < avail; k++)
        copy_event(&out[k], &r->events[(next + k) & (cap - 1)]);
    atomic_thread_fence(memory_order_acquire);
    uint32_t head2 = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    /* Records at index <= head2 - cap may have been overwritten (or be in
     * the writer's hands) while we copied. */
    uint32_t bad = 0;
    while (bad < avail && (int32_t)(next + bad + cap - head2) <= 0)
        bad++;
    if (bad > 0) {
        memmove(out, out + bad, (avail - bad) * sizeof *out);
        *missed += bad;
    }
    cur->next[lane] = next + avail;
    *dropped = bad;
    return avail - bad;
}

size_t gort_trace_read(gort_trace_cursor *cur, gort_trace_event *out, size_t max, uint64_t *lost)
{
    size_t n = 0;
    uint64_t missed = 0;
    for (int lane = 0; lane < GORT_TRACE_RINGS && n < max; lane++) {
        const gort_trace_ring *r = __atomic_load_n(&trace_header.rings[lane], __ATOMIC_ACQUIRE);
        if (r == NULL)
            continue;
        /* Dropped records leave room that the ring's newer ones may take:
         * a read short of max has read every ring to its end. */
        uint32_t dropped = 1;
        for (int pass = 0; pass <= RING_REREADS && dropped > 0 && n < max; pass++)
            n += ring_read(r, lane, cur, out + n, max - n, &missed, &dropped);
    }
    if (lost != NULL)
        *lost = missed;
    return n;
}
