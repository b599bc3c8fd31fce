/* The scheduler: spawning, parking, stealing, yielding, stopping the world,
 * deadlock detection. */
#include <gort/gort.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "prim/prim.h"
#include "runtime2.h"
#include "testing.h"

static uint32_t readgstatus_for_test(g *gp) { return atomic_load(&gp->atomicstatus); }

/* A barrier built on gopark/goready: goroutines park until released. */
static struct {
    mutex lock;
    g **parked;
    size_t n, cap;
    bool open;
} gate = {.lock = MUTEX_INIT};

static bool unlock_gate(g *gp, void *arg)
{
    (void)gp;
    unlock(arg);
    return true;
}

static void gate_wait(void)
{
    lock(&gate.lock);
    if (gate.open) {
        unlock(&gate.lock);
        return;
    }
    gate.parked[gate.n++] = getg();
    gopark(unlock_gate, &gate.lock, WAIT_REASON_ZERO);
}

static void gate_release(void)
{
    lock(&gate.lock);
    gate.open = true;
    size_t n = gate.n;
    gate.n = 0;
    unlock(&gate.lock);
    for (size_t i = 0; i < n; i++)
        goready(gate.parked[i]);
}

static void gate_reset(size_t cap)
{
    gate.parked = realloc(gate.parked, cap * sizeof *gate.parked);
    gate.cap = cap;
    gate.n = 0;
    gate.open = false;
}

static atomic_long finished;

static void main_reports_itself(void *arg)
{
    uint64_t *id = arg;
    *id = gort_goid();
}

TEST(proc_main_runs_as_goroutine_one)
{
    uint64_t id = 0;
    gort_config cfg = {.procs = 2};
    CHECK_EQ(gort_main(&cfg, main_reports_itself, &id), GORT_OK);
    CHECK_EQ(id, 1);
    CHECK_EQ(gort_goid(), 0); /* not a goroutine here */
    /* Twice in a row: the runtime starts again after it stopped. */
    id = 0;
    CHECK_EQ(gort_main(&cfg, main_reports_itself, &id), GORT_OK);
    CHECK_EQ(id, 1);
    CHECK_EQ(gort_main(NULL, NULL, NULL), GORT_EINVAL);
    CHECK_EQ(gort_go(main_reports_itself, &id), GORT_ESTATE);
}

#define SPAWN_COUNT TESTING_SCALE(100000)

static void parked_worker(void *arg)
{
    (void)arg;
    gate_wait();
    atomic_fetch_add(&finished, 1);
}

static void spawn_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < SPAWN_COUNT; i++)
        if (gort_go_stack(parked_worker, NULL, GORT_MIN_STACK_SIZE) != GORT_OK)
            return;
    /* Wait until every one of them is parked at the gate. */
    for (;;) {
        lock(&gate.lock);
        size_t n = gate.n;
        unlock(&gate.lock);
        if (n == SPAWN_COUNT)
            break;
        gort_yield();
    }
    CHECK_EQ(gort_num_goroutine(), SPAWN_COUNT + 1);
    gate_release();
    while (atomic_load(&finished) < SPAWN_COUNT)
        gort_yield();
}

TEST(proc_hundred_thousand_goroutines_park_and_finish)
{
    gate_reset(SPAWN_COUNT);
    atomic_store(&finished, 0);
    gort_config cfg = {.procs = 2};
    CHECK_EQ(gort_main(&cfg, spawn_main, NULL), GORT_OK);
    CHECK_EQ(atomic_load(&finished), SPAWN_COUNT);
}

#define PROCS_USED 4
static atomic_int p_ran[PROCS_USED];
static atomic_long migrated_ok, corrupted;

static bool every_p_ran(void)
{
    for (int i = 0; i < PROCS_USED; i++)
        if (atomic_load(&p_ran[i]) == 0)
            return false;
    return true;
}

