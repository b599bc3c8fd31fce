/*
 * runtime2.h — the scheduler's data structures, named as in Go's runtime2.go:
 * g (a goroutine), m (a worker thread), p (a logical processor), sudog (a
 * waiter on some object), and the scheduler's global state. Also the internal
 * API every blocking operation is built on: gopark / goready and the waiter
 * kinds.
 *
 * Invariants:
 *  - a g is running on at most one m at a time; its status says where it is:
 *    G_RUNNABLE (in exactly one run queue or runnext slot), G_RUNNING (on an
 *    m, which holds a p), G_WAITING (parked: only its waiters can find it),
 *    G_DEAD (on the free list, stack kept for reuse);
 *  - an m runs goroutines only while it holds a p; a p is held by at most one
 *    m, or is on the idle list;
 *  - a parked g's state is entirely in memory (its fiber), so the collector
 *    can scan it, and any m may resume it;
 *  - the unlock function of gopark runs only after the parking g's context
 *    is saved, so whoever readies the g cannot resume it half-saved.
 */
#ifndef GORT_RUNTIME2_H
#define GORT_RUNTIME2_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gort/proc.h"
#include "lock.h"
#include "mgcwork.h"
#include "prim/fiber.h"
#include "runtime.h"

typedef struct g g;
typedef struct m m;
typedef struct p p;
typedef struct sudog sudog;
struct mcache;

enum g_status {
    G_IDLE = 0,
    G_RUNNABLE = 1,
    G_RUNNING = 2,
    G_WAITING = 3,
    G_DEAD = 4,
};

/* Why a goroutine waits (Go's waitReason), for tracebacks and tools. */
enum wait_reason {
    WAIT_REASON_ZERO = 0,
    WAIT_REASON_CHAN_SEND,
    WAIT_REASON_CHAN_RECEIVE,
    WAIT_REASON_SELECT,
    WAIT_REASON_SELECT_NO_CASES,
    WAIT_REASON_SLEEP,
    WAIT_REASON_SYNC_MUTEX_LOCK,
    WAIT_REASON_SYNC_RWMUTEX_LOCK,
    WAIT_REASON_SYNC_RWMUTEX_RLOCK,
    WAIT_REASON_SEMACQUIRE,
    WAIT_REASON_SYNC_WAITGROUP,
    WAIT_REASON_GC,
    WAIT_REASON_STOPPED,
    WAIT_REASON_FINALIZER_WAIT,
};

struct g {
    prim_fiber fiber;
    void *stack;         /* from prim_stack_alloc */
    size_t stack_size;
    uint64_t goid;
    _Atomic uint32_t atomicstatus;
    uint8_t waitreason;
    void (*fn)(void *);
    void *arg;
    g *schedlink;        /* run queue and free list link */
    bool system;         /* a runtime goroutine, not counted */
    m *lastm;            /* the m it last ran on, to count migrations */
    /* Its fiber runs or is switching: its stack may change under a scan.
     * Set before it is switched to, cleared once a switch away is done. */
    atomic_bool fiber_live;
    /* Stack-scan state (mgcmark.c): gc_stack_epoch << 1 once its stack is
     * scanned in this cycle, with STACKSCAN_BUSY while one is at it. */
    _Atomic uint32_t stackscan;
    /* Scheduling-latency sampling (Go's tracking, proc.c): transitions out
     * of running so far (mod 256), whether the present runnable spell is
     * measured, and when it began. Touched by whoever changes the status. */
    uint8_t trackingseq;
    bool tracking;
    int64_t trackingstamp;
};

/* A thread or async waiter's wake cell. Only a thread waiter that gives up
 * spinning marks it sleeping, and only then does its waker make the futex
 * call. JS reads woken as "not 0". */
enum wake_state {
    WAKE_WAITING = 0,
    WAKE_WOKEN = 1,
    WAKE_SLEEPING = 2,
};

/* How a waiter waits; the objects it waits on do not care which. */
enum waiter_kind {
    WAITER_GOROUTINE = 0, /* a goroutine: parked, made runnable on a p */
    WAITER_THREAD = 1,    /* a thread that is not a goroutine: futex */
    WAITER_ASYNC = 2,     /* the JS main thread: Atomics.waitAsync on wakecell */
};

