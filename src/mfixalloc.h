/*
 * mfixalloc.h — a free-list allocator for fixed-size runtime structures
 * (spans, caches) kept outside the heap, as Go's fixalloc. Not thread-safe:
 * its user holds a lock around every call.
 */
#ifndef GORT_MFIXALLOC_H
#define GORT_MFIXALLOC_H

#include <stddef.h>

typedef struct fixalloc {
    size_t size;
    void *free_list;  /* freed objects, linked through their first word */
    char *chunk;      /* unused tail of the current chunk */
    size_t chunk_left;
    size_t inuse;     /* bytes handed out and not freed */
    size_t sys;       /* bytes of chunks obtained from the system */
} fixalloc;

void fixalloc_init(fixalloc *f, size_t size);
/* A zeroed object, or NULL when the system has no memory left. */
void *fixalloc_alloc(fixalloc *f);
void fixalloc_free(fixalloc *f, void *p);

#endif
