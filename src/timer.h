/*
 * timer.h — the runtime's timers (Go's runtime timers in time.go): a heap of
 * timers ordered by when they are due, run by the scheduler when it looks for
 * work, so that a runtime with only sleeping goroutines sleeps until the next
 * one is due. They serve gort_sleep now, and time.After, tickers and context
 * deadlines later.
 */
#ifndef GORT_TIMER_H
#define GORT_TIMER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct timer timer;

struct timer {
    int64_t when;    /* monotonic ns when it is due */
    int64_t period;  /* > 0: fires again every period ns */
    /* Runs when due, on a worker that holds a p (it may call goready), and
     * never holds the timer lock: it may add, modify or delete timers. */
    void (*f)(void *arg, uintptr_t seq);
    void *arg;
    uintptr_t seq;
    int heap_index;  /* position in the heap, -1 when not in it */
};

/* Adds t, due at t->when (a time in the past fires at the next chance).
 * t must not be in the heap already. */
void timer_add(timer *t);

/* Removes t; true when it was still pending (so it will not fire). */
bool timer_del(timer *t);

/* Sets when/period of t and (re)inserts it; true when it was pending. */
bool timer_mod(timer *t, int64_t when, int64_t period);

/* Runs every timer due at `now`; returns when the next one is due, or -1
 * when none is left. Called by the scheduler. */
int64_t timers_run(int64_t now);

/* When the earliest timer is due, or -1 when there is none. */
int64_t timers_next_when(void);

/* Timers pending: while any are, a runtime with no runnable goroutine is
 * waiting, not deadlocked. */
int timers_pending(void);

/* Calls fn on every pending timer, under the timer lock (fn must not touch
 * timers): the collector's roots. */
void timers_each(void (*fn)(timer *t, void *arg), void *arg);

/* Drops every pending timer (when the runtime stops). */
void timers_clear(void);

#endif
