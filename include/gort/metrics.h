/*
 * gort/metrics.h — the runtime's metrics by name, as Go's runtime/metrics
 * gives them: a caller names the samples it wants and gort_read_metrics
 * fills their values. Names are Go's where Go has the metric
 * ("/gc/heap/goal:bytes", "/sched/pauses/total/gc:seconds", ...); the unit
 * after the colon says what the value counts. gort_all_metrics lists every
 * supported name with its kind and meaning; a name not in that list reads
 * as GORT_METRIC_BAD, as Go's KindBad.
 *
 * Reading never stops the world nor waits for the collector, except that
 * the heap's figures are read under the lock the collector's pauses hold
 * (a wait of at most one pause).
 */
#ifndef GORT_METRICS_H
#define GORT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum gort_metric_kind {
    GORT_METRIC_BAD = 0,       /* no such metric */
    GORT_METRIC_UINT64 = 1,
    GORT_METRIC_FLOAT64 = 2,
    GORT_METRIC_HISTOGRAM = 3, /* Go's Float64Histogram */
};

/*
 * A distribution (Go's metrics.Float64Histogram): counts[i] values fell in
 * [buckets[i], buckets[i+1]). The caller gives counts and counts_cap;
 * gort_read_metrics sets ncounts and buckets (ncounts + 1 boundaries, owned
 * by the runtime, the first may be -Inf and the last +Inf) and copies
 * min(ncounts, counts_cap) counts. counts may be NULL to learn ncounts.
 */
typedef struct gort_metric_histogram {
    uint64_t *counts;
    size_t counts_cap;
    size_t ncounts;
    const double *buckets;
} gort_metric_histogram;

/* One sample: the caller sets name (and, for a histogram, its counts
 * buffer); gort_read_metrics sets kind and the value. */
typedef struct gort_metric_sample {
    const char *name;
    enum gort_metric_kind kind;
    union {
        uint64_t u64;
        double f64;
        gort_metric_histogram hist;
    } value;
} gort_metric_sample;

/*
 * Fills each sample with the current value of the metric it names (Go's
 * metrics.Read). Values of one call are read at about the same time, not
 * atomically together. Safe from any thread, with or without a runtime
 * running (figures of the last runtime then).
 */
void gort_read_metrics(gort_metric_sample *samples, size_t n);

/* A supported metric (Go's metrics.Description). */
typedef struct gort_metric_description {
    const char *name;
    const char *description;
    enum gort_metric_kind kind;
    bool cumulative; /* only ever grows */
} gort_metric_description;

/* Every supported metric; *count gets how many. */
const gort_metric_description *gort_all_metrics(size_t *count);

#ifdef __cplusplus
}
#endif

#endif
