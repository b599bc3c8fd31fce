/*
 * mheap.c — the page heap: arenas mapped as the heap grows, the page
 * allocator over them, and spans carved from runs of pages. One lock guards
 * it all; mcaches and mcentrals come here only to get or return whole spans.
 *
 * Invariants (mheap_verify checks them):
 *  - a page is free in the page allocator iff its arena's spans[] entry is
 *    NULL; otherwise the entry is the in-use span that covers it;
 *  - pageInUse has a bit set exactly for the first page of each in-use span;
 *  - spans[] entries are published (release) only after the span is fully
 *    initialized, so span_of() from another thread sees a whole span;
 *  - pages_inuse is the sum of npages over in-use spans;
 *  - a span's type codes (mspan.typecodes) live and die with the span: had
 *    from this heap's fixalloc, given back when the span is freed;
 *  - an arena joins the heap with all of its metadata, had before the arena
 *    is mapped, and a span's structure is had before its pages: when the
 *    system has no memory for them, an allocation fails (NULL) before
 *    anything of the heap has changed.
 */
#include "mheap.h"

#include <string.h>

#include "mfixalloc.h"
#include "mgc.h"
#include "observe.h"
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#include "prim/prim.h"

mheap mheap_;

static fixalloc spanalloc; /* guarded by mheap_.lock */
static fixalloc typecodesalloc; /* mspan.typecodes, guarded by mheap_.lock */

void mspan_list_insert(mspan_list *list, mspan *s)
{
    gort_assert(s->list == NULL && s->next == NULL && s->prev == NULL);
    s->next = list->first;
    if (list->first != NULL)
        list->first->prev = s;
    else
        list->last = s;
    list->first = s;
    s->list = list;
}

void mspan_list_remove(mspan_list *list, mspan *s)
{
    gort_assert(s->list == list);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        list->first = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    else
        list->last = s->prev;
    s->next = s->prev = NULL;
    s->list = NULL;
}

static void heap_setup(void)
{
    sizeclasses_init();
    mheap_.base = prim_heap_base();
    pagealloc_init(&mheap_.pages, HEAP_MAX_PAGES);
    fixalloc_init(&spanalloc, sizeof(mspan));
    fixalloc_init(&typecodesalloc, SPAN_TYPECODES_BYTES);
    atomic_store(&mheap_.sweepgen, 0);
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++)
        mcentral_init(&mheap_.central[i], (spanclass)i);
}

void mheap_init(void)
{
    static once ready = ONCE_INIT;
    once_do(&ready, heap_setup);
}

static inline size_t page_index(uintptr_t addr) { return (addr - mheap_.base) >> PAGE_SHIFT; }
static inline uintptr_t page_addr(size_t page) { return mheap_.base + ((uintptr_t)page << PAGE_SHIFT); }

#define HEAP_BITS_BYTES (ARENA_BYTES / PTR_SIZE / 8)

/* Arena metadata made and not yet used (guarded by mheap_.lock): what a
 * growth made before the arenas themselves could not be had waits here for
 * the next one, since system memory is never given back. */
static heap_arena *spare_arenas;

/* Puts a list of arena metadata (linked by next_spare) back with the
 * spares. Lock held. */
static void give_back_arena_meta(heap_arena *list)
{
    while (list != NULL) {
        heap_arena *next = list->next_spare;
        list->next_spare = spare_arenas;
        spare_arenas = list;
        list = next;
    }
}

/* The metadata of narenas arenas (linked by next_spare), from the spares
 * and made new: all of it or, when the system has no memory for it, none
 * (what was made waits with the spares, completed by a later call). Lock
 * held. */
