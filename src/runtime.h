/*
 * runtime.h — what every file of the runtime shares: the machine constants of
 * the heap, assertions, and the fatal-error path.
 *
 * Invariants:
 *  - Every heap address lies in [heap base, heap base + HEAP_MAX_BYTES); the
 *    page index of an address is (addr - base) >> PAGE_SHIFT, so any address maps
 *    to its arena and page in O(1).
 *  - An arena is ARENA_BYTES long and ARENA_BYTES aligned; a page never
 *    straddles two arenas, and spans start on page boundaries.
 *  - GORT_DEBUG builds check their assertions; release builds compile them out,
 *    but `gort_throw` is always fatal: it marks a broken invariant, not misuse.
 */
#ifndef GORT_RUNTIME_H
#define GORT_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PTR_SIZE ((uintptr_t)sizeof(void *))
#define PTR_SHIFT (sizeof(void *) == 8 ? 3 : 2)

#define PAGE_SHIFT 13
#define PAGE_SIZE ((uintptr_t)1 << PAGE_SHIFT) /* 8 KB, as Go's */

#if UINTPTR_MAX == 0xffffffffu
/* wasm32: 1,024 arenas of 4 MB cover the whole 4 GB linear memory. */
#define ARENA_SHIFT 22
#define HEAP_ADDR_BITS 32
#else
/* 64-bit hosts: 64 MB arenas inside one reserved 64 GB range. */
#define ARENA_SHIFT 26
#define HEAP_ADDR_BITS 36
#endif
#define ARENA_BYTES ((uintptr_t)1 << ARENA_SHIFT)
#define PAGES_PER_ARENA (ARENA_BYTES / PAGE_SIZE)
#define HEAP_MAX_PAGES ((size_t)1 << (HEAP_ADDR_BITS - PAGE_SHIFT))
#define HEAP_MAX_ARENAS ((size_t)1 << (HEAP_ADDR_BITS - ARENA_SHIFT))

/* Objects up to MAX_SMALL_SIZE come from size-classed spans; larger ones get
 * their own run of pages. */
#define MAX_SMALL_SIZE 32768
/* Pointer-free objects under TINY_SIZE share TINY_SIZE blocks. */
#define TINY_SIZE 16

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Prints 'fatal error: msg' with Go's wording and aborts the process. */
_Noreturn void gort_throw(const char *msg);
/* The words of the first gort_throw (without 'fatal error: '), "" before
 * any: an embedder whose abort carries no text reports them. */
const char *gort_fatal_message(void);

#ifdef GORT_DEBUG
#define gort_assert(cond)                                                    \
    do {                                                                     \
        if (unlikely(!(cond)))                                               \
            gort_assert_failed(#cond, __FILE__, __LINE__);                   \
    } while (0)
_Noreturn void gort_assert_failed(const char *cond, const char *file, int line);
#else
#define gort_assert(cond) ((void)0)
#endif

/* A cheap random number, not for cryptography (rand.c). */
uint32_t cheaprand(void);

/* Uniform in [0, n) (Lemire's multiply-shift; the bias is below n / 2^32). */
static inline uint32_t cheaprandn(uint32_t n) { return (uint32_t)(((uint64_t)cheaprand() * n) >> 32); }

static inline uintptr_t round_up(uintptr_t n, uintptr_t align)
{
    return (n + align - 1) & ~(align - 1);
}

#endif
