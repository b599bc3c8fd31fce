/*
 * chan.c — channels (Go's runtime/chan.go): makechan, chansend, chanrecv,
 * closechan and their non-blocking forms (Go's selectnbsend and
 * selectnbrecv), the wait queues, and timers as channels (Go's time.After,
 * NewTimer and NewTicker, over the runtime timers of timer.h).
 *
 * A blocking operation that cannot proceed queues a sudog that points at
 * its element: a blocked sender's value stays in the sender's memory, and
 * the receiver that comes along copies it straight from there (and a sender
 * that finds a blocked receiver copies straight into the receiver's
 * element). Whoever dequeues a sudog does the copy under the channel lock,
 * sets sudog.success (false: woken by close) and wakes the waiter after
 * unlocking. A waiter is a goroutine, a plain thread or an asynchronous
 * waiter (the JS main thread): sudog_wait parks the first, futex-sleeps the
 * second and returns at once for the third (which awaits its wake cell and
 * then calls chan_async_finish); sudog_wake readies any of them, so all
 * sit in the same FIFO queues.
 *
 * Invariants (besides hchan's, in chan.h):
 *  - a waiter's sudog and its element belong to the channel from enqueue
 *    until its waker calls chan_ready (or, for a select, until the select
 *    withdraws it under the lock); the waker touches neither afterwards, nor
 *    the select's shared selectwait, which lives on the waiter's stack (an
 *    asynchronous waiter's, in its select_async);
 *  - the channel lock is released by the parking waiter only once it is
 *    committed to sleep (gopark's unlock function runs after the goroutine's
 *    context is saved), so a waker can never ready a half-parked goroutine;
 *  - a buffered slot is zeroed when its value leaves it, an element of a
 *    receiver woken by close is zeroed by closechan;
 *  - the lock-free checks of the non-blocking paths read qcount, closed and
 *    the queues' first with atomic loads; each conclusion they draw ("not
 *    ready", "closed and empty") held at some moment during the call, as in
 *    Go (closed is never reset, a closed channel's buffer only drains);
 *  - timer channels get their values from a non-blocking send in the timer's
 *    f (which must not park): a full channel drops the tick.
 */
#include "chan.h"

#include <string.h>

#include "gort/chan.h"
#include "gort/malloc.h"
#include "gort/proc.h"
#include "mgc.h"
#include "prim/prim.h"
#include "runtime.h"
#include "timer.h"

/* The hchan header, rounded so that a buffer allocated right after it is
 * aligned for any element. */
#define HCHAN_SIZE round_up(sizeof(hchan), 16)
/* The largest buffer a channel may ask for (Go's maxAlloc, roughly). */
#define MAX_CHAN_BYTES GORT_CHAN_MAX_BUFFER

/* A channel whose elements hold pointers: only buf is a heap pointer (the
 * sudogs are runtime memory, elemtype is static). */
static const gort_type hchan_type = GORT_TYPE(hchan, "hchan", GORT_PTR_FIELD(hchan, buf));

/* ---- elements ---- */

static inline void elem_copy(void *dst, const void *src, size_t n)
{
    switch (n) {
    case 0: return;
    case 4: memcpy(dst, src, 4); return;
    case 8: memcpy(dst, src, 8); return;
    case 16: memcpy(dst, src, 16); return;
    default: memcpy(dst, src, n); return;
    }
}

void chan_typedmemmove(const hchan *c, void *dst, const void *src)
{
    /* The barrier also for a copy into a goroutine's stack (a direct send):
     * that stack may already be scanned (Go's sendDirect does the same). */
    if (unlikely(c->elemtype != NULL &&
                 __atomic_load_n(&gort_writeBarrier.enabled, __ATOMIC_RELAXED)))
        bulk_barrier_pre_write(c->elemtype, dst, src, c->elemsize);
    elem_copy(dst, src, c->elemsize);
}

void chan_typedmemclr(const hchan *c, void *dst)
{
    if (unlikely(c->elemtype != NULL &&
                 __atomic_load_n(&gort_writeBarrier.enabled, __ATOMIC_RELAXED)))
        bulk_barrier_pre_write(c->elemtype, dst, NULL, c->elemsize);
    if (c->elemsize != 0)
        memset(dst, 0, c->elemsize);
}

/* ---- wait queues (the channel's lock held) ---- */

static inline void set_first(waitq *q, sudog *s) { __atomic_store_n(&q->first, s, __ATOMIC_RELAXED); }
static inline void set_qcount(hchan *c, size_t n) { __atomic_store_n(&c->qcount, n, __ATOMIC_RELAXED); }

