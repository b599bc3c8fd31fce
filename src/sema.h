/*
 * sema.h — the runtime semaphore (Go's runtime/sema.go): a counting
 * semaphore on any uint32_t word, on which goroutines and external threads
 * sleep. It is what the sync types (src/sync.c) block on; the word itself
 * belongs to the object that embeds it (gort_mutex.sema, ...), and no
 * initialisation is needed: a zero word is a semaphore with no tickets.
 *
 * Invariants (kept by sema.c):
 *  - *addr counts tickets: semrelease adds one, semacquire takes one, and
 *    it only ever changes by atomic read-modify-write, never below zero;
 *  - a waiter sleeps only after it registered itself in its root's nwait
 *    and then found no ticket, under the root lock; a releaser adds its
 *    ticket before it reads nwait, so one of the two always sees the other:
 *    no wake-up is lost;
 *  - a waiter's sudog is in exactly one per-address queue while it sleeps,
 *    and is dequeued (under the root lock) by the one releaser that wakes it.
 */
#ifndef GORT_SEMA_H
#define GORT_SEMA_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime2.h"

/*
 * Waits until *addr > 0, then decrements it (Go's semacquire1). From a
 * goroutine it parks; from a thread that is not a goroutine it sleeps on a
 * futex (and counts as an external waiter meanwhile). lifo queues the caller
 * at the head of the address's queue instead of its tail (a mutex waiter
 * that was woken and lost the race queues in front again).
 */
void semacquire(uint32_t *addr, bool lifo, enum wait_reason reason);

/*
 * Increments *addr and wakes the first waiter on addr, if any (Go's
 * semrelease1). With handoff, the ticket is taken for the waiter right here
 * (so no one can barge in ahead of it) and a goroutine caller yields its P
 * to it at once: the woken goroutine sits in runnext and runs next.
 */
void semrelease(uint32_t *addr, bool handoff);

/*
 * Drops every goroutine from the semaphores' queues, called when a runtime
 * stops: the goroutines it abandoned (blocked for good, say on a static
 * WaitGroup when it reported a deadlock) are freed with it, and a semaphore
 * word at the same address in the next runtime must not wake them. Threads
 * that are not goroutines keep their places.
 */
void sema_forget_goroutines(void);

/* Goroutines and threads sleeping in semacquire on addr (for tests and
 * debugging: it takes the root lock). */
int sema_waiters(uint32_t *addr);

/*
 * Bounded spinning for the sync types (Go's sync_runtime_canSpin /
 * sync_runtime_doSpin). canspin(iter) says whether spinning round iter (0,
 * 1, ...) can help: only a few rounds, only on a machine with more than one
 * CPU, and, for a goroutine, only with GOMAXPROCS > 1 and nothing else
 * waiting in its P's run queue (it would delay that work). dospin busy-waits
 * for a few dozen pause instructions.
 */
bool sync_runtime_canspin(int iter);
void sync_runtime_dospin(void);

#endif
