/*
 * bridge.h — what the C side of the npm package shares between its files and
 * with its JavaScript (through the layout descriptor, gort_js_layout): the op
 * record of a JS operation, the runtime's state words, the element kinds.
 */
#ifndef GORT_JS_BRIDGE_H
#define GORT_JS_BRIDGE_H

#include <stdatomic.h>
#include <stdint.h>

/* The element of a channel made from JS: a payload reference (strings,
 * bytes, JSON and user codecs), or a scalar stored in the channel. */
enum js_elem_kind {
    JS_ELEM_PAYLOAD = 0,
    JS_ELEM_F64 = 1,
    JS_ELEM_I32 = 2,
    JS_ELEM_BOOL = 3,
    JS_ELEM_UNIT = 4, /* chan struct{} (a context's Done) */
};

/* What a handle made for JS holds (handles_new_kind): an operation on a
 * channel takes only a channel's handle, and so on. */
enum js_handle_kind {
    JS_HANDLE_CHAN = 1,
    JS_HANDLE_CONTEXT = 2,
    JS_HANDLE_TICKER = 3,
};

/* One JS operation: a channel operation (ncases 0) or a select (ncases
 * cases, then ncases elements, follow the record). */
typedef struct js_op {
    uint64_t elem;   /* the element of a channel operation (scalar or payload pointer) */
    void *pending;   /* the queued sudog or select_async, until finished */
    uint32_t ok;     /* received (a receive), handed over (a send), the chosen case's (a select) */
    int32_t ncases;  /* room for this many select cases */
    uint32_t send;   /* a pending channel operation is a send */
    /* The attached worker whose realm made the record, and its list of
     * records (js_sleeper.ops); NULL owner for the main realm's, and once
     * the worker detached. */
    struct js_sleeper *owner;
    struct js_op *owned_prev, *owned_next;
} js_op;

enum js_status {
    JS_IDLE = 0,
    JS_STARTING = 1,
    JS_RUNNING = 2,
    JS_STOPPED = 3,
};

/* The largest payload (a string's UTF-8, bytes, JSON) one element carries. */
#define JS_MAX_PAYLOAD ((uint32_t)1 << 28)

/* Thread slots kept ready for workers that attach (src/js/thread.c). */
#define JS_THREAD_SLOTS 8
/* Threads given back by workers that detached or were cleaned up after,
 * kept for the slots to take before making new ones (thread.c). */
#define JS_SPARE_THREADS 64

/* A realm's scratch area for out-parameters (realm.js). */
#define JS_REALM_SCRATCH_BYTES 64

/* Room for a fatal error's text in the state words, NUL included. */
#define JS_FATAL_TEXT_BYTES 512

/* js_runtime_state.fatal: no fatal error; a realm is writing fatal_text;
 * fatal_text holds the runtime's fatal error (it is over). */
enum js_fatal {
    JS_FATAL_NONE = 0,
    JS_FATAL_WRITING = 1,
    JS_FATAL_PUBLISHED = 2,
};

/* A thread a worker lent to the runtime (it attached): the address it
 * sleeps on while it waits in the runtime (prim_futex_give_up_when), for the
 * realm that ends the runtime to wake it there, and what another realm
 * needs to clean up after the worker should it end without detaching (a
 * terminate() from outside runs nothing in it): its op records, whether it
 * was inside a call. Records are linked into js_runtime_state.sleepers once
 * and never unlinked or freed: a worker that detaches, or one cleaned up
 * after, gives its record back (taken 0) for the next one. */
typedef struct js_sleeper {
    _Atomic(atomic_uint *) sleeping_on;
    struct js_sleeper *next; /* set before it is linked; never changes */
    atomic_uint taken;       /* 1 while a worker's thread uses it */
    /* JS's name for the worker (Node's threadId; a number of this runtime
     * elsewhere), unique among the records taken. */
    atomic_uint worker_id;
    /* Written by the worker's thread only (plain stores, ordered by
     * compiler fences), read once it is gone: calls into the runtime under
     * way, and whether it sleeps in a blocking operation (js_op_park),
     * where it holds nothing but that operation's sudogs. */
    volatile uint32_t in_call;
    volatile uint32_t parked;
    js_op *ops; /* its realm's op records */
    /* The owner of the handles made on its thread (handles_owner_set): a
     * number of this attachment's own, never another's. */
    uint32_t handle_owner;
    /* The pthread it adopted (thread.c), given back when it detaches or is
     * cleaned up after, and its realm's staging area (gort_js_staging_new),
     * freed then. */
    uint32_t thread;
    void *staging;
    /* Its realm's doorbell and scratch area: they go with the record, so
     * a worker that never detaches leaves nothing of them behind. The
     * doorbell has a line of its own: other threads ring it, and this
     * thread writes in_call and its scratch on every call. */
    _Alignas(64) atomic_uint doorbell;
    _Alignas(64) uint8_t scratch[JS_REALM_SCRATCH_BYTES];
} js_sleeper;

/* The calling thread's record while a worker has it attached, else NULL. */
extern _Thread_local js_sleeper *js_thread_sleeper;

static inline js_sleeper *js_call_enter(void)
{
    js_sleeper *s = js_thread_sleeper;
    if (s != NULL) {
        s->in_call++;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
    }
    return s;
}

static inline void js_call_leave(js_sleeper **s)
{
    if (*s != NULL) {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        (*s)->in_call--;
    }
}

/* First statement of a function JS calls: an attached worker's thread is
 * known to be inside the runtime until the function returns (a worker
 * terminated there may hold a lock: the runtime cannot go on). */
#define JS_CALL js_sleeper *js_call_scope __attribute__((cleanup(js_call_leave), unused)) = js_call_enter()

typedef struct js_runtime_state {
    atomic_uint status;    /* enum js_status */
    atomic_int exit_code;  /* gort_main's result once JS_STOPPED */
    atomic_uint doorbell;  /* the main realm's doorbell */
    /* pthreads made for workers to adopt (0: taken); see thread.c. */
    _Atomic uint32_t slots[JS_THREAD_SLOTS];
    /* pthreads given back, for the slots (0: none); see thread.c. */
    _Atomic uint32_t spare_threads[JS_SPARE_THREADS];
    /* 1 once a JS party (any realm) started an operation since the main
     * realm last took it (its deadlock watch: realm.js). On a line of its
     * own: workers set it on every operation. */
    _Alignas(64) atomic_uint activity;
    /* enum js_fatal: the first realm to see a fatal error (on a runtime
     * thread, or on an attached worker's own) publishes its text here, and
     * every realm, watching this word, ends its operations with it. */
    _Alignas(64) atomic_uint fatal;
    char fatal_text[JS_FATAL_TEXT_BYTES];
    /* Every js_sleeper ever made, newest first: the realm that ends the
     * runtime (a fatal error's publisher, close) wakes each thread sleeping
     * in it, which then gives up its wait (an attached worker's blocking
     * calls throw). */
    _Atomic(js_sleeper *) sleepers;
    /* 1 once the runtime is over (closed, or dead of a fatal error: then
     * set after fatal): the attached workers' waits give up. */
    atomic_uint ended;
    /* The last worker_id given to a worker that named none. */
    atomic_uint worker_ids;
    /* The last js_sleeper.handle_owner given. */
    atomic_uint handle_owners;
} js_runtime_state;

/* Notes that a JS party acts (sets js_runtime_state.activity). */
void js_note_activity(void);

/* A worker's adopted pthread, no longer used by it (it detached, or ended
 * and was cleaned up after): kept for the next worker to adopt (thread.c). */
void js_thread_give_back(js_runtime_state *state, uint32_t thread);

#endif