static heap_arena *take_arena_meta(size_t narenas)
{
    heap_arena *list = NULL;
    for (size_t i = 0; i < narenas; i++) {
        heap_arena *ha = spare_arenas;
        if (ha != NULL) {
            spare_arenas = ha->next_spare;
        } else {
            if ((ha = prim_sys_alloc(sizeof(heap_arena))) == NULL)
                break;
            atomic_fetch_add_explicit(&mheap_.arena_meta_bytes, sizeof(heap_arena),
                                      memory_order_relaxed);
        }
        if (ha->heapbits == NULL && (ha->heapbits = prim_sys_alloc(HEAP_BITS_BYTES)) != NULL)
            atomic_fetch_add_explicit(&mheap_.arena_meta_bytes, HEAP_BITS_BYTES, memory_order_relaxed);
        if (ha->pagemap == NULL)
            ha->pagemap = heapmap_arena_new();
        ha->next_spare = list;
        list = ha;
        if (ha->heapbits == NULL || ha->pagemap == NULL)
            break;
        if (i + 1 == narenas)
            return list;
    }
    give_back_arena_meta(list);
    return NULL;
}

/* Hands narenas mapped arenas at addr to the heap, with their metadata
 * from take_arena_meta (lock held). Cannot fail. */
static void add_arenas_locked(uintptr_t addr, size_t narenas, bool zeroed, heap_arena *meta)
{
    for (size_t i = 0; i < narenas; i++) {
        uintptr_t base = addr + i * ARENA_BYTES;
        heap_arena *ha = meta;
        meta = ha->next_spare;
        ha->next_spare = NULL;
        ha->base = base;
        ha->zeroedBase = zeroed ? 0 : ARENA_BYTES; /* every page may hold old data */
        heapmap_add_arena(base, ha->pagemap);
        size_t n = atomic_load_explicit(&mheap_.narenas, memory_order_relaxed);
        mheap_.allArenas[n] = ha;
        atomic_store_explicit(&mheap_.arenas[(base - mheap_.base) >> ARENA_SHIFT], ha,
                              memory_order_release);
        atomic_store_explicit(&mheap_.narenas, n + 1, memory_order_release);
    }
    pagealloc_grow(&mheap_.pages, page_index(addr), narenas * PAGES_PER_ARENA);
#ifdef GORT_DEBUG
    /* Growth is rare enough to afford a full check of the page summaries. */
    gort_assert(pagealloc_verify(&mheap_.pages));
#endif
}

/* Maps arenas for at least npages more pages; false, with the heap as it
 * was, when neither the arenas nor their metadata can be had. The
 * metadata is had first: once an arena is mapped, nothing can fail. Called
 * with the lock held. */
static bool mheap_grow(size_t npages)
{
    size_t narenas = (npages + PAGES_PER_ARENA - 1) / PAGES_PER_ARENA;
    heap_arena *meta = take_arena_meta(narenas);
    if (meta == NULL)
        return false;
    bool zeroed;
    uintptr_t addr = prim_heap_map(narenas, &zeroed);
    if (addr == 0) {
        give_back_arena_meta(meta);
        return false;
    }
    add_arenas_locked(addr, narenas, zeroed, meta);
    return true;
}

atomic_bool mheap_reserve_low;

void mheap_grow_ahead(void)
{
    /* Called between every sweep and mark slice: a plain load when nothing
     * is asked. */
    if (!PRIM_HEAP_GROW_AHEAD || !atomic_load_explicit(&mheap_reserve_low, memory_order_relaxed) ||
        !atomic_exchange(&mheap_reserve_low, false))
        return;
    lock(&mheap_.lock);
    size_t free_pages = pagealloc_free_pages(&mheap_.pages);
    heap_arena *meta = free_pages < HEAP_RESERVE_PAGES ? take_arena_meta(1) : NULL;
    unlock(&mheap_.lock);
    if (meta == NULL)
        return;
    bool zeroed;
    uintptr_t addr = prim_heap_map(1, &zeroed);
    if (addr != 0 && !zeroed)
        memset((void *)addr, 0, ARENA_BYTES); /* touches every page now, on this thread */
    lock(&mheap_.lock);
    if (addr != 0)
        add_arenas_locked(addr, 1, true, meta);
    else
        give_back_arena_meta(meta);
    unlock(&mheap_.lock);
}

