/*
 * lock.h — the runtime's internal mutex (Go's runtime.mutex): a futex word that
 * spins briefly and then sleeps in the kernel (natively) or in Atomics.wait (on
 * wasm). It blocks the thread, not a goroutine; it guards short critical
 * sections of the runtime itself (mheap, mcentral), never user code.
 */
#ifndef GORT_LOCK_H
#define GORT_LOCK_H

#include <stdatomic.h>

typedef struct gort_mutex {
    atomic_uint key; /* MUTEX_UNLOCKED, MUTEX_LOCKED or MUTEX_SLEEPING */
} gort_mutex;

#define GORT_MUTEX_INIT {0}

void lock(gort_mutex *l);
void unlock(gort_mutex *l);



/* Runs fn exactly once; callers that race with the first wait until it has
 * returned. */
typedef struct gort_once {
    atomic_int done;
    gort_mutex mu;
} gort_once;
#define GORT_ONCE_INIT {0, GORT_MUTEX_INIT}

void once_do(gort_once *o, void (*fn)(void));
#endif
