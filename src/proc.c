/*
 * proc.c — the goroutine scheduler, Go's M:N design (proc.go): GOMAXPROCS
 * logical processors (p) with local run queues, a global queue, worker
 * threads (m) that run goroutines (g) while they hold a p, work stealing, and
 * idle workers asleep on a futex.
 *
 * Switching: a goroutine that parks or yields switches straight to the next
 * runnable goroutine of its p (one fiber swap). Only when its p has nothing
 * to run does it switch to the m's own stack (g0), which steals, runs timers,
 * and sleeps. Whatever must happen after the old goroutine's context is saved
 * (releasing the lock it parked under, queueing it again, freeing it) is left
 * in m->after_switch and done by whoever runs next on that m.
 *
 * A goroutine readied by a goroutine goes to its p's runnext, and a thief
 * takes the runnext of a p that runs only after a wait (runqgrab), so that a
 * pair that hands off through channels stays on one p.
 *
 * Invariants:
 *  - a g is in at most one run queue (runnext, a local ring, or the global
 *    list), and only while G_RUNNABLE;
 *  - the local ring is written at the tail only by the p's owner and consumed
 *    at the head by the owner and by thieves, with acquire/release ordering on
 *    head and tail; a thief takes at most half;
 *  - an m holds a p exactly while it runs goroutines or looks for them, or
 *    waits stopped in place at its goroutine's safepoint; an m without a p is
 *    asleep on m->park, or about to be (on sched.midle);
 *  - while the world is stopped every p is stopped, either released by its m
 *    on g0 (gcstopm) or held by an m waiting in place (p->inplace); the
 *    stop's work, if any, runs on the m of the last p to stop;
 *  - the ps made at start are allp[0 .. nprocs); GOMAXPROCS
 *    (gort_set_gomaxprocs) runs allp[0 .. gomaxprocs), and the others are
 *    parked out: stopped, on no list, with no m and an empty run queue, so
 *    that nothing can take them; they keep their caches, which the collector
 *    flushes as it does an idle p's;
 *  - an m is on sched.midle at most once: it adds itself (park = 0) and is
 *    taken off (park = 1) only under sched.lock, by mtake; a futex wake-up
 *    alone never marks it woken, so a late one cannot make it leave the list
 *    while still on it;
 *  - sched.nmspinning counts ms that hold a p and look for work; one that
 *    stops spinning re-checks every queue before sleeping, so a goroutine
 *    queued meanwhile is never stranded (wakep wakes a worker only when none
 *    spins);
 *  - a goroutine is preempted only at a safepoint: its p's preempt flag is
 *    set by the p's owner (sched_slice_check, once the goroutine has run a
 *    time slice while other work waits) and taken at the next safepoint;
 *    SAFEPOINT_PREEMPT stays set while sched.npreempt counts a flag, and a
 *    clear that races a new request only delays a yield to the next look;
 *  - a spinning m holds its p for a bounded look (IDLE_SPIN_ROUNDS) and
 *    gives it up at once when the world is stopping;
 *  - the deadlock check runs when the last running m goes idle: no runnable
 *    goroutine, no pending timer and no external waiter means no goroutine can
 *    ever run again;
 *  - the goroutines alive are sched.ngoroutines (made and ended by threads
 *    without a p) plus every p's ngoroutines_delta, each written only by its
 *    p's owner: a sum read while goroutines come and go may be off for a
 *    moment (one made on one p and ended on another), never for good.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gort/malloc.h"
#include "gort/proc.h"
#include "mcache.h"
#include "mfixalloc.h"
#include "mgc.h"
#include "observe.h"
#include "sema.h"
#include "prim/prim.h"
#include "runtime2.h"
#include "stack.h"
#include "timer.h"

#define MAX_PROCS 256
/* A p looks at the global queue every this many schedules, so that a busy
 * local queue cannot starve it. */
#define GLOBAL_RUNQ_CHECK_PERIOD 61
/* Dead goroutines a p keeps before handing a batch to the global list. */
#define P_GFREE_MAX 64
/* Rounds of stealing over all ps before a spinning m gives up. */
#define STEAL_TRIES 4
/* Rounds of pauses (some 17 us in all) a spinning m that found nothing
 * keeps its p and looks at the run queues before it gives the p back and
 * sleeps, while goroutines are being readied from outside the scheduler (the
 * JS main thread, a worker, a C thread): the next one is taken at once
 * rather than after a futex wake-up (10-100 us on a VM), and counted as
 * spinning, the m spares the readier that wake-up too (wakep). Runtimes
 * that only goroutines drive never spin so. */
#define IDLE_SPIN_ROUNDS 500
/* How long a thief waits before it takes the runnext of a p that runs
 * (Go's 3 us): a channel hand-off readies a goroutine and parks in well
 * under a microsecond, so this leaves its p ample time to run it. The
 * system sleeps the thief longer (Linux's timer slack: ~50 us), which also
 * keeps an idle thief off the run queues it would otherwise keep polling. */
#define RUNNEXT_STEAL_BACKOFF_US 3
/* Go's forcePreemptNS: a goroutine that has run this long while another
 * goroutine or a due timer waits for its p yields at its next allocation
 * safepoint (sched_slice_check). */
#define SCHED_TIME_SLICE_NS (10 * (int64_t)1000000)
/* sched_slice_check reads the clock at one fresh span in this many (a power
 * of two): on wasm a clock read is a call out to JS, some 2% of binary-trees
 * at every span; a span of small objects lasts microseconds. */
#define SLICE_LOOK_PERIOD 16
/* Stack sizes are rounded up to this. */
#define STACK_SIZE_ROUND 512
/* Stack room a goroutine needs left to stop in place at a safepoint: the
 * stop's work may run on its stack (collector work: no deep calls; wasm
 * keeps most of a frame out of the C stack, sanitizers widen native ones). */
#ifdef __EMSCRIPTEN__
#define STW_IN_PLACE_STACK_BYTES ((uintptr_t)2048)
#else
#define STW_IN_PLACE_STACK_BYTES ((uintptr_t)24576)
#endif

_Static_assert(GORT_MIN_STACK_SIZE >= PRIM_FIBER_MIN_STACK + STACK_GUARD_BYTES,
               "the smallest goroutine stack must hold a fiber and its guard zone");

static struct {
    mutex lock;
    atomic_bool running;
    atomic_bool exiting;

    g *runqhead, *runqtail;
    _Atomic int32_t runqsize;

    p *pidle;
    _Atomic int32_t npidle;
    m *midle;
    int32_t nmidle;
    _Atomic int32_t nmspinning;

    int nprocs;            /* ps made at start: the most GOMAXPROCS can be */
    _Atomic int gomaxprocs; /* ps that run: allp[0 .. gomaxprocs) */
    p *allp[MAX_PROCS];
    m *allm[MAX_PROCS];
    prim_thread threads[MAX_PROCS];
    int nm;

    /* An idle m sleeping until the next timer, and until when. */
    m *timer_sleeper;
    int64_t timer_sleep_until;

    size_t default_stack;
    _Atomic uint64_t goidgen;
    _Atomic int32_t ngoroutines;
    _Atomic int32_t external_waiters;
    /* Goroutines a thread in try mode woke while sched.lock was taken,
     * linked through schedlink (a stack: pushed by CAS, taken whole by
     * exchange under sched.lock), and how many. */
    _Atomic(g *) deferred_ready;
    _Atomic int32_t ndeferred_ready;
    /* Ps whose goroutine is asked to yield (p->preempt): the safepoint bit
     * SAFEPOINT_PREEMPT stays set while any is. */
    _Atomic int32_t npreempt;
    /* Goroutines readied by threads without a p (JS, workers, C threads),
     * counted (wrapping) for the idle m's spin (IDLE_SPIN_ROUNDS). */
    _Atomic uint32_t outside_readies;

    /* Dead goroutines with default stacks (and gs whose stacks were freed). */
    mutex gflock;
    g *gfree;
    _Atomic int32_t ngfree; /* length of gfree, readable without the lock */
    g *gfree_nostack;
    /* Sudogs of threads without a p (and the ps' overflow), under a lock of
     * their own: gflock is held across a whole pass of the collector over
     * every goroutine (sched_each_g), and a thread without a p, such as the
     * main thread of a page, must not wait for that to take a sudog. */
    mutex sudoglock;
    sudog *sudogfree;
    _Atomic uint64_t sudog_sys; /* bytes of sudogs obtained */
    fixalloc galloc;
    g **allgs;
    size_t nallgs, capallgs;

    /* The caller of gort_main waits here for the program's end. */
    atomic_uint main_done;
    int exit_code;

    /* Stop the world. */
    int32_t stopwait;
    /* Set (under the lock) by a stop whose goroutines must all be switched
     * out and its ps released, none stopped in place: one that parks ps out
     * of GOMAXPROCS, or whose work scans every stack. */
    atomic_bool stw_release_all;
    bool stw_for_gc; /* the pause counts among the collector's (worldsema held) */
    atomic_uint stopnote;
    int64_t stw_started;
    void (*stw_fn)(void *); /* work for the last p to stop; NULL once claimed */
    void *stw_arg;
    atomic_uint stwdone;     /* the work is done and the world restarted */

    /* Statistics. */
    _Atomic uint64_t goroutines_created;
    _Atomic uint64_t stw_count;
    _Atomic int64_t stw_max_ns;
    _Atomic int64_t stw_total_ns;
    _Atomic uint64_t steals;
    _Atomic uint64_t migrations;
} sched = {.lock = MUTEX_INIT, .gflock = MUTEX_INIT, .sudoglock = MUTEX_INIT};

uint32_t gort_safepoint_requested;

