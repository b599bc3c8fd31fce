/*
 * test_metrics.c — gort_read_metrics (gort/metrics.h): every listed name
 * reads with its listed kind and unknown names read as bad; cycle counts
 * follow the cycles run; the heap goal follows GOGC from the live heap;
 * each pause is counted once in the stopping and the total histograms and
 * never stops for longer than it lasts; the memory classes add up; the
 * scan figures are what the last cycle scanned of root regions, heap and
 * stacks; mutex waits count goroutines asleep on a sync Mutex (sampled).
 */
#include <gort/gort.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "observe.h"
#include "testing.h"
#include "testing_rt.h"

static uint64_t read_u64(const char *name)
{
    gort_metric_sample s = {.name = name};
    gort_read_metrics(&s, 1);
    CHECK_EQ(s.kind, GORT_METRIC_UINT64);
    return s.value.u64;
}

static double read_f64(const char *name)
{
    gort_metric_sample s = {.name = name};
    gort_read_metrics(&s, 1);
    CHECK_EQ(s.kind, GORT_METRIC_FLOAT64);
    return s.value.f64;
}

#define MAX_BUCKETS 512
static uint64_t stopping[MAX_BUCKETS], total[MAX_BUCKETS];

/* Reads a histogram's counts into counts; returns how many buckets. */
static size_t read_hist(const char *name, uint64_t *counts, const double **bounds)
{
    gort_metric_sample s = {.name = name};
    s.value.hist.counts = counts;
    s.value.hist.counts_cap = MAX_BUCKETS;
    gort_read_metrics(&s, 1);
    CHECK_EQ(s.kind, GORT_METRIC_HISTOGRAM);
    CHECK(s.value.hist.ncounts <= MAX_BUCKETS);
    if (bounds != NULL)
        *bounds = s.value.hist.buckets;
    return s.value.hist.ncounts;
}

static uint64_t sum(const uint64_t *v, size_t n)
{
    uint64_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += v[i];
    return t;
}

static void every_name_main(void *arg)
{
    (void)arg;
    size_t n = 0;
    const gort_metric_description *all = gort_all_metrics(&n);
    CHECK(n >= 30);
    gort_metric_sample *samples = calloc(n + 1, sizeof *samples);
    static uint64_t counts[64][MAX_BUCKETS];
    size_t hists = 0;
    for (size_t i = 0; i < n; i++) {
        samples[i].name = all[i].name;
        if (all[i].kind == GORT_METRIC_HISTOGRAM && hists < 64) {
            samples[i].value.hist.counts = counts[hists++];
            samples[i].value.hist.counts_cap = MAX_BUCKETS;
        }
        /* Go's names: /path:unit */
        CHECK(all[i].name[0] == '/' && strchr(all[i].name, ':') != NULL);
        CHECK(strlen(all[i].description) > 10);
    }
    samples[n].name = "/gc/no-such-metric:bytes";
    samples[n].kind = GORT_METRIC_UINT64;
    gort_read_metrics(samples, n + 1);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(samples[i].kind, all[i].kind);
        if (samples[i].kind == GORT_METRIC_HISTOGRAM) {
            const gort_metric_histogram *h = &samples[i].value.hist;
            CHECK(h->ncounts > 0 && h->buckets != NULL);
            for (size_t b = 0; b < h->ncounts; b++)
                CHECK(h->buckets[b] < h->buckets[b + 1]);
        }
    }
    CHECK_EQ(samples[n].kind, GORT_METRIC_BAD);
    free(samples);
    CHECK_EQ(read_u64("/sched/gomaxprocs:threads"), 2);
    CHECK(read_u64("/sched/goroutines:goroutines") >= 1);
    /* The memory classes add up to the total. */
    const char *classes[] = {
        "/memory/classes/heap/free:bytes",       "/memory/classes/heap/objects:bytes",
        "/memory/classes/heap/stacks:bytes",     "/memory/classes/heap/unused:bytes",
        "/memory/classes/metadata/mspan/inuse:bytes", "/memory/classes/metadata/other:bytes",
    };
    gort_gc(); /* quiet figures: caches flushed */
    uint64_t parts = 0;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        parts += read_u64(classes[i]);
    CHECK_EQ(parts, read_u64("/memory/classes/total:bytes"));
    /* CPU classes: gc and idle fit in the total; user is what is left. */
    double cpu_total = read_f64("/cpu/classes/total:cpu-seconds");
    double gc = read_f64("/cpu/classes/gc/total:cpu-seconds");
    double parts_gc = read_f64("/cpu/classes/gc/mark/assist:cpu-seconds") +
                      read_f64("/cpu/classes/gc/mark/dedicated:cpu-seconds") +
                      read_f64("/cpu/classes/gc/pause:cpu-seconds");
    CHECK(gc > 0);
    CHECK(fabs(gc - parts_gc) < 1e-3);
    CHECK(cpu_total > gc);
    CHECK(read_f64("/cpu/classes/idle:cpu-seconds") >= 0);
    CHECK(read_f64("/cpu/classes/user:cpu-seconds") >= 0);
}

