/*
 * handle.c — the roots that C code (and later JavaScript) holds outside the
 * heap and the stacks: handles, each a slot in a table that the collector
 * scans, and registered root regions, scanned conservatively. (Go has
 * cgo.Handle for the first and its data and bss sections for the second.)
 *
 * Invariants:
 *  - a handle is its slot's index + 1 in the low HANDLE_INDEX_BITS bits,
 *    so 0 is never valid, and above them the slot's generation, which
 *    moves on each time the slot is freed: a deleted handle does not find
 *    the object its slot holds next (until HANDLE_GENERATIONS reuses), and
 *    handles stay below 2^31 (JS reads them as signed 32-bit numbers);
 *  - a slot is on the free list iff it is not in use;
 *  - a slot in use carries the kind it was made with (handles_new_kind: 0
 *    for gort_handle_new's), so that a handle of one kind of object is
 *    never taken for another's where the kind is asked for;
 *  - a slot in use carries the owner its making thread had set
 *    (handles_owner_set; 0 for none), so that whoever cleans up after an
 *    owner that can no longer let go of its handles (a JS worker terminated
 *    from outside) finds them all; a free slot's owner is 0;
 *  - the table grows by whole chunks that never move, published with
 *    release order, so a lookup needs no lock;
 *  - slots and region words are written with the write barrier (gort_store),
 *    so the collector may scan them while they change; a slot is written
 *    outside the table's lock (the barrier may take the external-allocation
 *    lock, which the collector holds while it takes this one).
 */
#include <stdlib.h>

#include "gort/error.h"
#include "mgc.h"
#include "prim/prim.h"

#define HANDLE_CHUNK_SLOTS 4096
#define HANDLE_INDEX_BITS 22
#define HANDLE_INDEX_MASK ((1u << HANDLE_INDEX_BITS) - 1)
#define HANDLE_GENERATIONS (1u << (31 - HANDLE_INDEX_BITS))
/* About 4 million handles: every index + 1 fits HANDLE_INDEX_BITS. */
#define HANDLE_MAX_CHUNKS ((1u << HANDLE_INDEX_BITS) / HANDLE_CHUNK_SLOTS - 1)

typedef struct handle_chunk {
    void *slots[HANDLE_CHUNK_SLOTS];
    uint32_t next_free[HANDLE_CHUNK_SLOTS]; /* free-list link: index + 1, 0 ends */
    uint16_t generation[HANDLE_CHUNK_SLOTS];
    bool used[HANDLE_CHUNK_SLOTS];
    uint32_t owner[HANDLE_CHUNK_SLOTS]; /* written under the table's lock */
    uint8_t kind[HANDLE_CHUNK_SLOTS];   /* handles_new_kind's, before used is set */
} handle_chunk;

static struct {
    mutex lock;
    _Atomic(handle_chunk *) chunks[HANDLE_MAX_CHUNKS];
    uint32_t nchunks;
    uint32_t free_head; /* index + 1 of the first free slot, 0 for none */
    uint32_t live;      /* slots in use */
} handles = {.lock = MUTEX_INIT};

/* The owner this thread's new handles get (handles_owner_set). */
static _Thread_local uint32_t tls_handle_owner;

void handles_owner_set(uint32_t owner) { tls_handle_owner = owner; }

static handle_chunk *chunk_of(uint32_t index)
{
    uint32_t c = index / HANDLE_CHUNK_SLOTS;
    return c < HANDLE_MAX_CHUNKS ? atomic_load_explicit(&handles.chunks[c], memory_order_acquire)
                                 : NULL;
}

/* Adds a chunk to the free list; false when the table is full. */
static bool handles_grow(void)
{
    if (handles.nchunks == HANDLE_MAX_CHUNKS)
        return false;
    handle_chunk *c = prim_sys_alloc(sizeof *c);
    if (c == NULL)
        return false;
    uint32_t first = handles.nchunks * HANDLE_CHUNK_SLOTS;
    for (uint32_t i = 0; i < HANDLE_CHUNK_SLOTS; i++)
        c->next_free[i] = i + 1 < HANDLE_CHUNK_SLOTS ? first + i + 2 : handles.free_head;
    handles.free_head = first + 1;
    atomic_store_explicit(&handles.chunks[handles.nchunks], c, memory_order_release);
    handles.nchunks++;
    return true;
}

