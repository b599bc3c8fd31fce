/*
 * mgc.c — the collection cycle (Go's mgc.go). A dedicated collector thread
 * runs each cycle through the seed's four phases:
 *
 *   1. sweep termination (world stopped): the previous sweep is finished;
 *      the write barrier and black allocation go on;
 *   2. mark (concurrent): goroutine stacks are scanned, each while its
 *      goroutine is switched out (on wasm its locals are then in its Asyncify
 *      buffer); the collector thread scans the other roots and drains grey
 *      objects while goroutines run, allocate (black) and assist;
 *   3. mark termination (world stopped): the p's write-barrier buffers are
 *      flushed and what they lead to is drained; finalizers of unreachable
 *      objects are queued; the barrier goes off; every cache is flushed and
 *      sweepgen moves, making every span unswept;
 *   4. sweep (concurrent): the collector thread sweeps in the background
 *      while allocation sweeps lazily.
 *
 * The work of phases 1 and 3 runs on the thread of the last p to stop
 * (stop_the_world_run), which then goes on with its p, and a goroutine
 * stops at its safepoint without switching out: a pause costs the way to a
 * safepoint and the work, not thread wake-ups nor fiber switches. Stacks are
 * not scanned in the pause but at the start of the mark, each while its
 * goroutine is switched out (mgc.h).
 *
 * Invariants:
 *  - one cycle at a time, on the collector thread; gort_gc and the trigger
 *    only ask for one (gc.requested counts cycles asked for,
 *    gc.cycles_started those begun, gc.cycles_done those swept to the end);
 *  - while a cycle is asked for or running, the collector counts as an
 *    external waiter, so goroutines parked in gort_gc are not a deadlock;
 *  - stacks are scanned once per cycle, after the barrier went on, and never
 *    again: the hybrid barrier and black allocation make a rescan needless;
 *    the mark does not end before every stack is scanned;
 *  - when the runtime stops during a cycle, the cycle is abandoned: barrier
 *    off and every mark bit cleared, so the next runtime starts clean;
 *  - gccheckmark and gcstoptheworld may change at any time (Go's GODEBUG
 *    settings, here also live: gort_set_gc_checkmark,
 *    gort_set_gc_stop_the_world); a cycle reads each once as it begins and
 *    keeps to it to its end.
 *
 * With gcstoptheworld=1 a cycle runs phases 1 to 3 in a single pause, every
 * goroutine switched out: sweep termination, the stacks, the roots, the
 * whole mark, mark termination; only the sweep stays concurrent (Go's
 * gcstoptheworld=1).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort/error.h"
#include "gort/mstats.h"
#include "gort/proc.h"
#include "mgc.h"
#include "observe.h"
#include "prim/prim.h"

_Atomic uint32_t gcphase;
atomic_bool gc_test_hold_mark;
atomic_uint gc_test_held;
atomic_bool gcBlackenEnabled;
atomic_bool gc_abandon;

#define PAUSE_RING 256
/* While it waits for running goroutines to scan their stacks, the collector
 * drains this much grey work between looks. */
#define STACK_WAIT_DRAIN_BYTES ((int64_t)64 << 10)
/* The collector drains grey work in slices of this much scanning, and looks
 * between them whether the heap needs to grow ahead. */
#define MARK_SLICE_BYTES ((int64_t)1 << 20)

static struct {
    mutex lock;
    prim_thread thread;
    bool thread_running;
    atomic_bool running;   /* the runtime runs: the thread exists */
    atomic_bool shutdown;
    atomic_uint wake;      /* futex word of the collector thread */

    _Atomic uint32_t requested;
    _Atomic uint32_t cycles_started;
    _Atomic uint32_t cycles_done;
    bool forced;           /* the requested cycle comes from gort_gc */
    bool busy;             /* counted as an external waiter */
    sudog *waiters;        /* gort_gc callers, ticket = cycle they wait for */