void safepoint_request(uint32_t why, bool on)
{
    if (on)
        __atomic_fetch_or(&gort_safepoint_requested, why, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_and(&gort_safepoint_requested, ~why, __ATOMIC_SEQ_CST);
}

static void set_gcwaiting(bool on) { safepoint_request(SAFEPOINT_STOP_THE_WORLD, on); }
/* One stop-the-world at a time (Go's worldsema): one ticket. */
static uint32_t worldsema = 1;

static _Thread_local m *tls_m;
static _Thread_local bool tls_try_mode;

__attribute__((noinline)) m *getm(void) { return tls_m; }

__attribute__((noinline)) g *getg(void)
{
    m *mp = tls_m;
    return mp != NULL ? mp->curg : NULL;
}

bool sched_running(void) { return atomic_load(&sched.running); }

size_t sched_default_stack_size(void)
{
    size_t size = __atomic_load_n(&sched.default_stack, __ATOMIC_RELAXED);
    return size != 0 ? size : GORT_DEFAULT_STACK_SIZE;
}

static _Atomic uint32_t generation;

uint32_t sched_generation(void) { return atomic_load_explicit(&generation, memory_order_relaxed); }

static void wakep(void);
static void after_switch_run(m *mp);

/* ---- goroutine status ---- */

static inline uint32_t readgstatus(g *gp) { return atomic_load(&gp->atomicstatus); }

_Static_assert(256 % SCHED_LATENCY_PERIOD == 0, "g.trackingseq (8 bits) wraps at a multiple of the period");

static bool waits_for_mutex(const g *gp)
{
    return gp->waitreason == WAIT_REASON_SYNC_MUTEX_LOCK ||
           gp->waitreason == WAIT_REASON_SYNC_RWMUTEX_LOCK ||
           gp->waitreason == WAIT_REASON_SYNC_RWMUTEX_RLOCK;
}

/*
 * A sampled goroutine's runnable spell, from becoming runnable to running
 * (/sched/latencies), and its sleep on a sync.Mutex or RWMutex, counted
 * SCHED_LATENCY_PERIOD times as Go counts a sampled one gTrackingPeriod
 * times (/sync/mutex/wait/total): other sleeps cost no clock read.
 */
static void sched_latency_track(g *gp, uint32_t from, uint32_t to)
{
    if (to == G_WAITING) {
        if (waits_for_mutex(gp))
            gp->trackingstamp = prim_nanotime();
    } else if (to == G_RUNNABLE) {
        int64_t now = prim_nanotime();
        if (from == G_WAITING && waits_for_mutex(gp))
            metrics_add_mutex_wait((now - gp->trackingstamp) * SCHED_LATENCY_PERIOD);
        gp->trackingstamp = now;
    } else if (to == G_RUNNING) {
        gp->tracking = false;
        metrics_record_sched_latency(prim_nanotime() - gp->trackingstamp);
    }
}

static void casgstatus(g *gp, uint32_t from, uint32_t to)
{
    uint32_t expected = from;
    if (!atomic_compare_exchange_strong(&gp->atomicstatus, &expected, to))
        gort_throw("casgstatus: bad incoming goroutine status");
    if (from == G_RUNNING) {
        uint8_t seq = gp->trackingseq;
        gp->trackingseq = (uint8_t)(seq + 1); /* wraps, by design */
        if (seq % SCHED_LATENCY_PERIOD == 0)
            gp->tracking = true;
    }
    if (gp->tracking)
        sched_latency_track(gp, from, to);
}

/* ---- the global run queue (sched.lock held) ---- */

static void globrunqput(g *gp)
{
    gp->schedlink = NULL;
    if (sched.runqtail != NULL)
        sched.runqtail->schedlink = gp;
    else
        sched.runqhead = gp;
    sched.runqtail = gp;
    atomic_fetch_add(&sched.runqsize, 1);
}

static void globrunqputbatch(g *head, g *tail, int32_t n)
{
    tail->schedlink = NULL;
    if (sched.runqtail != NULL)
        sched.runqtail->schedlink = head;
    else
        sched.runqhead = head;
    sched.runqtail = tail;
    atomic_fetch_add(&sched.runqsize, n);
}

static g *globrunqpop(void)
{
    g *gp = sched.runqhead;
    if (gp == NULL)
        return NULL;
    sched.runqhead = gp->schedlink;
    if (sched.runqhead == NULL)
        sched.runqtail = NULL;
    atomic_fetch_sub(&sched.runqsize, 1);
    return gp;
}

/* ---- the local run queue ---- */

/* Kept out of runqput (its only caller): its batch on the C stack would
 * give every runqput a stack frame, and on wasm a stack-pointer move and
 * its overflow check per ready. */
static __attribute__((noinline)) bool runqputslow(p *pp, g *gp, uint32_t h, uint32_t t);

static void runqput(p *pp, g *gp, bool next)
{
    if (next) {
        g *old = atomic_exchange(&pp->runnext, gp);
        if (old == NULL)
            return;
        gp = old; /* the one it displaces goes to the tail */
    }
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t - h < RUNQ_SIZE) {
            atomic_store_explicit(&pp->runq[t % RUNQ_SIZE], gp, memory_order_relaxed);
            atomic_store_explicit(&pp->runqtail, t + 1, memory_order_release);
            return;
        }
        if (runqputslow(pp, gp, h, t))
            return;
    }
}

/* The ring is full: move half of it and gp to the global queue. */
static bool runqputslow(p *pp, g *gp, uint32_t h, uint32_t t)
{
    enum { HALF = RUNQ_SIZE / 2 };
    g *batch[HALF + 1];
    uint32_t n = (t - h) / 2;
    if (n != HALF)
        gort_throw("runqputslow: queue is not full");
    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(&pp->runq[(h + i) % RUNQ_SIZE], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + n, memory_order_release,
                                                 memory_order_relaxed))
        return false;
    batch[n] = gp;
    for (uint32_t i = 0; i < n; i++)
        batch[i]->schedlink = batch[i + 1];
    lock(&sched.lock);
    globrunqputbatch(batch[0], batch[n], (int32_t)n + 1);
    unlock(&sched.lock);
    return true;
}

static g *runqget(p *pp)
{
    g *next = atomic_load(&pp->runnext);
    if (next != NULL && atomic_compare_exchange_strong(&pp->runnext, &next, NULL))
        return next;
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t == h)
            return NULL;
        g *gp = atomic_load_explicit(&pp->runq[h % RUNQ_SIZE], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&pp->runqhead, &h, h + 1, memory_order_release,
                                                  memory_order_relaxed))
            return gp;
    }
}

static bool runqempty(p *pp)
{
    for (;;) {
        uint32_t h = atomic_load(&pp->runqhead);
        uint32_t t = atomic_load(&pp->runqtail);
        g *next = atomic_load(&pp->runnext);
        if (atomic_load(&pp->runqtail) == t)
            return h == t && next == NULL;
    }
}

/* Takes half of pp's queue into batch[batch_head...]; returns how many. */
static uint32_t runqgrab(p *pp, _Atomic(g *) *batch, uint32_t batch_head, bool steal_runnext)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (!steal_runnext)
                return 0;
            g *next = atomic_load(&pp->runnext);
            if (next == NULL)
                return 0;
            if (atomic_load_explicit(&pp->m, memory_order_relaxed) != NULL) {
                /* pp runs: its goroutine has most likely just readied next
                 * and is about to park, and pp will run next in a moment
                 * (a channel hand-off). Taken now, the pair would split
                 * across two ps and every hand-off between them would
                 * cross threads; wait for pp to run it first. */
                prim_usleep(RUNNEXT_STEAL_BACKOFF_US);
            }
            if (!atomic_compare_exchange_strong(&pp->runnext, &next, NULL))
                continue; /* pp ran it, or readied another */
            atomic_store_explicit(&batch[batch_head % RUNQ_SIZE], next, memory_order_relaxed);
            return 1;
        }
        if (n > RUNQ_SIZE / 2)
            continue; /* h and t read at different moments */
        for (uint32_t i = 0; i < n; i++) {
            g *gp = atomic_load_explicit(&pp->runq[(h + i) % RUNQ_SIZE], memory_order_relaxed);
            atomic_store_explicit(&batch[(batch_head + i) % RUNQ_SIZE], gp, memory_order_relaxed);
        }
        if (atomic_compare_exchange_weak_explicit(&pp->runqhead, &h, h + n, memory_order_release,
                                                  memory_order_relaxed))
            return n;
    }
}

static g *runqsteal(p *pp, p *victim, bool steal_runnext)
{
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
    uint32_t n = runqgrab(victim, pp->runq, t, steal_runnext);
    if (n == 0)
        return NULL;
    atomic_fetch_add_explicit(&sched.steals, n, memory_order_relaxed);
    n--;
    g *gp = atomic_load_explicit(&pp->runq[(t + n) % RUNQ_SIZE], memory_order_relaxed);
    if (n > 0)
        atomic_store_explicit(&pp->runqtail, t + n, memory_order_release);
    return gp;
}

/* ---- idle ps and ms (sched.lock held) ---- */

static void pidleput(p *pp)
{
    trace_state(pp->id, GORT_TRACE_IDLE, 0);
    pp->link = sched.pidle;
    atomic_store_explicit(&pp->m, NULL, memory_order_relaxed);
    sched.pidle = pp;
    atomic_fetch_add(&sched.npidle, 1);
}

static p *pidleget(void)
{
    p *pp = sched.pidle;
    if (pp != NULL) {
        sched.pidle = pp->link;
        atomic_fetch_sub(&sched.npidle, 1);
    }
    return pp;
}

static void acquirep(m *mp, p *pp)
{
    mp->p = pp;
    atomic_store_explicit(&pp->m, mp, memory_order_relaxed);
    trace_state(pp->id, GORT_TRACE_RUNNING, 0);
    malloc_bind_cache(pp->mcache);
}

static p *releasep(m *mp)
{
    p *pp = mp->p;
    mp->p = NULL;
    atomic_store_explicit(&pp->m, NULL, memory_order_relaxed);
    malloc_bind_cache(NULL);
    return pp;
}

/* ---- goroutines: creation, free lists ---- */

static void gfput(p *pp, g *gp);

/* Makes room in the goroutine table for one more; false when the system
 * has no memory for a larger table (Go would abort: 'out of memory'; here
 * the goroutine is not made and gort_go says GORT_ENOMEM). */
static bool allg_reserve(void)
{
    if (sched.nallgs < sched.capallgs)
        return true;
    size_t cap = sched.capallgs ? sched.capallgs * 2 : 1024;
    g **grown = prim_sys_alloc(cap * sizeof *grown);
    if (grown == NULL)
        return false;
    if (sched.nallgs)
        memcpy(grown, sched.allgs, sched.nallgs * sizeof *grown);
    /* The old table is leaked on purpose: readers may still hold it. */
    sched.allgs = grown;
    sched.capallgs = cap;
    return true;
}

static void allgadd(g *gp) { sched.allgs[sched.nallgs++] = gp; }

/* A dead g with a stack of stack_size bytes: from pp's free list, the
 * global one, or new. NULL when memory is exhausted. */
static g *gfget(p *pp, size_t stack_size)
{
    g *gp = NULL;
    if (stack_size == sched.default_stack) {
        if (pp != NULL && pp->gfree == NULL && atomic_load(&sched.ngfree) > 0) {
            lock(&sched.gflock); /* refill half of the local list */
            while (pp->gfreecnt < P_GFREE_MAX / 2 && sched.gfree != NULL) {
                g *taken = sched.gfree;
                sched.gfree = taken->schedlink;
                atomic_fetch_sub(&sched.ngfree, 1);
                taken->schedlink = pp->gfree;
                pp->gfree = taken;
                pp->gfreecnt++;
            }
            unlock(&sched.gflock);
        }
        if (pp != NULL && pp->gfree != NULL) {
            gp = pp->gfree;
            pp->gfree = gp->schedlink;
            pp->gfreecnt--;
            return gp;
        }
        lock(&sched.gflock);
        if ((gp = sched.gfree) != NULL) {
            sched.gfree = gp->schedlink;
            atomic_fetch_sub(&sched.ngfree, 1);
        }
        unlock(&sched.gflock);
        if (gp != NULL)
            return gp;
    }
    lock(&sched.gflock);
    if ((gp = sched.gfree_nostack) != NULL) {
        sched.gfree_nostack = gp->schedlink;
    } else if (allg_reserve() && (gp = fixalloc_alloc(&sched.galloc)) != NULL) {
        atomic_store(&gp->atomicstatus, G_DEAD);
        allgadd(gp);
    }
    unlock(&sched.gflock);
    if (gp == NULL)
        return NULL;
    gp->stack = stackalloc(stack_size);
    if (gp->stack == NULL) {
        gfput(pp, gp);
        return NULL;
    }
    gp->stack_size = stack_size;
    return gp;
}

