/*
 * select.c — the select statement (Go's runtime/select.go: selectgo).
 *
 * selectgo runs in three passes with every channel of the select locked:
 *  1. look at the cases in a random order (pollorder) and take the first
 *     that can proceed now; with a default, give up if none can;
 *  2. otherwise queue one sudog per case, each on its channel's send or
 *     receive queue, all sharing one selectwait (on this stack), and sleep;
 *  3. once woken (by the case that fired), lock everything again and
 *     withdraw the sudogs of the other cases.
 * A waker that dequeues a select's sudog proceeds only if it wins the
 * select's done flag (0 -> 1, a CAS in waitq_dequeue); losers skip the sudog,
 * so exactly one case fires. The waiter may be a goroutine or a plain
 * thread: it sleeps in sudog_wait on its first sudog (the sleeper), and a
 * firing case wakes the sleeper, whichever case it is. An asynchronous
 * waiter (the JS main thread) stops after pass 2 with its state in a
 * select_async, awaits the sleeper's wake cell, and runs pass 3 in
 * selectgo_async_finish. In try mode (runtime2.h) such a waiter takes the
 * channels' locks only if each is free at once, and otherwise lets go of
 * those it took and reports busy, having changed nothing.
 *
 * Invariants:
 *  - channels are locked in order of address (lockorder), a channel that
 *    appears in several cases once; so two selects over the same channels
 *    in different orders cannot deadlock, and neither can a select and a
 *    plain operation (which takes one lock);
 *  - cases on nil channels are left out of both orders: never ready, never
 *    queued;
 *  - pollorder is a uniformly random permutation of the other cases, so
 *    among cases ready at once each is chosen equally often;
 *  - between pass 2 and pass 3 the select's sudogs are chained through
 *    waitlink in lockorder, each queued on exactly its case's channel, until
 *    a waker dequeues one (the one that fired, recorded in selectwait.fired
 *    before the wake) or pass 3 withdraws it under that channel's lock;
 *  - the unlock function (selparkcommit) never touches a sudog of a channel
 *    it has unlocked: the select may be fired through that channel, run
 *    pass 3 and free its sudogs at once.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "gort/chan.h"
#include "gort/proc.h"
#include "runtime.h"

/* Selects with up to this many cases keep their orders on the stack. */
#define SELECT_STACK_CASES 16

/* ---- locking every channel of the select ---- */

static inline hchan *case_chan(const gort_select_case *cases, const uint16_t *order, int k)
{
    return cases[order[k]].chan;
}

static void sellock(const gort_select_case *cases, const uint16_t *lockorder, int n)
{
    hchan *last = NULL;
    for (int k = 0; k < n; k++) {
        hchan *c = case_chan(cases, lockorder, k);
        if (c != last) {
            last = c;
            lock(&c->lock);
        }
    }
}

static void selunlock(const gort_select_case *cases, const uint16_t *lockorder, int n)
{
    /* In reverse, each channel once (at its first position in lockorder). */
    for (int k = n - 1; k >= 0; k--) {
        hchan *c = case_chan(cases, lockorder, k);
        if (k > 0 && c == case_chan(cases, lockorder, k - 1))
            continue;
        unlock(&c->lock);
    }
}

/* sellock for an asynchronous waiter: in try mode (runtime2.h) each lock
 * only if it is free at once; false, holding none, when one is not. */
static bool sellock_for(const gort_select_case *cases, const uint16_t *lockorder, int n)
{
    if (!sched_in_try_mode()) {
        sellock(cases, lockorder, n);
        return true;
    }
    hchan *last = NULL;
    for (int k = 0; k < n; k++) {
        hchan *c = case_chan(cases, lockorder, k);
        if (c == last)
            continue;
        last = c;
        if (!lock_try(&c->lock)) {
            selunlock(cases, lockorder, k); /* the channels before position k */
            return false;
        }
    }
    return true;
}

/* gopark's unlock function once the sudogs are queued: unlocks each
 * channel after the last of its sudogs in the chain (lockorder) has been
 * read past (Go's selparkcommit). */
static bool selparkcommit(g *gp, void *arg)
{
    (void)gp;
    hchan *lastc = NULL;
    for (sudog *sg = arg; sg != NULL; sg = sg->waitlink) {
        /* sg's channel is still locked: its fields are stable. */
        hchan *c = sg->c;
        if (c != lastc && lastc != NULL)
            unlock(&lastc->lock);
        lastc = c;
    }
    if (lastc != NULL)
        unlock(&lastc->lock);
    return true;
}

/* ---- lock order: sort case indexes by channel address ---- */

static inline uintptr_t case_addr(const gort_select_case *cases, uint16_t i)
{
    return (uintptr_t)cases[i].chan;
}

