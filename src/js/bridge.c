/*
 * bridge.c — what the npm package's JavaScript calls: the runtime started on
 * a thread of its own, channels, select, timers and contexts reached through
 * handles, and operations for the three kinds of JS party: the main thread
 * (which may never block: asynchronous waiters), and workers (which may:
 * plain thread waiters, or asynchronous ones for their Promise API).
 *
 * JS holds no raw heap pointer: channels, contexts and tickers are gort
 * handles (gort/gc.h). A JS operation lives in an op record (js_op) that
 * this file allocates outside the gort heap and registers as a root region,
 * so that a value on its way (a payload pointer in an element) stays alive
 * while the operation is pending. The op record's layout, and the other
 * offsets JS needs, are published once by gort_js_layout.
 *
 * Values: a channel's element is either a scalar (f64, i32, bool: stored in
 * the channel itself) or a pointer to a payload, a pointer-free object of
 * the gort heap holding a 32-bit length and that many bytes (strings,
 * bytes, JSON, user codecs). Payloads are allocated straight into an op
 * record's element (mallocgc_external_into), so no collection can free one
 * between its allocation and the moment something references it.
 *
 * The main realm's thread runs in try mode (runtime2.h, gort_js_try_mode):
 * its asynchronous channel operations and payload allocations (through
 * gort_js_payload_try) take no lock that is not free at once, and return
 * CHAN_EBUSY, having done nothing, for JS to try again on a later task; a
 * goroutine they wake waits among the deferred readies when the scheduler's
 * lock is taken (JS flushes them: gort_js_flush_deferred).
 *
 * Invariants:
 *  - a function called from the main thread never waits for anything
 *    unbounded: channel locks are held for a few copies, nothing here
 *    assists the collector; gort_js_send, gort_js_recv, gort_js_select
 *    without a default, gort_js_select_finish, gort_js_cancel and
 *    gort_js_payload_try wait for no lock at all (the other calls may wait
 *    for one: a close, the try forms, a context's or channel's making, a
 *    stop-the-world pause);
 *  - an op record is pending (op->pending != NULL) from the call that queued
 *    it until gort_js_finish or gort_js_select_finish; it is freed only when
 *    not pending;
 *  - the functions marked "worker" block their thread and are never called
 *    on a browser's main thread (the JS checks before it calls);
 *  - every function by which a JS party starts an operation (a channel
 *    operation, a select, a close, a cancel, a goroutine) notes activity
 *    first: the main realm's deadlock watch counts on seeing every one;
 *  - every function JS calls that may take a lock or change shared state
 *    opens with JS_CALL, so that an attached worker's record says whether
 *    its thread was inside the runtime when it ended; a worker's blocking
 *    operation is an asynchronous waiter on an op record of the worker's
 *    list, and while it sleeps there (parked) it holds nothing else: what
 *    gort_js_thread_reap needs to clean up after a worker terminated from
 *    outside is all in shared memory;
 *  - a handle made here says what it holds (enum js_handle_kind), and every
 *    lookup asks for the kind it needs.
 */
#include <emscripten/emscripten.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gort/gort.h"
#include "chan.h"
#include "mgc.h"
#include "sizeclasses.h"
#include "prim/prim.h"
#include "runtime2.h"
#include "bridge.h"

/* ---- the layout descriptor ---- */

/* Offsets and sizes JS reads once (gort_js_layout), in this order; the JS
 * side names them in the same order (LAYOUT_FIELDS in realm.js). */
static const uint32_t js_layout[] = {
    sizeof(js_op),
    offsetof(js_op, elem),
    offsetof(js_op, pending),
    offsetof(js_op, ok),
    sizeof(gort_select_case),
    offsetof(gort_select_case, chan),
    offsetof(gort_select_case, dir),
    sizeof(uint64_t), /* one case's element, after the cases */
    offsetof(js_runtime_state, status),
    offsetof(js_runtime_state, exit_code),
    offsetof(js_runtime_state, doorbell),
    offsetof(js_runtime_state, slots),
    JS_THREAD_SLOTS,
    JS_MAX_PAYLOAD,
    sizeof(uint32_t), /* a payload's header: its length */
    offsetof(js_runtime_state, activity),
    offsetof(js_runtime_state, fatal),
    offsetof(js_runtime_state, fatal_text),
    JS_FATAL_TEXT_BYTES,
    offsetof(js_runtime_state, sleepers),
    offsetof(js_sleeper, sleeping_on),
    offsetof(js_sleeper, next),
    offsetof(js_runtime_state, ended),
    offsetof(js_sleeper, doorbell),
    offsetof(js_sleeper, scratch),
    JS_REALM_SCRATCH_BYTES,
};

EMSCRIPTEN_KEEPALIVE const uint32_t *gort_js_layout(void) { return js_layout; }
EMSCRIPTEN_KEEPALIVE uint32_t gort_js_layout_count(void) { return sizeof js_layout / sizeof js_layout[0]; }

/* ---- the runtime's life ---- */

static js_runtime_state state;
static gort_chan *quit; /* closed by gort_js_stop: goroutine 1 then returns */
static gort_config config;
static char godebug[256];

void js_note_activity(void)
{
    /* Read first: the line stays shared while the flag is already set. */
    if (!atomic_load_explicit(&state.activity, memory_order_relaxed))
        atomic_store_explicit(&state.activity, 1, memory_order_relaxed);
}

static void wake_state(void)
{
    atomic_fetch_add(&state.doorbell, 1);
    prim_futex_wake(&state.doorbell, INT32_MAX);
}

/* Goroutine 1 of a runtime JS started: says it runs and waits to be told to
 * stop. The keepalive stands for the JS parties, which may act at any time:
 * while the runtime is open their absence of a pending operation is no
 * deadlock. */
static void js_main(void *arg)
{
    gort_keepalive(1);
    atomic_store(&state.status, JS_RUNNING);
    wake_state();
    gort_chan_recv(quit, NULL, NULL);
    gort_keepalive(-1);
}

static void *runtime_thread(void *arg)
{
    int code = gort_main(&config, js_main, NULL);
    atomic_store(&state.exit_code, code);
    atomic_store(&state.status, JS_STOPPED);
    wake_state();
    return NULL;
}

EMSCRIPTEN_KEEPALIVE js_runtime_state *gort_js_state(void) { return &state; }

/*
 * Starts the runtime on a pool thread of its own (gort_main blocks) and
 * returns at once: JS awaits state.status becoming JS_RUNNING or
 * JS_STOPPED. gogc < -1 keeps the default; memory_limit < 0 too.
 */
EMSCRIPTEN_KEEPALIVE int gort_js_start(int procs, int gogc, double memory_limit, const char *debug)
{
    JS_CALL;
    if (atomic_load(&state.status) != JS_IDLE)
        return GORT_ESTATE;
    quit = gort_chan_make_bytes(0, 0);
    if (quit == NULL || gort_add_roots(&quit, sizeof quit) != GORT_OK)
        return GORT_ENOMEM;
    config = (gort_config){.procs = procs};
    if (debug != NULL) {
        strncpy(godebug, debug, sizeof godebug - 1);
        config.godebug = godebug;
    } else {
        config.godebug = ""; /* not the environment: a page has none */
    }
    if (gogc >= -1)
        gort_set_gc_percent(gogc);
    if (memory_limit >= 0)
        gort_set_memory_limit((int64_t)memory_limit);
    atomic_store(&state.status, JS_STARTING);
    /* The main realm's thread is a party to the runtime until it stops it:
     * its waits need not count one by one (sched_hold_open). */
    sched_hold_open(true);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int err = pthread_create(&thread, &attr, runtime_thread, NULL);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        sched_hold_open(false);
        atomic_store(&state.status, JS_IDLE);
        return GORT_ESTATE;
    }
    return GORT_OK;
}

