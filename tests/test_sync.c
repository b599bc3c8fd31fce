/*
 * test_sync.c — tests of the sync types (include/gort/sync.h) and of the
 * runtime semaphore under them (src/sema.c), run inside the scheduler with
 * several Ps: a mutex hammered by 64 goroutines with yields inside the
 * critical section; starvation mode entered and left, step by step; a
 * holder that relocks at once cannot starve a waiter; RWMutex readers
 * together, writers alone, a pending writer keeping new readers out;
 * 100,000 goroutines on one WaitGroup, and its reuse; Once under 1,000
 * callers; misuse codes; plain pthreads and goroutines sharing a mutex and
 * WaitGroups; the semaphore's per-address FIFO queues and hand-off.
 *
 * Every wait for something another goroutine does polls with a deadline
 * (AWAIT), so that a broken type fails its test instead of hanging it. The
 * objects' internal words are read only with atomic loads.
 */
#define _GNU_SOURCE
#include <gort/gort.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "runtime2.h"
#include "sema.h"
#include "testing.h"
#include "testing_rt.h"


static int32_t mutex_state(gort_mutex *m) { return __atomic_load_n(&m->state, __ATOMIC_SEQ_CST); }
static uint32_t sema_value(uint32_t *s) { return __atomic_load_n(s, __ATOMIC_SEQ_CST); }
static int32_t load_i32(int32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static uint64_t wg_state(gort_waitgroup *wg) { return __atomic_load_n(&wg->state, __ATOMIC_SEQ_CST); }

/* The mutex state bits, as sync.c lays them out (Go's). */
#define MUTEX_LOCKED 1
#define MUTEX_WOKEN 2
#define MUTEX_STARVING 4
#define MUTEX_WAITERS(s) ((s) >> 3)

/* The P the calling goroutine runs on (read afresh: it may change at every
 * park or yield). */
static int current_p(void)
{
    m *mp = getm();
    return mp != NULL && mp->p != NULL ? mp->p->id : -1;
}

static void record_p(atomic_uint *mask)
{
    int id = current_p();
    if (id >= 0 && id < 32)
        atomic_fetch_or(mask, 1u << id);
}


/* ---- Mutex under contention ---- */

enum {
    CONTEND_PROCS = 4,
    CONTEND_GOROUTINES = 64,
    CONTEND_ITERS = 10000,
};

static struct {
    gort_mutex mu;
    long counter; /* plain: guarded by mu */
    int inside;   /* plain: guarded by mu; 1 while someone is inside */
    atomic_int violations;
    atomic_int unlock_errors;
    atomic_int max_waiters;
    atomic_uint ps_seen;
    atomic_int finished;
} contend;

static void contend_worker(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 0x9e3779b9u + 17;
    for (int i = 0; i < CONTEND_ITERS; i++) {
        gort_mutex_lock(&contend.mu);
        if (contend.inside++ != 0)
            atomic_fetch_add(&contend.violations, 1);
        contend.counter++;
        if (testing_rand(&seed) % 64 == 0) {
            /* Yield while holding the lock: everybody else piles up. */
            int w = MUTEX_WAITERS(mutex_state(&contend.mu));
            int max = atomic_load(&contend.max_waiters);
            while (w > max && !atomic_compare_exchange_weak(&contend.max_waiters, &max, w))
                ;
            record_p(&contend.ps_seen);
            gort_yield();
        }
        contend.inside--;
        if (gort_mutex_unlock(&contend.mu) != GORT_OK)
            atomic_fetch_add(&contend.unlock_errors, 1);
    }
    record_p(&contend.ps_seen);
    atomic_fetch_add(&contend.finished, 1);
}

static void contend_main(void *arg)
{
    (void)arg;
    for (intptr_t i = 0; i < CONTEND_GOROUTINES; i++)
        REQUIRE(gort_go(contend_worker, (void *)i) == GORT_OK);
    if (!AWAIT(atomic_load(&contend.finished) == CONTEND_GOROUTINES))
        return;
    gort_mutex_lock(&contend.mu); /* orders the plain reads below */
    CHECK_EQ(contend.counter, (long)CONTEND_GOROUTINES * CONTEND_ITERS);
    CHECK_EQ(contend.inside, 0);
    CHECK_EQ(gort_mutex_unlock(&contend.mu), GORT_OK);
}

TEST(sync_mutex_contention_exact_count)
{
    memset(&contend, 0, sizeof contend);
    int64_t start = gort_nanotime();
    run_main(CONTEND_PROCS, contend_main, NULL);
    int64_t ms = (gort_nanotime() - start) / 1000000;
    CHECK_EQ(atomic_load(&contend.violations), 0);
    CHECK_EQ(atomic_load(&contend.unlock_errors), 0);
    /* Nobody holds or waits for it, and no ticket was lost or left over. */
    CHECK_EQ(mutex_state(&contend.mu), 0);
    CHECK_EQ(sema_value(&contend.mu.sema), 0);
    /* The test did make goroutines sleep on the mutex, on several Ps. */
    CHECK(atomic_load(&contend.max_waiters) > 0);
    CHECK(__builtin_popcount(atomic_load(&contend.ps_seen)) >= 2);
    printf("    %d goroutines x %d locks in %lld ms, at most %d asleep, Ps used mask 0x%x\n",
           CONTEND_GOROUTINES, CONTEND_ITERS, (long long)ms, atomic_load(&contend.max_waiters),
           atomic_load(&contend.ps_seen));
}

/* ---- Mutex starvation mode, step by step ---- */

static struct {
    gort_mutex mu;
    atomic_int order;       /* who got the lock: 1 first, 2 second */
    atomic_int w_got, x_got; /* order at which W and X got the lock */
    atomic_int w_saw_starving, x_saw_starving;
    atomic_int done;
} starve;

/* W: the waiter that will starve. */
static void starve_w(void *arg)
{
    (void)arg;
    gort_mutex_lock(&starve.mu);
    atomic_store(&starve.w_got, atomic_fetch_add(&starve.order, 1) + 1);
    atomic_store(&starve.w_saw_starving, (mutex_state(&starve.mu) & MUTEX_STARVING) != 0);
    CHECK_EQ(gort_mutex_unlock(&starve.mu), GORT_OK);
    atomic_fetch_add(&starve.done, 1);
}

/* X: a newcomer arriving while the mutex is starving. */
static void starve_x(void *arg)
{
    (void)arg;
    gort_mutex_lock(&starve.mu);
    atomic_store(&starve.x_got, atomic_fetch_add(&starve.order, 1) + 1);
    atomic_store(&starve.x_saw_starving, (mutex_state(&starve.mu) & MUTEX_STARVING) != 0);
    CHECK_EQ(gort_mutex_unlock(&starve.mu), GORT_OK);
    atomic_fetch_add(&starve.done, 1);
}

static void starve_main(void *arg)
{
    bool *scenario_ran = arg;
    gort_mutex *mu = &starve.mu;
    for (int attempt = 0; attempt < 10; attempt++) {
        memset(&starve, 0, sizeof starve);
        gort_mutex_lock(mu);
        REQUIRE(gort_go(starve_w, NULL) == GORT_OK);
        /* W sleeps on the mutex (in the semaphore's queue: its wait has
         * begun; the state counts it a moment before)... */
        if (!AWAIT(MUTEX_WAITERS(mutex_state(mu)) == 1 && sema_waiters(&mu->sema) == 1))
            return;
        /* ...for longer than the 1 ms threshold, while we hold it. */
        gort_sleep(3 * 1000000);
        CHECK_EQ(mutex_state(mu) & MUTEX_STARVING, 0); /* W has not woken */
        /* Normal mode: unlock wakes W, but we (running) barge in first. */
        CHECK_EQ(gort_mutex_unlock(mu), GORT_OK);
        gort_mutex_lock(mu);
        if (atomic_load(&starve.w_got) != 0) {
            /* Another P stole W and it got the lock before us: the
             * scenario did not happen; try again. */
            CHECK_EQ(gort_mutex_unlock(mu), GORT_OK);
            if (!AWAIT(atomic_load(&starve.done) == 1))
                return;
            continue;
        }
        /* W wakes, finds the mutex taken after waiting > 1 ms: it switches
         * the mutex to starvation mode and queues again, at the front (the
         * state counts W before W is back in the semaphore's queue). */
        if (!AWAIT(MUTEX_WAITERS(mutex_state(mu)) == 1 && sema_waiters(&mu->sema) == 1))
            return;
        if ((mutex_state(mu) & MUTEX_STARVING) == 0) {
            /* W's wait measured under the threshold (a loaded machine ran
             * it late): it queued again in normal mode. Try again. */
            CHECK_EQ(gort_mutex_unlock(mu), GORT_OK);
            if (!AWAIT(atomic_load(&starve.done) == 1))
                return;
            continue;
        }
        CHECK(mutex_state(mu) & MUTEX_LOCKED);
        /* In starvation mode newcomers queue behind; nobody may barge. */
        REQUIRE(gort_go(starve_x, NULL) == GORT_OK);
        if (!AWAIT(MUTEX_WAITERS(mutex_state(mu)) == 2 && sema_waiters(&mu->sema) == 2))
            return;
        /* Unlock hands the mutex to W (the oldest waiter); W stays in
         * starvation mode (it starved and X waits), then hands it to X,
         * the last waiter, which ends starvation mode. */
        CHECK_EQ(gort_mutex_unlock(mu), GORT_OK);
        if (!AWAIT(atomic_load(&starve.done) == 2))
            return;
        CHECK_EQ(atomic_load(&starve.w_got), 1);
        CHECK_EQ(atomic_load(&starve.x_got), 2);
        CHECK_EQ(atomic_load(&starve.w_saw_starving), 1);
        CHECK_EQ(atomic_load(&starve.x_saw_starving), 0);
        /* Left starvation mode: unlocked, no waiters, no tickets. */
        CHECK_EQ(mutex_state(mu), 0);
        CHECK_EQ(sema_value(&mu->sema), 0);
        *scenario_ran = true;
        return;
    }
}

TEST(sync_mutex_starvation_mode_entered_and_left)
{
    bool scenario_ran = false;
    run_main(2, starve_main, &scenario_ran);
    CHECK(scenario_ran);
}

/* ---- Mutex fairness: a holder relocking at once cannot starve a waiter ---- */

static struct {
    gort_mutex mu;
    atomic_int stop;
    atomic_int holder_rounds;
    atomic_int holder_done;
    int64_t waiter_ns;
    int rounds_meanwhile; /* holder rounds during the waiter's 10 locks */
} fair;

static void fair_holder(void *arg)
{
    (void)arg;
    /* Gives up if the waiter never gets in, so that a broken mutex fails
     * the test instead of hanging it. */
    int64_t give_up = gort_nanotime() + 20 * (int64_t)1000000000;
    while (!atomic_load(&fair.stop) && gort_nanotime() < give_up) {
        gort_mutex_lock(&fair.mu);
        gort_sleep(100 * 1000); /* 100 us inside */
        CHECK_EQ(gort_mutex_unlock(&fair.mu), GORT_OK);
        atomic_fetch_add(&fair.holder_rounds, 1);
    }
    atomic_store(&fair.holder_done, 1);
}

static void fair_main(void *arg)
{
    (void)arg;
    REQUIRE(gort_go(fair_holder, NULL) == GORT_OK);
    if (!AWAIT(atomic_load(&fair.holder_rounds) > 0))
        return;
    int64_t start = gort_nanotime();
    int rounds_before = atomic_load(&fair.holder_rounds);
    for (int i = 0; i < 10; i++) {
        gort_mutex_lock(&fair.mu);
        gort_sleep(100 * 1000);
        CHECK_EQ(gort_mutex_unlock(&fair.mu), GORT_OK);
    }
    fair.rounds_meanwhile = atomic_load(&fair.holder_rounds) - rounds_before;
    fair.waiter_ns = gort_nanotime() - start;
    atomic_store(&fair.stop, 1);
    AWAIT(atomic_load(&fair.holder_done));
}

TEST(sync_mutex_fairness)
{
    memset(&fair, 0, sizeof fair);
    run_main(2, fair_main, NULL);
    /* Go's TestMutexFairness allows 10 s. Starvation mode bounds each of
     * the waiter's locks to a wait of ~1 ms plus one hand-off: with holder
     * rounds of >= 100 us, about a dozen rounds. Without it the waiter
     * gets in only by luck, after hundreds or thousands of rounds. */
    CHECK(fair.waiter_ns < 5 * (int64_t)1000000000);
    CHECK(fair.rounds_meanwhile <= 150);
    CHECK_EQ(mutex_state(&fair.mu), 0);
    printf("    10 locks against a relocking holder: %lld ms, %d holder rounds meanwhile\n",
           (long long)(fair.waiter_ns / 1000000), fair.rounds_meanwhile);
}

/* ---- RWMutex ---- */

static struct {
    gort_rwmutex rw;
    atomic_int readers_inside, writers_inside;
    atomic_int max_readers;
    atomic_int violations;
    atomic_int order;
    atomic_int w_order, r2_order;
    atomic_int w_saw_readers;
    atomic_int flag;
    atomic_int finished;
    long shared; /* plain: written by writers, read by readers */
    atomic_long reads_done;
} rws;

static void rw_note_reader_in(void)
{
    int r = atomic_fetch_add(&rws.readers_inside, 1) + 1;
    int max = atomic_load(&rws.max_readers);
    while (r > max && !atomic_compare_exchange_weak(&rws.max_readers, &max, r))
        ;
    if (atomic_load(&rws.writers_inside) != 0)
        atomic_fetch_add(&rws.violations, 1);
}

/* Phase A: a second reader enters while the first is inside. */
static void rw_second_reader(void *arg)
{
    (void)arg;
    gort_rwmutex_rlock(&rws.rw);
    rw_note_reader_in();
    atomic_store(&rws.flag, 1);
    AWAIT(atomic_load(&rws.flag) == 2); /* the first reader is still in */
    atomic_fetch_sub(&rws.readers_inside, 1);
    CHECK_EQ(gort_rwmutex_runlock(&rws.rw), GORT_OK);
    atomic_fetch_add(&rws.finished, 1);
}

/* Phase B: a writer that must wait for the reader inside. */
static void rw_pending_writer(void *arg)
{
    (void)arg;
    gort_rwmutex_lock(&rws.rw);
    atomic_store(&rws.w_order, atomic_fetch_add(&rws.order, 1) + 1);
    atomic_store(&rws.w_saw_readers, atomic_load(&rws.readers_inside));
    gort_sleep(1000000); /* the reader behind stays out meanwhile */
    CHECK_EQ(gort_rwmutex_unlock(&rws.rw), GORT_OK);
    atomic_fetch_add(&rws.finished, 1);
}

/* Phase B: a reader arriving after the writer: it must wait for it. */
static void rw_late_reader(void *arg)
{
    (void)arg;
    gort_rwmutex_rlock(&rws.rw);
    atomic_store(&rws.r2_order, atomic_fetch_add(&rws.order, 1) + 1);
    CHECK_EQ(gort_rwmutex_runlock(&rws.rw), GORT_OK);
    atomic_fetch_add(&rws.finished, 1);
}

enum {
    RW_READERS = 32,
    RW_READ_ITERS = 2000,
    RW_WRITERS = 4,
    RW_WRITE_ITERS = 500,
};

static void rw_stress_reader(void *arg)
{
    uint64_t seed = (uintptr_t)arg + 1;
    for (int i = 0; i < RW_READ_ITERS; i++) {
        if (i % 16 == 0 && gort_rwmutex_tryrlock(&rws.rw)) {
            /* fine: got it without waiting */
        } else if (i % 16 == 0) {
            continue; /* a writer holds or waits: skip this round */
        } else {
            gort_rwmutex_rlock(&rws.rw);
        }
        rw_note_reader_in();
        long seen = rws.shared; /* a plain read: the lock orders it */
        if (testing_rand(&seed) % 8 == 0)
            gort_yield();
        if (rws.shared != seen)
            atomic_fetch_add(&rws.violations, 1);
        atomic_fetch_sub(&rws.readers_inside, 1);
        if (gort_rwmutex_runlock(&rws.rw) != GORT_OK)
            atomic_fetch_add(&rws.violations, 1);
        atomic_fetch_add(&rws.reads_done, 1);
    }
    atomic_fetch_add(&rws.finished, 1);
}

static void rw_stress_writer(void *arg)
{
    uint64_t seed = (uintptr_t)arg + 1000;
    for (int i = 0; i < RW_WRITE_ITERS; i++) {
        if (i % 8 != 0 || !gort_rwmutex_trylock(&rws.rw))
            gort_rwmutex_lock(&rws.rw);
        if (atomic_fetch_add(&rws.writers_inside, 1) != 0 || atomic_load(&rws.readers_inside) != 0)
            atomic_fetch_add(&rws.violations, 1);
        rws.shared++;
        if (testing_rand(&seed) % 4 == 0)
            gort_yield();
        if (atomic_load(&rws.readers_inside) != 0)
            atomic_fetch_add(&rws.violations, 1);
        atomic_fetch_sub(&rws.writers_inside, 1);
        if (gort_rwmutex_unlock(&rws.rw) != GORT_OK)
            atomic_fetch_add(&rws.violations, 1);
    }
    atomic_fetch_add(&rws.finished, 1);
}

static void rw_main(void *arg)
{
    (void)arg;
    gort_rwmutex *rw = &rws.rw;

    /* A: two readers inside at once. */
    gort_rwmutex_rlock(rw);
    rw_note_reader_in();
    REQUIRE(gort_go(rw_second_reader, NULL) == GORT_OK);
    if (!AWAIT(atomic_load(&rws.flag) == 1))
        return;
    CHECK_EQ(atomic_load(&rws.readers_inside), 2);
    CHECK(!gort_rwmutex_trylock(rw)); /* readers inside: no writer */
    CHECK(gort_rwmutex_tryrlock(rw)); /* a third reader is welcome */
    CHECK_EQ(gort_rwmutex_runlock(rw), GORT_OK);
    atomic_store(&rws.flag, 2);
    if (!AWAIT(atomic_load(&rws.finished) == 1))
        return;
    atomic_fetch_sub(&rws.readers_inside, 1);
    CHECK_EQ(gort_rwmutex_runlock(rw), GORT_OK);
    CHECK_EQ(load_i32(&rw->reader_count), 0);

    /* B: a writer waits for the reader inside, and a reader that comes
     * after the writer waits for the writer. */
    gort_rwmutex_rlock(rw);
    rw_note_reader_in();
    REQUIRE(gort_go(rw_pending_writer, NULL) == GORT_OK);
    if (!AWAIT(load_i32(&rw->reader_count) < 0)) /* the writer is pending */
        return;
    CHECK(!gort_rwmutex_tryrlock(rw)); /* pending writer: new readers wait */
    CHECK(!gort_rwmutex_trylock(rw));
    REQUIRE(gort_go(rw_late_reader, NULL) == GORT_OK);
    if (!AWAIT(load_i32(&rw->reader_count) == -GORT_RWMUTEX_MAX_READERS + 2))
        return; /* us and the late reader, asleep */
    gort_sleep(1000000);
    CHECK_EQ(atomic_load(&rws.order), 0); /* neither got in while we read */
    atomic_fetch_sub(&rws.readers_inside, 1);
    CHECK_EQ(gort_rwmutex_runlock(rw), GORT_OK); /* the writer goes in */
    if (!AWAIT(atomic_load(&rws.finished) == 3))
        return;
    CHECK_EQ(atomic_load(&rws.w_order), 1);
    CHECK_EQ(atomic_load(&rws.r2_order), 2);
    CHECK_EQ(atomic_load(&rws.w_saw_readers), 0);
    CHECK_EQ(load_i32(&rw->reader_count), 0);
    CHECK_EQ(load_i32(&rw->reader_wait), 0);
    CHECK_EQ(mutex_state(&rw->w), 0);

    /* C: many readers and writers on every P. */
    atomic_store(&rws.finished, 0);
    atomic_store(&rws.max_readers, 0);
    for (intptr_t i = 0; i < RW_WRITERS; i++)
        REQUIRE(gort_go(rw_stress_writer, (void *)i) == GORT_OK);
    for (intptr_t i = 0; i < RW_READERS; i++)
        REQUIRE(gort_go(rw_stress_reader, (void *)i) == GORT_OK);
    if (!AWAIT(atomic_load(&rws.finished) == RW_READERS + RW_WRITERS))
        return;
    gort_rwmutex_lock(rw);
    CHECK_EQ(rws.shared, (long)RW_WRITERS * RW_WRITE_ITERS);
    CHECK_EQ(gort_rwmutex_unlock(rw), GORT_OK);
}

TEST(sync_rwmutex_readers_share_writers_exclude)
{
    memset(&rws, 0, sizeof rws);
    int64_t start = gort_nanotime();
    run_main(4, rw_main, NULL);
    CHECK_EQ(atomic_load(&rws.violations), 0);
    CHECK_EQ(atomic_load(&rws.readers_inside), 0);
    CHECK_EQ(atomic_load(&rws.writers_inside), 0);
    CHECK(atomic_load(&rws.reads_done) > 0);
    CHECK(atomic_load(&rws.reads_done) <= (long)RW_READERS * RW_READ_ITERS);
    CHECK_EQ(load_i32(&rws.rw.reader_count), 0);
    CHECK_EQ(load_i32(&rws.rw.reader_wait), 0);
    CHECK_EQ(sema_value(&rws.rw.reader_sem), 0);
    CHECK_EQ(sema_value(&rws.rw.writer_sem), 0);
    printf("    %ld reads, %ld writes, at most %d readers inside at once, %lld ms\n",
           atomic_load(&rws.reads_done), rws.shared, atomic_load(&rws.max_readers),
           (long long)((gort_nanotime() - start) / 1000000));
}

/* ---- WaitGroup: 100,000 goroutines, then reuse ---- */

enum {
    /* All alive at once (under TSan, which allows ~8,000 fibers, fewer). */
    WG_GOROUTINES = TESTING_SCALE(100000),
    WG_ROUND2 = 1000,
    WG_ROUND2_WAITERS = 10,
};

static struct {
    gort_waitgroup wg;    /* the group under test */
    gort_waitgroup start; /* a gate every goroutine of round one waits at */
    atomic_long done;
    atomic_int waiters_ok, waiters_early;
    atomic_int errors;
    atomic_int opener_done;
} wgt;

static void wg_worker(void *arg)
{
    (void)arg;
    gort_waitgroup_wait(&wgt.start);
    atomic_fetch_add(&wgt.done, 1);
    if (gort_waitgroup_done(&wgt.wg) != GORT_OK)
        atomic_fetch_add(&wgt.errors, 1);
}

/* Opens the gate once the main goroutine waits on wg and every worker
 * waits at the gate: none can have called Done yet, so a Wait that
 * returned before all of them did would be caught. */
static void wg_opener(void *arg)
{
    (void)arg;
    if (AWAIT((uint32_t)wg_state(&wgt.wg) == 1 &&
              (uint32_t)wg_state(&wgt.start) == WG_GOROUTINES))
        CHECK_EQ(atomic_load(&wgt.done), 0);
    CHECK_EQ(gort_waitgroup_done(&wgt.start), GORT_OK);
    atomic_store(&wgt.opener_done, 1);
}

static void wg_round2_worker(void *arg)
{
    (void)arg;
    gort_sleep(100000);
    atomic_fetch_add(&wgt.done, 1);
    if (gort_waitgroup_done(&wgt.wg) != GORT_OK)
        atomic_fetch_add(&wgt.errors, 1);
}

static void wg_round2_waiter(void *arg)
{
    (void)arg;
    gort_waitgroup_wait(&wgt.wg);
    if (atomic_load(&wgt.done) == WG_GOROUTINES + WG_ROUND2)
        atomic_fetch_add(&wgt.waiters_ok, 1);
    else
        atomic_fetch_add(&wgt.waiters_early, 1);
}

static void wg_main(void *arg)
{
    (void)arg;
    REQUIRE(gort_waitgroup_add(&wgt.start, 1) == GORT_OK);
    REQUIRE(gort_waitgroup_add(&wgt.wg, WG_GOROUTINES) == GORT_OK);
    for (int i = 0; i < WG_GOROUTINES; i++)
        REQUIRE(gort_go_stack(wg_worker, NULL, GORT_MIN_STACK_SIZE) == GORT_OK);
    REQUIRE(gort_go(wg_opener, NULL) == GORT_OK);
    gort_waitgroup_wait(&wgt.wg);
    CHECK_EQ(atomic_load(&wgt.done), WG_GOROUTINES);
    CHECK_EQ(wg_state(&wgt.wg), 0);
    AWAIT(atomic_load(&wgt.opener_done));
    CHECK_EQ(wg_state(&wgt.start), 0);

    /* Round two on the same group, with several waiters. */
    REQUIRE(gort_waitgroup_add(&wgt.wg, WG_ROUND2) == GORT_OK);
    for (int i = 0; i < WG_ROUND2_WAITERS; i++)
        REQUIRE(gort_go(wg_round2_waiter, NULL) == GORT_OK);
    for (int i = 0; i < WG_ROUND2; i++)
        REQUIRE(gort_go(wg_round2_worker, NULL) == GORT_OK);
    gort_waitgroup_wait(&wgt.wg);
    CHECK_EQ(atomic_load(&wgt.done), WG_GOROUTINES + WG_ROUND2);
    AWAIT(atomic_load(&wgt.waiters_ok) + atomic_load(&wgt.waiters_early) == WG_ROUND2_WAITERS);
    CHECK_EQ(atomic_load(&wgt.waiters_ok), WG_ROUND2_WAITERS);
    CHECK_EQ(wg_state(&wgt.wg), 0);
    /* Round three: an empty group does not wait at all. */
    gort_waitgroup_wait(&wgt.wg);
}

TEST(sync_waitgroup_hundred_thousand_and_reuse)
{
    memset(&wgt, 0, sizeof wgt);
    int64_t start = gort_nanotime();
    run_main(2, wg_main, NULL);
    CHECK_EQ(atomic_load(&wgt.done), WG_GOROUTINES + WG_ROUND2);
    CHECK_EQ(atomic_load(&wgt.waiters_early), 0);
    CHECK_EQ(atomic_load(&wgt.errors), 0);
    CHECK_EQ(sema_value(&wgt.wg.sema), 0);
    CHECK_EQ(sema_value(&wgt.start.sema), 0);
    printf("    %d goroutines at a gate, then through one WaitGroup: %lld ms\n", WG_GOROUTINES,
           (long long)((gort_nanotime() - start) / 1000000));
}

/* ---- Once ---- */

enum { ONCE_CALLERS = 1000 };

static struct {
    gort_once once;
    atomic_int runs;
    atomic_int fn_finished;
    atomic_int returned, returned_early;
    int payload; /* plain: written by fn, read by every caller */
} oncet;

static void once_fn(void *arg)
{
    atomic_fetch_add(&oncet.runs, 1);
    gort_sleep(2000000); /* callers pile up meanwhile */
    oncet.payload = *(int *)arg;
    atomic_store(&oncet.fn_finished, 1);
}

static void once_caller(void *arg)
{
    static int value = 42;
    (void)arg;
    gort_once_do(&oncet.once, once_fn, &value);
    if (!atomic_load(&oncet.fn_finished) || oncet.payload != 42)
        atomic_fetch_add(&oncet.returned_early, 1);
    atomic_fetch_add(&oncet.returned, 1);
}

static void *once_thread(void *arg)
{
    once_caller(arg);
    return NULL;
}

static void once_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < ONCE_CALLERS; i++)
        REQUIRE(gort_go(once_caller, NULL) == GORT_OK);
    if (!AWAIT(atomic_load(&oncet.returned) == ONCE_CALLERS))
        return;
    /* Later callers, a goroutine and a plain thread, do not run it again. */
    once_caller(NULL);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, once_thread, NULL) == 0);
    pthread_join(t, NULL);
}

