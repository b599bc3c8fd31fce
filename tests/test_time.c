/*
 * test_time.c — tests of the runtime's timers (src/timer.h) and of sleeping
 * (gort_sleep, gort_nanotime).
 *
 * Without the scheduler: the heap against a reference model (10,000 timers
 * added, a third deleted, some modified, periodic ones, run with a rising
 * `now`: each fires exactly once per arming, never early, never late, in
 * order, and the deleted never); periodic timers catching up without a
 * burst; f adding, modifying and deleting timers from inside timers_run;
 * timer_del racing with a running f on another thread (a deleted timer never
 * fires afterwards). These call the timer functions with no runtime running,
 * when sched_timer_added does nothing.
 *
 * With the scheduler: sleepers wake in the order of their deadlines and
 * never early; 1,000 goroutines sleeping at random all finish; a runtime
 * whose goroutines all sleep uses little CPU; gort_sleep from threads that
 * are not goroutines.
 *
 * The clock: threads passing a turn read gort_nanotime, and no reading is
 * below the one before it on another thread (one clock for every thread).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#endif

#include "gort/proc.h"
#include "prim/prim.h"
#include "testing.h"
#include "timer.h"

#define MS ((int64_t)1000000)

/* ---- the heap against a reference model ---- */

enum { HEAP_TIMERS = 10000, HEAP_PERIODIC = 40 };

struct heap_rec {
    timer t;
    int64_t due;      /* reference: when it must fire next */
    int64_t period;   /* reference: 0 for one-shot */
    bool pending;     /* reference: in the heap */
    bool deleted;
    int fired;
};

static struct {
    struct heap_rec recs[HEAP_TIMERS];
    int64_t now;       /* the `now` of the timers_run in progress */
    int64_t prev_now;  /* the `now` of the previous timers_run */
    int64_t last_due;  /* the due of the last timer fired */
    long fires;
    long bad_early, bad_late, bad_order, bad_deleted, bad_seq, bad_index;
} H;

static void heap_fire(void *arg, uintptr_t seq)
{
    struct heap_rec *r = arg;
    if (seq != (uintptr_t)(r - H.recs))
        H.bad_seq++;
    if (!r->pending || r->deleted)
        H.bad_deleted++;
    if (r->due > H.now)
        H.bad_early++;
    if (r->due <= H.prev_now)
        H.bad_late++;
    if (r->due < H.last_due)
        H.bad_order++;
    /* Out of the heap while f runs, unless periodic (already re-armed). */
    if ((r->t.heap_index == -1) != (r->period == 0))
        H.bad_index++;
    H.last_due = r->due;
    H.fires++;
    r->fired++;
    if (r->period > 0) {
        r->due += r->period;
        if (r->t.when != r->due)
            H.bad_order++;
    } else {
        r->pending = false;
    }
}

/* Checks timers_next_when, timers_pending and every heap_index against the
 * model: the indexes of the pending timers are exactly 0..n-1, the one at 0
 * is due first, and every other timer has heap_index -1. */
static void heap_check_model(int64_t next_from_run, int64_t *ref_next_out)
{
    static unsigned char seen[HEAP_TIMERS];
    memset(seen, 0, sizeof seen);
    int64_t ref_next = -1;
    int npending = 0;
    for (int i = 0; i < HEAP_TIMERS; i++) {
        struct heap_rec *r = &H.recs[i];
        if (!r->pending) {
            if (r->t.heap_index != -1)
                H.bad_index++;
            continue;
        }
        npending++;
        if (ref_next < 0 || r->due < ref_next)
            ref_next = r->due;
        int hi = r->t.heap_index;
        if (hi < 0 || hi >= HEAP_TIMERS || seen[hi]++)
            H.bad_index++;
    }
    for (int i = 0; i < npending; i++)
        if (!seen[i])
            H.bad_index++;
    for (int i = 0; i < HEAP_TIMERS; i++)
        if (H.recs[i].pending && H.recs[i].t.heap_index == 0 && H.recs[i].due != ref_next)
            H.bad_order++;
    CHECK_EQ(timers_pending(), npending);
    CHECK_EQ(timers_next_when(), ref_next);
    CHECK_EQ(next_from_run, ref_next);
    *ref_next_out = ref_next;
}

