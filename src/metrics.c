/*
 * metrics.c — the runtime's metrics by name (gort/metrics.h, Go's
 * runtime/metrics): a table of the supported names, each with the function
 * that reads it from the runtime's counters, and the counters only this
 * file keeps (pause histograms, CPU time by class).
 *
 * Invariants:
 *  - every counter here is an atomic that only grows, so a reader needs no
 *    lock and sees each one whole;
 *  - the pause histograms count one value per stop-the-world, at its end;
 *    /sched/pauses/total/gc and /gc/pauses (Go's older name) are the same;
 *  - /sched/latencies counts one sampled runnable spell per value (proc.c
 *    samples one goroutine transition in SCHED_LATENCY_PERIOD, as Go does
 *    one in 8);
 *    its buckets are the pauses';
 *  - heap bytes allocated and freed are per size class counts times the
 *    class's size (counted when a cache takes a span and gives it back, as
 *    the object counts) plus large objects' pages;
 *  - CPU classes are estimates as Go's are: GOMAXPROCS x wall time is the
 *    total; the collector's dedicated mark counts as one P for its wall
 *    time, a pause as every P; user = total - gc - idle.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "gort/metrics.h"
#include "gort/mstats.h"
#include "gort/proc.h"
#include "gort/trace.h"
#include "mgc.h"
#include "observe.h"
#include "prim/prim.h"

/* Pause buckets: 4 per power of two from 1 ns to 2^PAUSE_TOP_EXP ns (about
 * 69 s), a first bucket for 0 and a last one up to +Inf. */
#define PAUSE_SUB_BUCKETS 4
#define PAUSE_TOP_EXP 36
#define PAUSE_BUCKETS (2 + PAUSE_TOP_EXP * PAUSE_SUB_BUCKETS)

enum pause_histogram {
    PAUSE_STOPPING_GC,
    PAUSE_TOTAL_GC,
    PAUSE_STOPPING_OTHER,
    PAUSE_TOTAL_OTHER,
    PAUSE_HISTOGRAMS,
};

static struct {
    _Atomic uint64_t pauses[PAUSE_HISTOGRAMS][PAUSE_BUCKETS];
    _Atomic uint64_t sched_latencies[PAUSE_BUCKETS];
    _Atomic int64_t pause_cpu_ns;
    _Atomic int64_t assist_ns;
    _Atomic int64_t dedicated_ns;
    _Atomic int64_t idle_ns;
    _Atomic int64_t mutex_wait_ns;
    /* GOMAXPROCS x wall time of the runtimes that ran before this one. */
    _Atomic int64_t past_cpu_ns;
    _Atomic int64_t run_started;
    _Atomic int32_t run_procs;
} mt;

/* Boundaries in seconds, PAUSE_BUCKETS + 1 of them. */
static double pause_bounds[PAUSE_BUCKETS + 1];
/* Allocation sizes: class k's objects fall in [size(k-1)+1, size(k)+1);
 * large objects in the last bucket. */
static double size_bounds[NUM_SIZE_CLASSES + 1];

static void bounds_setup(void)
{
    pause_bounds[0] = 0;
    int b = 1;
    double power = 1e-9; /* 2^e ns, in seconds */
    for (int e = 0; e < PAUSE_TOP_EXP; e++, power *= 2)
        for (int k = 0; k < PAUSE_SUB_BUCKETS; k++)
            pause_bounds[b++] = power * (1.0 + (double)k / PAUSE_SUB_BUCKETS);
    pause_bounds[b++] = power;
    pause_bounds[b] = INFINITY;
    sizeclasses_init();
    size_bounds[0] = 1;
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++)
        size_bounds[c] = (double)class_to_size[c] + 1;
    size_bounds[NUM_SIZE_CLASSES] = INFINITY;
}

static once bounds_ready = ONCE_INIT;