void waitq_enqueue(waitq *q, sudog *s)
{
    s->next = NULL;
    sudog *last = q->last;
    s->prev = last;
    if (last != NULL)
        last->next = s;
    else
        set_first(q, s);
    q->last = s;
}

/* True when sg may proceed: it is no select's case, or its select had not
 * fired yet and now has, through sg (Go's selectDone CAS). */
static inline bool select_claim(sudog *sg)
{
    if (!sg->isSelect)
        return true;
    uint32_t zero = 0;
    return __atomic_compare_exchange_n(&sg->sel->done, &zero, 1, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

sudog *waitq_dequeue(waitq *q)
{
    for (;;) {
        sudog *s = q->first;
        if (s == NULL)
            return NULL;
        sudog *next = s->next;
        if (next == NULL) {
            set_first(q, NULL);
            q->last = NULL;
        } else {
            next->prev = NULL;
            set_first(q, next);
            s->next = NULL;
        }
        /* A goroutine of a runtime that stopped: gone, and its select's
         * state with its stack. */
        if (s->kind == WAITER_GOROUTINE && s->generation != sched_generation())
            continue;
        /* A select's case whose select fired through another case: that
         * select will find it gone (prev, next NULL and not first) when it
         * withdraws its cases. */
        if (select_claim(s))
            return s;
    }
}

void waitq_remove(waitq *q, sudog *s)
{
    sudog *prev = s->prev;
    sudog *next = s->next;
    if (prev != NULL) {
        prev->next = next;
        if (next != NULL)
            next->prev = prev;
        else
            q->last = prev;
    } else if (next != NULL) {
        next->prev = NULL;
        set_first(q, next);
    } else if (q->first == s) {
        set_first(q, NULL);
        q->last = NULL;
    }
    /* else: already dequeued by a waker that lost the select to another
     * case. */
    s->prev = NULL;
    s->next = NULL;
}

/* ---- hand-offs and wake-ups ---- */

void chan_send_to(hchan *c, sudog *sg, const void *ep)
{
    if (sg->elem != NULL)
        chan_typedmemmove(c, sg->elem, ep);
    sg->elem = NULL;
}

void chan_recv_from(hchan *c, sudog *sg, void *ep)
{
    if (c->dataqsiz == 0) {
        if (ep != NULL)
            chan_typedmemmove(c, ep, sg->elem);
    } else {
        /* The buffer is full (a sender waits): take its head, and the
         * sender's value goes to the tail, which is the same slot. */
        void *qp = chanbuf(c, c->recvx);
        if (ep != NULL)
            chan_typedmemmove(c, ep, qp);
        chan_typedmemmove(c, qp, sg->elem);
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        c->sendx = c->recvx;
    }
    sg->elem = NULL;
}

void chan_ready(sudog *sg, bool success)
{
    sg->success = success;
    if (!sg->isSelect) {
        sudog_wake(sg);
        return;
    }
    /* A select's case: tell the select which case fired, and wake it
     * through the sudog it sleeps on. sw is on the select's stack: nothing
     * of it is touched after the wake. */
    selectwait *sw = sg->sel;
    sudog *sleeper = sw->sleeper;
    sw->fired = sg;
    sudog_wake(sleeper);
}

_Noreturn void chan_block_forever(enum wait_reason reason)
{
    if (getg() != NULL) {
        gopark(NULL, NULL, reason);
        gort_throw("chan: a goroutine blocked forever was woken");
    }
    /* A plain thread: nothing will ever write this word. It is not counted
     * as an external waiter: it cannot wake anything. */
    atomic_uint word = 0;
    for (;;)
        prim_futex_wait(&word, 0, -1);
}

/* gopark's unlock function: the waiter's sudog is queued and its context
 * saved (Go's chanparkcommit). */
static bool chanparkcommit(g *gp, void *arg)
{
    (void)gp;
    unlock((mutex *)arg);
    return true;
}

/* ---- makechan ---- */

/* Go's makechan: the checks give its panics' codes; a failed allocation
 * leaves nothing behind but garbage. */
static int makechan(const gort_type *elemtype, size_t elemsize, size_t size, hchan **out)
{
    size_t mem;
    *out = NULL;
    if (elemsize > GORT_CHAN_MAX_ELEM || (elemtype != NULL && !malloc_type_is_valid(elemtype)))
        return GORT_EELEMTYPE;
    if (__builtin_mul_overflow(elemsize, size, &mem) || mem > MAX_CHAN_BYTES)
        return GORT_ECHANSIZE;
    hchan *c;
    if (elemtype == NULL || elemtype->ptrwords == 0 || mem == 0) {
        /* No pointers in the buffer (or no buffer): one pointer-free object
         * holds the header and the buffer, as in Go. */
        c = gort_alloc_bytes(HCHAN_SIZE + mem);
        if (c == NULL)
            return GORT_ENOMEM;
        c->buf = mem != 0 ? (char *)c + HCHAN_SIZE : NULL;
    } else {
        c = gort_new(&hchan_type);
        if (c == NULL)
            return GORT_ENOMEM;
        void *buf = gort_new_array(elemtype, size);
        if (buf == NULL)
            return GORT_ENOMEM;
        GORT_STORE(c->buf, buf);
    }
    c->elemsize = (uint32_t)elemsize;
    c->elemtype = elemtype;
    c->dataqsiz = size;
    c->lock = (mutex)MUTEX_INIT;
    *out = c;
    return GORT_OK;
}

int gort_chan_new(const gort_type *elem, size_t cap, gort_chan **c)
{
    if (c == NULL)
        return GORT_EINVAL;
    if (elem == NULL) {
        *c = NULL;
        return GORT_EELEMTYPE;
    }
    return makechan(elem, elem->size, cap, c);
}

int gort_chan_new_bytes(size_t elemsize, size_t cap, gort_chan **c)
{
    if (c == NULL)
        return GORT_EINVAL;
    return makechan(NULL, elemsize, cap, c);
}

gort_chan *gort_chan_make(const gort_type *elem, size_t cap)
{
    gort_chan *c;
    gort_chan_new(elem, cap, &c);
    return c;
}

gort_chan *gort_chan_make_bytes(size_t elemsize, size_t cap)
{
    gort_chan *c;
    gort_chan_new_bytes(elemsize, cap, &c);
    return c;
}

/* ---- chansend ---- */

/* Takes c's lock for an operation: for an asynchronous waiter in try mode
 * only if it is free at once (false otherwise). */
static inline bool chan_lock_for(hchan *c, const async_wait *async)
{
    if (async != NULL && sched_in_try_mode())
        return lock_try(&c->lock);
    lock(&c->lock);
    return true;
}

/* The sudog of a send or receive that must wait on c (elem: its element),
 * for the calling goroutine or thread, or as an async waiter. */
/* Whether a waiter's element travels in its sudog (sudog.value):
 * pointer-free (the collector does not look into sudogs) and small. An
 * asynchronous receiver's is copied out by chan_async_finish. */
static inline bool chan_value_in_sudog(const hchan *c, const void *elem)
{
    return elem != NULL && c->elemsize <= sizeof(uint64_t) && !chan_has_pointers(c);
}

static sudog *chan_waiter(hchan *c, void *elem, const async_wait *async)
{
    sudog *s = acquire_sudog();
    if (async != NULL)
        sudog_prepare_async(s, async->doorbell);
    else
        sudog_prepare(s);
    s->elem = elem;
    s->dst = NULL;
    s->c = c;
    s->isSelect = false;
    s->success = false;
    return s;
}

/*
 * Sends *ep on c. block false: only if that needs no wait. Returns GORT_OK
 * (sent), GORT_EWOULDBLOCK (not sent, !block), GORT_ECLOSED. With `async`
 * (an asynchronous waiter, which may not block): where the caller would
 * wait, the sudog is queued and returned in async->pending with
 * GORT_EWOULDBLOCK (chan_async_finish completes it); async->pending is NULL
 * when the operation can never complete (the nil channel).
 */
static int chansend1(hchan *c, const void *ep, bool block, async_wait *async)
{
    if (c == NULL) {
        if (!block)
            return GORT_EWOULDBLOCK;
        if (async != NULL) {
            async->pending = NULL;
            return GORT_EWOULDBLOCK;
        }
        chan_block_forever(WAIT_REASON_CHAN_SEND);
    }

    /* Fast path, without the lock: not closed and then full means there
     * was a moment when it was open and not ready for sending (a closed
     * channel never becomes ready for sending again). */
    if (!block && chan_closed(c) == 0 && chan_full(c))
        return GORT_EWOULDBLOCK;

    if (!chan_lock_for(c, async))
        return CHAN_EBUSY;
    if (c->closed != 0) {
        unlock(&c->lock);
        return GORT_ECLOSED;
    }
    sudog *sg = waitq_dequeue(&c->recvq);
    if (sg != NULL) {
        /* A receiver waits: hand the value over, bypassing the buffer. */
        chan_send_to(c, sg, ep);
        unlock(&c->lock);
        chan_ready(sg, true);
        return GORT_OK;
    }
    if (c->qcount < c->dataqsiz) {
        chan_typedmemmove(c, chanbuf(c, c->sendx), ep);
        if (++c->sendx == c->dataqsiz)
            c->sendx = 0;
        set_qcount(c, c->qcount + 1);
        unlock(&c->lock);
        return GORT_OK;
    }
    if (!block) {
        unlock(&c->lock);
        return GORT_EWOULDBLOCK;
    }

    /* Wait for a receiver; it copies the value from *ep. */
    sudog *mysg = chan_waiter(c, (void *)ep, async);
    if (chan_value_in_sudog(c, ep)) {
        memcpy(&mysg->value, ep, c->elemsize);
        mysg->elem = &mysg->value;
    }
    waitq_enqueue(&c->sendq, mysg);
    sudog_wait(mysg, chanparkcommit, &c->lock, WAIT_REASON_CHAN_SEND);
    if (async != NULL) {
        async->pending = mysg; /* queued; the lock is let go */
        return GORT_EWOULDBLOCK;
    }
    /* Woken, and dequeued by the waker: by a receiver (success) or by
     * close. */
    bool closed = !mysg->success;
    mysg->c = NULL;
    release_sudog(mysg);
    return closed ? GORT_ECLOSED : GORT_OK;
}

static inline int chansend(hchan *c, const void *ep, bool block)
{
    return chansend1(c, ep, block, NULL);
}

/* ---- chanrecv ---- */

/*
 * Receives from c into ep (NULL: discard). *received (unless NULL) says
 * whether the value came from a send (false: zero value of a closed
 * channel), set whenever it returns GORT_OK. Returns
 * GORT_OK, or GORT_EWOULDBLOCK (!block, nothing to take). `async` as for
 * chansend1.
 */
static inline void set_received(bool *received, bool v)
{
    if (received != NULL)
        *received = v;
}

static int chanrecv1(hchan *c, void *ep, bool block, bool *received, async_wait *async)
{
    if (c == NULL) {
        if (!block)
            return GORT_EWOULDBLOCK;
        if (async != NULL) {
            async->pending = NULL;
            return GORT_EWOULDBLOCK;
        }
        chan_block_forever(WAIT_REASON_CHAN_RECEIVE);
    }

    /* Fast path, without the lock. Empty, then not closed: there was a
     * moment when it was both (closed never goes back to 0). Empty, then
     * closed, then empty again: it was closed and drained (a closed
     * channel's buffer never fills again). */
    if (!block && chan_empty(c)) {
        if (chan_closed(c) == 0)
            return GORT_EWOULDBLOCK;
        if (chan_empty(c)) {
            if (ep != NULL)
                chan_typedmemclr(c, ep);
            set_received(received, false);
            return GORT_OK;
        }
    }

    if (!chan_lock_for(c, async))
        return CHAN_EBUSY;
    if (c->closed != 0) {
        if (c->qcount == 0) {
            unlock(&c->lock);
            if (ep != NULL)
                chan_typedmemclr(c, ep);
            set_received(received, false);
            return GORT_OK;
        }
        /* Closed, with values left: they come first. */
    } else {
        sudog *sg = waitq_dequeue(&c->sendq);
        if (sg != NULL) {
            /* A sender waits: unbuffered, take its value; buffered (then
             * full), take the head and let its value in at the tail. */
            chan_recv_from(c, sg, ep);
            unlock(&c->lock);
            chan_ready(sg, true);
            set_received(received, true);
            return GORT_OK;
        }
    }
    if (c->qcount > 0) {
        void *qp = chanbuf(c, c->recvx);
        if (ep != NULL)
            chan_typedmemmove(c, ep, qp);
        chan_typedmemclr(c, qp);
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        set_qcount(c, c->qcount - 1);
        unlock(&c->lock);
        set_received(received, true);
        return GORT_OK;
    }
    if (!block) {
        unlock(&c->lock);
        return GORT_EWOULDBLOCK;
    }

    /* Wait for a sender (it copies into *ep) or for close (it zeroes *ep). */
    sudog *mysg = chan_waiter(c, ep, async);
    bool in_sudog = chan_value_in_sudog(c, ep);
    if (in_sudog) {
        mysg->elem = &mysg->value;
        mysg->valuesize = c->elemsize;
        if (async != NULL)
            mysg->dst = ep;
    }
    waitq_enqueue(&c->recvq, mysg);
    sudog_wait(mysg, chanparkcommit, &c->lock, WAIT_REASON_CHAN_RECEIVE);
    if (async != NULL) {
        async->pending = mysg;
        return GORT_EWOULDBLOCK;
    }
    /* A sender's value, or close's zero value. (Its size from the sudog:
     * see chan_async_finish.) */
    if (in_sudog)
        memcpy(ep, &mysg->value, mysg->valuesize);
    set_received(received, mysg->success);
    mysg->c = NULL;
    release_sudog(mysg);
    return GORT_OK;
}

static inline int chanrecv(hchan *c, void *ep, bool block, bool *received)
{
    return chanrecv1(c, ep, block, received, NULL);
}

/* ---- closechan ---- */

static int closechan(hchan *c)
{
    if (c == NULL)
        return GORT_ECLOSENIL;
    lock(&c->lock);
    if (c->closed != 0) {
        unlock(&c->lock);
        return GORT_ECLOSECLOSED;
    }
    __atomic_store_n(&c->closed, 1, __ATOMIC_SEQ_CST);

    /* Take every waiter out, chained through next, and wake them once the
     * lock is let go. */
    sudog *list = NULL, **tail = &list;
    sudog *sg;
    while ((sg = waitq_dequeue(&c->recvq)) != NULL) {
        if (sg->elem != NULL) {
            chan_typedmemclr(c, sg->elem);
            sg->elem = NULL;
        }
        *tail = sg;
        tail = &sg->next;
    }
    while ((sg = waitq_dequeue(&c->sendq)) != NULL) {
        sg->elem = NULL;
        *tail = sg;
        tail = &sg->next;
    }
    unlock(&c->lock);

    while (list != NULL) {
        sg = list;
        list = sg->next;
        sg->next = NULL;
        chan_ready(sg, false);
    }
    return GORT_OK;
}

/* ---- the public API ---- */

static inline bool elem_missing(const hchan *c, const void *elem)
{
    return c != NULL && c->elemsize != 0 && elem == NULL;
}

int gort_chan_send(gort_chan *c, const void *elem)
{
    if (elem_missing(c, elem))
        return GORT_EINVAL;
    gort_safepoint();
    return chansend(c, elem, true);
}

int gort_chan_recv(gort_chan *c, void *elem, bool *ok)
{
    gort_safepoint();
    /* ok itself, not a local of this function: a local whose address is
     * taken gives a receive a C stack frame on wasm. */
    chanrecv(c, elem, true, ok);
    return GORT_OK;
}

int gort_chan_trysend(gort_chan *c, const void *elem)
{
    if (elem_missing(c, elem))
        return GORT_EINVAL;
    gort_safepoint();
    return chansend(c, elem, false);
}

int gort_chan_tryrecv(gort_chan *c, void *elem, bool *ok)
{
    bool received = false;
    gort_safepoint();
    int r = chanrecv(c, elem, false, &received);
    if (r == GORT_OK && ok != NULL)
        *ok = received;
    return r;
}

int gort_chan_close(gort_chan *c)
{
    gort_safepoint();
    return closechan(c);
}

size_t gort_chan_len(const gort_chan *c)
{
    return c != NULL ? chan_load_size(&c->qcount) : 0;
}

size_t gort_chan_cap(const gort_chan *c) { return c != NULL ? c->dataqsiz : 0; }

size_t gort_chan_elemsize(const gort_chan *c) { return c != NULL ? c->elemsize : 0; }

/* Internal entry points for select.c's one-case fast paths (and the
 * timers': not inlined there, where the compiler would check a copy of
 * every element size against the timer's 8-byte value). */
__attribute__((noinline)) int chan_send_internal(hchan *c, const void *ep, bool block)
{
    return chansend(c, ep, block);
}
int chan_recv_internal(hchan *c, void *ep, bool block, bool *received)
{
    return chanrecv(c, ep, block, received);
}

/* ---- asynchronous waiters ---- */

int chansend_async(hchan *c, const void *ep, atomic_uint *doorbell, sudog **pending)
{
    async_wait async = {.doorbell = doorbell};
    int r = chansend1(c, ep, true, &async);
    *pending = async.pending;
    return r;
}

int chanrecv_async(hchan *c, void *ep, bool *received, atomic_uint *doorbell, sudog **pending)
{
    async_wait async = {.doorbell = doorbell};
    int r = chanrecv1(c, ep, true, received, &async);
    *pending = async.pending;
    return r;
}

int chan_async_cancel(sudog *s, bool send)
{
    hchan *c = s->c;
    if (!sched_in_try_mode())
        lock(&c->lock);
    else if (!lock_try(&c->lock))
        return CHAN_EBUSY;
    waitq *q = send ? &c->sendq : &c->recvq;
    /* Still queued: nobody has taken it (a waker dequeues under the lock
     * and wakes after it lets go). */
    bool queued = s->prev != NULL || q->first == s;
    if (queued)
        waitq_remove(q, s);
    unlock(&c->lock);
    if (!queued)
        return 0;
    s->c = NULL;
    sudog_async_finish(s);
    release_sudog(s);
    return 1;
}

bool chan_async_finish(sudog *s)
{
    if (!sudog_async_poll(s))
        gort_throw("chan_async_finish: the operation has not completed");
    /* Dequeued by its waker, which is done with it once it woke it. The
     * size is the sudog's own: the channel's line is the waker's now, and
     * reading it here would put one more transfer between cores on the
     * path of every hand-off. */
    if (s->dst != NULL)
        memcpy(s->dst, &s->value, s->valuesize);
    bool success = s->success;
    s->c = NULL;
    sudog_async_finish(s);
    release_sudog(s);
    return success;
}

/* ---- timers as channels (Go's time.After, NewTimer, NewTicker) ---- */

/* A runtime timer and the channel it sends on. Both gort_timer and
 * gort_ticker are this. */
struct gort_timer {
    timer t;   /* t.arg is c */
    hchan *c;
};
struct gort_ticker {
    struct gort_timer tm;
};

static const gort_type chantimer_type =
    GORT_TYPE(struct gort_timer, "time.Timer",
              GORT_PTR_FIELD(struct gort_timer, t.arg) | GORT_PTR_FIELD(struct gort_timer, c));

/* The timer's f (Go's sendTime): a send that never waits, from the
 * scheduler's timer context. A full channel (an unread tick) drops it; a
 * channel the user closed drops it too. */
static void sendtime(void *arg, uintptr_t seq)
{
    (void)seq;
    int64_t now = prim_nanotime();
    (void)chan_send_internal(arg, &now, false);
}

static int64_t when_after(int64_t ns)
{
    int64_t now = prim_nanotime();
    if (ns <= 0)
        return now;
    return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

static struct gort_timer *chantimer_new(int64_t when, int64_t period)
{
    if (!sched_running())
        return NULL;
    struct gort_timer *tm = gort_new(&chantimer_type);
    if (tm == NULL)
        return NULL;
    hchan *c;
    if (makechan(NULL, sizeof(int64_t), 1, &c) != GORT_OK)
        return NULL;
    GORT_STORE(tm->c, c);
    tm->t.when = when;
    tm->t.period = period;
    tm->t.f = sendtime;
    tm->t.arg = tm->c;
    tm->t.heap_index = -1;
    timer_add(&tm->t);
    return tm;
}

gort_chan *gort_after(int64_t ns)
{
    struct gort_timer *tm = chantimer_new(when_after(ns), 0);
    return tm != NULL ? tm->c : NULL;
}

gort_timer *gort_timer_make(int64_t ns) { return chantimer_new(when_after(ns), 0); }

gort_chan *gort_timer_chan(const gort_timer *t) { return t->c; }

bool gort_timer_stop(gort_timer *t) { return timer_del(&t->t); }

/* A timer of a runtime that stopped was taken out of the timer heap with
 * it; armed again with no runtime, it would wait in the heap of the next
 * one, unseen by that runtime's collector. */
bool gort_timer_reset(gort_timer *t, int64_t ns)
{
    if (!sched_running())
        return false;
    return timer_mod(&t->t, when_after(ns), 0);
}

gort_ticker *gort_ticker_make(int64_t period_ns)
{
    if (period_ns <= 0)
        return NULL;
    return (gort_ticker *)chantimer_new(when_after(period_ns), period_ns);
}

gort_chan *gort_ticker_chan(const gort_ticker *t) { return t->tm.c; }

void gort_ticker_stop(gort_ticker *t) { (void)timer_del(&t->tm.t); }

int gort_ticker_reset(gort_ticker *t, int64_t period_ns)
{
    if (period_ns <= 0)
        return GORT_EINVAL;
    if (!sched_running())
        return GORT_ESTATE;
    (void)timer_mod(&t->tm.t, when_after(period_ns), period_ns);
    return GORT_OK;
}