TEST(metrics_every_name_reads_with_its_kind) { run_main(2, every_name_main, NULL); }

typedef struct blob {
    struct blob *next;
    char pad[120];
} blob;
static const gort_type blob_type = GORT_TYPE(blob, "metrics.blob", GORT_PTR_FIELD(blob, next));

/* A linked list of about `bytes` live bytes. */
static blob *live_list(size_t bytes)
{
    blob *head = NULL;
    for (size_t n = 0; n < bytes / sizeof(blob); n++) {
        blob *b = gort_new(&blob_type);
        if (b == NULL)
            return head;
        GORT_STORE(b->next, head);
        head = b;
    }
    return head;
}

#define FORCED 5

static void cycles_main(void *arg)
{
    (void)arg;
    gort_set_gc_percent(100);
    uint64_t total0 = read_u64("/gc/cycles/total:gc-cycles");
    uint64_t forced0 = read_u64("/gc/cycles/forced:gc-cycles");
    size_t nb = read_hist("/sched/pauses/total/gc:seconds", total, NULL);
    uint64_t pauses0 = sum(total, nb);
    CHECK_EQ(read_hist("/sched/pauses/stopping/gc:seconds", stopping, NULL), nb);
    uint64_t stops0 = sum(stopping, nb);

    blob *keep = live_list((size_t)24 << 20); /* past the 4 MB minimum goal */
    for (int i = 0; i < FORCED; i++)
        REQUIRE(gort_gc() == GORT_OK);
    uint64_t total1 = read_u64("/gc/cycles/total:gc-cycles");
    uint64_t forced1 = read_u64("/gc/cycles/forced:gc-cycles");
    uint64_t automatic1 = read_u64("/gc/cycles/automatic:gc-cycles");
    CHECK_EQ(forced1 - forced0, FORCED);
    CHECK(total1 - total0 >= FORCED);
    CHECK_EQ(automatic1 + forced1, total1);

    /* The goal follows GOGC from what the last cycle marked. */
    uint64_t live = read_u64("/gc/heap/live:bytes");
    CHECK(live >= (uint64_t)24 << 20);
    CHECK_EQ(read_u64("/gc/heap/goal:bytes"), live + live / 100 * 100);
    CHECK_EQ(read_u64("/gc/gogc:percent"), 100);
    gort_set_gc_percent(50);
    CHECK_EQ(read_u64("/gc/heap/goal:bytes"), live + live / 100 * 50);
    CHECK_EQ(read_u64("/gc/gogc:percent"), 50);
    gort_set_gc_percent(100);
    gort_keep_alive(keep);

    /* Two pauses per cycle, each in both histograms; a pause's stopping
     * part never exceeds it: at every boundary at least as many stops as
     * whole pauses lie below it. */
    const double *bounds = NULL;
    CHECK_EQ(read_hist("/sched/pauses/total/gc:seconds", total, &bounds), nb);
    CHECK_EQ(read_hist("/sched/pauses/stopping/gc:seconds", stopping, NULL), nb);
    uint64_t pauses = sum(total, nb) - pauses0;
    CHECK(pauses >= 2 * (total1 - total0));
    CHECK_EQ(sum(stopping, nb) - stops0, pauses);
    uint64_t below_stop = 0, below_total = 0;
    for (size_t b = 0; b < nb; b++) {
        below_stop += stopping[b];
        below_total += total[b];
        CHECK(below_stop >= below_total);
    }
    CHECK(bounds != NULL && isinf(bounds[nb]));
    CHECK_EQ(read_hist("/gc/pauses:seconds", stopping, NULL), nb);
    CHECK_EQ(sum(stopping, nb), sum(total, nb));
    CHECK(read_u64("/gc/heap/allocs:objects") >= ((size_t)24 << 20) / sizeof(blob));
    CHECK(read_u64("/gc/heap/objects:objects") >= ((size_t)24 << 20) / sizeof(blob));
}