TEST(time_heap_model)
{
    uint64_t rng = 42;
    memset(&H, 0, sizeof H);
    timers_clear();
    CHECK_EQ(timers_pending(), 0);
    CHECK_EQ(timers_next_when(), -1);

    /* 10,000 timers at random whens in [1 ms, 1 s); the first few periodic. */
    for (int i = 0; i < HEAP_TIMERS; i++) {
        struct heap_rec *r = &H.recs[i];
        r->t.f = heap_fire;
        r->t.arg = r;
        r->t.seq = (uintptr_t)i;
        r->t.heap_index = 12345; /* garbage: timer_add must not trust it */
        r->due = MS + (int64_t)(testing_rand(&rng) % (999 * MS));
        r->t.when = r->due;
        if (i < HEAP_PERIODIC) {
            r->period = 2 * MS + (int64_t)(testing_rand(&rng) % (50 * MS));
            r->t.period = r->period;
        }
        timer_add(&r->t);
        r->pending = true;
    }
    CHECK_EQ(timers_pending(), HEAP_TIMERS);

    /* Delete a random third (never a periodic one: those must fire). */
    int ndeleted = 0;
    while (ndeleted < HEAP_TIMERS / 3) {
        int i = HEAP_PERIODIC + (int)(testing_rand(&rng) % (HEAP_TIMERS - HEAP_PERIODIC));
        struct heap_rec *r = &H.recs[i];
        if (r->deleted)
            continue;
        CHECK(timer_del(&r->t));
        CHECK(!timer_del(&r->t)); /* a second delete finds nothing */
        CHECK_EQ(r->t.heap_index, -1);
        r->deleted = true;
        r->pending = false;
        ndeleted++;
    }
    /* Modify a random tenth of the rest: earlier, later, into periodic. */
    for (int k = 0; k < HEAP_TIMERS / 10; k++) {
        int i = HEAP_PERIODIC + (int)(testing_rand(&rng) % (HEAP_TIMERS - HEAP_PERIODIC));
        struct heap_rec *r = &H.recs[i];
        if (r->deleted)
            continue;
        int64_t when = MS + (int64_t)(testing_rand(&rng) % (999 * MS));
        int64_t period = k % 50 == 0 ? 3 * MS + k * 1000 : 0;
        CHECK(timer_mod(&r->t, when, period));
        CHECK_EQ(r->t.when, when);
        r->due = when;
        r->period = period;
    }
    /* timer_mod of a timer that is not in the heap adds it: not pending. */
    static struct heap_rec extra;
    int64_t ref_next;
    heap_check_model(timers_next_when(), &ref_next);
    if (testing_failed())
        return;

    /* Run with `now` rising by 0.5 ms (less than any period) past the last
     * one-shot, checking the model after every run. */
    H.prev_now = 0;
    for (int64_t now = 0; now <= 1100 * MS; now += MS / 2) {
        H.now = now;
        H.last_due = INT64_MIN;
        int64_t next = timers_run(now);
        if (next >= 0 && next <= now)
            H.bad_early++; /* something due was left behind */
        heap_check_model(next, &ref_next);
        H.prev_now = now;
        if (testing_failed())
            return;
    }
    CHECK_EQ(H.bad_early, 0);
    CHECK_EQ(H.bad_late, 0);
    CHECK_EQ(H.bad_order, 0);
    CHECK_EQ(H.bad_deleted, 0);
    CHECK_EQ(H.bad_seq, 0);
    CHECK_EQ(H.bad_index, 0);
    long expected_fires = 0;
    for (int i = 0; i < HEAP_TIMERS; i++) {
        struct heap_rec *r = &H.recs[i];
        if (r->deleted) {
            CHECK_EQ(r->fired, 0);
        } else if (r->period == 0) {
            if (r->fired != 1)
                testing_fail(__FILE__, __LINE__, "timer %d fired %d times", i, r->fired);
            expected_fires++;
        } else {
            /* It fired at every period from its first when up to now. */
            int64_t first = r->due - (int64_t)r->fired * r->period;
            int64_t want = (1100 * MS - first) / r->period + 1;
            if (r->fired != want)
                testing_fail(__FILE__, __LINE__, "periodic timer %d fired %d times, want %lld", i,
                             r->fired, (long long)want);
            expected_fires += r->fired;
        }
        if (testing_failed())
            return;
    }
    CHECK_EQ(H.fires, expected_fires);

    /* Only the periodic ones are left; timers_clear empties the heap. */
    CHECK(timers_pending() > 0);
    extra.t.f = heap_fire;
    extra.t.arg = &extra;
    CHECK(!timer_mod(&extra.t, 5 * MS, 0));
    CHECK(timer_del(&extra.t));
    timers_clear();
    CHECK_EQ(timers_pending(), 0);
    CHECK_EQ(timers_next_when(), -1);
    CHECK_EQ(timers_run(INT64_MAX / 2), -1);
    /* The timers it dropped are no longer pending (timers_clear does not
     * write to them: their memory may be gone when the runtime stops). */
    long fires = H.fires;
    for (int i = 0; i < HEAP_TIMERS; i++)
        CHECK(!timer_del(&H.recs[i].t));
    CHECK_EQ(H.fires, fires);
}

