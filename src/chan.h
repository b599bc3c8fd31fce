/*
 * chan.h — the channel's internal representation (Go's hchan in chan.go)
 * and what chan.c shares with select.c.
 *
 * A channel is a lock, a ring buffer of dataqsiz elements, and two queues of
 * waiters (sudogs): receivers blocked for want of a value (recvq) and
 * senders blocked for want of room or a receiver (sendq). A waiter is a
 * goroutine, a thread that is not one, or an asynchronous waiter (the JS
 * main thread); chan.c and select.c wait and wake only through
 * sudog_prepare(_async) / sudog_wait / sudog_wake (runtime2.h), so every
 * kind sits in the same queues.
 *
 * Invariants (Go's, kept under c->lock):
 *  - at least one of sendq and recvq is empty, except for an unbuffered
 *    channel with a single goroutine blocked in a select that both sends and
 *    receives on it (then the lengths are bounded by that select's cases);
 *  - buffered: qcount > 0 implies recvq is empty; qcount < dataqsiz implies
 *    sendq is empty;
 *  - the buffered values are buf[recvx], buf[recvx+1], ... (mod dataqsiz),
 *    qcount of them, and sendx == (recvx + qcount) % dataqsiz; every other
 *    slot is zeroed (nothing stale stays visible to the collector);
 *  - closed goes 0 -> 1 once, under the lock; after it, sendq stays empty
 *    and qcount only decreases;
 *  - a sudog is in at most one queue; it leaves it under the lock of that
 *    channel, by the one party that then owns it: the waker that dequeued it
 *    (and, for a select, won the select's `done` flag), or its own waiter
 *    withdrawing it after another case won (a waker that finds a select
 *    already fired unlinks that case's sudog and leaves it to its waiter);
 *  - qcount, closed and the two queues' `first` are written only under the
 *    lock, with atomic stores, so that the non-blocking operations may read
 *    them without it (the lock-free "obviously not ready" checks).
 */
#ifndef GORT_CHAN_INTERNAL_H
#define GORT_CHAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gort/chan.h"
#include "lock.h"
#include "runtime2.h"

/* A queue of waiting sudogs, linked through next/prev (Go's waitq). */
typedef struct waitq {
    sudog *first;
    sudog *last;
} waitq;

/* Go's hchan; gort_chan is its public name. */
typedef struct gort_chan hchan;
struct gort_chan {
    size_t qcount;             /* values in the buffer (atomic: read unlocked) */
    size_t dataqsiz;           /* size of the ring buffer */
    void *buf;                 /* dataqsiz elements (NULL for no buffer or size 0) */
    uint32_t elemsize;
    uint32_t closed;           /* atomic: read unlocked */
    const gort_type *elemtype; /* NULL: pointer-free elements */
    size_t sendx;              /* send index */
    size_t recvx;              /* receive index */
    waitq recvq;               /* blocked receivers */
    waitq sendq;               /* blocked senders */
    mutex lock;                /* guards every field above, and the sudogs queued */
};

/*
 * What the cases of one blocked select share, on the selecting waiter's
 * stack (an asynchronous waiter's: in its select_async); each case's sudog
 * points at it (sudog.sel). Go keeps this in the g (selectDone, param); a
 * thread that is not a goroutine has no g, so gort keeps it with the select.
 */
typedef struct selectwait {
    uint32_t done;    /* 0 until a case fires: the firing party CASes it to 1 */
    sudog *fired;     /* the case's sudog that fired (Go's g.param) */
    sudog *sleeper;   /* the sudog whose sudog_wait the waiter blocks in */
} selectwait;

/* An asynchronous waiter's operation in progress: the doorbell its wake-up
 * rings (sudog.doorbell, may be NULL) and, once queued, its sudog. */
typedef struct async_wait {
    atomic_uint *doorbell;
    sudog *pending;
} async_wait;

/* ---- shared by chan.c and select.c (c->lock held unless said) ---- */

