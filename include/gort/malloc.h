/*
 * gort/malloc.h — allocating objects on the gort heap.
 *
 * Every object gort allocates has a type that tells the collector which of its
 * words hold pointers into the heap; objects of pointer-free types live in
 * spans the collector never scans. Memory comes back zeroed. Objects are
 * aligned to 8 bytes, to 16 from 32 bytes on, and to 8 KB for large objects
 * (over 32 KB, which get their own run of pages).
 *
 * Objects are freed by the collector (gort/gc.h) once nothing reaches them;
 * store pointers into heap objects with GORT_STORE.
 *
 * Allocation is thread-safe. A goroutine allocates from its processor's
 * cache (Go's mcache) without a lock; threads that are not goroutines share
 * one cache under a lock. Allocation is a safepoint: a goroutine may stop
 * there for the collector.
 */
#ifndef GORT_MALLOC_H
#define GORT_MALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A type: its size and which of its pointer-sized words hold pointers.
 *
 * `ptrwords` is the number of leading words that may hold pointers (words
 * after them hold none); 0 makes the type pointer-free. When ptrwords <= 64,
 * bit i of `ptrbits` is set when word i holds a pointer and `ptrmask` is
 * unused; for longer prefixes bit i % 64 of ptrmask[i / 64] says it. `size`
 * must be a multiple of the pointer size when the type has pointers. The name
 * is for the playground: each span keeps the first few types its objects were
 * allocated with, and the playground names an object's type from them. A
 * gort_type must outlive every object allocated with it (static storage is
 * the rule).
 */
typedef struct gort_type {
    const char *name;
    size_t size;
    size_t ptrwords;
    uint64_t ptrbits;
    const uint64_t *ptrmask;
} gort_type;

/* The bit for a pointer field of a struct, for GORT_TYPE's mask. */
#define GORT_PTR_FIELD(ctype, field) \
    ((uint64_t)1 << (__builtin_offsetof(ctype, field) / sizeof(void *)))

/* The bits for a field that is an array of n pointers (1 <= n <= 63), for
 * GORT_TYPE's mask: `struct node { struct node *kids[4]; long v; }` has
 * GORT_PTR_ARRAY_FIELD(struct node, kids, 4). */
#define GORT_PTR_ARRAY_FIELD(ctype, field, n) \
    ((((uint64_t)1 << (n)) - 1) << (__builtin_offsetof(ctype, field) / sizeof(void *)))

/*
 * Initializer for a gort_type of C type `ctype` whose pointer fields lie in
 * its first 64 words, `mask` being the OR of GORT_PTR_FIELD()s (0 for none):
 *
 *     struct node { struct node *left, *right; long value; };
 *     static const gort_type node_type = GORT_TYPE(struct node, "node",
 *         GORT_PTR_FIELD(struct node, left) | GORT_PTR_FIELD(struct node, right));
 */
#define GORT_TYPE(ctype, name, mask)                                              \
    {                                                                             \
        (name), sizeof(ctype), (mask) ? 64 - (size_t)__builtin_clzll((mask) | 1) : 0, \
            (mask), NULL                                                          \
    }

/* A zeroed object of type t, or NULL when the heap cannot grow or t is
 * NULL or malformed (pointer words outside it, or a size not made of
 * words). */
void *gort_new(const gort_type *t);

/* A zeroed array of n values of type t, or NULL when t->size * n overflows
 * or the heap cannot grow. */
void *gort_new_array(const gort_type *t, size_t n);

/* A zeroed, pointer-free block of n bytes (the collector never looks inside
 * it), or NULL when the heap cannot grow. */
void *gort_alloc_bytes(size_t n);

/* What the heap knows about the object that contains an address. */
typedef struct gort_object_info {
    void *base;          /* the object's first byte */
    size_t size;         /* bytes reserved for it (its size class's size) */
    unsigned sizeclass;  /* 1..67, or 0 for a large object */
    unsigned spanclass;  /* sizeclass << 1 | noscan */
    bool noscan;         /* true when the object holds no pointers */
    uintptr_t span;      /* the first byte of its span (a page boundary) */
    size_t index;        /* its slot in the span */
} gort_object_info;

/*
 * Finds the allocated object that contains `addr` (any byte of it, not just
 * its base). Returns false when addr is outside the heap or in memory that is
 * not an allocated object. An object being allocated by another thread at the
 * same moment may or may not be found.
 */
bool gort_find_object(const void *addr, gort_object_info *info);

/* True when `addr` points into the gort heap's arenas. */
bool gort_in_heap(const void *addr);

#ifdef __cplusplus
}
#endif

#endif