TEST(sync_once_runs_exactly_once)
{
    memset(&oncet, 0, sizeof oncet);
    CHECK(!gort_once_done(&oncet.once));
    run_main(2, once_main, NULL);
    CHECK_EQ(atomic_load(&oncet.runs), 1);
    CHECK_EQ(atomic_load(&oncet.returned), ONCE_CALLERS + 2);
    CHECK_EQ(atomic_load(&oncet.returned_early), 0);
    CHECK(gort_once_done(&oncet.once));
    CHECK_EQ(mutex_state(&oncet.once.m), 0);
}

/* ---- misuse ---- */

static void misuse_main(void *arg)
{
    (void)arg;
    /* Mutex: unlock of an unlocked mutex. */
    gort_mutex mu = GORT_MUTEX_INIT;
    CHECK_EQ(gort_mutex_unlock(&mu), GORT_EUNLOCK);
    CHECK_EQ(mutex_state(&mu), 0);
    gort_mutex_lock(&mu);
    CHECK(!gort_mutex_trylock(&mu));
    CHECK_EQ(gort_mutex_unlock(&mu), GORT_OK);
    CHECK_EQ(gort_mutex_unlock(&mu), GORT_EUNLOCK);
    CHECK(gort_mutex_trylock(&mu));
    CHECK_EQ(gort_mutex_unlock(&mu), GORT_OK);
    CHECK_EQ(mutex_state(&mu), 0);
    CHECK_EQ(sema_value(&mu.sema), 0);

    /* RWMutex: runlock and unlock of an unlocked one, and of the wrong
     * kind of lock. */
    gort_rwmutex rw = GORT_RWMUTEX_INIT;
    CHECK_EQ(gort_rwmutex_runlock(&rw), GORT_ERUNLOCK);
    CHECK_EQ(gort_rwmutex_unlock(&rw), GORT_ERUNLOCK);
    gort_rwmutex_rlock(&rw);
    CHECK_EQ(gort_rwmutex_unlock(&rw), GORT_ERUNLOCK); /* read-locked only */
    CHECK_EQ(gort_rwmutex_runlock(&rw), GORT_OK);
    CHECK_EQ(gort_rwmutex_runlock(&rw), GORT_ERUNLOCK);
    gort_rwmutex_lock(&rw);
    CHECK_EQ(gort_rwmutex_runlock(&rw), GORT_ERUNLOCK); /* write-locked only */
    CHECK(!gort_rwmutex_tryrlock(&rw));
    CHECK_EQ(gort_rwmutex_unlock(&rw), GORT_OK);
    CHECK_EQ(gort_rwmutex_unlock(&rw), GORT_ERUNLOCK);
    /* Still usable. */
    CHECK(gort_rwmutex_tryrlock(&rw));
    CHECK_EQ(gort_rwmutex_runlock(&rw), GORT_OK);
    CHECK(gort_rwmutex_trylock(&rw));
    CHECK_EQ(gort_rwmutex_unlock(&rw), GORT_OK);
    CHECK_EQ(load_i32(&rw.reader_count), 0);
    CHECK_EQ(load_i32(&rw.reader_wait), 0);
    CHECK_EQ(mutex_state(&rw.w), 0);

    /* WaitGroup: the counter never goes negative (nor overflows). */
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    CHECK_EQ(gort_waitgroup_done(&wg), GORT_ENEGATIVE);
    CHECK_EQ(wg_state(&wg), 0);
    gort_waitgroup_wait(&wg); /* zero: returns at once */
    CHECK_EQ(gort_waitgroup_add(&wg, 2), GORT_OK);
    CHECK_EQ(gort_waitgroup_add(&wg, -3), GORT_ENEGATIVE);
    CHECK_EQ(wg_state(&wg) >> 32, 2);
    CHECK_EQ(gort_waitgroup_done(&wg), GORT_OK);
    CHECK_EQ(gort_waitgroup_done(&wg), GORT_OK);
    CHECK_EQ(gort_waitgroup_done(&wg), GORT_ENEGATIVE);
    gort_waitgroup_wait(&wg);
    CHECK_EQ(gort_waitgroup_add(&wg, INT32_MAX), GORT_OK);
    CHECK_EQ(gort_waitgroup_add(&wg, 1), GORT_ENEGATIVE);
    CHECK_EQ(wg_state(&wg) >> 32, INT32_MAX);
    CHECK_EQ(gort_waitgroup_add(&wg, -INT32_MAX), GORT_OK);
    CHECK_EQ(wg_state(&wg), 0);
    gort_waitgroup_wait(&wg);
}

