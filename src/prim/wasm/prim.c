/*
 * prim/wasm/prim.c — the platform layer on WebAssembly (Emscripten with
 * pthreads): the heap lives in the shared linear memory, arenas are carved from
 * it with an aligned allocation (which grows the memory as needed, up to
 * 4 GB), futexes are Atomics.wait/notify, the clock is performance.now().
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
