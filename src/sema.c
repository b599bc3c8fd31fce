/*
 * sema.c — the runtime semaphore (Go's runtime/sema.go), on which the sync
 * types sleep.
 *
 * Layout (our choice where Go uses a treap): a fixed table of SEMTAB_SIZE
 * roots, hashed by the semaphore's address. A root holds a runtime mutex, a
 * count of its sleepers (nwait, read without the lock by the release fast
 * path) and a chain of per-address queues: the first sudog waiting on each
 * distinct address is the head of that address's queue, and the heads are
 * chained through waitlink. Inside a queue the waiters are chained through
 * next, in the order they will be woken; the head's prev points at the
 * queue's tail, so that both ends are reached in O(1) (the prev of a sudog
 * that is not a head is NULL). A root's chain is short in practice (one entry
 * per distinct contended address hashed there), so finding an address's
 * queue is a short scan, and a crowd on one address never slows down a
 * waiter on another.
 *
 * Invariants:
 *  - *addr is changed only by atomic read-modify-write; semacquire takes a
 *    ticket only when *addr > 0 (can_acquire), semrelease adds one first;
 *  - nwait equals the number of sudogs queued in the root plus the sleepers
 *    that are between registering and queueing (both under the lock);
 *  - a waiter adds itself to nwait and then retries can_acquire, a releaser
 *    adds its ticket and then reads nwait, all sequentially consistent: either
 *    the waiter sees the ticket or the releaser sees the waiter;
 *  - every queue is non-empty, its head's c is the address, and the queue
 *    holds only sudogs of that address; a sudog is in at most one queue and
 *    leaves it only through dequeue, under the root lock, by the releaser
 *    that will wake it (and sets its ticket first when handing off);
 *  - a dequeued sudog's next, prev, waitlink and c are NULL again, as
 *    release_sudog expects.
 */
#include "sema.h"

#include <gort/proc.h>

#include "prim/prim.h"

#define SEMTAB_SIZE 251 /* a prime: addresses spread over every root */

typedef struct semaroot {
    _Alignas(64) mutex lock; /* one root per cache line: no false sharing */
    atomic_uint nwait;
    sudog *queues;           /* heads of the per-address queues */
} semaroot;

static semaroot semtable[SEMTAB_SIZE];

static semaroot *root_for(const uint32_t *addr)
{
    return &semtable[((uintptr_t)addr >> 2) % SEMTAB_SIZE];
}