TEST(sync_misuse_returns_codes_and_stays_usable)
{
    run_main(2, misuse_main, NULL);
    CHECK(strcmp(gort_strerror(GORT_EUNLOCK), "sync: unlock of unlocked mutex") == 0);
    CHECK(strcmp(gort_strerror(GORT_ENEGATIVE), "sync: negative WaitGroup counter") == 0);
    /* And from a plain thread, with no runtime at all (nothing blocks). */
    gort_mutex mu = GORT_MUTEX_INIT;
    CHECK_EQ(gort_mutex_unlock(&mu), GORT_EUNLOCK);
    gort_mutex_lock(&mu);
    CHECK_EQ(gort_mutex_unlock(&mu), GORT_OK);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    CHECK_EQ(gort_waitgroup_add(&wg, -1), GORT_ENEGATIVE);
}

/* ---- plain threads and goroutines together ---- */

enum {
    MIX_THREADS = 2,
    MIX_THREAD_ITERS = 20000,
    MIX_GOROUTINES = 16,
    MIX_GOROUTINE_ITERS = 5000,
};

static struct {
    gort_mutex mu;
    long counter; /* plain: guarded by mu */
    int inside;
    atomic_int violations;
    gort_waitgroup all;    /* threads and goroutines: Done when finished */
    gort_waitgroup phase2; /* goroutines Done; a plain thread waits */
    atomic_int thread_waited_ok;
    atomic_int thread_contended; /* times a thread found the mutex taken */
    atomic_int keeper_stop;
} mix;

