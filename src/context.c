/*
 * context.c — Go's context package (context/context.go) on the gort heap:
 * the roots Background and TODO, cancel contexts (WithCancel), timer
 * contexts (a cancel context with a deadline on a runtime timer) and value
 * contexts.
 *
 * Every context records its parent (immutable). A cancel context also
 * records `cparent`, its nearest ancestor that can be cancelled (NULL when
 * none can: the ancestors are roots and values), and is linked into that
 * ancestor's list of children at birth, unless the ancestor is cancelled
 * already: then it is born cancelled with the ancestor's Err.
 *
 * Each cancel context has a sync mutex (gort/sync.h), as Go's has, and the
 * locking is Go's: a canceller holds a context's lock from setting its err
 * until its whole subtree is cancelled, taking the children's locks in turn
 * (parent before child); a child that cancels itself unlinks from its parent
 * (delist) only after letting its own lock go. Go recurses; here the
 * canceller walks the subtree depth first with a loop, going back up
 * through cparent, so a chain of any depth fits a goroutine's stack (the
 * locks it holds are the path from the root of the cancellation down).
 *
 * Invariants:
 *  - err goes from GORT_OK to GORT_ECANCELED or GORT_EDEADLINE once, under
 *    the lock, which is then held until every context below is cancelled;
 *    in that critical section Done (if made) is closed. So Err, which takes
 *    the lock once err is set, reports a cancellation only when the
 *    subtree is cancelled and Done closed; and gort_context_cancel returns
 *    only then;
 *  - a child is in its cparent's children list exactly while `linked` is
 *    true; the list, `linked` and the sibling links prev/next change only
 *    under the cparent's lock. An unlinked context's prev and next are
 *    NULL (a cancelled context keeps no sibling alive);
 *  - a context whose err is set has an empty children list, and children
 *    are never added to it (they are born cancelled instead);
 *  - the deadline timer is armed under the context's lock and only while
 *    err is OK; the cancellation stops it once the context's lock is let
 *    go. The timer's f runs in the scheduler, where it must not park, so it
 *    takes no lock: it starts a goroutine that cancels (Go's time.AfterFunc
 *    does the same). Each arming ends exactly once, in f (fired) or in a
 *    timer_del that found it pending (stopped): what the counters count.
 */
#include "gort/context.h"

#include <stdatomic.h>

#include "gort/chan.h"
#include "gort/gc.h"
#include "gort/malloc.h"
#include "gort/proc.h"
#include "gort/sync.h"
#include "prim/prim.h"
#include "runtime.h"
#include "runtime2.h"
#include "timer.h"

enum ctx_kind {
    CTX_BACKGROUND,
    CTX_TODO,
    CTX_CANCEL,
    CTX_TIMER,
    CTX_VALUE,
};

struct gort_context {
    gort_context *parent; /* NULL for the roots */
    enum ctx_kind kind;
};

typedef struct valuectx {
    gort_context ctx;
    const void *key;
    void *val;
} valuectx;

typedef struct cancelctx cancelctx;
struct cancelctx {
    gort_context ctx;
    cancelctx *cparent;  /* nearest ancestor that can be cancelled, or NULL */
    gort_chan *done;     /* made by the first Done; atomic load, written under mu */
    cancelctx *children; /* first child linked here, under mu */
    cancelctx *prev;     /* siblings, under cparent->mu */
    cancelctx *next;
    gort_mutex mu;
    int err;             /* atomic load, written under mu */
    bool linked;         /* in cparent's children list; under cparent->mu */
};

typedef struct timerctx {
    cancelctx c;
    timer t;             /* t.arg is this context (untraced) */
    int64_t deadline;
} timerctx;

#define CANCEL_PTRS(type)                                                                   \
    (GORT_PTR_FIELD(type, ctx.parent) | GORT_PTR_FIELD(type, cparent) |                     \
     GORT_PTR_FIELD(type, done) | GORT_PTR_FIELD(type, children) | GORT_PTR_FIELD(type, prev) | \
     GORT_PTR_FIELD(type, next))

