/*
 * bench.h — what the benchmark programs share: failing loudly, the clock,
 * the command line (`quick` divides every size by 10; a workload's short
 * name runs only that one; `procs=N`, which may be repeated, runs the
 * workloads on N Ps instead of on 1 and then 2), and running a workload as
 * goroutine 1 on p Ps, whose results carry the suffix _pP.
 */
#ifndef GORT_BENCH_H
#define GORT_BENCH_H

#include <gort/gort.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *bench_program;
static long scale_div = 1;
static const char *bench_only; /* a workload's short name, or NULL for all */
static char suffix[8];         /* "_p1", "_p2", ... while a workload runs */

/* The most Ps `procs=N` may ask for. */
#define BENCH_MAX_PROCS 8
static unsigned procs_asked; /* bit N set by procs=N; none: 1 and 2 */

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
    if (gort_main(&cfg, fn, &n) != GORT_OK)
        fail("gort_main failed");
    fflush(stdout);
}

#endif