static void mix_critical(uint64_t *seed, bool may_yield)
{
    gort_mutex_lock(&mix.mu);
    if (mix.inside++ != 0)
        atomic_fetch_add(&mix.violations, 1);
    mix.counter++;
    if (may_yield && testing_rand(seed) % 32 == 0)
        gort_yield();
    mix.inside--;
    if (gort_mutex_unlock(&mix.mu) != GORT_OK)
        atomic_fetch_add(&mix.violations, 1);
}

static void *mix_locker_thread(void *arg)
{
    uint64_t seed = (uintptr_t)arg + 99;
    for (int i = 0; i < MIX_THREAD_ITERS; i++) {
        if ((mutex_state(&mix.mu) & MUTEX_LOCKED) != 0)
            atomic_fetch_add(&mix.thread_contended, 1);
        mix_critical(&seed, false);
    }
    CHECK_EQ(gort_waitgroup_done(&mix.all), GORT_OK);
    return NULL;
}

static void *mix_waiter_thread(void *arg)
{
    (void)arg;
    gort_waitgroup_wait(&mix.phase2); /* a thread waits for goroutines */
    atomic_store(&mix.thread_waited_ok, 1);
    CHECK_EQ(gort_waitgroup_done(&mix.all), GORT_OK);
    return NULL;
}

