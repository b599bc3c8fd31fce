/*
 * sync.c — Go's sync package (sync/mutex.go, rwmutex.go, waitgroup.go,
 * once.go) on the runtime semaphore (sema.c). Every field of the public
 * structs is accessed only with __atomic builtins, sequentially consistent
 * unless a comment says otherwise.
 *
 * Mutex invariants (state = waiters << 3 | starving | woken | locked):
 *  - locked is set while an owner holds the mutex, except during a
 *    starvation-mode hand-off, when the woken waiter owns it and sets locked
 *    itself (newcomers see starving and queue, so nobody steals it);
 *  - waiters counts goroutines/threads asleep on sema or about to be; it is
 *    decremented by the unlocker that wakes one (normal mode) or by the
 *    woken waiter (starvation mode);
 *  - woken is set while a waiter is awake and competing (woken by unlock, or
 *    spinning), so unlock does not wake a second one meanwhile;
 *  - starving is set only while locked and with a waiter queued, and is
 *    cleared by the waiter that takes the lock last or after a short wait;
 *  - unlock of an unlocked mutex changes nothing (a CAS that requires the
 *    locked bit) and returns GORT_EUNLOCK.
 *
 * RWMutex invariants:
 *  - reader_count is the number of readers inside or waiting, minus
 *    GORT_RWMUTEX_MAX_READERS while a writer is pending or inside;
 *  - reader_wait is the number of readers that were inside when the
 *    pending writer announced itself and have not left yet; the last of
 *    them wakes the writer; a writer is inside only when it reaches zero;
 *  - w is held from the moment a writer starts locking until it unlocks, so
 *    at most one writer is pending or inside;
 *  - misuse (runlock with no reader, unlock with no writer) is refused by
 *    a CAS before anything changes, and returns GORT_ERUNLOCK.
 *
 * WaitGroup invariants (state = counter << 32 | waiters):
 *  - the counter never goes below zero or above INT32_MAX: an add that would
 *    is refused unchanged with GORT_ENEGATIVE;
 *  - waiters grows only while the counter is non-zero (a CAS on the whole
 *    word); the add that brings the counter to zero takes the waiters out
 *    of the word and releases sema once for each of them.
 *
 * Once invariant: done becomes 1 (release) only after fn has returned, and
 * under m, so fn runs at most once and every caller that sees done also sees
 * fn's effects.
 */
#include <gort/proc.h>
#include <gort/sync.h>

#include "prim/prim.h"
#include "runtime.h"
#include "sema.h"

#define SEQ __ATOMIC_SEQ_CST

static inline int32_t load32(int32_t *p) { return __atomic_load_n(p, SEQ); }

/* On failure *old gets the current value. */
static inline bool cas32(int32_t *p, int32_t *old, int32_t new_)
{
    return __atomic_compare_exchange_n(p, old, new_, false, SEQ, SEQ);
}

static inline int32_t add32(int32_t *p, int32_t delta)
{
    return __atomic_add_fetch(p, delta, SEQ);
}

/* ---- Mutex ---- */

enum {
    M_LOCKED = 1,
    M_WOKEN = 2,
    M_STARVING = 4,
    M_WAITER_SHIFT = 3,
};
#define M_WAITER ((int32_t)1 << M_WAITER_SHIFT)

/* A waiter that has waited this long switches the mutex to starvation
 * mode (Go's starvationThresholdNs). */
#define STARVATION_THRESHOLD_NS ((int64_t)1000000)

