/*
 * malloc.c — allocation of typed objects (Go's mallocgc) and the public
 * allocation API. Three paths, as in Go: tiny pointer-free objects under 16 B
 * share 16-byte blocks; small objects up to 32 KB take a slot of their size
 * class from the thread's mcache without a lock; large objects get their own
 * run of pages from mheap.
 *
 * Invariants:
 *  - every object handed out is zeroed: fresh pages are zero, and a slot of a
 *    span that may be dirty (needzero) is cleared before it is returned (a
 *    goroutine's pointer-free large object after it is published, between
 *    safepoints, but still before it is returned);
 *  - a small object of a scan span has its heap bits written before it is
 *    returned; a large object records its type in its span instead;
 *  - a tiny block only ever holds pointer-free objects, each aligned to its
 *    own size's natural alignment;
 *  - while the collector marks, every object is born marked (black), so a
 *    cycle never frees what was allocated during it;
 *  - a thread allocates from its p's cache without a lock only while it holds
 *    the p; threads without a p share one cache under extalloc.lock, which
 *    the collector holds while the world is stopped, so they stop with it;
 *  - what a thread without a p allocated last stays a root (its pins) until
 *    that thread has allocated EXTERNAL_PINS more times: its locals are no
 *    root, and a cycle may run whole between an allocation and the store
 *    that publishes it (in a handle, a timer, a reachable object);
 *  - a span's types (mspan.types) name every object's type: all of types[0]
 *    while it has held one, and from its second type on each object's own
 *    code (mspan.typecodes), written by the owner as it hands the object
 *    out (when there was memory for the codes).
 */
#include <string.h>

#include "gort/malloc.h"
#include "gort/proc.h"
#include "mcache.h"
#include "mgc.h"
#include "prim/prim.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* The sweeper poisons what it frees; an object handed out again is not. */
#define UNPOISON(addr, size) ASAN_UNPOISON_MEMORY_REGION((void *)(addr), (size))
#else
#define UNPOISON(addr, size) ((void)0)
#endif

/* The address of every zero-sized allocation, as Go's zerobase. */
static uint64_t zerobase;

/* The cache of the p this thread holds, or NULL. */
static _Thread_local mcache *thread_cache;

extalloc_state extalloc = { .lock = MUTEX_INIT };

/* This thread holds extalloc.lock across an operation (extalloc_try_hold). */
static _Thread_local bool extalloc_held;

bool extalloc_try_hold(void)
{
    if (!lock_try(&extalloc.lock))
        return false;
    extalloc_held = true;
    return true;
}

void extalloc_release_hold(void)
{
    extalloc_held = false;
    unlock(&extalloc.lock);
}

bool extalloc_held_here(void) { return extalloc_held; }

void malloc_bind_cache(mcache *c) { thread_cache = c; }

void gort_flush_cache(void)
{
    mcache *c = thread_cache;
    if (c != NULL) {
        mcache_release_all(c);
        return;
    }
    lock(&extalloc.lock);
    if (extalloc.cache != NULL)
        mcache_release_all(extalloc.cache);
    unlock(&extalloc.lock);
}

static const spanclass tiny_spanclass = (2 << 1) | 1; /* class 2 is 16 B, noscan */

/* What a tiny block's slot holds, for the span's list of types. */
static const gort_type tiny_block_type = {.name = "tiny block (pointer-free objects under 16 B packed together)",
                                          .size = TINY_SIZE};

/* The code of t among the span's types (mspan.types), added unless it is
 * there; SPAN_TYPE_OTHER when the list is full without it. */
static unsigned span_type_code(mspan *s, const gort_type *t)
{
    unsigned n = s->ntypes;
    for (unsigned k = 0; k < n; k++)
        if (s->types[k] == t)
            return k;
    if (n == SPAN_TYPES) {
        OWNER_STORE(s->types_more, true);
        return SPAN_TYPE_OTHER;
    }
    OWNER_STORE(s->types[n], t);
    OWNER_STORE(s->ntypes, (uint8_t)(n + 1));
    return n;
}

/* Notes that the object at v is a t; the span's allocating owner calls it.
 * A span's first type costs nothing more; from its second on, every object
 * gets its code. */
