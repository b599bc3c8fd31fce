/*
 * mheap.h — the heap's data structures, named as in Go's runtime: mspan (a run
 * of pages holding objects of one span class, or one large object), heap_arena
 * (an arena's metadata), mcentral (the spans of one span class not cached by
 * any thread) and mheap (the arenas, the page allocator, one lock).
 *
 * Invariants:
 *  - A span in state MSPAN_IN_USE is found from every one of its pages through
 *    its arena's spans[] map; free pages map to NULL.
 *  - pageInUse has a bit set exactly for the first page of each in-use span.
 *  - Object i of a span is allocated iff i < freeindex or bit i of allocBits
 *    is set: allocation advances freeindex without touching allocBits, and
 *    sweeping makes gcmarkBits the new allocBits and rewinds freeindex to 0.
 *  - allocCache holds the complement of allocBits from the 64-object group
 *    containing freeindex, shifted so that bit 0 is object freeindex.
 *  - A span cached by an mcache is on no mcentral list.
 */
#ifndef GORT_MHEAP_H
#define GORT_MHEAP_H

#include "gort/malloc.h"
#include "lock.h"
#include "mpagealloc.h"
#include "runtime.h"
#include "sizeclasses.h"

/* The most objects a span holds: 8 B objects in one page. */
#define MAX_SPAN_OBJECTS (PAGE_SIZE / 8)
#define SPAN_BITS_WORDS (MAX_SPAN_OBJECTS / 64)
/* The distinct types a span names for its objects (mspan.types). */
#define SPAN_TYPES 4
/* A span's type codes (mspan.typecodes): a nibble per object slot, k for
 * types[k], SPAN_TYPE_OTHER for a type past the first SPAN_TYPES. */
#define SPAN_TYPE_CODE_BITS 4
#define SPAN_TYPE_CODE_MASK ((1u << SPAN_TYPE_CODE_BITS) - 1)
#define SPAN_TYPE_OTHER SPAN_TYPE_CODE_MASK
#define SPAN_TYPECODES_BYTES (MAX_SPAN_OBJECTS * SPAN_TYPE_CODE_BITS / 8)

enum mspan_state {
    MSPAN_DEAD = 0,   /* on the free list of span structures */
    MSPAN_IN_USE = 1, /* holds heap objects */
};

struct mspan_list;

typedef struct mspan {
    struct mspan *next;
    struct mspan *prev;
    struct mspan_list *list; /* the list this span is on, or NULL */

    uintptr_t startaddr;
    size_t npages;
    uintptr_t limit; /* end of the last object slot */
    uintptr_t elemsize;
    uint32_t div_mul; /* object index = (offset * div_mul) >> 32 */

    uint16_t nelems;
    /* freeindex and allocCount change on the owner's allocation fast path
     * (OWNER_STORE) and are read by other threads (SHARED_LOAD). */
    uint16_t freeindex;
    uint16_t allocCount;
    spanclass spanclass;
    bool needzero; /* the span's memory may be dirty */
    _Atomic uint8_t state;
    atomic_uint sweepgen; /* as Go's: sg-2 needs sweeping, sg-1 being swept, sg swept */

    uint64_t allocCache;
    uint64_t *allocBits;
    uint64_t *gcmarkBits;

    /* A large object's type (and how many values of it), so that the
     * collector can scan it without a per-word bitmap. */
    const gort_type *largetype;
    size_t largecount;

    /* The types objects were allocated with since the span was made (NULL:
     * untyped bytes), the first SPAN_TYPES of them, so that a viewer can
     * name an object's type (one type: exactly; several: one of them);
     * types_more says there were others. Written by the span's allocating
     * owner (OWNER_STORE), read by viewers. */
    const gort_type *types[SPAN_TYPES];
    uint8_t ntypes;
    bool types_more;
    /* Once a second type comes, each object's type as a code per slot
     * (SPAN_TYPE_CODE_BITS; zero, types[0], for the objects before), so
     * that a viewer names every object's type exactly; NULL while every
     * object is of types[0] (or when there was no memory for the codes).
     * Written by the owner like types, freed with the span (mheap.c). */
    uint8_t *typecodes;

    uint64_t bits[2][SPAN_BITS_WORDS]; /* storage behind allocBits, gcmarkBits */
    /* Set once a marked object has been scanned (black, for the heap
     * snapshot); during a checkmark, the check marks. */
    uint64_t scanBits[SPAN_BITS_WORDS];
} mspan;