static void mutex_lock_slow(gort_mutex *m)
{
    int64_t wait_start = 0; /* when we first slept, 0 before */
    bool starving = false;  /* we have waited more than the threshold */
    bool awoke = false;     /* we own the woken bit */
    int iter = 0;
    gort_safepoint();
    int32_t old = load32(&m->state);
    for (;;) {
        /* Spin while someone holds the lock in normal mode: it may be
         * released soon. In starvation mode the lock goes to the queue, so
         * spinning cannot get it. */
        if ((old & (M_LOCKED | M_STARVING)) == M_LOCKED && sync_runtime_canspin(iter)) {
            /* Tell unlock that someone is awake, so it wakes nobody. */
            if (!awoke && (old & M_WOKEN) == 0 && (old >> M_WAITER_SHIFT) != 0 &&
                cas32(&m->state, &old, old | M_WOKEN))
                awoke = true;
            sync_runtime_dospin();
            iter++;
            old = load32(&m->state);
            continue;
        }
        int32_t new_ = old;
        if ((old & M_STARVING) == 0)
            new_ |= M_LOCKED; /* newcomers do not take a starving mutex */
        if ((old & (M_LOCKED | M_STARVING)) != 0)
            new_ += M_WAITER; /* we are going to sleep */
        /* Switch to starvation mode, unless the mutex has just been
         * unlocked (unlock expects a starving mutex to have waiters). */
        if (starving && (old & M_LOCKED) != 0)
            new_ |= M_STARVING;
        if (awoke) {
            if ((new_ & M_WOKEN) == 0)
                gort_throw("sync: inconsistent mutex state");
            new_ &= ~M_WOKEN; /* whatever happens, we are no longer "the woken one" */
        }
        if (!cas32(&m->state, &old, new_))
            continue; /* old reloaded by the failed CAS */
        if ((old & (M_LOCKED | M_STARVING)) == 0)
            break; /* we set the locked bit: ours */
        /* Sleep. A waiter that slept before goes back to the queue's head:
         * it has waited longest. */
        bool lifo = wait_start != 0;
        if (wait_start == 0)
            wait_start = prim_nanotime();
        semacquire(&m->sema, lifo, WAIT_REASON_SYNC_MUTEX_LOCK);
        starving = starving || prim_nanotime() - wait_start > STARVATION_THRESHOLD_NS;
        old = load32(&m->state);
        if ((old & M_STARVING) != 0) {
            /* Handed off to us: locked is clear and we still count as a
             * waiter. Take the lock, leave the waiters, and end starvation
             * mode if we are the last waiter or did not wait long. */
            if ((old & (M_LOCKED | M_WOKEN)) != 0 || (old >> M_WAITER_SHIFT) == 0)
                gort_throw("sync: inconsistent mutex state");
            int32_t delta = M_LOCKED - M_WAITER;
            if (!starving || (old >> M_WAITER_SHIFT) == 1)
                delta -= M_STARVING;
            add32(&m->state, delta);
            break;
        }
        /* Normal mode: woken by unlock (which set woken for us), compete. */
        awoke = true;
        iter = 0;
    }
}

void gort_mutex_lock(gort_mutex *m)
{
    int32_t old = 0;
    if (likely(cas32(&m->state, &old, M_LOCKED)))
        return;
    mutex_lock_slow(m);
}

bool gort_mutex_trylock(gort_mutex *m)
{
    int32_t old = load32(&m->state);
    if ((old & (M_LOCKED | M_STARVING)) != 0)
        return false;
    /* One attempt: a failure means someone else got there (Go does the
     * same; a waiter being woken is competition too). */
    return cas32(&m->state, &old, old | M_LOCKED);
}

static void mutex_unlock_slow(gort_mutex *m, int32_t new_)
{
    if ((new_ & M_STARVING) != 0) {
        /* Hand the lock to the first waiter and give it our P, so that it
         * runs at once. locked stays clear: the waiter sets it; starving
         * keeps newcomers out meanwhile. */
        semrelease(&m->sema, true);
        return;
    }
    int32_t old = new_;
    for (;;) {
        /* Nobody to wake, or it is not our job: the lock was retaken, a
         * waiter is already awake, or starvation mode began. */
        if ((old >> M_WAITER_SHIFT) == 0 || (old & (M_LOCKED | M_WOKEN | M_STARVING)) != 0)
            return;
        /* Take one waiter out of the count and mark it awake. */
        if (cas32(&m->state, &old, (old - M_WAITER) | M_WOKEN)) {
            semrelease(&m->sema, false);
            return;
        }
    }
}

int gort_mutex_unlock(gort_mutex *m)
{
    int32_t old = M_LOCKED;
    if (likely(cas32(&m->state, &old, 0)))
        return GORT_OK;
    /* Go subtracts the locked bit blindly and then dies on misuse; a CAS
     * that requires the bit leaves a misused mutex untouched. */
    for (;;) {
        if ((old & M_LOCKED) == 0)
            return GORT_EUNLOCK;
        if (cas32(&m->state, &old, old - M_LOCKED))
            break;
    }
    if (old - M_LOCKED != 0)
        mutex_unlock_slow(m, old - M_LOCKED);
    return GORT_OK;
}

/* ---- RWMutex ---- */

#define MAX_READERS GORT_RWMUTEX_MAX_READERS

void gort_rwmutex_rlock(gort_rwmutex *rw)
{
    if (add32(&rw->reader_count, 1) < 0) {
        /* A writer is pending or inside: wait for its unlock. */
        semacquire(&rw->reader_sem, false, WAIT_REASON_SYNC_RWMUTEX_RLOCK);
    }
}

bool gort_rwmutex_tryrlock(gort_rwmutex *rw)
{
    int32_t c = load32(&rw->reader_count);
    for (;;) {
        if (c < 0)
            return false;
        if (cas32(&rw->reader_count, &c, c + 1))
            return true;
    }
}