/* ---- periodic timers: catching up without a burst ---- */

static int count_fires;
static void count_fire(void *arg, uintptr_t seq) { count_fires++; }

TEST(time_periodic_catch_up)
{
    timers_clear();
    count_fires = 0;
    timer t = {.when = 100, .period = 10, .f = count_fire, .heap_index = -1};
    timer_add(&t);
    CHECK_EQ(timers_run(99), 100);
    CHECK_EQ(count_fires, 0);
    CHECK_EQ(timers_run(100), 110); /* due exactly now: fires */
    CHECK_EQ(count_fires, 1);
    /* 99 periods late: fires once, and the next when stays on the grid. */
    CHECK_EQ(timers_run(1095), 1100);
    CHECK_EQ(count_fires, 2);
    CHECK_EQ(t.when, 1100);
    CHECK_EQ(timers_run(1099), 1100);
    CHECK_EQ(count_fires, 2);
    CHECK_EQ(timers_run(1100), 1110);
    CHECK_EQ(count_fires, 3);
    /* Modify the period in place; then delete it: it never fires again. */
    CHECK(timer_mod(&t, 2000, 1000));
    CHECK_EQ(timers_run(5500), 6000);
    CHECK_EQ(count_fires, 4);
    CHECK(timer_del(&t));
    CHECK_EQ(timers_run(INT64_MAX / 2), -1);
    CHECK_EQ(count_fires, 4);
    /* A huge period saturates instead of overflowing. */
    timer big = {.when = 10, .period = INT64_MAX - 5, .f = count_fire};
    timer_add(&big);
    CHECK_EQ(timers_run(10), INT64_MAX);
    CHECK_EQ(count_fires, 5);
    CHECK(timer_del(&big));
    CHECK_EQ(timers_pending(), 0);
}

/* ---- f changing timers from inside timers_run ---- */

static struct {
    timer self_stop, victim, rearm, spawned, spawner;
    int self_stop_fires, victim_fires, rearm_fires, spawned_fires, spawner_fires;
    bool victim_del_result;
} R;

static void self_stop_fire(void *arg, uintptr_t seq)
{
    /* A periodic timer stopping itself: no waiting for itself. */
    if (++R.self_stop_fires == 3)
        CHECK(timer_del(&R.self_stop));
    /* It deletes a timer due later in this same run: that one never fires. */
    if (R.self_stop_fires == 1)
        R.victim_del_result = timer_del(&R.victim);
}

static void victim_fire(void *arg, uintptr_t seq) { R.victim_fires++; }

static void rearm_fire(void *arg, uintptr_t seq)
{
    /* A one-shot timer re-adding itself, later. */
    if (++R.rearm_fires < 3) {
        R.rearm.when += 100;
        timer_add(&R.rearm);
    }
}

static void spawned_fire(void *arg, uintptr_t seq) { R.spawned_fires++; }

static void spawner_fire(void *arg, uintptr_t seq)
{
    /* Adds a timer already due: it fires in this same run. */
    R.spawner_fires++;
    timer_mod(&R.spawned, 0, 0);
}

