/*
 * fuzz_context_syncmap.c — libFuzzer target: the context tree and sync.Map,
 * each against a model. The first byte chooses which one an input drives.
 *
 * Contexts: an input decodes into derivations (WithCancel, WithDeadline
 * with a deadline already past or an hour away, WithValue over a few keys)
 * from any context made so far, cancellations, and misuse (NULL parent,
 * NULL key, cancel of a context that cannot be cancelled). The model is the
 * tree with each node's own Err and deadline. After every step, every
 * context's Err, Done (the nil channel, open or closed), Deadline and
 * Value for every key agree with the model. Then goroutines cancel chosen
 * contexts all at once, and the tree ends as the model says (cancellation
 * takes the same Err from any order); finally everything is cancelled and
 * the process-wide counters of child links and armed timers are back
 * where they were.
 *
 * sync.Map: an input decodes into Load, Store, LoadOrStore, LoadAndDelete,
 * Delete, Swap, CompareAndSwap, CompareAndDelete and Range over a small key
 * space, with the default hash or one where every key collides; each result
 * agrees with a model array, and Range sees each present key once with its
 * value. Then goroutines run the rest of the input at once, each on its own
 * keys, each with its own model, and the map ends as their models say.
 *
 * Invariants of the target itself: the contexts are kept reachable in a
 * heap array held by a handle (the model's C array is no root).
 */
#include <gort/gort.h>
#include <stdatomic.h>
#include <string.h>

#include "fuzz.h"

/* ---- contexts ---- */

enum {
    MAX_CTX = 64,
    NKEYS = 3,
    CTX_OPS = 128,
    CANCELLERS = 3,
};

#define HOUR_NS ((int64_t)3600 * 1000000000)

enum node_kind { N_ROOT, N_CANCEL, N_VALUE };

typedef struct node {
    enum node_kind kind;
    int parent;          /* -1 for a root */
    int err;             /* N_CANCEL: its own Err */
    bool has_deadline;   /* its own deadline (N_CANCEL) */
    int64_t deadline;
    int key;             /* N_VALUE */
    uintptr_t value;
} node;

static struct {
    node nodes[MAX_CTX];
    int n;
    gort_handle held; /* a heap array of the contexts */
    const uint8_t *cancel_plan;
    size_t plan_len;
    atomic_int cancellers_done;
} cx;

static const char ctx_keys[NKEYS] = {'a', 'b', 'c'};

static gort_context *ctx_at(int i) { return ((gort_context **)gort_handle_get(cx.held))[i]; }

static int model_err(int i)
{
    for (; i >= 0; i = cx.nodes[i].parent)
        if (cx.nodes[i].kind == N_CANCEL)
            return cx.nodes[i].err;
    return GORT_OK;
}

static bool model_cancellable(int i)
{
    for (; i >= 0; i = cx.nodes[i].parent)
        if (cx.nodes[i].kind == N_CANCEL)
            return true;
    return false;
}

static bool model_deadline(int i, int64_t *d)
{
    bool has = false;
    for (; i >= 0; i = cx.nodes[i].parent)
        if (cx.nodes[i].kind == N_CANCEL && cx.nodes[i].has_deadline && (!has || cx.nodes[i].deadline < *d)) {
            *d = cx.nodes[i].deadline;
            has = true;
        }
    return has;
}

static uintptr_t model_value(int i, int key)
{
    for (; i >= 0; i = cx.nodes[i].parent)
        if (cx.nodes[i].kind == N_VALUE && cx.nodes[i].key == key)
            return cx.nodes[i].value;
    return 0;
}

static bool is_ancestor_or_self(int a, int i)
{
    for (; i >= 0; i = cx.nodes[i].parent)
        if (i == a)
            return true;
    return false;
}

/* Cancels node i and every cancel context below it that is not yet. */
static void model_cancel(int i, int err)
{
    if (cx.nodes[i].err != GORT_OK)
        return;
    for (int j = 0; j < cx.n; j++)
        if (cx.nodes[j].kind == N_CANCEL && cx.nodes[j].err == GORT_OK && is_ancestor_or_self(i, j))
            cx.nodes[j].err = err;
}

