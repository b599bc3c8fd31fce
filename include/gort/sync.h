/*
 * gort/sync.h — Go's sync package: Mutex, RWMutex, WaitGroup and Once.
 *
 * Every type is ready when zeroed, as in Go: a static or calloc'ed object,
 * or one initialised with `= {0}`, is an unlocked mutex, a counter of zero,
 * a Once not yet done. Do not copy one after first use.
 *
 * Blocking calls park the calling goroutine and let its P run other
 * goroutines; called from a thread that is not a goroutine they block that
 * thread (on a futex; on the web, Atomics.wait, so not from a browser's main
 * thread). Goroutines and plain threads may share the same object. Each
 * blocking operation is a safepoint when it has to wait.
 *
 * Misuse that Go reports as a fatal error (unlocking an unlocked mutex,
 * a negative WaitGroup counter) returns a distinct code here (gort/error.h)
 * and leaves the object as it was, still usable. Unlike Go, the fields are
 * plain integers so that the header suits C++ too; gort accesses them only
 * with atomic operations — never touch them yourself.
 */
#ifndef GORT_SYNC_H
#define GORT_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A mutual exclusion lock (sync.Mutex). Not tied to a goroutine or thread:
 * one may lock it and another unlock it.
 *
 * It is fair in the long run, as Go's: normally a goroutine that wakes up
 * competes with newcomers (which usually win: they are already running), but
 * a waiter that has failed to get the lock for more than 1 ms switches it to
 * starvation mode, in which each unlock hands the lock straight to the
 * oldest waiter and newcomers queue behind; the mode ends when the last
 * waiter gets the lock or one got it after waiting less than 1 ms.
 */
typedef struct gort_mutex {
    /* bit 0 locked, bit 1 a waiter is awake, bit 2 starvation mode, the
     * rest: waiters sleeping on sema */
    int32_t state;
    uint32_t sema;
} gort_mutex;

#define GORT_MUTEX_INIT {0, 0}

/* Locks m, waiting until it is free. */
void gort_mutex_lock(gort_mutex *m);

/* Locks m if it is free now and returns true; false otherwise (also while
 * the mutex is in starvation mode: the lock is promised to a waiter).
 * Never waits. */
bool gort_mutex_trylock(gort_mutex *m);

/* Unlocks m: GORT_OK, or GORT_EUNLOCK ("sync: unlock of unlocked mutex")
 * when m was not locked, in which case nothing changes. */
int gort_mutex_unlock(gort_mutex *m);

/*
 * A reader/writer mutual exclusion lock (sync.RWMutex): any number of
 * readers or one writer. A writer waiting in gort_rwmutex_lock keeps new
 * readers out until it has had its turn, so readers cannot starve it; a
 * reader must therefore not take a read lock it already holds (recursive
 * read locking deadlocks as soon as a writer comes between).
 */
typedef struct gort_rwmutex {
    gort_mutex w;         /* held by the writer and by writers waiting */
    uint32_t writer_sem;  /* the writer sleeps here until the readers leave */
    uint32_t reader_sem;  /* readers sleep here until the writer leaves */
    int32_t reader_count; /* readers inside or waiting; -2^30 plus that
                           * while a writer is pending or inside */
    int32_t reader_wait;  /* readers a pending writer still waits for */
} gort_rwmutex;

#define GORT_RWMUTEX_INIT {GORT_MUTEX_INIT, 0, 0, 0, 0}

/* Most readers an RWMutex can hold at once (Go's rwmutexMaxReaders). */
#define GORT_RWMUTEX_MAX_READERS (1 << 30)

/* Locks rw for reading, waiting while a writer holds it or waits for it. */
void gort_rwmutex_rlock(gort_rwmutex *rw);

/* Locks rw for reading if no writer holds it or waits for it; never waits. */
bool gort_rwmutex_tryrlock(gort_rwmutex *rw);

/* Undoes one gort_rwmutex_rlock: GORT_OK, or GORT_ERUNLOCK (where Go dies
 * with "sync: RUnlock of unlocked RWMutex") when no reader holds rw; nothing
 * changes then. (A stray runlock while other readers hold or wait for rw
 * cannot be told from theirs, as in Go.) */
int gort_rwmutex_runlock(gort_rwmutex *rw);

/* Locks rw for writing, waiting for readers and writers inside to leave. */
void gort_rwmutex_lock(gort_rwmutex *rw);

/* Locks rw for writing if nobody holds it; never waits. */
bool gort_rwmutex_trylock(gort_rwmutex *rw);

/* Unlocks a write lock: GORT_OK, or GORT_ERUNLOCK ("sync: Unlock of unlocked
 * RWMutex") when no writer holds rw (nothing changes then). Readers that
 * waited enter before the next writer does. */
int gort_rwmutex_unlock(gort_rwmutex *rw);

/*
 * A WaitGroup (sync.WaitGroup): a counter of tasks outstanding and the
 * waiters for it to reach zero. Add to the counter before starting what
 * will call done, not from the task itself; once a gort_waitgroup_wait has
 * returned, the group may be used again for a new round.
 */
typedef struct gort_waitgroup {
    uint64_t state; /* counter << 32 | waiters */
    uint32_t sema;
} gort_waitgroup;

#define GORT_WAITGROUP_INIT {0, 0}

/* Adds delta (which may be negative) to the counter; when it reaches zero
 * every waiter is released. GORT_OK, or GORT_ENEGATIVE ("sync: negative
 * WaitGroup counter") when the counter would go below zero or past
 * INT32_MAX; the counter is then left unchanged. */
int gort_waitgroup_add(gort_waitgroup *wg, int delta);

/* gort_waitgroup_add(wg, -1). */
int gort_waitgroup_done(gort_waitgroup *wg);

/* Waits until the counter is zero (returns at once if it is). */
void gort_waitgroup_wait(gort_waitgroup *wg);

/*
 * Once (sync.Once): runs a function exactly once however many callers race.
 */
typedef struct gort_once {
    uint32_t done; /* 1 once fn has returned */
    gort_mutex m;  /* serialises the first callers */
} gort_once;

#define GORT_ONCE_INIT {0, GORT_MUTEX_INIT}

/* Calls fn(arg) if no call of gort_once_do on o has done so yet. Every
 * caller returns only after that one fn has returned, so what fn set up is
 * visible to all of them. fn must return normally: it must not call gort_once_do on
 * the same o (that deadlocks, as in Go) nor end its goroutine with
 * gort_goexit (C has no defer: o would stay locked). */
void gort_once_do(gort_once *o, void (*fn)(void *), void *arg);

/* True once a gort_once_do on o has run its function to the end. */
bool gort_once_done(const gort_once *o);

#ifdef __cplusplus
}
#endif

#endif