    /* Debug settings (GODEBUG); the last two change live. */
    bool gctrace;
    atomic_bool checkmark;
    atomic_bool stoptheworld;

    /* Statistics. */
    int64_t start_time;
    _Atomic int nprocs;    /* of the runtime running or last run */
    _Atomic uint32_t numgc;
    _Atomic uint32_t numforced;
    _Atomic uint64_t pause_total_ns;
    uint64_t pause_ns[PAUSE_RING];
    _Atomic int64_t last_gc;
    _Atomic int64_t gc_cpu_ns;
    _Atomic uint64_t finalizers_queued;

    void (*hook)(const gort_gc_event *ev, void *arg);
    void *hook_arg;
    enum gort_gc_phase reported_phase;
    gort_gc_event event;
} gc = {.lock = MUTEX_INIT};

static mutex hook_lock = MUTEX_INIT;

enum gort_gc_phase gort_gc_phase(void)
{
    lock(&hook_lock);
    enum gort_gc_phase ph = gc.reported_phase;
    unlock(&hook_lock);
    return ph;
}

void gort_set_gc_event_hook(void (*fn)(const gort_gc_event *event, void *arg), void *arg)
{
    lock(&hook_lock);
    gc.hook = fn;
    gc.hook_arg = arg;
    unlock(&hook_lock);
}

/* The collector entered phase ph at `time`: now, or earlier for the phases
 * of a stop-the-world cycle, told once it is over. */
static void enter_phase_at(enum gort_gc_phase ph, int64_t time)
{
    lock(&hook_lock);
    gc.reported_phase = ph;
    gc.event.phase = ph;
    gc.event.time_ns = time;
    trace_event_at(GORT_TRACE_COLLECTOR, GORT_EV_GC_PHASE, gc.event.time_ns,
                   (uint64_t)ph | (uint64_t)gc.event.cycle << 8);
    if (gc.hook != NULL)
        gc.hook(&gc.event, gc.hook_arg);
    unlock(&hook_lock);
}

static void enter_phase(enum gort_gc_phase ph) { enter_phase_at(ph, prim_nanotime()); }

static void wake_collector(void)
{
    atomic_store(&gc.wake, 1);
    prim_futex_wake(&gc.wake, 1);
}

/* Asks for cycle `target`; gc.lock held. */
static void request_locked(uint32_t target)
{
    if (atomic_load(&gc.requested) < target)
        atomic_store(&gc.requested, target);
    if (!gc.busy) {
        gc.busy = true;
        sched_external_waiters_add(1);
    }
}

void gc_start_auto(void)
{
    if (!atomic_load_explicit(&gc.running, memory_order_relaxed) ||
        atomic_load_explicit(&gc.requested, memory_order_relaxed) >
            atomic_load_explicit(&gc.cycles_started, memory_order_relaxed))
        return;
    lock(&gc.lock);
    if (atomic_load(&gc.running))
        request_locked(atomic_load(&gc.cycles_started) + 1);
    unlock(&gc.lock);
    wake_collector();
}

void gc_wake_for_heap(void)
{
    if (atomic_load_explicit(&gc.running, memory_order_relaxed))
        wake_collector();
}

static bool unlock_gc(g *gp, void *arg)
{
    (void)gp;
    (void)arg;
    unlock(&gc.lock);
    return true;
}

/* Asks for a full cycle after the current one and waits for its sweep. */
__attribute__((noinline)) static int gc_wait_full_cycle(void)
{
    sudog s = {0};
    sudog_prepare(&s);
    lock(&gc.lock);
    if (!atomic_load(&gc.running)) {
        unlock(&gc.lock);
        return GORT_ESTATE;
    }
    /* A cycle already marking may have missed what the caller dropped: wait
     * for the one after it (Go's runtime.GC does the same). */
    uint32_t target = atomic_load(&gc.cycles_started) + 1;
    request_locked(target);
    gc.forced = true;
    s.ticket = target;
    s.next = gc.waiters;
    gc.waiters = &s;
    wake_collector();
    sudog_wait(&s, unlock_gc, NULL, WAIT_REASON_GC);
    return atomic_load(&gc.running) || atomic_load(&gc.cycles_done) >= target ? GORT_OK
                                                                              : GORT_ESTATE;
}

