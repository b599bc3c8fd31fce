/*
 * mgcsweep.c — sweeping (Go's mgcsweep.go): after a cycle's mark, every
 * span is swept once before it is allocated from again. Sweeping a span
 * makes its mark bits its new allocation bits (the unmarked objects become
 * free slots) and gives a span with nothing marked back to the heap,
 * unless an allocating cache swept it: that one keeps it (Go's preserve).
 *
 * Spans wait on their mcentral's unswept lists (the collector turns every
 * swept list into an unswept one by adding 2 to sweepgen); the background
 * sweeper, allocating threads that need a span (lazy sweeping) and heap
 * growth (reclaiming) take them off one at a time.
 *
 * Invariants:
 *  - a span is swept by whoever takes it off an unswept list (under the
 *    mcentral's lock), so exactly once per cycle; its sweepgen reads sg-2
 *    before, sg-1 while, and sg once swept;
 *  - no mcache holds an unswept span: caches are flushed before sweepgen
 *    moves, and only swept spans are cached;
 *  - freed objects are poisoned under AddressSanitizer and filled with a
 *    pattern in debug builds, so a use after a wrong free shows at once;
 *  - the span's sweepgen is its sequence lock for readers of its allocation
 *    state that hold neither the span nor its mcentral (gort_find_object):
 *    odd while the bits are rewritten, and a reader that saw it move reads
 *    again (mspan_read_racing_sweep).
 */
#include <string.h>

#include "mgc.h"
#include "observe.h"
#include "prim/prim.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON_FREED(addr, size) ASAN_POISON_MEMORY_REGION((void *)(addr), (size))
#elif defined(GORT_DEBUG)
#define FREED_FILL 0xdb
#define POISON_FREED(addr, size) memset((void *)(addr), FREED_FILL, (size))
#else
#define POISON_FREED(addr, size) ((void)0)
#endif

/* Spans a lazy sweep looks at before it takes fresh pages instead. */
#define LAZY_SWEEP_BUDGET 100

atomic_size_t sweep_remaining;
static atomic_uint sweep_cursor;

static inline mspan_list *unswept_list(mspan_list lists[2], unsigned sg) { return &lists[(sg / 2 + 1) % 2]; }
static inline mspan_list *swept_list(mspan_list lists[2], unsigned sg) { return &lists[sg / 2 % 2]; }

static void sweep_done_one(void)
{
    size_t n = atomic_load_explicit(&sweep_remaining, memory_order_relaxed);
    while (n > 0 && !atomic_compare_exchange_weak(&sweep_remaining, &n, n - 1))
        ;
}

void sweep_start_cycle(void)
{
    atomic_store(&sweep_remaining, (size_t)atomic_load(&mheap_.nspans_inuse));
    atomic_fetch_add_explicit(&mheap_.sweepgen, 2, memory_order_release);
}

static uint16_t count_marked(const mspan *s)
{
    unsigned n = 0;
    unsigned words = (s->nelems + 63) / 64;
    for (unsigned w = 0; w < words; w++) {
        uint64_t bits = s->gcmarkBits[w];
        if (w == words - 1 && s->nelems % 64 != 0)
            bits &= ((uint64_t)1 << (s->nelems % 64)) - 1;
        n += (unsigned)__builtin_popcountll(bits);
    }
    return (uint16_t)n;
}

static void poison_unmarked(const mspan *s)
{
#if defined(__SANITIZE_ADDRESS__) || defined(GORT_DEBUG)
    for (unsigned i = 0; i < s->nelems; i++) {
        bool was_allocated = i < s->freeindex || ((s->allocBits[i / 64] >> (i % 64)) & 1);
        bool marked = (s->gcmarkBits[i / 64] >> (i % 64)) & 1;
        if (was_allocated && !marked)
            POISON_FREED(s->startaddr + (uintptr_t)i * s->elemsize, s->elemsize);
    }
#else
    (void)s;
#endif
}

/* Spins a reader waits out a sweep in progress before it lets another
 * thread run (the sweeper may be descheduled mid-span). */
#define SWEEP_WAIT_SPINS 64
#define SWEEP_WAIT_PAUSE 16

void mspan_read_racing_sweep(const mspan *s, void (*read)(const mspan *s, void *arg), void *arg)
{
    for (unsigned tries = 0;; tries++) {
        unsigned before = atomic_load_explicit(&s->sweepgen, memory_order_acquire);
        if ((before & 1) == 0) {
            read(s, arg);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&s->sweepgen, memory_order_relaxed) == before)
                return;
        }
        if (tries < SWEEP_WAIT_SPINS)
            prim_procyield(SWEEP_WAIT_PAUSE);
        else
            prim_osyield();
    }
}

struct allocated_read {
    uintptr_t index;
    bool allocated;
};

static void read_allocated(const mspan *s, void *arg)
{
    struct allocated_read *r = arg;
    r->allocated = mspan_is_allocated(s, r->index);
}

bool mspan_is_allocated_racing_sweep(const mspan *s, uintptr_t index)
{
    struct allocated_read r = {.index = index};
    mspan_read_racing_sweep(s, read_allocated, &r);
    return r.allocated;
}

/* The words of a span's bitmap, cleared word by word: a reader racing the
 * sweep may still read the array (mspan_read_racing_sweep). */
static void clear_bits_shared(uint64_t *bits)
{
    for (unsigned w = 0; w < SPAN_BITS_WORDS; w++)
        OWNER_STORE(bits[w], 0);
}