static void check_contexts(int step)
{
    for (int i = 0; i < cx.n; i++) {
        gort_context *c = ctx_at(i);
        int err = gort_context_err(c);
        FUZZ_EXPECT(err == model_err(i), "step %d: context %d has Err %d, the model %d", step, i, err,
                    model_err(i));
        gort_chan *done = gort_context_done(c);
        if (!model_cancellable(i)) {
            FUZZ_EXPECT(done == NULL, "step %d: context %d that cannot be cancelled has a Done", step, i);
        } else {
            FUZZ_EXPECT(done != NULL, "step %d: context %d has no Done", step, i);
            FUZZ_EXPECT(done == gort_context_done(c), "step %d: Done changed", step);
            bool ok = true;
            int rc = gort_chan_tryrecv(done, NULL, &ok);
            FUZZ_EXPECT(err == GORT_OK ? rc == GORT_EWOULDBLOCK : rc == GORT_OK && !ok,
                        "step %d: context %d's Done is %s with Err %d", step, i,
                        rc == GORT_OK ? "closed" : "open", err);
        }
        int64_t d = 0, want = 0;
        bool has = gort_context_deadline(c, &d), want_has = model_deadline(i, &want);
        FUZZ_EXPECT(has == want_has && (!has || d == want), "step %d: context %d's deadline", step, i);
        for (int k = 0; k < NKEYS; k++)
            FUZZ_EXPECT((uintptr_t)gort_context_value(c, &ctx_keys[k]) == model_value(i, k),
                        "step %d: context %d's value for key %d", step, i, k);
    }
}

static void canceller(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (size_t i = 0; i < cx.plan_len; i++)
        if (cx.cancel_plan[i] % CANCELLERS == me) {
            int target = (cx.cancel_plan[i] >> 2) % cx.n;
            int rc = gort_context_cancel(ctx_at(target));
            FUZZ_EXPECT(rc == (cx.nodes[target].kind == N_CANCEL ? GORT_OK : GORT_EINVAL),
                        "a concurrent cancel returned %d", rc);
        }
    atomic_fetch_add(&cx.cancellers_done, 1);
}

static void run_contexts(void *arg)
{
    fuzz_reader *r = arg;
    gort_context_stats before, after;
    gort_read_context_stats(&before);
    memset(&cx, 0, sizeof cx);
    static const gort_type held_type = {"fuzz.contexts", sizeof(void *), 1, 1, NULL};
    gort_context **held = gort_new_array(&held_type, MAX_CTX);
    FUZZ_EXPECT(held != NULL, "context array");
    cx.held = gort_handle_new(held);
    GORT_STORE(held[0], gort_context_background());
    GORT_STORE(held[1], gort_context_todo());
    cx.nodes[0] = (node){.kind = N_ROOT, .parent = -1};
    cx.nodes[1] = (node){.kind = N_ROOT, .parent = -1};
    cx.n = 2;
    int64_t now = gort_nanotime();
    for (int step = 0; step < CTX_OPS && fuzz_more(r); step++) {
        uint8_t b = fuzz_byte(r);
        int target = (int)fuzz_below(r, (unsigned)cx.n);
        gort_context *parent = ctx_at(target), *child = NULL;
        node nd = {.kind = N_CANCEL, .parent = target};
        int rc = GORT_OK, want = GORT_OK;
        switch (b % 7) {
        case 0: /* WithCancel */
            rc = gort_context_with_cancel(parent, &child);
            break;
        case 1: /* WithDeadline, past or an hour away */
        case 2: {
            int64_t d = (b % 7 == 1) ? now - 1 - fuzz_byte(r) : now + HOUR_NS + (int64_t)fuzz_byte(r) * 1000;
            rc = gort_context_with_deadline(parent, d, &child);
            int64_t pd;
            if (!model_deadline(target, &pd) || d <= pd) {
                nd.has_deadline = true;
                nd.deadline = d;
            }
            break;
        }
        case 3: /* WithValue */
            nd.kind = N_VALUE;
            nd.key = (int)(fuzz_byte(r) % NKEYS);
            nd.value = 1 + fuzz_byte(r);
            rc = gort_context_with_value(parent, &ctx_keys[nd.key], (void *)nd.value, &child);
            break;
        case 4: /* cancel */
        case 5:
            rc = gort_context_cancel(parent);
            want = cx.nodes[target].kind == N_CANCEL ? GORT_OK : GORT_EINVAL;
            FUZZ_EXPECT(rc == want, "step %d: cancel of context %d returned %d", step, target, rc);
            if (want == GORT_OK)
                model_cancel(target, GORT_ECANCELED);
            break;
        default: { /* misuse: nothing changes */
            gort_context *none = (gort_context *)1;
            FUZZ_EXPECT(gort_context_with_cancel(NULL, &none) == GORT_ENILCONTEXT, "nil parent");
            FUZZ_EXPECT(gort_context_with_value(parent, NULL, NULL, &none) == GORT_ENILKEY, "nil key");
            FUZZ_EXPECT(gort_context_with_deadline(NULL, now, &none) == GORT_ENILCONTEXT, "nil parent");
            FUZZ_EXPECT(gort_context_cancel(NULL) == GORT_EINVAL, "cancel of NULL");
            FUZZ_EXPECT(gort_context_err(ctx_at(0)) == GORT_OK, "Background's Err");
            break;
        }
        }
        if (b % 7 <= 3) {
            FUZZ_EXPECT(rc == GORT_OK && child != NULL, "step %d: derivation returned %d", step, rc);
            if (cx.n < MAX_CTX) {
                GORT_STORE(held[cx.n], child);
                cx.nodes[cx.n] = nd;
                int i = cx.n++;
                if (nd.kind == N_CANCEL) {
                    /* Born cancelled: the parent's Err first, else a past
                     * deadline's. */
                    if (model_err(target) != GORT_OK)
                        cx.nodes[i].err = model_err(target);
                    else if (nd.has_deadline && nd.deadline <= now)
                        cx.nodes[i].err = GORT_EDEADLINE;
                }
            } else if (nd.kind == N_CANCEL) {
                FUZZ_EXPECT(gort_context_cancel(child) == GORT_OK, "cancel");
            }
        }
        check_contexts(step);
    }
    /* Cancellers at once; the remaining input says who cancels what. */
    cx.cancel_plan = r->data + r->pos;
    cx.plan_len = r->size - r->pos;
    for (size_t i = 0; i < cx.plan_len; i++) {
        int target = (cx.cancel_plan[i] >> 2) % cx.n;
        if (cx.nodes[target].kind == N_CANCEL)
            model_cancel(target, GORT_ECANCELED);
    }
    for (int g = 0; g < CANCELLERS; g++)
        FUZZ_EXPECT(gort_go(canceller, (void *)(intptr_t)g) == GORT_OK, "gort_go");
    while (atomic_load(&cx.cancellers_done) < CANCELLERS)
        gort_yield();
    check_contexts(-1);
    for (int i = 0; i < cx.n; i++)
        if (cx.nodes[i].kind == N_CANCEL) {
            gort_context_cancel(ctx_at(i));
            model_cancel(i, GORT_ECANCELED);
        }
    check_contexts(-2);
    gort_read_context_stats(&after);
    FUZZ_EXPECT(after.children == before.children, "child links left: %lld before, %lld after",
                (long long)before.children, (long long)after.children);
    FUZZ_EXPECT(after.timers == before.timers, "armed timers left: %lld before, %lld after",
                (long long)before.timers, (long long)after.timers);
    gort_handle_delete(cx.held);
}