static void wander(void *arg)
{
    long seed = (long)(intptr_t)arg;
    volatile long locals[32];
    for (int i = 0; i < 32; i++)
        locals[i] = seed * 31 + i;
    m *last = getm();
    /* 200 rounds, and more until every p has run one of us (a slow,
     * sanitized machine may take a while to wake them all). */
    for (int round = 0; round < 200 || (!every_p_ran() && round < 1000000); round++) {
        atomic_fetch_add(&p_ran[getm()->p->id], 1);
        gort_yield();
        m *now = getm();
        if (now != last)
            atomic_fetch_add(&migrated_ok, 1);
        last = now;
        for (int i = 0; i < 32; i++)
            if (locals[i] != seed * 31 + i)
                atomic_fetch_add(&corrupted, 1);
    }
    atomic_fetch_add(&finished, 1);
}

static void wander_main(void *arg)
{
    (void)arg;
    for (long i = 0; i < 64; i++)
        gort_go(wander, (void *)(intptr_t)i);
    while (atomic_load(&finished) < 64)
        gort_yield();
}

TEST(proc_work_runs_on_every_p_and_migrates)
{
    atomic_store(&finished, 0);
    gort_config cfg = {.procs = PROCS_USED};
    CHECK_EQ(gort_main(&cfg, wander_main, NULL), GORT_OK);
    CHECK_EQ(atomic_load(&finished), 64);
    for (int i = 0; i < PROCS_USED; i++)
        CHECK(atomic_load(&p_ran[i]) > 0);
    CHECK_EQ(atomic_load(&corrupted), 0);
    CHECK(atomic_load(&migrated_ok) > 0);
    gort_sched_stats st;
    gort_read_sched_stats(&st);
    CHECK(st.migrations > 0);
}

static bool never_wake(g *gp, void *arg)
{
    (void)gp;
    (void)arg;
    return true;
}

static void block_forever(void *arg)
{
    (void)arg;
    gopark(never_wake, NULL, WAIT_REASON_SELECT_NO_CASES);
}

static void deadlock_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++)
        gort_go(block_forever, NULL);
    gopark(never_wake, NULL, WAIT_REASON_SELECT_NO_CASES);
}

TEST(proc_deadlock_is_reported_not_hung)
{
    gort_config cfg = {.procs = 2};
    int code = gort_main(&cfg, deadlock_main, NULL);
    CHECK_EQ(code, GORT_EDEADLOCK);
    CHECK(strcmp(gort_strerror(code), "all goroutines are asleep - deadlock!") == 0);
    uint64_t id = 0;
    CHECK_EQ(gort_main(&cfg, main_reports_itself, &id), GORT_OK);
    CHECK_EQ(id, 1);
}

static atomic_long spins_a, spins_b;

static void spinner_b(void *arg)
{
    (void)arg;
    while (atomic_load(&spins_b) < 1000) {
        atomic_fetch_add(&spins_b, 1);
        gort_yield();
    }
}

static void fairness_main(void *arg)
{
    (void)arg;
    gort_go(spinner_b, NULL);
    /* On one p, a goroutine that yields in a loop must let b run. */
    while (atomic_load(&spins_b) < 1000) {
        atomic_fetch_add(&spins_a, 1);
        gort_yield();
        if (atomic_load(&spins_a) > 1000000)
            break;
    }
}

TEST(proc_yield_is_fair)
{
    gort_config cfg = {.procs = 1};
    CHECK_EQ(gort_main(&cfg, fairness_main, NULL), GORT_OK);
    CHECK_EQ(atomic_load(&spins_b), 1000);
    CHECK(atomic_load(&spins_a) < 100000);
}

static atomic_bool stw_stop;
static atomic_long stw_progress;

static void busy_with_safepoints(void *arg)
{
    (void)arg;
    while (!atomic_load(&stw_stop)) {
        atomic_fetch_add(&stw_progress, 1);
        gort_safepoint();
    }
    atomic_fetch_add(&finished, 1);
}