/* Whether a run of pages may hold old data, and records that it now might. */
static bool claim_zeroed(uintptr_t start, size_t npages)
{
    bool dirty = false;
    uintptr_t end = start + npages * PAGE_SIZE;
    for (uintptr_t p = start; p < end;) {
        heap_arena *ha = arena_of(p);
        uintptr_t arena_end = ha->base + ARENA_BYTES;
        uintptr_t run_end = end < arena_end ? end : arena_end;
        if (p - ha->base < ha->zeroedBase)
            dirty = true;
        if (run_end - ha->base > ha->zeroedBase)
            ha->zeroedBase = run_end - ha->base;
        p = run_end;
    }
    return dirty;
}

static void init_span(mspan *s, uintptr_t start, size_t npages, spanclass spc)
{
    s->startaddr = start;
    s->npages = npages;
    s->spanclass = spc;
    s->allocBits = s->bits[0];
    s->gcmarkBits = s->bits[1];
    /* fixalloc hands out zeroed structures: no marks, lists or type of a
     * span's previous life. */
    atomic_store_explicit(&s->sweepgen, atomic_load(&mheap_.sweepgen), memory_order_relaxed);
    unsigned sizeclass = spanclass_sizeclass(spc);
    if (sizeclass == 0) {
        s->elemsize = npages * PAGE_SIZE;
        s->nelems = 1;
        s->limit = start + s->elemsize;
        s->div_mul = 0;
        s->freeindex = 1;
        s->allocCount = 1;
        s->allocCache = 0;
    } else {
        s->elemsize = class_to_size[sizeclass];
        s->nelems = (uint16_t)(npages * PAGE_SIZE / s->elemsize);
        s->limit = start + (uintptr_t)s->nelems * s->elemsize;
        s->div_mul = class_to_div_mul[sizeclass];
        mspan_init_objects(s);
    }
}

static void set_span_map(mspan *s, mspan *value)
{
    for (size_t i = 0; i < s->npages; i++) {
        uintptr_t p = s->startaddr + i * PAGE_SIZE;
        heap_arena *ha = arena_of(p);
        atomic_store_explicit(&ha->spans[(p - ha->base) >> PAGE_SHIFT], value, memory_order_release);
    }
}

static void set_page_in_use(uintptr_t p, bool in_use)
{
    heap_arena *ha = arena_of(p);
    size_t page = (p - ha->base) >> PAGE_SHIFT;
    uint8_t bit = (uint8_t)(1u << (page % 8));
    if (in_use)
        atomic_fetch_or_explicit(&ha->pageInUse[page / 8], bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&ha->pageInUse[page / 8], (uint8_t)~bit, memory_order_relaxed);
}

mspan *mheap_alloc(size_t npages, spanclass spc)
{
    gort_assert(npages > 0);
    if (npages > HEAP_MAX_PAGES)
        return NULL;
    lock(&mheap_.lock);
    /* The span structure first: without one, the pages stay free. */
    mspan *s = fixalloc_alloc(&spanalloc);
    if (s == NULL) {
        unlock(&mheap_.lock);
        return NULL;
    }
    size_t first = pagealloc_alloc(&mheap_.pages, npages);
    if (first == PAGEALLOC_FAILED) {
        if (!mheap_grow(npages)) {
            fixalloc_free(&spanalloc, s);
            unlock(&mheap_.lock);
            return NULL;
        }
        first = pagealloc_alloc(&mheap_.pages, npages);
        if (first == PAGEALLOC_FAILED)
            gort_throw("mheap: grown heap has no room for the request");
    }
    uintptr_t start = page_addr(first);
#if defined(__SANITIZE_ADDRESS__)
    /* The sweeper poisoned what it freed. */
    ASAN_UNPOISON_MEMORY_REGION((void *)start, npages * PAGE_SIZE);
#endif
    s->needzero = claim_zeroed(start, npages);
    init_span(s, start, npages, spc);
    atomic_store_explicit(&s->state, MSPAN_IN_USE, memory_order_relaxed);
    set_span_map(s, s);
    set_page_in_use(start, true);
    heapmap_span_alloc(s);
    atomic_fetch_add_explicit(&mheap_.pages_inuse, npages, memory_order_relaxed);
    atomic_fetch_add_explicit(&mheap_.nspans_inuse, 1, memory_order_relaxed);
    bool low = PRIM_HEAP_GROW_AHEAD && pagealloc_free_pages(&mheap_.pages) < HEAP_RESERVE_PAGES;
    unlock(&mheap_.lock);
    if (low && !atomic_load_explicit(&mheap_reserve_low, memory_order_relaxed)) {
        atomic_store(&mheap_reserve_low, true);
        gc_wake_for_heap();
    }
    return s;
}

