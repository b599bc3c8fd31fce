/*
 * heapmap.c — the heap's page map (gort/trace.h): one 12-byte record per
 * page of every arena, in memory a reader on another thread (a JS frame
 * loop) copies with plain loads, for drawing the heap live. The records
 * change at span events only — a span made, freed, swept, taken by a
 * thread's cache or given back — never per allocation, so the allocation
 * fast path pays nothing and a span's count of objects in use is the one
 * its last event saw.
 *
 * Invariants:
 *  - an arena's map exists before any span in it (made when the arena is
 *    added, under the heap lock) and is never freed nor moved;
 *  - a span's records are written only by the span's owner of the moment
 *    (the heap lock's holder when it is made or freed, its sweeper, the
 *    cache that takes or returns it), so two writers never write the same
 *    record; making and freeing a span (which changes which pages belong to
 *    it) is bracketed by its arenas' writer counts and ends by moving their
 *    generation; the other events rewrite only the counts, sweepgen and
 *    flags of its first record and then move the generation (one atomic
 *    add): a copy taken meanwhile may hold those words from either side of
 *    the event, never a half-made span;
 *  - a span's first page says how many pages it has, and exactly those
 *    further pages say they belong to it, in every consistent copy;
 *  - the per-page work counters (gort_heapmap_work) only move, outside the
 *    generation protocol: any thread whose barrier shades or whose assist
 *    scans an object counts it, with a relaxed load and store (a lost count
 *    among racing threads is harmless: a reader wants to know that a page
 *    saw work, not how much), and only at those already slow moments.
 */
#include <stdatomic.h>
#include <string.h>

#include "gort/mstats.h"
#include "gort/trace.h"
#include "mheap.h"
#include "observe.h"
#include "prim/prim.h"

_Static_assert(sizeof(gort_heapmap_page) == 12, "a page record is 12 bytes: the JS reader's stride");
_Static_assert(HEAP_MAX_ARENAS <= GORT_HEAPMAP_MAX_ARENAS, "the map's directory covers every arena");

#define GEN_WRITER 1u
#define GEN_DONE ((1u << 8) - 1) /* added at the end: generation +1, writers -1 */
#define GEN_WRITERS_MASK 0xffu
#define GEN_ONE (1u << 8) /* one generation, no writer */
/* A reader's pause between tries while a writer is at an arena. */
#define READ_RETRY_SPIN 16

#ifdef __wasm__
#define MAP_STORE(field, v) ((field) = (v))
#else
#define MAP_STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#endif
#define MAP_LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

static gort_heapmap_header map = {
    .pages_per_arena = PAGES_PER_ARENA,
    .page_size = PAGE_SIZE,
    /* Set here once: written again as each arena joined, it raced with
     * gort_heapmap's readers (TSan). */
    .sweepgen = (const uint32_t *)&mheap_.sweepgen,
};
/* The same maps by arena slot (address >> ARENA_SHIFT from the heap's base). */
static gort_heapmap_arena *by_slot[HEAP_MAX_ARENAS];

const gort_heapmap_header *gort_heapmap(void)
{
    mheap_init();
    return &map;
}

/* The work counters follow the page records in the arena's one block. */
#define WORK_OFFSET (sizeof(gort_heapmap_arena) + PAGES_PER_ARENA * sizeof(gort_heapmap_page))
_Static_assert(WORK_OFFSET % _Alignof(gort_heapmap_work) == 0, "the work counters are aligned");

gort_heapmap_arena *heapmap_arena_new(void)
{
    gort_heapmap_arena *a = prim_sys_alloc(WORK_OFFSET + PAGES_PER_ARENA * sizeof(gort_heapmap_work));
    if (a != NULL)
        a->work_offset = WORK_OFFSET;
    return a;
}

void heapmap_add_arena(uintptr_t base, gort_heapmap_arena *a)
{
    a->base = base;
    by_slot[(base - mheap_.base) >> ARENA_SHIFT] = a;
    uint32_t n = map.narenas;
    map.arenas[n] = a;
    __atomic_store_n(&map.narenas, n + 1, __ATOMIC_RELEASE);
}

static inline size_t slot_of(uintptr_t addr) { return (addr - mheap_.base) >> ARENA_SHIFT; }

/* Holds (or lets go) every arena the span's pages are in. */
static void span_write_begin(const mspan *s)
{
    size_t last = slot_of(s->startaddr + s->npages * PAGE_SIZE - 1);
    for (size_t k = slot_of(s->startaddr); k <= last; k++)
        __atomic_fetch_add(&by_slot[k]->gen, GEN_WRITER, __ATOMIC_SEQ_CST);
    atomic_thread_fence(memory_order_release);
}

static void span_write_end(const mspan *s)
{
    size_t last = slot_of(s->startaddr + s->npages * PAGE_SIZE - 1);
    for (size_t k = slot_of(s->startaddr); k <= last; k++)
        __atomic_fetch_add(&by_slot[k]->gen, GEN_DONE, __ATOMIC_RELEASE);
}