TEST(time_f_changes_timers)
{
    timers_clear();
    memset(&R, 0, sizeof R);
    R.self_stop = (timer){.when = 10, .period = 100, .f = self_stop_fire};
    R.victim = (timer){.when = 20, .f = victim_fire};
    R.rearm = (timer){.when = 30, .f = rearm_fire};
    R.spawned = (timer){.f = spawned_fire};
    R.spawner = (timer){.when = 40, .f = spawner_fire};
    timer_add(&R.self_stop);
    timer_add(&R.victim);
    timer_add(&R.rearm);
    timer_add(&R.spawner);
    CHECK_EQ(timers_run(50), 110);
    CHECK(R.victim_del_result);
    CHECK_EQ(R.victim_fires, 0);
    CHECK_EQ(R.self_stop_fires, 1);
    CHECK_EQ(R.rearm_fires, 1);
    CHECK_EQ(R.spawner_fires, 1);
    CHECK_EQ(R.spawned_fires, 1);
    CHECK_EQ(R.rearm.when, 130);
    CHECK_EQ(timers_run(110), 130);
    CHECK_EQ(R.self_stop_fires, 2);
    /* Periodic and late: fires once at 1000, not for 210 .. 910 each. */
    CHECK_EQ(timers_run(1000), -1);
    CHECK_EQ(R.self_stop_fires, 3);
    CHECK_EQ(R.rearm_fires, 3);
    CHECK_EQ(R.victim_fires, 0);
    CHECK_EQ(R.spawned_fires, 1);
    CHECK_EQ(timers_pending(), 0);
}

/* ---- timer_del racing with f running on another thread ---- */

enum { RACE_TIMERS = 16 };

static struct {
    timer t[RACE_TIMERS];
    atomic_int inside[RACE_TIMERS];
    atomic_int deleted[RACE_TIMERS];
    atomic_long fires[RACE_TIMERS];
    atomic_int violations;
    atomic_int stop;
    atomic_long runs;
} RACE;

static void race_fire(void *arg, uintptr_t seq)
{
    int i = (int)seq;
    atomic_fetch_add(&RACE.inside[i], 1);
    if (atomic_load(&RACE.deleted[i]))
        atomic_fetch_add(&RACE.violations, 1);
    atomic_fetch_add(&RACE.fires[i], 1);
    /* Stay a while, so that a delete lands in the middle. */
    int64_t until = prim_nanotime() + 20000;
    while (prim_nanotime() < until)
        ;
    if (atomic_load(&RACE.deleted[i]))
        atomic_fetch_add(&RACE.violations, 1);
    atomic_fetch_sub(&RACE.inside[i], 1);
}

static void *race_runner(void *arg)
{
    while (!atomic_load(&RACE.stop)) {
        timers_run(prim_nanotime());
        atomic_fetch_add(&RACE.runs, 1);
        gort_sleep(20000); /* leave CPUs free: a descheduled f is slow */
    }
    return NULL;
}

TEST(time_del_waits_for_running_f)
{
    timers_clear();
    memset(&RACE, 0, sizeof RACE);
    int64_t now = prim_nanotime();
    for (int i = 0; i < RACE_TIMERS; i++) {
        /* Period 1 ns: due at every run. */
        RACE.t[i] = (timer){.when = now, .period = 1, .f = race_fire, .seq = (uintptr_t)i};
        timer_add(&RACE.t[i]);
    }
    pthread_t runners[2];
    for (int k = 0; k < 2; k++)
        REQUIRE(pthread_create(&runners[k], NULL, race_runner, NULL) == 0);
    while (atomic_load(&RACE.runs) < 20)
        gort_sleep(100000);
    long during_f = 0; /* deletes that found f running: the case at stake */
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < RACE_TIMERS; i++) {
            /* The fires of an earlier round have ended, so this one is
             * still periodic and pending. */
            if (atomic_load(&RACE.inside[i]) > 0)
                during_f++;
            CHECK(timer_del(&RACE.t[i]));
            CHECK_EQ(atomic_load(&RACE.inside[i]), 0);
            atomic_store(&RACE.deleted[i], 1);
        }
        long fires[RACE_TIMERS];
        for (int i = 0; i < RACE_TIMERS; i++)
            fires[i] = atomic_load(&RACE.fires[i]);
        gort_sleep(50000);
        for (int i = 0; i < RACE_TIMERS; i++) {
            CHECK_EQ(atomic_load(&RACE.fires[i]), fires[i]);
            atomic_store(&RACE.deleted[i], 0);
            timer_mod(&RACE.t[i], prim_nanotime(), 1);
        }
        gort_sleep(100000);
        if (testing_failed())
            break;
    }
    atomic_store(&RACE.stop, 1);
    for (int k = 0; k < 2; k++)
        pthread_join(runners[k], NULL);
    printf("    %ld of %d deletes found f running\n", during_f, 100 * RACE_TIMERS);
    CHECK(during_f > 0);
    CHECK_EQ(atomic_load(&RACE.violations), 0);
    for (int i = 0; i < RACE_TIMERS; i++)
        CHECK(atomic_load(&RACE.fires[i]) > 0);
    timers_clear();
    CHECK_EQ(timers_pending(), 0);
}