static void sift_down(const gort_select_case *cases, uint16_t *a, int root, int n)
{
    for (;;) {
        int child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && case_addr(cases, a[child + 1]) > case_addr(cases, a[child]))
            child++;
        if (case_addr(cases, a[root]) >= case_addr(cases, a[child]))
            return;
        uint16_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* Sorts a[0..n) by channel address: insertion sort for the usual few
 * cases, heapsort (no recursion, O(n log n)) beyond. */
static void sort_lockorder(const gort_select_case *cases, uint16_t *a, int n)
{
    if (n <= SELECT_STACK_CASES) {
        for (int i = 1; i < n; i++) {
            uint16_t x = a[i];
            uintptr_t key = case_addr(cases, x);
            int j = i;
            for (; j > 0 && case_addr(cases, a[j - 1]) > key; j--)
                a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    for (int i = n / 2 - 1; i >= 0; i--)
        sift_down(cases, a, i, n);
    for (int end = n - 1; end > 0; end--) {
        uint16_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(cases, a, 0, end);
    }
}

/* ---- selectgo ---- */

/* selectgo's result while an asynchronous waiter's select is queued. */
#define SELECT_PENDING (-GORT_EWOULDBLOCK)

/* A select between its passes, for an asynchronous waiter: everything pass
 * 3 needs, kept until selectgo_async_finish (with the orders after it, in
 * the caller's space or malloc'ed). */
struct select_async {
    atomic_uint *doorbell; /* every case's sudog rings it when it wakes */
    selectwait sw;
    gort_select_case *cases;
    int norder;
    sudog *head;
    uint16_t *lockorder;
    bool allocated; /* malloc'ed here: freed once it is over */
};

/*
 * The general select; pollorder and lockorder have room for ncases each.
 * Returns the chosen case, GORT_SELECT_DEFAULT (!block and none ready), or
 * -GORT_ECLOSED. With `async` (an asynchronous waiter), where it would wait
 * it queues its sudogs, fills in *async for pass 3 and returns
 * SELECT_PENDING (with async->head NULL when it can never complete: no case
 * has a channel); the orders must then live as long as *async. In try mode
 * it returns SELECT_EBUSY, having done nothing, when a lock is taken.
 */
static int select_pass3(gort_select_case *cases, const uint16_t *lockorder, int norder,
                        sudog *head, const selectwait *sw);

static int selectgo(gort_select_case *cases, int ncases, bool block, uint16_t *pollorder,
                    uint16_t *lockorder, struct select_async *async)
{
    /* A random permutation of the cases with a channel (inside-out
     * Fisher-Yates). */
    int norder = 0;
    for (int i = 0; i < ncases; i++) {
        if (cases[i].chan == NULL)
            continue;
        uint32_t j = cheaprandn((uint32_t)norder + 1);
        pollorder[norder] = pollorder[j];
        pollorder[j] = (uint16_t)i;
        norder++;
    }
    if (norder == 0) {
        if (!block)
            return GORT_SELECT_DEFAULT;
        if (async != NULL)
            return SELECT_PENDING; /* never completes; the caller drops async */
        chan_block_forever(WAIT_REASON_SELECT_NO_CASES);
    }
    memcpy(lockorder, pollorder, (size_t)norder * sizeof *lockorder);
    sort_lockorder(cases, lockorder, norder);

    if (async == NULL)
        sellock(cases, lockorder, norder);
    else if (!sellock_for(cases, lockorder, norder))
        return SELECT_EBUSY;

    /* Pass 1: the first case, in poll order, that can proceed now. */
    for (int k = 0; k < norder; k++) {
        int i = pollorder[k];
        gort_select_case *cas = &cases[i];
        hchan *c = cas->chan;
        sudog *sg;
        if (cas->dir == GORT_SELECT_RECV) {
            if ((sg = waitq_dequeue(&c->sendq)) != NULL) {
                chan_recv_from(c, sg, cas->elem);
                selunlock(cases, lockorder, norder);
                chan_ready(sg, true);
                cas->ok = true;
                return i;
            }
            if (c->qcount > 0) {
                void *qp = chanbuf(c, c->recvx);
                if (cas->elem != NULL)
                    chan_typedmemmove(c, cas->elem, qp);
                chan_typedmemclr(c, qp);
                if (++c->recvx == c->dataqsiz)
                    c->recvx = 0;
                __atomic_store_n(&c->qcount, c->qcount - 1, __ATOMIC_RELAXED);
                selunlock(cases, lockorder, norder);
                cas->ok = true;
                return i;
            }
            if (c->closed != 0) {
                selunlock(cases, lockorder, norder);
                if (cas->elem != NULL)
                    chan_typedmemclr(c, cas->elem);
                cas->ok = false;
                return i;
            }
        } else {
            if (c->closed != 0) {
                selunlock(cases, lockorder, norder);
                cas->ok = false;
                return -GORT_ECLOSED;
            }
            if ((sg = waitq_dequeue(&c->recvq)) != NULL) {
                chan_send_to(c, sg, cas->elem);
                selunlock(cases, lockorder, norder);
                chan_ready(sg, true);
                cas->ok = true;
                return i;
            }
            if (c->qcount < c->dataqsiz) {
                chan_typedmemmove(c, chanbuf(c, c->sendx), cas->elem);
                if (++c->sendx == c->dataqsiz)
                    c->sendx = 0;
                __atomic_store_n(&c->qcount, c->qcount + 1, __ATOMIC_RELAXED);
                selunlock(cases, lockorder, norder);
                cas->ok = true;
                return i;
            }
        }
    }
    if (!block) {
        selunlock(cases, lockorder, norder);
        return GORT_SELECT_DEFAULT;
    }

    /* Pass 2: queue a sudog on every channel, in lock order, and sleep. */
    selectwait local_sw = {0, NULL, NULL};
    selectwait *sw = async != NULL ? &async->sw : &local_sw;
    *sw = (selectwait){0, NULL, NULL};
    sudog *head = NULL;
    sudog **link = &head;
    for (int k = 0; k < norder; k++) {
        gort_select_case *cas = &cases[lockorder[k]];
        hchan *c = cas->chan;
        sudog *sg = acquire_sudog();
        if (async != NULL)
            sudog_prepare_async(sg, async->doorbell);
        else
            sudog_prepare(sg);
        sg->isSelect = true;
        sg->sel = sw;
        sg->elem = cas->elem;
        sg->c = c;
        sg->success = false;
        sg->waitlink = NULL;
        *link = sg;
        link = &sg->waitlink;
        waitq_enqueue(cas->dir == GORT_SELECT_SEND ? &c->sendq : &c->recvq, sg);
    }
    sw->sleeper = head;
    if (async != NULL) {
        async->cases = cases;
        async->norder = norder;
        async->head = head;
        async->lockorder = lockorder;
    }
    /* An asynchronous waiter's sudog_wait only lets the locks go. */
    sudog_wait(head, selparkcommit, head, WAIT_REASON_SELECT);
    if (async != NULL)
        return SELECT_PENDING;
    return select_pass3(cases, lockorder, norder, head, sw);
}

/* Pass 3: woken by the case that fired (it was dequeued by its waker);
 * withdraw the others, free the sudogs, and say what happened. */
/* Takes every case's sudog but fired's out of its queue and frees them all,
 * head (the sleeper) last: the caller may still look at it (async). Returns
 * fired's case index (-1 for none) and its success in *success. Every
 * case's channel is locked on entry, and let go on return. */
static int select_dequeue_locked(gort_select_case *cases, const uint16_t *lockorder, int norder,
                                 sudog *head, const sudog *fired, bool *success)
{
    int casi = -1;
    sudog *sg = head;
    for (int k = 0; k < norder; k++) {
        int i = lockorder[k];
        if (sg == fired) {
            casi = i;
            *success = sg->success;
        } else {
            hchan *c = cases[i].chan;
            waitq_remove(cases[i].dir == GORT_SELECT_SEND ? &c->sendq : &c->recvq, sg);
        }
        sudog *next = sg->waitlink;
        sg->waitlink = NULL;
        sg->isSelect = false;
        sg->sel = NULL;
        sg->elem = NULL;
        sg->c = NULL;
        if (sg != head)
            release_sudog(sg);
        sg = next;
    }
    selunlock(cases, lockorder, norder);
    release_sudog(head);
    return casi;
}

/* select_outcome: what a select woken by case casi (success: its sudog's)
 * returns. */
static int select_outcome(gort_select_case *cases, int casi, bool success);

static int select_pass3(gort_select_case *cases, const uint16_t *lockorder, int norder,
                        sudog *head, const selectwait *sw)
{
    bool success = false;
    sellock(cases, lockorder, norder);
    int casi = select_dequeue_locked(cases, lockorder, norder, head, sw->fired, &success);
    return select_outcome(cases, casi, success);
}

static int select_outcome(gort_select_case *cases, int casi, bool success)
{
    if (casi < 0)
        gort_throw("selectgo: bad wakeup");

    gort_select_case *cas = &cases[casi];
    cas->ok = success;
    if (cas->dir == GORT_SELECT_SEND && !success)
        return -GORT_ECLOSED; /* woken by close */
    /* A receive woken by close: closechan zeroed the element. */
    return casi;
}

/* select with one case: a plain channel operation (as Go's compiler makes
 * it). */
static int select1(gort_select_case *cas, bool block)
{
    if (cas->dir == GORT_SELECT_SEND) {
        int r = chan_send_internal(cas->chan, cas->elem, block);
        if (r == GORT_EWOULDBLOCK)
            return GORT_SELECT_DEFAULT;
        cas->ok = r == GORT_OK;
        return r == GORT_OK ? 0 : -r;
    }
    bool received = false;
    if (chan_recv_internal(cas->chan, cas->elem, block, &received) == GORT_EWOULDBLOCK)
        return GORT_SELECT_DEFAULT;
    cas->ok = received;
    return 0;
}

static bool select_args_valid(const gort_select_case *cases, int ncases)
{
    if (ncases < 0 || ncases > GORT_SELECT_MAX_CASES || (cases == NULL && ncases > 0))
        return false;
    for (int i = 0; i < ncases; i++) {
        const gort_select_case *cas = &cases[i];
        if (cas->dir != GORT_SELECT_RECV && cas->dir != GORT_SELECT_SEND)
            return false;
        if (cas->dir == GORT_SELECT_SEND && cas->chan != NULL && cas->chan->elemsize != 0 &&
            cas->elem == NULL)
            return false;
    }
    return true;
}

int gort_select(gort_select_case *cases, int ncases, bool has_default)
{
    if (!select_args_valid(cases, ncases))
        return -GORT_EINVAL;
    gort_safepoint();
    bool block = !has_default;
    if (ncases == 0) {
        if (!block)
            return GORT_SELECT_DEFAULT;
        chan_block_forever(WAIT_REASON_SELECT_NO_CASES);
    }
    if (ncases == 1)
        return select1(&cases[0], block);

    uint16_t stack_orders[2 * SELECT_STACK_CASES];
    uint16_t *orders = stack_orders;
    if (ncases > SELECT_STACK_CASES) {
        orders = malloc(2 * (size_t)ncases * sizeof *orders);
        if (orders == NULL)
            return -GORT_ENOMEM;
    }
    int r = selectgo(cases, ncases, block, orders, orders + ncases, NULL);
    if (orders != stack_orders)
        free(orders);
    return r;
}

/* ---- asynchronous waiters ---- */

size_t select_async_bytes(int ncases)
{
    return sizeof(struct select_async) + 2 * (size_t)(ncases > 0 ? ncases : 0) * sizeof(uint16_t);
}

static void select_async_free(select_async *a)
{
    if (a->allocated)
        free(a);
}

int selectgo_async(gort_select_case *cases, int ncases, atomic_uint *doorbell, void *space,
                   select_async **pending)
{
    *pending = NULL;
    if (!select_args_valid(cases, ncases))
        return -GORT_EINVAL;
    if (ncases == 0)
        return SELECT_PENDING; /* select {}: never completes */
    struct select_async *a = space;
    if (a == NULL && (a = malloc(select_async_bytes(ncases))) == NULL)
        gort_throw("select: out of memory");
    memset(a, 0, sizeof *a);
    a->allocated = space == NULL;
    a->doorbell = doorbell;
    uint16_t *orders = (uint16_t *)(a + 1);
    int r = selectgo(cases, ncases, true, orders, orders + ncases, a);
    if (r == SELECT_PENDING && a->norder > 0 && a->head != NULL) {
        *pending = a;
        return r;
    }
    select_async_free(a);
    return r;
}

sudog *select_async_sudog(const select_async *pending) { return pending->head; }

int selectgo_async_cancel(select_async *a)
{
    /* Claimed under every case's lock, as a waker claims it under its
     * channel's: once this wins, no case can fire. */
    if (!sellock_for(a->cases, a->lockorder, a->norder))
        return CHAN_EBUSY;
    uint32_t open = 0;
    bool won = __atomic_compare_exchange_n(&a->sw.done, &open, 1, false, __ATOMIC_SEQ_CST,
                                           __ATOMIC_SEQ_CST);
    if (!won) {
        selunlock(a->cases, a->lockorder, a->norder);
        return 0; /* a case fired: its wake-up is on its way */
    }
    sudog_async_finish(a->head);
    bool success = false;
    select_dequeue_locked(a->cases, a->lockorder, a->norder, a->head, NULL, &success);
    select_async_free(a);
    return 1;
}

int selectgo_async_finish(select_async *a)
{
    if (!sudog_async_poll(a->head))
        gort_throw("selectgo_async_finish: the select has not completed");
    if (!sellock_for(a->cases, a->lockorder, a->norder))
        return SELECT_EBUSY;
    sudog_async_finish(a->head);
    bool success = false;
    int casi = select_dequeue_locked(a->cases, a->lockorder, a->norder, a->head, a->sw.fired, &success);
    int r = select_outcome(a->cases, casi, success);
    select_async_free(a);
    return r;
}