TEST(metrics_cycles_goal_and_pauses_follow_the_collector) { run_main(2, cycles_main, NULL); }

/* ---- scheduling latency ---- */

#define LAT_NAME "/sched/latencies:seconds"
static uint64_t lat_before[MAX_BUCKETS], lat_after[MAX_BUCKETS];

#define LAT_WORKERS 8
/* Rounds: each worker's spells in two sampling periods. */
#define LAT_ROUNDS (2 * SCHED_LATENCY_PERIOD)
#define LAT_BUSY_NS ((int64_t)1000000)

static gort_waitgroup lat_wg = GORT_WAITGROUP_INIT;
static gort_waitgroup lat_round = GORT_WAITGROUP_INIT;

/* Waits for its turn, says it ran, and waits again: one transition out of
 * running a round. */
static void lat_worker(void *arg)
{
    gort_chan *go = arg;
    int v;
    bool ok;
    while (gort_chan_recv(go, &v, &ok) == GORT_OK && ok)
        gort_waitgroup_done(&lat_round);
    gort_waitgroup_done(&lat_wg);
}

/* On one P, in each round this goroutine makes every worker runnable and
 * keeps the P for LAT_BUSY_NS before it waits for them: each worker's
 * spell lasts at least that, and each worker's spells are sampled one in
 * SCHED_LATENCY_PERIOD (its transitions out of running are counted: two or
 * three samples over LAT_ROUNDS). The only other spells are this
 * goroutine's, after its wait for the round (short). */
static void latency_main(void *arg)
{
    (void)arg;
    size_t nb = read_hist(LAT_NAME, lat_before, NULL);
    gort_chan *go[LAT_WORKERS]; /* the channels' roots: this stack */
    gort_waitgroup_add(&lat_wg, LAT_WORKERS);
    for (int i = 0; i < LAT_WORKERS; i++) {
        go[i] = make_int_chan(0);
        REQUIRE(gort_go(lat_worker, go[i]) == GORT_OK);
    }
    for (int r = 0; r < LAT_ROUNDS; r++) {
        gort_waitgroup_add(&lat_round, LAT_WORKERS);
        for (int i = 0; i < LAT_WORKERS; i++)
            gort_chan_send(go[i], &r);
        int64_t until = gort_nanotime() + LAT_BUSY_NS;
        while (gort_nanotime() < until)
            ; /* no safepoint: the P stays ours */
        gort_waitgroup_wait(&lat_round);
    }
    for (int i = 0; i < LAT_WORKERS; i++)
        gort_chan_close(go[i]);
    gort_waitgroup_wait(&lat_wg);
    const double *bounds = NULL;
    CHECK_EQ(read_hist(LAT_NAME, lat_after, &bounds), nb);
    uint64_t below = 0, at_or_above = 0;
    for (size_t b = 0; b < nb; b++) {
        uint64_t added = lat_after[b] - lat_before[b];
        if (bounds[b + 1] <= (double)LAT_BUSY_NS * 1e-9)
            below += added;
        else
            at_or_above += added;
    }
    /* Each worker parks once a round: two of its parks in two periods of
     * rounds start a sample, at most one of them the last (whose spell,
     * ended by the close, is short), and its first spell may be sampled
     * too. This goroutine waits once a round. */
    CHECK(at_or_above >= LAT_WORKERS);
    CHECK(at_or_above <= 3 * LAT_WORKERS);
    CHECK(below <= LAT_WORKERS + LAT_ROUNDS / SCHED_LATENCY_PERIOD + 3);
}

TEST(metrics_sched_latencies_cover_time_spent_runnable) { run_main(1, latency_main, NULL); }

#define LAT_PINGPONG_ROUNDS (500 * SCHED_LATENCY_PERIOD)

