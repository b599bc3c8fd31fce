/*
 * prim/native/prim.c — the platform layer on 64-bit Linux: one reserved range
 * of address space for the heap (committed an arena at a time with mprotect),
 * the futex system call, clock_gettime and sched_yield.
 *
 * Invariants: the heap range is reserved once, ARENA_BYTES aligned, and
 * arenas are handed out in increasing address order, so consecutive arenas
 * are contiguous and runs of pages may cross between them.
 */
#define _GNU_SOURCE
#include "../prim.h"

#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../lock.h"
#include "../../runtime.h"

#define HEAP_RESERVE_BYTES ((uintptr_t)HEAP_MAX_ARENAS * ARENA_BYTES)

static uintptr_t heap_base;
static size_t arenas_mapped; /* guarded by reserve_lock */
static mutex reserve_lock = MUTEX_INIT;

static void reserve_heap(void)
{
    /* One extra arena of slack lets us align the start. PROT_NONE and
     * MAP_NORESERVE: nothing is committed until an arena is mapped. */
    size_t len = HEAP_RESERVE_BYTES + ARENA_BYTES;
    void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        gort_throw("runtime: cannot reserve heap address space");
    heap_base = round_up((uintptr_t)p, ARENA_BYTES);
}

uintptr_t prim_heap_base(void)
{
    lock(&reserve_lock);
    if (heap_base == 0)
        reserve_heap();
    unlock(&reserve_lock);
    return heap_base;
}

uintptr_t prim_heap_map(size_t narenas, bool *zeroed)
{
    uintptr_t addr = 0;
    *zeroed = true;
    lock(&reserve_lock);
    if (heap_base == 0)
        reserve_heap();
    if (narenas <= HEAP_MAX_ARENAS - arenas_mapped) {
        uintptr_t candidate = heap_base + arenas_mapped * ARENA_BYTES;
        if (mprotect((void *)candidate, narenas * ARENA_BYTES, PROT_READ | PROT_WRITE) == 0) {
            arenas_mapped += narenas;
            addr = candidate;
        }
    }
    unlock(&reserve_lock);
    return addr;
}

void prim_futex_wait(atomic_uint *addr, unsigned val, int64_t ns)
{
    struct timespec ts, *timeout = NULL;
    if (ns >= 0) {
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        timeout = &ts;
    }
    syscall(SYS_futex, (unsigned *)addr, FUTEX_WAIT_PRIVATE, val, timeout, NULL, 0);
}

void prim_futex_wake(atomic_uint *addr, int n)
{
    syscall(SYS_futex, (unsigned *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

int64_t prim_nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void prim_osyield(void) { sched_yield(); }

void prim_usleep(uint32_t usec)
{
    struct timespec ts = {.tv_sec = usec / 1000000, .tv_nsec = (long)(usec % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

void prim_thread_init(void) {}

void prim_procyield(int n)
{
    for (int i = 0; i < n; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield" ::: "memory");
#else
        __asm__ __volatile__("" ::: "memory");
#endif
    }
}

int prim_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
