/*
 * mgcwork.c — work buffers and the global pool of them (see mgcwork.h).
 *
 * Invariants:
 *  - the pool's lists are changed only under pool.lock; nfull counts the
 *    full list and is read without the lock as a hint;
 *  - buffers come from the system in batches and are never given back:
 *    their number is bounded by the most grey objects ever at once.
 */
#include "mgcwork.h"

#include "lock.h"
#include "prim/prim.h"
#include "runtime.h"

#define WORKBUF_BATCH 16

static struct {
    mutex lock;
    workbuf *full;
    workbuf *empty;
    atomic_int nfull;
} pool = {.lock = MUTEX_INIT};

static workbuf *getempty(void)
{
    lock(&pool.lock);
    workbuf *b = pool.empty;
    if (b == NULL) {
        workbuf *batch = prim_sys_alloc(WORKBUF_BATCH * sizeof(workbuf));
        if (batch == NULL)
            gort_throw("runtime: out of memory for the collector's work buffers");
        for (int i = 1; i < WORKBUF_BATCH; i++) {
            batch[i].next = pool.empty;
            pool.empty = &batch[i];
        }
        b = &batch[0];
    } else {
        pool.empty = b->next;
    }
    unlock(&pool.lock);
    b->next = NULL;
    b->nobj = 0;
    return b;
}

static void putfull(workbuf *b)
{
    lock(&pool.lock);
    b->next = pool.full;
    pool.full = b;
    atomic_fetch_add_explicit(&pool.nfull, 1, memory_order_release);
    unlock(&pool.lock);
}

static void putempty(workbuf *b)
{
    lock(&pool.lock);
    b->next = pool.empty;
    pool.empty = b;
    unlock(&pool.lock);
}

static workbuf *getfull(void)
{
    if (atomic_load_explicit(&pool.nfull, memory_order_acquire) == 0)
        return NULL;
    lock(&pool.lock);
    workbuf *b = pool.full;
    if (b != NULL) {
        pool.full = b->next;
        atomic_fetch_sub_explicit(&pool.nfull, 1, memory_order_relaxed);
    }
    unlock(&pool.lock);
    return b;
}

void gcw_put(gcwork *w, uintptr_t obj)
{
    workbuf *b = w->wbuf;
    if (b == NULL) {
        b = w->wbuf = getempty();
    } else if (b->nobj == WORKBUF_ENTRIES) {
        putfull(b);
        b = w->wbuf = getempty();
    }
    b->obj[b->nobj++] = obj;
}

uintptr_t gcw_tryget(gcwork *w)
{
    workbuf *b = w->wbuf;
    if (b == NULL || b->nobj == 0) {
        workbuf *full = getfull();
        if (full == NULL)
            return 0;
        if (b != NULL)
            putempty(b);
        b = w->wbuf = full;
    }
    return b->obj[--b->nobj];
}

void gcw_dispose(gcwork *w)
{
    gcw_flush_marked(w);
    workbuf *b = w->wbuf;
    if (b == NULL)
        return;
    w->wbuf = NULL;
    if (b->nobj > 0)
        putfull(b);
    else
        putempty(b);
}

void gcw_balance(gcwork *w)
{
    workbuf *b = w->wbuf;
    if (b != NULL && b->nobj >= 2 && gcw_pool_empty()) {
        w->wbuf = NULL;
        putfull(b);
    }
}

bool gcw_pool_empty(void) { return atomic_load_explicit(&pool.nfull, memory_order_acquire) == 0; }
