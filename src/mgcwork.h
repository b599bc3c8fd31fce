/*
 * mgcwork.h — the collector's grey objects, as Go's mgcwork.go: each marking
 * thread holds a work buffer (gcwork) and trades full and empty buffers with
 * a global pool, so that marking threads rarely touch shared state.
 *
 * Invariants:
 *  - an object address is in a work buffer only after its mark bit was set
 *    (it is grey: marked, not yet scanned), and in at most one buffer once;
 *  - a buffer is either held by one gcwork or on exactly one pool list;
 *  - the pool's full list and every gcwork's buffer together hold all grey
 *    objects: when all are empty (and every write-barrier buffer has been
 *    flushed), marking is complete.
 */
#ifndef GORT_MGCWORK_H
#define GORT_MGCWORK_H

#include <stdbool.h>
#include <stdint.h>

/* About 2 KB per buffer on 64-bit hosts, 1 KB on wasm32. */
#define WORKBUF_ENTRIES 254

typedef struct workbuf {
    struct workbuf *next;
    uint32_t nobj;
    uintptr_t obj[WORKBUF_ENTRIES];
} workbuf;

typedef struct gcwork {
    workbuf *wbuf;
    /* Bytes this gcwork marked, not yet added to the cycle's total (one
     * shared counter touched per object would bounce between markers). */
    uint64_t bytes_marked;
} gcwork;

/* Adds a grey object. */
void gcw_put(gcwork *w, uintptr_t obj);
/* A grey object to scan, or 0 when neither this gcwork nor the pool has
 * one. */
uintptr_t gcw_tryget(gcwork *w);
/* Adds the bytes the gcwork marked to the cycle's total (mgcmark.c). */
void gcw_flush_marked(gcwork *w);
/* Hands the gcwork's objects to the pool, so that others can scan them,
 * and its marked bytes to the cycle's total. */
void gcw_dispose(gcwork *w);
/* Shares the gcwork's objects with the pool when the pool has none, so that
 * other markers (assists) are not left idle while this one is busy or
 * descheduled (Go's gcWork.balance). */
void gcw_balance(gcwork *w);
/* True when the pool holds no grey object (gcworks may still hold some). */
bool gcw_pool_empty(void);

#endif
