/*
 * mcache.h — a per-thread (later per-P) cache of spans, one per span class,
 * plus the tiny allocator; allocation from it takes no lock. As Go's mcache.
 */
#ifndef GORT_MCACHE_H
#define GORT_MCACHE_H

#include "mheap.h"

typedef struct mcache {
    /* The tiny block being filled (0 for none) and the next free offset in
     * it; objects placed in it since the last flush. */
    uintptr_t tiny;
    uintptr_t tinyoffset;
    uint64_t tinyAllocs;
    mspan *alloc[NUM_SPAN_CLASSES];
    /* Scan work this cache's allocations owe during mark (assists). */
    int64_t gc_assist_debt;
    /* Bytes allocated black in this cycle, not yet in the marked total. */
    uint64_t gc_black_bytes;
    /* True for the threads' shared cache (no p): no assists from it. */
    bool shared;
} mcache;

/* The span every empty slot of an mcache points at: it has no free object,
 * so the fast path needs no NULL check. */
extern mspan emptymspan;

mcache *allocmcache(void);
/* Returns every cached span to its mcentral and folds the cache's counts
 * into the heap's statistics; the mcache stays usable. */
void mcache_release_all(mcache *c);
void freemcache(mcache *c);

/* Replaces the cache's span of class spc with one that has a free slot;
 * false when the heap cannot grow. */
bool mcache_refill(mcache *c, spanclass spc);

/* Makes c the cache the calling thread allocates from (a worker binds its
 * p's cache when it takes the p, and NULL when it lets it go). */
void malloc_bind_cache(mcache *c);

/* Allocation fast path: the next free slot of s from allocCache alone, or 0
 * when the slow path must run (cache window exhausted or span full). */
static inline uintptr_t next_free_fast(mspan *s)
{
    uint64_t cache = s->allocCache;
    if (cache == 0)
        return 0;
    unsigned bit = (unsigned)__builtin_ctzll(cache);
    unsigned result = s->freeindex + bit;
    if (result >= s->nelems)
        return 0;
    unsigned next = result + 1;
    if (next % 64 == 0 && next != s->nelems)
        return 0; /* the window must be refilled: the slow path does it */
    s->allocCache = cache >> bit >> 1;
    OWNER_STORE(s->freeindex, (uint16_t)next);
    OWNER_STORE(s->allocCount, (uint16_t)(s->allocCount + 1));
    return s->startaddr + (uintptr_t)result * s->elemsize;
}

/* Allocation slow path: a free slot of class spc, refilling the span when it
 * is full; 0 when the heap cannot grow. The slot's span is c->alloc[spc]
 * afterwards (read from there: a span returned through a pointer would take
 * a C stack frame in every caller on wasm, a stack-pointer move and its
 * overflow check on each allocation). */
uintptr_t mcache_next_free(mcache *c, spanclass spc);

#endif
