/*
 * prim/wasm/prim.c — the platform layer on WebAssembly (Emscripten with
 * pthreads): the heap lives in the shared linear memory, arenas are carved from
 * it with an aligned allocation (which grows the memory as needed, up to
 * 4 GB), futexes are Atomics.wait/notify, the clock is one clock for every
 * thread (see prim_nanotime).
 *
 * Invariants: an arena is ARENA_BYTES aligned (not zeroed: the heap clears
 * spans as it hands them out); addresses are absolute, so the heap base is 0 and an address's page
 * index is addr >> PAGE_SHIFT. Arenas need not be contiguous: the page
 * allocator only ever sees the pages of mapped arenas as free.
 */
#include "../prim.h"

#include <emscripten/emscripten.h>
#include <emscripten/threading.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime.h"

void *prim_sys_alloc(size_t bytes) { return calloc(1, bytes); }

uintptr_t prim_heap_base(void) { return 0; }

uintptr_t prim_heap_map(size_t narenas, bool *zeroed)
{
    if (narenas == 0 || narenas >= HEAP_MAX_ARENAS)
        return 0;
    size_t bytes = narenas * ARENA_BYTES;
    void *p = aligned_alloc(ARENA_BYTES, bytes);
    /* Memory the system allocator recycles is not zeroed; clearing a whole
     * arena here would cost milliseconds in an allocation, which no
     * stop-the-world can interrupt. */
    *zeroed = false;
    return (uintptr_t)p;
}

void prim_futex_wait(atomic_uint *addr, unsigned val, int64_t ns)
{
    emscripten_futex_wait((volatile void *)addr, val, ns < 0 ? INFINITY : (double)ns / 1e6);
}

void prim_futex_wake(atomic_uint *addr, int n) { emscripten_futex_wake((volatile void *)addr, n); }

/*
 * The clock every thread reads, in milliseconds since origin_ms (a point of
 * the same clock). Emscripten's emscripten_get_now is no such clock in
 * browsers: on a worker it is performance.now() less the moment the main
 * thread sent the worker its 'run' message, so each worker runs behind the
 * main thread by that message's delay (milliseconds under load), and a pause
 * begun on one thread and ended on another came out negative. In browsers
 * performance.timeOrigin + performance.now() is the same epoch on every
 * thread; the origin is subtracted from timeOrigin first, so the sum keeps
 * the sub-microsecond part. Node's process.hrtime is the system's monotonic
 * clock, the same on every thread. Returns NaN only if neither exists.
 */
EM_JS(double, gort_clock_ms, (double origin_ms), {
    if (ENVIRONMENT_IS_NODE) {
        var t = process.hrtime();
        return t[0] * 1e3 + t[1] / 1e6 - origin_ms;
    }
    return (performance.timeOrigin - origin_ms) + performance.now();
});

/* The origin of the clock: this thread's performance.timeOrigin in browsers
 * (its clock then starts at its performance.now()), 0 on Node. */
EM_JS(double, gort_clock_origin_ms, (void), {
    return ENVIRONMENT_IS_NODE ? 0 : performance.timeOrigin;
});

/* Whether two threads' readings of the clock can disagree: browsers coarsen
 * performance.now() (5 us or more, with jitter) from each thread's own
 * timeOrigin, so two threads reading at one moment can be microseconds
 * apart; Node's clock is the system's, exact on every thread. */
EM_JS(int, gort_clock_is_coarse, (void), { return ENVIRONMENT_IS_NODE ? 0 : 1; });

/* The origin's bits (a double), set once by the first thread to read the
 * clock; it lives in the shared memory, so every thread and every module
 * instance attached to this memory agrees on it. 0: not yet set. */
static _Atomic uint64_t clock_origin_bits;
static atomic_int clock_coarse = -1;
/* The latest reading handed out where the clock is coarse: no reading is
 * less than one that happened before it, on whatever thread. */
static _Atomic int64_t clock_latest;

static double clock_origin(void)
{
    uint64_t bits = atomic_load_explicit(&clock_origin_bits, memory_order_acquire);
    if (bits == 0) {
        double origin = gort_clock_origin_ms();
        uint64_t mine;
        memcpy(&mine, &origin, sizeof mine);
        if (mine == 0) /* Node's origin, 0.0: mark it set */
            mine = 1;
        if (atomic_compare_exchange_strong_explicit(&clock_origin_bits, &bits, mine, memory_order_acq_rel,
                                                    memory_order_acquire))
            bits = mine;
        atomic_store_explicit(&clock_coarse, gort_clock_is_coarse(), memory_order_relaxed);
    }
    if (bits == 1)
        return 0;
    double origin;
    memcpy(&origin, &bits, sizeof origin);
    return origin;
}

/* The origin is taken as the module starts, on the thread that loads it:
 * in a page its main thread, whose performance.now() the runtime's clock
 * then reads the same as. */
__attribute__((constructor)) static void clock_origin_at_load(void) { (void)clock_origin(); }

int64_t prim_nanotime(void)
{
    int64_t now = (int64_t)(gort_clock_ms(clock_origin()) * 1e6);
    if (atomic_load_explicit(&clock_coarse, memory_order_relaxed) == 0)
        return now;
    /* Relaxed is enough: every reading and update is of this one location,
     * and coherence orders them for threads that synchronize otherwise.
     * Where the clock is coarse it advances in steps of microseconds, so
     * the exchange is rare next to the reads. */
    int64_t latest = atomic_load_explicit(&clock_latest, memory_order_relaxed);
    while (now > latest) {
        if (atomic_compare_exchange_weak_explicit(&clock_latest, &latest, now, memory_order_relaxed,
                                                  memory_order_relaxed))
            return now;
    }
    return latest;
}

/* A worker's first clock read compiles the JS behind it for that worker
 * (0.1 ms), and the first read of a goroutine's thread used to be inside
 * the first collection's pause. */
void prim_thread_init(void) { (void)prim_nanotime(); }

void prim_osyield(void) { sched_yield(); }

/* wasm has no pause instruction. Without one a spin is over in a few
 * nanoseconds and the waiter sleeps while the holder is still inside a
 * critical section of a microsecond; waking it again costs 10 us, and over
 * 100 us when its core went idle. So each pause is a short counted loop,
 * about as long as an x86 pause. */
#define LOOPS_PER_PAUSE 40

void prim_procyield(int n)
{
    for (volatile int i = 0; i < n * LOOPS_PER_PAUSE; i++)
        ;
}

int prim_ncpu(void)
{
    int n = emscripten_num_logical_cores();
    return n > 0 ? n : 1;
}
