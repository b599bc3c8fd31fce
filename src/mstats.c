/*
 * mstats.c — memory statistics (Go's ReadMemStats) and heap snapshots for
 * the playground and tools.
 *
 * Invariant: neither call stops allocation. Statistics are read from atomic
 * counters; a snapshot holds the heap lock for one arena at a time.
 */
#include <string.h>

#include "gort/mstats.h"
#include "mgc.h"
#include "runtime2.h"
#include "stack.h"

void gort_read_memstats(gort_memstats *st)
{
    mheap_init();
    memset(st, 0, sizeof *st);
    uint64_t small_bytes = 0;
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        uint64_t mallocs = atomic_load_explicit(&mheap_.small_allocs[c], memory_order_relaxed);
        uint64_t frees = atomic_load_explicit(&mheap_.small_frees[c], memory_order_relaxed);
        st->by_size[c].size = class_to_size[c];
        st->by_size[c].mallocs = mallocs;
        st->by_size[c].frees = frees;
        st->mallocs += mallocs;
        st->frees += frees;
        small_bytes += (mallocs - frees) * class_to_size[c];
    }
    st->by_size[0].mallocs = atomic_load_explicit(&mheap_.large_allocs, memory_order_relaxed);
    st->by_size[0].frees = atomic_load_explicit(&mheap_.large_frees, memory_order_relaxed);
    st->mallocs += st->by_size[0].mallocs;
    st->frees += st->by_size[0].frees;
    /* A tiny object sharing a block counts as an allocation of its own. */
    st->mallocs += atomic_load_explicit(&mheap_.tiny_allocs, memory_order_relaxed);
    st->heap_objects = st->mallocs - st->frees;
    st->heap_alloc =
        small_bytes + atomic_load_explicit(&mheap_.large_bytes_alloc, memory_order_relaxed);
    st->arenas = atomic_load_explicit(&mheap_.narenas, memory_order_acquire);
    st->heap_sys = st->arenas * (uint64_t)ARENA_BYTES;
    st->heap_inuse = atomic_load_explicit(&mheap_.pages_inuse, memory_order_relaxed) * PAGE_SIZE;
    st->heap_idle = st->heap_sys - st->heap_inuse;
    st->mspan_inuse = atomic_load_explicit(&mheap_.nspans_inuse, memory_order_relaxed);
    st->arena_meta_sys = atomic_load_explicit(&mheap_.arena_meta_bytes, memory_order_relaxed);
    stack_read_stats(&st->stack_inuse, &st->stack_sys);
    st->goroutine_sys = sched_goroutine_sys_bytes();
    gc_read_stats(st);
}

size_t gort_page_size(void) { return PAGE_SIZE; }
size_t gort_pages_per_arena(void) { return PAGES_PER_ARENA; }

size_t gort_heap_arenas(uintptr_t *bases, size_t max)
{
    mheap_init();
    size_t n = atomic_load_explicit(&mheap_.narenas, memory_order_acquire);
    for (size_t i = 0; i < n && i < max; i++)
        bases[i] = mheap_.allArenas[i]->base;
    return n;
}

static inline bool bit_at(const uint64_t *bits, size_t i)
{
    return (__atomic_load_n((const uint8_t *)bits + i / 8, __ATOMIC_RELAXED) >> (i % 8)) & 1;
}

/* The span's marked slots, counted beside its sweep (mspan_read_racing_sweep). */
static void read_marked(const mspan *s, void *arg)
{
    const uint64_t *marks = SHARED_LOAD(s->gcmarkBits);
    uint16_t n = 0;
    for (size_t i = 0; i < s->nelems; i++)
        n += bit_at(marks, i);
    *(uint16_t *)arg = n;
}

struct colors_read {
    uint8_t *colors;
    size_t n;
};

static void read_colors(const mspan *s, void *arg)
{
    struct colors_read *r = arg;
    const uint64_t *marks = SHARED_LOAD(s->gcmarkBits);
    bool noscan = spanclass_noscan(s->spanclass);
    for (size_t i = 0; i < r->n; i++) {
        if (!mspan_is_allocated(s, i))
            r->colors[i] = GORT_OBJECT_FREE;
        else if (!bit_at(marks, i))
            r->colors[i] = GORT_OBJECT_WHITE;
        else
            r->colors[i] = noscan || bit_at(s->scanBits, i) ? GORT_OBJECT_BLACK : GORT_OBJECT_GREY;
    }
}

/* The heap lock keeps the span from being freed (and its memory remade) while
 * it is read; its sweep, which takes no heap lock, is waited out. */
size_t gort_heap_span_colors(uintptr_t span, uint8_t *colors, size_t max)
{
    mheap_init();
    size_t n = 0;
    lock(&mheap_.lock);
    mspan *s = span_of(span);
    if (s != NULL && s->startaddr == span) {
        n = s->nelems;
        struct colors_read r = {.colors = colors, .n = n < max ? n : max};
        mspan_read_racing_sweep(s, read_colors, &r);
    }
    unlock(&mheap_.lock);
    return n;
}

static void snapshot_arena(heap_arena *ha, gort_page_record *out, size_t max)
{
    for (size_t i = 0; i < PAGES_PER_ARENA && i < max; i++) {
        gort_page_record r = {0};
        mspan *s = atomic_load_explicit(&ha->spans[i], memory_order_acquire);
        if (s != NULL) {
            uintptr_t p = ha->base + i * PAGE_SIZE;
            if (p == s->startaddr) {
                r.state = GORT_PAGE_SPAN_START;
                r.spanclass = s->spanclass;
                r.nelems = s->nelems;
                r.inuse = SHARED_LOAD(s->allocCount);
                r.npages = s->npages > UINT16_MAX ? UINT16_MAX : (uint16_t)s->npages;
                mspan_read_racing_sweep(s, read_marked, &r.marked);
                unsigned sg = atomic_load_explicit(&mheap_.sweepgen, memory_order_relaxed);
                unsigned ssg = atomic_load_explicit(&s->sweepgen, memory_order_relaxed);
                r.sweep = ssg == sg - 2 ? GORT_SPAN_UNSWEPT
                          : ssg == sg - 1 ? GORT_SPAN_SWEEPING
                                          : GORT_SPAN_SWEPT;
            } else {
                r.state = GORT_PAGE_SPAN_REST;
            }
        }
        out[i] = r;
    }
}

size_t gort_heap_snapshot(gort_page_record *pages, size_t max)
{
    mheap_init();
    size_t n = atomic_load_explicit(&mheap_.narenas, memory_order_acquire);
    for (size_t a = 0; a < n; a++) {
        size_t first = a * PAGES_PER_ARENA;
        if (first >= max)
            break;
        lock(&mheap_.lock);
        snapshot_arena(mheap_.allArenas[a], pages + first, max - first);
        unlock(&mheap_.lock);
    }
    return n * PAGES_PER_ARENA;
}