/* ---- sync.Map ---- */

enum {
    SM_KEYS = 24,
    SM_OPS = 256,
    SM_WORKERS = 3,
};

typedef struct sm_model {
    bool present[SM_KEYS];
    uintptr_t value[SM_KEYS];
} sm_model;

static uintptr_t colliding_hash(uintptr_t key, uintptr_t seed)
{
    (void)key;
    return seed & 1; /* every key in the same probe sequence */
}

static const gort_maptype colliding = {.hash = colliding_hash};

typedef struct range_check {
    const sm_model *m;
    bool seen[SM_KEYS];
    int stop_after; /* Range stops when f returns false */
    int calls;
} range_check;

static bool range_f(uintptr_t key, uintptr_t value, void *arg)
{
    range_check *rc = arg;
    FUZZ_EXPECT(key < SM_KEYS && !rc->seen[key], "Range gave key %zu twice or never stored", (size_t)key);
    FUZZ_EXPECT(rc->m->present[key] && rc->m->value[key] == value, "Range gave key %zu value %zu",
                (size_t)key, (size_t)value);
    rc->seen[key] = true;
    return ++rc->calls != rc->stop_after;
}

/* One op of the map against the model; only keys with key % stride ==
 * lane are touched (the concurrent phase gives each goroutine a lane). */