gort_handle gort_handle_new(void *obj) { return handles_new_for(obj, 0, tls_handle_owner); }

gort_handle handles_new_kind(void *obj, uint8_t kind) { return handles_new_for(obj, kind, tls_handle_owner); }

gort_handle handles_new_for(void *obj, uint8_t kind, uint32_t owner)
{
    lock(&handles.lock);
    if (handles.free_head == 0 && !handles_grow()) {
        unlock(&handles.lock);
        return 0;
    }
    uint32_t index = handles.free_head - 1;
    handle_chunk *c = chunk_of(index);
    uint32_t i = index % HANDLE_CHUNK_SLOTS;
    handles.free_head = c->next_free[i];
    c->owner[i] = owner;
    __atomic_store_n(&c->kind[i], kind, __ATOMIC_RELAXED);
    handles.live++;
    gort_handle h = (uint32_t)__atomic_load_n(&c->generation[i], __ATOMIC_RELAXED) << HANDLE_INDEX_BITS | (index + 1);
    __atomic_store_n(&c->used[i], true, __ATOMIC_RELEASE);
    unlock(&handles.lock);
    gort_store_release(&c->slots[i], obj);
    return h;
}

/* Whether slot i of c is h's: in use, of h's generation. */
static bool slot_is(const handle_chunk *c, uint32_t i, gort_handle h)
{
    return __atomic_load_n(&c->used[i], __ATOMIC_ACQUIRE) &&
           __atomic_load_n(&c->generation[i], __ATOMIC_ACQUIRE) == h >> HANDLE_INDEX_BITS;
}

/* The chunk and index of h's slot while h is in use, or NULL (also for a
 * handle deleted since, whose slot may hold another's). */
static handle_chunk *slot_of(gort_handle h, uint32_t *i)
{
    uint32_t index1 = h & HANDLE_INDEX_MASK;
    if (index1 == 0)
        return NULL;
    handle_chunk *c = chunk_of(index1 - 1);
    *i = (index1 - 1) % HANDLE_CHUNK_SLOTS;
    return c != NULL && slot_is(c, *i, h) ? c : NULL;
}

void *gort_handle_get(gort_handle h)
{
    uint32_t i;
    handle_chunk *c = slot_of(h, &i);
    if (c == NULL)
        return NULL;
    void *obj = __atomic_load_n(&c->slots[i], __ATOMIC_ACQUIRE);
    /* Deleted and its slot reused since slot_of looked: not h's object. */
    return slot_is(c, i, h) ? obj : NULL;
}

void *handles_get_kind(gort_handle h, uint8_t kind)
{
    uint32_t i;
    handle_chunk *c = slot_of(h, &i);
    if (c == NULL || __atomic_load_n(&c->kind[i], __ATOMIC_RELAXED) != kind)
        return NULL;
    void *obj = __atomic_load_n(&c->slots[i], __ATOMIC_ACQUIRE);
    /* Deleted and its slot reused since slot_of looked: not h's object. */
    return slot_is(c, i, h) ? obj : NULL;
}

int handles_kind(gort_handle h)
{
    uint32_t i;
    handle_chunk *c = slot_of(h, &i);
    if (c == NULL)
        return -1;
    int kind = __atomic_load_n(&c->kind[i], __ATOMIC_RELAXED);
    return slot_is(c, i, h) ? kind : -1;
}

int gort_handle_set(gort_handle h, void *obj)
{
    uint32_t i;
    handle_chunk *c = slot_of(h, &i);
    if (c == NULL)
        return GORT_EINVAL;
    gort_store_release(&c->slots[i], obj);
    return GORT_OK;
}