/* Asks goroutine 1 to return, which ends gort_main; non-blocking. */
EMSCRIPTEN_KEEPALIVE int gort_js_stop(void)
{
    JS_CALL;
    if (atomic_load(&state.status) != JS_RUNNING)
        return GORT_ESTATE;
    if (gort_chan_close(quit) != GORT_OK)
        return GORT_ESTATE;
    sched_hold_open(false);
    return GORT_OK;
}

/* Puts the calling thread in try mode (runtime2.h): the main realm's, once. */
EMSCRIPTEN_KEEPALIVE void gort_js_try_mode(void) { sched_set_try_mode(true); }

/* Readies the goroutines the try mode deferred, if the scheduler's lock is
 * free at once: how many still wait (JS tries again later). */
EMSCRIPTEN_KEEPALIVE int gort_js_flush_deferred(void) { JS_CALL; return sched_flush_deferred(); }

/* The words of the runtime's first fatal error ("" before any): a fatal
 * error's abort from C carries no text. */
EMSCRIPTEN_KEEPALIVE const char *gort_js_fatal_message(void) { return gort_fatal_message(); }

_Thread_local js_sleeper *js_thread_sleeper;

/* The calling thread is a worker's that attached: its waits in the runtime
 * give up (throw to its JS) once the runtime is over (state.ended: closed,
 * or dead of a fatal error), it sleeps where the realm that ends it can
 * wake it, and it is a party to the runtime until it detaches
 * (sched_hold_open). worker_id is JS's name for the worker (0: the runtime
 * gives it one, gort_js_thread_worker_id). Returns its record, for
 * gort_js_thread_detached; NULL without memory (then its waits cannot be
 * woken by a fatal error, and nobody can clean up after it). */
EMSCRIPTEN_KEEPALIVE js_sleeper *gort_js_thread_attached(uint32_t worker_id)
{
    sched_thread_adopted();
    sched_hold_open(true);
    js_sleeper *s = atomic_load(&state.sleepers);
    for (; s != NULL; s = s->next) {
        unsigned free = 0;
        if (atomic_compare_exchange_strong(&s->taken, &free, 1))
            break;
    }
    if (s == NULL) {
        /* Lines of its own: its thread writes it on every call (in_call),
         * and two workers' records in one line would pass it between their
         * cores each time. */
        size_t bytes = prim_cache_lines_bytes(sizeof *s);
        if ((s = aligned_alloc(PRIM_CACHE_LINE, bytes)) == NULL)
            return NULL;
        memset(s, 0, bytes);
        atomic_store(&s->taken, 1);
        js_sleeper *head = atomic_load(&state.sleepers);
        do
            s->next = head;
        while (!atomic_compare_exchange_weak(&state.sleepers, &head, s));
    }
    if (worker_id == 0)
        worker_id = atomic_fetch_add(&state.worker_ids, 1) + 1;
    s->in_call = 0;
    s->parked = 0;
    s->ops = NULL;
    s->thread = (uint32_t)(uintptr_t)pthread_self();
    s->staging = NULL;
    atomic_store(&s->doorbell, 0);
    atomic_store(&s->worker_id, worker_id);
    s->handle_owner = atomic_fetch_add(&state.handle_owners, 1) + 1;
    js_thread_sleeper = s;
    handles_owner_set(s->handle_owner);
    prim_futex_give_up_when(&state.ended, 1, &s->sleeping_on);
    return s;
}

EMSCRIPTEN_KEEPALIVE uint32_t gort_js_thread_worker_id(js_sleeper *s) { return atomic_load(&s->worker_id); }

/* The record's op records are the realm's own from now on (it frees them
 * or not; nobody cleans up after it). */
static void sleeper_disown_ops(js_sleeper *s)
{
    for (js_op *op = s->ops, *next; op != NULL; op = next) {
        next = op->owned_next;
        op->owner = NULL;
        op->owned_prev = op->owned_next = NULL;
    }
    s->ops = NULL;
}

/* A worker done with its record (detached, or cleaned up after): its
 * staging area is freed, its pthread goes back for the next worker, and
 * the record is free for the next one to take. */
static void sleeper_give_back(js_sleeper *s)
{
    free(s->staging);
    s->staging = NULL;
    js_thread_give_back(&state, s->thread);
    s->thread = 0;
    s->in_call = 0;
    s->parked = 0;
    atomic_store(&s->worker_id, 0);
    atomic_store(&s->taken, 0);
}

/* The worker's thread detaches: its waits are ordinary again, and its
 * record, staging area (if its realm, after a close, did not give it back)
 * and pthread go to the next worker (thread: the one it took, for a worker
 * without a record). The last call this thread makes into the module. */
EMSCRIPTEN_KEEPALIVE void gort_js_thread_detached(js_sleeper *s, uint32_t thread)
{
    prim_futex_give_up_when(NULL, 0, NULL);
    sched_hold_open(false);
    js_thread_sleeper = NULL;
    handles_owner_set(0);
    if (s == NULL) {
        js_thread_give_back(&state, thread);
        return;
    }
    sleeper_disown_ops(s);
    sleeper_give_back(s);
}

/* 1 when no goroutine can run until a JS party acts (sched_quiescent). */
EMSCRIPTEN_KEEPALIVE int gort_js_quiescent(void)
{
    JS_CALL;
    return atomic_load(&state.status) == JS_RUNNING && sched_quiescent();
}

/* ---- memory for JS ---- */

/* malloc and free for a realm's own use (C strings, out-parameters, its
 * staging area): through these, an attached worker terminated inside one
 * is known to have been inside a call (it may hold the allocator's lock). */
EMSCRIPTEN_KEEPALIVE void *gort_js_malloc(size_t bytes)
{
    JS_CALL;
    return malloc(bytes);
}

EMSCRIPTEN_KEEPALIVE void gort_js_free(void *p)
{
    JS_CALL;
    free(p);
}

/* A realm's staging area (realm.js): on an attached worker's thread it is
 * recorded in the worker's record, and freed by whoever cleans up after it
 * should it end without detaching. */
EMSCRIPTEN_KEEPALIVE void *gort_js_staging_new(size_t bytes)
{
    JS_CALL;
    void *p = malloc(bytes);
    if (js_thread_sleeper != NULL)
        js_thread_sleeper->staging = p;
    return p;
}

EMSCRIPTEN_KEEPALIVE void gort_js_staging_free(void *p)
{
    JS_CALL;
    if (js_thread_sleeper != NULL && js_thread_sleeper->staging == p)
        js_thread_sleeper->staging = NULL;
    free(p);
}

/* ---- handles ---- */

/* The object of handle h when it is of that kind (NULL for 0, a dead
 * handle, or one of another kind: a context's handle passed off as a
 * channel's is no channel). */
static void *object_of(uint32_t h, enum js_handle_kind kind) { return h == 0 ? NULL : handles_get_kind(h, kind); }

EMSCRIPTEN_KEEPALIVE int gort_js_release(uint32_t h) { JS_CALL; return gort_handle_delete(h); }

/* A handle of its own to the object of handle h, for a realm that opens a
 * handle another realm posted: the opened object then holds the channel or
 * context by itself, whatever becomes of h. 0 when h is dead (or no memory),
 * -1 when h holds no object of that kind (a handle relabelled by hand).
 * The object is alive when the new handle takes it only if h held it all
 * along (no thread's stack here is scanned): h, looked at again after, still
 * holding it says so; else the new handle goes, as if h had died first. */
EMSCRIPTEN_KEEPALIVE int32_t gort_js_handle_dup(uint32_t h, int kind)
{
    JS_CALL;
    int held = handles_kind(h);
    if (held < 0)
        return 0;
    if (held != kind)
        return -1;
    void *obj = object_of(h, kind);
    if (obj == NULL)
        return 0;
    uint32_t own = handles_new_kind(obj, kind);
    if (own != 0 && object_of(h, kind) != obj) {
        gort_handle_delete(own);
        return 0;
    }
    return (int32_t)own;
}

/* ---- channels ---- */

/* A payload pointer: one pointer word, which the collector traces. */
static const gort_type payload_ref_type = {
    .size = sizeof(void *), .ptrwords = 1, .ptrbits = 1, .name = "js payload ref"};

