/*
 * mcentral.c — the spans of one span class that no mcache holds, as Go's
 * mcentral: partly free spans to hand out, full spans kept for the sweeper.
 *
 * Invariants:
 *  - every span on a partial list has at least one free slot; every span on
 *    a full list has none;
 *  - with sweepgen sg, lists [sg/2 % 2] hold swept spans and the other index
 *    holds spans still to sweep; the collector flips the meaning by adding 2
 *    to sweepgen, which turns every swept span into an unswept one at once;
 *  - a span is on at most one list, and on none while an mcache holds it;
 *  - large objects' spans (class 0) sit on the full lists of classes 0 and
 *    1, only so that the sweeper finds them.
 */
#include <string.h>

#include "mgc.h"
#include "observe.h"

void mcentral_init(mcentral *c, spanclass spc)
{
    *c = (mcentral){.lock = MUTEX_INIT, .spanclass = spc};
}

static mspan_list *partial_swept(mcentral *c, unsigned sg) { return &c->partial[sg / 2 % 2]; }
static mspan_list *full_swept(mcentral *c, unsigned sg) { return &c->full[sg / 2 % 2]; }

static mspan *cache_span(mcentral *c);

/* A span with at least one free slot, for an mcache, or NULL when the heap
 * cannot grow. */
mspan *mcentral_cache_span(mcentral *c)
{
    mspan *s = cache_span(c);
    if (s != NULL)
        heapmap_span_update(s, true);
    return s;
}

static mspan *cache_span(mcentral *c)
{
    unsigned sg = atomic_load_explicit(&mheap_.sweepgen, memory_order_acquire);
    lock(&c->lock);
    mspan_list *partial = partial_swept(c, sg);
    mspan *s = partial->first;
    if (s != NULL)
        mspan_list_remove(partial, s);
    unlock(&c->lock);
    if (s != NULL)
        return s;
    /* Sweep this class's spans before taking fresh pages (lazy sweeping),
     * then let sweeping elsewhere give pages back before the heap grows. */
    int lane = trace_sweep_begin();
    s = mcentral_sweep_for_alloc(c);
    unsigned sizeclass = spanclass_sizeclass(c->spanclass);
    if (s == NULL)
        sweep_reclaim(class_to_npages[sizeclass]);
    trace_sweep_end(lane);
    if (s != NULL)
        return s;
    s = mheap_alloc(class_to_npages[sizeclass], c->spanclass);
    if (s != NULL && s->needzero) {
        /* Every slot of a new span is free: clearing it in one pass is
         * cheaper than clearing each object as it is handed out. */
        memset((void *)s->startaddr, 0, s->npages * PAGE_SIZE);
        s->needzero = false;
    }
    return s;
}

void mcentral_add_large(mspan *s)
{
    mcentral *c = &mheap_.central[s->spanclass];
    unsigned sg = atomic_load_explicit(&mheap_.sweepgen, memory_order_acquire);
    lock(&c->lock);
    mspan_list_insert(full_swept(c, sg), s);
    unlock(&c->lock);
}

/* Takes back a span an mcache is done with. */
void mcentral_uncache_span(mcentral *c, mspan *s)
{
    unsigned sg = atomic_load_explicit(&mheap_.sweepgen, memory_order_acquire);
    heapmap_span_update(s, false); /* before another thread may take it */
    lock(&c->lock);
    if (s->allocCount == s->nelems)
        mspan_list_insert(full_swept(c, sg), s);
    else
        mspan_list_insert(partial_swept(c, sg), s);
    unlock(&c->lock);
}
