/*
 * time.c — the runtime's timers (Go's runtime/time.go) and sleeping: one
 * 4-ary min-heap of timers ordered by `when`, under one runtime mutex, run by
 * the scheduler through timers_run; gort_sleep parks a goroutine on a timer
 * (or sleeps a thread that is not a goroutine on a futex) and gort_nanotime
 * reads the monotonic clock.
 *
 * The heap is 4-ary, as Go's: a node's children are at 4i+1 .. 4i+4, which
 * makes the heap shallower than a binary one (fewer cache misses on sift-up,
 * the common operation, for a few more comparisons on sift-down). Each slot
 * holds the timer and a copy of its `when`, so comparisons never touch the
 * timers themselves.
 *
 * Invariants (every one holds whenever timers.lock is free):
 *  - heap order: heap[i].when >= heap[(i-1)/4].when for every i > 0, and
 *    heap[i].when == heap[i].t->when;
 *  - t->heap_index == i exactly when heap[i].t == t; a timer taken out of
 *    the heap by timers_run or timer_del has heap_index == -1. Membership is
 *    decided by heap[t->heap_index].t == t, never by the index alone, so a
 *    timer never added may hold anything there, and timers_clear need not
 *    touch the timers it drops (when the runtime stops, the stacks that hold
 *    sleepers' timers may be freed already);
 *  - next_when == heap[0].when, or -1 when the heap is empty, and
 *    npending == n: atomic copies that let timers_run return at once when
 *    nothing is due, and timers_next_when and timers_pending answer without
 *    the lock (the scheduler asks on every switch);
 *  - f is never called with timers.lock held, and everything timers_run
 *    needs from a timer (f, arg, seq) is read under the lock before f runs:
 *    once a one-shot timer is out of the heap, this file never touches it
 *    again, so its owner may free it as soon as it is woken (gort_sleep's
 *    timer lives on the sleeping goroutine's stack);
 *  - a timer is never due early: timers_run(now) fires only timers with
 *    when <= now, in non-decreasing order of when within one call;
 *  - a deleted timer never fires afterwards: once timer_del(t) (or
 *    timer_mod(t, ...)) has returned, no call of t->f for an earlier arming
 *    of t is running or will start. They take t out of the heap first (so
 *    no new call can start) and then, while a call of t->f runs on another
 *    thread, wait for it to return (f is short: it readies a goroutine).
 *    Called from inside a call of t->f (a periodic timer stopping itself)
 *    they do not wait;
 *  - a periodic timer that fires at `now` is re-armed at the first
 *    when + k*period (k >= 1) after now: late timers skip the periods they
 *    missed instead of firing a burst to catch up.
 *
 * Rules for f (the price of the above): f must not park, must not call
 * timers_run, and must not delete or modify a timer whose f may be running
 * on another thread at the same moment while that f does the same to it (the
 * two would wait for each other). A one-shot f that re-adds its own timer
 * with a `when` already past fires again within the same timers_run.
 */
#include "timer.h"

#include <stdatomic.h>
#include <string.h>

#include "gort/proc.h"
#include "lock.h"
#include "prim/prim.h"
#include "runtime.h"
#include "runtime2.h"

#define TIMER_HEAP_ARITY 4
#define TIMER_HEAP_MIN_CAP 64

typedef struct timer_when {
    timer *t;
    int64_t when; /* == t->when, kept here so that sifting stays in the array */
} timer_when;

/* A call of some t->f in progress, linked in timers.running while it runs;
 * lives on the stack of the timers_run that makes the call. */
typedef struct timer_running {
    timer *t;
    struct timer_running *next;
} timer_running;

static struct {
    mutex lock;
    timer_when *heap;       /* grows by doubling; the old array is dropped */
    int n;
    int cap;
    timer_running *running; /* calls of f in progress, on any thread */
} timers = {.lock = MUTEX_INIT};

/* heap[0].when, or -1, and the number of timers in the heap: copies written
 * under timers.lock, read anywhere without it (the scheduler asks often). */
static _Atomic int64_t next_when = -1;
static atomic_int npending;

/* The call of f in progress on this thread (from inside f: that call). Read
 * and written only by code that does not park. */
static _Thread_local timer_running *this_thread_running;

/* ---- the heap (timers.lock held) ---- */

static bool in_heap(const timer *t)
{
    int i = t->heap_index;
    return i >= 0 && i < timers.n && timers.heap[i].t == t;
}

static void heap_set(int i, timer_when tw)
{
    timers.heap[i] = tw;
    tw.t->heap_index = i;
}