static void stw_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        gort_go(busy_with_safepoints, NULL);
    while (atomic_load(&stw_progress) < 10000)
        gort_yield();
    for (int round = 0; round < 20; round++) {
        stop_the_world(WAIT_REASON_GC);
        long before = atomic_load(&stw_progress);
        for (volatile int spin = 0; spin < 200000; spin++)
            ;
        CHECK_EQ(atomic_load(&stw_progress), before); /* nobody else runs */
        start_the_world();
        long resumed = atomic_load(&stw_progress);
        while (atomic_load(&stw_progress) < resumed + 100)
            gort_yield();
    }
    atomic_store(&stw_stop, true);
    while (atomic_load(&finished) < 3)
        gort_yield();
}

TEST(proc_stop_the_world_stops_every_p)
{
    atomic_store(&finished, 0);
    gort_sched_stats before, after;
    gort_read_sched_stats(&before);
    gort_config cfg = {.procs = 4};
    CHECK_EQ(gort_main(&cfg, stw_main, NULL), GORT_OK);
    gort_read_sched_stats(&after);
    CHECK_EQ(after.stw_count - before.stw_count, 20);
    CHECK(after.stw_max_ns > 0);
}

static void *spawn_from_thread(void *arg)
{
    for (int i = 0; i < 100; i++)
        if (gort_go(parked_worker, NULL) != GORT_OK)
            atomic_fetch_add(&corrupted, 1);
    return arg;
}

static void external_main(void *arg)
{
    (void)arg;
    pthread_t t;
    pthread_create(&t, NULL, spawn_from_thread, NULL);
    for (;;) {
        gort_yield();
        lock(&gate.lock);
        size_t n = gate.n;
        unlock(&gate.lock);
        if (n >= 100)
            break;
    }
    pthread_join(t, NULL);
    gate_release();
    while (atomic_load(&finished) < 100)
        gort_yield();
}

TEST(proc_goroutines_spawned_from_another_thread)
{
    gate_reset(128);
    atomic_store(&finished, 0);
    atomic_store(&corrupted, 0);
    gort_config cfg = {.procs = 2};
    CHECK_EQ(gort_main(&cfg, external_main, NULL), GORT_OK);
    CHECK_EQ(atomic_load(&finished), 100);
    CHECK_EQ(atomic_load(&corrupted), 0);
}

/* Recursion that yields at every level, so that the scheduler looks at the
 * stack's guard zone often. */
static volatile bool keep_recursing = true;

static int recurse_forever(int depth)
{
    volatile char frame[96];
    frame[0] = (char)depth;
    gort_yield();
    return keep_recursing ? recurse_forever(depth + 1) + frame[0] : 0;
}

static void overflower(void *arg)
{
    (void)arg;
    recurse_forever(0);
}

static void overflow_main(void *arg)
{
    (void)arg;
    gort_go_stack(overflower, NULL, GORT_MIN_STACK_SIZE);
    for (;;)
        gort_sleep(1000000);
}

/* The runtime names the goroutine (natively when it switches, on wasm at the
 * stack-pointer check); under ASan the sanitizer reports the first write into
 * the poisoned guard zone or past it. */
DEATH_TEST(proc_stack_overflow_is_a_clear_fatal_error,
           "runtime: goroutine [0-9]+ stack exceeds [0-9]+-byte limit|AddressSanitizer: "
           "(use-after-poison|stack-overflow)")
{
    gort_config cfg = {.procs = 2};
    gort_main(&cfg, overflow_main, NULL);
}

/* An asynchronous waiter (as the JS main thread will be): its sudog is queued
 * without blocking its thread, a goroutine wakes it through the cell, and
 * while it is pending the runtime does not call a lack of runnable goroutines
 * a deadlock. */
static struct {
    sudog *async;        /* the pending async waiter */
    _Atomic(g *) main_g; /* the main goroutine, parked until the waiter acts */
    atomic_int stage;
} async_case;

static bool release_nothing(g *gp, void *arg)
{
    (void)gp;
    (void)arg;
    return true;
}

