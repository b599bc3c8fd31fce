/*
 * mbarrier.c — the write barrier (Go's mbarrier.go): Go's hybrid barrier,
 * a Yuasa deletion barrier plus a Dijkstra insertion barrier. While the
 * collector marks, a pointer store shades the pointer it overwrites (so no
 * object reachable when marking began loses its last path unseen) and the
 * pointer it writes (so a goroutine cannot hide a white object in an already
 * scanned object). Objects allocated during mark are black, and stacks are
 * scanned once, so stores into stacks need no barrier.
 *
 * Invariants:
 *  - a goroutine's barrier appends both pointers to its p's buffer before
 *    the store, and the buffer is flushed (shaded) when it fills and at mark
 *    termination with the world stopped, so mark termination sees them all;
 *  - a thread without a p shades at once, under the external-allocation
 *    lock, which the collector holds while it turns the barrier off: a shade
 *    never lands after marking ended (it would leave a stale mark bit for
 *    the next cycle); a thread in try mode may have taken that lock for the
 *    whole operation the store belongs to (extalloc_try_hold).
 */
#include <string.h>

#include "mgc.h"

struct gort_write_barrier gort_writeBarrier;

void wbbuf_flush(p *pp, gcwork *w)
{
    for (uint32_t i = 0; i < pp->wbbuf_n; i++)
        if (pp->wbbuf[i] != 0)
            shade_barrier(pp->wbbuf[i], w);
    pp->wbbuf_n = 0;
}

/* A full write-barrier buffer shaded, and a store by a thread without a p:
 * kept out of line, so that the common path of a barrier has no frame on the
 * C stack (on wasm each frame costs a move of the stack pointer and its
 * overflow check). */
static __attribute__((noinline)) void wbbuf_flush_full(p *pp)
{
    gcwork w = {0};
    wbbuf_flush(pp, &w);
    gcw_dispose(&w);
}

static __attribute__((noinline)) void wb_shade_pair_without_p(uintptr_t old, uintptr_t new)
{
    /* A thread in try mode may hold the lock already, for the whole
     * operation this store is part of (extalloc_try_hold). */
    bool held = extalloc_held_here();
    if (!held)
        lock(&extalloc.lock);
    if (__atomic_load_n(&gort_writeBarrier.enabled, __ATOMIC_RELAXED)) {
        gcwork w = {0};
        shade_barrier(old, &w);
        shade_barrier(new, &w);
        gcw_dispose(&w);
    }
    if (!held)
        unlock(&extalloc.lock);
}

/* Queues the pair on the running p, or shades it at once without one. */
static void wb_shade_pair(uintptr_t old, uintptr_t new)
{
    m *mp = getm();
    p *pp = mp != NULL ? mp->p : NULL;
    if (unlikely(pp == NULL)) {
        wb_shade_pair_without_p(old, new);
        return;
    }
    if (unlikely(pp->wbbuf_n + 2 > WBBUF_ENTRIES))
        wbbuf_flush_full(pp);
    pp->wbbuf[pp->wbbuf_n++] = old;
    pp->wbbuf[pp->wbbuf_n++] = new;
}

void write_barrier_shade(uintptr_t p)
{
    if (p != 0 && __atomic_load_n(&gort_writeBarrier.enabled, __ATOMIC_RELAXED))
        wb_shade_pair(0, p);
}

void gort_store_slow(void *slot, const void *value, int order)
{
    uintptr_t old = (uintptr_t)__atomic_load_n((void **)slot, __ATOMIC_RELAXED);
    wb_shade_pair(old, (uintptr_t)value);
    /* The relaxed store as gort_store's fast path makes it: on wasm a plain
     * one, since an atomic store there is an exchange, which took most of
     * this function's time in binary-trees. */
    if (order == __ATOMIC_RELEASE)
        __atomic_store_n((void **)slot, (void *)value, __ATOMIC_RELEASE);
    else
        GORT_STORE_RELAXED_(slot, value);
}

void bulk_barrier_pre_write(const gort_type *t, void *dst, const void *src, size_t size)
{
    if (t == NULL || t->ptrwords == 0 || !__atomic_load_n(&gort_writeBarrier.enabled, __ATOMIC_RELAXED))
        return;
    const uint64_t *mask = t->ptrwords <= 64 ? &t->ptrbits : t->ptrmask;
    size_t mask_words = (t->ptrwords + 63) / 64;
    for (size_t off = 0; off + t->size <= size; off += t->size) {
        for (size_t mw = 0; mw < mask_words; mw++) {
            uint64_t bits = mask[mw];
            while (bits != 0) {
                size_t k = mw * 64 + (size_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                size_t at = off + k * PTR_SIZE;
                uintptr_t old = *(const uintptr_t *)((const char *)dst + at);
                uintptr_t new = src != NULL ? *(const uintptr_t *)((const char *)src + at) : 0;
                if (old != 0 || new != 0)
                    wb_shade_pair(old, new);
            }
        }
    }
}

void gort_typedmemmove(const gort_type *t, void *dst, const void *src)
{
    if (dst == src || t->size == 0)
        return;
    bulk_barrier_pre_write(t, dst, src, t->size);
    memmove(dst, src, t->size);
}