static inline size_t chan_load_size(const size_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline uint32_t chan_closed(const hchan *c)
{
    return __atomic_load_n(&c->closed, __ATOMIC_SEQ_CST);
}
static inline sudog *waitq_first(const waitq *q) { return __atomic_load_n(&q->first, __ATOMIC_SEQ_CST); }

/* Slot i of the buffer. */
static inline void *chanbuf(const hchan *c, size_t i) { return (char *)c->buf + i * c->elemsize; }

/* Appends s to q. */
void waitq_enqueue(waitq *q, sudog *s);

/* Takes the first waiter that may proceed out of q, or NULL: a select's
 * sudog whose select already fired elsewhere is unlinked and skipped
 * (Go's dequeue). */
sudog *waitq_dequeue(waitq *q);

/* Unlinks s from q if it is still there (Go's dequeueSudoG). */
void waitq_remove(waitq *q, sudog *s);

/* Copies one element (typedmemmove: where the write barrier will go). */
void chan_typedmemmove(const hchan *c, void *dst, const void *src);
/* Zeroes one element (typedmemclr). */
void chan_typedmemclr(const hchan *c, void *dst);

/* A send to the waiting receiver sg, dequeued from recvq: copies the value
 * into its element. The caller then unlocks and calls chan_ready(sg, true). */
void chan_send_to(hchan *c, sudog *sg, const void *ep);

/* A receive from the waiting sender sg, dequeued from sendq (Go's recv):
 * unbuffered, copies straight from the sender's element; buffered (then
 * full), takes the head of the buffer and puts the sender's value at the
 * tail. The caller then unlocks and calls chan_ready(sg, true). */
void chan_recv_from(hchan *c, sudog *sg, void *ep);

/* Wakes the waiter of a dequeued sudog, with success (false: woken by
 * close). For a select's case it records which case fired. Call without
 * the channel's lock; sg belongs to its waiter again afterwards. */
void chan_ready(sudog *sg, bool success);

/* Blocks the caller forever (nil channel, empty select): a goroutine parks
 * with nothing to wake it, so the deadlock detector sees it; a thread that
 * is not a goroutine sleeps for good. */
_Noreturn void chan_block_forever(enum wait_reason reason);

/* chansend and chanrecv, for select's one-case forms (Go's compiler turns
 * such selects into plain channel operations). chan_send_internal returns
 * GORT_OK, GORT_EWOULDBLOCK (!block) or GORT_ECLOSED; chan_recv_internal
 * GORT_OK or GORT_EWOULDBLOCK, *received false for a closed channel's zero
 * value. Neither checks its arguments nor is a safepoint. */
int chan_send_internal(hchan *c, const void *ep, bool block);
int chan_recv_internal(hchan *c, void *ep, bool block, bool *received);

/*
 * Channel operations for an asynchronous waiter (WAITER_ASYNC: the JS main
 * thread, which may not block). They complete at once when they can, as
 * the blocking operations do, and return their result (GORT_OK or
 * GORT_ECLOSED for a send, GORT_OK and *received for a receive). Where the
 * blocking form would wait they queue a sudog in arrival order beside the
 * goroutines and threads waiting there, return GORT_EWOULDBLOCK and set
 * *pending to it; the caller awaits its wake-up (sudog_async_poll; the
 * word *doorbell, when not NULL, is incremented and woken after it: one
 * Atomics.waitAsync for all of a JS realm's operations) and then calls
 * chan_async_finish(pending), which returns true when the value was
 * handed over (a send: received; a receive: *ep holds a sent value) and
 * false when close woke it (a send failed with "send on closed channel"; a
 * receive got the zero value). ep must stay valid until then. On the nil
 * channel they return GORT_EWOULDBLOCK with *pending NULL: the operation
 * never completes (and does not count as a waiter).
 *
 * In try mode (runtime2.h) they return CHAN_EBUSY, having changed nothing,
 * when the channel's lock is not free at once: the caller tries again later.
 */
#define CHAN_EBUSY (-2)
int chansend_async(hchan *c, const void *ep, atomic_uint *doorbell, sudog **pending);
int chanrecv_async(hchan *c, void *ep, bool *received, atomic_uint *doorbell, sudog **pending);
bool chan_async_finish(sudog *pending);
/* Whether c's elements hold pointers (its copies may run the write barrier). */
static inline bool chan_has_pointers(const hchan *c) { return c->elemtype != NULL && c->elemtype->ptrwords != 0; }
/* Withdraws a pending operation that nobody has taken yet: 1 when it was
 * still queued (it is gone: nothing was sent or received); 0 when a waker
 * has it, whose wake-up is on its way (finish it as usual); CHAN_EBUSY in
 * try mode when the channel's lock is not free at once (nothing changed:
 * try again later). send says which queue it waits in. */
int chan_async_cancel(sudog *pending, bool send);

/*
 * select for an asynchronous waiter, as the operations above: returns
 * what gort_select returns when a case can proceed now (a select with
 * default is just gort_select); otherwise it queues the select's sudogs and
 * returns -GORT_EWOULDBLOCK with *pending set. The caller awaits the
 * wakecell of select_async_sudog(*pending) and then calls
 * selectgo_async_finish, which withdraws the other cases and returns the
 * chosen case (or -GORT_ECLOSED), filling in the case's elem and ok. The
 * cases and their elements must stay valid until then. With no case on a
 * channel it returns -GORT_EWOULDBLOCK with *pending NULL: it never
 * completes.
 */
typedef struct select_async select_async;
/* space: select_async_bytes(ncases) bytes (aligned for a pointer) that hold
 * the select's state until it is over, or NULL for a malloc'ed one. */
size_t select_async_bytes(int ncases);
int selectgo_async(gort_select_case *cases, int ncases, atomic_uint *doorbell, void *space,
                   select_async **pending);
sudog *select_async_sudog(const select_async *pending);
int selectgo_async_finish(select_async *pending);
/* Withdraws every case of a pending select if none has fired: 1 when it did
 * (pending is gone); 0 when a case fired (finish it as usual). */
int selectgo_async_cancel(select_async *pending);
/* In try mode, selectgo_async and selectgo_async_finish return SELECT_EBUSY
 * (below every -GORT_E code), and selectgo_async_cancel CHAN_EBUSY, having
 * changed nothing, when one of the channels' locks is not free at once: the
 * caller tries again later. */
#define SELECT_EBUSY (-256)

/* The lock-free "obviously not ready" checks of the non-blocking paths. */
static inline bool chan_full(const hchan *c)
{
    if (c->dataqsiz == 0)
        return waitq_first(&c->recvq) == NULL;
    return chan_load_size(&c->qcount) == c->dataqsiz;
}

static inline bool chan_empty(const hchan *c)
{
    if (c->dataqsiz == 0)
        return waitq_first(&c->sendq) == NULL;
    return chan_load_size(&c->qcount) == 0;
}

#endif
