/*
 * bench.h — what the benchmark programs share: failing loudly, the clock,
 * the command line (`quick` divides every size by 10; a workload's short
 * name runs only that one), and running a workload as goroutine 1 on 1 or 2
 * Ps, whose results carry the suffix _p1 or _p2.
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
static const char *suffix;     /* "_p1" or "_p2" while a workload runs */

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
        if (strcmp(argv[i], "quick") == 0)
            scale_div = 10;
        else
            bench_only = argv[i];
    }
}

static inline bool wanted(const char *name) { return bench_only == NULL || strcmp(bench_only, name) == 0; }

/* Runs fn(&n) as goroutine 1 on p Ps, n divided by scale_div. */
static inline void run(int p, void (*fn)(void *), long n)
{
    gort_config cfg = {.procs = p};
    suffix = p == 1 ? "_p1" : "_p2";
    n /= scale_div;
    if (gort_main(&cfg, fn, &n) != GORT_OK)
        fail("gort_main failed");
    fflush(stdout);
}

#endif