/*
 * Natively these are relaxed atomics: plain moves on x86, and visible as
 * atomics to ThreadSanitizer. On wasm every atomic store is sequentially
 * consistent (an exchange), too dear for the fast path; a racing reader there
 * may see a slightly stale value, never a torn one, since the fields are
 * aligned.
 */
#ifdef __wasm__
#define OWNER_STORE(field, v) ((field) = (v))
#else
#define OWNER_STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#endif
#define SHARED_LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

typedef struct mspan_list {
    mspan *first;
    mspan *last;
} mspan_list;

void mspan_list_insert(mspan_list *list, mspan *s);
void mspan_list_remove(mspan_list *list, mspan *s);
static inline bool mspan_list_empty(const mspan_list *list) { return list->first == NULL; }

typedef struct heap_arena {
    _Atomic(mspan *) spans[PAGES_PER_ARENA];
    _Atomic uint8_t pageInUse[PAGES_PER_ARENA / 8];
    _Atomic uint8_t pageMarks[PAGES_PER_ARENA / 8]; /* set by the collector */
    uintptr_t base;
    /* Pages at or above zeroedBase have never been handed out, so they are
     * still zero and need no clearing (ARENA_BYTES when the platform gave
     * memory that may hold old data). */
    uintptr_t zeroedBase;
    /* One bit per pointer-sized word of the arena: set when the word of a
     * small object holds a pointer. Written at allocation, read by the
     * collector's precise scan. */
    uint8_t *heapbits;
    /* Its records in the page map (heapmap.c). */
    struct gort_heapmap_arena *pagemap;
    /* While the metadata waits for an arena: the next one waiting. */
    struct heap_arena *next_spare;
} heap_arena;

typedef struct mcentral {
    mutex lock;
    spanclass spanclass;
    /* Spans with free slots and spans without, each split by sweep state:
     * index sweepgen/2 % 2 holds the swept ones, the other the unswept. */
    mspan_list partial[2];
    mspan_list full[2];
} mcentral;

typedef struct mheap {
    mutex lock;
    uintptr_t base;
    pagealloc pages;
    _Atomic(heap_arena *) arenas[HEAP_MAX_ARENAS];
    heap_arena *allArenas[HEAP_MAX_ARENAS]; /* in mapping order */
    atomic_size_t narenas;
    atomic_uint sweepgen;
    mcentral central[NUM_SPAN_CLASSES];

    /* Statistics, written under lock, read with atomic loads. */
    _Atomic uint64_t pages_inuse;
    _Atomic uint64_t nspans_inuse;
    _Atomic uint64_t large_allocs;
    _Atomic uint64_t large_frees;
    _Atomic uint64_t large_bytes_alloc; /* bytes of live large objects */
    _Atomic uint64_t large_bytes_total; /* bytes of large objects ever allocated */
    _Atomic uint64_t large_bytes_freed; /* and freed */
    _Atomic uint64_t arena_meta_bytes;
    /* Small objects, flushed from mcaches: counts per size class. */
    _Atomic uint64_t small_allocs[NUM_SIZE_CLASSES];
    _Atomic uint64_t small_frees[NUM_SIZE_CLASSES];
    _Atomic uint64_t tiny_allocs;
} mheap;

extern mheap mheap_;

/* Prepares the heap on first use; idempotent and thread-safe. */
void mheap_init(void);

