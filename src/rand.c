/*
 * rand.c — a cheap random source for the scheduler, select and maps (Go's
 * cheaprand): splitmix64 over a per-thread state, seeded once per thread.
 *
 * Invariants:
 *  - the clock is read once per thread, to seed: on wasm a clock read is a
 *    call into JS, too dear for every steal attempt or new map;
 *  - cheaprand is never inlined: a goroutine may move to another thread at
 *    its next park, and must not keep the previous thread's state address.
 */
#include <stdint.h>

#include "prim/prim.h"
#include "runtime.h"

static _Thread_local uint64_t cheaprand_state;

__attribute__((noinline)) uint32_t cheaprand(void)
{
    uint64_t s = cheaprand_state;
    if (s == 0)
        s = (uint64_t)prim_nanotime() ^ (uint64_t)(uintptr_t)&cheaprand_state;
    s += 0x9e3779b97f4a7c15ull;
    cheaprand_state = s;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (uint32_t)(z >> 32);
}