static void *async_owner(void *arg)
{
    (void)arg;
    sudog *s = acquire_sudog();
    sudog_prepare_async(s, NULL);
    async_case.async = s;
    sudog_wait(s, release_nothing, NULL, WAIT_REASON_ZERO); /* returns at once */
    atomic_store(&async_case.stage, 1);
    /* The owner's event loop: wait for the wake-up as Atomics.waitAsync
     * would, then act on it by readying the main goroutine. */
    while (!sudog_async_poll(s))
        prim_futex_wait(&s->wakecell, 0, 1000000); /* the cell is not woken: it is looked at */
    atomic_store(&async_case.stage, 3);
    gort_sleep(50000000); /* everything sleeps meanwhile: no deadlock */
    while (async_case.main_g == NULL || readgstatus_for_test(async_case.main_g) != G_WAITING)
        gort_sleep(1000000);
    goready(async_case.main_g);
    sudog_async_finish(s);
    release_sudog(s);
    return NULL;
}

static void async_waker(void *arg)
{
    (void)arg;
    while (atomic_load(&async_case.stage) < 1)
        gort_sleep(1000000);
    atomic_store(&async_case.stage, 2);
    sudog_wake(async_case.async);
}

static void async_main(void *arg)
{
    (void)arg;
    pthread_t owner;
    pthread_create(&owner, NULL, async_owner, NULL);
    gort_go(async_waker, NULL);
    async_case.main_g = getg();
    gopark(release_nothing, NULL, WAIT_REASON_ZERO);
    pthread_join(owner, NULL);
}

TEST(proc_async_waiter_is_woken_and_keeps_the_runtime_alive)
{
    atomic_store(&async_case.stage, 0);
    async_case.main_g = NULL;
    gort_config cfg = {.procs = 2};
    CHECK_EQ(gort_main(&cfg, async_main, NULL), GORT_OK);
    CHECK_EQ(atomic_load(&async_case.stage), 3);
}

/* Stacks freed when the runtime stops wait on free lists, their list nodes
 * written inside them: the next run takes them back, one per goroutine. */
enum { REUSE_GOROUTINES = 300, REUSE_FILL_WORDS = 256 };

static struct {
    gort_waitgroup started, done;
    gort_chan *go_on;
    atomic_int intact;
} reuse_case;

static void reuse_worker(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    volatile uintptr_t words[REUSE_FILL_WORDS];
    for (size_t i = 0; i < REUSE_FILL_WORDS; i++)
        words[i] = id * 7919 + i;
    gort_waitgroup_done(&reuse_case.started);
    int ignored;
    bool ok;
    gort_chan_recv(reuse_case.go_on, &ignored, &ok); /* all hold their stacks now */
    bool intact = true;
    for (size_t i = 0; i < REUSE_FILL_WORDS; i++)
        intact = intact && words[i] == id * 7919 + i;
    if (intact)
        atomic_fetch_add(&reuse_case.intact, 1);
    gort_waitgroup_done(&reuse_case.done);
}

static void reuse_main(void *arg)
{
    size_t stack = *(size_t *)arg;
    reuse_case.go_on = gort_chan_make_bytes(sizeof(int), 0);
    gort_waitgroup_add(&reuse_case.started, REUSE_GOROUTINES);
    gort_waitgroup_add(&reuse_case.done, REUSE_GOROUTINES);
    for (uintptr_t i = 0; i < REUSE_GOROUTINES; i++)
        CHECK_EQ(gort_go_stack(reuse_worker, (void *)(i + 1), stack), GORT_OK);
    gort_waitgroup_wait(&reuse_case.started);
    gort_chan_close(reuse_case.go_on);
    gort_waitgroup_wait(&reuse_case.done);
}