static void lat_echo(void *arg)
{
    gort_chan **ch = arg;
    int v;
    bool ok;
    while (gort_chan_recv(ch[0], &v, &ok) == GORT_OK && ok)
        gort_chan_send(ch[1], &v);
    gort_waitgroup_done(&lat_wg);
}

/* Each goroutine's transitions out of running are counted and one in
 * SCHED_LATENCY_PERIOD starts a sample: on one P, an unbuffered ping-pong
 * parks each side once a round, so K rounds add 2K / period samples
 * (each goroutine's count within one of its share; a few more from the
 * start and the end). */
static void sampling_main(void *arg)
{
    (void)arg;
    size_t nb = read_hist(LAT_NAME, lat_before, NULL);
    gort_chan *ch[2] = {make_int_chan(0), make_int_chan(0)};
    gort_waitgroup_add(&lat_wg, 1);
    REQUIRE(gort_go(lat_echo, ch) == GORT_OK);
    for (int r = 0; r < LAT_PINGPONG_ROUNDS; r++) {
        int v = r;
        bool ok;
        gort_chan_send(ch[0], &v);
        gort_chan_recv(ch[1], &v, &ok);
    }
    gort_chan_close(ch[0]);
    gort_waitgroup_wait(&lat_wg);
    read_hist(LAT_NAME, lat_after, NULL);
    uint64_t added = sum(lat_after, nb) - sum(lat_before, nb);
    CHECK(added >= 2 * LAT_PINGPONG_ROUNDS / SCHED_LATENCY_PERIOD - 4);
    CHECK(added <= 2 * LAT_PINGPONG_ROUNDS / SCHED_LATENCY_PERIOD + 8);
}

TEST(metrics_sched_latencies_sample_one_transition_in_a_period) { run_main(1, sampling_main, NULL); }

/* ---- heap bytes allocated and freed ---- */

#define BYTES_LARGE_N 64
#define BYTES_LARGE_SIZE ((size_t)64 << 10) /* whole pages: counted exactly */
#define BYTES_SMALL_N 20000
#define BYTES_SMALL_SIZE 128 /* a size class's size: counted exactly */
/* Slots of spans that caches took but did not fill: a span per class and
 * P at most, for the few classes this test touches. */
#define BYTES_CACHE_SLACK ((uint64_t)256 << 10)
/* What the runtime itself allocates meanwhile (the collector's, a
 * goroutine's): a few small objects. */
#define BYTES_OTHER_SLACK ((uint64_t)8 << 10)

static void bytes_main(void *arg)
{
    (void)arg;
    REQUIRE(gort_gc() == GORT_OK);
    uint64_t alloc0 = read_u64("/gc/heap/allocs:bytes"), free0 = read_u64("/gc/heap/frees:bytes");
    const uint64_t made = BYTES_LARGE_N * BYTES_LARGE_SIZE + BYTES_SMALL_N * BYTES_SMALL_SIZE;
    for (int i = 0; i < BYTES_LARGE_N; i++)
        REQUIRE(gort_alloc_bytes(BYTES_LARGE_SIZE) != NULL);
    for (int i = 0; i < BYTES_SMALL_N; i++)
        REQUIRE(gort_alloc_bytes(BYTES_SMALL_SIZE) != NULL);
    uint64_t alloc1 = read_u64("/gc/heap/allocs:bytes");
    CHECK(alloc1 - alloc0 >= made);
    CHECK(alloc1 - alloc0 <= made + BYTES_CACHE_SLACK);
    REQUIRE(gort_gc() == GORT_OK);
    REQUIRE(gort_gc() == GORT_OK);
    /* All of it was garbage: freed but for what a stale stack word may
     * hold. */
    uint64_t freed = read_u64("/gc/heap/frees:bytes") - free0;
    CHECK(freed >= made - made / 10);
    /* Quiet (swept, one goroutine): allocated less freed is what lives. */
    gort_metric_sample s[3] = {{.name = "/gc/heap/allocs:bytes"},
                               {.name = "/gc/heap/frees:bytes"},
                               {.name = "/memory/classes/heap/objects:bytes"}};
    gort_read_metrics(s, 3);
    CHECK_EQ(s[0].value.u64 - s[1].value.u64, s[2].value.u64);
    /* The caches gave their spans back: their free slots no longer count. */
    CHECK(s[0].value.u64 - alloc0 >= made);
    CHECK(s[0].value.u64 - alloc0 <= made + BYTES_OTHER_SLACK);
}

