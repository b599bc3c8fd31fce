/*
 * testing_rt.h — helpers for tests that run goroutines: waiting with a
 * deadline, running a test body as goroutine 1, channels of ints and their
 * wait queues, arrays of pointers on the gort heap, a goroutine that
 * collects in a loop, and a keeper goroutine.
 */
#ifndef GORT_TESTING_RT_H
#define GORT_TESTING_RT_H

#include <gort/gort.h>
#include <stdatomic.h>

#include "chan.h"
#include "testing.h"

/* How long AWAIT waits before it fails the test: long enough for a loaded,
 * sanitized machine, short enough that a broken primitive fails rather than
 * hangs. */
#define DEADLINE_NS (120 * (int64_t)1000000000)

/* Yields until cond holds; false (and a failure) after DEADLINE_NS. Works
 * on a goroutine and on a plain thread alike. */
#define AWAIT(cond)                                                                      \
    ({                                                                                   \
        bool await_ok_ = true;                                                           \
        int64_t await_deadline_ = gort_nanotime() + DEADLINE_NS;                         \
        while (!(cond)) {                                                                \
            if (gort_nanotime() > await_deadline_) {                                     \
                testing_fail(__FILE__, __LINE__, "timed out waiting for %s", #cond);     \
                await_ok_ = false;                                                       \
                break;                                                                   \
            }                                                                            \
            gort_yield();                                                                \
        }                                                                                \
        await_ok_;                                                                       \
    })

/* Runs fn(arg) as goroutine 1 on `procs` processors; it must end normally. */
static inline void run_main(int procs, void (*fn)(void *), void *arg)
{
    gort_config cfg = {.procs = procs};
    CHECK_EQ(gort_main(&cfg, fn, arg), GORT_OK);
}

/* run_main with the collector's verification on (GODEBUG gccheckmark=1):
 * after each mark the world stops and everything is marked again from the
 * roots, and an object reachable but left unmarked (a pointer stored
 * without the write barrier) aborts the program. */
static inline void run_main_checkmark(int procs, void (*fn)(void *), void *arg)
{
    gort_config cfg = {.procs = procs, .godebug = "gccheckmark=1"};
    CHECK_EQ(gort_main(&cfg, fn, arg), GORT_OK);
}

/* A channel of ints. */
static inline gort_chan *make_int_chan(size_t cap)
{
    gort_chan *c = gort_chan_make_bytes(sizeof(int), cap);
    if (c == NULL)
        testing_fail(__FILE__, __LINE__, "gort_chan_make_bytes(%zu) failed", cap);
    return c;
}

/* An array of n pointers on the gort heap, every word traced: what a test
 * keeps there stays alive while the array is reachable (held in a local of
 * a running goroutine; C globals are no roots). Store with GORT_STORE. */
typedef struct testing_ptr {
    void *p;
} testing_ptr;
static const gort_type testing_ptr_type =
    GORT_TYPE(testing_ptr, "testing.ptr", GORT_PTR_FIELD(testing_ptr, p));
static inline void **heap_ptr_array(size_t n)
{
    void **a = gort_new_array(&testing_ptr_type, n);
    if (a == NULL)
        testing_fail(__FILE__, __LINE__, "gort_new_array(%zu pointers) failed", n);
    return a;
}

/* Waiters queued on a channel; the caller holds its lock. */
static inline int queue_len_locked(hchan *c, bool senders)
{
    int n = 0;
    for (sudog *s = senders ? c->sendq.first : c->recvq.first; s != NULL; s = s->next)
        n++;
    return n;
}

/* Waiters queued on a channel (read under its lock). */
static inline int queue_len(hchan *c, bool senders)
{
    lock(&c->lock);
    int n = queue_len_locked(c, senders);
    unlock(&c->lock);
    return n;
}
#define RECVQ_LEN(c) queue_len((c), false)
#define SENDQ_LEN(c) queue_len((c), true)

/* A goroutine that runs full collections back to back, so that the code
 * under test runs while the collector marks and sweeps: gc_loop_start, then
 * gc_loop_stop, which waits for it and fails the test if a collection
 * failed or none ran. */
static struct {
    atomic_bool stop;
    atomic_bool done;
    atomic_int cycles;
    atomic_int errors;
} gc_loop;

static inline void gc_loop_body(void *arg)
{
    (void)arg;
    while (!atomic_load(&gc_loop.stop)) {
        if (gort_gc() != GORT_OK)
            atomic_fetch_add(&gc_loop.errors, 1);
        atomic_fetch_add(&gc_loop.cycles, 1);
        gort_yield();
    }
    atomic_store(&gc_loop.done, true);
}

static inline bool gc_loop_start(void)
{
    atomic_store(&gc_loop.stop, false);
    atomic_store(&gc_loop.done, false);
    atomic_store(&gc_loop.cycles, 0);
    atomic_store(&gc_loop.errors, 0);
    return gort_go(gc_loop_body, NULL) == GORT_OK;
}

static inline void gc_loop_stop(void)
{
    atomic_store(&gc_loop.stop, true);
    AWAIT(atomic_load(&gc_loop.done));
    CHECK_EQ(atomic_load(&gc_loop.errors), 0);
    CHECK(atomic_load(&gc_loop.cycles) > 0);
}

/* A goroutine that sleeps on a timer until keeper_stop is set: while plain
 * threads run outside the runtime (not blocked in it), the deadlock check
 * would otherwise see only blocked goroutines. */
static atomic_bool keeper_stop;
static inline void keeper(void *arg)
{
    (void)arg;
    while (!atomic_load(&keeper_stop))
        gort_sleep(500000);
}

#endif