TEST(proc_stacks_freed_at_stop_are_reused_by_the_next_run)
{
    gort_config cfg = {.procs = 2};
    size_t sizes[] = {GORT_DEFAULT_STACK_SIZE, GORT_MIN_STACK_SIZE};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t sys_after_first = 0;
        for (int run = 0; run < 3; run++) {
            atomic_store(&reuse_case.intact, 0);
            CHECK_EQ(gort_main(&cfg, reuse_main, &sizes[k]), GORT_OK);
            CHECK_EQ(atomic_load(&reuse_case.intact), REUSE_GOROUTINES);
            gort_memstats ms;
            gort_read_memstats(&ms);
            if (run == 0)
                sys_after_first = ms.stack_sys;
            else
                CHECK_EQ(ms.stack_sys, sys_after_first); /* no new stack memory */
        }
    }
}

/* ---- GOMAXPROCS while the runtime runs ---- */

#define RESIZE_PROCS 4
#define RESIZE_WORKERS 8
static atomic_long resize_ran[RESIZE_PROCS];
static atomic_bool resize_stop;
static atomic_long resize_progress;

static void resize_worker(void *arg)
{
    (void)arg;
    while (!atomic_load(&resize_stop)) {
        atomic_fetch_add(&resize_ran[getm()->p->id], 1);
        atomic_fetch_add(&resize_progress, 1);
        /* Garbage, so that the collector runs with ps parked out. */
        void *junk = gort_alloc_bytes(256);
        (void)junk;
        gort_yield();
    }
    atomic_fetch_add(&finished, 1);
}

/* Lets the workers run `rounds` more yields, from counters at zero. */
static void resize_run(long rounds)
{
    for (int i = 0; i < RESIZE_PROCS; i++)
        atomic_store(&resize_ran[i], 0);
    long until = atomic_load(&resize_progress) + rounds;
    while (atomic_load(&resize_progress) < until)
        gort_yield();
}

static int procs_that_ran(void)
{
    int n = 0;
    for (int i = 0; i < RESIZE_PROCS; i++)
        n += atomic_load(&resize_ran[i]) > 0;
    return n;
}

static uint64_t gomaxprocs_metric(void)
{
    gort_metric_sample s = {.name = "/sched/gomaxprocs:threads"};
    gort_read_metrics(&s, 1);
    return s.value.u64;
}

static void *set_from_thread(void *arg)
{
    *(int *)arg = gort_set_gomaxprocs(3);
    return NULL;
}

static void resize_main(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_gomaxprocs(), RESIZE_PROCS);
    CHECK_EQ(gort_gomaxprocs_limit(), RESIZE_PROCS);
    for (int i = 0; i < RESIZE_WORKERS; i++)
        gort_go(resize_worker, NULL);
    resize_run(2000);

    /* Down to 2: only p0 and p1 run goroutines, a collection included. */
    CHECK_EQ(gort_set_gomaxprocs(2), RESIZE_PROCS);
    CHECK_EQ(gort_gomaxprocs(), 2);
    CHECK_EQ(gomaxprocs_metric(), 2);
    CHECK(getm()->p->id < 2);
    resize_run(4000);
    gort_gc();
    resize_run(4000);
    CHECK_EQ(atomic_load(&resize_ran[2]), 0);
    CHECK_EQ(atomic_load(&resize_ran[3]), 0);
    CHECK(procs_that_ran() >= 1);

    /* Down to 1: everything on p0, the caller too. */
    CHECK_EQ(gort_set_gomaxprocs(1), 2);
    CHECK_EQ(getm()->p->id, 0);
    resize_run(4000);
    CHECK_EQ(procs_that_ran(), 1);
    CHECK(atomic_load(&resize_ran[0]) > 0);

    /* n < 1 only reads; from a thread that is not a goroutine. */
    CHECK_EQ(gort_set_gomaxprocs(0), 1);
    int previous = -1;
    pthread_t t;
    pthread_create(&t, NULL, set_from_thread, &previous);
    while (gort_gomaxprocs() != 3)
        gort_yield();
    pthread_join(t, NULL);
    CHECK_EQ(previous, 1);
    resize_run(4000);
    CHECK_EQ(atomic_load(&resize_ran[3]), 0);

    /* Above the count the runtime started with: cut to it, and every p
     * runs again (the workers yield, so each p finds some). */
    CHECK_EQ(gort_set_gomaxprocs(RESIZE_PROCS * 2), 3);
    CHECK_EQ(gort_gomaxprocs(), RESIZE_PROCS);
    for (long rounds = 0; procs_that_ran() < RESIZE_PROCS && rounds < 1000; rounds++)
        resize_run(100);
    CHECK_EQ(procs_that_ran(), RESIZE_PROCS);
    gort_gc();

    atomic_store(&resize_stop, true);
    while (atomic_load(&finished) < RESIZE_WORKERS)
        gort_yield();
}