TEST(metrics_heap_bytes_allocated_and_freed) { run_main(1, bytes_main, NULL); }

/* ---- what the last cycle scanned ---- */

#define SCAN_REGION_BYTES ((size_t)64 << 10)
#define SCAN_LIST_BYTES ((size_t)4 << 20)
#define SCAN_NOSCAN_BYTES ((size_t)4 << 20)
#define SCAN_PARKERS 16
#define SCAN_STACK_PAD 4096
/* What other roots and the runtime's own objects may add or drop between
 * two cycles of this test. */
#define SCAN_SLACK ((uint64_t)256 << 10)

static uintptr_t scan_region[SCAN_REGION_BYTES / sizeof(uintptr_t)];
static gort_chan *scan_release;
static gort_waitgroup scan_parked = GORT_WAITGROUP_INIT;
static gort_waitgroup scan_done = GORT_WAITGROUP_INIT;

/* Parks with SCAN_STACK_PAD bytes of its frame in use. */
static void scan_parker(void *arg)
{
    (void)arg;
    volatile char pad[SCAN_STACK_PAD];
    for (size_t i = 0; i < sizeof pad; i += 512)
        pad[i] = (char)i;
    gort_waitgroup_done(&scan_parked);
    int v;
    bool ok;
    gort_chan_recv(scan_release, &v, &ok);
    pad[1] = pad[0];
    gort_waitgroup_done(&scan_done);
}

typedef struct scan_figures {
    uint64_t globals, heap, stack, total;
} scan_figures;

