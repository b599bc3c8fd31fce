/*
 * mfixalloc.c — fixed-size allocation of runtime structures from chunks of
 * system memory; freed objects are reused, never returned to the system.
 *
 * Invariant: every object handed out is zeroed and f->size bytes long, and
 * lies in a chunk from prim_sys_alloc, so it never moves.
 */
#include "mfixalloc.h"

#include <string.h>

#include "prim/prim.h"
#include "runtime.h"

#define FIXALLOC_CHUNK_BYTES (64 * 1024)

void fixalloc_init(fixalloc *f, size_t size)
{
    memset(f, 0, sizeof *f);
    f->size = round_up(size < sizeof(void *) ? sizeof(void *) : size, 16);
}

void *fixalloc_alloc(fixalloc *f)
{
    void *p;
    if (f->free_list != NULL) {
        p = f->free_list;
        f->free_list = *(void **)p;
        memset(p, 0, f->size);
    } else {
        if (f->chunk_left < f->size) {
            size_t bytes = f->size > FIXALLOC_CHUNK_BYTES ? f->size : FIXALLOC_CHUNK_BYTES;
            f->chunk = prim_sys_alloc(bytes);
            if (f->chunk == NULL)
                return NULL;
            f->chunk_left = bytes;
            f->sys += bytes;
        }
        p = f->chunk;
        f->chunk += f->size;
        f->chunk_left -= f->size;
    }
    f->inuse += f->size;
    return p;
}

void fixalloc_free(fixalloc *f, void *p)
{
    *(void **)p = f->free_list;
    f->free_list = p;
    f->inuse -= f->size;
}