struct sudog {
    /* What a hand-off touches first, in one cache line: the waker writes the
     * element and the wake cell, the woken waiter reads both. */
    enum waiter_kind kind;
    atomic_uint wakecell; /* WAITER_THREAD / ASYNC: enum wake_state */
    /* A channel's element handed over in the sudog itself (elem points
     * here): a pointer-free one of at most 8 bytes, of a waiter that blocks
     * (chan_value_in_sudog). The woken receiver copies it out from the line
     * it reads its wake cell from; its own destination (a JS op record, a
     * goroutine's stack) is never written by the other side. */
    uint64_t value;
    g *g;                 /* WAITER_GOROUTINE */
    sudog *next;
    sudog *prev;
    void *elem;           /* data element, for channels */
    void *c;              /* the object waited on */
    bool isSelect;
    bool success;
    bool counted;         /* WAITER_ASYNC: counted an external waiter (sched_external_wait_begin) */
    /* WAITER_ASYNC: a word its owner's realm awaits for every waiter it has
     * (one Atomics.waitAsync per realm), or NULL: incremented and woken after
     * wakecell. Set before the sudog is queued. */
    atomic_uint *doorbell;
    sudog *waitlink;      /* next queue head (sema) */
    uint64_t ticket;
    void *parent;         /* semaphore tree / address */
    struct selectwait *sel; /* a select's case: what its cases share (chan.h) */
    /* WAITER_GOROUTINE: the run of gort_main (sched_generation) whose
     * goroutine waits here. A goroutine abandoned when its runtime stopped
     * stays queued on the channels it waited on, and is skipped there. */
    uint32_t generation;
    /* A receiver's value handed over in the sudog: its size, which the
     * woken receiver copies out without reading the channel (whose line
     * its waker then holds); and for WAITER_ASYNC where it copies it
     * (chan_async_finish; NULL otherwise). Out of the first line: the waker
     * never touches them. */
    uint32_t valuesize;
    void *dst;
};

#define RUNQ_SIZE 256 /* a power of two: indexes wrap with a mask */
/* Pointers a p's write barrier buffers before shading them (two per
 * store). */
#define WBBUF_ENTRIES 512

struct p {
    int id;
    /* The m that holds it, or NULL; read by thieves (runqgrab). */
    _Atomic(m *) m;
    p *link;              /* idle list */
    struct mcache *mcache;
    _Atomic uint32_t runqhead;
    _Atomic uint32_t runqtail;
    _Atomic(g *) runq[RUNQ_SIZE];
    _Atomic(g *) runnext;
    uint32_t schedtick;   /* goroutines run; every 61st looks at the global queue */
    /* The time slice of the goroutine it runs (sched_slice_check): the
     * schedtick it was seen at and since when; preempt: its goroutine is to
     * yield at its next safepoint. The p's owner reads and writes them. */
    uint32_t slice_tick;
    uint32_t slice_looks; /* calls of sched_slice_check, which reads the clock at every few */
    int64_t slice_start;
    bool preempt;
    sudog *sudogcache[16];
    int nsudog;
    g *gfree;             /* dead goroutines with default-size stacks */
    int gfreecnt;
    /* Goroutine ids taken from sched.goidgen a batch at a time (Go's
     * goidcache): [goidcache, goidcacheend) are this p's to hand out. */
    uint64_t goidcache, goidcacheend;
    /* Goroutines made here less those that ended here, and those made here:
     * counted per p, as a count in sched was a cache line that the thread
     * making goroutines and the one they ended on took from each other at
     * every spawn. Written by the p's owner only (a relaxed load and store),
     * summed by anyone. */
    _Atomic int64_t ngoroutines_delta;
    _Atomic int64_t goroutines_created;
    _Atomic bool stopped; /* parked for a stop-the-world */
    /* Futex word: 1 while its m waits for the world to restart right at the
     * safepoint of its goroutine, still holding the p (stopped in place). */
    atomic_uint inplace;
    uint32_t wbbuf_n;     /* write-barrier buffer: old and new pointers */
    uintptr_t wbbuf[WBBUF_ENTRIES];
};

struct m {
    int id;
    prim_fiber g0;        /* the thread's own stack: its scheduling context */
    g *curg;              /* the goroutine running on it, or NULL on g0 */
    p *p;
    m *schedlink;         /* idle list */
    atomic_uint park;     /* futex word: 1 when woken */
    /* Looking for work, holding a p. Set by a waker (under sched.lock) for
     * the m it wakes, read and cleared by the m itself. */
    _Atomic bool spinning;
    /* sched's count of goroutines readied from outside, as this m last saw
     * it going idle (findrunnable: it looks a while longer while that moves). */
    uint32_t outside_readies_seen;
    /* An action for whatever runs next on this m after a switch: release
     * the lock a parking goroutine held (gopark) or put the previous
     * goroutine back on a queue (yield). */
    bool (*after_switch)(g *prev, void *arg);
    void *after_switch_arg;
    g *after_switch_g;
    bool exiting;
};