static scan_figures scan_after_gc(void)
{
    CHECK_EQ(gort_gc(), GORT_OK);
    gort_metric_sample s[4] = {{.name = "/gc/scan/globals:bytes"},
                               {.name = "/gc/scan/heap:bytes"},
                               {.name = "/gc/scan/stack:bytes"},
                               {.name = "/gc/scan/total:bytes"}};
    gort_read_metrics(s, 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(s[i].kind, GORT_METRIC_UINT64);
    scan_figures f = {s[0].value.u64, s[1].value.u64, s[2].value.u64, s[3].value.u64};
    CHECK_EQ(f.total, f.globals + f.heap + f.stack);
    return f;
}

/* A root region that holds the list and the pointer-free object, made by
 * a goroutine that then exits: no stale copy of them on a stack that is
 * scanned keeps them once the region is cleared. */
static void *scan_held[2];
static gort_waitgroup scan_made = GORT_WAITGROUP_INIT;

static void scan_hold_objects(void *arg)
{
    (void)arg;
    scan_held[0] = live_list(SCAN_LIST_BYTES);
    scan_held[1] = gort_alloc_bytes(SCAN_NOSCAN_BYTES);
    gort_waitgroup_done(&scan_made);
}

static void scan_main(void *arg)
{
    (void)arg;
    CHECK_EQ(read_u64("/gc/stack/starting-size:bytes"), GORT_DEFAULT_STACK_SIZE);
    REQUIRE(gort_add_roots(scan_held, sizeof scan_held) == GORT_OK);
    scan_figures base = scan_after_gc();

    /* A registered root region is scanned whole. */
    REQUIRE(gort_add_roots(scan_region, sizeof scan_region) == GORT_OK);
    scan_figures with_region = scan_after_gc();
    CHECK_EQ(with_region.globals - base.globals, SCAN_REGION_BYTES);
    REQUIRE(gort_remove_roots(scan_region) == GORT_OK);
    CHECK_EQ(scan_after_gc().globals, base.globals);

    /* Live objects that may hold pointers are scanned; pointer-free ones
     * are not. */
    gort_waitgroup_add(&scan_made, 1);
    REQUIRE(gort_go(scan_hold_objects, NULL) == GORT_OK);
    gort_waitgroup_wait(&scan_made);
    AWAIT(gort_num_goroutine() == 1);
    REQUIRE(scan_held[0] != NULL && scan_held[1] != NULL);
    scan_figures with_list = scan_after_gc();
    CHECK(with_list.heap >= base.heap + SCAN_LIST_BYTES - SCAN_SLACK);
    CHECK(with_list.heap <= base.heap + SCAN_LIST_BYTES + SCAN_SLACK);
    scan_held[0] = scan_held[1] = NULL;
    scan_after_gc();
    scan_figures dropped = scan_after_gc();
    CHECK(dropped.heap <= base.heap + SCAN_SLACK);

    /* Parked goroutines' stacks are scanned for the part they use. */
    scan_release = make_int_chan(0);
    gort_waitgroup_add(&scan_parked, SCAN_PARKERS);
    gort_waitgroup_add(&scan_done, SCAN_PARKERS);
    for (int i = 0; i < SCAN_PARKERS; i++)
        REQUIRE(gort_go(scan_parker, NULL) == GORT_OK);
    gort_waitgroup_wait(&scan_parked);
    scan_figures parked = scan_after_gc();
    CHECK(parked.stack >= dropped.stack + SCAN_PARKERS * SCAN_STACK_PAD);
    CHECK(parked.stack <= dropped.stack + SCAN_PARKERS * GORT_DEFAULT_STACK_SIZE);
    gort_chan_close(scan_release);
    gort_waitgroup_wait(&scan_done);
    AWAIT(gort_num_goroutine() == 1);
    CHECK(scan_after_gc().stack < parked.stack - SCAN_PARKERS * SCAN_STACK_PAD / 2);
    REQUIRE(gort_remove_roots(scan_held) == GORT_OK);
}

TEST(metrics_scan_bytes_are_what_the_last_cycle_scanned) { run_main(1, scan_main, NULL); }

/* ---- time asleep on a mutex ---- */

/* The waiter's transitions out of running are sleeps on a mutex the main
 * goroutine holds for MUTEX_HOLD_NS, MUTEX_WAITS of them: one in
 * SCHED_LATENCY_PERIOD is sampled, so whole periods of them have
 * MUTEX_WAITS / SCHED_LATENCY_PERIOD sampled (4 on wasm, 16 natively).
 * On a loaded machine the waiter may also be preempted at the mutex's
 * safepoint now and then (main's timer is due), and a sampled transition
 * may be that yield instead: the bound allows for half of them. */
#define MUTEX_WAITS 512
#define MUTEX_HOLD_NS ((int64_t)1000000)
_Static_assert(MUTEX_WAITS % SCHED_LATENCY_PERIOD == 0, "whole sampling periods");

static gort_mutex mutex_baton[2];
static atomic_int mutex_passes;

static void mutex_waiter(void *arg)
{
    (void)arg;
    for (int i = 0; i < MUTEX_WAITS; i++) {
        gort_mutex_lock(&mutex_baton[i % 2]);
        gort_mutex_unlock(&mutex_baton[i % 2]);
        atomic_fetch_add(&mutex_passes, 1);
    }
}

static void mutex_wait_main(void *arg)
{
    (void)arg;
    double before = read_f64("/sync/mutex/wait/total:seconds");
    gort_mutex_lock(&mutex_baton[0]);
    gort_mutex_lock(&mutex_baton[1]);
    REQUIRE(gort_go(mutex_waiter, NULL) == GORT_OK);
    for (int i = 0; i < MUTEX_WAITS; i++) {
        /* On one P the waiter runs now and sleeps on baton i % 2. */
        gort_sleep(MUTEX_HOLD_NS);
        gort_mutex_unlock(&mutex_baton[i % 2]);
        AWAIT(atomic_load(&mutex_passes) == i + 1);
        /* The waiter sleeps on the other baton now; this one is ours again
         * before it comes back to it. */
        if (i + 2 < MUTEX_WAITS)
            gort_mutex_lock(&mutex_baton[i % 2]);
    }
    AWAIT(gort_num_goroutine() == 1);
    double waited = read_f64("/sync/mutex/wait/total:seconds") - before;
    CHECK(waited >= 0.5 * MUTEX_WAITS * (double)MUTEX_HOLD_NS * 1e-9);
}

TEST(metrics_mutex_wait_counts_goroutines_asleep_on_a_mutex) { run_main(1, mutex_wait_main, NULL); }
