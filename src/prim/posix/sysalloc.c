/*
 * prim/posix/sysalloc.c — memory for the runtime's own structures (spans,
 * sudogs, arena metadata, ...), from the C library's allocator on both
 * platforms, zeroed; and, for the tests of what the runtime does when that
 * memory runs out, a way to make it fail on purpose on one thread.
 *
 * Invariant: prim_sys_alloc returns zeroed memory or NULL; it fails on
 * purpose only on the thread that asked for it (prim_sys_alloc_fail_after).
 */
#include <stdlib.h>
#include <string.h>

#include "../../runtime.h"
#include "../prim.h"

/* Calls of prim_sys_alloc on this thread until they fail; 0: never. */
static _Thread_local unsigned sys_alloc_calls_to_failure;

void prim_sys_alloc_fail_after(unsigned n) { sys_alloc_calls_to_failure = n; }

/* Whether this call fails on purpose (prim_sys_alloc_fail_after). */
static bool fails_on_purpose(void)
{
    if (likely(sys_alloc_calls_to_failure == 0))
        return false;
    if (sys_alloc_calls_to_failure == 1)
        return true;
    sys_alloc_calls_to_failure--;
    return false;
}

void *prim_sys_alloc(size_t bytes)
{
    return fails_on_purpose() ? NULL : calloc(1, bytes);
}

void *prim_sys_alloc_lines(size_t bytes)
{
    if (fails_on_purpose())
        return NULL;
    size_t rounded = prim_cache_lines_bytes(bytes);
    void *p = aligned_alloc(PRIM_CACHE_LINE, rounded);
    if (p != NULL)
        memset(p, 0, rounded);
    return p;
}
