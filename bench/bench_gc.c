/*
 * bench_gc.c — the collector under the allocation-heavy programs that Go's
 * and Boehm's collectors are measured with:
 *  - binary-trees (the Computer Language Benchmarks Game program, sequential
 *    as Go's peer program runs it) at depth 16 and 18: total time, cycles,
 *    the longest and the median stop-the-world pause per cycle (both pauses
 *    of a cycle summed, as Go's PauseNs), peak heap (arenas mapped, which
 *    gort never returns: Go's HeapSys), the process's peak resident memory
 *    (what the heap and everything else really took from the machine:
 *    natively gort maps its arenas 64 MB at a time, and Go counts its
 *    HeapSys in 4 MB steps, so HeapSys alone tells little); the
 *    collector's CPU share the runner reads from this program's gctrace
 *    lines (run with gctrace=1), as it does Go's;
 *  - Boehm's GCBench (trees built top-down and bottom-up at growing depths
 *    beside a long-lived tree and a large array of doubles);
 *  - barrier_storm: old objects' pointers rewritten all the time while
 *    some are replaced (the package's barrier_storm workload for a fixed
 *    number of rewires), so that much of the program runs with the write
 *    barrier on: what the barrier costs.
 * Each program checks its own result and exits non-zero when it is wrong.
 * The tree walks call gort_safepoint, the check Go's compiler puts at every
 * function entry: without it a walk over a large tree (which never
 * allocates) would hold up each stop-the-world for the whole walk.
 *
 * Prints one line per figure: RESULT <name> <value> <unit>, and every pause
 * of the program (the last 256 cycles') in microseconds: PAUSES <name> <us>...
 *
 *   gort_bench_gc binary_trees_dN|gcbench|barrier_storm [quick] [procs=N] [GODEBUG settings]
 *
 * runs on 2 Ps unless procs=N says otherwise; quick lowers GCBench's depths
 * by GCBENCH_QUICK_CUT and the storm's rewires by STORM_QUICK_CUT
 * (binary-trees is made smaller by its depth).
 */
#include <gort/gort.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#endif

typedef struct node {
    struct node *left;
    struct node *right;
} node;

static const gort_type node_type =
    GORT_TYPE(node, "node", GORT_PTR_FIELD(node, left) | GORT_PTR_FIELD(node, right));

static bool failed;

/* ---- binary-trees ---- */

static node *bottom_up(int depth)
{
    node *n = gort_new(&node_type);
    if (n == NULL) {
        fprintf(stderr, "bench_gc: out of memory\n");
        exit(1);
    }
    if (depth > 0) {
        GORT_STORE(n->left, bottom_up(depth - 1));
        GORT_STORE(n->right, bottom_up(depth - 1));
    }
    return n;
}

static long item_check(const node *n)
{
    gort_safepoint(); /* what Go's compiler puts at the function's entry */
    return n->left == NULL ? 1 : 1 + item_check(n->left) + item_check(n->right);
}

static void binary_trees(void *arg)
{
    int max_depth = *(int *)arg;
    const int min_depth = 4;
    long stretch = item_check(bottom_up(max_depth + 1));
    if (stretch != (2L << (max_depth + 1)) - 1)
        failed = true;
    node *long_lived = bottom_up(max_depth);
    for (int d = min_depth; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + min_depth);
        long check = 0;
        for (long i = 0; i < iterations; i++)
            check += item_check(bottom_up(d));
        if (check != iterations * ((2L << d) - 1))
            failed = true;
    }
    if (item_check(long_lived) != (2L << max_depth) - 1)
        failed = true;
}

/* ---- GCBench (after Boehm's, Ellis' and Kovac's GCBench.java) ---- */

#define GCBENCH_STRETCH_DEPTH 18
#define GCBENCH_LONG_LIVED_DEPTH 16
#define GCBENCH_ARRAY_SIZE 500000
#define GCBENCH_MIN_DEPTH 4
#define GCBENCH_MAX_DEPTH 16
#define GCBENCH_QUICK_CUT 2
/* How many of the array's elements its fill sets between safepoints. */
#define GCBENCH_SAFEPOINT_EVERY 4096
#define DEFAULT_PROCS 2

static int depth_cut; /* GCBENCH_QUICK_CUT in quick mode */

static int tree_size(int depth) { return (1 << (depth + 1)) - 1; }
static int num_iters(int depth) { return 2 * tree_size(GCBENCH_STRETCH_DEPTH - depth_cut) / tree_size(depth); }