int gort_gc(void)
{
    if (!atomic_load(&gc.running))
        return GORT_ESTATE;
    /* What the caller dropped must not survive in a stale word of the
     * frames the wait parks in: they are laid over cleared stack. */
    sched_scrub_stack();
    return gc_wait_full_cycle();
}

/* Wakes the gort_gc callers whose cycle is done (all of them when the
 * runtime stops); gc.lock held. */
static void wake_waiters_locked(bool all)
{
    uint32_t done = atomic_load(&gc.cycles_done);
    sudog **link = &gc.waiters;
    while (*link != NULL) {
        sudog *s = *link;
        if (all || s->ticket <= done) {
            *link = s->next;
            s->next = NULL;
            sudog_wake(s);
        } else {
            link = &s->next;
        }
    }
}

/* ---- the cycle ---- */

static void flush_caches(p *pp, void *arg)
{
    (void)arg;
    if (pp->mcache != NULL) {
        mcache_release_all(pp->mcache);
        pp->mcache->gc_assist_debt = 0;
    }
}

static void flush_wbbuf(p *pp, void *arg) { wbbuf_flush(pp, arg); }

static void reset_cache_counts(p *pp, void *arg)
{
    (void)arg;
    if (pp->mcache != NULL) {
        pp->mcache->gc_black_bytes = 0;
        pp->mcache->gc_assist_debt = 0;
    }
}

static void flush_black_bytes(p *pp, void *arg)
{
    (void)arg;
    if (pp->mcache != NULL)
        gc_flush_black_bytes(pp->mcache);
}

static void set_stacks_pending(bool on) { safepoint_request(SAFEPOINT_STACK_SCAN, on); }

/* Throws away grey work (an abandoned cycle). */
static void drop_work(gcwork *w)
{
    while (gcw_tryget(w) != 0)
        ;
    gcw_dispose(w);
}

static void abandon_cycle(gcwork *w)
{
    set_stacks_pending(false);
    atomic_store(&gcBlackenEnabled, false);
    __atomic_store_n(&gort_writeBarrier.enabled, 0, __ATOMIC_SEQ_CST);
    atomic_store(&gcphase, GORT_GC_OFF);
    drop_work(w);
    /* Assists may still hold a buffer for a moment. */
    while (atomic_load(&gc_assists_running) > 0)
        prim_osyield();
    drop_work(w);
    gc_clear_all_marks();
}

/* Go's PauseNs: one entry per cycle, its pauses summed. */
static void record_pause(int64_t ns)
{
    uint32_t n = atomic_load(&gc.numgc);
    gc.pause_ns[n % PAUSE_RING] = (uint64_t)ns;
    atomic_fetch_add(&gc.pause_total_ns, (uint64_t)ns);
    atomic_fetch_add(&gc.numgc, 1);
}

static double ms(int64_t ns) { return (double)ns / 1e6; }

static mutex trace_lock = MUTEX_INIT;
static char last_trace[256];

size_t gc_last_trace(char *buf, size_t cap)
{
    lock(&trace_lock);
    size_t n = strlen(last_trace);
    if (cap > 0) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(buf, last_trace, k);
        buf[k] = 0;
    }
    unlock(&trace_lock);
    return n;
}

/* Formats the cycle's gctrace line (kept for gc_last_trace) and prints it
 * with gctrace=1. */