static __attribute__((noinline)) void span_note_type(mspan *s, const gort_type *t, uintptr_t v)
{
    bool mixed = s->ntypes > 1;
    unsigned code = span_type_code(s, t);
    if (!mixed && s->ntypes > 1) {
        /* The second type: the objects before are all of types[0], code 0. */
        uint8_t *codes = mheap_alloc_typecodes();
        if (codes == NULL)
            return;
        __atomic_store_n(&s->typecodes, codes, __ATOMIC_RELEASE);
    }
    uint8_t *codes = s->typecodes;
    if (codes == NULL)
        return;
    uintptr_t i = mspan_object_index(s, v);
    unsigned per_byte = 8 / SPAN_TYPE_CODE_BITS;
    unsigned shift = (unsigned)(i % per_byte) * SPAN_TYPE_CODE_BITS;
    uint8_t byte = codes[i / per_byte];
    OWNER_STORE(codes[i / per_byte], (uint8_t)((byte & ~(SPAN_TYPE_CODE_MASK << shift)) | (code << shift)));
}

/* A type check costs two compares while the span holds one type, t. */
static inline void span_type(mspan *s, const gort_type *t, uintptr_t v)
{
    if (unlikely(s->ntypes != 1 || s->types[0] != t))
        span_note_type(s, t, v);
}

static void *malloc_tiny(mcache *c, size_t size)
{
    uintptr_t off = c->tinyoffset;
    if ((size & 7) == 0)
        off = round_up(off, 8);
    else if ((size & 3) == 0)
        off = round_up(off, 4);
    else if ((size & 1) == 0)
        off = round_up(off, 2);
    if (off + size <= TINY_SIZE && c->tiny != 0) {
        c->tinyoffset = off + size;
        c->tinyAllocs++;
        return (void *)(c->tiny + off);
    }
    mspan *s = c->alloc[tiny_spanclass];
    uintptr_t v = next_free_fast(s);
    if (v == 0) {
        if ((v = mcache_next_free(c, tiny_spanclass)) == 0)
            return NULL;
        s = c->alloc[tiny_spanclass];
    }
    UNPOISON(v, TINY_SIZE);
    memset((void *)v, 0, TINY_SIZE);
    span_type(s, &tiny_block_type, v);
    if (unlikely(atomic_load_explicit(&gcBlackenEnabled, memory_order_relaxed)))
        gc_mark_new_object(c, s, v);
    /* Keep whichever block has more room left for the next tiny object. */
    if (size < c->tinyoffset || c->tiny == 0) {
        c->tiny = v;
        c->tinyoffset = size;
    }
    return (void *)v;
}

/* A pointer-free large object that a goroutine allocates is cleared after it
 * is published, in chunks with a safepoint between them (Go's delayed
 * zeroing): clearing megabytes at once would hold up a stop-the-world for
 * milliseconds. The collector never reads a pointer-free object, so it may
 * see it half cleared. */
#define LARGE_CLEAR_CHUNK ((size_t)256 << 10)

static void *malloc_large(mcache *c, size_t size, const gort_type *t, size_t nvalues, bool noscan,
                          bool *clear_later)
{
    size_t npages = size / PAGE_SIZE + (size % PAGE_SIZE != 0);
    sched_slice_check(); /* a span of its own: as at a small object's fresh span */
    if (atomic_load_explicit(&sweep_remaining, memory_order_relaxed) > 0)
        sweep_reclaim(npages); /* let garbage make room before the heap grows */
    mspan *s = mheap_alloc(npages, make_spanclass(0, noscan));
    if (s == NULL)
        return NULL;
    if (s->needzero) {
        if (noscan && !c->shared)
            *clear_later = true;
        else
            memset((void *)s->startaddr, 0, size);
    }
    s->largecount = nvalues;
    s->largetype = noscan ? NULL : t;
    span_note_type(s, t, s->startaddr);
    if (unlikely(atomic_load_explicit(&gcBlackenEnabled, memory_order_relaxed)))
        gc_mark_new_object(c, s, s->startaddr);
    mcentral_add_large(s);
    atomic_fetch_add_explicit(&mheap_.large_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&mheap_.large_bytes_alloc, npages * PAGE_SIZE, memory_order_relaxed);
    atomic_fetch_add_explicit(&mheap_.large_bytes_total, npages * PAGE_SIZE, memory_order_relaxed);
    gc_note_alloc(c, npages * PAGE_SIZE);
    return (void *)s->startaddr;
}