static void mix_goroutine(void *arg)
{
    uint64_t seed = (uintptr_t)arg + 7;
    for (int i = 0; i < MIX_GOROUTINE_ITERS; i++)
        mix_critical(&seed, true); /* yields inside: threads must sleep */
    CHECK_EQ(gort_waitgroup_done(&mix.phase2), GORT_OK);
    CHECK_EQ(gort_waitgroup_done(&mix.all), GORT_OK);
}

/* The scheduler's deadlock check sees goroutines, timers and threads
 * blocked in the runtime, but not a plain thread that is running: when every
 * goroutine waits for the locker threads (main on `all`, the others on the
 * mutex) it would report a deadlock. A goroutine asleep on a timer keeps it
 * honest until the threads are done. */
static void mix_keeper(void *arg)
{
    (void)arg;
    while (!atomic_load(&mix.keeper_stop))
        gort_sleep(1000000);
}

static void mix_main(void *arg)
{
    (void)arg;
    pthread_t lockers[MIX_THREADS], waiter;
    REQUIRE(gort_go(mix_keeper, NULL) == GORT_OK);
    REQUIRE(gort_waitgroup_add(&mix.all, MIX_THREADS + 1 + MIX_GOROUTINES) == GORT_OK);
    REQUIRE(gort_waitgroup_add(&mix.phase2, MIX_GOROUTINES) == GORT_OK);
    /* The threads start while we hold the mutex: both lockers go to sleep
     * on its semaphore as thread waiters, and the waiter thread on phase2,
     * before any goroutine could let them through. */
    gort_mutex_lock(&mix.mu);
    REQUIRE(pthread_create(&waiter, NULL, mix_waiter_thread, NULL) == 0);
    for (intptr_t i = 0; i < MIX_THREADS; i++)
        REQUIRE(pthread_create(&lockers[i], NULL, mix_locker_thread, (void *)i) == 0);
    bool asleep = AWAIT(sema_waiters(&mix.mu.sema) == MIX_THREADS &&
                        (uint32_t)wg_state(&mix.phase2) == 1);
    for (intptr_t i = 0; asleep && i < MIX_GOROUTINES; i++)
        REQUIRE(gort_go(mix_goroutine, (void *)i) == GORT_OK);
    CHECK_EQ(gort_mutex_unlock(&mix.mu), GORT_OK); /* wakes a thread */
    if (!asleep)
        return;
    gort_waitgroup_wait(&mix.all); /* parks: threads and goroutines Done it */
    atomic_store(&mix.keeper_stop, 1);
    CHECK_EQ(atomic_load(&mix.thread_waited_ok), 1);
    gort_mutex_lock(&mix.mu);
    CHECK_EQ(mix.counter,
             (long)MIX_THREADS * MIX_THREAD_ITERS + (long)MIX_GOROUTINES * MIX_GOROUTINE_ITERS);
    CHECK_EQ(gort_mutex_unlock(&mix.mu), GORT_OK);
    /* They are done already: these joins do not block the P for long. */
    for (int i = 0; i < MIX_THREADS; i++)
        pthread_join(lockers[i], NULL);
    pthread_join(waiter, NULL);
}