static void gctrace_line(uint32_t cycle, bool forced, int64_t t0, int64_t stw1, int64_t mark,
                          int64_t stw2, int64_t assist_ns, uint64_t live_start,
                          uint64_t live_end, uint64_t marked, uint64_t goal)
{
    int nprocs = gort_gomaxprocs();
    int64_t now = prim_nanotime();
    int64_t elapsed = now - gc.start_time;
    int pct = elapsed > 0 && nprocs > 0
                  ? (int)(100.0 * (double)atomic_load(&gc.gc_cpu_ns) / ((double)elapsed * nprocs))
                  : 0;
    const double MB = 1024.0 * 1024.0;
    lock(&trace_lock);
    snprintf(last_trace, sizeof last_trace,
            "gc %" PRIu32 " @%.3fs %d%%: %.3f+%.3f+%.3f ms clock, %.3f+%.3f/%.3f/0+%.3f ms cpu, "
            "%.0f->%.0f->%.0f MB, %.0f MB goal, %d P%s",
            cycle, (double)(t0 - gc.start_time) / 1e9, pct, ms(stw1), ms(mark), ms(stw2),
            ms(stw1 * nprocs), ms(assist_ns), ms(mark), ms(stw2 * nprocs), live_start / MB,
            live_end / MB, marked / MB, goal / MB, nprocs, forced ? " (forced)" : "");
    if (gc.gctrace)
        fprintf(stderr, "%s\n", last_trace);
    unlock(&trace_lock);
}

static _Atomic int64_t assist_ns_total;

/* The last cycle's sweep is over: its gort_gc callers may go. */
static void cycle_swept(uint32_t cycle)
{
    lock(&gc.lock);
    if (atomic_load(&gc.cycles_done) < cycle) {
        atomic_store(&gc.cycles_done, cycle);
        enter_phase(GORT_GC_OFF);
        wake_waiters_locked(false);
        unlock(&gc.lock);
        return;
    }
    unlock(&gc.lock);
}

/* What the two stop-the-world phases of a cycle share with the collector
 * thread (they may run on another thread: stop_the_world_run). */
typedef struct cycle {
    gcwork w;
    uint32_t number;
    bool forced;
    bool checkmark;          /* gccheckmark as the cycle began */
    bool stoptheworld;       /* gcstoptheworld as the cycle began */
    int64_t t0, t1, t2, t4;  /* stop 1 asked, mark began, stop 2 asked, end */
    uint64_t live_start, live_end, marked, queued;
} cycle;

/* Sweep termination, with the world stopped. */
static void sweep_termination(void *arg)
{
    cycle *c = arg;
    lock(&extalloc.lock);
    while (sweepone())
        ;
    c->live_start = atomic_load(&gcController.heap_live);
    gc_mark_reset();
    sched_each_p(reset_cache_counts, NULL);
    if (extalloc.cache != NULL)
        extalloc.cache->gc_black_bytes = 0;
    atomic_store(&gcController.scan_work_done, 0);
    uint64_t expected = atomic_load(&gcController.heap_marked);
    atomic_store(&gcController.scan_work_expected, expected > 0 ? expected : c->live_start);
    atomic_store(&assist_ns_total, 0);
    atomic_store(&gcphase, GORT_GC_MARK);
    __atomic_store_n(&gort_writeBarrier.enabled, 1, __ATOMIC_SEQ_CST);
    atomic_store(&gcBlackenEnabled, true);
    /* After the barrier: a goroutine created with the new epoch, so never
     * scanned, has its argument shaded. */
    atomic_fetch_add(&gc_stack_epoch, 1);
    set_stacks_pending(true);
    gc_mark_tiny_blocks(&c->w);
    unlock(&extalloc.lock);
    c->t1 = prim_nanotime();
}

