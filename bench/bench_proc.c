/*
 * bench_proc.c — the scheduler's costs, in the shape of the Go peer program
 * goroutine_spawn: spawn 100,000 goroutines that each mark a WaitGroup and
 * park, then release them all and wait. The first round is cold (new
 * goroutines and stacks), the second reuses dead goroutines; memory per
 * parked goroutine is measured while all of them are parked: the stack it
 * was given (with its g and sudog), and natively also what the process took
 * of it (its growth in resident memory, the pages of those stacks that the
 * goroutines touched). Both at the default stack size and at the smallest
 * stack a goroutine may ask for.
 * Also: a yield round trip, a bare fiber switch (two fibers switching
 * straight to each other, no scheduler: what every goroutine switch costs at
 * least), a mutex hand-off between goroutines, and the latency of stopping
 * the world.
 *
 * Prints one line per figure: RESULT <name> <value> <unit>. `quick` (as
 * npm run bench -- --quick passes it) runs the per-operation figures on a
 * tenth of the operations.
 */
#define _POSIX_C_SOURCE 200809L
#include <gort/gort.h>
#include <gort/sync.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "prim/fiber.h"
#include "runtime2.h"

#define SPAWN_N 100000
/* The per-operation figures take a tenth as many operations in quick mode
 * (the spawn figures keep their 100,000: they are the Go peer's shape). */
#define QUICK_CUT 10
static long quick_cut = 1;
#define YIELDS (1000000 / quick_cut)
#define HANDOFFS (200000 / quick_cut)
#define BARE_SWITCHES (2000000 / quick_cut)
#define BARE_STACK (64 * 1024)
#define STW_ROUNDS (200 / quick_cut)

static gort_waitgroup started, finished;
static gort_rwmutex gate; /* held for writing while the spawned ones park */

static void parker(void *arg)
{
    (void)arg;
    gort_waitgroup_done(&started);
    gort_rwmutex_rlock(&gate);
    gort_rwmutex_runlock(&gate);
    gort_waitgroup_done(&finished);
}

static uint64_t stacks_in_use(void)
{
    gort_memstats st;
    gort_read_memstats(&st);
    return st.stack_inuse;
}

/* The process's resident memory in bytes (Linux's /proc/self/statm), or -1
 * where it cannot be read (on wasm: the runtime cannot see its process). */
static double resident_bytes(void)
{
#ifdef __EMSCRIPTEN__
    return -1;
#else
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size, resident;
    int got = f != NULL ? fscanf(f, "%lu %lu", &size, &resident) : 0;
    if (f != NULL)
        fclose(f);
    return got == 2 ? (double)resident * (double)sysconf(_SC_PAGESIZE) : -1;
#endif
}

struct spawn_round {
    double rate;           /* M goroutines per second until all parked */
    double bytes_per_g;    /* its stack, its g and the sudog it parks on */
    double resident_per_g; /* the process's growth in resident memory, or -1 */
};

static struct spawn_round spawn_round(size_t stack)
{
    struct spawn_round r;
    uint64_t before = stacks_in_use();
    double resident_before = resident_bytes();
    gort_waitgroup_add(&started, SPAWN_N);
    gort_waitgroup_add(&finished, SPAWN_N);
    gort_rwmutex_lock(&gate);
    int64_t t0 = gort_nanotime();
    for (int i = 0; i < SPAWN_N; i++)
        gort_go_stack(parker, NULL, stack);
    gort_waitgroup_wait(&started);
    int64_t parked = gort_nanotime() - t0;
    gort_yield();
    r.bytes_per_g = (double)(stacks_in_use() - before) / SPAWN_N + sizeof(g) + sizeof(sudog);
    double resident_after = resident_bytes();
    r.resident_per_g = resident_before < 0 || resident_after < 0 ? -1 : (resident_after - resident_before) / SPAWN_N;
    r.rate = SPAWN_N / (parked / 1e9) / 1e6;
    gort_rwmutex_unlock(&gate);
    gort_waitgroup_wait(&finished);
    return r;
}

static size_t round_stack;
static const char *round_name;

static void spawn_main(void *arg)
{
    (void)arg;
    struct spawn_round cold = spawn_round(round_stack);
    struct spawn_round reuse = spawn_round(round_stack);
    printf("RESULT goroutine_spawn_rate_%s %.3f Mgoroutines/s\n", round_name, cold.rate);
    printf("RESULT goroutine_spawn_rate_reuse_%s %.3f Mgoroutines/s\n", round_name, reuse.rate);
    printf("RESULT goroutine_mem_%s %.0f B/goroutine\n", round_name, cold.bytes_per_g);
    if (cold.resident_per_g >= 0)
        printf("RESULT goroutine_resident_%s %.0f B/goroutine\n", round_name, cold.resident_per_g);
    fflush(stdout);
}

static int64_t yield_ns;
static void yielder(void *arg)
{
    (void)arg;
    for (int i = 0; i < YIELDS; i++)
        gort_yield();
    gort_waitgroup_done(&finished);
}

static void yield_main(void *arg)
{
    (void)arg;
    gort_waitgroup_add(&finished, 2);
    int64_t t0 = gort_nanotime();
    gort_go(yielder, NULL);
    gort_go(yielder, NULL);
    gort_waitgroup_wait(&finished);
    yield_ns = gort_nanotime() - t0;
}

