/*
 * lock.h — the runtime's internal mutex (Go's runtime.mutex): a futex word that
 * spins briefly and then sleeps in the kernel (natively) or in Atomics.wait (on
 * wasm). It blocks the thread, not a goroutine; it guards short critical
 * sections of the runtime itself (mheap, mcentral), never user code.
 */
#ifndef GORT_LOCK_H
#define GORT_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>

typedef struct mutex {
    atomic_uint key; /* MUTEX_UNLOCKED, MUTEX_LOCKED or MUTEX_SLEEPING */
} mutex;

#define MUTEX_INIT {0}

void lock(mutex *l);
void unlock(mutex *l);
/* Takes l if it is free or freed within a short spin (LOCK_TRY_SPIN_ROUNDS
 * rounds of pauses): false, without waiting longer, when it is not. For a
 * thread that must never wait for a lock holder (try mode, runtime2.h). */
bool lock_try(mutex *l);



/* Runs fn exactly once; callers that race with the first wait until it has
 * returned. fn never parks a goroutine: on wasm, Asyncify is told that
 * once_do never switches fibers (emscripten.cmake). */
typedef struct once {
    atomic_int done;
    mutex mu;
} once;
#define ONCE_INIT {0, MUTEX_INIT}

void once_do(once *o, void (*fn)(void));
#endif