/* Keeps a dead g for reuse. Only default-size stacks are kept. */
static void gfput(p *pp, g *gp)
{
    if (gp->stack != NULL && gp->stack_size != sched.default_stack) {
        stackfree(gp->stack, gp->stack_size);
        gp->stack = NULL;
        gp->stack_size = 0;
    }
    if (gp->stack != NULL && pp != NULL && pp->gfreecnt < P_GFREE_MAX) {
        gp->schedlink = pp->gfree;
        pp->gfree = gp;
        pp->gfreecnt++;
        return;
    }
    lock(&sched.gflock);
    g **list = gp->stack != NULL ? &sched.gfree : &sched.gfree_nostack;
    gp->schedlink = *list;
    *list = gp;
    if (gp->stack != NULL)
        atomic_fetch_add(&sched.ngfree, 1);
    unlock(&sched.gflock);
}

static void goexit1(void);

/* Every goroutine starts here, on its own stack. */
static void goroutine_entry(void *arg)
{
    g *gp = arg;
    after_switch_run(getm());
    gp->fn(gp->arg);
    goexit1();
}

/* Goroutine ids a p takes from sched.goidgen at a time (Go's _GoidCacheBatch). */
#define GOID_CACHE_BATCH 16

/* A fresh goroutine id: from pp's batch when there is a p. */
static uint64_t goid_next(p *pp)
{
    if (pp == NULL)
        return atomic_fetch_add(&sched.goidgen, 1) + 1;
    if (pp->goidcache == pp->goidcacheend) {
        pp->goidcache = atomic_fetch_add(&sched.goidgen, GOID_CACHE_BATCH) + 1;
        pp->goidcacheend = pp->goidcache + GOID_CACHE_BATCH;
    }
    return pp->goidcache++;
}