static void sift_up(int i)
{
    timer_when tw = timers.heap[i];
    while (i > 0) {
        int parent = (i - 1) / TIMER_HEAP_ARITY;
        if (timers.heap[parent].when <= tw.when)
            break;
        heap_set(i, timers.heap[parent]);
        i = parent;
    }
    heap_set(i, tw);
}

static void sift_down(int i)
{
    timer_when tw = timers.heap[i];
    int n = timers.n;
    for (;;) {
        int first = i * TIMER_HEAP_ARITY + 1;
        if (first >= n)
            break;
        int last = first + TIMER_HEAP_ARITY;
        if (last > n)
            last = n;
        int min = first;
        for (int c = first + 1; c < last; c++)
            if (timers.heap[c].when < timers.heap[min].when)
                min = c;
        if (timers.heap[min].when >= tw.when)
            break;
        heap_set(i, timers.heap[min]);
        i = min;
    }
    heap_set(i, tw);
}

/* Restores order around slot i after its when changed either way. */
static void heap_fix(int i)
{
    if (i > 0 && timers.heap[i].when < timers.heap[(i - 1) / TIMER_HEAP_ARITY].when)
        sift_up(i);
    else
        sift_down(i);
}

static void heap_grow(void)
{
    int cap = timers.cap == 0 ? TIMER_HEAP_MIN_CAP : timers.cap * 2;
    if (cap <= timers.cap)
        gort_throw("runtime: too many timers");
    /* prim_sys_alloc memory is never returned: the old array is dropped
     * (the dropped arrays add up to less than the one in use). */
    timer_when *heap = prim_sys_alloc((size_t)cap * sizeof *heap);
    if (heap == NULL)
        gort_throw("runtime: out of memory allocating the timer heap");
    if (timers.n > 0)
        memcpy(heap, timers.heap, (size_t)timers.n * sizeof *heap);
    timers.heap = heap;
    timers.cap = cap;
}

static void heap_push(timer *t)
{
    if (timers.n == timers.cap)
        heap_grow();
    int i = timers.n++;
    timers.heap[i] = (timer_when){t, t->when};
    t->heap_index = i;
    sift_up(i);
}

/* Takes the timer at slot i out of the heap. */
static void heap_remove(int i)
{
    timer *t = timers.heap[i].t;
    int last = --timers.n;
    if (i != last) {
        heap_set(i, timers.heap[last]);
        heap_fix(i);
    }
    timers.heap[last].t = NULL;
    t->heap_index = -1;
}

static void publish_next_when(void)
{
    atomic_store_explicit(&npending, timers.n, memory_order_release);
    atomic_store_explicit(&next_when, timers.n > 0 ? timers.heap[0].when : -1,
                          memory_order_release);
}

/* True when a call of t->f is running on another thread and this thread is
 * not itself inside a call of t->f (from there, waiting could be waiting for
 * a call that waits for us). */
static bool running_elsewhere(const timer *t)
{
    timer_running *self = this_thread_running;
    if (self != NULL && self->t == t)
        return false;
    for (timer_running *r = timers.running; r != NULL; r = r->next)
        if (r->t == t)
            return true;
    return false;
}

/* With timers.lock held: takes t out of the heap, then waits (letting the
 * lock go meanwhile) until no call of t->f runs elsewhere. Taking t out
 * first means no new call can start while we wait, so the wait ends. Returns
 * whether t was pending. */
static bool take_out_and_wait(timer *t)
{
    bool pending = false;
    for (;;) {
        if (in_heap(t)) {
            heap_remove(t->heap_index);
            publish_next_when();
            pending = true;
        }
        if (!running_elsewhere(t))
            return pending;
        unlock(&timers.lock);
        prim_osyield();
        lock(&timers.lock);
    }
}

/* when + k*period for the least k >= 1 that makes it later than now,
 * saturating at INT64_MAX (computed unsigned: no step may overflow). */
static int64_t next_period(int64_t when, int64_t period, int64_t now)
{
    uint64_t k = now >= when ? ((uint64_t)now - (uint64_t)when) / (uint64_t)period + 1 : 1;
    uint64_t delta;
    if (__builtin_mul_overflow(k, (uint64_t)period, &delta) ||
        delta > (uint64_t)INT64_MAX - (uint64_t)when)
        return INT64_MAX;
    return (int64_t)((uint64_t)when + delta);
}

/* ---- timer.h ---- */

/* Pushes t (timers.lock held), lets the lock go, and tells the scheduler
 * when t became the earliest timer. */