/* Two fibers on a thread of their own switch to each other, with no
 * runtime around them. */
static prim_fiber bare_thread, bare_a, bare_b;
static int64_t bare_ns;

static void bare_a_entry(void *arg)
{
    (void)arg;
    int64_t t0 = gort_nanotime();
    for (long i = 0; i < BARE_SWITCHES / 2; i++)
        prim_fiber_switch(&bare_a, &bare_b);
    bare_ns = gort_nanotime() - t0;
    prim_fiber_exit(&bare_a, &bare_thread);
}

static void bare_b_entry(void *arg)
{
    (void)arg;
    for (;;)
        prim_fiber_switch(&bare_b, &bare_a);
}

static void *bare_main(void *arg)
{
    (void)arg;
    void *a = prim_stack_alloc(BARE_STACK), *b = prim_stack_alloc(BARE_STACK);
    if (a == NULL || b == NULL) {
        fprintf(stderr, "bench_proc: no memory for fiber stacks\n");
        exit(1);
    }
    prim_fiber_init_thread(&bare_thread);
    prim_fiber_init(&bare_a, a, BARE_STACK, bare_a_entry, NULL);
    prim_fiber_init(&bare_b, b, BARE_STACK, bare_b_entry, NULL);
    prim_fiber_switch(&bare_thread, &bare_a);
    prim_fiber_destroy(&bare_a);
    prim_fiber_destroy(&bare_b); /* abandoned while suspended */
    prim_fiber_destroy(&bare_thread);
    prim_stack_free(a, BARE_STACK);
    prim_stack_free(b, BARE_STACK);
    pthread_exit(NULL);
}

static gort_mutex handoff_mu;
static long handoff_counter;
static void handoff_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < HANDOFFS; i++) {
        gort_mutex_lock(&handoff_mu);
        handoff_counter++;
        gort_mutex_unlock(&handoff_mu);
    }
    gort_waitgroup_done(&finished);
}

static int64_t handoff_ns;
static void handoff_main(void *arg)
{
    (void)arg;
    gort_waitgroup_add(&finished, 4);
    int64_t t0 = gort_nanotime();
    for (int i = 0; i < 4; i++)
        gort_go(handoff_worker, NULL);
    gort_waitgroup_wait(&finished);
    handoff_ns = gort_nanotime() - t0;
}

static atomic_bool stw_done;
static void busy(void *arg)
{
    (void)arg;
    while (!atomic_load(&stw_done))
        gort_safepoint();
    gort_waitgroup_done(&finished);
}

static int64_t stw_max, stw_total;
static void stw_main(void *arg)
{
    (void)arg;
    int busy_goroutines = gort_gomaxprocs() - 1;
    gort_waitgroup_add(&finished, busy_goroutines);
    for (int i = 0; i < busy_goroutines; i++)
        gort_go(busy, NULL);
    gort_sleep(10000000);
    for (int i = 0; i < STW_ROUNDS; i++) {
        int64_t t0 = gort_nanotime();
        stop_the_world(WAIT_REASON_GC);
        int64_t stopped = gort_nanotime() - t0;
        start_the_world();
        stw_total += stopped;
        if (stopped > stw_max)
            stw_max = stopped;
        gort_sleep(100000);
    }
    atomic_store(&stw_done, true);
    gort_waitgroup_wait(&finished);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "quick") == 0) {
            quick_cut = QUICK_CUT;
        } else {
            fprintf(stderr, "usage: gort_bench_proc [quick]\n");
            return 2;
        }
    }
    gort_config cfg = {.procs = 2};
    round_stack = GORT_DEFAULT_STACK_SIZE;
    round_name = "default";
    gort_main(&cfg, spawn_main, NULL);
    round_stack = GORT_MIN_STACK_SIZE;
    round_name = "small";
    gort_main(&cfg, spawn_main, NULL);

    gort_config one = {.procs = 1};
    gort_main(&one, yield_main, NULL);
    printf("RESULT yield_round_trip %.1f ns\n", (double)yield_ns / YIELDS);

    pthread_t bare;
    if (pthread_create(&bare, NULL, bare_main, NULL) != 0 || pthread_join(bare, NULL) != 0) {
        fprintf(stderr, "bench_proc: cannot run the bare switch's thread\n");
        return 1;
    }
    printf("RESULT fiber_bare_switch %.1f ns/switch\n", (double)bare_ns / BARE_SWITCHES);

    gort_main(&cfg, handoff_main, NULL);
    printf("RESULT mutex_handoff %.1f ns/op\n", (double)handoff_ns / (4.0 * HANDOFFS));

    gort_main(&cfg, stw_main, NULL);
    printf("RESULT stw_latency_max %.1f us\n", stw_max / 1e3);
    printf("RESULT stw_latency_mean %.1f us\n", stw_total / 1e3 / STW_ROUNDS);
    printf("INFO default stack %zu B, smallest %zu B\n", (size_t)GORT_DEFAULT_STACK_SIZE,
           (size_t)GORT_MIN_STACK_SIZE);
    return 0;
}