static node *new_node(void)
{
    node *n = gort_new(&node_type);
    if (n == NULL) {
        fprintf(stderr, "bench_gc: out of memory\n");
        exit(1);
    }
    return n;
}

/* Builds top-down: children are stored into a node already in the tree. */
static void populate(int depth, node *n)
{
    if (depth <= 0)
        return;
    GORT_STORE(n->left, new_node());
    GORT_STORE(n->right, new_node());
    populate(depth - 1, n->left);
    populate(depth - 1, n->right);
}

static node *make_tree(int depth)
{
    node *n = new_node();
    if (depth > 0) {
        GORT_STORE(n->left, make_tree(depth - 1));
        GORT_STORE(n->right, make_tree(depth - 1));
    }
    return n;
}

static long count_nodes(const node *n)
{
    gort_safepoint();
    return n == NULL ? 0 : 1 + count_nodes(n->left) + count_nodes(n->right);
}

static void gcbench(void *arg)
{
    (void)arg;
    const int stretch = GCBENCH_STRETCH_DEPTH - depth_cut;
    const int long_lived_depth = GCBENCH_LONG_LIVED_DEPTH - depth_cut;
    if (count_nodes(make_tree(stretch)) != tree_size(stretch))
        failed = true;
    node *long_lived = new_node();
    populate(long_lived_depth, long_lived);
    double *array = gort_alloc_bytes(GCBENCH_ARRAY_SIZE * sizeof(double));
    for (int i = 0; i < GCBENCH_ARRAY_SIZE / 2; i++) {
        /* A loop that never calls the runtime cannot be stopped (Go
         * preempts it with a signal): this one touches 2 MB of fresh
         * pages, and their faults made it run 5 ms without a safepoint
         * on a VM, a stop-the-world waiting for it all along. */
        if (i % GCBENCH_SAFEPOINT_EVERY == 0)
            gort_safepoint();
        array[i] = 1.0 / i;
    }
    for (int d = GCBENCH_MIN_DEPTH; d <= GCBENCH_MAX_DEPTH - depth_cut; d += 2) {
        int iters = num_iters(d);
        for (int i = 0; i < iters; i++) {
            node *t = new_node();
            populate(d, t);
            if (count_nodes(t) != tree_size(d))
                failed = true;
        }
        for (int i = 0; i < iters; i++)
            if (count_nodes(make_tree(d)) != tree_size(d))
                failed = true;
    }
    if (count_nodes(long_lived) != tree_size(long_lived_depth) ||
        array[1000] != 1.0 / 1000)
        failed = true;
}

/* ---- barrier storm ---- */

#define STORM_LINKS 4
#define STORM_ROOTS ((size_t)1 << 18)
#define STORM_REWIRES ((long)40 * 1000 * 1000)
#define STORM_QUICK_CUT 10
/* One rewire in this many also replaces a root's node (the allocation
 * that keeps the collector cycling). */
#define STORM_REPLACE_EVERY 8

typedef struct storm_node {
    struct storm_node *links[STORM_LINKS];
    uint64_t id;
    uint64_t check;
} storm_node;

static const gort_type storm_node_type =
    GORT_TYPE(storm_node, "storm node", GORT_PTR_ARRAY_FIELD(storm_node, links, STORM_LINKS));
static const gort_type storm_table_type = GORT_TYPE(storm_node *, "storm table", 1);

static uint64_t storm_check(uint64_t id) { return id * 0x9e3779b97f4a7c15u ^ 0x5bd1e995u; }

static storm_node *storm_new(uint64_t id)
{
    storm_node *s = gort_new(&storm_node_type);
    if (s == NULL) {
        fprintf(stderr, "bench_gc: out of memory\n");
        exit(1);
    }
    s->id = id;
    s->check = storm_check(id);
    return s;
}