/* Takes one ticket if there is one. */
static bool can_acquire(uint32_t *addr)
{
    uint32_t v = __atomic_load_n(addr, __ATOMIC_SEQ_CST);
    while (v != 0) {
        if (__atomic_compare_exchange_n(addr, &v, v - 1, true, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return true;
    }
    return false;
}

/* Adds s to addr's queue: at the tail, or at the head when lifo. Root lock
 * held. */
static void queue(semaroot *root, uint32_t *addr, sudog *s, bool lifo)
{
    s->c = addr;
    s->next = NULL;
    s->prev = NULL;
    s->waitlink = NULL;
    for (sudog **link = &root->queues; *link != NULL; link = &(*link)->waitlink) {
        sudog *h = *link;
        if (h->c != addr)
            continue;
        if (lifo) {
            /* s becomes the head: it inherits the tail and h's place in the
             * chain of queues. */
            s->next = h;
            s->prev = h->prev;
            s->waitlink = h->waitlink;
            h->prev = NULL;
            h->waitlink = NULL;
            *link = s;
        } else {
            h->prev->next = s;
            h->prev = s;
        }
        return;
    }
    /* The first waiter on addr here: a new queue of one. */
    s->prev = s;
    s->waitlink = root->queues;
    root->queues = s;
}

/* Removes and returns the first waiter on addr, or NULL. Root lock held. */
static sudog *dequeue(semaroot *root, uint32_t *addr)
{
    for (sudog **link = &root->queues; *link != NULL; link = &(*link)->waitlink) {
        sudog *h = *link;
        if (h->c != addr)
            continue;
        sudog *n = h->next;
        if (n != NULL) {
            n->prev = h->prev; /* the tail (n itself when it is the last) */
            n->waitlink = h->waitlink;
            *link = n;
        } else {
            *link = h->waitlink;
        }
        h->next = NULL;
        h->prev = NULL;
        h->waitlink = NULL;
        h->c = NULL;
        return h;
    }
    return NULL;
}

/* gopark's unlock function: the sudog is queued and the context saved. */
static bool sema_unlockf(g *gp, void *arg)
{
    (void)gp;
    unlock((mutex *)arg);
    return true;
}

void semacquire(uint32_t *addr, bool lifo, enum wait_reason reason)
{
    if (can_acquire(addr))
        return;
    sudog *s = acquire_sudog();
    semaroot *root = root_for(addr);
    /* A thread that is not a goroutine (or the JS main thread) sleeping
     * here is an external waiter: with one about, a runtime whose
     * goroutines are all parked is not deadlocked. */
    bool external = false, counted = false;
    for (;;) {
        sudog_prepare(s);
        s->ticket = 0;
        if (s->kind != WAITER_GOROUTINE && !external) {
            counted = sched_external_wait_begin();
            external = true;
        }
        lock(&root->lock);
        /* Register before the last look, so that a semrelease after it
         * takes the slow path and finds us. */
        atomic_fetch_add(&root->nwait, 1);
        if (can_acquire(addr)) {
            atomic_fetch_sub(&root->nwait, 1);
            unlock(&root->lock);
            break;
        }
        queue(root, addr, s, lifo);
        sudog_wait(s, sema_unlockf, &root->lock, reason);
        /* Woken: either the releaser took the ticket for us (hand-off), or
         * we compete for it with whoever runs now; losing means queueing
         * again. */
        if (s->ticket != 0 || can_acquire(addr))
            break;
    }
    if (counted)
        sched_external_waiters_add(-1);
    s->ticket = 0;
    release_sudog(s);
}

void semrelease(uint32_t *addr, bool handoff)
{
    semaroot *root = root_for(addr);
    __atomic_fetch_add(addr, 1, __ATOMIC_SEQ_CST);
    /* Fast path: no one sleeps in this root. A waiter that registers after
     * this load sees our ticket in its can_acquire under the lock. */
    if (atomic_load(&root->nwait) == 0)
        return;
    lock(&root->lock);
    if (atomic_load(&root->nwait) == 0) {
        unlock(&root->lock);
        return;
    }
    sudog *s = dequeue(root, addr);
    if (s != NULL)
        atomic_fetch_sub(&root->nwait, 1);
    unlock(&root->lock);
    if (s == NULL)
        return; /* the waiters here are on other addresses */
    /* Hand-off: take the ticket we just added on the waiter's behalf, so
     * that nobody running now can barge in ahead of it. */
    bool handed = handoff && can_acquire(addr);
    if (handed)
        s->ticket = 1;
    /* s belongs to the waiter again once woken: read it before. */
    bool woke_goroutine = s->kind == WAITER_GOROUTINE;
    sudog_wake(s);
    /* The woken goroutine is in our P's runnext: let it run now. */
    if (handed && woke_goroutine && getg() != NULL)
        gort_yield();
}

int sema_waiters(uint32_t *addr)
{
    semaroot *root = root_for(addr);
    int n = 0;
    lock(&root->lock);
    for (sudog *h = root->queues; h != NULL; h = h->waitlink) {
        if (h->c != addr)
            continue;
        for (sudog *s = h; s != NULL; s = s->next)
            n++;
        break;
    }
    unlock(&root->lock);
    return n;
}

void sema_forget_goroutines(void)
{
    for (size_t i = 0; i < SEMTAB_SIZE; i++) {
        semaroot *root = &semtable[i];
        lock(&root->lock);
        sudog *heads = root->queues;
        root->queues = NULL;
        for (sudog *h = heads, *next_head; h != NULL; h = next_head) {
            next_head = h->waitlink;
            uint32_t *addr = h->c;
            for (sudog *s = h, *next; s != NULL; s = next) {
                next = s->next;
                if (s->kind == WAITER_GOROUTINE)
                    atomic_fetch_sub(&root->nwait, 1); /* its goroutine is gone */
                else
                    queue(root, addr, s, false); /* a thread: still waiting */
            }
        }
        unlock(&root->lock);
    }
}

/* ---- bounded spinning for the sync types ---- */

#if defined(__EMSCRIPTEN__)
/* Often two cores shared with the browser's own threads: spin briefly,
 * then sleep. */
#define ACTIVE_SPIN_ROUNDS 2
#define ACTIVE_SPIN_PAUSES 10
#else
#define ACTIVE_SPIN_ROUNDS 4 /* Go's active_spin */
#define ACTIVE_SPIN_PAUSES 30 /* Go's active_spin_cnt */
#endif

static atomic_int spin_ncpu; /* prim_ncpu(), cached; 0 until first asked */

bool sync_runtime_canspin(int iter)
{
    int ncpu = atomic_load_explicit(&spin_ncpu, memory_order_relaxed);
    if (ncpu == 0) {
        ncpu = prim_ncpu();
        atomic_store_explicit(&spin_ncpu, ncpu, memory_order_relaxed);
    }
    /* Two cores: the holder and the spinner may be all there is. */
    int rounds = ncpu > 2 ? ACTIVE_SPIN_ROUNDS : (ACTIVE_SPIN_ROUNDS + 1) / 2;
    if (iter >= rounds || ncpu <= 1)
        return false;
    if (getg() == NULL)
        return true; /* a plain thread: spinning delays no goroutine */
    if (gort_gomaxprocs() <= 1)
        return false; /* the holder cannot run while we spin */
    m *mp = getm();
    p *pp = mp != NULL ? mp->p : NULL;
    if (pp == NULL)
        return false;
    /* Work queued on our P would wait for us: park instead. */
    if (atomic_load_explicit(&pp->runnext, memory_order_relaxed) != NULL)
        return false;
    return atomic_load_explicit(&pp->runqhead, memory_order_relaxed) ==
           atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
}

void sync_runtime_dospin(void)
{
    prim_procyield(ACTIVE_SPIN_PAUSES);
}