/* ---- gort_sleep from threads that are not goroutines ---- */

struct thread_sleep {
    int64_t ns;
    int64_t elapsed;      /* of gort_sleep(ns) */
    int64_t tiny_elapsed; /* of gort_sleep(1) */
    int64_t zero_took;    /* of gort_sleep(0) and gort_sleep(-5) */
};

/* Each thread sleeps a while in the end: on Emscripten 3.1.6 a pthread that
 * returns right after it starts may trip worker.js's stack-cookie check. */
static void *thread_sleeper(void *arg)
{
    struct thread_sleep *s = arg;
    int64_t start = gort_nanotime();
    gort_sleep(0);
    gort_sleep(-5);
    s->zero_took = gort_nanotime() - start;
    start = gort_nanotime();
    gort_sleep(1);
    s->tiny_elapsed = gort_nanotime() - start;
    start = gort_nanotime();
    gort_sleep(s->ns);
    s->elapsed = gort_nanotime() - start;
    return NULL;
}

static void check_thread_sleeps(void)
{
    struct thread_sleep s[3] = {{.ns = 30 * MS}, {.ns = 5 * MS}, {.ns = MS + 1}};
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        REQUIRE(pthread_create(&threads[i], NULL, thread_sleeper, &s[i]) == 0);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < 3; i++) {
        CHECK(s[i].elapsed >= s[i].ns);
        CHECK(s[i].elapsed < s[i].ns + 2000 * MS);
        CHECK(s[i].tiny_elapsed >= 1);
        CHECK(s[i].zero_took < 100 * MS);
    }
}

TEST(time_sleep_thread)
{
    /* This test's own thread is not a goroutine either. */
    int64_t start = gort_nanotime();
    gort_sleep(20 * MS);
    int64_t elapsed = gort_nanotime() - start;
    CHECK(elapsed >= 20 * MS);
    CHECK(elapsed < 20 * MS + 2000 * MS);
    CHECK(gort_nanotime() >= start);
    check_thread_sleeps();
}

/* ---- sleeping goroutines ---- */

/* Waits (sleeping, from a goroutine) until *counter reaches want or
 * timeout_ns passes; true when it got there. */
static bool wait_count(atomic_int *counter, int want, int64_t timeout_ns)
{
    int64_t deadline = gort_nanotime() + timeout_ns;
    while (atomic_load(counter) < want) {
        if (gort_nanotime() > deadline)
            return false;
        gort_sleep(MS);
    }
    return true;
}

enum { ORDER_SLEEPERS = 8 };

static struct {
    atomic_int woken;
    atomic_int early;
    int64_t requested[ORDER_SLEEPERS];
    int64_t elapsed[ORDER_SLEEPERS];
    int64_t deadline[ORDER_SLEEPERS];
    int64_t woke_at[ORDER_SLEEPERS];
    bool all_woke;
} SO;

/* Timers that a loaded machine runs late fire in one batch, and the
 * goroutines they wake may then start in any order: wakes this close
 * together count as simultaneous. */
#define ORDER_TIE_NS (5 * MS)

static void order_sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    int64_t start = gort_nanotime();
    SO.deadline[i] = start + SO.requested[i];
    gort_sleep(SO.requested[i]);
    int64_t now = gort_nanotime();
    int64_t elapsed = now - start;
    SO.elapsed[i] = elapsed;
    SO.woke_at[i] = now;
    if (elapsed < SO.requested[i])
        atomic_fetch_add(&SO.early, 1);
    atomic_fetch_add(&SO.woken, 1);
}

static void order_main(void *arg)
{
    /* Spawned in an order that is not the order of their deadlines: the
     * shortest sleep goes last. */
    for (int i = 0; i < ORDER_SLEEPERS; i++) {
        SO.requested[i] = (int64_t)(ORDER_SLEEPERS - i) * 25 * MS;
        gort_go(order_sleeper, (void *)(intptr_t)i);
    }
    SO.all_woke = wait_count(&SO.woken, ORDER_SLEEPERS, 20000 * MS);
}