static void barrier_storm(void *arg)
{
    (void)arg;
    storm_node **roots = gort_new_array(&storm_table_type, STORM_ROOTS);
    if (roots == NULL) {
        fprintf(stderr, "bench_gc: out of memory\n");
        exit(1);
    }
    uint64_t ids = 0, x = 88172645463325252u;
    for (size_t i = 0; i < STORM_ROOTS; i++)
        GORT_STORE(roots[i], storm_new(++ids));
    long rewires = STORM_REWIRES / (depth_cut ? STORM_QUICK_CUT : 1);
    for (long k = 0; k < rewires; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        storm_node *a = roots[x % STORM_ROOTS], *b = roots[(x >> 20) % STORM_ROOTS];
        GORT_STORE(a->links[(x >> 40) % STORM_LINKS], b);
        if ((x >> 50) % STORM_REPLACE_EVERY == 0)
            GORT_STORE(roots[(x >> 8) % STORM_ROOTS], storm_new(++ids));
        if (k % 4096 == 0)
            gort_safepoint();
    }
    /* Every root's node and every node its links reach is whole. */
    for (size_t i = 0; i < STORM_ROOTS; i++) {
        const storm_node *s = roots[i];
        if (s->check != storm_check(s->id))
            failed = true;
        for (int l = 0; l < STORM_LINKS; l++)
            if (s->links[l] != NULL && s->links[l]->check != storm_check(s->links[l]->id))
                failed = true;
    }
}


/* The process's peak resident memory in bytes (Linux's VmHWM; on wasm the
 * Node process's, as Go js/wasm's figure is); 0 where it cannot be read. */
#ifdef __EMSCRIPTEN__
EM_JS(double, peak_rss_bytes, (void), {
    return typeof process === 'object' && typeof process.resourceUsage === 'function'
        ? process.resourceUsage().maxRSS * 1024 : 0;
});
#else
static double peak_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[128];
    double kb = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %lf kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}
#endif

/* ---- measuring ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static gort_memstats stats;

static const char *godebug;
static int procs = DEFAULT_PROCS;

static void measure(const char *name, void (*program)(void *), void *arg)
{
    int64_t start = gort_nanotime();
    gort_config cfg = {.procs = procs, .godebug = godebug};
    uint32_t gc_before;
    gort_read_memstats(&stats);
    gc_before = stats.num_gc;
    int err = gort_main(&cfg, program, arg);
    int64_t elapsed = gort_nanotime() - start;
    if (err != GORT_OK || failed) {
        fprintf(stderr, "bench_gc: %s went wrong (%s)\n", name, gort_strerror(err));
        exit(1);
    }
    gort_read_memstats(&stats);
    uint32_t cycles = stats.num_gc - gc_before;
    uint32_t k = cycles < 256 ? cycles : 256;
    uint64_t pauses[256];
    for (uint32_t i = 0; i < k; i++)
        pauses[i] = stats.pause_ns[(stats.num_gc - 1 - i) % 256];
    qsort(pauses, k, sizeof pauses[0], cmp_u64);
    printf("RESULT %s_time %.1f ms\n", name, elapsed / 1e6);
    printf("RESULT %s_numgc %u count\n", name, cycles);
    printf("RESULT %s_pause_max %.1f us\n", name, k ? pauses[k - 1] / 1e3 : 0.0);
    printf("RESULT %s_pause_p50 %.1f us\n", name, k ? pauses[(k - 1) / 2] / 1e3 : 0.0);
    printf("RESULT %s_pause_p95 %.1f us\n", name, k ? pauses[(k - 1) * 95 / 100] / 1e3 : 0.0);
    printf("RESULT %s_heapsys %.1f MB\n", name, stats.heap_sys / 1048576.0);
    double rss = peak_rss_bytes();
    if (rss > 0)
        printf("RESULT %s_rss %.1f MB\n", name, rss / 1048576.0);
    printf("PAUSES %s", name);
    for (uint32_t i = 0; i < k; i++)
        printf(" %.1f", pauses[i] / 1e3);
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    /* One program per process: peak heap and CPU share are per process. */
    const char *which = argc > 1 ? argv[1] : "binary_trees_d16";
    for (int i = 2; i < argc; i++) {
        int n;
        if (strcmp(argv[i], "quick") == 0)
            depth_cut = GCBENCH_QUICK_CUT;
        else if (sscanf(argv[i], "procs=%d", &n) == 1 && n >= 1)
            procs = n;
        else
            godebug = argv[i]; /* e.g. gctrace=1 */
    }
    if (strcmp(which, "gcbench") == 0) {
        measure("gcbench", gcbench, NULL);
    } else if (strncmp(which, "binary_trees_d", 14) == 0) {
        int depth = atoi(which + 14);
        measure(which, binary_trees, &depth);
    } else if (strcmp(which, "barrier_storm") == 0) {
        measure("barrier_storm", barrier_storm, NULL);
    } else {
        fprintf(stderr, "usage: gort_bench_gc binary_trees_dN|gcbench|barrier_storm [quick] [procs=N] [GODEBUG settings]\n");
        return 2;
    }
    return 0;
}