int gort_rwmutex_runlock(gort_rwmutex *rw)
{
    int32_t c = load32(&rw->reader_count);
    for (;;) {
        /* No reader at all, with or without a writer inside. */
        if (c == 0 || c == -MAX_READERS)
            return GORT_ERUNLOCK;
        if (cas32(&rw->reader_count, &c, c - 1))
            break;
    }
    if (c - 1 < 0) {
        /* A writer is pending: the last reader it waits for wakes it. */
        if (add32(&rw->reader_wait, -1) == 0)
            semrelease(&rw->writer_sem, false);
    }
    return GORT_OK;
}

void gort_rwmutex_lock(gort_rwmutex *rw)
{
    /* First, be the only writer. */
    gort_mutex_lock(&rw->w);
    /* Announce ourselves: new readers wait from now on. r readers are
     * inside (or were about to wait for a previous writer: they count
     * too, as in Go, and leave through runlock). */
    int32_t r = add32(&rw->reader_count, -MAX_READERS) + MAX_READERS;
    if (r != 0 && add32(&rw->reader_wait, r) != 0)
        semacquire(&rw->writer_sem, false, WAIT_REASON_SYNC_RWMUTEX_LOCK);
}

bool gort_rwmutex_trylock(gort_rwmutex *rw)
{
    if (!gort_mutex_trylock(&rw->w))
        return false;
    int32_t zero = 0;
    if (!cas32(&rw->reader_count, &zero, -MAX_READERS)) {
        gort_mutex_unlock(&rw->w);
        return false;
    }
    return true;
}

int gort_rwmutex_unlock(gort_rwmutex *rw)
{
    int32_t c = load32(&rw->reader_count);
    for (;;) {
        if (c >= 0)
            return GORT_ERUNLOCK; /* no writer inside */
        if (cas32(&rw->reader_count, &c, c + MAX_READERS))
            break;
    }
    /* Let in the readers that queued behind us, then the next writer. */
    int32_t r = c + MAX_READERS;
    for (int32_t i = 0; i < r; i++)
        semrelease(&rw->reader_sem, false);
    gort_mutex_unlock(&rw->w);
    return GORT_OK;
}

/* ---- WaitGroup ---- */

#define WG_WAITERS_MASK ((uint64_t)0xffffffffu)

int gort_waitgroup_add(gort_waitgroup *wg, int delta)
{
    uint64_t state = __atomic_load_n(&wg->state, SEQ);
    uint64_t new_;
    int64_t v;
    for (;;) {
        v = (int64_t)(int32_t)(uint32_t)(state >> 32) + delta;
        if (v < 0 || v > INT32_MAX)
            return GORT_ENEGATIVE;
        new_ = (uint64_t)v << 32 | (state & WG_WAITERS_MASK);
        if (__atomic_compare_exchange_n(&wg->state, &state, new_, false, SEQ, SEQ))
            break;
    }
    uint32_t w = (uint32_t)new_;
    if (v > 0 || w == 0 || delta >= 0)
        return GORT_OK;
    /* We brought the counter to zero with w waiters: no wait can join now
     * (a wait that sees zero returns), so take them out and release them.
     * A CAS rather than Go's store, and we release only the waiters we
     * took out: an add racing with us (which Go calls misuse) keeps its
     * counter, and no waiter is released twice. */
    state = new_;
    uint32_t take;
    for (;;) {
        uint32_t now = (uint32_t)state;
        take = now < w ? now : w;
        if (__atomic_compare_exchange_n(&wg->state, &state, state - take, false, SEQ, SEQ))
            break;
    }
    for (; take != 0; take--)
        semrelease(&wg->sema, false);
    return GORT_OK;
}

int gort_waitgroup_done(gort_waitgroup *wg) { return gort_waitgroup_add(wg, -1); }

void gort_waitgroup_wait(gort_waitgroup *wg)
{
    uint64_t state = __atomic_load_n(&wg->state, SEQ);
    for (;;) {
        if ((state >> 32) == 0)
            return;
        if (__atomic_compare_exchange_n(&wg->state, &state, state + 1, false, SEQ, SEQ)) {
            semacquire(&wg->sema, false, WAIT_REASON_SYNC_WAITGROUP);
            return;
        }
    }
}

/* ---- Once ---- */

void gort_once_do(gort_once *o, void (*fn)(void *), void *arg)
{
    if (likely(__atomic_load_n(&o->done, __ATOMIC_ACQUIRE) != 0))
        return;
    gort_mutex_lock(&o->m);
    if (__atomic_load_n(&o->done, __ATOMIC_RELAXED) == 0) {
        fn(arg);
        __atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
    }
    gort_mutex_unlock(&o->m);
}

bool gort_once_done(const gort_once *o)
{
    return __atomic_load_n(&o->done, __ATOMIC_ACQUIRE) != 0;
}
