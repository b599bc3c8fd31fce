/*
 * mcache.c — refilling and flushing a thread's span cache.
 *
 * Invariants:
 *  - alloc[i] is &emptymspan or a span of class i owned by this cache alone;
 *  - statistics count a span's free slots as allocated when the span enters
 *    the cache and give back those still free when it leaves (Go's
 *    accounting), so the heap's counts are exact for flushed caches.
 */
#include "mcache.h"
#include "mgc.h"

#include "mfixalloc.h"

mspan emptymspan;

static fixalloc cachealloc;
static mutex cachealloc_lock = MUTEX_INIT;

static void cachealloc_setup(void) { fixalloc_init(&cachealloc, sizeof(mcache)); }

mcache *allocmcache(void)
{
    static once ready = ONCE_INIT;
    mheap_init();
    once_do(&ready, cachealloc_setup);
    lock(&cachealloc_lock);
    mcache *c = fixalloc_alloc(&cachealloc);
    unlock(&cachealloc_lock);
    if (c == NULL)
        return NULL;
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++)
        c->alloc[i] = &emptymspan;
    return c;
}

void freemcache(mcache *c)
{
    mcache_release_all(c);
    lock(&cachealloc_lock);
    fixalloc_free(&cachealloc, c);
    unlock(&cachealloc_lock);
}

static void flush_tiny_count(mcache *c)
{
    if (c->tinyAllocs != 0) {
        atomic_fetch_add_explicit(&mheap_.tiny_allocs, c->tinyAllocs, memory_order_relaxed);
        c->tinyAllocs = 0;
    }
}

bool mcache_refill(mcache *c, spanclass spc)
{
    mspan *s = c->alloc[spc];
    if (s != &emptymspan) {
        gort_assert(s->allocCount == s->nelems);
        mcentral_uncache_span(&mheap_.central[spc], s);
        c->alloc[spc] = &emptymspan;
    }
    s = mcentral_cache_span(&mheap_.central[spc]);
    if (s == NULL)
        return false;
    gort_assert(s->allocCount < s->nelems);
    atomic_fetch_add_explicit(&mheap_.small_allocs[spanclass_sizeclass(spc)],
                              (uint64_t)(s->nelems - s->allocCount), memory_order_relaxed);
    flush_tiny_count(c);
    c->alloc[spc] = s;
    /* Counted for the pacer as allocated now, as Go does: this may start a
     * cycle, or (while marking) make this allocation assist. */
    gc_note_alloc(c, (uint64_t)(s->nelems - s->allocCount) * s->elemsize);
    return true;
}

void mcache_release_all(mcache *c)
{
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++) {
        mspan *s = c->alloc[i];
        if (s == &emptymspan)
            continue;
        atomic_fetch_sub_explicit(&mheap_.small_allocs[spanclass_sizeclass((spanclass)i)],
                                  (uint64_t)(s->nelems - s->allocCount), memory_order_relaxed);
        atomic_fetch_sub_explicit(&gcController.heap_live,
                                  (uint64_t)(s->nelems - s->allocCount) * s->elemsize,
                                  memory_order_relaxed);
        mcentral_uncache_span(&mheap_.central[i], s);
        c->alloc[i] = &emptymspan;
    }
    flush_tiny_count(c);
    c->tiny = 0;
    c->tinyoffset = 0;
}

uintptr_t mcache_next_free(mcache *c, spanclass spc)
{
    mspan *s = c->alloc[spc];
    unsigned index = mspan_next_free_index(s);
    if (index == s->nelems) {
        /* A fresh span now and then: where a goroutine's time slice is
         * looked at, off the fast path. */
        sched_slice_check();
        if (!mcache_refill(c, spc))
            return 0;
        s = c->alloc[spc];
        index = mspan_next_free_index(s);
    }
    if (index >= s->nelems)
        gort_throw("runtime: freeIndex is not valid");
    OWNER_STORE(s->allocCount, (uint16_t)(s->allocCount + 1));
    return s->startaddr + (uintptr_t)index * s->elemsize;
}