static void sm_step(gort_syncmap *sm, sm_model *m, fuzz_reader *r, unsigned lane, unsigned stride, bool alone)
{
    uint8_t b = fuzz_byte(r);
    uintptr_t k = (uintptr_t)(fuzz_below(r, SM_KEYS / stride) * stride + lane);
    uintptr_t v = 1 + fuzz_byte(r), out = 12345, old;
    bool flag = false;
    switch (b % 10) {
    case 0:
        FUZZ_EXPECT(gort_syncmap_load(sm, k, &out) == m->present[k] && out == (m->present[k] ? m->value[k] : 0),
                    "Load(%zu)", (size_t)k);
        break;
    case 1:
    case 2:
        FUZZ_EXPECT(gort_syncmap_store(sm, k, v) == GORT_OK, "Store");
        m->present[k] = true;
        m->value[k] = v;
        break;
    case 3:
        FUZZ_EXPECT(gort_syncmap_load_or_store(sm, k, v, &out, &flag) == GORT_OK, "LoadOrStore");
        FUZZ_EXPECT(flag == m->present[k] && out == (m->present[k] ? m->value[k] : v), "LoadOrStore(%zu)", (size_t)k);
        m->present[k] = true;
        m->value[k] = out;
        break;
    case 4:
        FUZZ_EXPECT(gort_syncmap_load_and_delete(sm, k, &out) == m->present[k] &&
                        out == (m->present[k] ? m->value[k] : 0),
                    "LoadAndDelete(%zu)", (size_t)k);
        m->present[k] = false;
        break;
    case 5:
        gort_syncmap_delete(sm, k);
        m->present[k] = false;
        break;
    case 6:
        FUZZ_EXPECT(gort_syncmap_swap(sm, k, v, &out, &flag) == GORT_OK, "Swap");
        FUZZ_EXPECT(flag == m->present[k] && out == (m->present[k] ? m->value[k] : 0), "Swap(%zu)", (size_t)k);
        m->present[k] = true;
        m->value[k] = v;
        break;
    case 7:
        old = (b & 0x80) && m->present[k] ? m->value[k] : 1 + fuzz_byte(r);
        FUZZ_EXPECT(gort_syncmap_compare_and_swap(sm, k, old, v, &flag) == GORT_OK, "CompareAndSwap");
        FUZZ_EXPECT(flag == (m->present[k] && m->value[k] == old), "CompareAndSwap(%zu)", (size_t)k);
        if (flag)
            m->value[k] = v;
        break;
    case 8:
        old = (b & 0x80) && m->present[k] ? m->value[k] : 1 + fuzz_byte(r);
        flag = gort_syncmap_compare_and_delete(sm, k, old);
        FUZZ_EXPECT(flag == (m->present[k] && m->value[k] == old), "CompareAndDelete(%zu)", (size_t)k);
        if (flag)
            m->present[k] = false;
        break;
    default:
        if (alone) {
            range_check rc = {.m = m, .stop_after = (b >> 4) == 0 ? -1 : (b >> 4)};
            gort_syncmap_range(sm, range_f, &rc);
            int present = 0;
            for (int i = 0; i < SM_KEYS; i++)
                present += m->present[i];
            FUZZ_EXPECT(rc.calls == (rc.stop_after > 0 && rc.stop_after < present ? rc.stop_after : present),
                        "Range called f %d times for %d keys", rc.calls, present);
        }
        break;
    }
}

static struct {
    gort_handle map;
    fuzz_reader lanes[SM_WORKERS];
    sm_model models[SM_WORKERS];
    atomic_int done;
} smz;

static void sm_worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    gort_syncmap *sm = gort_handle_get(smz.map);
    while (fuzz_more(&smz.lanes[me]))
        sm_step(sm, &smz.models[me], &smz.lanes[me], (unsigned)me, SM_WORKERS, false);
    atomic_fetch_add(&smz.done, 1);
}

static void run_syncmap(void *arg)
{
    fuzz_reader *r = arg;
    gort_syncmap *sm = gort_syncmap_make(fuzz_byte(r) & 1 ? &colliding : NULL);
    FUZZ_EXPECT(sm != NULL, "gort_syncmap_make");
    static sm_model m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < SM_OPS && fuzz_more(r); i++)
        sm_step(sm, &m, r, 0, 1, true);
    FUZZ_EXPECT(gort_syncmap_store(NULL, 1, 1) == GORT_ENILMAP, "Store to the nil map");
    FUZZ_EXPECT(!gort_syncmap_load(NULL, 1, NULL), "Load from the nil map");
    /* The rest of the input, split in three lanes, at once; each lane's
     * keys start as the model left them. */
    memset(&smz, 0, sizeof smz);
    smz.map = gort_handle_new(sm);
    size_t rest = r->size - r->pos, part = rest / SM_WORKERS;
    for (int g = 0; g < SM_WORKERS; g++) {
        smz.lanes[g] = fuzz_reader_of(r->data + r->pos + part * (size_t)g, part);
        smz.models[g] = m;
        FUZZ_EXPECT(gort_go(sm_worker, (void *)(intptr_t)g) == GORT_OK, "gort_go");
    }
    while (atomic_load(&smz.done) < SM_WORKERS)
        gort_yield();
    for (uintptr_t k = 0; k < SM_KEYS; k++) {
        const sm_model *lm = &smz.models[k % SM_WORKERS];
        uintptr_t out = 0;
        FUZZ_EXPECT(gort_syncmap_load(sm, k, &out) == lm->present[k] && (!lm->present[k] || out == lm->value[k]),
                    "after the concurrent lanes: key %zu", (size_t)k);
        m.present[k] = lm->present[k];
        m.value[k] = lm->value[k];
    }
    range_check rc = {.m = &m, .stop_after = -1};
    gort_syncmap_range(sm, range_f, &rc);
    gort_handle_delete(smz.map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_reader r = fuzz_reader_of(data, size);
    bool contexts = (fuzz_byte(&r) & 1) == 0;
    gort_config cfg = {.procs = 2};
    int rc = gort_main(&cfg, contexts ? run_contexts : run_syncmap, &r);
    FUZZ_EXPECT(rc == GORT_OK, "gort_main returned %d", rc);
    return 0;
}