static size_t pause_bucket(int64_t ns)
{
    double s = (double)ns * 1e-9;
    size_t lo = 0, hi = PAUSE_BUCKETS; /* bounds[lo] <= s < bounds[hi] */
    if (ns <= 0)
        return 0;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (pause_bounds[mid] <= s)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

void metrics_record_pause(int64_t stopping_ns, int64_t total_ns, bool gc)
{
    once_do(&bounds_ready, bounds_setup);
    int which = gc ? PAUSE_STOPPING_GC : PAUSE_STOPPING_OTHER;
    atomic_fetch_add_explicit(&mt.pauses[which][pause_bucket(stopping_ns)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&mt.pauses[which + 1][pause_bucket(total_ns)], 1, memory_order_relaxed);
    int32_t procs = atomic_load_explicit(&mt.run_procs, memory_order_relaxed);
    atomic_fetch_add_explicit(&mt.pause_cpu_ns, total_ns * (procs > 0 ? procs : 1), memory_order_relaxed);
}

void metrics_record_sched_latency(int64_t ns)
{
    once_do(&bounds_ready, bounds_setup);
    atomic_fetch_add_explicit(&mt.sched_latencies[pause_bucket(ns)], 1, memory_order_relaxed);
}

void metrics_add_mutex_wait(int64_t ns)
{
    atomic_fetch_add_explicit(&mt.mutex_wait_ns, ns, memory_order_relaxed);
}
void metrics_add_idle(int64_t ns) { atomic_fetch_add_explicit(&mt.idle_ns, ns, memory_order_relaxed); }
void metrics_add_assist(int64_t ns) { atomic_fetch_add_explicit(&mt.assist_ns, ns, memory_order_relaxed); }
void metrics_add_dedicated(int64_t ns) { atomic_fetch_add_explicit(&mt.dedicated_ns, ns, memory_order_relaxed); }

void metrics_runtime_started(int nprocs)
{
    atomic_store(&mt.run_started, prim_nanotime());
    atomic_store(&mt.run_procs, nprocs);
}

void metrics_procs_changed(int nprocs)
{
    int64_t now = prim_nanotime();
    int64_t started = atomic_exchange(&mt.run_started, now);
    if (started != 0)
        atomic_fetch_add(&mt.past_cpu_ns, (now - started) * atomic_load(&mt.run_procs));
    atomic_store(&mt.run_procs, nprocs);
}

void metrics_runtime_stopped(void)
{
    int64_t started = atomic_exchange(&mt.run_started, 0);
    if (started != 0)
        atomic_fetch_add(&mt.past_cpu_ns, (prim_nanotime() - started) * atomic_load(&mt.run_procs));
}

/* ---- reading ---- */

/* What one gort_read_metrics call reads once for all its samples. */
typedef struct reading {
    bool have_memstats;
    gort_memstats *ms;
    int64_t now;
} reading;

static mutex memstats_lock = MUTEX_INIT;
static gort_memstats memstats; /* about 4 KB: too big for a goroutine's stack on wasm */

static const gort_memstats *ms(reading *r)
{
    if (!r->have_memstats) {
        gort_read_memstats(&memstats);
        r->have_memstats = true;
    }
    return &memstats;
}

static double seconds(int64_t ns) { return (double)ns * 1e-9; }

static int64_t cpu_total_ns(reading *r)
{
    int64_t started = atomic_load(&mt.run_started);
    int64_t now_run = started != 0 ? (r->now - started) * atomic_load(&mt.run_procs) : 0;
    return atomic_load(&mt.past_cpu_ns) + now_run;
}

static int64_t cpu_gc_ns(void)
{
    return atomic_load(&mt.pause_cpu_ns) + atomic_load(&mt.assist_ns) + atomic_load(&mt.dedicated_ns);
}

static uint64_t memory_total(reading *r)
{
    const gort_memstats *m = ms(r);
    return m->heap_sys + m->stack_sys + m->mspan_inuse * sizeof(mspan) + m->arena_meta_sys +
           m->goroutine_sys;
}

static void set_u64(gort_metric_sample *s, uint64_t v)
{
    s->kind = GORT_METRIC_UINT64;
    s->value.u64 = v;
}

static void set_f64(gort_metric_sample *s, double v)
{
    s->kind = GORT_METRIC_FLOAT64;
    s->value.f64 = v;
}

static void set_hist(gort_metric_sample *s, const double *bounds, size_t n, uint64_t (*count)(size_t, void *),
                     void *arg)
{
    s->kind = GORT_METRIC_HISTOGRAM;
    s->value.hist.ncounts = n;
    s->value.hist.buckets = bounds;
    if (s->value.hist.counts != NULL)
        for (size_t i = 0; i < n && i < s->value.hist.counts_cap; i++)
            s->value.hist.counts[i] = count(i, arg);
}

static uint64_t pause_count(size_t i, void *arg)
{
    _Atomic uint64_t *h = arg;
    return atomic_load_explicit(&h[i], memory_order_relaxed);
}

static void pauses(gort_metric_sample *s, int which)
{
    set_hist(s, pause_bounds, PAUSE_BUCKETS, pause_count, mt.pauses[which]);
}

static uint64_t allocs_by_size(size_t i, void *arg)
{
    const gort_memstats *m = arg;
    size_t c = i + 1 < NUM_SIZE_CLASSES ? i + 1 : 0; /* the last bucket: large objects */
    return m->by_size[c].mallocs;
}

static uint64_t frees_by_size(size_t i, void *arg)
{
    const gort_memstats *m = arg;
    size_t c = i + 1 < NUM_SIZE_CLASSES ? i + 1 : 0;
    return m->by_size[c].frees;
}

typedef void (*metric_reader)(gort_metric_sample *s, reading *r);

#define M(id) static void read_##id(gort_metric_sample *s, reading *r)

M(cycles_automatic) { set_u64(s, ms(r)->num_gc - ms(r)->num_forced_gc); }
M(cycles_forced) { set_u64(s, ms(r)->num_forced_gc); }
M(cycles_total) { set_u64(s, ms(r)->num_gc); }
M(gogc)
{
    (void)r;
    int32_t p = atomic_load(&gcController.gc_percent);
    set_u64(s, p < 0 ? 0 : (uint64_t)p);
}
M(gomemlimit)
{
    (void)r;
    set_u64(s, (uint64_t)atomic_load(&gcController.memory_limit));
}
M(heap_goal)
{
    (void)r;
    set_u64(s, atomic_load(&gcController.goal));
}
M(heap_live)
{
    (void)r;
    set_u64(s, atomic_load(&gcController.heap_marked));
}
M(heap_objects) { set_u64(s, ms(r)->heap_objects); }
M(heap_allocs_objects)
{
    set_u64(s, ms(r)->mallocs - atomic_load_explicit(&mheap_.tiny_allocs, memory_order_relaxed));
}
M(heap_frees_objects) { set_u64(s, ms(r)->frees); }
/* Bytes of large objects plus each size class's count times its slot size. */
static uint64_t heap_bytes(const _Atomic uint64_t *large, const _Atomic uint64_t *by_class)
{
    uint64_t b = atomic_load_explicit(large, memory_order_relaxed);
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++)
        b += atomic_load_explicit(&by_class[c], memory_order_relaxed) * class_to_size[c];
    return b;
}
M(heap_allocs_bytes)
{
    (void)r;
    set_u64(s, heap_bytes(&mheap_.large_bytes_total, mheap_.small_allocs));
}
M(heap_frees_bytes)
{
    (void)r;
    set_u64(s, heap_bytes(&mheap_.large_bytes_freed, mheap_.small_frees));
}
M(heap_tiny_allocs)
{
    (void)r;
    set_u64(s, atomic_load_explicit(&mheap_.tiny_allocs, memory_order_relaxed));
}
M(allocs_by_size)
{
    ms(r);
    set_hist(s, size_bounds, NUM_SIZE_CLASSES, allocs_by_size, r->ms);
}
M(frees_by_size)
{
    ms(r);
    set_hist(s, size_bounds, NUM_SIZE_CLASSES, frees_by_size, r->ms);
}
M(pauses_gc_total)
{
    (void)r;
    pauses(s, PAUSE_TOTAL_GC);
}
M(pauses_gc_stopping)
{
    (void)r;
    pauses(s, PAUSE_STOPPING_GC);
}
M(pauses_other_total)
{
    (void)r;
    pauses(s, PAUSE_TOTAL_OTHER);
}
M(pauses_other_stopping)
{
    (void)r;
    pauses(s, PAUSE_STOPPING_OTHER);
}
M(sched_latencies)
{
    (void)r;
    set_hist(s, pause_bounds, PAUSE_BUCKETS, pause_count, mt.sched_latencies);
}
M(gomaxprocs)
{
    (void)r;
    /* The last run's count once the runtime stopped. */
    int running = gort_gomaxprocs();
    set_u64(s, running > 0 ? (uint64_t)running : __atomic_load_n(&gort_trace_rings()->nprocs, __ATOMIC_RELAXED));
}
M(goroutines)
{
    (void)r;
    set_u64(s, (uint64_t)gort_num_goroutine());
}
M(mem_heap_objects) { set_u64(s, ms(r)->heap_alloc); }
M(mem_heap_unused)
{
    const gort_memstats *m = ms(r);
    set_u64(s, m->heap_inuse > m->heap_alloc ? m->heap_inuse - m->heap_alloc : 0);
}
M(mem_heap_free) { set_u64(s, ms(r)->heap_idle); }
M(mem_stacks) { set_u64(s, ms(r)->stack_sys); }
M(mem_mspan) { set_u64(s, ms(r)->mspan_inuse * sizeof(mspan)); }
M(mem_other) { set_u64(s, ms(r)->arena_meta_sys + ms(r)->goroutine_sys); }
M(mem_total) { set_u64(s, memory_total(r)); }
M(cpu_assist)
{
    (void)r;
    set_f64(s, seconds(atomic_load(&mt.assist_ns)));
}
M(cpu_dedicated)
{
    (void)r;
    set_f64(s, seconds(atomic_load(&mt.dedicated_ns)));
}
M(cpu_pause)
{
    (void)r;
    set_f64(s, seconds(atomic_load(&mt.pause_cpu_ns)));
}
M(cpu_gc_total)
{
    (void)r;
    set_f64(s, seconds(cpu_gc_ns()));
}
M(cpu_idle)
{
    (void)r;
    set_f64(s, seconds(atomic_load(&mt.idle_ns)));
}
M(cpu_total) { set_f64(s, seconds(cpu_total_ns(r))); }
M(cpu_user)
{
    int64_t user = cpu_total_ns(r) - cpu_gc_ns() - atomic_load(&mt.idle_ns);
    set_f64(s, seconds(user > 0 ? user : 0));
}

M(mutex_wait)
{
    (void)r;
    set_f64(s, seconds(atomic_load(&mt.mutex_wait_ns)));
}
M(scan_globals)
{
    (void)r;
    set_u64(s, atomic_load(&gcController.globals_scan));
}
M(scan_heap)
{
    (void)r;
    set_u64(s, atomic_load(&gcController.heap_scan));
}
M(scan_stack)
{
    (void)r;
    set_u64(s, atomic_load(&gcController.stack_scan));
}
M(scan_total)
{
    (void)r;
    set_u64(s, atomic_load(&gcController.globals_scan) + atomic_load(&gcController.heap_scan) +
                   atomic_load(&gcController.stack_scan));
}
M(stack_starting_size)
{
    (void)r;
    set_u64(s, sched_default_stack_size());
}

#undef M

static const struct metric {
    gort_metric_description d;
    metric_reader read;
} metrics[] = {
#define U GORT_METRIC_UINT64
#define F GORT_METRIC_FLOAT64
#define H GORT_METRIC_HISTOGRAM
    {{"/cpu/classes/gc/mark/assist:cpu-seconds",
      "CPU time goroutines spent helping the collector mark (assists) because they allocated during a mark.",
      F, true}, read_cpu_assist},
    {{"/cpu/classes/gc/mark/dedicated:cpu-seconds",
      "Time the collector's own thread spent in the concurrent mark (wall time, counted as one P).", F, true},
     read_cpu_dedicated},
    {{"/cpu/classes/gc/pause:cpu-seconds",
      "Stop-the-world pause time multiplied by GOMAXPROCS.", F, true}, read_cpu_pause},
    {{"/cpu/classes/gc/total:cpu-seconds", "Estimated CPU time spent collecting: the sum of /cpu/classes/gc/*.",
      F, true}, read_cpu_gc_total},
    {{"/cpu/classes/idle:cpu-seconds", "Time Ps spent idle (no thread holding them).", F, true}, read_cpu_idle},
    {{"/cpu/classes/total:cpu-seconds", "GOMAXPROCS multiplied by the wall time runtimes have run.", F, true},
     read_cpu_total},
    {{"/cpu/classes/user:cpu-seconds",
      "Estimated CPU time available to goroutines: total minus gc minus idle.", F, true}, read_cpu_user},
    {{"/gc/cycles/automatic:gc-cycles", "Collection cycles the runtime started itself.", U, true},
     read_cycles_automatic},
    {{"/gc/cycles/forced:gc-cycles", "Collection cycles asked for with gort_gc.", U, true}, read_cycles_forced},
    {{"/gc/cycles/total:gc-cycles", "All completed collection cycles.", U, true}, read_cycles_total},
    {{"/gc/gogc:percent", "GOGC (gort_set_gc_percent); 0 when collection is off.", U, false}, read_gogc},
    {{"/gc/gomemlimit:bytes", "GOMEMLIMIT (gort_set_memory_limit).", U, false}, read_gomemlimit},
    {{"/gc/heap/allocs-by-size:bytes",
      "Objects allocated by size (class sizes; large objects in the last bucket); tiny allocations not included.",
      H, true}, read_allocs_by_size},
    {{"/gc/heap/allocs:bytes",
      "Bytes allocated: size class sizes (whole tiny blocks; free slots of cached spans count as allocated until "
      "the cache gives the span back) and large objects' pages.", U, true}, read_heap_allocs_bytes},
    {{"/gc/heap/allocs:objects",
      "Objects allocated, tiny ones not included (free slots of cached spans count as allocated until the cache "
      "gives the span back).", U, true}, read_heap_allocs_objects},
    {{"/gc/heap/frees-by-size:bytes", "Objects freed by size, as allocs-by-size.", H, true}, read_frees_by_size},
    {{"/gc/heap/frees:bytes", "Bytes freed by the sweeper, counted as allocs:bytes counts them.", U, true},
     read_heap_frees_bytes},
    {{"/gc/heap/frees:objects", "Objects freed by the sweeper.", U, true}, read_heap_frees_objects},
    {{"/gc/heap/goal:bytes", "The heap size the current or next cycle aims to end under.", U, false},
     read_heap_goal},
    {{"/gc/heap/live:bytes", "Heap bytes marked live by the last completed cycle.", U, false}, read_heap_live},
    {{"/gc/heap/objects:objects",
      "Objects allocated and not yet freed (each tiny allocation counts as one until its block is freed).", U,
      false}, read_heap_objects},
    {{"/gc/heap/tiny/allocs:objects",
      "Small pointer-free allocations packed together into 16-byte blocks (not in allocs:objects).", U, true},
     read_heap_tiny_allocs},
    {{"/gc/pauses:seconds", "Stop-the-world pauses (Go's older name for /sched/pauses/total/gc:seconds).", H,
      true}, read_pauses_gc_total},
    {{"/gc/scan/globals:bytes", "Bytes of registered root regions (gort_add_roots) the last cycle scanned.", U,
      false}, read_scan_globals},
    {{"/gc/scan/heap:bytes",
      "Bytes of heap objects the last cycle scanned (whole objects that may hold pointers; Go's heapScan).", U,
      false}, read_scan_heap},
    {{"/gc/scan/stack:bytes", "Bytes of goroutine stacks (the part in use) the last cycle scanned.", U, false},
     read_scan_stack},
    {{"/gc/scan/total:bytes", "The sum of /gc/scan/*.", U, false}, read_scan_total},
    {{"/gc/stack/starting-size:bytes", "The stack size of new goroutines (gort_config's stack_size).", U, false},
     read_stack_starting_size},
    {{"/memory/classes/heap/free:bytes", "Free heap pages (mapped, holding no span).", U, false},
     read_mem_heap_free},
    {{"/memory/classes/heap/objects:bytes", "Bytes of allocated heap objects.", U, false}, read_mem_heap_objects},
    {{"/memory/classes/heap/stacks:bytes",
      "Memory reserved for goroutine stacks (gort's stacks come from slabs of their own, not the heap).", U,
      false}, read_mem_stacks},
    {{"/memory/classes/heap/unused:bytes", "Free slots in spans in use.", U, false}, read_mem_heap_unused},
    {{"/memory/classes/metadata/mspan/inuse:bytes", "Span structures in use.", U, false}, read_mem_mspan},
    {{"/memory/classes/metadata/other:bytes", "Arena metadata, goroutine and waiter structures.", U, false},
     read_mem_other},
    {{"/memory/classes/total:bytes", "The sum of /memory/classes/*.", U, false}, read_mem_total},
    {{"/sched/gomaxprocs:threads", "GOMAXPROCS of the runtime running (or last run).", U, false},
     read_gomaxprocs},
    {{"/sched/goroutines:goroutines", "Live goroutines (the runtime's own not counted).", U, false},
     read_goroutines},
    {{"/sched/latencies:seconds",
      "Time goroutines spent runnable before running, sampled: one runnable spell in 32 of each goroutine (128 on "
      "wasm; Go: 8).", H,
      true}, read_sched_latencies},
    {{"/sched/pauses/stopping/gc:seconds",
      "Time from a collector's stop-the-world request until every P stopped, per pause.", H, true},
     read_pauses_gc_stopping},
    {{"/sched/pauses/stopping/other:seconds",
      "As stopping/gc for pauses not the collector's (gort has none).", H, true}, read_pauses_other_stopping},
    {{"/sched/pauses/total/gc:seconds",
      "Collector pauses from the stop request until the world started again (stopping + stopped).", H, true},
     read_pauses_gc_total},
    {{"/sched/pauses/total/other:seconds", "As total/gc for pauses not the collector's (gort has none).", H,
      true}, read_pauses_other_total},
    {{"/sync/mutex/wait/total:seconds",
      "Approximate time goroutines spent asleep on a sync Mutex or RWMutex (sampled as /sched/latencies, scaled "
      "up; Go 1.21's meaning: the runtime's own locks are not counted).", F, true}, read_mutex_wait},
#undef U
#undef F
#undef H
};

#define NUM_METRICS (sizeof metrics / sizeof metrics[0])

static gort_metric_description all_descriptions[NUM_METRICS];

static void descriptions_setup(void)
{
    for (size_t i = 0; i < NUM_METRICS; i++)
        all_descriptions[i] = metrics[i].d;
}

const gort_metric_description *gort_all_metrics(size_t *count)
{
    static once ready = ONCE_INIT;
    once_do(&ready, descriptions_setup);
    *count = NUM_METRICS;
    return all_descriptions;
}

void gort_read_metrics(gort_metric_sample *samples, size_t n)
{
    once_do(&bounds_ready, bounds_setup);
    lock(&memstats_lock);
    reading r = {.ms = &memstats, .now = prim_nanotime()};
    for (size_t i = 0; i < n; i++) {
        gort_metric_sample *s = &samples[i];
        const struct metric *found = NULL;
        for (size_t k = 0; k < NUM_METRICS && s->name != NULL && found == NULL; k++)
            if (strcmp(metrics[k].d.name, s->name) == 0)
                found = &metrics[k];
        if (found == NULL) {
            s->kind = GORT_METRIC_BAD;
            continue;
        }
        found->read(s, &r);
    }
    unlock(&memstats_lock);
}