static size_t elem_size_of(int kind)
{
    switch (kind) {
    case JS_ELEM_F64: return sizeof(double);
    case JS_ELEM_I32: return sizeof(int32_t);
    case JS_ELEM_BOOL: return 1;
    case JS_ELEM_UNIT: return 0;
    default: return 0;
    }
}

/* make(chan T, cap) for an element kind; a handle, or 0 with *err set:
 * GORT_EINVAL for an unknown kind or a capacity out of range (Go's
 * "makechan: size out of range"), GORT_ENOMEM. */
EMSCRIPTEN_KEEPALIVE uint32_t gort_js_chan_make(int kind, double cap, int *err)
{
    JS_CALL;
    if (kind < 0 || kind > JS_ELEM_UNIT || !(cap >= 0) || cap > (double)INT32_MAX) {
        *err = GORT_EINVAL;
        return 0;
    }
    gort_chan *c = kind == JS_ELEM_PAYLOAD ? gort_chan_make(&payload_ref_type, (size_t)cap)
                                           : gort_chan_make_bytes(elem_size_of(kind), (size_t)cap);
    if (c == NULL) {
        /* The sizes are valid: only the buffer's size can be out of range. */
        *err = (size_t)cap * (elem_size_of(kind) ? elem_size_of(kind) : sizeof(void *)) > (1u << 30)
                   ? GORT_EINVAL
                   : GORT_ENOMEM;
        return 0;
    }
    uint32_t h = handles_new_kind(c, JS_HANDLE_CHAN);
    *err = h != 0 ? GORT_OK : GORT_ENOMEM;
    return h;
}

/* len, cap and element size of a channel into out[0..2]; GORT_EINVAL for a
 * dead handle. */
EMSCRIPTEN_KEEPALIVE int gort_js_chan_info(uint32_t h, uint32_t *out)
{
    JS_CALL;
    gort_chan *c = object_of(h, JS_HANDLE_CHAN);
    if (c == NULL)
        return GORT_EINVAL;
    out[0] = (uint32_t)gort_chan_len(c);
    out[1] = (uint32_t)gort_chan_cap(c);
    out[2] = (uint32_t)gort_chan_elemsize(c);
    return GORT_OK;
}

/* close(c): GORT_OK, GORT_ECLOSECLOSED, GORT_ECLOSENIL (h 0), GORT_EINVAL
 * for a dead handle. */
EMSCRIPTEN_KEEPALIVE int gort_js_chan_close(uint32_t h)
{
    JS_CALL;
    js_note_activity();
    if (h == 0)
        return GORT_ECLOSENIL;
    gort_chan *c = object_of(h, JS_HANDLE_CHAN);
    return c == NULL ? GORT_EINVAL : gort_chan_close(c);
}

/* The channel of handle h into *c (NULL for h 0: the nil channel); false
 * for a dead handle. */
static bool chan_of(uint32_t h, gort_chan **c)
{
    *c = object_of(h, JS_HANDLE_CHAN);
    return *c != NULL || h == 0;
}

/* ---- op records ---- */

/* A select's record ends with the room its select_async needs while it is
 * pending (no allocation per select). */
static size_t op_bytes(int ncases)
{
    size_t bytes = sizeof(js_op) + (size_t)ncases * (sizeof(gort_select_case) + sizeof(uint64_t));
    return ncases > 0 ? bytes + select_async_bytes(ncases) : bytes;
}

/* A zeroed op record for up to ncases select cases (0 for a channel
 * operation), registered as a root region; NULL without memory. */
EMSCRIPTEN_KEEPALIVE js_op *gort_js_op_new(int ncases)
{
    JS_CALL;
    if (ncases < 0 || ncases > GORT_SELECT_MAX_CASES)
        return NULL;
    /* Whole cache lines of its own: another thread writes its element and
     * flags when it hands a value over, and a neighbour's op record in the
     * same line would add transfers between cores to every hand-off. */
    size_t bytes = prim_cache_lines_bytes(op_bytes(ncases));
    js_op *op = aligned_alloc(PRIM_CACHE_LINE, bytes);
    if (op == NULL)
        return NULL;
    memset(op, 0, bytes);
    op->ncases = ncases;
    if (gort_add_roots(op, op_bytes(ncases)) != GORT_OK) {
        free(op);
        return NULL;
    }
    /* A worker's: whoever cleans up after the worker finds it. */
    js_sleeper *owner = js_thread_sleeper;
    if (owner != NULL) {
        op->owner = owner;
        op->owned_next = owner->ops;
        if (owner->ops != NULL)
            owner->ops->owned_prev = op;
        owner->ops = op;
    }
    return op;
}

static void op_free(js_op *op)
{
    js_sleeper *owner = op->owner;
    if (owner != NULL) {
        if (op->owned_prev != NULL)
            op->owned_prev->owned_next = op->owned_next;
        else
            owner->ops = op->owned_next;
        if (op->owned_next != NULL)
            op->owned_next->owned_prev = op->owned_prev;
    }
    gort_remove_roots(op);
    free(op);
}

EMSCRIPTEN_KEEPALIVE void gort_js_op_free(js_op *op)
{
    JS_CALL;
    if (op == NULL || op->pending != NULL)
        return;
    op_free(op);
}

static gort_select_case *op_cases(js_op *op) { return (gort_select_case *)(op + 1); }
static uint64_t *op_elems(js_op *op) { return (uint64_t *)(op_cases(op) + op->ncases); }
static void *op_select_space(js_op *op) { return op_elems(op) + op->ncases; }

/* A payload of len bytes allocated into the element word at `slot` (in an
 * op record): the address of its bytes, for JS to fill, or NULL when the
 * heap cannot grow. Its size is rounded up to a multiple of its header's
 * size: the tiny allocator aligns an object only as its size allows, and JS
 * reads the header as an aligned 32-bit word. */
EMSCRIPTEN_KEEPALIVE uint8_t *gort_js_payload_new(void **slot, uint32_t len)
{
    JS_CALL;
    if (len > JS_MAX_PAYLOAD)
        return NULL;
    size_t size = (sizeof(uint32_t) + (size_t)len + sizeof(uint32_t) - 1) & ~(sizeof(uint32_t) - 1);
    uint32_t *p = mallocgc_external_into(slot, size);
    if (p == NULL)
        return NULL;
    *p = len;
    return (uint8_t *)(p + 1);
}

/* gort_js_payload_new for a thread in try mode: 1 (never a payload's
 * address) when the allocation would have to wait for a lock. */
EMSCRIPTEN_KEEPALIVE uint8_t *gort_js_payload_try(void **slot, uint32_t len)
{
    JS_CALL;
    if (len > JS_MAX_PAYLOAD)
        return NULL;
    size_t size = (sizeof(uint32_t) + (size_t)len + sizeof(uint32_t) - 1) & ~(sizeof(uint32_t) - 1);
    bool busy;
    uint32_t *p = mallocgc_external_try_into(slot, size, &busy);
    if (busy)
        return (uint8_t *)1;
    if (p == NULL)
        return NULL;
    *p = len;
    return (uint8_t *)(p + 1);
}

/* ---- operations of asynchronous waiters (the main thread, Promises) ---- */

/* In try mode, an operation on a channel whose copies run the write barrier
 * takes the barrier's lock first (extalloc_try_hold), so that it never waits
 * for it halfway: false when it is not free at once. *held says whether to
 * let it go after. */
static bool barrier_lock_for(gort_chan *c, bool *held)
{
    *held = false;
    if (c == NULL || !chan_has_pointers(c) || !sched_in_try_mode())
        return true;
    *held = extalloc_try_hold();
    return *held;
}