int gort_handle_delete(gort_handle h)
{
    uint32_t i;
    handle_chunk *c = slot_of(h, &i);
    if (c != NULL)
        gort_store(&c->slots[i], NULL);
    lock(&handles.lock);
    c = slot_of(h, &i); /* deleted twice at once: only one frees it */
    if (c != NULL) {
        __atomic_store_n(&c->used[i], false, __ATOMIC_RELEASE);
        __atomic_store_n(&c->generation[i], (uint16_t)((h >> HANDLE_INDEX_BITS) + 1) % HANDLE_GENERATIONS,
                         __ATOMIC_RELAXED);
        c->next_free[i] = handles.free_head;
        c->owner[i] = 0;
        handles.free_head = h & HANDLE_INDEX_MASK;
        handles.live--;
    }
    unlock(&handles.lock);
    return c != NULL ? GORT_OK : GORT_EINVAL;
}

/* Handles found under the table's lock at a time by handles_delete_owned,
 * which deletes them after it lets the lock go (as every handle is deleted:
 * the barrier). */
#define OWNED_BATCH 64

uint32_t handles_delete_owned(uint32_t owner)
{
    if (owner == 0)
        return 0;
    uint32_t deleted = 0;
    gort_handle batch[OWNED_BATCH];
    for (uint32_t k = 0;; k++) {
        handle_chunk *c = chunk_of(k * HANDLE_CHUNK_SLOTS);
        if (c == NULL)
            return deleted;
        uint32_t i = 0;
        while (i < HANDLE_CHUNK_SLOTS) {
            int n = 0;
            lock(&handles.lock);
            for (; i < HANDLE_CHUNK_SLOTS && n < OWNED_BATCH; i++)
                if (__atomic_load_n(&c->used[i], __ATOMIC_RELAXED) && c->owner[i] == owner)
                    batch[n++] = (uint32_t)c->generation[i] << HANDLE_INDEX_BITS | (k * HANDLE_CHUNK_SLOTS + i + 1);
            unlock(&handles.lock);
            for (int j = 0; j < n; j++)
                if (gort_handle_delete(batch[j]) == GORT_OK)
                    deleted++;
        }
    }
}

uint32_t handles_live(void)
{
    lock(&handles.lock);
    uint32_t n = handles.live;
    unlock(&handles.lock);
    return n;
}

void handles_mark(gcwork *w)
{
    lock(&handles.lock);
    for (uint32_t k = 0; k < handles.nchunks; k++) {
        handle_chunk *c = atomic_load_explicit(&handles.chunks[k], memory_order_relaxed);
        for (uint32_t i = 0; i < HANDLE_CHUNK_SLOTS; i++)
            if (__atomic_load_n(&c->used[i], __ATOMIC_RELAXED)) {
                void *obj = __atomic_load_n(&c->slots[i], __ATOMIC_RELAXED);
                if (obj != NULL)
                    shade((uintptr_t)obj, w);
            }
    }
    unlock(&handles.lock);
}

/* ---- root regions ---- */

typedef struct root_region {
    uintptr_t start;
    size_t size;
} root_region;

static struct {
    mutex lock;
    root_region *regions;
    size_t n, cap;
} roots = {.lock = MUTEX_INIT};

int gort_add_roots(void *start, size_t size)
{
    if (start == NULL || size == 0)
        return GORT_EINVAL;
    lock(&roots.lock);
    if (roots.n == roots.cap) {
        size_t cap = roots.cap ? roots.cap * 2 : 16;
        root_region *grown = realloc(roots.regions, cap * sizeof *grown);
        if (grown == NULL) {
            unlock(&roots.lock);
            return GORT_ENOMEM;
        }
        roots.regions = grown;
        roots.cap = cap;
    }
    roots.regions[roots.n++] = (root_region){(uintptr_t)start, size};
    unlock(&roots.lock);
    return GORT_OK;
}

int gort_remove_roots(void *start)
{
    int err = GORT_EINVAL;
    lock(&roots.lock);
    for (size_t i = 0; i < roots.n; i++) {
        if (roots.regions[i].start == (uintptr_t)start) {
            roots.regions[i] = roots.regions[--roots.n];
            err = GORT_OK;
            break;
        }
    }
    unlock(&roots.lock);
    return err;
}

size_t roots_mark(gcwork *w)
{
    size_t bytes = 0;
    lock(&roots.lock);
    for (size_t i = 0; i < roots.n; i++) {
        scan_conservative(roots.regions[i].start, roots.regions[i].start + roots.regions[i].size, w);
        bytes += roots.regions[i].size;
    }
    unlock(&roots.lock);
    return bytes;
}