bool mspan_sweep(mspan *s, bool preserve)
{
    unsigned sg = atomic_load_explicit(&mheap_.sweepgen, memory_order_acquire);
    atomic_store_explicit(&s->sweepgen, sg - 1, memory_order_relaxed);
    /* Orders the odd sweepgen before every write below, for the readers. */
    atomic_thread_fence(memory_order_release);
    if (spanclass_sizeclass(s->spanclass) == 0) {
        bool live = s->gcmarkBits[0] & 1;
        OWNER_STORE(s->gcmarkBits[0], 0);
        OWNER_STORE(s->scanBits[0], 0);
        atomic_store_explicit(&s->sweepgen, sg, memory_order_release);
        sweep_done_one();
        if (live) {
            heapmap_span_swept(s);
            return true;
        }
        atomic_fetch_add_explicit(&mheap_.large_frees, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&mheap_.large_bytes_freed, s->npages * PAGE_SIZE, memory_order_relaxed);
        atomic_fetch_sub_explicit(&mheap_.large_bytes_alloc, s->npages * PAGE_SIZE,
                                  memory_order_relaxed);
        POISON_FREED(s->startaddr, s->npages * PAGE_SIZE);
        mheap_free_span(s);
        return false;
    }
    uint16_t live = count_marked(s);
    uint16_t freed = (uint16_t)(s->allocCount - live);
    if (freed > 0) {
        poison_unmarked(s);
        atomic_fetch_add_explicit(&mheap_.small_frees[spanclass_sizeclass(s->spanclass)], freed,
                                  memory_order_relaxed);
        s->needzero = true;
    }
    uint64_t *was_alloc = s->allocBits;
    OWNER_STORE(s->allocBits, s->gcmarkBits);
    OWNER_STORE(s->gcmarkBits, was_alloc);
    clear_bits_shared(was_alloc);
    clear_bits_shared(s->scanBits);
    OWNER_STORE(s->freeindex, 0);
    OWNER_STORE(s->allocCount, live);
    mspan_refill_alloc_cache(s, 0);
    atomic_store_explicit(&s->sweepgen, sg, memory_order_release);
    sweep_done_one();
    if (live == 0 && !preserve) {
        mheap_free_span(s);
        return false;
    }
    heapmap_span_swept(s);
    return true;
}

/* Puts a swept span that stays in use on its mcentral's swept lists. */
static void place_swept(mspan *s)
{
    mcentral *c = &mheap_.central[s->spanclass];
    unsigned sg = atomic_load_explicit(&mheap_.sweepgen, memory_order_acquire);
    lock(&c->lock);
    if (s->allocCount == s->nelems)
        mspan_list_insert(swept_list(c->full, sg), s);
    else
        mspan_list_insert(swept_list(c->partial, sg), s);
    unlock(&c->lock);
}

/* Takes an unswept span of c, or NULL. */
static mspan *take_unswept(mcentral *c, unsigned sg, bool partial_only)
{
    lock(&c->lock);
    mspan_list *l = unswept_list(c->partial, sg);
    mspan *s = l->first;
    if (s == NULL && !partial_only) {
        l = unswept_list(c->full, sg);
        s = l->first;
    }
    if (s != NULL)
        mspan_list_remove(l, s);
    unlock(&c->lock);
    return s;
}

/* Sweeps one span of any class; returns its pages when it was freed, 0
 * when it stays, -1 when nothing is left to sweep. */
static intptr_t sweep_any(void)
{
    unsigned sg = atomic_load_explicit(&mheap_.sweepgen, memory_order_acquire);
    unsigned start = atomic_load_explicit(&sweep_cursor, memory_order_relaxed);
    for (unsigned k = 0; k < NUM_SPAN_CLASSES; k++) {
        unsigned spc = (start + k) % NUM_SPAN_CLASSES;
        mspan *s = take_unswept(&mheap_.central[spc], sg, false);
        if (s == NULL)
            continue;
        atomic_store_explicit(&sweep_cursor, spc, memory_order_relaxed);
        size_t npages = s->npages;
        if (!mspan_sweep(s, false))
            return (intptr_t)npages;
        place_swept(s);
        return 0;
    }
    return -1;
}

bool sweepone(void) { return sweep_any() >= 0; }

void sweep_reclaim(size_t npages)
{
    size_t freed = 0;
    /* A stop-the-world waits for the allocating goroutine: stop early (the
     * heap grows instead). */
    while (freed < npages && atomic_load_explicit(&sweep_remaining, memory_order_relaxed) > 0 &&
           !sched_gcwaiting()) {
        intptr_t n = sweep_any();
        if (n < 0)
            break;
        freed += (size_t)n;
    }
}

mspan *mcentral_sweep_for_alloc(mcentral *c)
{
    unsigned sg = atomic_load_explicit(&mheap_.sweepgen, memory_order_acquire);
    for (int budget = 0; budget < LAZY_SWEEP_BUDGET && !sched_gcwaiting(); budget++) {
        mspan *s = take_unswept(c, sg, false);
        if (s == NULL)
            return NULL;
        /* A span left with nothing live is the caller's as it is, as in
         * Go's cacheSpan: freeing it to the heap only for the next take
         * to carve the same pages again cost two trips through the heap's
         * lock, which the background sweeper also takes to free spans. */
        if (!mspan_sweep(s, true))
            gort_throw("sweep: a small-object span swept for allocation was freed");
        if (s->allocCount < s->nelems)
            return s;
        place_swept(s);
    }
    return NULL;
}
