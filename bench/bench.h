/*
 * bench.h — what the benchmark programs share: failing loudly, the clock,
 * the command line (`quick` divides every size by 10; a workload's short
 * name runs only that one; `procs=N`, which may be repeated, runs the
 * workloads on N Ps instead of on 1 and then 2), and running a workload as
 * goroutine 1 on p Ps, whose results carry the suffix _pP. `reader` runs
 * a thread beside the workloads that drains the event rings 60 times a
 * second, as a live view would; `reader=goroutines` also asks for
 * goroutine events (what such a reader costs the runtime).
 */
#ifndef GORT_BENCH_H
#define GORT_BENCH_H

#include <gort/gort.h>
#include <gort/trace.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>

static const char *bench_program;
static long scale_div = 1;
static const char *bench_only; /* a workload's short name, or NULL for all */
static char suffix[8];         /* "_p1", "_p2", ... while a workload runs */

/* The most Ps `procs=N` may ask for. */
#define BENCH_MAX_PROCS 8
static unsigned procs_asked; /* bit N set by procs=N; none: 1 and 2 */

/* The reader's frame interval (60 Hz) and its buffer. */
#define BENCH_READER_FRAME_NS 16666667L
#define BENCH_READER_BATCH 8192
static bool reader_asked, reader_goroutines;
static pthread_t reader_thread;
static atomic_bool reader_stop;
static uint64_t reader_events, reader_lost;

static void *bench_reader(void *arg)
{
    (void)arg;
    static gort_trace_cursor cur;
    static gort_trace_event batch[BENCH_READER_BATCH];
    while (!atomic_load(&reader_stop)) {
        size_t n;
        do {
            uint64_t lost = 0;
            n = gort_trace_read(&cur, batch, BENCH_READER_BATCH, &lost);
            reader_events += n;
            reader_lost += lost;
        } while (n == BENCH_READER_BATCH);
        struct timespec frame = {0, BENCH_READER_FRAME_NS};
        nanosleep(&frame, NULL);
    }
    return NULL;
}

static void reader_start(void)
{
    atomic_store(&reader_stop, false);
    reader_events = reader_lost = 0;
    if (reader_goroutines)
        gort_trace_goroutines(1);
    if (pthread_create(&reader_thread, NULL, bench_reader, NULL) != 0) {
        fprintf(stderr, "%s: no reader thread\n", bench_program);
        exit(1);
    }
}

static void reader_end(void)
{
    atomic_store(&reader_stop, true);
    pthread_join(reader_thread, NULL);
    if (reader_goroutines)
        gort_trace_goroutines(0);
    printf("INFO reader%s: %llu events read, %llu lost\n", reader_goroutines ? " (goroutine events)" : "",
           (unsigned long long)reader_events, (unsigned long long)reader_lost);
}

static inline void fail(const char *what)
{
    fprintf(stderr, "%s: %s\n", bench_program, what);
    exit(1);
}

static inline double now_ns(void) { return (double)gort_nanotime(); }

static inline void bench_args(const char *program, int argc, char **argv)
{
    bench_program = program;
    for (int i = 1; i < argc; i++) {
        int p;
        if (strcmp(argv[i], "quick") == 0)
            scale_div = 10;
        else if (strcmp(argv[i], "reader") == 0)
            reader_asked = true;
        else if (strcmp(argv[i], "reader=goroutines") == 0)
            reader_asked = reader_goroutines = true;
        else if (sscanf(argv[i], "procs=%d", &p) == 1 && p >= 1 && p <= BENCH_MAX_PROCS)
            procs_asked |= 1u << p;
        else
            bench_only = argv[i];
    }
}

static inline bool wanted(const char *name) { return bench_only == NULL || strcmp(bench_only, name) == 0; }

/* Whether workloads run on p Ps in this invocation. */
static inline bool procs_wanted(int p) { return procs_asked ? (procs_asked >> p) & 1 : p <= 2; }

/* Runs fn(&n) as goroutine 1 on p Ps, n divided by scale_div. */
static inline void run(int p, void (*fn)(void *), long n)
{
    gort_config cfg = {.procs = p};
    snprintf(suffix, sizeof suffix, "_p%d", p);
    n /= scale_div;
    if (reader_asked)
        reader_start();
    if (gort_main(&cfg, fn, &n) != GORT_OK)
        fail("gort_main failed");
    if (reader_asked)
        reader_end();
    fflush(stdout);
}

#endif
