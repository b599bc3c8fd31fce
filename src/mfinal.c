/*
 * mfinal.c — finalizers (Go's mfinal.go): gort_set_finalizer records a
 * function for an object; when a cycle finds the object unreachable, the
 * record moves to a queue, the object is marked once more (so it survives
 * until its finalizer has run and a later cycle finds it unreachable again),
 * and the finalizer goroutine runs the function.
 *
 * Invariants:
 *  - an object has at most one record; a record is either registered or
 *    queued, never both, so a finalizer runs at most once;
 *  - while registered, what the object points to is marked every cycle but
 *    the object itself is not (Go's rule: an object reachable only from a
 *    finalizable object is kept, so finalizers run in dependency order);
 *  - queued objects and the arguments of all records are roots;
 *  - the finalizer goroutine is a system goroutine: it is not counted among
 *    the program's goroutines and never keeps the runtime alive.
 */
#include <stdlib.h>

#include "gort/error.h"
#include "mgc.h"

typedef struct finalizer {
    uintptr_t obj;
    void (*fn)(void *obj, void *arg);
    void *arg;
} finalizer;

typedef struct finalizer_list {
    finalizer *items;
    size_t n, cap;
} finalizer_list;

static struct {
    mutex lock;
    finalizer_list registered;
    finalizer_list queue; /* FIFO: run from `head` on */
    size_t head;
    g *fing;          /* the finalizer goroutine, when it exists */
    bool fing_parked; /* fing waits for work */
} fin = {.lock = MUTEX_INIT};

static bool list_push(finalizer_list *l, finalizer f)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        finalizer *grown = realloc(l->items, cap * sizeof *grown);
        if (grown == NULL)
            return false;
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->n++] = f;
    return true;
}

int gort_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg)
{
    gort_object_info info;
    if (obj == NULL || !gort_find_object(obj, &info) || info.base != obj)
        return GORT_EINVAL;
    int err = GORT_OK;
    lock(&fin.lock);
    size_t i = 0;
    while (i < fin.registered.n && fin.registered.items[i].obj != (uintptr_t)obj)
        i++;
    if (fn == NULL) {
        if (i < fin.registered.n)
            fin.registered.items[i] = fin.registered.items[--fin.registered.n];
    } else if (i < fin.registered.n) {
        fin.registered.items[i].fn = fn;
        fin.registered.items[i].arg = arg;
    } else if (!list_push(&fin.registered, (finalizer){(uintptr_t)obj, fn, arg})) {
        err = GORT_ENOMEM;
    }
    unlock(&fin.lock);
    /* The argument now lives where marking may already have looked. */
    if (err == GORT_OK && fn != NULL)
        write_barrier_shade((uintptr_t)arg);
    return err;
}

void fin_mark_roots(gcwork *w)
{
    lock(&fin.lock);
    for (size_t i = 0; i < fin.registered.n; i++) {
        gc_scan_fields(fin.registered.items[i].obj, w);
        shade((uintptr_t)fin.registered.items[i].arg, w);
    }
    for (size_t i = fin.head; i < fin.queue.n; i++) {
        shade(fin.queue.items[i].obj, w);
        shade((uintptr_t)fin.queue.items[i].arg, w);
    }
    unlock(&fin.lock);
}

int fin_queue_unreachable(gcwork *w)
{
    int queued = 0;
    lock(&fin.lock);
    for (size_t i = 0; i < fin.registered.n;) {
        finalizer f = fin.registered.items[i];
        if (gc_is_marked(f.obj)) {
            i++;
            continue;
        }
        if (!list_push(&fin.queue, f))
            gort_throw("runtime: out of memory for the finalizer queue");
        fin.registered.items[i] = fin.registered.items[--fin.registered.n];
        shade(f.obj, w);
        queued++;
    }
    unlock(&fin.lock);
    return queued;
}

static bool fin_unlock(g *gp, void *arg)
{
    (void)gp;
    (void)arg;
    unlock(&fin.lock);
    return true;
}

static void fing_main(void *arg)
{
    (void)arg;
    lock(&fin.lock);
    for (;;) {
        if (fin.head == fin.queue.n) {
            fin.head = fin.queue.n = 0;
            fin.fing_parked = true;
            gopark(fin_unlock, NULL, WAIT_REASON_FINALIZER_WAIT);
            lock(&fin.lock);
            continue;
        }
        finalizer f = fin.queue.items[fin.head++];
        unlock(&fin.lock);
        /* f, on this stack, keeps the object alive while fn runs. */
        f.fn((void *)f.obj, f.arg);
        gort_keep_alive((void *)f.obj);
        lock(&fin.lock);
    }
}

void fin_wake(void)
{
    g *ready = NULL;
    bool start = false;
    lock(&fin.lock);
    if (fin.head < fin.queue.n) {
        if (fin.fing == NULL)
            start = true;
        else if (fin.fing_parked) {
            fin.fing_parked = false;
            ready = fin.fing;
        }
    }
    if (start) {
        fin.fing = sched_newproc_system(fing_main, NULL);
        if (fin.fing == NULL)
            start = false; /* no memory for it now: the next cycle tries again */
    }
    unlock(&fin.lock);
    if (ready != NULL)
        goready(ready);
}

void fin_runtime_stopped(void)
{
    lock(&fin.lock);
    fin.fing = NULL;
    fin.fing_parked = false;
    unlock(&fin.lock);
}