/* Allocates `size` bytes holding `nvalues` values of type t (t NULL: no
 * pointers) from cache c; *clear_later says that the caller must still
 * clear them (after_alloc). Only an object larger than MAX_SMALL_SIZE may be
 * cleared later: for a smaller one clear_later may be NULL. */
static __attribute__((noinline)) void *mallocgc_cache(mcache *c, size_t size, const gort_type *t,
                                                      size_t nvalues, bool *clear_later)
{
    bool noscan = t == NULL || t->ptrwords == 0;
    if (size > MAX_SMALL_SIZE)
        return malloc_large(c, size, t, nvalues, noscan, clear_later);
    if (noscan && size < TINY_SIZE)
        return malloc_tiny(c, size);
    unsigned sizeclass = size_to_class(size);
    spanclass spc = make_spanclass(sizeclass, noscan);
    mspan *s = c->alloc[spc];
    uintptr_t v = next_free_fast(s);
    if (unlikely(v == 0)) {
        if ((v = mcache_next_free(c, spc)) == 0)
            return NULL;
        s = c->alloc[spc];
    }
    UNPOISON(v, s->elemsize);
    if (s->needzero)
        memset((void *)v, 0, s->elemsize);
    if (!noscan)
        heap_bits_set_type(v, s->elemsize, size, t);
    span_type(s, t, v);
    if (unlikely(atomic_load_explicit(&gcBlackenEnabled, memory_order_relaxed)))
        gc_mark_new_object(c, s, v);
    return (void *)v;
}

/* gort_store of x into a root word, extalloc.lock held (which gort_store
 * would take, on a thread without a p). */
static void store_root_locked(void **root, void *x)
{
    if (__atomic_load_n(&gort_writeBarrier.enabled, __ATOMIC_RELAXED)) {
        gcwork w = {0};
        shade_barrier((uintptr_t)__atomic_load_n(root, __ATOMIC_RELAXED), &w);
        shade_barrier((uintptr_t)x, &w);
        gcw_dispose(&w);
    }
    __atomic_store_n(root, x, __ATOMIC_RELEASE);
}

/* How many of its last objects a thread without a p keeps as roots: more
 * than any of the runtime's constructors allocates before it publishes what
 * it made (a ticker, its channel and the channel's buffer), few enough that
 * what it keeps past its use stays small beside the heap. */
#define EXTERNAL_PINS 8

static _Thread_local struct {
    void *obj[EXTERNAL_PINS];
    unsigned next;
    bool rooted;
} external_pins;

static void external_pins_drop(void *obj) { gort_remove_roots(obj); }

/* Keeps x as one of this thread's pins (extalloc.lock held: no stop of the
 * world, so no cycle's start or end, falls between x's allocation and
 * this); the pin it replaces goes through the write barrier. */
static void external_pin(void *x)
{
    if (unlikely(!external_pins.rooted)) {
        if (gort_add_roots(external_pins.obj, sizeof external_pins.obj) != GORT_OK)
            return;
        if (!prim_thread_at_exit(external_pins_drop, external_pins.obj)) {
            gort_remove_roots(external_pins.obj);
            return;
        }
        external_pins.rooted = true;
    }
    store_root_locked(&external_pins.obj[external_pins.next++ % EXTERNAL_PINS], x);
}

/* mallocgc for a thread without a cache of its own: from the shared one.
 * Out of line, so that the goroutines' allocating functions (which Asyncify
 * instruments on wasm, every line of them) stay small. */
static __attribute__((noinline)) void *mallocgc_shared(size_t size, const gort_type *t, size_t nvalues,
                                                       bool *clear_later)
{
    lock(&extalloc.lock);
    if (extalloc.cache == NULL && (extalloc.cache = allocmcache()) != NULL)
        extalloc.cache->shared = true;
    void *x = extalloc.cache != NULL ? mallocgc_cache(extalloc.cache, size, t, nvalues, clear_later)
                                     : NULL;
    if (x != NULL)
        external_pin(x);
    unlock(&extalloc.lock);
    return x;
}

static void *mallocgc(size_t size, const gort_type *t, size_t nvalues, bool *clear_later)
{
    if (unlikely(size == 0))
        return &zerobase;
    mcache *c = thread_cache;
    if (likely(c != NULL))
        return mallocgc_cache(c, size, t, nvalues, clear_later);
    return mallocgc_shared(size, t, nvalues, clear_later);
}

static void *external_into_locked(void **root, size_t n);