TEST(time_sleepers_wake_in_order_never_early)
{
    memset(&SO, 0, sizeof SO);
    gort_config cfg = {.procs = 4};
    CHECK_EQ(gort_main(&cfg, order_main, NULL), GORT_OK);
    CHECK(SO.all_woke);
    CHECK_EQ(atomic_load(&SO.early), 0);
    /* A sleeper whose deadline comes first must not wake after one whose
     * deadline comes later (beyond a tie). Deadlines, not requested
     * lengths, are compared: on a loaded machine a goroutine spawned
     * first may start running, and so start its sleep, tens of
     * milliseconds after one spawned later. */
    for (int i = 0; i < ORDER_SLEEPERS; i++)
        for (int j = 0; j < ORDER_SLEEPERS; j++)
            if (SO.deadline[i] + ORDER_TIE_NS < SO.deadline[j] && SO.woke_at[i] > SO.woke_at[j] + ORDER_TIE_NS)
                testing_fail(__FILE__, __LINE__,
                             "sleeper of %lld ms (deadline %.2f ms before the other's) woke %.2f ms after the one of %lld ms",
                             (long long)(SO.requested[i] / MS), (double)(SO.deadline[j] - SO.deadline[i]) / MS,
                             (double)(SO.woke_at[i] - SO.woke_at[j]) / MS, (long long)(SO.requested[j] / MS));
    for (int i = 0; i < ORDER_SLEEPERS; i++)
        printf("    slept %3lld ms: woke after %.2f ms\n", (long long)(SO.requested[i] / MS),
               (double)SO.elapsed[i] / MS);
    CHECK_EQ(timers_pending(), 0);
}

enum { MANY_SLEEPERS = 1000 };

static struct {
    atomic_int done;
    atomic_int early;
    int64_t requested[MANY_SLEEPERS];
    bool all_done;
    int64_t took;
} SM;

static void many_sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    int64_t start = gort_nanotime();
    gort_sleep(SM.requested[i]);
    if (gort_nanotime() - start < SM.requested[i])
        atomic_fetch_add(&SM.early, 1);
    atomic_fetch_add(&SM.done, 1);
}

static void many_main(void *arg)
{
    uint64_t rng = 7;
    int64_t start = gort_nanotime();
    for (int i = 0; i < MANY_SLEEPERS; i++) {
        /* 0 .. 20 ms, with exact zeros now and then. */
        SM.requested[i] = i % 100 == 0 ? 0 : (int64_t)(testing_rand(&rng) % (20 * MS + 1));
        if (gort_go(many_sleeper, (void *)(intptr_t)i) != GORT_OK)
            return;
    }
    SM.all_done = wait_count(&SM.done, MANY_SLEEPERS, 60000 * MS);
    SM.took = gort_nanotime() - start;
}

TEST(time_thousand_sleepers_all_finish)
{
    memset(&SM, 0, sizeof SM);
    gort_config cfg = {.procs = 4};
    CHECK_EQ(gort_main(&cfg, many_main, NULL), GORT_OK);
    CHECK(SM.all_done);
    CHECK_EQ(atomic_load(&SM.done), MANY_SLEEPERS);
    CHECK_EQ(atomic_load(&SM.early), 0);
    printf("    %d sleepers of 0..20 ms finished in %.1f ms\n", MANY_SLEEPERS,
           (double)SM.took / MS);
    CHECK_EQ(timers_pending(), 0);
}

/* ---- a runtime whose goroutines all sleep sleeps ---- */

/* CPU time used by the whole process so far, or -1 when unknown. Under
 * Node (wasm), every thread is a worker of one process: process.cpuUsage()
 * counts them all. */