TEST(proc_gomaxprocs_parks_and_restores_processors_while_running)
{
    gort_config cfg = {.procs = RESIZE_PROCS};
    /* Twice: a new run starts with every p again. */
    for (int run = 0; run < 2; run++) {
        atomic_store(&finished, 0);
        atomic_store(&resize_stop, false);
        CHECK_EQ(gort_main(&cfg, resize_main, NULL), GORT_OK);
        CHECK_EQ(gort_gomaxprocs(), 0);
        CHECK_EQ(gort_set_gomaxprocs(2), 0);
    }
}

/* Time slices: on one p, a goroutine that allocates without ever blocking
 * gives the p up once it has run a slice while other work waits (a runnable
 * goroutine; a due timer), as Go preempts one that ran 10 ms. Without that
 * the hog would run until its own deadline and the other never before. No
 * collection meanwhile: a stop-the-world may also make the hog yield. */
#define HOG_DEADLINE_NS (20 * (int64_t)1000000000)
/* The hog's work between two allocations: some 100k objects a second, so
 * that the heap grows a few MB at most without the collector. */
#define HOG_WORK_ROUNDS 2000

static struct {
    atomic_bool other_ran, hog_done;
    int64_t hog_started, other_ran_at;
} slice;

static void slice_hog(void *arg)
{
    (void)arg;
    slice.hog_started = gort_nanotime();
    int64_t deadline = slice.hog_started + HOG_DEADLINE_NS;
    void *keep = NULL;
    volatile uint64_t work = 0;
    while (!atomic_load(&slice.other_ran) && gort_nanotime() < deadline) {
        keep = gort_alloc_bytes(64); /* a fresh span every 128 objects */
        for (int i = 0; i < HOG_WORK_ROUNDS; i++)
            work += (uint64_t)i;
    }
    (void)work; /* the work is the point: a read keeps the compiler from calling it unused */
    gort_keep_alive(keep);
    atomic_store(&slice.hog_done, true);
}

static void slice_other(void *arg)
{
    if (arg != NULL)
        gort_sleep(1000000); /* a timer due while the hog runs */
    slice.other_ran_at = gort_nanotime();
    atomic_store(&slice.other_ran, true);
}

static void slice_main(void *arg)
{
    int gogc = gort_set_gc_percent(-1);
    /* The hog last: it runs first (runnext), the other waits in the queue or on its timer. */
    REQUIRE(gort_go(slice_other, arg) == GORT_OK);
    REQUIRE(gort_go(slice_hog, NULL) == GORT_OK);
    while (!atomic_load(&slice.hog_done))
        gort_yield();
    gort_set_gc_percent(gogc);
}

TEST(proc_a_goroutine_that_never_blocks_gives_up_its_p_after_a_time_slice)
{
    gort_config cfg = {.procs = 1};
    for (int timer = 0; timer < 2; timer++) {
        memset(&slice, 0, sizeof slice);
        CHECK_EQ(gort_main(&cfg, slice_main, timer ? (void *)1 : NULL), GORT_OK);
        CHECK(atomic_load(&slice.other_ran));
        /* The other ran while the hog still ran (it stopped because of it),
         * long before the hog's own deadline. */
        CHECK(slice.other_ran_at - slice.hog_started < HOG_DEADLINE_NS / 4);
        printf("    %s: the other goroutine ran %.1f ms after the hog began\n",
               timer ? "a due timer" : "a runnable goroutine",
               (double)(slice.other_ran_at - slice.hog_started) / 1e6);
    }
}