static void push_and_unlock(timer *t)
{
    int64_t when = t->when;
    heap_push(t);
    bool earliest = t->heap_index == 0;
    publish_next_when();
    unlock(&timers.lock);
    /* t may already have fired and been freed on another thread: from here
     * on only the copies are used. */
    if (earliest)
        sched_timer_added(when);
}

void timer_add(timer *t)
{
    gort_assert(t->f != NULL);
    lock(&timers.lock);
    gort_assert(!in_heap(t));
    push_and_unlock(t);
}

bool timer_del(timer *t)
{
    lock(&timers.lock);
    bool pending = take_out_and_wait(t);
    unlock(&timers.lock);
    return pending;
}

bool timer_mod(timer *t, int64_t when, int64_t period)
{
    gort_assert(t->f != NULL);
    lock(&timers.lock);
    bool pending = take_out_and_wait(t);
    t->when = when;
    t->period = period;
    push_and_unlock(t);
    return pending;
}

int64_t timers_run(int64_t now)
{
    int64_t next = atomic_load_explicit(&next_when, memory_order_acquire);
    if (next < 0 || next > now)
        return next;

    timer_running running = {NULL, NULL};
    timer_running *outer = this_thread_running;
    this_thread_running = &running;
    lock(&timers.lock);
    for (;;) {
        if (running.t != NULL) {
            timer_running **pp = &timers.running;
            while (*pp != &running)
                pp = &(*pp)->next;
            *pp = running.next;
            running.t = NULL;
        }
        if (timers.n == 0 || timers.heap[0].when > now)
            break;
        timer *t = timers.heap[0].t;
        void (*f)(void *, uintptr_t) = t->f;
        void *arg = t->arg;
        uintptr_t seq = t->seq;
        if (t->period > 0) {
            t->when = next_period(t->when, t->period, now);
            timers.heap[0].when = t->when;
            sift_down(0);
        } else {
            heap_remove(0);
        }
        publish_next_when();
        running.t = t;
        running.next = timers.running;
        timers.running = &running;
        unlock(&timers.lock);
        f(arg, seq);
        lock(&timers.lock);
    }
    next = timers.n > 0 ? timers.heap[0].when : -1;
    unlock(&timers.lock);
    this_thread_running = outer;
    return next;
}

int64_t timers_next_when(void)
{
    return atomic_load_explicit(&next_when, memory_order_acquire);
}

int timers_pending(void)
{
    return atomic_load_explicit(&npending, memory_order_acquire);
}

void timers_each(void (*fn)(timer *t, void *arg), void *arg)
{
    lock(&timers.lock);
    for (int i = 0; i < timers.n; i++)
        fn(timers.heap[i].t, arg);
    unlock(&timers.lock);
}

void timers_clear(void)
{
    lock(&timers.lock);
    /* The dropped timers are not written to: their memory may be gone. */
    if (timers.n > 0)
        memset(timers.heap, 0, (size_t)timers.n * sizeof *timers.heap);
    timers.n = 0;
    publish_next_when();
    unlock(&timers.lock);
}

/* ---- sleeping ---- */

int64_t gort_nanotime(void) { return prim_nanotime(); }

static void sleep_wake(void *arg, uintptr_t seq)
{
    (void)seq;
    goready(arg);
}

/* gopark's unlock function: the timer goes in only once the goroutine's
 * context is saved, so its goready cannot resume it half-parked. */
static bool sleep_arm(g *gp, void *arg)
{
    (void)gp;
    timer_add(arg);
    return true;
}

static int64_t deadline_after(int64_t now, int64_t ns)
{
    return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

void gort_sleep(int64_t ns)
{
    /* As Go's time.Sleep: a duration <= 0 returns at once, without
     * yielding. */
    if (ns <= 0)
        return;
    int64_t deadline = deadline_after(prim_nanotime(), ns);
    g *gp = getg();
    if (gp == NULL) {
        /* A thread that is not a goroutine: nothing will wake the word, so
         * each wait ends by its timeout (or spuriously); loop to the
         * deadline. */
        atomic_uint word = 0;
        for (;;) {
            int64_t left = deadline - prim_nanotime();
            if (left <= 0)
                return;
            prim_futex_wait(&word, 0, left);
        }
    }
    timer t;
    memset(&t, 0, sizeof t);
    t.when = deadline;
    t.f = sleep_wake;
    t.arg = gp;
    t.heap_index = -1;
    gopark(sleep_arm, &t, WAIT_REASON_SLEEP);
    /* Only the timer readies a sleeping goroutine, and it is out of the
     * heap before its f runs. */
    gort_assert(t.heap_index == -1);
}
