/*
 * prim/wasm/prim.c — the platform layer on WebAssembly (Emscripten with
 * pthreads): the heap lives in the shared linear memory, arenas are carved from
 * it with aligned allocations of the system allocator (which grow the memory
 * as needed, up to 4 GB), futexes are Atomics.wait/notify, the clock is
 * performance.now().
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

/* Calls of prim_sys_alloc on this thread until they fail; 0: never. */
static _Thread_local unsigned sys_alloc_calls_to_failure;

void prim_sys_alloc_fail_after(unsigned n) { sys_alloc_calls_to_failure = n; }

void *prim_sys_alloc(size_t bytes)
{
    if (unlikely(sys_alloc_calls_to_failure != 0)) {
        if (sys_alloc_calls_to_failure == 1)
            return NULL;
        sys_alloc_calls_to_failure--;
    }
    return calloc(1, bytes);
}

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

void prim_futex_wait(atomic_uint *addr, unsigned val, int64_t ns)
{
    emscripten_futex_wait((volatile void *)addr, val, ns < 0 ? INFINITY : (double)ns / 1e6);
}

void prim_futex_wake(atomic_uint *addr, int n) { emscripten_futex_wake((volatile void *)addr, n); }

int64_t prim_nanotime(void) { return (int64_t)(emscripten_get_now() * 1e6); }

/* A worker's first clock read compiles the JS behind it for that worker
 * (0.1 ms), and the first read of a goroutine's thread used to be inside
 * the first collection's pause. */
void prim_thread_init(void) { (void)emscripten_get_now(); }

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