/* Mark termination, with the world stopped. */
static void mark_termination(void *arg)
{
    cycle *c = arg;
    lock(&extalloc.lock);
    sched_each_p(flush_black_bytes, NULL);
    if (extalloc.cache != NULL)
        gc_flush_black_bytes(extalloc.cache);
    sched_each_p(flush_wbbuf, &c->w);
    gc_drain(&c->w, -1);
    c->queued = (uint64_t)fin_queue_unreachable(&c->w);
    gc_drain(&c->w, -1);
    gcw_dispose(&c->w);
    atomic_store(&gcBlackenEnabled, false);
    __atomic_store_n(&gort_writeBarrier.enabled, 0, __ATOMIC_SEQ_CST);
    if (c->checkmark)
        gc_checkmark();
    c->marked = gc_marked_bytes();
    gc_mark_publish_scan();
    c->live_end = atomic_load(&gcController.heap_live);
    sched_each_p(flush_caches, NULL);
    if (extalloc.cache != NULL)
        mcache_release_all(extalloc.cache);
    sweep_start_cycle();
    atomic_store(&gcController.heap_marked, c->marked);
    atomic_store(&gcController.heap_live, c->marked);
    gc_controller_end_cycle(c->live_end);
    gc_controller_commit();
    atomic_store(&gcphase, GORT_GC_OFF);
    c->t4 = prim_nanotime();
    int64_t stw1 = c->t1 - c->t0, stw2 = c->t4 - c->t2; /* from the stop request */
    /* Stopped throughout, the mark is part of the pause. */
    int64_t paused = c->stoptheworld ? c->t4 - c->t0 : stw1 + stw2;
    record_pause(paused);
    if (c->forced)
        atomic_fetch_add(&gc.numforced, 1);
    atomic_store(&gc.last_gc, c->t4);
    atomic_fetch_add(&gc.finalizers_queued, c->queued);
    int64_t assist = atomic_load(&assist_ns_total);
    int64_t concurrent_mark = c->stoptheworld ? 0 : c->t2 - c->t1;
    atomic_fetch_add(&gc.gc_cpu_ns, paused * gort_gomaxprocs() + concurrent_mark + assist);
    unlock(&extalloc.lock);
}

/* A whole cycle but its sweep, with the world stopped and every goroutine
 * switched out (gcstoptheworld=1). */
static void stop_the_world_cycle(void *arg)
{
    cycle *c = arg;
    sweep_termination(c);
    if (gc_scan_stacks(&c->w) > 0)
        gort_throw("runtime: a goroutine runs while the world is stopped");
    set_stacks_pending(false);
    gc_mark_roots(&c->w);
    gc_drain(&c->w, -1);
    c->t2 = prim_nanotime();
    mark_termination(c);
}

/* The allocation whose assist debt, at the start of a mark, gives the cycle's
 * assist ratio for its summary event. */
#define ASSIST_RATIO_PROBE_BYTES ((uint64_t)1 << 20)

static void trace_cycle_summary(const cycle *c, double assist_ratio)
{
    const int lane = GORT_TRACE_COLLECTOR;
    uint64_t ratio_bits;
    memcpy(&ratio_bits, &assist_ratio, sizeof ratio_bits);
    trace_event(lane, GORT_EV_CYCLE_LIVE_START, c->live_start);
    trace_event(lane, GORT_EV_CYCLE_LIVE_END, c->live_end);
    trace_event(lane, GORT_EV_CYCLE_MARKED, c->marked);
    trace_event(lane, GORT_EV_CYCLE_GOAL, atomic_load(&gcController.goal));
    trace_event(lane, GORT_EV_CYCLE_TRIGGER, atomic_load(&gcController.trigger));
    trace_event(lane, GORT_EV_CYCLE_ASSIST_RATIO, ratio_bits);
    trace_event(lane, GORT_EV_CYCLE_ASSIST_NS, (uint64_t)atomic_load(&assist_ns_total));
    trace_event(lane, GORT_EV_CYCLE_MARK_NS, (uint64_t)(c->t2 - c->t1));
    trace_event(lane, GORT_EV_CYCLE_END, c->number);
}