static gort_heapmap_page *record_of(uintptr_t page_addr)
{
    gort_heapmap_arena *a = by_slot[slot_of(page_addr)];
    return &a->pages[(page_addr - (uintptr_t)a->base) >> PAGE_SHIFT];
}

/* Stores a record word by word (readers copy words). */
static void store_record(gort_heapmap_page *to, const gort_heapmap_page *from)
{
    uint32_t w[3];
    memcpy(w, from, sizeof w);
    uint32_t *dst = (uint32_t *)to;
    MAP_STORE(dst[0], w[0]);
    MAP_STORE(dst[1], w[1]);
    MAP_STORE(dst[2], w[2]);
}

static gort_heapmap_page start_record(const mspan *s, uint16_t marked, bool cached)
{
    return (gort_heapmap_page){
        .state = GORT_PAGE_SPAN_START,
        .spanclass = s->spanclass,
        .nelems = s->nelems,
        .inuse = SHARED_LOAD(s->allocCount),
        .marked = marked,
        .npages = s->npages > UINT16_MAX ? UINT16_MAX : (uint16_t)s->npages,
        .sweepgen = (uint8_t)atomic_load_explicit(&((mspan *)s)->sweepgen, memory_order_relaxed),
        .flags = cached ? GORT_HEAPMAP_CACHED : 0,
    };
}

void heapmap_span_alloc(mspan *s)
{
    span_write_begin(s);
    gort_heapmap_page start = start_record(s, 0, false);
    gort_heapmap_page rest = {.state = GORT_PAGE_SPAN_REST};
    store_record(record_of(s->startaddr), &start);
    for (size_t i = 1; i < s->npages; i++)
        store_record(record_of(s->startaddr + i * PAGE_SIZE), &rest);
    span_write_end(s);
}

void heapmap_span_free(mspan *s)
{
    span_write_begin(s);
    gort_heapmap_page none = {0};
    for (size_t i = 0; i < s->npages; i++)
        store_record(record_of(s->startaddr + i * PAGE_SIZE), &none);
    span_write_end(s);
}

/* Rewrites a span's first record, whose state, class, slots and pages stay
 * what they are, and marks its arena changed. */
static void rewrite_start(mspan *s, uint16_t marked, bool cached)
{
    gort_heapmap_page *rec = record_of(s->startaddr);
    gort_heapmap_page r = start_record(s, marked, cached);
    store_record(rec, &r);
    __atomic_fetch_add(&by_slot[slot_of(s->startaddr)]->gen, GEN_ONE, __ATOMIC_RELEASE);
}

void heapmap_span_update(mspan *s, bool cached)
{
    rewrite_start(s, MAP_LOAD(record_of(s->startaddr)->marked), cached);
}

void heapmap_span_swept(mspan *s) { rewrite_start(s, SHARED_LOAD(s->allocCount), false); }

/* The work counters of the page holding obj (an object the caller found
 * through the heap's arena index, which publishes the arena after its map). */
static gort_heapmap_work *work_of(uintptr_t obj)
{
    gort_heapmap_arena *a = by_slot[slot_of(obj)];
    gort_heapmap_work *work = (gort_heapmap_work *)(void *)((char *)a + WORK_OFFSET);
    return &work[(obj - (uintptr_t)a->base) >> PAGE_SHIFT];
}

static inline void count(uint16_t *counter)
{
    MAP_STORE(*counter, (uint16_t)(MAP_LOAD(*counter) + 1));
}

void heapmap_note_shade(uintptr_t obj) { count(&work_of(obj)->shades); }
void heapmap_note_assist(uintptr_t obj) { count(&work_of(obj)->assists); }

int64_t gort_heapmap_read(size_t index, gort_heapmap_page *out, int tries)
{
    if (index >= __atomic_load_n(&map.narenas, __ATOMIC_ACQUIRE))
        return -1;
    gort_heapmap_arena *a = map.arenas[index];
    const uint32_t *src = (const uint32_t *)a->pages;
    uint32_t *dst = (uint32_t *)out;
    size_t words = PAGES_PER_ARENA * sizeof(gort_heapmap_page) / sizeof(uint32_t);
    for (int t = 0; t < tries; t++) {
        uint32_t g1 = __atomic_load_n(&a->gen, __ATOMIC_ACQUIRE);
        if ((g1 & GEN_WRITERS_MASK) != 0) {
            prim_procyield(READ_RETRY_SPIN);
            continue;
        }
        for (size_t i = 0; i < words; i++)
            dst[i] = MAP_LOAD(src[i]);
        atomic_thread_fence(memory_order_acquire);
        if (__atomic_load_n(&a->gen, __ATOMIC_ACQUIRE) == g1)
            return g1 >> 8;
    }
    return -1;
}

int gort_heapmap_sweep_state(const gort_heapmap_page *page)
{
    mheap_init();
    uint8_t sg = (uint8_t)atomic_load_explicit(&mheap_.sweepgen, memory_order_relaxed);
    switch ((uint8_t)(sg - page->sweepgen)) {
    case 1:
        return GORT_SPAN_SWEEPING;
    case 2:
        return GORT_SPAN_UNSWEPT;
    default:
        return GORT_SPAN_SWEPT;
    }
}
