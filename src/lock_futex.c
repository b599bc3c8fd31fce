/*
 * lock_futex.c — the runtime mutex on a futex word, as Go's lock_futex.go.
 *
 * Invariants:
 *  - key is MUTEX_UNLOCKED only when no thread holds the lock;
 *  - key is MUTEX_SLEEPING whenever a thread may be asleep on it, so that
 *    unlock knows it must wake one; a woken thread re-takes the lock as
 *    MUTEX_SLEEPING, because it cannot know whether others still sleep.
 */
#include "lock.h"

#include "prim/prim.h"

enum { MUTEX_UNLOCKED = 0, MUTEX_LOCKED = 1, MUTEX_SLEEPING = 2 };

/* Bounded spinning before sleeping: rounds that busy-wait, then rounds that
 * yield the CPU. A lock is held for a few hundred nanoseconds at most. */
#define ACTIVE_SPIN_ROUNDS 4
#define ACTIVE_SPIN_PAUSES 30
#define PASSIVE_SPIN_ROUNDS 1
/* lock_try's whole spin: a holder inside a short critical section leaves
 * within it; one the OS descheduled, or one inside a long section, does not. */
#define LOCK_TRY_SPIN_ROUNDS 4

static int try_take(mutex *l, unsigned as)
{
    unsigned unlocked = MUTEX_UNLOCKED;
    return atomic_compare_exchange_weak_explicit(&l->key, &unlocked, as, memory_order_acquire,
                                                 memory_order_relaxed);
}

void lock(mutex *l)
{
    unsigned v = atomic_exchange_explicit(&l->key, MUTEX_LOCKED, memory_order_acquire);
    if (v == MUTEX_UNLOCKED)
        return;
    /* We may have overwritten MUTEX_SLEEPING: take the lock back as
     * sleeping so that our unlock wakes the sleeper. */
    unsigned wait = v;
    for (;;) {
        /* Look at the word once per round of pauses, not after each: a
         * waiter that reads it constantly takes the cache line away from
         * the holder that is about to release it. */
        for (int round = 0; round < ACTIVE_SPIN_ROUNDS; round++) {
            if (atomic_load_explicit(&l->key, memory_order_relaxed) == MUTEX_UNLOCKED &&
                try_take(l, wait))
                return;
            prim_procyield(ACTIVE_SPIN_PAUSES);
        }
        for (int round = 0; round < PASSIVE_SPIN_ROUNDS; round++) {
            if (atomic_load_explicit(&l->key, memory_order_relaxed) == MUTEX_UNLOCKED &&
                try_take(l, wait))
                return;
            prim_osyield();
        }
        v = atomic_exchange_explicit(&l->key, MUTEX_SLEEPING, memory_order_acquire);
        if (v == MUTEX_UNLOCKED)
            return;
        wait = MUTEX_SLEEPING;
        prim_futex_wait(&l->key, MUTEX_SLEEPING, -1);
    }
}

bool lock_try(mutex *l)
{
    for (int round = 0;; round++) {
        if (atomic_load_explicit(&l->key, memory_order_relaxed) == MUTEX_UNLOCKED &&
            try_take(l, MUTEX_LOCKED))
            return true;
        if (round == LOCK_TRY_SPIN_ROUNDS)
            return false;
        prim_procyield(ACTIVE_SPIN_PAUSES);
    }
}

void unlock(mutex *l)
{
    unsigned v = atomic_exchange_explicit(&l->key, MUTEX_UNLOCKED, memory_order_release);
    if (v == MUTEX_SLEEPING)
        prim_futex_wake(&l->key, 1);
}

void once_do(once *o, void (*fn)(void))
{
    if (atomic_load_explicit(&o->done, memory_order_acquire))
        return;
    lock(&o->mu);
    if (!atomic_load_explicit(&o->done, memory_order_relaxed)) {
        fn();
        atomic_store_explicit(&o->done, 1, memory_order_release);
    }
    unlock(&o->mu);
}