/* The mark is over and the sweep begun: the cycle's summary. */
static void cycle_marked(const cycle *c, double assist_ratio)
{
    trace_cycle_summary(c, assist_ratio);
    gctrace_line(c->number, c->forced, c->t0, c->t1 - c->t0, c->t2 - c->t1, c->t4 - c->t2,
                 atomic_load(&assist_ns_total), c->live_start, c->live_end, c->marked,
                 gc.event.heap_goal);
    fin_wake();
}

/* A gcstoptheworld cycle: one pause from sweep termination to the sweep.
 * The phases between are told afterwards, at the times they began. */
static bool stop_the_world_gc_cycle(cycle *c)
{
    const double assist_ratio = 0; /* no goroutine runs to assist */
    if (!stop_the_world_run(WAIT_REASON_GC, true, stop_the_world_cycle, c, &c->t0))
        return false;
    gc.event.heap_live_start = c->live_start;
    gc.event.stw_sweep_term_ns = c->t1 - c->t0;
    enter_phase_at(GORT_GC_MARK, c->t1);
    enter_phase_at(GORT_GC_MARK_TERMINATION, c->t2);
    gc.event.heap_marked = c->marked;
    gc.event.heap_goal = atomic_load(&gcController.goal);
    gc.event.stw_mark_term_ns = c->t4 - c->t2;
    gc.event.mark_ns = c->t2 - c->t1;
    enter_phase_at(GORT_GC_SWEEP, c->t4);
    cycle_marked(c, assist_ratio);
    return true;
}

/* Runs one cycle; false when it was abandoned. */
static bool gc_cycle(void)
{
    cycle c = {0};
    lock(&gc.lock);
    c.number = atomic_load(&gc.cycles_started) + 1;
    atomic_store(&gc.cycles_started, c.number);
    c.forced = gc.forced;
    gc.forced = false;
    unlock(&gc.lock);
    c.checkmark = atomic_load(&gc.checkmark);
    c.stoptheworld = atomic_load(&gc.stoptheworld);

    /* Finish the last cycle's sweep first (Go's finishsweep_m). */
    if (atomic_load_explicit(&sweep_remaining, memory_order_relaxed) > 0)
        trace_state(GORT_TRACE_COLLECTOR, GORT_TRACE_SWEEP, 0);
    while (sweepone())
        if (atomic_load(&gc_abandon))
            return false;
    trace_state(GORT_TRACE_COLLECTOR, GORT_TRACE_IDLE, 0);
    cycle_swept(c.number - 1); /* under steady pressure there is no idle moment */

    memset(&gc.event, 0, sizeof gc.event);
    gc.event.cycle = c.number;
    enter_phase(GORT_GC_SWEEP_TERMINATION);
    if (c.stoptheworld)
        return stop_the_world_gc_cycle(&c);
    if (!stop_the_world_run(WAIT_REASON_GC, false, sweep_termination, &c, &c.t0))
        return false;
    gc.event.heap_live_start = c.live_start;
    gc.event.stw_sweep_term_ns = c.t1 - c.t0;
    enter_phase(GORT_GC_MARK);
    trace_state(GORT_TRACE_COLLECTOR, GORT_TRACE_MARK, 0);
    /* Scan work owed per byte allocated, as the cycle begins. */
    double assist_ratio = (double)gc_assist_work_for(ASSIST_RATIO_PROBE_BYTES) / ASSIST_RATIO_PROBE_BYTES;
    /* The stacks first, while other work waits: a goroutine that runs
     * scans its own at its next safepoint. */
    bool holding = atomic_load(&gc_test_hold_mark);
    while (gc_scan_stacks(&c.w) > 0) {
        if (atomic_load(&gc_abandon)) {
            abandon_cycle(&c.w);
            return false;
        }
        if (!holding)
            gc_drain(&c.w, STACK_WAIT_DRAIN_BYTES);
        prim_osyield();
    }
    set_stacks_pending(false);
    if (holding) {
        /* A test drives the mutator while marking has only the stacks. */
        atomic_store(&gc_test_held, 1);
        prim_futex_wake(&gc_test_held, 1);
        while (atomic_load(&gc_test_hold_mark) && !atomic_load(&gc_abandon))
            prim_futex_wait(&gc_test_held, 1, 1000000);
        atomic_store(&gc_test_held, 0);
    }

    gc_mark_roots(&c.w);
    for (;;) {
        /* In slices, to grow the heap ahead between them. */
        int64_t scanned = gc_drain(&c.w, MARK_SLICE_BYTES);
        mheap_grow_ahead();
        if (scanned >= MARK_SLICE_BYTES && !atomic_load(&gc_abandon))
            continue;
        if (atomic_load(&gc_abandon)) {
            abandon_cycle(&c.w);
            return false;
        }
        if (gcw_pool_empty() && atomic_load(&gc_assists_running) == 0)
            break;
        prim_osyield();
    }
    gcw_dispose(&c.w);

    trace_state(GORT_TRACE_COLLECTOR, GORT_TRACE_IDLE, 0);
    enter_phase(GORT_GC_MARK_TERMINATION);
    /* Checkmark scans every stack in this pause. */
    if (!stop_the_world_run(WAIT_REASON_GC, c.checkmark, mark_termination, &c, &c.t2)) {
        abandon_cycle(&c.w);
        return false;
    }
    gc.event.heap_marked = c.marked;
    gc.event.heap_goal = atomic_load(&gcController.goal);
    gc.event.stw_mark_term_ns = c.t4 - c.t2;
    gc.event.mark_ns = c.t2 - c.t1;
    enter_phase(GORT_GC_SWEEP);
    metrics_add_dedicated(c.t2 - c.t1);
    cycle_marked(&c, assist_ratio);
    return true;
}

