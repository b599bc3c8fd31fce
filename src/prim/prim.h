/*
 * prim.h — the platform layer: the only interface between the portable runtime
 * and the machine it runs on. Two implementations exist, chosen at build time:
 * prim/native (Linux, 64-bit: mmap, futex syscall, pthreads) and prim/wasm
 * (Emscripten with pthreads on SharedArrayBuffer: linear memory, Atomics.wait
 * futexes); prim/posix holds what both get from POSIX threads. Everything outside src/prim/ is portable C11 and calls only these.
 *
 * Invariants:
 *  - Memory from prim_sys_alloc is zeroed, never moves and is never returned.
 *  - The heap range is reserved once; prim_heap_map hands out ARENA_BYTES-aligned
 *    arenas inside it, each at most once (zeroed or not, as it reports).
 */
#ifndef GORT_PRIM_H
#define GORT_PRIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Zeroed memory for the runtime's own metadata (outside the heap). Returns
 * NULL when the system has no more. */
void *prim_sys_alloc(size_t bytes);

/* The size of a cache line, the unit in which cores hand memory to each
 * other. */
#define PRIM_CACHE_LINE 64

/* prim_sys_alloc for a structure that threads on different cores hand back
 * and forth (a waiter's sudog): whole cache lines of its own, so that
 * neither its neighbours nor a line boundary add a transfer between
 * cores to each hand-off. */
void *prim_sys_alloc_lines(size_t bytes);

/* bytes rounded up to whole cache lines: what prim_sys_alloc_lines takes. */
static inline size_t prim_cache_lines_bytes(size_t bytes)
{
    return (bytes + PRIM_CACHE_LINE - 1) & ~(size_t)(PRIM_CACHE_LINE - 1);
}

/* For tests of the out-of-memory paths: from the n-th call on (n >= 1),
 * prim_sys_alloc on the calling thread returns NULL as if the system had
 * no memory left; n = 0 ends that. Other threads are not affected. */
void prim_sys_alloc_fail_after(unsigned n);

/* The lowest address the heap may use; page index 0 is this address. */
uintptr_t prim_heap_base(void);

/* Maps `narenas` contiguous arenas for the heap and returns the first one's
 * address, or 0 when memory is exhausted; *zeroed tells whether they are
 * known to be zero (else the heap zeroes each span as it hands it out). On
 * wasm this takes linear memory from the system allocator, which may have
 * used it; natively it commits part of the reserved range, which is zero. */
uintptr_t prim_heap_map(size_t narenas, bool *zeroed);

/* Whether first use of fresh heap memory is slow enough (growing linear
 * memory, first-touch faults: milliseconds per arena on wasm) that the heap
 * should grow and touch arenas ahead of need, off the allocation path. */
#ifdef __EMSCRIPTEN__
#define PRIM_HEAP_GROW_AHEAD 1
#else
#define PRIM_HEAP_GROW_AHEAD 0
#endif

/* Futex: sleep while *addr == val, at most ns nanoseconds (forever when
 * ns < 0); spurious wake-ups are allowed. Wake wakes up to n sleepers. */
void prim_futex_wait(atomic_uint *addr, unsigned val, int64_t ns);
void prim_futex_wake(atomic_uint *addr, int n);

#ifdef __EMSCRIPTEN__
/* For a thread that a JS realm lends to the runtime (a worker that
 * attached) and that must leave it when the runtime is over: from now on,
 * once *word == value, the calling thread's futex waits end by throwing a
 * JS exception to its JS caller (unwinding the runtime's frames, whatever
 * they held: the runtime is over) instead of returning. While it sleeps in
 * one, the address it sleeps on is in *sleeping_on (else NULL): whoever sets
 * *word wakes it with prim_futex_wake there. A wake that lands between the
 * thread's look at *word and its sleep is lost; the sleep then ends within
 * PRIM_GIVE_UP_LOOK_NS. A NULL word ends this mode. */
void prim_futex_give_up_when(atomic_uint *word, unsigned value, _Atomic(atomic_uint *) *sleeping_on);
#define PRIM_GIVE_UP_LOOK_NS ((int64_t)100 * 1000 * 1000)
#endif

/* Monotonic clock in nanoseconds. */
int64_t prim_nanotime(void);

/* Lets another thread run (used by bounded spinning). */
void prim_osyield(void);

/* Sleeps the calling thread about usec microseconds (Go's usleep): the
 * system may sleep it longer (Linux adds its timer slack, about 50 us), never
 * much shorter. */
void prim_usleep(uint32_t usec);

/* Busy-waits about n CPU pause instructions' worth (Go's procyield): the
 * unit of a spin that waits for another thread without sleeping. */
void prim_procyield(int n);

/* A thread of the runtime (an M). prim_thread_start returns false when no
 * thread can be had (on wasm: no free worker in the pool). */
typedef struct prim_thread {
    uintptr_t handle;
} prim_thread;
bool prim_thread_start(prim_thread *t, void *(*fn)(void *), void *arg);
/* Called first on each runtime thread: readies what the platform makes
 * ready per thread on first use, so that the first use is not inside a
 * stop-the-world. */
void prim_thread_init(void);
void prim_thread_join(prim_thread *t);
/* Ends the calling runtime thread (wasm needs this after fibers ran on it). */
_Noreturn void prim_thread_exit(void);
/* Runs fn(arg) when the calling thread (any thread, the runtime's or not)
 * ends, once per fn (a thread's second call with the same fn replaces its
 * arg; arg must not be NULL). A process has room for a few distinct fns;
 * false when there is none left or the system has no room for it. */
bool prim_thread_at_exit(void (*fn)(void *), void *arg);

/* Hardware threads available to this process. */
int prim_ncpu(void);

#endif