/*
 * c <- op->elem for an asynchronous waiter. Returns GORT_OK (sent),
 * GORT_ECLOSED, GORT_EINVAL (dead handle), or GORT_EWOULDBLOCK with
 * op->pending set: JS awaits the doorbell, sees op's wake cell set (or gets
 * 1 from gort_js_ready) and calls gort_js_finish. h 0 is the nil channel:
 * GORT_EWOULDBLOCK with nothing pending (it never completes). In try mode,
 * CHAN_EBUSY: nothing was done, a lock was taken; try again later.
 */
EMSCRIPTEN_KEEPALIVE int gort_js_send(uint32_t h, js_op *op, atomic_uint *doorbell)
{
    JS_CALL;
    js_note_activity();
    gort_chan *c;
    if (!chan_of(h, &c))
        return GORT_EINVAL;
    bool held;
    if (!barrier_lock_for(c, &held))
        return CHAN_EBUSY;
    sudog *s;
    int r = chansend_async(c, &op->elem, doorbell, &s);
    if (held)
        extalloc_release_hold();
    op->pending = s;
    op->send = 1;
    return r;
}

/* v, ok := <-c into op->elem, op->ok; as gort_js_send. */
EMSCRIPTEN_KEEPALIVE int gort_js_recv(uint32_t h, js_op *op, atomic_uint *doorbell)
{
    JS_CALL;
    js_note_activity();
    gort_chan *c;
    if (!chan_of(h, &c))
        return GORT_EINVAL;
    bool held;
    if (!barrier_lock_for(c, &held))
        return CHAN_EBUSY;
    sudog *s;
    bool received = false;
    int r = chanrecv_async(c, &op->elem, &received, doorbell, &s);
    if (held)
        extalloc_release_hold();
    op->pending = s;
    op->send = 0;
    op->ok = received;
    return r;
}

/* 1 when op's pending operation has completed (its wake cell is set). */
EMSCRIPTEN_KEEPALIVE int gort_js_ready(js_op *op)
{
    JS_CALL;
    if (op->pending == NULL)
        return 0;
    if (op->ncases > 0)
        return sudog_async_poll(select_async_sudog(op->pending));
    return sudog_async_poll(op->pending);
}

/* The word that becomes non-zero when op's pending operation completes (for
 * JS to watch with Atomics.load), or NULL when nothing is pending. */
EMSCRIPTEN_KEEPALIVE atomic_uint *gort_js_wakecell(js_op *op)
{
    JS_CALL;
    if (op->pending == NULL)
        return NULL;
    sudog *s = op->ncases > 0 ? select_async_sudog(op->pending) : op->pending;
    return &s->wakecell;
}

/* Completes a pending send or receive that is ready: op->ok is 1 when the
 * value was handed over, 0 when close woke it (a send then failed). */
EMSCRIPTEN_KEEPALIVE void gort_js_finish(js_op *op)
{
    JS_CALL;
    op->ok = chan_async_finish(op->pending);
    op->pending = NULL;
}

/* Withdraws op's pending operation (a select, or a send when send is set,
 * or a receive) if nobody has taken it: 1 when withdrawn (nothing was sent
 * or received; op is no longer pending), 0 when it is completing (finish it
 * as usual); in try mode CHAN_EBUSY, nothing done, when a lock is taken. */
EMSCRIPTEN_KEEPALIVE int gort_js_cancel(js_op *op, int send)
{
    JS_CALL;
    if (op->pending == NULL)
        return 0;
    int r = op->ncases > 0 ? selectgo_async_cancel(op->pending) : chan_async_cancel(op->pending, send != 0);
    if (r == 1)
        op->pending = NULL;
    return r;
}

/* Non-blocking forms: GORT_OK, GORT_EWOULDBLOCK, GORT_ECLOSED (send),
 * GORT_EINVAL (dead handle). */
EMSCRIPTEN_KEEPALIVE int gort_js_trysend(uint32_t h, js_op *op)
{
    JS_CALL;
    js_note_activity();
    gort_chan *c;
    if (!chan_of(h, &c))
        return GORT_EINVAL;
    return gort_chan_trysend(c, &op->elem);
}

EMSCRIPTEN_KEEPALIVE int gort_js_tryrecv(uint32_t h, js_op *op)
{
    JS_CALL;
    js_note_activity();
    gort_chan *c;
    if (!chan_of(h, &c))
        return GORT_EINVAL;
    bool ok = false;
    int r = gort_chan_tryrecv(c, &op->elem, &ok);
    op->ok = ok;
    return r;
}

/* Turns the handles JS wrote into op's cases' chan fields into channels and
 * points each case at its element. GORT_EINVAL for a dead handle. */
static int cases_resolve(js_op *op, int ncases)
{
    gort_select_case *cases = op_cases(op);
    uint64_t *elems = op_elems(op);
    for (int i = 0; i < ncases; i++) {
        uint32_t h = (uint32_t)(uintptr_t)cases[i].chan;
        cases[i].chan = object_of(h, JS_HANDLE_CHAN);
        if (cases[i].chan == NULL && h != 0)
            return GORT_EINVAL;
        cases[i].elem = &elems[i];
        cases[i].ok = false;
    }
    return GORT_OK;
}

/* Records the chosen case's ok in op and returns the select's outcome (the
 * case, GORT_SELECT_DEFAULT, or -GORT_ECLOSED). */
static int select_done(js_op *op, int r)
{
    op->ok = r >= 0 ? op_cases(op)[r].ok : false;
    return r;
}

/* In try mode, a select whose copies may run the write barrier takes the
 * barrier's lock first, as barrier_lock_for does for one channel. */
static bool barrier_lock_for_cases(js_op *op, int ncases, bool *held)
{
    *held = false;
    if (!sched_in_try_mode())
        return true;
    for (int i = 0; i < ncases; i++) {
        gort_chan *c = op_cases(op)[i].chan;
        if (c != NULL && chan_has_pointers(c))
            return *held = extalloc_try_hold();
    }
    return true;
}

/*
 * select over op's first ncases cases (JS wrote a channel handle and a
 * direction into each, and send values into their elements), for an
 * asynchronous waiter. Returns the chosen case, GORT_SELECT_DEFAULT (with
 * has_default), -GORT_ECLOSED (a send case on a closed channel was
 * chosen), -GORT_EINVAL, or -GORT_EWOULDBLOCK with op->pending set (or not,
 * when no case has a channel: it never completes); a pending select ends
 * with gort_js_select_finish. In try mode without a default, SELECT_EBUSY
 * when a lock was taken: nothing was done, but the cases' channel fields
 * hold channels now, not handles (JS writes the handles again to retry).
 */
EMSCRIPTEN_KEEPALIVE int gort_js_select(js_op *op, int ncases, int has_default, atomic_uint *doorbell)
{
    JS_CALL;
    js_note_activity();
    if (ncases > op->ncases || cases_resolve(op, ncases) != GORT_OK)
        return -GORT_EINVAL;
    if (has_default)
        return select_done(op, gort_select(op_cases(op), ncases, true));
    bool held;
    if (!barrier_lock_for_cases(op, ncases, &held))
        return SELECT_EBUSY;
    select_async *a;
    int r = selectgo_async(op_cases(op), ncases, doorbell, op_select_space(op), &a);
    if (held)
        extalloc_release_hold();
    op->pending = a;
    if (a != NULL)
        return -GORT_EWOULDBLOCK;
    if (r == -GORT_EWOULDBLOCK || r == -GORT_EINVAL)
        return r;
    return select_done(op, r);
}

/* Ends a pending select that is ready: as gort_js_select; in try mode
 * SELECT_EBUSY, nothing done (still pending), when a lock is taken. */
EMSCRIPTEN_KEEPALIVE int gort_js_select_finish(js_op *op)
{
    JS_CALL;
    int r = selectgo_async_finish(op->pending);
    if (r == SELECT_EBUSY)
        return r;
    op->pending = NULL;
    return select_done(op, r);
}

/* ---- operations of plain thread waiters (workers: they block) ---- */

/*
 * A worker's blocking operation is an asynchronous waiter's whose thread
 * sleeps on the wake cell: its sudogs hang off its op record, where whoever
 * cleans up after a worker terminated in the middle of it finds them (the
 * same withdrawal as an abort's), and while it sleeps it holds nothing else.
 */