void gc_assist_time(int64_t ns)
{
    atomic_fetch_add_explicit(&assist_ns_total, ns, memory_order_relaxed);
    metrics_add_assist(ns);
}

/* Nothing asked for and nothing to sweep: stop counting as a waiter.
 * Returns false when a request came in meanwhile. */
static bool go_idle(void)
{
    bool dropped = false;
    lock(&gc.lock);
    if (atomic_load(&gc.requested) > atomic_load(&gc.cycles_started)) {
        unlock(&gc.lock);
        return false;
    }
    if (gc.busy) {
        gc.busy = false;
        dropped = true;
    }
    unlock(&gc.lock);
    if (dropped) {
        sched_external_waiters_add(-1);
        sched_check_dead();
    }
    return true;
}

static void *gc_thread_main(void *arg)
{
    (void)arg;
    prim_thread_init();
    trace_collector_thread();
    for (;;) {
        if (atomic_load(&gc.shutdown))
            break;
        mheap_grow_ahead();
        if (atomic_load(&gc.requested) > atomic_load(&gc.cycles_started)) {
            if (!gc_cycle())
                break;
            continue;
        }
        if (atomic_load_explicit(&sweep_remaining, memory_order_relaxed) > 0)
            trace_state(GORT_TRACE_COLLECTOR, GORT_TRACE_SWEEP, 0);
        while (atomic_load(&gc.requested) <= atomic_load(&gc.cycles_started) &&
               !atomic_load(&gc.shutdown) && sweepone())
            mheap_grow_ahead();
        trace_state(GORT_TRACE_COLLECTOR, GORT_TRACE_IDLE, 0);
        if (atomic_load(&gc.requested) > atomic_load(&gc.cycles_started) ||
            atomic_load(&gc.shutdown))
            continue;
        cycle_swept(atomic_load(&gc.cycles_started));
        if (!go_idle())
            continue;
        while (atomic_exchange(&gc.wake, 0) == 0 && !atomic_load(&gc.shutdown) &&
               atomic_load(&gc.requested) <= atomic_load(&gc.cycles_started))
            prim_futex_wait(&gc.wake, 0, -1);
    }
    prim_thread_exit();
}

/* ---- settings ---- */