static const gort_type valuectx_type = GORT_TYPE(
    valuectx, "context.valueCtx",
    GORT_PTR_FIELD(valuectx, ctx.parent) | GORT_PTR_FIELD(valuectx, key) | GORT_PTR_FIELD(valuectx, val));
static const gort_type cancelctx_type = GORT_TYPE(cancelctx, "context.cancelCtx", CANCEL_PTRS(cancelctx));
/* c comes first in a timerctx: its fields sit where a cancelctx has them.
 * t.arg points at the context itself, and is not traced: a pending timer is
 * a root that keeps its context, and a pointer to itself keeps nothing
 * (traced, it would tie the object to itself for a finalizer). */
static const gort_type timerctx_type = GORT_TYPE(timerctx, "context.timerCtx", CANCEL_PTRS(cancelctx));

static gort_context background = {NULL, CTX_BACKGROUND};
static gort_context todo = {NULL, CTX_TODO};

/* gort_context_stats, kept as signed counters. */
static struct {
    _Atomic int64_t created;
    _Atomic int64_t canceled;
    _Atomic int64_t children;
    _Atomic int64_t timers;
    _Atomic int64_t timers_fired;
    _Atomic int64_t timers_stopped;
} stats;

static inline void count(_Atomic int64_t *counter, int64_t delta)
{
    atomic_fetch_add_explicit(counter, delta, memory_order_relaxed);
}

gort_context *gort_context_background(void) { return &background; }
gort_context *gort_context_todo(void) { return &todo; }

static inline bool is_cancelable(const gort_context *ctx)
{
    return ctx->kind == CTX_CANCEL || ctx->kind == CTX_TIMER;
}

/* The nearest context from ctx up that can be cancelled, or NULL. */
static cancelctx *nearest_cancelable(gort_context *ctx)
{
    while (ctx != NULL && !is_cancelable(ctx))
        ctx = ctx->parent;
    return (cancelctx *)ctx;
}

static inline int load_err(const cancelctx *c) { return __atomic_load_n(&c->err, __ATOMIC_ACQUIRE); }

/* ---- cancellation ---- */

/* Sets err and closes Done (c's lock held, err still OK). */
static void mark_canceled(cancelctx *c, int err)
{
    __atomic_store_n(&c->err, err, __ATOMIC_RELEASE);
    if (c->done != NULL)
        gort_chan_close(c->done);
    count(&stats.canceled, 1);
}

/* Takes the first child out of c's list (c's lock held). */
static cancelctx *unlink_first_child(cancelctx *c)
{
    cancelctx *ch = c->children;
    if (ch == NULL)
        return NULL;
    GORT_STORE(c->children, ch->next);
    if (ch->next != NULL)
        GORT_STORE(ch->next->prev, NULL);
    GORT_STORE(ch->next, NULL);
    ch->linked = false;
    count(&stats.children, -1);
    return ch;
}

static void stop_timer(cancelctx *c)
{
    if (c->ctx.kind == CTX_TIMER && timer_del(&((timerctx *)c)->t)) {
        count(&stats.timers, -1);
        count(&stats.timers_stopped, 1);
    }
}

/* Takes c out of its cparent's children list, if it is still there. */
static void delist(cancelctx *c)
{
    cancelctx *p = c->cparent;
    if (p == NULL)
        return;
    gort_mutex_lock(&p->mu);
    if (c->linked) {
        if (c->prev != NULL)
            GORT_STORE(c->prev->next, c->next);
        else
            GORT_STORE(p->children, c->next);
        if (c->next != NULL)
            GORT_STORE(c->next->prev, c->prev);
        GORT_STORE(c->prev, NULL);
        GORT_STORE(c->next, NULL);
        c->linked = false;
        count(&stats.children, -1);
    }
    gort_mutex_unlock(&p->mu);
}

/*
 * Cancels root and its whole subtree with err, unless root is cancelled
 * already; with remove_from_parent, root then leaves its parent's list
 * (the parent's own cancellation unlinks its children itself). Depth
 * first: `cur` is locked, and so is every context from root down to it.
 */
