/*
 * prim/wasm/prim.c — the platform layer on WebAssembly (Emscripten with
 * pthreads): the heap lives in the shared linear memory, arenas are carved from
 * it with aligned allocations of the system allocator (which grow the memory
 * as needed, up to 4 GB), futexes are Atomics.wait/notify, the clock is
 * one clock for every thread (see prim_nanotime). A thread a JS worker lent
 * to the runtime can be told to give up its futex waits once the runtime is
 * over (prim_futex_give_up_when): a wait then throws to its JS instead.
 *
 * Arenas are reserved in batches. An aligned allocation of ARENA_BYTES
 * takes twice that from the system allocator's top whenever the top is not
 * on an arena boundary, and gives the part below the boundary back to the
 * allocator's free lists, where the heap can never use it again: reserved
 * one at a time, arenas cost up to 8 MB each, and the heap stopped at about
 * 2 GB of wasm32's 4 GB. One aligned allocation of several arenas pays
 * that part once for all of them; what it gives back is reused by the
 * system allocator, mostly for the arenas' own metadata (calloc'd right
 * after). A batch is a quarter of what the heap holds already (so linear
 * memory grows at most a quarter beyond what the heap uses), at least the
 * request and at most ARENA_BATCH_MAX arenas unless the request is larger;
 * when the memory cannot give a batch, smaller ones down to the request are
 * tried.
 *
 * The arenas of a batch not yet handed out wait in a bitmap by arena slot,
 * so a later request of several arenas takes a contiguous run of them if
 * one is there. Nothing here moves the break (sbrk): the system allocator
 * assumes it is its only mover (moved outside its lock, it could take the
 * heap's memory for its own once it has failed); it is only read, for
 * what the memory can still grow by. The heap stops SYS_HEADROOM_BYTES
 * short of the 4 GB, for the system allocator.
 *
 * Invariants: an arena is ARENA_BYTES aligned (not zeroed: the heap clears
 * spans as it hands them out); addresses are absolute, so the heap base is 0 and an address's page
 * index is addr >> PAGE_SHIFT. Arenas need not be contiguous: the page
 * allocator only ever sees the pages of mapped arenas as free. An arena is
 * in the waiting bitmap from its batch's reservation until it is handed
 * out, and handed out at most once.
 */
#include "../prim.h"

#include <emscripten/emscripten.h>
#include <emscripten/heap.h>
#include <emscripten/threading.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lock.h"
#include "../../runtime.h"

/* 32 arenas (128 MB): past this a batch's alignment costs the system
 * allocator less than the batch's arenas' metadata, which it reuses for. */
#define ARENA_BATCH_MAX 32
/* A batch is this fraction of the arenas reserved so far. */
#define ARENA_BATCH_DIVISOR 4
/* Address space the heap leaves to the system allocator: once the heap
 * has the rest, the runtime's own structures that Go would take from its
 * heap (sudogs, the collector's work buffers, the timer heap) and the
 * program's malloc still have room, instead of aborting in the middle of
 * a runtime data structure right after the heap's last clean NULL. */
#define SYS_HEADROOM_BYTES ((size_t)16 << 20)

static mutex reserve_lock = MUTEX_INIT;
/* guarded by reserve_lock: */
static uint32_t waiting[HEAP_MAX_ARENAS / 32]; /* bit per arena slot: reserved, not handed out */
static size_t arenas_reserved;

uintptr_t prim_heap_base(void) { return 0; }

static bool arena_waiting(size_t slot) { return (waiting[slot / 32] >> (slot % 32)) & 1; }

/* The lowest slot of a run of n waiting arenas, or HEAP_MAX_ARENAS. */
static size_t find_waiting_run(size_t n)
{
    size_t run = 0;
    for (size_t slot = 0; slot < HEAP_MAX_ARENAS; slot++) {
        run = arena_waiting(slot) ? run + 1 : 0;
        if (run == n)
            return slot + 1 - n;
    }
    return HEAP_MAX_ARENAS;
}

/* Reserves a batch of at least n arenas into the waiting bitmap; false when
 * the memory has not even n. */