bool gort_set_gc_checkmark(bool on) { return atomic_exchange(&gc.checkmark, on); }

bool gort_set_gc_stop_the_world(bool on) { return atomic_exchange(&gc.stoptheworld, on); }

/* Reads "name=value" from a GODEBUG-style list. */
static bool godebug_flag(const char *list, const char *name)
{
    if (list == NULL)
        return false;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        if (strncmp(p, name, n) == 0 && p[n] == '=')
            return atoi(p + n + 1) != 0;
        const char *comma = strchr(p, ',');
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return false;
}

void gc_configure(const char *godebug)
{
    const char *list = godebug != NULL ? godebug : getenv("GODEBUG");
    gc.gctrace = godebug_flag(list, "gctrace");
    atomic_store(&gc.checkmark, godebug_flag(list, "gccheckmark"));
    atomic_store(&gc.stoptheworld, godebug_flag(list, "gcstoptheworld"));
}

void gc_runtime_start(void)
{
    lock(&gc.lock);
    atomic_store(&gc.shutdown, false);
    atomic_store(&gc_abandon, false);
    atomic_store(&gc.wake, 0);
    if (gc.start_time == 0)
        gc.start_time = prim_nanotime();
    /* Cycles asked for by a previous runtime that stopped are void. */
    atomic_store(&gc.requested, atomic_load(&gc.cycles_started));
    gc.busy = false;
    atomic_store(&gc.running, true);
    atomic_store(&gc.nprocs, gort_gomaxprocs());
    unlock(&gc.lock);
    gc_controller_commit();
    if (!prim_thread_start(&gc.thread, gc_thread_main, NULL))
        gort_throw("runtime: cannot start the collector thread");
    gc.thread_running = true;
}

void gc_runtime_stop(void)
{
    lock(&gc.lock);
    atomic_store(&gc.running, false);
    atomic_store(&gc.shutdown, true);
    atomic_store(&gc_abandon, true);
    unlock(&gc.lock);
    wake_collector();
    if (gc.thread_running) {
        prim_thread_join(&gc.thread);
        gc.thread_running = false;
    }
    lock(&gc.lock);
    if (gc.busy) {
        gc.busy = false;
        sched_external_waiters_add(-1);
    }
    atomic_store(&gc.requested, atomic_load(&gc.cycles_started));
    wake_waiters_locked(true);
    unlock(&gc.lock);
    if (atomic_load(&gcphase) != GORT_GC_OFF) {
        gcwork w = {0};
        abandon_cycle(&w);
    }
    lock(&hook_lock);
    gc.reported_phase = GORT_GC_OFF;
    unlock(&hook_lock);
    fin_runtime_stopped();
}

/* ---- statistics ---- */

void gc_read_stats(gort_memstats *st)
{
    st->num_gc = atomic_load(&gc.numgc);
    st->num_forced_gc = atomic_load(&gc.numforced);
    st->pause_total_ns = atomic_load(&gc.pause_total_ns);
    lock(&extalloc.lock);
    memcpy(st->pause_ns, gc.pause_ns, sizeof st->pause_ns);
    unlock(&extalloc.lock);
    st->last_gc = atomic_load(&gc.last_gc);
    st->next_gc = atomic_load(&gcController.goal);
    st->heap_marked = atomic_load(&gcController.heap_marked);
    st->heap_live = atomic_load(&gcController.heap_live);
    int64_t elapsed = gc.start_time != 0 ? prim_nanotime() - gc.start_time : 0;
    int nprocs = atomic_load(&gc.nprocs);
    if (nprocs <= 0)
        nprocs = 1;
    st->gc_cpu_fraction =
        elapsed > 0 ? (double)atomic_load(&gc.gc_cpu_ns) / ((double)elapsed * nprocs) : 0;
    st->finalizers_queued = atomic_load(&gc.finalizers_queued);
    st->sweep_remaining = atomic_load(&sweep_remaining);
}