/* Parks the calling goroutine. unlockf(gp, arg) runs once gp's context is
 * saved; if it returns false, gp is made runnable again at once (the thing
 * it waited for happened meanwhile). Returns when someone calls goready(gp). */
void gopark(bool (*unlockf)(g *gp, void *arg), void *arg, enum wait_reason reason);

/* Makes a parked goroutine runnable. From a goroutine it goes to that p's
 * runnext (it runs next, with no thread wake-up); from elsewhere it goes to
 * the global queue and an idle worker is woken. */
void goready(g *gp);

/* The goroutine running on this thread, or NULL. Not inlined: after a park
 * the caller may be on another thread. */
g *getg(void);
m *getm(void);

/* Blocks the caller until sudog_wake(s), whatever kind of waiter it is:
 * parks a goroutine, or sleeps an external thread on s->wakecell. unlockf
 * releases the lock that protected enqueuing s, once blocking is committed.
 * sudog_prepare sets s->kind and s->g for the calling context. */
void sudog_prepare(sudog *s);
/* sudog_wait for a thread or an asynchronous waiter. */
void sudog_wait_external(sudog *s, bool (*unlockf)(g *gp, void *arg), void *arg);
/* Inline: a goroutine parks from its caller's own frame. On wasm every frame
 * of a parked chain is saved and restored at every switch (Asyncify), and
 * channel operations, select, semaphores and the collector's waiters all
 * park here. */
static inline void sudog_wait(sudog *s, bool (*unlockf)(g *gp, void *arg), void *arg,
                              enum wait_reason reason)
{
    if (s->kind == WAITER_GOROUTINE)
        gopark(unlockf, arg, reason);
    else
        sudog_wait_external(s, unlockf, arg);
}
void sudog_wake(sudog *s);

/* The asynchronous waiter (the JS main thread, which may not block):
 * sudog_prepare_async makes s one, sudog_wait then enqueues it and returns at
 * once, and its owner waits for s->wakecell to become 1 (Atomics.waitAsync on
 * it, or sudog_async_poll), acts on the outcome, and calls
 * sudog_async_finish. Until then it counts as an external waiter, so the
 * runtime does not declare a deadlock while the owner may still act. */
void sudog_prepare_async(sudog *s, atomic_uint *doorbell);
bool sudog_async_poll(sudog *s);
/* The owner of an asynchronous waiter's sudog, on a thread that may block,
 * sleeps as a thread waiter does until s is woken (true) or the monotonic
 * time deadline passes (false; < 0: no limit). A waiter that gave up still
 * withdraws its operation (or finishes it, when it was taken meanwhile). */
bool sudog_async_block(sudog *s, int64_t deadline);
void sudog_async_finish(sudog *s);

sudog *acquire_sudog(void);
void release_sudog(sudog *s);

/* Called by the timer code when a timer due at `when` was added, so that a
 * worker sleeping past it wakes up in time. */
void sched_timer_added(int64_t when);

/* External waiters (threads and async) blocked on runtime objects: while
 * any exist, a lack of runnable goroutines is not a deadlock. */
void sched_external_waiters_add(int delta);

/* A thread that is not a goroutine holds the runtime open (true), for as
 * long as it stands for a party outside it (a JS realm's thread from its
 * start or attach to its stop or detach), or lets go (false). While it
 * holds, its own waits are not counted one by one: each count would write a
 * line of the scheduler that every such thread shares, twice per blocking
 * operation. Called by the thread itself. */
void sched_hold_open(bool hold);
/* The calling thread starts anew for a new user (a JS worker adopting a
 * pthread whose last worker ended without letting go, and was cleaned up
 * after with sched_external_waiters_add(-1)): it holds nothing open. */
void sched_thread_adopted(void);

/* Counts the calling thread's wait as an external waiter's unless the
 * thread holds the runtime open; returns whether it did (the wait's end
 * then gives the count back). */
bool sched_external_wait_begin(void);

/* Stop-the-world: stops every p at its next safepoint and returns true with
 * the world stopped (false, stopping nothing, when the program is ending);
 * start_the_world lets them run again. One at a time: a second caller waits
 * (a goroutine parks) until the first has started the world again. */
