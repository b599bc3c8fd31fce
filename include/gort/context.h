/*
 * gort/context.h — Go's context package: cancellation signals, deadlines
 * and request-scoped values carried down a tree of contexts.
 *
 * Contexts form a tree. The roots are Background and TODO, which are never
 * cancelled and have no values and no deadline. WithCancel, WithDeadline
 * and WithTimeout derive a context that can be cancelled (by its cancel
 * function, gort_context_cancel here; by its deadline; or by its parent's
 * cancellation); WithValue derives one that carries a key and a value.
 *
 * As in Go:
 *  - cancelling a context closes its Done channel, sets its Err, cancels
 *    every context derived from it (the whole subtree, with the same Err),
 *    and unlinks it from its parent, leaving its siblings alone;
 *  - a context derived from one that is already cancelled is born
 *    cancelled, with its parent's Err;
 *  - a deadline runs on the runtime's timers; cancelling earlier stops the
 *    timer. A deadline later than the parent's is the parent's;
 *  - calling cancel again, from any goroutine, does nothing; every function
 *    here may be called from many goroutines and threads at once.
 *
 * Contexts are objects on the gort heap: one that nobody references is
 * collected, cancelled or not. A parent references its children that are
 * not cancelled yet (so that it can cancel them), and a pending deadline
 * its context, as in Go: cancel every context you derive once its work is
 * done, or its parent keeps it (and its timer) until the parent itself is
 * cancelled. A thread that is not a goroutine keeps the contexts it holds
 * reachable as gort/gc.h says (a handle, say): its stack is no root.
 *
 * Times are the runtime's monotonic clock in nanoseconds (gort_nanotime).
 * Deadlines need a running runtime (gort_main); everything else works in
 * any thread at any time.
 */
#ifndef GORT_CONTEXT_H
#define GORT_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "chan.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A context. Opaque. */
typedef struct gort_context gort_context;

/* context.Background: the root of every tree, never cancelled, without
 * values or deadline. */
gort_context *gort_context_background(void);

/* context.TODO: the same as Background, for code that does not know yet
 * which context to use. */
gort_context *gort_context_todo(void);

/*
 * context.WithCancel: *ctx gets a new context, a child of parent, that is
 * cancelled when gort_context_cancel(*ctx) is called or when parent is
 * cancelled, whichever comes first. Returns GORT_OK; GORT_ENILCONTEXT
 * (Go's panic "cannot create context from nil parent") when parent is
 * NULL; GORT_ENOMEM when the heap cannot grow (*ctx is NULL then).
 */
int gort_context_with_cancel(gort_context *parent, gort_context **ctx);

/*
 * context.WithDeadline: like WithCancel, and the new context is also
 * cancelled with GORT_EDEADLINE at `deadline` (gort_nanotime's clock) if it
 * is not cancelled before. A deadline already past makes a context born
 * cancelled; a deadline later than parent's is ignored (parent's comes
 * first). Needs a running runtime for the timer: GORT_ESTATE otherwise.
 * Other codes as WithCancel.
 */
int gort_context_with_deadline(gort_context *parent, int64_t deadline, gort_context **ctx);

/* context.WithTimeout: WithDeadline(parent, now + timeout_ns). */
int gort_context_with_timeout(gort_context *parent, int64_t timeout_ns, gort_context **ctx);

/*
 * context.WithValue: *ctx gets a child of parent that carries key -> value
 * (found by gort_context_value on it and on every context derived from it,
 * unless one of those carries the same key). Keys are compared as
 * addresses: the address of a static object of your own makes a key no
 * other code can collide with (Go's unexported key type). Key and value
 * are pointers; objects of the gort heap they point to are kept alive.
 * GORT_ENILCONTEXT, GORT_ENILKEY (Go's panic "nil key") for a NULL key,
 * GORT_ENOMEM.
 */
int gort_context_with_value(gort_context *parent, const void *key, void *value, gort_context **ctx);

/*
 * The CancelFunc of a context made by WithCancel, WithDeadline or
 * WithTimeout: cancels it (see above) and returns GORT_OK, also when it was
 * cancelled already (nothing happens then). GORT_EINVAL when ctx is NULL or
 * was not made by one of those three.
 */
int gort_context_cancel(gort_context *ctx);

/*
 * Done: a channel (of zero-size elements) that is closed when ctx is
 * cancelled, for use in select; the same channel on every call. It is made
 * on the first call. NULL, the nil channel, when ctx can never be
 * cancelled (Background, TODO, and values derived only from them), and
 * also when the heap cannot grow to make the channel (a later call tries
 * again).
 */
gort_chan *gort_context_done(gort_context *ctx);

/* Err: GORT_OK while ctx is not cancelled; then GORT_ECANCELED ("context
 * canceled") or GORT_EDEADLINE ("context deadline exceeded"), for good. */
int gort_context_err(gort_context *ctx);

/* Deadline: true and the time at which ctx will be cancelled by a deadline
 * (its own or an ancestor's) in *deadline; false when it has none. */
bool gort_context_deadline(gort_context *ctx, int64_t *deadline);

/* Value: the value of the nearest context from ctx up to the root that
 * carries key, or NULL when none does. */
void *gort_context_value(gort_context *ctx, const void *key);

/* Counters over every context of the process, to check that nothing is
 * left behind. */
typedef struct gort_context_stats {
    uint64_t created;      /* contexts made by WithCancel/WithDeadline/WithTimeout */
    uint64_t canceled;     /* of them, cancelled so far (each counts once) */
    int64_t children;      /* parent-to-child links held now */
    int64_t timers;        /* deadline timers armed now (neither fired nor stopped) */
    uint64_t timers_fired;   /* deadline timers that fired (and cancelled, if nothing had) */
    uint64_t timers_stopped; /* timers stopped by an earlier cancellation */
} gort_context_stats;
void gort_read_context_stats(gort_context_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