/* Marks the calling worker (if it is one) parked or not: while parked it
 * holds no lock, only its pending operation's sudogs, and whoever cleans up
 * after it if it is terminated there may withdraw them (gort_js_thread_reap).
 * The compiler fences keep the runtime's work on either side of the mark. */
static void thread_parked(bool parked)
{
    js_sleeper *me = js_thread_sleeper;
    if (me == NULL)
        return;
    if (!parked)
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
    me->parked = parked;
    if (parked)
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/*
 * A worker's send on a full buffered channel, or receive on an empty one,
 * first watches the channel for a while, holding nothing, and does it at
 * once when it can. Queued instead, it would be handed its value or its room
 * by the other side: between a faster sender and its receiver (or the
 * reverse) the channel keeps running full (empty), and each value that finds
 * it so costs a park and a wake-up, three transfers of cache lines between
 * cores and a sudog, rather than a look at the count. The watch reads the
 * count rarely, about every 2 us (a reader that looks often takes the line
 * away from the side that is about to change it: reading every ~0.1 us made
 * f64 streams slower and erratic, 1.0-2.9 M/s against a steady 2.4 without a
 * watch), for about 17 us in all, several of the other side's operations;
 * then the operation queues as ever. Measured in turns with and without it,
 * 100-byte strings between two workers went from 1.35 to 1.67 M/s (medians
 * of six; the machine's state moves either by more), f64 and JSON values
 * unchanged. Unbuffered channels are not watched: there a hand-off needs one
 * side queued. While it watches, the worker counts as parked (it holds no
 * lock and no sudog: whoever cleans up after a worker terminated there finds
 * nothing to withdraw).
 */
#define BUFFERED_WATCH_ROUNDS 8
#define BUFFERED_WATCH_PAUSES 64

/*
 * A sender that found the channel full waits until a share of it is free
 * (at most BUFFERED_WATCH_ROOM_MAX elements; small channels, which
 * semaphores use, wait for one), and then sends that many at once. The
 * value it holds meanwhile would have waited behind the whole buffer anyway,
 * so no receiver gets it later while the receivers keep up, and the watch's
 * end still bounds the wait. Sending into each slot the moment the receiver
 * frees it has both sides on the same lines of the buffer for every value:
 * between two workers, 100-byte strings went from 2.26 to 2.52 M/s (medians
 * of 16 runs, runtimes of both builds in one process, in turns), and the
 * slowest runs from 1.2-1.6 to 1.5-1.8; f64 and JSON values unchanged. A
 * receiver that found the channel empty takes the first value that comes:
 * a reply on a buffered channel must not wait for others.
 */
#define BUFFERED_WATCH_ROOM_SHARE 8
#define BUFFERED_WATCH_ROOM_MAX 128

/* Watches buffered c until a send (a receive) could proceed, or it is
 * closed: true; false once *rounds (what is left of the operation's
 * watch) run out. */
static bool buffered_watch(gort_chan *c, bool send, int *rounds)
{
    thread_parked(true);
    size_t room = c->dataqsiz / BUFFERED_WATCH_ROOM_SHARE;
    room = room < 1 ? 1 : room > BUFFERED_WATCH_ROOM_MAX ? BUFFERED_WATCH_ROOM_MAX : room;
    bool ready = false;
    while (!ready && *rounds > 0) {
        --*rounds;
        prim_procyield(BUFFERED_WATCH_PAUSES);
        size_t n = chan_load_size(&c->qcount);
        ready = chan_closed(c) != 0 || (send ? c->dataqsiz - n >= room : n > 0);
    }
    thread_parked(false);
    return ready;
}

/* c <- op->elem if c is buffered and that needs no wait before its watch
 * runs out: GORT_OK, GORT_ECLOSED; GORT_EWOULDBLOCK when it did not. */
static int buffered_send(gort_chan *c, js_op *op)
{
    if (c == NULL || c->dataqsiz == 0)
        return GORT_EWOULDBLOCK;
    int r, rounds = BUFFERED_WATCH_ROUNDS;
    while ((r = chan_send_internal(c, &op->elem, false)) == GORT_EWOULDBLOCK && buffered_watch(c, true, &rounds))
        ;
    return r;
}

/* The same for a receive into op->elem and op->ok. */
static int buffered_recv(gort_chan *c, js_op *op)
{
    if (c == NULL || c->dataqsiz == 0)
        return GORT_EWOULDBLOCK;
    int r, rounds = BUFFERED_WATCH_ROUNDS;
    bool received = false;
    while ((r = chan_recv_internal(c, &op->elem, false, &received)) == GORT_EWOULDBLOCK &&
           buffered_watch(c, false, &rounds))
        ;
    if (r == GORT_OK)
        op->ok = received;
    return r;
}

/* Sleeps until op's pending operation completes (true) or the monotonic
 * time deadline passes (false; < 0: no limit). */
static bool op_park(js_op *op, int64_t deadline)
{
    sudog *s = op->ncases > 0 ? select_async_sudog(op->pending) : op->pending;
    thread_parked(true);
    bool woken = sudog_async_block(s, deadline);
    thread_parked(false);
    return woken;
}

/* Waits for op's pending send or receive (sudog s, queued by chansend_async
 * or chanrecv_async) and ends it: chan_async_finish's outcome. */
static bool op_wait_chan(js_op *op, sudog *s, bool send)
{
    op->pending = s;
    op->send = send;
    op_park(op, -1);
    bool done = chan_async_finish(s);
    op->pending = NULL;
    return done;
}

/* The monotonic time timeout_ms from now, or -1 (no limit) for < 0. */
static int64_t deadline_after(double timeout_ms)
{
    if (!(timeout_ms >= 0))
        return -1;
    int64_t now = prim_nanotime();
    double ns = timeout_ms * 1e6;
    return ns >= (double)(INT64_MAX - now) ? INT64_MAX : now + (int64_t)ns;
}

/*
 * Worker: select over op's first ncases cases, blocking the calling thread
 * for at most timeout_ms (< 0: no limit). Returns as gort_select; ncases
 * (the index past the cases) when the timeout came first.
 */
EMSCRIPTEN_KEEPALIVE int gort_js_select_sync(js_op *op, int ncases, double timeout_ms)
{
    JS_CALL;
    js_note_activity();
    int64_t deadline = deadline_after(timeout_ms);
    if (ncases > op->ncases || cases_resolve(op, ncases) != GORT_OK)
        return -GORT_EINVAL;
    select_async *a;
    int r = selectgo_async(op_cases(op), ncases, NULL, op_select_space(op), &a);
    if (a == NULL && r == -GORT_EWOULDBLOCK) {
        /* No case has a channel: only the timeout ends it. */
        if (deadline < 0)
            gort_select(op_cases(op), ncases, false);
        for (int64_t now; (now = prim_nanotime()) < deadline;)
            gort_sleep(deadline - now);
        return ncases;
    }
    if (a == NULL)
        return r == -GORT_EINVAL ? r : select_done(op, r);
    op->pending = a;
    if (!op_park(op, deadline)) {
        if (selectgo_async_cancel(a) == 1) {
            op->pending = NULL;
            return ncases;
        }
        op_park(op, -1); /* a case fired meanwhile: its wake-up is on its way */
    }
    r = selectgo_async_finish(a);
    op->pending = NULL;
    return select_done(op, r);
}

/* Worker: v, ok := <-c into op->elem and op->ok, blocking. GORT_OK,
 * GORT_EINVAL. */
EMSCRIPTEN_KEEPALIVE int gort_js_recv_sync(uint32_t h, js_op *op)
{
    JS_CALL;
    js_note_activity();
    gort_chan *c;
    if (!chan_of(h, &c))
        return GORT_EINVAL;
    if (buffered_recv(c, op) == GORT_OK)
        return GORT_OK;
    bool received = false;
    sudog *s;
    int r = chanrecv_async(c, &op->elem, &received, NULL, &s);
    if (r == GORT_EWOULDBLOCK && s == NULL) /* the nil channel */
        r = gort_chan_recv(c, &op->elem, &received);
    if (r == GORT_EWOULDBLOCK) {
        received = op_wait_chan(op, s, false);
        r = GORT_OK;
    }
    op->ok = received;
    return r;
}

/* c <- op->elem, blocking: GORT_OK, GORT_ECLOSED (also when close woke the
 * waiting sender), GORT_EINVAL. */
static int send_blocking(gort_chan *c, js_op *op)
{
    int r = buffered_send(c, op);
    if (r != GORT_EWOULDBLOCK)
        return r;
    sudog *s;
    r = chansend_async(c, &op->elem, NULL, &s);
    if (r == GORT_EWOULDBLOCK && s == NULL) /* the nil channel */
        return gort_chan_send(c, &op->elem);
    if (r != GORT_EWOULDBLOCK)
        return r;
    return op_wait_chan(op, s, true) ? GORT_OK : GORT_ECLOSED;
}

/* Worker: c <- a payload of the len bytes at src (the realm's staging
 * area, where JS encoded them), made into op->elem: one call where a
 * payload's making and its send were two, and no copy through a JS buffer.
 * GORT_OK, GORT_ECLOSED, GORT_EINVAL, GORT_ENOMEM. */
EMSCRIPTEN_KEEPALIVE int gort_js_send_staged_sync(uint32_t h, js_op *op, const uint8_t *src, uint32_t len)
{
    JS_CALL;
    js_note_activity();
    gort_chan *c;
    if (!chan_of(h, &c))
        return GORT_EINVAL;
    uint8_t *p = gort_js_payload_new((void **)&op->elem, len);
    if (p == NULL)
        return GORT_ENOMEM;
    memcpy(p, src, len);
    return send_blocking(c, op);
}

/* Worker: c <- op->elem, blocking. GORT_OK, GORT_ECLOSED, GORT_EINVAL. */
EMSCRIPTEN_KEEPALIVE int gort_js_send_sync(uint32_t h, js_op *op)
{
    JS_CALL;
    js_note_activity();
    gort_chan *c;
    if (!chan_of(h, &c))
        return GORT_EINVAL;
    return send_blocking(c, op);
}

/* ---- after a worker that did not detach ---- */

/* gort_js_thread_reap's outcomes (besides CHAN_EBUSY). */
enum {
    JS_REAP_NONE = 0,    /* no attached worker has that id (it detached) */
    JS_REAP_DONE = 1,    /* cleaned up after */
    JS_REAP_IN_CALL = 2, /* it ended inside a call: the runtime cannot go on */
};

/*
 * A worker attached as worker_id has ended without detaching (terminated
 * from outside: nothing ran in it). Withdraws what it had under way (a
 * value it was sending is not sent; one handed to it in the moment it ended
 * went with it, as a message posted to a terminated worker does), lets go
 * of its op records and handles and of its hold on the runtime (a deadlock
 * can be seen again), frees its staging area, and gives its thread (for
 * the next worker to adopt: thread.c) and its record back. JS_REAP_IN_CALL when it ended inside a call elsewhere than asleep
 * in a blocking operation: it may have held a lock or owed a wake-up, and
 * the runtime must end (the caller publishes a fatal error). In try mode
 * CHAN_EBUSY when a lock was taken or a completing operation's wake-up has
 * not come yet: call again later (what was done stays done).
 */
EMSCRIPTEN_KEEPALIVE int gort_js_thread_reap(uint32_t worker_id)
{
    JS_CALL;
    if (worker_id == 0)
        return JS_REAP_NONE;
    js_sleeper *s = atomic_load(&state.sleepers);
    while (s != NULL && !(atomic_load(&s->taken) && atomic_load(&s->worker_id) == worker_id))
        s = s->next;
    if (s == NULL)
        return JS_REAP_NONE;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (s->in_call != 0 && !s->parked)
        return JS_REAP_IN_CALL;
    for (js_op *op = s->ops; op != NULL; op = op->owned_next) {
        if (op->pending == NULL)
            continue;
        int r = gort_js_cancel(op, (int)op->send);
        if (r == CHAN_EBUSY)
            return CHAN_EBUSY;
        if (r == 0) {
            /* Taken meanwhile: the value goes with the worker. */
            if (!gort_js_ready(op))
                return CHAN_EBUSY;
            if (op->ncases == 0)
                gort_js_finish(op);
            else if (gort_js_select_finish(op) == SELECT_EBUSY)
                return CHAN_EBUSY;
        }
    }
    while (s->ops != NULL)
        op_free(s->ops);
    handles_delete_owned(s->handle_owner);
    sched_external_waiters_add(-1); /* its sched_hold_open */
    sleeper_give_back(s);
    return JS_REAP_DONE;
}

/* ---- timers ---- */

/* time.After(ms): a handle of a channel of one f64-sized element (the
 * monotonic time it fired, an int64 in nanoseconds), or 0 without memory. */
EMSCRIPTEN_KEEPALIVE uint32_t gort_js_after(double ms)
{
    JS_CALL;
    gort_chan *c = gort_after((int64_t)(ms * 1e6));
    return c != NULL ? handles_new_kind(c, JS_HANDLE_CHAN) : 0;
}

/* time.NewTicker(ms): a handle of the ticker (its channel from
 * gort_js_ticker_chan), or 0: *err GORT_EINVAL for a period <= 0 (Go's
 * "non-positive interval for NewTicker"), else GORT_ENOMEM. */
EMSCRIPTEN_KEEPALIVE uint32_t gort_js_ticker(double ms, int *err)
{
    JS_CALL;
    int64_t ns = (int64_t)(ms * 1e6);
    if (!(ns > 0)) {
        *err = GORT_EINVAL;
        return 0;
    }
    gort_ticker *t = gort_ticker_make(ns);
    uint32_t h = t != NULL ? handles_new_kind(t, JS_HANDLE_TICKER) : 0;
    *err = h != 0 ? GORT_OK : GORT_ENOMEM;
    return h;
}

EMSCRIPTEN_KEEPALIVE uint32_t gort_js_ticker_chan(uint32_t h)
{
    JS_CALL;
    gort_ticker *t = object_of(h, JS_HANDLE_TICKER);
    return t != NULL ? handles_new_kind(gort_ticker_chan(t), JS_HANDLE_CHAN) : 0;
}

EMSCRIPTEN_KEEPALIVE int gort_js_ticker_stop(uint32_t h)
{
    JS_CALL;
    gort_ticker *t = object_of(h, JS_HANDLE_TICKER);
    if (t == NULL)
        return GORT_EINVAL;
    gort_ticker_stop(t);
    return GORT_OK;
}

/* ---- contexts ---- */

/* A handle of context.Background(). */
EMSCRIPTEN_KEEPALIVE uint32_t gort_js_ctx_background(void) { JS_CALL; return handles_new_kind(gort_context_background(), JS_HANDLE_CONTEXT); }

static uint32_t derived(int err, gort_context *ctx, int *errp)
{
    uint32_t h = err == GORT_OK ? handles_new_kind(ctx, JS_HANDLE_CONTEXT) : 0;
    *errp = err != GORT_OK ? err : h != 0 ? GORT_OK : GORT_ENOMEM;
    return h;
}

/* WithCancel, WithTimeout (ms), WithDeadline (ms on the clock of
 * gort_js_now): a handle of the new context, or 0 with *err
 * (GORT_ENILCONTEXT for a dead parent handle, GORT_ENOMEM). */
EMSCRIPTEN_KEEPALIVE uint32_t gort_js_ctx_with_cancel(uint32_t parent, int *err)
{
    JS_CALL;
    gort_context *ctx = NULL;
    return derived(gort_context_with_cancel(object_of(parent, JS_HANDLE_CONTEXT), &ctx), ctx, err);
}

EMSCRIPTEN_KEEPALIVE uint32_t gort_js_ctx_with_timeout(uint32_t parent, double ms, int *err)
{
    JS_CALL;
    gort_context *ctx = NULL;
    return derived(gort_context_with_timeout(object_of(parent, JS_HANDLE_CONTEXT), (int64_t)(ms * 1e6), &ctx), ctx, err);
}

EMSCRIPTEN_KEEPALIVE uint32_t gort_js_ctx_with_deadline(uint32_t parent, double at_ms, int *err)
{
    JS_CALL;
    gort_context *ctx = NULL;
    return derived(gort_context_with_deadline(object_of(parent, JS_HANDLE_CONTEXT), (int64_t)(at_ms * 1e6), &ctx), ctx,
                   err);
}

/* Value keys from JS are strings: each distinct string gets one address,
 * the same in every realm, for as long as the runtime lives. */
#define KEY_TABLE_MAX 4096
static struct {
    mutex lock;
    char *keys[KEY_TABLE_MAX];
    uint32_t n;
} key_table;

static const void *intern_key(const char *key)
{
    lock(&key_table.lock);
    const void *found = NULL;
    for (uint32_t i = 0; i < key_table.n && found == NULL; i++)
        if (strcmp(key_table.keys[i], key) == 0)
            found = key_table.keys[i];
    if (found == NULL && key_table.n < KEY_TABLE_MAX && (found = strdup(key)) != NULL)
        key_table.keys[key_table.n++] = (char *)found;
    unlock(&key_table.lock);
    return found;
}

/* WithValue(parent, key, value): value is the payload in *value_slot (an op
 * record's element). *err also GORT_ENOMEM when the key table is full. */
EMSCRIPTEN_KEEPALIVE uint32_t gort_js_ctx_with_value(uint32_t parent, const char *key, void **value_slot,
                                                     int *err)
{
    JS_CALL;
    const void *k = intern_key(key);
    if (k == NULL) {
        *err = GORT_ENOMEM;
        return 0;
    }
    gort_context *ctx = NULL;
    return derived(gort_context_with_value(object_of(parent, JS_HANDLE_CONTEXT), k, *value_slot, &ctx), ctx, err);
}

/* Value(key): the payload, or NULL. The context (which JS holds by its
 * handle) keeps it alive while JS reads it. */
EMSCRIPTEN_KEEPALIVE void *gort_js_ctx_value(uint32_t h, const char *key)
{
    JS_CALL;
    gort_context *ctx = object_of(h, JS_HANDLE_CONTEXT);
    return ctx != NULL ? gort_context_value(ctx, intern_key(key)) : NULL;
}

EMSCRIPTEN_KEEPALIVE int gort_js_ctx_cancel(uint32_t h)
{
    JS_CALL;
    js_note_activity();
    gort_context *ctx = object_of(h, JS_HANDLE_CONTEXT);
    return ctx != NULL ? gort_context_cancel(ctx) : GORT_EINVAL;
}

EMSCRIPTEN_KEEPALIVE int gort_js_ctx_err(uint32_t h)
{
    JS_CALL;
    gort_context *ctx = object_of(h, JS_HANDLE_CONTEXT);
    return ctx != NULL ? gort_context_err(ctx) : GORT_EINVAL;
}

/* A new handle of ctx's Done channel; 0 for a context that is never done
 * (JS uses the nil channel then) or without memory (*err). */
EMSCRIPTEN_KEEPALIVE uint32_t gort_js_ctx_done(uint32_t h, int *err)
{
    JS_CALL;
    gort_context *ctx = object_of(h, JS_HANDLE_CONTEXT);
    if (ctx == NULL) {
        *err = GORT_EINVAL;
        return 0;
    }
    gort_chan *done = gort_context_done(ctx);
    *err = GORT_OK;
    return done != NULL ? handles_new_kind(done, JS_HANDLE_CHAN) : 0;
}

/* The deadline in ms on gort_js_now's clock, or -1 without one. */
EMSCRIPTEN_KEEPALIVE double gort_js_ctx_deadline(uint32_t h)
{
    JS_CALL;
    gort_context *ctx = object_of(h, JS_HANDLE_CONTEXT);
    int64_t at;
    if (ctx == NULL || !gort_context_deadline(ctx, &at))
        return -1;
    return (double)at / 1e6;
}

/* The runtime's monotonic clock in ms. */
EMSCRIPTEN_KEEPALIVE double gort_js_now(void) { return (double)gort_nanotime() / 1e6; }

/* Go's text for an error code. */
EMSCRIPTEN_KEEPALIVE const char *gort_js_strerror(int err) { return gort_strerror(err); }

/* ---- observation: metrics, event rings, the page map (src/js/observe.js) ----
 *
 * The rings and the page map are read by JS straight from memory, never
 * through a call: observe_layout tells it where they are and every offset
 * in them, each entry by name (gort_js_observe_layout_names: the names,
 * NUL-separated, in the entries' order), so no struct layout is written in
 * JS. Metrics are read through a call (gort_js_metric). */

#define OBSERVE_FIELDS(X)                                                     \
    X(traceHeader, (uintptr_t)gort_trace_rings())                             \
    X(traceRingEvents, offsetof(gort_trace_header, ring_events))              \
    X(traceNprocs, offsetof(gort_trace_header, nprocs))                       \
    X(traceRings, offsetof(gort_trace_header, rings))                         \
    X(traceGoroutineReaders, offsetof(gort_trace_header, goroutine_readers))  \
    X(traceCollector, GORT_TRACE_COLLECTOR)                                   \
    X(ringHead, offsetof(gort_trace_ring, head))                              \
    X(ringEvents, offsetof(gort_trace_ring, events))                          \
    X(eventSize, sizeof(gort_trace_event))                                    \
    X(eventTime, offsetof(gort_trace_event, time))                            \
    X(eventKind, offsetof(gort_trace_event, kind))                            \
    X(eventLane, offsetof(gort_trace_event, lane))                            \
    X(eventArg, offsetof(gort_trace_event, arg))                              \
    X(evGcPhase, GORT_EV_GC_PHASE)                                            \
    X(evState, GORT_EV_STATE)                                                 \
    X(evStwBegin, GORT_EV_STW_BEGIN)                                          \
    X(evStwStopped, GORT_EV_STW_STOPPED)                                      \
    X(evStwEnd, GORT_EV_STW_END)                                              \
    X(evCycleLiveStart, GORT_EV_CYCLE_LIVE_START)                             \
    X(evCycleLiveEnd, GORT_EV_CYCLE_LIVE_END)                                 \
    X(evCycleMarked, GORT_EV_CYCLE_MARKED)                                    \
    X(evCycleGoal, GORT_EV_CYCLE_GOAL)                                        \
    X(evCycleTrigger, GORT_EV_CYCLE_TRIGGER)                                  \
    X(evCycleAssistRatio, GORT_EV_CYCLE_ASSIST_RATIO)                         \
    X(evCycleAssistNs, GORT_EV_CYCLE_ASSIST_NS)                               \
    X(evCycleMarkNs, GORT_EV_CYCLE_MARK_NS)                                   \
    X(evCycleEnd, GORT_EV_CYCLE_END)                                          \
    X(evGoCreate, GORT_EV_GO_CREATE)                                          \
    X(evGoStart, GORT_EV_GO_START)                                            \
    X(evGoBlock, GORT_EV_GO_BLOCK)                                            \
    X(evGoUnblock, GORT_EV_GO_UNBLOCK)                                        \
    X(evGoStop, GORT_EV_GO_STOP)                                              \
    X(evGoEnd, GORT_EV_GO_END)                                                \
    X(stateIdle, GORT_TRACE_IDLE)                                             \
    X(stateRunning, GORT_TRACE_RUNNING)                                       \
    X(stateAssist, GORT_TRACE_ASSIST)                                         \
    X(stateSweep, GORT_TRACE_SWEEP)                                           \
    X(stateStopped, GORT_TRACE_STOPPED)                                       \
    X(stateMark, GORT_TRACE_MARK)                                             \
    X(phaseOff, GORT_GC_OFF)                                                  \
    X(phaseSweepTermination, GORT_GC_SWEEP_TERMINATION)                       \
    X(phaseMark, GORT_GC_MARK)                                                \
    X(phaseMarkTermination, GORT_GC_MARK_TERMINATION)                         \
    X(phaseSweep, GORT_GC_SWEEP)                                              \
    X(heapmapHeader, (uintptr_t)gort_heapmap())                               \
    X(hmNarenas, offsetof(gort_heapmap_header, narenas))                      \
    X(hmPagesPerArena, offsetof(gort_heapmap_header, pages_per_arena))        \
    X(hmPageSize, offsetof(gort_heapmap_header, page_size))                   \
    X(hmSweepgen, offsetof(gort_heapmap_header, sweepgen))                    \
    X(hmArenas, offsetof(gort_heapmap_header, arenas))                        \
    X(hmArenaGen, offsetof(gort_heapmap_arena, gen))                          \
    X(hmArenaBase, offsetof(gort_heapmap_arena, base))                        \
    X(hmArenaPages, offsetof(gort_heapmap_arena, pages))                      \
    X(pageRecordSize, sizeof(gort_heapmap_page))                              \
    X(pageState, offsetof(gort_heapmap_page, state))                          \
    X(pageSpanclass, offsetof(gort_heapmap_page, spanclass))                  \
    X(pageNelems, offsetof(gort_heapmap_page, nelems))                        \
    X(pageInuse, offsetof(gort_heapmap_page, inuse))                          \
    X(pageMarked, offsetof(gort_heapmap_page, marked))                        \
    X(pageNpages, offsetof(gort_heapmap_page, npages))                        \
    X(pageSweepgen, offsetof(gort_heapmap_page, sweepgen))                    \
    X(pageFlags, offsetof(gort_heapmap_page, flags))                          \
    X(pageFree, GORT_PAGE_FREE)                                               \
    X(pageSpanStart, GORT_PAGE_SPAN_START)                                    \
    X(pageSpanRest, GORT_PAGE_SPAN_REST)                                      \
    X(pageCached, GORT_HEAPMAP_CACHED)                                        \
    X(classToSize, (uintptr_t)class_to_size)                                  \
    X(numSizeClasses, NUM_SIZE_CLASSES)                                       \
    X(heapBase, (uintptr_t)&mheap_.base)                                      \
    X(heapArenas, (uintptr_t)mheap_.arenas)                                   \
    X(arenaShift, ARENA_SHIFT)                                                \
    X(pageShift, PAGE_SHIFT)                                                  \
    X(haSpans, offsetof(heap_arena, spans))                                   \
    X(spanStart, offsetof(mspan, startaddr))                                  \
    X(spanNpages, offsetof(mspan, npages))                                    \
    X(spanElemsize, offsetof(mspan, elemsize))                                \
    X(spanNelems, offsetof(mspan, nelems))                                    \
    X(spanFreeindex, offsetof(mspan, freeindex))                              \
    X(spanClass, offsetof(mspan, spanclass))                                  \
    X(spanState, offsetof(mspan, state))                                      \
    X(spanInUse, MSPAN_IN_USE)                                                \
    X(spanAllocBits, offsetof(mspan, allocBits))                              \
    X(spanMarkBits, offsetof(mspan, gcmarkBits))                              \
    X(spanScanBits, offsetof(mspan, scanBits))                                \
    X(spanTypes, offsetof(mspan, types))                                      \
    X(spanNtypes, offsetof(mspan, ntypes))                                    \
    X(spanTypesMore, offsetof(mspan, types_more))                             \
    X(spanTypesMax, SPAN_TYPES)                                               \
    X(spanTypecodes, offsetof(mspan, typecodes))                              \
    X(spanTypeCodeBits, SPAN_TYPE_CODE_BITS)                                  \
    X(typeName, offsetof(gort_type, name))                                    \
    X(hmArenaWorkOffset, offsetof(gort_heapmap_arena, work_offset))           \
    X(workSize, sizeof(gort_heapmap_work))                                    \
    X(workShades, offsetof(gort_heapmap_work, shades))                        \
    X(workAssists, offsetof(gort_heapmap_work, assists))                      \
    X(gcPhase, (uintptr_t)&gcphase)                                          \
    X(mdSize, sizeof(gort_metric_description))                                \
    X(mdName, offsetof(gort_metric_description, name))                        \
    X(mdDescription, offsetof(gort_metric_description, description))          \
    X(mdKind, offsetof(gort_metric_description, kind))                        \
    X(mdCumulative, offsetof(gort_metric_description, cumulative))

#define OBSERVE_NAME(name, value) #name "\0"
#define OBSERVE_COUNT(name, value) +1
#define OBSERVE_SET(name, value) observe_layout[i++] = (uint32_t)(value);
static const char observe_names[] = OBSERVE_FIELDS(OBSERVE_NAME);
static uint32_t observe_layout[0 OBSERVE_FIELDS(OBSERVE_COUNT)];

EMSCRIPTEN_KEEPALIVE const uint32_t *gort_js_observe_layout(void)
{
    size_t i = 0;
    OBSERVE_FIELDS(OBSERVE_SET)
    return observe_layout;
}
EMSCRIPTEN_KEEPALIVE const char *gort_js_observe_layout_names(void) { return observe_names; }
EMSCRIPTEN_KEEPALIVE uint32_t gort_js_observe_layout_count(void)
{
    return sizeof observe_layout / sizeof observe_layout[0];
}

/* The whole heap's snapshot (gort_heap_snapshot), for tests that hold the
 * page table against it. */
EMSCRIPTEN_KEEPALIVE size_t gort_js_heap_snapshot(gort_page_record *pages, size_t max)
{
    JS_CALL;
    return gort_heap_snapshot(pages, max);
}

/* Histogram buckets gort_js_metric copies at most. */
#define GORT_JS_METRIC_BUCKETS 256

/* Every metric's name, kind and description (gort_all_metrics). */
EMSCRIPTEN_KEEPALIVE uint32_t gort_js_metrics_count(void)
{
    JS_CALL;
    size_t n;
    gort_all_metrics(&n);
    return (uint32_t)n;
}
EMSCRIPTEN_KEEPALIVE const gort_metric_description *gort_js_metric_description(uint32_t i)
{
    JS_CALL;
    size_t n;
    const gort_metric_description *all = gort_all_metrics(&n);
    return i < n ? &all[i] : NULL;
}

/* Reads one metric: returns its kind; a number goes to *value (a uint64 as
 * a double: exact below 2^53), a histogram's counts (as doubles) to
 * counts[0 .. cap), its bucket count to *ncounts and its boundaries'
 * address to *buckets. */
EMSCRIPTEN_KEEPALIVE int gort_js_metric(const char *name, double *value, double *counts, uint32_t cap,
                                        uint32_t *ncounts, const double **buckets)
{
    JS_CALL;
    static mutex metric_lock = MUTEX_INIT;
    static uint64_t hist[GORT_JS_METRIC_BUCKETS];
    lock(&metric_lock);
    gort_metric_sample s = {.name = name};
    s.value.hist.counts = hist;
    s.value.hist.counts_cap = GORT_JS_METRIC_BUCKETS;
    gort_read_metrics(&s, 1);
    if (s.kind == GORT_METRIC_UINT64)
        *value = (double)s.value.u64;
    else if (s.kind == GORT_METRIC_FLOAT64)
        *value = s.value.f64;
    else if (s.kind == GORT_METRIC_HISTOGRAM) {
        size_t n = s.value.hist.ncounts < GORT_JS_METRIC_BUCKETS ? s.value.hist.ncounts : GORT_JS_METRIC_BUCKETS;
        for (size_t i = 0; i < n && i < cap; i++)
            counts[i] = (double)hist[i];
        *ncounts = (uint32_t)n;
        *buckets = s.value.hist.buckets;
    }
    unlock(&metric_lock);
    return s.kind;
}