void mheap_free_span(mspan *s)
{
    lock(&mheap_.lock);
    gort_assert(atomic_load(&s->state) == MSPAN_IN_USE && s->list == NULL);
    heapmap_span_free(s);
    set_page_in_use(s->startaddr, false);
    set_span_map(s, NULL);
    atomic_store_explicit(&s->state, MSPAN_DEAD, memory_order_relaxed);
    pagealloc_free(&mheap_.pages, page_index(s->startaddr), s->npages);
    atomic_fetch_sub_explicit(&mheap_.pages_inuse, s->npages, memory_order_relaxed);
    atomic_fetch_sub_explicit(&mheap_.nspans_inuse, 1, memory_order_relaxed);
    if (s->typecodes != NULL)
        fixalloc_free(&typecodesalloc, s->typecodes);
    fixalloc_free(&spanalloc, s);
    unlock(&mheap_.lock);
}

uint8_t *mheap_alloc_typecodes(void)
{
    lock(&mheap_.lock);
    uint8_t *codes = fixalloc_alloc(&typecodesalloc);
    unlock(&mheap_.lock);
    return codes;
}

mspan *span_of(uintptr_t p)
{
    heap_arena *ha = arena_of(p);
    if (ha == NULL)
        return NULL;
    mspan *s = atomic_load_explicit(&ha->spans[(p - ha->base) >> PAGE_SHIFT], memory_order_acquire);
    if (s == NULL || atomic_load_explicit(&s->state, memory_order_relaxed) != MSPAN_IN_USE)
        return NULL;
    if (p < s->startaddr || p >= s->startaddr + s->npages * PAGE_SIZE)
        return NULL;
    return s;
}

bool mheap_verify(void)
{
    bool ok = true;
    uint64_t pages_seen = 0;
    lock(&mheap_.lock);
    if (!pagealloc_verify(&mheap_.pages))
        ok = false;
    size_t narenas = atomic_load(&mheap_.narenas);
    for (size_t a = 0; a < narenas && ok; a++) {
        heap_arena *ha = mheap_.allArenas[a];
        for (size_t i = 0; i < PAGES_PER_ARENA && ok; i++) {
            uintptr_t p = ha->base + i * PAGE_SIZE;
            mspan *s = atomic_load(&ha->spans[i]);
            bool page_free = pagealloc_page_free(&mheap_.pages, page_index(p));
            bool first_bit = (atomic_load(&ha->pageInUse[i / 8]) >> (i % 8)) & 1;
            if (s == NULL) {
                ok = page_free && !first_bit;
                continue;
            }
            pages_seen++;
            ok = !page_free && atomic_load(&s->state) == MSPAN_IN_USE && p >= s->startaddr &&
                 p < s->startaddr + s->npages * PAGE_SIZE && first_bit == (p == s->startaddr);
        }
    }
    if (ok && pages_seen != atomic_load(&mheap_.pages_inuse))
        ok = false;
    unlock(&mheap_.lock);
    return ok;
}

void mheap_each_span(void (*fn)(mspan *s, void *arg), void *arg)
{
    lock(&mheap_.lock);
    size_t narenas = atomic_load(&mheap_.narenas);
    for (size_t a = 0; a < narenas; a++) {
        heap_arena *ha = mheap_.allArenas[a];
        for (size_t i = 0; i < PAGES_PER_ARENA; i++) {
            if (((atomic_load_explicit(&ha->pageInUse[i / 8], memory_order_relaxed) >> (i % 8)) &
                 1) == 0)
                continue;
            mspan *s = atomic_load_explicit(&ha->spans[i], memory_order_relaxed);
            if (s != NULL)
                fn(s, arg);
        }
    }
    unlock(&mheap_.lock);
}