bool stop_the_world(enum wait_reason reason);
void start_the_world(void);
/* Stops the world, runs fn(arg) with it stopped and starts it again; false,
 * running nothing, when the program is ending. fn runs on the thread of the
 * last p to stop (which then goes on at once with its p), or on the
 * caller's when every p was idle: it must not park, nor need a p. For a
 * caller without a p (the collector thread). *started (when not NULL) gets
 * the time the goroutines were asked to stop, before fn runs. With
 * switch_out every goroutine is switched out while fn runs (none waits
 * stopped in place at its safepoint): for work that scans every stack. */
bool stop_the_world_run(enum wait_reason reason, bool switch_out, void (*fn)(void *), void *arg,
                        int64_t *started);
/* Why gort_safepoint_requested is set: each asker sets and clears its bit,
 * and the bits are the only record of what is asked. */
#define SAFEPOINT_STOP_THE_WORLD 1u
#define SAFEPOINT_STACK_SCAN 2u
#define SAFEPOINT_PREEMPT 4u
void safepoint_request(uint32_t why, bool on);
static inline bool safepoint_requested(uint32_t why)
{
    return (__atomic_load_n(&gort_safepoint_requested, __ATOMIC_SEQ_CST) & why) != 0;
}
/* True while a stop-the-world waits for goroutines to reach a safepoint (or
 * holds them stopped). */
static inline bool sched_gcwaiting(void) { return safepoint_requested(SAFEPOINT_STOP_THE_WORLD); }

/* Calls fn on every g ever created (dead ones too), under the lock that
 * guards the table; and on every p. For the collector. */
void sched_each_g(void (*fn)(g *gp, void *arg), void *arg);
void sched_each_p(void (*fn)(p *pp, void *arg), void *arg);
/* Called where the running goroutine allocates from a fresh span (not on the
 * fast path): once it has held its p for a time slice while other work
 * waits, it is asked to yield at its next safepoint, as Go's sysmon
 * preempts a goroutine that ran 10 ms. */
void sched_slice_check(void);
/* Zeroes some of the dead stack below the caller (a goroutine), so that the
 * frames of what it calls next hold no stale pointers from earlier, deeper
 * calls for the conservative stack scan to find (bdwgc's GC_clear_stack).
 * Does nothing when the stack has no room to spare. */
void sched_scrub_stack(void);
/* True when every m is idle, nothing is runnable and no timer is pending:
 * only a thread outside the runtime can make progress now (the deadlock
 * check without the external waiters, for embedders that know whether those
 * ever will). */
bool sched_quiescent(void);
/* Runs the deadlock check (an external waiter went away). */
void sched_check_dead(void);

/*
 * Try mode: a thread without a p that must never wait for another thread's
 * lock (a page's main thread: the npm package's bridge sets it around each of
 * its calls there). In try mode, a channel operation of an asynchronous
 * waiter takes the channel's lock only with lock_try (chan.c returns
 * CHAN_EBUSY, having changed nothing, when it cannot), and a goroutine it
 * wakes is readied only if sched.lock is free at once: otherwise the
 * goroutine waits in a list of deferred readies (still G_WAITING, already
 * dequeued and told its outcome) until sched_flush_deferred readies it.
 * While any wait there, the runtime is not quiescent and no deadlock is
 * declared.
 */
void sched_set_try_mode(bool on);
bool sched_in_try_mode(void);
/* Readies the deferred goroutines if sched.lock is free at once: how many
 * still wait. From any thread. */
int sched_flush_deferred(void);
/* How many deferred readies wait (a hint, without a lock). */
int sched_deferred_count(void);
/* Starts a runtime goroutine that is not counted among the program's
 * (the finalizer goroutine); NULL when memory is exhausted. */
g *sched_newproc_system(void (*fn)(void *), void *arg);

/* A goroutine id, taken before the goroutine exists, and gort_go giving the
 * new goroutine that id: for callers that must know the id before the
 * goroutine can run (and end). */
uint64_t newgoid(void);
int go_with_goid(void (*fn)(void *), void *arg, uint64_t goid);

/* Bytes of g and sudog structures obtained so far (for statistics). */
uint64_t sched_goroutine_sys_bytes(void);

/* The running runtime's processors and its state. */
bool sched_running(void);
/* The stack size of new goroutines (gort_config's stack_size), of the
 * runtime running or the last one; GORT_DEFAULT_STACK_SIZE before any. */
size_t sched_default_stack_size(void);

/* Counts the runs of gort_main: a waiter queued in an earlier run belongs
 * to a runtime that stopped. */
uint32_t sched_generation(void);

#endif