void *mallocgc_external_into(void **root, size_t n)
{
    lock(&extalloc.lock);
    void *x = external_into_locked(root, n);
    unlock(&extalloc.lock);
    return x;
}

void *mallocgc_external_try_into(void **root, size_t n, bool *busy)
{
    *busy = !lock_try(&extalloc.lock);
    if (*busy)
        return NULL;
    void *x = external_into_locked(root, n);
    unlock(&extalloc.lock);
    return x;
}

/* mallocgc_external_into's work, extalloc.lock held. */
static void *external_into_locked(void **root, size_t n)
{
    if (extalloc.cache == NULL && (extalloc.cache = allocmcache()) != NULL)
        extalloc.cache->shared = true;
    bool clear_later = false;
    void *x = NULL;
    if (extalloc.cache != NULL)
        x = n == 0 ? &zerobase : mallocgc_cache(extalloc.cache, n, NULL, n, &clear_later);
    if (x != NULL)
        store_root_locked(root, x);
    return x;
}

/* Allocation is a safepoint: a goroutine stops here for a stop-the-world,
 * or switches out for its stack to be scanned (its new object, in a local,
 * is then scanned with it). */
static inline void *after_alloc(void *x, size_t size, bool clear_later)
{
    if (unlikely(clear_later)) {
        for (size_t done = 0; done < size; done += LARGE_CLEAR_CHUNK) {
            size_t n = size - done < LARGE_CLEAR_CHUNK ? size - done : LARGE_CLEAR_CHUNK;
            memset((char *)x + done, 0, n);
            gort_safepoint();
        }
    }
    gort_safepoint();
    return x;
}

/* A type with pointers must be made of whole words, its mask inside it. */
bool malloc_type_is_valid(const gort_type *t)
{
    if (t == NULL)
        return false;
    return t->ptrwords == 0 || (t->size % PTR_SIZE == 0 && t->ptrwords <= t->size / PTR_SIZE &&
                                (t->ptrwords <= 64 || t->ptrmask != NULL));
}

/* after_alloc for an object larger than MAX_SMALL_SIZE, the only kind that
 * may be cleared later. */
static __attribute__((noinline)) void *alloc_large_values(size_t size, const gort_type *t, size_t nvalues)
{
    bool clear_later = false;
    void *x = mallocgc(size, t, nvalues, &clear_later);
    return after_alloc(x, size, clear_later);
}

/* Allocates and passes the safepoint. A small object is cleared when it is
 * allocated, so its path takes no flag's address and keeps no frame on the C
 * stack: on wasm a frame costs a move of the stack pointer and its overflow
 * check, and the allocating function is instrumented by Asyncify (it may
 * park at the safepoint), which spills what lives across its calls. */
static inline __attribute__((always_inline)) void *alloc_values(size_t size, const gort_type *t, size_t nvalues)
{
    if (unlikely(size > MAX_SMALL_SIZE))
        return alloc_large_values(size, t, nvalues);
    void *x = mallocgc(size, t, nvalues, NULL);
    gort_safepoint();
    return x;
}

void *gort_new(const gort_type *t)
{
    if (!malloc_type_is_valid(t))
        return NULL;
    return alloc_values(t->size, t, 1);
}

void *gort_new_array(const gort_type *t, size_t n)
{
    if (!malloc_type_is_valid(t) || (t->size != 0 && n > SIZE_MAX / t->size))
        return NULL;
    return alloc_values(t->size * n, t, n);
}

void *gort_alloc_bytes(size_t n) { return alloc_values(n, NULL, n); }

bool gort_in_heap(const void *addr) { return arena_of((uintptr_t)addr) != NULL; }

bool gort_find_object(const void *addr, gort_object_info *info)
{
    uintptr_t p = (uintptr_t)addr;
    mspan *s = span_of(p);
    if (s == NULL || p >= s->limit)
        return false;
    uintptr_t index = spanclass_sizeclass(s->spanclass) == 0 ? 0 : mspan_object_index(s, p);
    if (!mspan_is_allocated_racing_sweep(s, index))
        return false;
    info->base = (void *)(s->startaddr + index * s->elemsize);
    info->size = s->elemsize;
    info->sizeclass = spanclass_sizeclass(s->spanclass);
    info->spanclass = s->spanclass;
    info->noscan = spanclass_noscan(s->spanclass);
    info->span = s->startaddr;
    info->index = index;
    return true;
}