/* Adds d to a count of pp's, which only its owner writes. */
static inline void p_count_add(_Atomic int64_t *count, int64_t d)
{
    atomic_store_explicit(count, atomic_load_explicit(count, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

/* One goroutine more (d = 1) or less (-1), counted on pp's own count, or on
 * sched's for a thread without a p. */
static void goroutines_count(p *pp, int d)
{
    if (pp != NULL)
        p_count_add(&pp->ngoroutines_delta, d);
    else
        atomic_fetch_add(&sched.ngoroutines, d);
}

static int newproc(void (*fn)(void *), void *arg, size_t stack_size, uint64_t goid, bool system,
                   g **out)
{
    if (fn == NULL)
        return GORT_EINVAL;
    /* Before the stack's size: gort_go's default is set by gort_main. */
    if (!atomic_load(&sched.running))
        return GORT_ESTATE;
    if (stack_size < GORT_MIN_STACK_SIZE)
        return GORT_EINVAL;
    if (stack_size > STACK_MAX_BYTES)
        return GORT_ENOMEM; /* and its rounding would overflow */
    stack_size = round_up(stack_size, STACK_SIZE_ROUND);
    m *mp = getm();
    p *pp = mp != NULL ? mp->p : NULL;
    g *gp = gfget(pp, stack_size);
    if (gp == NULL)
        return GORT_ENOMEM;
    gp->fn = fn;
    gp->arg = arg;
    gp->goid = goid != 0 ? goid : goid_next(pp);
    gp->lastm = NULL;
    gp->waitreason = WAIT_REASON_ZERO;
    gp->system = system;
    /* Its first spell is sampled as one in SCHED_LATENCY_PERIOD, at random
     * (goroutines made in a fixed pattern would otherwise always, or never,
     * be). */
    gp->trackingseq = (uint8_t)cheaprand();
    gp->tracking = gp->trackingseq % SCHED_LATENCY_PERIOD == 0;
    /* Created during a mark, it starts scanned: its stack is empty, and its
     * argument is shaded as a store would be. */
    atomic_store(&gp->fiber_live, false);
    atomic_store(&gp->stackscan, atomic_load(&gc_stack_epoch) << 1);
    write_barrier_shade((uintptr_t)arg);
    /* The fiber's stack starts above the guard zone, so that a stack-pointer
     * check (wasm) stops short of it and leaves it free for the report. */
    prim_fiber_init(&gp->fiber, (char *)gp->stack + STACK_GUARD_BYTES,
                    gp->stack_size - STACK_GUARD_BYTES, goroutine_entry, gp);
    stack_guard_set(gp->stack);
    if (!system)
        goroutines_count(pp, 1);
    if (out != NULL)
        *out = gp;
    if (pp != NULL)
        p_count_add(&pp->goroutines_created, 1);
    else
        atomic_fetch_add_explicit(&sched.goroutines_created, 1, memory_order_relaxed);
    if (trace_goroutines_on())
        trace_event(trace_lane_self(), GORT_EV_GO_CREATE, gp->goid);
    casgstatus(gp, G_DEAD, G_RUNNABLE);
    if (pp != NULL) {
        runqput(pp, gp, true);
        if (atomic_load(&sched.npidle) > 0 && atomic_load(&sched.nmspinning) == 0)
            wakep();
    } else {
        lock(&sched.lock);
        globrunqput(gp);
        unlock(&sched.lock);
        wakep();
    }
    return GORT_OK;
}

int gort_go(void (*fn)(void *), void *arg)
{
    return newproc(fn, arg, sched.default_stack, 0, false, NULL);
}

int gort_go_stack(void (*fn)(void *), void *arg, size_t stack_size)
{
    return newproc(fn, arg, stack_size, 0, false, NULL);
}

uint64_t newgoid(void)
{
    return atomic_fetch_add(&sched.goidgen, 1) + 1;
}

int go_with_goid(void (*fn)(void *), void *arg, uint64_t goid)
{
    return newproc(fn, arg, sched.default_stack, goid, false, NULL);
}

g *sched_newproc_system(void (*fn)(void *), void *arg)
{
    g *gp = NULL;
    return newproc(fn, arg, sched.default_stack, 0, true, &gp) == GORT_OK ? gp : NULL;
}

/* ---- sleeping and waking ms ---- */

/* Wakes an m that mtake took off the idle list. Only mtake, under
 * sched.lock, marks an m woken (park = 1): a wake-up that arrives late must
 * not mark the m again after it went back to sleep, or it would leave the
 * list while still on it. */
static void notewakeup(m *mp) { prim_futex_wake(&mp->park, 1); }

static void checkdead(void);
static bool mtake(m *mp);

/* Work that an m without a p could find: the global queue, or a local queue
 * of some p (sched.lock held). */
static bool work_visible_locked(void)
{
    if (atomic_load(&sched.runqsize) > 0)
        return true;
    for (int i = 0; i < sched.nprocs; i++) {
        p *pp = sched.allp[i];
        if (!atomic_load(&pp->stopped) && !runqempty(pp))
            return true;
    }
    return false;
}

/*
 * Puts mp on the idle list (sched.lock held) and returns until when it may
 * sleep (-1: until woken). An m that goes idle for want of work (`idle`)
 * also watches the timers if no other m does, and is the one to declare a
 * deadlock when it is the last to stop. Returns -2 when it must not sleep:
 * the runtime exits, or work appeared while it was letting its p go.
 *
 * Everything that wakes ms (wakep, startm_with, sched_timer_added, the exit
 * path) looks for them under sched.lock, and an m registers here under the
 * same lock, after its last look for work: whatever is queued before is seen
 * here, whatever is queued after finds this m on the list.
 */
static int64_t mput_locked(m *mp, bool idle)
{
    if (atomic_load(&sched.exiting))
        return -2;
    if (idle && work_visible_locked())
        return -2;
    int64_t until = -1;
    atomic_store(&mp->park, 0);
    mp->schedlink = sched.midle;
    sched.midle = mp;
    sched.nmidle++;
    if (idle) {
        int64_t next_timer = timers_next_when();
        if (next_timer >= 0 && sched.timer_sleeper == NULL) {
            until = next_timer;
            sched.timer_sleeper = mp;
            sched.timer_sleep_until = until;
        } else {
            checkdead();
        }
    }
    return until;
}

/* Sleeps after mput_locked until woken, or until `until` (>= 0) passes. */
static void mpark(m *mp, int64_t until)
{
    if (until == -2)
        return;
    for (;;) {
        int64_t wait = -1;
        if (until >= 0) {
            wait = until - prim_nanotime();
            if (wait <= 0)
                break;
        }
        prim_futex_wait(&mp->park, 0, wait);
        if (atomic_load(&mp->park) != 0)
            return; /* woken: the waker took us off the idle list */
        if (until >= 0 && prim_nanotime() >= until)
            break;
    }
    /* Timed out: leave the idle list ourselves, unless a waker took us off
     * it already (then park is 1). */
    lock(&sched.lock);
    if (atomic_load(&mp->park) == 0)
        mtake(mp);
    unlock(&sched.lock);
}

static void stopm(m *mp, bool idle)
{
    lock(&sched.lock);
    int64_t until = mput_locked(mp, idle);
    unlock(&sched.lock);
    mpark(mp, until);
}


/* Takes mp off the idle list and marks it taken (sched.lock held): an m
 * that times out meanwhile then knows that it is no longer on the list. */
static bool mtake(m *mp)
{
    m **link = &sched.midle;
    while (*link != NULL && *link != mp)
        link = &(*link)->schedlink;
    if (*link == NULL)
        return false;
    *link = mp->schedlink;
    sched.nmidle--;
    if (sched.timer_sleeper == mp)
        sched.timer_sleeper = NULL;
    atomic_store(&mp->park, 1);
    return true;
}

static m *mget(void)
{
    m *mp = sched.midle;
    if (mp != NULL)
        mtake(mp);
    return mp;
}

/* Wakes an idle m to look for work, if some p is idle and no m spins. */
static void wakep(void)
{
    int32_t zero = 0;
    if (atomic_load(&sched.npidle) == 0)
        return;
    if (!atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1))
        return;
    lock(&sched.lock);
    m *mp = sched.midle;
    if (mp != NULL) {
        /* Before mtake marks it woken: it may be running the moment after. */
        mp->spinning = true; /* the count was taken for it */
        mtake(mp);
    }
    unlock(&sched.lock);
    if (mp == NULL) {
        atomic_fetch_sub(&sched.nmspinning, 1); /* every m is busy */
        return;
    }
    notewakeup(mp);
}

void sched_timer_added(int64_t when)
{
    if (!atomic_load(&sched.running))
        return;
    lock(&sched.lock);
    m *mp = NULL;
    if (sched.timer_sleeper != NULL && when < sched.timer_sleep_until) {
        mp = sched.timer_sleeper;
        mtake(mp); /* off the idle list, so that it is woken once */
    } else if (sched.timer_sleeper == NULL && atomic_load(&sched.npidle) > 0) {
        /* No one watches the timers, and a p is free for it: the ms that
         * run goroutines look at timers only when they switch. */
        mp = mget();
    }
    unlock(&sched.lock);
    if (mp != NULL)
        notewakeup(mp);
}

void sched_external_waiters_add(int delta) { atomic_fetch_add(&sched.external_waiters, delta); }

/* The calling thread holds the runtime open (sched_hold_open). */
static _Thread_local bool tls_holds_open;

void sched_hold_open(bool hold)
{
    if (hold == tls_holds_open)
        return;
    tls_holds_open = hold;
    sched_external_waiters_add(hold ? 1 : -1);
}

void sched_thread_adopted(void) { tls_holds_open = false; }

bool sched_external_wait_begin(void)
{
    if (tls_holds_open)
        return false;
    sched_external_waiters_add(1);
    return true;
}

/* ---- try mode: readying goroutines without waiting for sched.lock ---- */

void sched_set_try_mode(bool on) { tls_try_mode = on; }
bool sched_in_try_mode(void) { return tls_try_mode; }
int sched_deferred_count(void) { return atomic_load(&sched.ndeferred_ready); }

/* wakep's choice with sched.lock already held: the m to wake after the
 * unlock, or NULL. */
static m *wakep_locked(void)
{
    int32_t zero = 0;
    if (atomic_load(&sched.npidle) == 0)
        return NULL;
    if (!atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1))
        return NULL;
    m *mp = sched.midle;
    if (mp == NULL) {
        atomic_fetch_sub(&sched.nmspinning, 1); /* every m is busy */
        return NULL;
    }
    mp->spinning = true; /* the count was taken for it */
    mtake(mp);
    return mp;
}

/* Queues the deferred goroutines if sched.lock is free at once; false,
 * having done nothing, when it is not. */
static bool ready_try(void)
{
    if (!lock_try(&sched.lock))
        return false;
    g *list = atomic_exchange(&sched.deferred_ready, NULL);
    int32_t n = 0;
    for (g *next; list != NULL; list = next, n++) {
        next = list->schedlink;
        casgstatus(list, G_WAITING, G_RUNNABLE);
        globrunqput(list);
    }
    atomic_fetch_add_explicit(&sched.outside_readies, (uint32_t)n, memory_order_relaxed);
    m *mp = wakep_locked();
    /* Counted down under the lock, after the queueing: while the count is
     * above zero the runtime is not quiescent. */
    if (n > 0)
        atomic_fetch_sub(&sched.ndeferred_ready, n);
    unlock(&sched.lock);
    if (mp != NULL)
        notewakeup(mp);
    return true;
}

/* goready for a thread in try mode without a p: gp joins the deferred
 * readies (counted first, so that the runtime never looks quiescent while it
 * waits there), which are queued at once if sched.lock is free. */
static void goready_try(g *gp)
{
    atomic_fetch_add(&sched.ndeferred_ready, 1);
    g *head = atomic_load(&sched.deferred_ready);
    do
        gp->schedlink = head;
    while (!atomic_compare_exchange_weak(&sched.deferred_ready, &head, gp));
    ready_try();
}

int sched_flush_deferred(void)
{
    if (atomic_load(&sched.deferred_ready) != NULL)
        ready_try();
    return atomic_load(&sched.ndeferred_ready);
}

void gort_keepalive(int delta) { sched_external_waiters_add(delta); }

/* ---- after a switch ---- */

static void after_switch_run(m *mp)
{
    bool (*f)(g *, void *) = mp->after_switch;
    if (f == NULL)
        return;
    g *prev = mp->after_switch_g;
    void *arg = mp->after_switch_arg;
    mp->after_switch = NULL;
    mp->after_switch_g = NULL;
    mp->after_switch_arg = NULL;
    /* Its stack may now be scanned. A release store (a plain move on x86,
     * where a sequentially consistent one locks the bus on every switch):
     * the collector that reads false must see the saved context, and one
     * that still reads true only leaves the stack for a later pass; the
     * handshake that needs both sides' order is the store of true
     * (execute_prepare). */
    atomic_store_explicit(&prev->fiber_live, false, memory_order_release);
    if (!f(prev, arg)) {
        /* The park was called off: run prev again soon. */
        if (trace_goroutines_on())
            trace_event(mp->p->id, GORT_EV_GO_UNBLOCK, prev->goid);
        casgstatus(prev, G_WAITING, G_RUNNABLE);
        runqput(mp->p, prev, true);
    }
}

/* A goroutine about to run on mp. */
static void execute_prepare(m *mp, g *gp)
{
    casgstatus(gp, G_RUNNABLE, G_RUNNING);
    if (trace_goroutines_on())
        trace_event(mp->p->id, GORT_EV_GO_START, gp->goid);
    atomic_store(&gp->fiber_live, true);
    if (gc_stacks_pending())
        gc_scan_stack_before_run(gp);
    mp->curg = gp;
    mp->p->schedtick++;
    if (gp->lastm != NULL && gp->lastm != mp)
        atomic_fetch_add_explicit(&sched.migrations, 1, memory_order_relaxed);
    gp->lastm = mp;
}

/* Next goroutine for mp's p without blocking or stealing, or NULL. */
static g *runnable_now(m *mp)
{
    p *pp = mp->p;
    if (sched_gcwaiting() || atomic_load(&sched.exiting))
        return NULL;
    int64_t next_timer = timers_next_when(); /* -1 when none: no clock read */
    if (next_timer >= 0 && next_timer <= prim_nanotime())
        return NULL; /* let g0 run the due timers */
    if (pp->schedtick % GLOBAL_RUNQ_CHECK_PERIOD == 0 && atomic_load(&sched.runqsize) > 0) {
        lock(&sched.lock);
        g *gp = globrunqpop();
        unlock(&sched.lock);
        if (gp != NULL)
            return gp;
    }
    g *gp = runqget(pp);
    if (gp != NULL)
        return gp;
    if (atomic_load(&sched.runqsize) > 0) {
        lock(&sched.lock);
        gp = globrunqpop();
        unlock(&sched.lock);
    }
    return gp;
}

/*
 * Leaves the running goroutine `gp` for the next one, or for g0. `action`
 * runs once gp's context is saved. When gp is dying, its fiber is left for
 * good.
 */
#ifdef __EMSCRIPTEN__
#include <emscripten/emscripten.h>
/* For the wasm stack-pointer check (src/prim/wasm/overflow_lib.js), which
 * runs on the overflowing goroutine's own stack: it only reads. */
EMSCRIPTEN_KEEPALIVE uint32_t gort_running_goid(void)
{
    g *gp = getg();
    return gp != NULL ? (uint32_t)gp->goid : 0;
}
#endif

_Noreturn static void stack_overflow(g *gp)
{
    fprintf(stderr, "runtime: goroutine %llu stack exceeds %zu-byte limit\n",
            (unsigned long long)gp->goid, gp->stack_size - STACK_GUARD_BYTES);
    gort_throw("stack overflow");
}

/* Room a switch needs below switch_from's frame on the goroutine's stack
 * (the fiber swap saves registers there, in code no sanitizer sees). */
#define SWITCH_STACK_ROOM 256

/* True when the running goroutine's stack pointer has come within a
 * switch's room of its guard zone: the switch itself would write into the
 * zone, or past it into the stack below, where nothing would notice. */
static inline bool stack_exhausted(const g *gp)
{
#ifdef __EMSCRIPTEN__
    (void)gp;
    return false; /* every stack-pointer move is checked already */
#else
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    return sp < (uintptr_t)gp->stack + STACK_GUARD_BYTES + SWITCH_STACK_ROOM;
#endif
}

/* Inlined into each of its callers (gopark, yield, the safepoint, exit): on
 * wasm every frame of a parked chain is saved and restored at every switch
 * (Asyncify), and a park's chain then has one frame fewer. */
static inline __attribute__((always_inline)) void switch_from(m *mp, g *gp,
                                                              bool (*action)(g *, void *),
                                                              void *arg, bool dying)
{
    if (!stack_guard_intact(gp->stack) || stack_exhausted(gp))
        stack_overflow(gp);
    if (trace_goroutines_on())
        trace_go_leave(mp->p->id, gp->goid, readgstatus(gp), gp->waitreason);
    mp->after_switch = action;
    mp->after_switch_g = gp;
    mp->after_switch_arg = arg;
    g *next = runnable_now(mp);
    prim_fiber *to;
    if (next != NULL) {
        execute_prepare(mp, next);
        to = &next->fiber;
    } else {
        mp->curg = NULL;
        to = &mp->g0;
    }
    if (dying)
        prim_fiber_exit(&gp->fiber, to);
    prim_fiber_switch(&gp->fiber, to);
    /* Resumed, perhaps on another m. */
    after_switch_run(getm());
}

void gopark(bool (*unlockf)(g *gp, void *arg), void *arg, enum wait_reason reason)
{
    m *mp = getm();
    g *gp = mp->curg;
    if (gp == NULL)
        gort_throw("gopark: not on a goroutine");
    gp->waitreason = (uint8_t)reason;
    casgstatus(gp, G_RUNNING, G_WAITING);
    switch_from(mp, gp, unlockf, arg, false);
}

void goready(g *gp)
{
    if (trace_goroutines_on())
        trace_event(trace_lane_self(), GORT_EV_GO_UNBLOCK, gp->goid);
    casgstatus(gp, G_WAITING, G_RUNNABLE);
    m *mp = getm();
    if (mp != NULL && mp->p != NULL) {
        runqput(mp->p, gp, true);
        if (atomic_load(&sched.npidle) > 0 && atomic_load(&sched.nmspinning) == 0)
            wakep();
        return;
    }
    lock(&sched.lock);
    globrunqput(gp);
    unlock(&sched.lock);
    atomic_fetch_add_explicit(&sched.outside_readies, 1, memory_order_relaxed);
    wakep();
}

static bool requeue_global(g *gp, void *arg)
{
    (void)arg;
    casgstatus(gp, G_WAITING, G_RUNNABLE);
    lock(&sched.lock);
    globrunqput(gp);
    unlock(&sched.lock);
    if (atomic_load(&sched.npidle) > 0 && atomic_load(&sched.nmspinning) == 0)
        wakep();
    return true;
}

static bool requeue_local(g *gp, void *arg)
{
    (void)arg;
    casgstatus(gp, G_WAITING, G_RUNNABLE);
    runqput(getm()->p, gp, false);
    return true;
}

void gort_yield(void)
{
    m *mp = getm();
    g *gp = mp != NULL ? mp->curg : NULL;
    if (gp == NULL) {
        prim_osyield();
        return;
    }
    /* As Go's Gosched: to the global queue, so that every p may pick it. When
     * the world is stopping, keep it on this p, which stops with it. */
    gp->waitreason = WAIT_REASON_ZERO;
    casgstatus(gp, G_RUNNING, G_WAITING);
    bool stopping = sched_gcwaiting() || atomic_load(&sched.exiting);
    switch_from(mp, gp, stopping ? requeue_local : requeue_global, NULL, false);
}

static bool requeue_next(g *gp, void *arg)
{
    (void)arg;
    casgstatus(gp, G_WAITING, G_RUNNABLE);
    runqput(getm()->p, gp, true);
    return true;
}

static bool stop_in_place(m *mp);

void sched_slice_check(void)
{
    m *mp = getm();
    if (mp == NULL || mp->curg == NULL || mp->p == NULL)
        return;
    p *pp = mp->p;
    if (++pp->slice_looks % SLICE_LOOK_PERIOD != 0)
        return;
    int64_t now = prim_nanotime();
    if (pp->schedtick != pp->slice_tick) {
        /* Another goroutine since the last look: its slice starts now. */
        pp->slice_tick = pp->schedtick;
        pp->slice_start = now;
        return;
    }
    if (now - pp->slice_start < SCHED_TIME_SLICE_NS)
        return;
    int64_t next_timer = timers_next_when();
    if (runqempty(pp) && atomic_load(&sched.runqsize) == 0 && !(next_timer >= 0 && next_timer <= now))
        return; /* nothing waits for this p: run on */
    pp->slice_start = now;
    if (!pp->preempt) {
        pp->preempt = true;
        atomic_fetch_add(&sched.npreempt, 1);
    }
    /* Also when it was asked already: a yield elsewhere may have cleared
     * the bit between its count and this p's. */
    safepoint_request(SAFEPOINT_PREEMPT, true);
}

/* The running goroutine's share of a preemption request: true when it is
 * the one asked to yield (its p's flag, cleared here). */
static bool preempt_take(m *mp)
{
    p *pp = mp->p;
    if (pp == NULL || !pp->preempt)
        return false;
    pp->preempt = false;
    if (atomic_fetch_sub(&sched.npreempt, 1) == 1)
        safepoint_request(SAFEPOINT_PREEMPT, false);
    /* Asked for the goroutine that was running then. */
    return pp->schedtick == pp->slice_tick;
}

void gort_safepoint_slow(void)
{
    m *mp = getm();
    g *gp = mp != NULL ? mp->curg : NULL;
    if (gp == NULL)
        return;
    if (sched_gcwaiting()) {
        /* Stopping where it stands spares two fiber switches, which cost
         * tens of microseconds on wasm when their code has gone cold. The
         * stop's work may run right here: it needs some stack. A stop
         * that wants every goroutine switched out says so. */
        char here;
        uintptr_t room = (uintptr_t)&here - (uintptr_t)gp->stack;
        if (room <= STW_IN_PLACE_STACK_BYTES || !stop_in_place(mp))
            gort_yield();
        return;
    }
    if (gc_stacks_pending() && !gc_stack_scanned(gp)) {
        /* The collector waits for this stack: switch out, to be scanned by
         * whoever switches back to it (execute_prepare), and go on next. */
        gp->waitreason = WAIT_REASON_ZERO;
        casgstatus(gp, G_RUNNING, G_WAITING);
        switch_from(mp, gp, requeue_next, NULL, false);
        return;
    }
    if (safepoint_requested(SAFEPOINT_PREEMPT) && preempt_take(mp))
        gort_yield(); /* its time slice is over: to the global queue, as Go's preemption */
}

static bool free_dead(g *gp, void *arg)
{
    (void)arg;
    /* Its fiber is initialized afresh when the g is reused; destroying it
     * now keeps sanitizer contexts to the goroutines alive. */
    prim_fiber_destroy(&gp->fiber);
    gfput(getm()->p, gp);
    return true;
}

/* The main goroutine ended: the program is over. */
static void main_finished(int code)
{
    lock(&sched.lock);
    if (atomic_load(&sched.main_done) == 0) {
        sched.exit_code = code;
        atomic_store(&sched.exiting, true);
        atomic_store(&sched.main_done, 1);
        atomic_store(&sched.stopnote, 1);
    }
    unlock(&sched.lock);
    prim_futex_wake(&sched.main_done, 1);
    prim_futex_wake(&sched.stopnote, 1); /* a stop-the-world gives up */
    prim_futex_wake(&sched.stwdone, 1);
}

static void goexit1(void)
{
    m *mp = getm();
    g *gp = mp->curg;
    if (gp->goid == 1)
        main_finished(GORT_OK);
    if (!gp->system)
        goroutines_count(mp->p, -1);
    casgstatus(gp, G_RUNNING, G_DEAD);
    gp->fn = NULL;
    gp->arg = NULL;
    switch_from(mp, gp, free_dead, NULL, true);
    gort_throw("goexit: a dead goroutine was resumed");
}

GORT_NORETURN void gort_goexit(void)
{
    if (getg() == NULL)
        gort_throw("gort_goexit: not on a goroutine");
    goexit1();
    __builtin_unreachable();
}

/* ---- stop the world ---- */

static void restart_ps(m *self, p *keep);

/* pp, mp's p, stops (sched.lock held). When it is the last to stop and the
 * stop came with work, mp claims the work, runs it with the lock let go,
 * restarts the world keeping pp, and returns true; otherwise the lock stays
 * held and the caller waits for the restart. */
static bool stopped_locked(m *mp, p *pp)
{
    atomic_store(&pp->stopped, true);
    trace_state(pp->id, GORT_TRACE_STOPPED, 0);
    if (--sched.stopwait != 0)
        return false;
    trace_stw_stopped(pp->id);
    if (sched.stw_fn == NULL) {
        atomic_store(&sched.stopnote, 1);
        prim_futex_wake(&sched.stopnote, 1);
        return false;
    }
    void (*fn)(void *) = sched.stw_fn;
    sched.stw_fn = NULL; /* claimed: the caller no longer gives up */
    unlock(&sched.lock);
    fn(sched.stw_arg);
    restart_ps(mp, pp);
    /* Before worldsema goes: the next stop starts from zero. */
    atomic_store(&sched.stwdone, 1);
    prim_futex_wake(&sched.stwdone, 1);
    semrelease(&worldsema, false);
    return true;
}

/* mp stops its p for a stop-the-world, and sleeps until it is over. When
 * its p is the last to stop and the stop came with work to do, mp does the
 * work itself and goes on with its p: the world restarts without waiting
 * for another thread to wake up, twice. */
static void gcstopm(m *mp)
{
    lock(&sched.lock);
    if (!sched_gcwaiting()) {
        /* The world started again since we looked: keep the p. */
        unlock(&sched.lock);
        return;
    }
    p *pp = releasep(mp);
    if (stopped_locked(mp, pp))
        return;
    /* On the idle list before the lock is let go: start_the_world, which
     * takes the lock, finds this m to hand a p to. */
    int64_t until = mput_locked(mp, false);
    unlock(&sched.lock);
    mpark(mp, until);
}

/* mp's goroutine stops its p at its safepoint without switching out: mp
 * waits right here, holding the p, until the world restarts, or does the
 * stop's work itself when it is the last to stop. False when the stop
 * wants every goroutine switched out: the caller yields instead. Which stop
 * is asked for is read under sched.lock: the one seen before may be over
 * and another, of the other kind, begun. */
static bool stop_in_place(m *mp)
{
    lock(&sched.lock);
    if (!sched_gcwaiting()) {
        unlock(&sched.lock);
        return true;
    }
    if (atomic_load(&sched.stw_release_all)) {
        unlock(&sched.lock);
        return false;
    }
    p *pp = mp->p;
    if (stopped_locked(mp, pp))
        return true;
    atomic_store(&pp->inplace, 1);
    unlock(&sched.lock);
    while (atomic_load(&pp->inplace) != 0)
        prim_futex_wait(&pp->inplace, 1, -1);
    return true;
}

/* Lets the ps stopped in place go on (sched.lock held). */
static void release_in_place_locked(void)
{
    for (int i = 0; i < sched.nprocs; i++) {
        p *pp = sched.allp[i];
        if (atomic_load(&pp->inplace) != 0) {
            atomic_store(&pp->stopped, false);
            atomic_store(&pp->inplace, 0);
            prim_futex_wake(&pp->inplace, 1);
        }
    }
}

/* Asks every p to stop (sched.lock held): the caller's and the idle ones
 * stop at once, the others at their next safepoint (sched.stopwait). The
 * pause starts now, as goroutines are asked to stop (Go's pauseStart):
 * waiting for worldsema or the lock kept no goroutine waiting. */
static void stop_ps_locked(m *mp)
{
    sched.stw_started = prim_nanotime();
    atomic_store(&sched.stopnote, 0);
    /* The ps parked out of GOMAXPROCS are stopped already. */
    int procs = atomic_load(&sched.gomaxprocs);
    sched.stopwait = procs;
    set_gcwaiting(true);
    int lane = mp != NULL && mp->p != NULL ? mp->p->id : trace_lane_self();
    trace_stw_begin(lane, sched.stw_started, procs);
    if (mp != NULL && mp->p != NULL) {
        atomic_store(&mp->p->stopped, true);
        trace_state(mp->p->id, GORT_TRACE_STOPPED, sched.stw_started);
        sched.stopwait--;
    }
    p *pp;
    while ((pp = pidleget()) != NULL) {
        atomic_store(&pp->stopped, true);
        trace_state(pp->id, GORT_TRACE_STOPPED, sched.stw_started);
        sched.stopwait--;
    }
    if (sched.stopwait == 0)
        trace_stw_stopped(lane);
}

/* The program ended while a stop waited (sched.lock held): its ms leave
 * instead of stopping, and the stop gives up. */
static bool give_up_stop_locked(void)
{
    if (!atomic_load(&sched.exiting))
        return false;
    set_gcwaiting(false);
    release_in_place_locked();
    unlock(&sched.lock);
    semrelease(&worldsema, false);
    return true;
}

/* Takes worldsema and sched.lock for a stop; false (holding neither) when
 * the program is ending. */
static bool begin_stop(enum wait_reason reason)
{
    semacquire(&worldsema, false, reason);
    lock(&sched.lock);
    if (atomic_load(&sched.exiting)) {
        unlock(&sched.lock);
        semrelease(&worldsema, false);
        return false;
    }
    sched.stw_for_gc = reason == WAIT_REASON_GC;
    return true;
}

/* stop_the_world; with release_all no p stops in place: each m lets its p
 * go on g0 (gcstopm), so that the caller may give ps to other ms. */
static bool stop_the_world_as(enum wait_reason reason, bool release_all)
{
    if (!begin_stop(reason))
        return false;
    /* Not before: a goroutine may park in begin_stop and go on on another m. */
    m *mp = getm();
    /* Each stop says it as it begins, under the lock its safepoints read
     * it under. */
    atomic_store(&sched.stw_release_all, release_all);
    stop_ps_locked(mp);
    bool wait = sched.stopwait > 0;
    unlock(&sched.lock);
    while (wait) {
        prim_futex_wait(&sched.stopnote, 0, -1);
        lock(&sched.lock);
        wait = sched.stopwait > 0;
        if (wait && give_up_stop_locked())
            return false;
        atomic_store(&sched.stopnote, 0);
        unlock(&sched.lock);
    }
    return true;
}

bool stop_the_world(enum wait_reason reason) { return stop_the_world_as(reason, false); }

bool stop_the_world_run(enum wait_reason reason, bool switch_out, void (*fn)(void *), void *arg,
                        int64_t *started)
{
    m *mp = getm();
    if (mp != NULL && mp->p != NULL)
        gort_throw("stop_the_world_run: called with a p");
    if (!begin_stop(reason))
        return false;
    atomic_store(&sched.stw_release_all, switch_out);
    atomic_store(&sched.stwdone, 0);
    sched.stw_fn = fn;
    sched.stw_arg = arg;
    stop_ps_locked(NULL);
    if (started != NULL)
        *started = sched.stw_started;
    if (sched.stopwait == 0) { /* every p was idle */
        sched.stw_fn = NULL;
        unlock(&sched.lock);
        fn(arg);
        start_the_world();
        return true;
    }
    unlock(&sched.lock);
    for (;;) {
        prim_futex_wait(&sched.stwdone, 0, -1);
        if (atomic_load(&sched.stwdone) != 0)
            return true;
        lock(&sched.lock);
        if (sched.stw_fn != NULL && atomic_load(&sched.exiting)) {
            sched.stw_fn = NULL;
            give_up_stop_locked();
            return false;
        }
        unlock(&sched.lock);
    }
}

/* Hands a p with work (or with nothing: it then goes idle) to an m. */
static void startm_with(p *pp)
{
    m *mp = sched.midle;
    if (mp == NULL) {
        pidleput(pp);
        return;
    }
    /* Before mtake marks it woken: it may run the moment after. */
    mp->p = pp; /* the m binds it (acquirep) when it wakes */
    atomic_store_explicit(&pp->m, mp, memory_order_relaxed);
    mtake(mp);
    notewakeup(mp);
}

/* Lets the stopped ps run again; self keeps `keep` (NULL: none). */
static void restart_ps(m *self, p *keep)
{
    lock(&sched.lock);
    /* Before the ps stopped in place go on: their rings are theirs again. */
    trace_stw_end(keep != NULL ? keep->id : self != NULL && self->p != NULL ? self->p->id : trace_lane_self(),
                  sched.stw_for_gc);
    set_gcwaiting(false);
    release_in_place_locked();
    int procs = atomic_load(&sched.gomaxprocs);
    for (int i = 0; i < procs; i++) {
        p *pp = sched.allp[i];
        if (!atomic_load(&pp->stopped))
            continue;
        atomic_store(&pp->stopped, false);
        if (pp == keep) {
            acquirep(self, pp);
            continue;
        }
        if (self != NULL && self->p == pp)
            continue;
        if (!runqempty(pp))
            startm_with(pp);
        else
            pidleput(pp);
    }
    int64_t pause = prim_nanotime() - sched.stw_started;
    unlock(&sched.lock);
    atomic_fetch_add(&sched.stw_count, 1);
    atomic_fetch_add(&sched.stw_total_ns, pause);
    int64_t max = atomic_load(&sched.stw_max_ns);
    while (pause > max && !atomic_compare_exchange_weak(&sched.stw_max_ns, &max, pause))
        ;
    /* Ps with local work went to ms above; an m woken for nothing would hold
     * its p on the way, and the next stop would wait for its wake-up. */
    if (atomic_load(&sched.runqsize) > 0)
        wakep();
    /* The timers' watcher may have woken during the stop, found no p (a
     * stop hands out none) and gone to sleep without the duty: with nothing
     * runnable, no m would look at the timers again and every sleep and
     * After would wait forever. Someone watches them from here on. */
    int64_t next_timer = timers_next_when();
    if (next_timer >= 0)
        sched_timer_added(next_timer);
}

void start_the_world(void)
{
    restart_ps(getm(), NULL);
    semrelease(&worldsema, false);
}

/* ---- finding work (on g0) ---- */

/* Declares a deadlock when nothing can ever run again (sched.lock held, the
 * calling m already counted idle). */
static void checkdead(void)
{
    if (sched.nmidle != sched.nm || atomic_load(&sched.exiting))
        return;
    if (atomic_load(&sched.runqsize) > 0 || timers_pending() > 0 ||
        atomic_load(&sched.external_waiters) > 0 || atomic_load(&sched.ndeferred_ready) > 0)
        return;
    for (int i = 0; i < sched.nprocs; i++)
        if (!runqempty(sched.allp[i]))
            return;
    sched.exit_code = GORT_EDEADLOCK;
    atomic_store(&sched.exiting, true);
    atomic_store(&sched.main_done, 1);
    prim_futex_wake(&sched.main_done, 1);
}

/* Bytes of dead stack sched_scrub_stack clears, and the room it leaves. */
#define STACK_SCRUB_BYTES 4096
#define STACK_SCRUB_MARGIN 1024

/* One frame that covers the cleared bytes itself: what the caller calls
 * next is laid over memory this call wrote. */
__attribute__((noinline)) void sched_scrub_stack(void)
{
    g *gp = getg();
    if (gp == NULL)
        return;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t lo = (uintptr_t)gp->stack + STACK_GUARD_BYTES;
    if (sp <= lo || sp - lo <= STACK_SCRUB_BYTES + STACK_SCRUB_MARGIN)
        return;
    volatile char *pad = __builtin_alloca(STACK_SCRUB_BYTES);
    for (size_t i = 0; i < STACK_SCRUB_BYTES; i++)
        pad[i] = 0;
}

bool sched_quiescent(void)
{
    lock(&sched.lock);
    bool quiet = sched.nmidle == sched.nm && atomic_load(&sched.runqsize) == 0 && timers_pending() == 0 &&
                 atomic_load(&sched.ndeferred_ready) == 0;
    for (int i = 0; quiet && i < sched.nprocs; i++)
        quiet = runqempty(sched.allp[i]);
    unlock(&sched.lock);
    return quiet;
}

void sched_check_dead(void)
{
    lock(&sched.lock);
    checkdead();
    unlock(&sched.lock);
}

void sched_each_g(void (*fn)(g *gp, void *arg), void *arg)
{
    lock(&sched.gflock);
    for (size_t i = 0; i < sched.nallgs; i++)
        fn(sched.allgs[i], arg);
    unlock(&sched.gflock);
}

void sched_each_p(void (*fn)(p *pp, void *arg), void *arg)
{
    for (int i = 0; i < sched.nprocs; i++)
        fn(sched.allp[i], arg);
}

static g *steal_work(m *mp)
{
    p *pp = mp->p;
    for (int round = 0; round < STEAL_TRIES; round++) {
        bool last = round == STEAL_TRIES - 1;
        int procs = atomic_load_explicit(&sched.gomaxprocs, memory_order_relaxed);
        int start = (int)cheaprandn((uint32_t)procs);
        for (int k = 0; k < procs; k++) {
            p *victim = sched.allp[(start + k) % procs];
            if (victim == pp)
                continue;
            g *gp = runqsteal(pp, victim, last);
            if (gp != NULL)
                return gp;
        }
    }
    return NULL;
}

/* Whether goroutines wait in a run queue: the global one, self's (its
 * runnext too) or another p's ring, and with others_runnext another p's
 * runnext. A look that waits for work leaves those out: another p's runnext
 * is that p's next, taken only after a wait (runqgrab), and chasing it would
 * keep an m spinning beside every pair that hands off through channels. */
static bool work_queued(p *self, bool others_runnext)
{
    if (atomic_load(&sched.runqsize) > 0 || !runqempty(self))
        return true;
    int procs = atomic_load_explicit(&sched.gomaxprocs, memory_order_relaxed);
    for (int i = 0; i < procs; i++) {
        p *other = sched.allp[i];
        if (others_runnext ? !runqempty(other)
                           : atomic_load(&other->runqhead) != atomic_load(&other->runqtail))
            return true;
    }
    return false;
}

/* A spinning m's look for work before it sleeps (IDLE_SPIN_ROUNDS, of which
 * *rounds_left remain in this search), when goroutines were readied from
 * outside since its last look: true when something may be there to take (or
 * the world is stopping), false when the rounds ran out or nobody outside
 * readies goroutines. */
static bool idle_spin(m *mp, int *rounds_left)
{
    uint32_t readies = atomic_load_explicit(&sched.outside_readies, memory_order_relaxed);
    if (readies == mp->outside_readies_seen)
        return false;
    mp->outside_readies_seen = readies;
    while (*rounds_left > 0) {
        (*rounds_left)--;
        if (work_queued(mp->p, false) || sched_gcwaiting() || atomic_load(&sched.exiting))
            return true;
        prim_procyield(1);
    }
    return false;
}

static g *findrunnable(m *mp)
{
    int spin_left = IDLE_SPIN_ROUNDS;
    /* After a stop-the-world the global queue goes first: goroutines that
     * never block stop only for those, and one readied from outside (a
     * gort_gc caller, say) would otherwise wait behind them. */
    bool global_first = false;
    for (;;) {
        if (atomic_load(&sched.exiting))
            return NULL;
        if (mp->p == NULL) {
            lock(&sched.lock);
            p *pp = sched_gcwaiting() ? NULL : pidleget();
            unlock(&sched.lock);
            if (pp == NULL) {
                if (mp->spinning) {
                    mp->spinning = false;
                    atomic_fetch_sub(&sched.nmspinning, 1);
                }
                stopm(mp, false);
                if (mp->p != NULL)
                    acquirep(mp, mp->p); /* handed over by startm_with */
                continue;
            }
            acquirep(mp, pp);
        }
        if (sched_gcwaiting()) {
            if (mp->spinning) {
                mp->spinning = false;
                atomic_fetch_sub(&sched.nmspinning, 1);
            }
            gcstopm(mp);
            if (mp->p != NULL)
                acquirep(mp, mp->p);
            global_first = true;
            continue;
        }
        if (timers_next_when() >= 0) /* no clock read without timers */
            timers_run(prim_nanotime());
        g *gp = NULL;
        /* As the switch path does, now and then the global queue first. */
        if ((global_first || mp->p->schedtick % GLOBAL_RUNQ_CHECK_PERIOD == 0) &&
            atomic_load(&sched.runqsize) > 0) {
            lock(&sched.lock);
            gp = globrunqpop();
            unlock(&sched.lock);
        }
        if (gp == NULL)
            gp = runqget(mp->p);
        if (gp == NULL && atomic_load(&sched.runqsize) > 0) {
            lock(&sched.lock);
            gp = globrunqpop();
            unlock(&sched.lock);
        }
        if (gp == NULL) {
            if (!mp->spinning && 2 * atomic_load(&sched.nmspinning) <
                                     atomic_load(&sched.gomaxprocs) - atomic_load(&sched.npidle)) {
                mp->spinning = true;
                atomic_fetch_add(&sched.nmspinning, 1);
            }
            if (mp->spinning)
                gp = steal_work(mp);
            if (gp == NULL && mp->spinning && idle_spin(mp, &spin_left))
                continue;
        }
        if (gp != NULL) {
            if (mp->spinning) {
                mp->spinning = false;
                /* The last spinner found work: another may find more, if
                 * more is queued. Go wakes one either way; woken for a lone
                 * goroutine readied from outside (a JS caller's every
                 * round trip), it finds nothing, spins and sleeps again, a
                 * futex wake-up and a busy thread per hand-off on machines
                 * of few cores. Work queued later wakes one itself (no m
                 * spins then). */
                if (atomic_fetch_sub(&sched.nmspinning, 1) == 1 && work_queued(mp->p, true))
                    wakep();
            }
            return gp;
        }
        /* Nothing: give the p back and sleep. */
        lock(&sched.lock);
        if (sched_gcwaiting() || atomic_load(&sched.runqsize) > 0) {
            unlock(&sched.lock);
            continue;
        }
        p *pp = releasep(mp);
        pidleput(pp);
        unlock(&sched.lock);
        if (mp->spinning) {
            mp->spinning = false;
            atomic_fetch_sub(&sched.nmspinning, 1);
            /* Something may have been queued while we spun without it
             * waking anyone: look once more before sleeping. */
            bool work = atomic_load(&sched.runqsize) > 0;
            for (int i = 0; i < sched.nprocs && !work; i++)
                work = !runqempty(sched.allp[i]);
            if (work)
                continue; /* mp->p is NULL: it takes an idle p above */
        }
        stopm(mp, true);
        if (mp->p != NULL)
            acquirep(mp, mp->p);
    }
}

/* The life of an m: run goroutines until the runtime stops. */
static void *mstart(void *arg)
{
    m *mp = arg;
    tls_m = mp;
    prim_thread_init();
    prim_fiber_init_thread(&mp->g0);
    for (;;) {
        after_switch_run(mp);
        g *gp = findrunnable(mp);
        if (gp == NULL)
            break;
        execute_prepare(mp, gp);
        prim_fiber_switch(&mp->g0, &gp->fiber);
    }
    if (mp->p != NULL)
        releasep(mp);
    prim_fiber_destroy(&mp->g0);
    tls_m = NULL;
    prim_thread_exit();
}

/* ---- sudogs and the three kinds of waiter ---- */

#define P_SUDOG_CACHE ((int)(sizeof(((p *)0)->sudogcache) / sizeof(sudog *)))

/* A thread without a p keeps sudogs of its own, linked through next, so that
 * two workers handing values to each other do not meet at sudoglock twice
 * per operation. A thread in try mode never waits for that lock: it keeps
 * up to TRY_SUDOG_CACHE, and beyond that gives them back only when the lock
 * is free at once. Any other thread keeps up to THREAD_SUDOG_CACHE (it
 * waits on one operation at a time, a select on a sudog per case), and
 * only once it has a thread-exit hook (prim_thread_at_exit) that gives them
 * back as it ends, the runtime's threads and any other alike: a program
 * whose threads come and go does not leak them. */
#define TRY_SUDOG_CACHE 64
#define THREAD_SUDOG_CACHE 4
static _Thread_local sudog *tls_sudogs;
static _Thread_local int tls_nsudog;
static _Thread_local bool tls_sudogs_hooked;


sudog *acquire_sudog(void)
{
    m *mp = getm();
    p *pp = mp != NULL ? mp->p : NULL;
    if (pp != NULL && pp->nsudog > 0)
        return pp->sudogcache[--pp->nsudog];
    sudog *s = NULL;
    if (pp == NULL && (s = tls_sudogs) != NULL) {
        tls_sudogs = s->next;
        tls_nsudog--;
    } else if (pp == NULL && tls_try_mode) {
        if (lock_try(&sched.sudoglock)) {
            if ((s = sched.sudogfree) != NULL)
                sched.sudogfree = s->next;
            unlock(&sched.sudoglock);
        }
    } else {
        lock(&sched.sudoglock);
        s = sched.sudogfree;
        if (s != NULL)
            sched.sudogfree = s->next;
        unlock(&sched.sudoglock);
    }
    if (s == NULL) {
        if ((s = prim_sys_alloc_lines(sizeof *s)) == NULL)
            gort_throw("runtime: out of memory for a sudog");
        atomic_fetch_add(&sched.sudog_sys, prim_cache_lines_bytes(sizeof *s));
    }
    memset(s, 0, sizeof *s);
    return s;
}

/* The ending thread's own sudogs go to the shared list. */
static void thread_sudogs_at_exit(void *unused)
{
    (void)unused;
    if (tls_sudogs == NULL)
        return;
    sudog *last = tls_sudogs;
    while (last->next != NULL)
        last = last->next;
    lock(&sched.sudoglock);
    last->next = sched.sudogfree;
    sched.sudogfree = tls_sudogs;
    unlock(&sched.sudoglock);
    tls_sudogs = NULL;
    tls_nsudog = 0;
}

void release_sudog(sudog *s)
{
    m *mp = getm();
    p *pp = mp != NULL ? mp->p : NULL;
    memset(s, 0, sizeof *s);
    if (pp != NULL && pp->nsudog < P_SUDOG_CACHE) {
        pp->sudogcache[pp->nsudog++] = s;
        return;
    }
    if (pp == NULL) {
        /* The thread keeps it below its bound (a thread in try mode also
         * while sudoglock is taken); otherwise it goes to the shared list,
         * whose lock a thread in try mode then already holds. */
        if (!tls_sudogs_hooked)
            tls_sudogs_hooked = prim_thread_at_exit(thread_sudogs_at_exit, &tls_sudogs_hooked);
        /* (Without its exit hook, a thread not in try mode keeps none.) */
        bool shared = tls_try_mode ? tls_nsudog >= TRY_SUDOG_CACHE && lock_try(&sched.sudoglock)
                                   : tls_nsudog >= THREAD_SUDOG_CACHE || !tls_sudogs_hooked;
        if (!shared) {
            s->next = tls_sudogs;
            tls_sudogs = s;
            tls_nsudog++;
            return;
        }
    }
    if (pp != NULL || !tls_try_mode)
        lock(&sched.sudoglock);
    s->next = sched.sudogfree;
    sched.sudogfree = s;
    unlock(&sched.sudoglock);
}

/* A thread waiter's spin before it sleeps: rounds of pauses, looking at its
 * cell after each (a hand-off's latency is that of a look), about 30 us in
 * all on x86; prim_procyield makes a wasm pause about as long. */
#define THREAD_WAIT_SPIN_ROUNDS 900
#define THREAD_WAIT_SPIN_PAUSES 1

void sudog_prepare(sudog *s)
{
    g *gp = getg();
    s->g = gp;
    s->kind = gp != NULL ? WAITER_GOROUTINE : WAITER_THREAD;
    s->generation = sched_generation();
    atomic_store(&s->wakecell, WAKE_WAITING);
    s->doorbell = NULL;
}

void sudog_prepare_async(sudog *s, atomic_uint *doorbell)
{
    s->g = NULL;
    s->kind = WAITER_ASYNC;
    atomic_store(&s->wakecell, WAKE_WAITING);
    s->doorbell = doorbell;
}

/* Blocks the calling thread until s's wake cell says woken (true), or
 * until the monotonic time `deadline` passes (false; < 0: no limit). Waking
 * a sleeping thread costs 10-100 us (more when its core went idle), and the
 * other side of a hand-off often answers within a few: it spins that long
 * first, then says it sleeps, so that its waker makes the futex call (a
 * system call) only then. */
static bool wakecell_sleep(sudog *s, int64_t deadline)
{
    for (int round = 0; round < THREAD_WAIT_SPIN_ROUNDS && atomic_load(&s->wakecell) == WAKE_WAITING;
         round++)
        prim_procyield(THREAD_WAIT_SPIN_PAUSES);
    unsigned waiting = WAKE_WAITING;
    if (!atomic_compare_exchange_strong(&s->wakecell, &waiting, WAKE_SLEEPING))
        return true;
    while (atomic_load(&s->wakecell) != WAKE_WOKEN) {
        int64_t ns = -1;
        if (deadline >= 0 && (ns = deadline - prim_nanotime()) <= 0)
            return false;
        prim_futex_wait(&s->wakecell, WAKE_SLEEPING, ns);
    }
    return true;
}

bool sudog_async_block(sudog *s, int64_t deadline) { return wakecell_sleep(s, deadline); }

/* A woken thread waiter may return its sudog at once while its waker still
 * calls prim_futex_wake on the cell: harmless, since sudogs are reused and
 * never freed (a stray wake-up of the next user is allowed). */
void sudog_wait_external(sudog *s, bool (*unlockf)(g *gp, void *arg), void *arg)
{
    switch (s->kind) {
    case WAITER_GOROUTINE:
        gort_throw("sudog_wait_external: a goroutine's sudog");
    case WAITER_THREAD: {
        bool counted = sched_external_wait_begin();
        unlockf(NULL, arg);
        wakecell_sleep(s, -1);
        if (counted)
            sched_external_waiters_add(-1);
        return;
    }
    case WAITER_ASYNC:
        /* Counted until sudog_async_finish: until its owner has acted on the
         * wake-up, it may still wake goroutines. */
        s->counted = sched_external_wait_begin();
        unlockf(NULL, arg);
        return;
    }
}

void sudog_wake(sudog *s)
{
    if (s->kind == WAITER_GOROUTINE) {
        if (tls_try_mode && getm() == NULL)
            goready_try(s->g);
        else
            goready(s->g);
        return;
    }
    /* Read before the wake cell is set: from then on the owner may reuse s. */
    atomic_uint *doorbell = s->doorbell;
    if (atomic_exchange(&s->wakecell, WAKE_WOKEN) == WAKE_SLEEPING)
        prim_futex_wake(&s->wakecell, 1);
    if (doorbell != NULL) {
        atomic_fetch_add(doorbell, 1);
        prim_futex_wake(doorbell, INT32_MAX);
    }
}

bool sudog_async_poll(sudog *s) { return atomic_load(&s->wakecell) == WAKE_WOKEN; }

void sudog_async_finish(sudog *s)
{
    if (s->counted)
        sched_external_waiters_add(-1);
}

/* ---- starting and stopping the runtime ---- */

static void procs_create(int nprocs)
{
    for (int i = 0; i < nprocs; i++) {
        p *pp = sched.allp[i];
        if (pp == NULL) {
            pp = prim_sys_alloc(sizeof *pp);
            if (pp == NULL)
                gort_throw("runtime: out of memory for processors");
            pp->id = i;
            /* Published: the counts' readers (gort_num_goroutine) hold no lock. */
            __atomic_store_n(&sched.allp[i], pp, __ATOMIC_RELEASE);
        }
        if (pp->mcache == NULL && (pp->mcache = allocmcache()) == NULL)
            gort_throw("runtime: out of memory for processors");
        atomic_store(&pp->runqhead, 0);
        atomic_store(&pp->runqtail, 0);
        atomic_store(&pp->runnext, NULL);
        atomic_store(&pp->stopped, false);
        pp->schedtick = 0;
        pp->goidcache = pp->goidcacheend = 0; /* sched.goidgen starts again */
        atomic_store(&pp->ngoroutines_delta, 0);
        atomic_store_explicit(&pp->m, NULL, memory_order_relaxed);
    }
}

/* Frees what the stopped runtime leaves: abandoned goroutines, caches. */
static void sched_cleanup(void)
{
    sema_forget_goroutines();
    for (size_t i = 0; i < sched.nallgs; i++) {
        g *gp = sched.allgs[i];
        if (readgstatus(gp) != G_DEAD)
            prim_fiber_destroy(&gp->fiber); /* abandoned when main returned */
        if (gp->stack != NULL)
            stackfree(gp->stack, gp->stack_size);
        gp->stack = NULL;
        fixalloc_free(&sched.galloc, gp);
    }
    sched.nallgs = 0;
    sched.gfree = NULL;
    atomic_store(&sched.ngfree, 0);
    sched.gfree_nostack = NULL;
    atomic_store(&sched.deferred_ready, NULL); /* their goroutines were freed above */
    atomic_store(&sched.ndeferred_ready, 0);
    for (int i = 0; i < sched.nprocs; i++) {
        p *pp = sched.allp[i];
        mcache_release_all(pp->mcache);
        pp->gfree = NULL;
        pp->gfreecnt = 0;
        pp->wbbuf_n = 0;
        /* Plain threads may take and give sudogs meanwhile. */
        lock(&sched.sudoglock);
        while (pp->nsudog > 0) {
            sudog *sd = pp->sudogcache[--pp->nsudog];
            sd->next = sched.sudogfree;
            sched.sudogfree = sd;
        }
        unlock(&sched.sudoglock);
    }
    sched.runqhead = sched.runqtail = NULL;
    atomic_store(&sched.runqsize, 0);
    sched.pidle = NULL;
    atomic_store(&sched.npidle, 0);
    sched.midle = NULL;
    sched.nmidle = 0;
    atomic_store(&sched.nmspinning, 0);
    sched.timer_sleeper = NULL;
    timers_clear();
}

static void galloc_init(void) { fixalloc_init(&sched.galloc, sizeof(g)); }

int gort_main(const gort_config *config, void (*fn)(void *), void *arg)
{
    static once galloc_ready = ONCE_INIT;
    gort_config cfg = config != NULL ? *config : (gort_config){0};
    if (fn == NULL)
        return GORT_EINVAL;
    int nprocs = cfg.procs > 0 ? cfg.procs : prim_ncpu();
    if (nprocs > MAX_PROCS)
        nprocs = MAX_PROCS;
    size_t stack = cfg.stack_size ? cfg.stack_size : GORT_DEFAULT_STACK_SIZE;
    if (stack < GORT_MIN_STACK_SIZE)
        return GORT_EINVAL;
    bool expected = false;
    if (!atomic_compare_exchange_strong(&sched.running, &expected, true))
        return GORT_ESTATE;
    atomic_fetch_add(&generation, 1);
    mheap_init();
    once_do(&galloc_ready, galloc_init);

    __atomic_store_n(&sched.default_stack, round_up(stack, STACK_SIZE_ROUND), __ATOMIC_RELAXED);
    sched.nprocs = nprocs;
    atomic_store(&sched.gomaxprocs, nprocs);
    sched.exit_code = GORT_OK;
    atomic_store(&sched.exiting, false);
    set_gcwaiting(false);
    atomic_store(&sched.main_done, 0);
    gc_configure(cfg.godebug);
    atomic_store(&sched.goidgen, 1);
    atomic_store(&sched.ngoroutines, 0);
    procs_create(nprocs);
    trace_procs(nprocs);
    metrics_runtime_started(nprocs);
    for (int i = nprocs - 1; i >= 0; i--)
        pidleput(sched.allp[i]);

    /* The collector first: goroutine 1 may ask for a collection at once. */
    gc_runtime_start();
    int err = newproc(fn, arg, sched.default_stack, 1, false, NULL);
    if (err != GORT_OK) {
        gc_runtime_stop();
        atomic_store(&sched.running, false);
        return err;
    }
    sched.nm = 0;
    for (int i = 0; i < nprocs; i++) {
        m *mp = sched.allm[i];
        if (mp == NULL) {
            mp = prim_sys_alloc(sizeof *mp);
            if (mp == NULL)
                gort_throw("runtime: out of memory for threads");
            mp->id = i;
            sched.allm[i] = mp;
        }
        mp->p = NULL;
        mp->curg = NULL;
        mp->spinning = false;
        mp->after_switch = NULL;
        atomic_store(&mp->park, 0);
        /* Counted before it starts: the deadlock check must never see a
         * running m that it does not know of. */
        lock(&sched.lock);
        sched.nm++;
        unlock(&sched.lock);
        if (!prim_thread_start(&sched.threads[i], mstart, mp)) {
            if (i == 0)
                gort_throw("runtime: cannot start a worker thread");
            lock(&sched.lock);
            sched.nm--; /* fewer threads than processors: still correct */
            unlock(&sched.lock);
            break;
        }
    }

    while (atomic_load(&sched.main_done) == 0)
        prim_futex_wait(&sched.main_done, 0, -1);

    /* The program is over: wake every m and wait for them to leave. */
    for (int i = 0; i < sched.nm; i++) {
        m *mp = sched.allm[i];
        lock(&sched.lock);
        mtake(mp);
        unlock(&sched.lock);
        notewakeup(mp);
    }
    for (int i = 0; i < sched.nm; i++)
        prim_thread_join(&sched.threads[i]);
    gc_runtime_stop();
    metrics_runtime_stopped();
    set_gcwaiting(false);
    int code = sched.exit_code;
    sched_cleanup();
    atomic_store(&sched.running, false);
    return code;
}

/* ---- queries ---- */

uint64_t sched_goroutine_sys_bytes(void)
{
    lock(&sched.gflock);
    uint64_t bytes = sched.galloc.sys;
    unlock(&sched.gflock);
    return bytes + atomic_load(&sched.sudog_sys);
}

uint64_t gort_goid(void)
{
    g *gp = getg();
    return gp != NULL ? gp->goid : 0;
}

/* The sum over every p made of one of its owner-written counts (the field
 * at `offset` in struct p), read without a lock. */
static int64_t ps_count_sum(size_t offset)
{
    int64_t n = 0;
    for (int i = 0; i < MAX_PROCS; i++) {
        p *pp = __atomic_load_n(&sched.allp[i], __ATOMIC_ACQUIRE);
        if (pp != NULL)
            n += atomic_load_explicit((_Atomic int64_t *)((char *)pp + offset), memory_order_relaxed);
    }
    return n;
}

int gort_num_goroutine(void)
{
    /* The sum moves while it is read (a goroutine made on one p may end on
     * another between two reads): never below zero. */
    int64_t n = atomic_load(&sched.ngoroutines) + ps_count_sum(offsetof(struct p, ngoroutines_delta));
    return n > 0 ? (int)n : 0;
}

int gort_gomaxprocs(void) { return atomic_load(&sched.running) ? atomic_load(&sched.gomaxprocs) : 0; }

int gort_gomaxprocs_limit(void) { return atomic_load(&sched.running) ? sched.nprocs : 0; }

/* Moves pp's run queue to the global one (the world stopped: no thief). */
static void runq_to_global_locked(p *pp)
{
    g *gp;
    while ((gp = runqget(pp)) != NULL)
        globrunqput(gp);
}

/*
 * Parks allp[n .. gomaxprocs) out, or brings allp[gomaxprocs .. n) in
 * (Go's procresize), with the world stopped and every running p released
 * (sched.lock held). mp (NULL: not a goroutine) keeps a p: when its own is
 * parked out it takes allp[0], which every stopped p leaves free.
 */
static void procresize_locked(m *mp, int n)
{
    int old = atomic_load(&sched.gomaxprocs);
    for (int i = n; i < old; i++) {
        p *pp = sched.allp[i];
        /* Its lane stays "stopped", as the stop left it: parked time is
         * neither idle nor busy, and /cpu/classes counts it nowhere. */
        runq_to_global_locked(pp);
    }
    if (mp != NULL && mp->p != NULL && mp->p->id >= n) {
        releasep(mp);
        acquirep(mp, sched.allp[0]);
        atomic_store(&sched.allp[0]->stopped, true); /* until the restart */
    }
    atomic_store(&sched.gomaxprocs, n);
    metrics_procs_changed(n);
}

int gort_set_gomaxprocs(int n)
{
    if (!atomic_load(&sched.running))
        return 0;
    int old = atomic_load(&sched.gomaxprocs);
    if (n < 1)
        return old;
    if (n > sched.nprocs)
        n = sched.nprocs;
    if (n == old || !stop_the_world_as(WAIT_REASON_STOPPED, true))
        return old;
    m *mp = getm();
    lock(&sched.lock);
    old = atomic_load(&sched.gomaxprocs); /* another change may have come first */
    if (n != old)
        procresize_locked(mp, n);
    unlock(&sched.lock);
    start_the_world();
    return old;
}

void gort_read_sched_stats(gort_sched_stats *st)
{
    st->goroutines_created = atomic_load(&sched.goroutines_created) +
                             (uint64_t)ps_count_sum(offsetof(struct p, goroutines_created));
    st->stw_count = atomic_load(&sched.stw_count);
    st->stw_max_ns = atomic_load(&sched.stw_max_ns);
    st->stw_total_ns = atomic_load(&sched.stw_total_ns);
    st->steals = atomic_load(&sched.steals);
    st->migrations = atomic_load(&sched.migrations);
}