static bool reserve_batch(size_t n)
{
    size_t batch = arenas_reserved / ARENA_BATCH_DIVISOR;
    if (batch > ARENA_BATCH_MAX)
        batch = ARENA_BATCH_MAX;
    if (batch < n)
        batch = n;
    /* What the memory can still grow by, less the headroom and an arena
     * for the alignment. */
    size_t brk = (size_t)sbrk(0), max = emscripten_get_heap_max();
    size_t room = max > brk ? max - brk : 0; /* sums near 4 GB would wrap */
    size_t spare = room > SYS_HEADROOM_BYTES + ARENA_BYTES
                       ? (room - SYS_HEADROOM_BYTES - ARENA_BYTES) / ARENA_BYTES
                       : 0;
    if (spare < n)
        return false;
    if (batch > spare)
        batch = spare;
    for (;;) {
        void *p = aligned_alloc(ARENA_BYTES, batch * ARENA_BYTES);
        if (p != NULL) {
            size_t first = (uintptr_t)p >> ARENA_SHIFT;
            for (size_t slot = first; slot < first + batch; slot++)
                waiting[slot / 32] |= 1u << (slot % 32);
            arenas_reserved += batch;
            return true;
        }
        if (batch == n)
            return false;
        batch = batch / 2 > n ? batch / 2 : n;
    }
}

uintptr_t prim_heap_map(size_t narenas, bool *zeroed)
{
    /* Memory the system allocator recycles is not zeroed; clearing a whole
     * arena here would cost milliseconds in an allocation, which no
     * stop-the-world can interrupt. */
    *zeroed = false;
    if (narenas == 0 || narenas >= HEAP_MAX_ARENAS)
        return 0;
    lock(&reserve_lock);
    size_t first = find_waiting_run(narenas);
    if (first == HEAP_MAX_ARENAS && reserve_batch(narenas))
        first = find_waiting_run(narenas);
    if (first != HEAP_MAX_ARENAS)
        for (size_t slot = first; slot < first + narenas; slot++)
            waiting[slot / 32] &= ~(1u << (slot % 32));
    unlock(&reserve_lock);
    return first == HEAP_MAX_ARENAS ? 0 : (uintptr_t)first << ARENA_SHIFT;
}

/* prim_futex_give_up_when's setting for this thread (give_up_word NULL: off). */
static _Thread_local atomic_uint *give_up_word;
static _Thread_local unsigned give_up_value;
static _Thread_local _Atomic(atomic_uint *) *give_up_sleeping_on;

void prim_futex_give_up_when(atomic_uint *word, unsigned value, _Atomic(atomic_uint *) *sleeping_on)
{
    give_up_word = word;
    give_up_value = value;
    give_up_sleeping_on = sleeping_on;
}

/* Leaves the runtime: a JS exception unwinds every wasm frame of this
 * thread's call from JS (its caller catches it and looks at why). */
EM_JS(void, gort_give_up_wait, (void), {
    var e = new Error('gort: the runtime ended while this thread waited in it');
    e.gortGaveUp = true;
    throw e;
});

static void futex_wait_or_give_up(atomic_uint *addr, unsigned val, int64_t ns)
{
    /* Published before the look at the word: a setter that comes after the
     * look finds the address (sequentially consistent on both sides). */
    atomic_store(give_up_sleeping_on, addr);
    if (atomic_load(give_up_word) == give_up_value) {
        atomic_store(give_up_sleeping_on, NULL);
        gort_give_up_wait();
    }
    int64_t slice = ns < 0 || ns > PRIM_GIVE_UP_LOOK_NS ? PRIM_GIVE_UP_LOOK_NS : ns;
    emscripten_futex_wait((volatile void *)addr, val, (double)slice / 1e6);
    atomic_store(give_up_sleeping_on, NULL);
    if (atomic_load(give_up_word) == give_up_value)
        gort_give_up_wait();
}

void prim_futex_wait(atomic_uint *addr, unsigned val, int64_t ns)
{
    if (give_up_word != NULL) {
        futex_wait_or_give_up(addr, val, ns);
        return;
    }
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

/* A wait that nothing wakes, on a word of the thread's own, ends at its
 * timeout. Emscripten's nanosleep spins under 0.1 ms, reading the clock (a
 * JS call) in a loop. */
void prim_usleep(uint32_t usec)
{
    static _Thread_local atomic_uint never_woken;
    prim_futex_wait(&never_woken, 0, (int64_t)usec * 1000);
}

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