static void cancel(cancelctx *root, int err, bool remove_from_parent)
{
    gort_mutex_lock(&root->mu);
    if (root->err != GORT_OK) {
        gort_mutex_unlock(&root->mu);
        return;
    }
    mark_canceled(root, err);
    cancelctx *cur = root;
    for (;;) {
        cancelctx *ch = unlink_first_child(cur);
        if (ch != NULL) {
            gort_mutex_lock(&ch->mu);
            if (ch->err != GORT_OK) {
                /* It cancelled itself, and its canceller let the lock go
                 * only after its subtree: nothing left to do there. */
                gort_mutex_unlock(&ch->mu);
                continue;
            }
            mark_canceled(ch, err);
            cur = ch;
            continue;
        }
        /* cur's subtree is done: back up to the context it hangs from. */
        cancelctx *up = cur == root ? NULL : cur->cparent;
        gort_mutex_unlock(&cur->mu);
        stop_timer(cur);
        if (up == NULL)
            break;
        cur = up;
    }
    if (remove_from_parent)
        delist(root);
}

int gort_context_cancel(gort_context *ctx)
{
    if (ctx == NULL || !is_cancelable(ctx))
        return GORT_EINVAL;
    cancel((cancelctx *)ctx, GORT_ECANCELED, true);
    return GORT_OK;
}

/* ---- making contexts ---- */

/* Links c under its nearest cancelable ancestor (Go's propagateCancel), or
 * cancels it at once when that ancestor is cancelled already. */
static void propagate_cancel(cancelctx *c)
{
    cancelctx *p = nearest_cancelable(c->ctx.parent);
    GORT_STORE(c->cparent, p);
    if (p == NULL)
        return; /* nothing above can be cancelled */
    gort_mutex_lock(&p->mu);
    int perr = p->err;
    if (perr == GORT_OK) {
        GORT_STORE(c->next, p->children);
        if (p->children != NULL)
            GORT_STORE(p->children->prev, c);
        GORT_STORE(p->children, c);
        c->linked = true;
        count(&stats.children, 1);
    }
    gort_mutex_unlock(&p->mu);
    if (perr != GORT_OK)
        cancel(c, perr, false);
}

static void init_cancelctx(cancelctx *c, gort_context *parent, enum ctx_kind kind)
{
    c->ctx.kind = kind;
    GORT_STORE(c->ctx.parent, parent);
    count(&stats.created, 1);
}

int gort_context_with_cancel(gort_context *parent, gort_context **ctx)
{
    *ctx = NULL;
    if (parent == NULL)
        return GORT_ENILCONTEXT;
    cancelctx *c = gort_new(&cancelctx_type);
    if (c == NULL)
        return GORT_ENOMEM;
    init_cancelctx(c, parent, CTX_CANCEL);
    propagate_cancel(c);
    *ctx = &c->ctx;
    return GORT_OK;
}

static void deadline_cancel(void *arg) { cancel(arg, GORT_EDEADLINE, true); }

/* How long a deadline waits before it tries again to start its goroutine
 * when none could be made. */
#define DEADLINE_RETRY_NS ((int64_t)1000000)

/* The deadline timer's f: runs in the scheduler, where it must not park,
 * so the cancellation (which takes locks) runs in a goroutine of its own.
 * When no goroutine can be made now, the timer is armed again a little
 * later: it still counts as armed. */
static void deadline_fired(void *arg, uintptr_t seq)
{
    (void)seq;
    timerctx *t = arg;
    if (gort_go(deadline_cancel, t) != GORT_OK) {
        t->t.when = prim_nanotime() + DEADLINE_RETRY_NS;
        timer_add(&t->t);
        return;
    }
    count(&stats.timers, -1);
    count(&stats.timers_fired, 1);
}