TEST(sync_mutex_and_waitgroup_shared_with_pthreads)
{
    memset(&mix, 0, sizeof mix);
    int64_t start = gort_nanotime();
    run_main(2, mix_main, NULL);
    CHECK_EQ(atomic_load(&mix.violations), 0);
    CHECK_EQ(mutex_state(&mix.mu), 0);
    CHECK_EQ(sema_value(&mix.mu.sema), 0);
    CHECK_EQ(wg_state(&mix.all), 0);
    CHECK_EQ(wg_state(&mix.phase2), 0);
    printf("    %d threads + %d goroutines on one mutex: %lld ms, threads met it locked %d times\n",
           MIX_THREADS, MIX_GOROUTINES, (long long)((gort_nanotime() - start) / 1000000),
           atomic_load(&mix.thread_contended));
}

/* ---- the semaphore: per-address FIFO queues, LIFO, hand-off ---- */

/* Two words that hash to the same root (sema.c: 251 roots by address/4),
 * plus one elsewhere. */
static uint32_t sema_words[300];
#define SEMA_A (&sema_words[0])
#define SEMA_B (&sema_words[251])

static struct {
    atomic_int order;
    atomic_int got[8];
} semt;

struct sema_waiter {
    uint32_t *addr;
    bool lifo;
    int id;
};