static int64_t process_cpu_ns(void)
{
#ifdef __EMSCRIPTEN__
    double us = EM_ASM_DOUBLE({
        if (typeof process == 'undefined' || typeof process.cpuUsage != 'function')
            return -1;
        var u = process.cpuUsage();
        return u.user + u.system;
    });
    return us < 0 ? -1 : (int64_t)(us * 1000);
#endif
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct {
    int64_t wall, cpu;
    atomic_int others_done;
} SI;

static void idle_other(void *arg)
{
    gort_sleep((int64_t)(intptr_t)arg);
    atomic_fetch_add(&SI.others_done, 1);
}

static void idle_main(void *arg)
{
    /* Two more sleepers, one due in the middle of main's sleep, one after:
     * the workers sleep through until each deadline. */
    gort_go(idle_other, (void *)(intptr_t)(100 * MS));
    gort_go(idle_other, (void *)(intptr_t)(250 * MS));
    gort_sleep(10 * MS); /* let the spawning settle */
    int64_t cpu0 = process_cpu_ns();
    int64_t t0 = gort_nanotime();
    gort_sleep(200 * MS);
    SI.wall = gort_nanotime() - t0;
    int64_t cpu1 = process_cpu_ns();
    SI.cpu = cpu0 < 0 || cpu1 < 0 ? -1 : cpu1 - cpu0;
    wait_count(&SI.others_done, 2, 10000 * MS);
}

TEST(time_sleeping_runtime_uses_no_cpu)
{
    memset(&SI, 0, sizeof SI);
    gort_config cfg = {.procs = 4};
    CHECK_EQ(gort_main(&cfg, idle_main, NULL), GORT_OK);
    CHECK(SI.wall >= 200 * MS);
    CHECK_EQ(atomic_load(&SI.others_done), 2);
    if (SI.cpu < 0) {
        printf("    no process CPU clock here: CPU use not measured\n");
        return;
    }
    printf("    200 ms asleep: %.1f ms wall, %.2f ms CPU (%.1f%%)\n", (double)SI.wall / MS,
           (double)SI.cpu / MS, 100.0 * (double)SI.cpu / (double)SI.wall);
    CHECK(SI.cpu * 4 < SI.wall);
}

/* ---- sleeping from threads while a runtime runs; sleep(0) ---- */

static struct {
    int64_t zero_took, negative_took;
    atomic_int woken;
    bool thread_ok;
} SZ;

static void beside_sleeper(void *arg)
{
    gort_sleep(20 * MS);
    atomic_fetch_add(&SZ.woken, 1);
}

static void thread_while_running_main(void *arg)
{
    /* gort_sleep(<= 0) from a goroutine returns at once. */
    int64_t t0 = gort_nanotime();
    for (int i = 0; i < 1000; i++)
        gort_sleep(0);
    SZ.zero_took = gort_nanotime() - t0;
    t0 = gort_nanotime();
    gort_sleep(-1000 * MS);
    gort_sleep(INT64_MIN);
    SZ.negative_took = gort_nanotime() - t0;
    /* Threads that are not goroutines sleep beside the runtime, while a
     * goroutine sleeps too. */
    gort_go(beside_sleeper, NULL);
    check_thread_sleeps();
    SZ.thread_ok = !testing_failed();
    wait_count(&SZ.woken, 1, 10000 * MS);
}

TEST(time_sleep_zero_and_threads_beside_runtime)
{
    memset(&SZ, 0, sizeof SZ);
    gort_config cfg = {.procs = 2};
    CHECK_EQ(gort_main(&cfg, thread_while_running_main, NULL), GORT_OK);
    CHECK(SZ.zero_took < 100 * MS);
    CHECK(SZ.negative_took < 100 * MS);
    CHECK(SZ.thread_ok);
    CHECK_EQ(atomic_load(&SZ.woken), 1);
}

/* ---- one clock for every thread ---- */

#define CLOCK_THREADS 4
#define CLOCK_TURNS 20000

static struct {
    atomic_int turn; /* whose turn, -1 when over */
    int left;
    int64_t last;
    int backwards;
    int64_t worst_ns;
} clock_game;

static void *clock_player(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (;;) {
        int turn = atomic_load(&clock_game.turn);
        if (turn < 0)
            return NULL;
        if (turn != me) {
            sched_yield();
            continue;
        }
        int64_t now = gort_nanotime();
        if (now < clock_game.last) {
            clock_game.backwards++;
            if (clock_game.last - now > clock_game.worst_ns)
                clock_game.worst_ns = clock_game.last - now;
        }
        clock_game.last = now;
        atomic_store(&clock_game.turn, --clock_game.left > 0 ? (me + 1) % CLOCK_THREADS : -1);
    }
}

TEST(time_clock_runs_forward_across_threads)
{
    clock_game.left = CLOCK_TURNS;
    clock_game.last = gort_nanotime();
    atomic_store(&clock_game.turn, 0);
    pthread_t threads[CLOCK_THREADS];
    for (int i = 0; i < CLOCK_THREADS; i++)
        REQUIRE(pthread_create(&threads[i], NULL, clock_player, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < CLOCK_THREADS; i++)
        pthread_join(threads[i], NULL);
    CHECK_EQ(clock_game.left, 0);
    if (clock_game.backwards != 0)
        testing_fail(__FILE__, __LINE__, "%d readings went back, by up to %lld ns", clock_game.backwards,
                     (long long)clock_game.worst_ns);
}