int gort_context_with_deadline(gort_context *parent, int64_t deadline, gort_context **ctx)
{
    *ctx = NULL;
    if (parent == NULL)
        return GORT_ENILCONTEXT;
    int64_t current;
    if (gort_context_deadline(parent, &current) && current <= deadline)
        return gort_context_with_cancel(parent, ctx); /* the parent's comes first */
    bool past = deadline <= prim_nanotime();
    if (!past && !sched_running())
        return GORT_ESTATE;
    timerctx *t = gort_new(&timerctx_type);
    if (t == NULL)
        return GORT_ENOMEM;
    cancelctx *c = &t->c;
    t->deadline = deadline;
    t->t.heap_index = -1; /* in no timer heap until armed */
    init_cancelctx(c, parent, CTX_TIMER);
    propagate_cancel(c);
    *ctx = &c->ctx;
    if (past) {
        cancel(c, GORT_EDEADLINE, true);
        return GORT_OK;
    }
    t->t.when = deadline;
    t->t.f = deadline_fired;
    t->t.arg = t; /* not a traced field: see timerctx_type */
    gort_mutex_lock(&c->mu);
    if (c->err == GORT_OK) {
        count(&stats.timers, 1);
        timer_add(&t->t);
    }
    gort_mutex_unlock(&c->mu);
    return GORT_OK;
}

int gort_context_with_timeout(gort_context *parent, int64_t timeout_ns, gort_context **ctx)
{
    int64_t now = prim_nanotime();
    int64_t deadline = timeout_ns <= 0 ? now : timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
    return gort_context_with_deadline(parent, deadline, ctx);
}

int gort_context_with_value(gort_context *parent, const void *key, void *value, gort_context **ctx)
{
    *ctx = NULL;
    if (parent == NULL)
        return GORT_ENILCONTEXT;
    if (key == NULL)
        return GORT_ENILKEY;
    valuectx *v = gort_new(&valuectx_type);
    if (v == NULL)
        return GORT_ENOMEM;
    v->ctx.kind = CTX_VALUE;
    GORT_STORE(v->ctx.parent, parent);
    GORT_STORE(v->key, key);
    GORT_STORE(v->val, value);
    *ctx = &v->ctx;
    return GORT_OK;
}

/* ---- the Context methods ---- */

gort_chan *gort_context_done(gort_context *ctx)
{
    cancelctx *c = nearest_cancelable(ctx);
    if (c == NULL)
        return NULL;
    gort_chan *d = __atomic_load_n(&c->done, __ATOMIC_ACQUIRE);
    if (d != NULL)
        return d;
    gort_mutex_lock(&c->mu);
    d = c->done;
    if (d == NULL && (d = gort_chan_make_bytes(0, 0)) != NULL) {
        if (c->err != GORT_OK)
            gort_chan_close(d);
        gort_store_release(&c->done, d); /* read without the lock */
    }
    gort_mutex_unlock(&c->mu);
    return d;
}

int gort_context_err(gort_context *ctx)
{
    cancelctx *c = nearest_cancelable(ctx);
    if (c == NULL || load_err(c) == GORT_OK)
        return GORT_OK;
    /* Cancelled: wait until the canceller is done with the subtree. */
    gort_mutex_lock(&c->mu);
    int err = c->err;
    gort_mutex_unlock(&c->mu);
    return err;
}

bool gort_context_deadline(gort_context *ctx, int64_t *deadline)
{
    for (; ctx != NULL; ctx = ctx->parent) {
        if (ctx->kind == CTX_TIMER) {
            *deadline = ((timerctx *)ctx)->deadline;
            return true;
        }
    }
    *deadline = 0;
    return false;
}

void *gort_context_value(gort_context *ctx, const void *key)
{
    for (; ctx != NULL; ctx = ctx->parent)
        if (ctx->kind == CTX_VALUE && ((valuectx *)ctx)->key == key)
            return ((valuectx *)ctx)->val;
    return NULL;
}

void gort_read_context_stats(gort_context_stats *s)
{
    s->created = (uint64_t)atomic_load(&stats.created);
    s->canceled = (uint64_t)atomic_load(&stats.canceled);
    s->children = atomic_load(&stats.children);
    s->timers = atomic_load(&stats.timers);
    s->timers_fired = (uint64_t)atomic_load(&stats.timers_fired);
    s->timers_stopped = (uint64_t)atomic_load(&stats.timers_stopped);
}