static void sema_waiter_fn(void *arg)
{
    struct sema_waiter *w = arg;
    semacquire(w->addr, w->lifo, WAIT_REASON_SEMACQUIRE);
    atomic_store(&semt.got[w->id], atomic_fetch_add(&semt.order, 1) + 1);
}

static void *sema_waiter_thread(void *arg)
{
    sema_waiter_fn(arg);
    return NULL;
}

static void sema_main(void *arg)
{
    (void)arg;
    static struct sema_waiter w[8];
    /* Queue: A gets 0, 1, then 2 (a plain thread), then 3 in front (lifo);
     * B gets 4. */
    for (int i = 0; i < 5; i++) {
        w[i] = (struct sema_waiter){i == 4 ? SEMA_B : SEMA_A, i == 3, i};
        if (i == 2) {
            pthread_t t;
            REQUIRE(pthread_create(&t, NULL, sema_waiter_thread, &w[i]) == 0);
            pthread_detach(t);
        } else {
            REQUIRE(gort_go(sema_waiter_fn, &w[i]) == GORT_OK);
        }
        uint32_t *addr = w[i].addr;
        int before = i == 4 ? 0 : i;
        if (!AWAIT(sema_waiters(addr) == before + 1))
            return;
    }
    /* Releasing B wakes only B's waiter, though A's share its root. */
    semrelease(SEMA_B, false);
    if (!AWAIT(atomic_load(&semt.got[4]) != 0))
        return;
    CHECK_EQ(sema_waiters(SEMA_A), 4);
    /* A wakes its waiters one at a time: 3 (lifo), then 0, 1, 2. */
    static const int expect[4] = {3, 0, 1, 2};
    for (int k = 0; k < 4; k++) {
        semrelease(SEMA_A, k % 2 == 1); /* hand-off every other time */
        if (!AWAIT(atomic_load(&semt.got[expect[k]]) != 0))
            return;
        CHECK_EQ(atomic_load(&semt.got[expect[k]]), k + 2);
        CHECK_EQ(sema_waiters(SEMA_A), 3 - k);
        CHECK_EQ(sema_value(SEMA_A), 0); /* each ticket went to its waiter */
    }
    /* A ticket with nobody waiting stays for the next acquirer. */
    semrelease(SEMA_A, true);
    CHECK_EQ(sema_value(SEMA_A), 1);
    semacquire(SEMA_A, false, WAIT_REASON_SEMACQUIRE);
    CHECK_EQ(sema_value(SEMA_A), 0);
}

TEST(sync_sema_fifo_per_address)
{
    memset(&semt, 0, sizeof semt);
    memset(sema_words, 0, sizeof sema_words);
    run_main(2, sema_main, NULL);
    CHECK_EQ(sema_waiters(SEMA_A), 0);
    CHECK_EQ(sema_waiters(SEMA_B), 0);
    CHECK_EQ(sema_value(SEMA_B), 0);
}