/* A new in-use span of npages for span class spc (0 for a large object),
 * or NULL when the heap cannot grow. */
mspan *mheap_alloc(size_t npages, spanclass spc);

/* Where the platform asks for it (PRIM_HEAP_GROW_AHEAD), the heap keeps
 * HEAP_RESERVE_PAGES free pages mapped and touched ahead of need: an
 * allocation that takes pages below the reserve sets mheap_reserve_low and
 * wakes the collector thread, which calls mheap_grow_ahead. Allocations then
 * seldom grow the heap or touch fresh memory themselves, which would hold up
 * a stop-the-world for milliseconds on wasm. */
#define HEAP_RESERVE_PAGES PAGES_PER_ARENA
extern atomic_bool mheap_reserve_low;
void mheap_grow_ahead(void);

/* Returns a span's pages to the heap; they coalesce with free neighbours. */
void mheap_free_span(mspan *s);
/* Zeroed room for a span's type codes (SPAN_TYPECODES_BYTES), or NULL. */
uint8_t *mheap_alloc_typecodes(void);

/* The in-use span containing p, or NULL. Safe from any thread. */
mspan *span_of(uintptr_t p);

static inline heap_arena *arena_of(uintptr_t p)
{
    /* Compare arena indexes, not bytes: 4 GB does not fit in wasm32's
     * uintptr_t. */
    uintptr_t index = (p - mheap_.base) >> ARENA_SHIFT;
    if (index >= HEAP_MAX_ARENAS)
        return NULL;
    return atomic_load_explicit(&mheap_.arenas[index], memory_order_acquire);
}

/* Checks the page allocator and every arena's maps against each other; used
 * by debug builds and tests. */
bool mheap_verify(void);

/* mcentral: hands spans to mcaches and takes them back. */
void mcentral_init(mcentral *c, spanclass spc);
mspan *mcentral_cache_span(mcentral *c);
void mcentral_uncache_span(mcentral *c, mspan *s);
/* Lazy sweeping: sweeps c's unswept spans until one has a free slot. */
mspan *mcentral_sweep_for_alloc(mcentral *c);
/* Files a new large object's span where the sweeper will find it. */
void mcentral_add_large(mspan *s);

/* Calls fn on every in-use span (for the collector, world stopped). */
void mheap_each_span(void (*fn)(mspan *s, void *arg), void *arg);

/* mspan helpers (mbitmap.c). */
void mspan_init_objects(mspan *s);
uint16_t mspan_next_free_index(mspan *s);
void mspan_refill_alloc_cache(mspan *s, uint16_t whichword);
bool mspan_is_allocated(const mspan *s, uintptr_t index);
static inline uintptr_t mspan_object_index(const mspan *s, uintptr_t p)
{
    return (uintptr_t)(((uint64_t)(p - s->startaddr) * s->div_mul) >> 32);
}

/* Words of an arena: bits of its heap bitmap, a multiple of 64. */
#define ARENA_WORDS (ARENA_BYTES / PTR_SIZE)

/* The heap bitmap word that holds the bit of word w counted from ha's base.
 * Where arenas are contiguous a span may cross from one into the next, and
 * a small object's slot with it: its words past ha's end (w >= ARENA_WORDS,
 * at most a slot's worth) have their bits in the next arena's bitmap. */
static inline uint64_t *heap_bits_word(heap_arena *ha, uintptr_t w)
{
    if (unlikely(w >= ARENA_WORDS)) {
        ha = arena_of(ha->base + ARENA_BYTES);
        w -= ARENA_WORDS;
    }
    return (uint64_t *)(void *)ha->heapbits + w / 64;
}

/* Records which words of a new small object hold pointers. */
void heap_bits_set_type(uintptr_t x, uintptr_t slot_size, size_t data_size, const gort_type *t);
/* True when the word at p (inside a small object of a scan span) holds a
 * pointer. */
bool heap_bits_is_pointer(uintptr_t p);

#endif
