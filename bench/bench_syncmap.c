/*
 * bench_syncmap.c — sync.Map, maps behind a lock, the runtime's hash map
 * and context trees:
 *
 *   syncmap_readheavy_KIND   the Go peer's workload (bench/go/syncmap):
 *                            1,000 word keys, 99% Load / 1% Store, 2
 *                            goroutines sharing 1e7 operations, run with 1
 *                            and 2 Ps (Go's _p1 and _p2); KIND is syncmap,
 *                            rwmutex (the runtime map behind an RWMutex) or
 *                            mutex (behind a Mutex); ns per operation
 *   map_lookup_1k, map_lookup_1m
 *                            runtime map lookups that hit, 1,000 and 1e6
 *                            keys (ns/op); map_miss_1m: lookups that miss
 *   map_insert_1m            inserts into a map grown from empty to 1e6
 *                            keys (ns/op, rehashes included)
 *   context_tree_build       WithCancel into a random 10,000-node tree, the
 *                            Done channel asked for on each (ns/context)
 *   context_tree_cancel      cancelling that tree from its root: every Done
 *                            closed, every link undone (us per tree)
 *
 * Each workload runs once at a tenth of its size first (warm-up), then
 * timed; results are checked. `gort_bench_syncmap quick` divides every size
 * by 10; a workload's short name (syncmap, rwmutex, mutex, map, context)
 * runs only that one. Prints RESULT <name> <value> <unit>.
 */
#include "bench.h"
#include "map.h"

static uint64_t xs(uint64_t r)
{
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    return r;
}

/* ---- read-heavy maps ---- */

enum { NKEYS = 1000, WRITE_PCT = 1, WORKERS = 2 };

static const char *kind;
static gort_syncmap *smap;
static hmap *lmap;
static gort_mutex mu;
static gort_rwmutex rw;
static gort_waitgroup wg;
static uint64_t sums[WORKERS];
static long per_worker;

static const maptype words = {NULL, NULL, false, false};

static uint64_t work_syncmap(long n, uint64_t seed)
{
    uint64_t r = seed, s = 0;
    for (long i = 0; i < n; i++) {
        r = xs(r);
        uintptr_t k = (uintptr_t)(r % NKEYS), v;
        if ((r >> 32) % 100 < WRITE_PCT) {
            if (gort_syncmap_store(smap, k, (k + (uintptr_t)i) % NKEYS) != GORT_OK)
                fail("Store failed");
        } else if (gort_syncmap_load(smap, k, &v)) {
            s += v;
        }
    }
    return s;
}

static uint64_t work_locked(long n, uint64_t seed, bool rwlock)
{
    uint64_t r = seed, s = 0;
    for (long i = 0; i < n; i++) {
        r = xs(r);
        uintptr_t k = (uintptr_t)(r % NKEYS), v;
        if ((r >> 32) % 100 < WRITE_PCT) {
            if (rwlock)
                gort_rwmutex_lock(&rw);
            else
                gort_mutex_lock(&mu);
            if (mapassign(lmap, k, k + (uintptr_t)i) != GORT_OK)
                fail("mapassign failed");
            if (rwlock)
                gort_rwmutex_unlock(&rw);
            else
                gort_mutex_unlock(&mu);
        } else {
            if (rwlock)
                gort_rwmutex_rlock(&rw);
            else
                gort_mutex_lock(&mu);
            if (mapaccess2(lmap, k, &v))
                s += v;
            if (rwlock)
                gort_rwmutex_runlock(&rw);
            else
                gort_mutex_unlock(&mu);
        }
    }
    return s;
}

static void map_worker(void *arg)
{
    uintptr_t j = (uintptr_t)arg;
    uint64_t seed = (uint64_t)j * 0x9E3779B97F4A7C15ull + 88172645463325252ull;
    uint64_t s;
    if (strcmp(kind, "syncmap") == 0)
        s = work_syncmap(per_worker, seed);
    else
        s = work_locked(per_worker, seed, strcmp(kind, "rwmutex") == 0);
    sums[j] = s;
    gort_waitgroup_done(&wg);
}

static double readheavy_run(long n)
{
    per_worker = n / WORKERS;
    gort_waitgroup_add(&wg, WORKERS);
    double t = now_ns();
    for (uintptr_t j = 0; j < WORKERS; j++)
        if (gort_go(map_worker, (void *)j) != GORT_OK)
            fail("gort_go failed");
    gort_waitgroup_wait(&wg);
    return now_ns() - t;
}

static void readheavy_main(void *arg)
{
    long n = *(long *)arg;
    smap = gort_syncmap_make(NULL);
    lmap = makemap(&words, NKEYS);
    if (smap == NULL || lmap == NULL)
        fail("make failed");
    for (uintptr_t k = 0; k < NKEYS; k++)
        if (gort_syncmap_store(smap, k, k) != GORT_OK || mapassign(lmap, k, k) != GORT_OK)
            fail("fill failed");
    /* The keys start in the dirty map; the warm-up's first thousand
     * loads promote it, as they do Go's. */
    readheavy_run(n / 10);
    double el = readheavy_run(n);
    long done = per_worker * WORKERS;
    if (sums[0] == 0 || sums[1] == 0)
        fail("no loads hit");
    printf("RESULT syncmap_readheavy_%s%s %.2f ns/op\n", kind, suffix, el / (double)done);
    gort_keep_alive(smap);
    gort_keep_alive(lmap);
}

/* ---- the runtime map alone ---- */

static double map_lookups(hmap *h, long keys, long n, bool hit)
{
    uint64_t r = 88172645463325252ull, s = 0;
    double t = now_ns();
    for (long i = 0; i < n; i++) {
        r = xs(r);
        uintptr_t k = (uintptr_t)(r % (uint64_t)keys) + (hit ? 0 : (uintptr_t)keys);
        uintptr_t v;
        if (mapaccess2(h, k, &v))
            s += v + 1;
    }
    double el = now_ns() - t;
    if (hit ? s == 0 : s != 0)
        fail("map lookups: wrong results");
    return el / (double)n;
}

static void map_main(void *arg)
{
    long n = *(long *)arg;
    hmap *small = makemap(&words, 0);
    if (small == NULL)
        fail("makemap failed");
    for (uintptr_t k = 0; k < 1000; k++)
        if (mapassign(small, k, k) != GORT_OK)
            fail("mapassign failed");
    map_lookups(small, 1000, n / 10, true);
    printf("RESULT map_lookup_1k %.2f ns/op\n", map_lookups(small, 1000, n, true));

    long big = 1000000 / scale_div;
    hmap *h = NULL;
    double insert = 0;
    for (int round = 0; round < 2; round++) { /* the first is the warm-up */
        h = makemap(&words, 0);
        if (h == NULL)
            fail("makemap failed");
        double t = now_ns();
        for (uintptr_t k = 0; k < (uintptr_t)big; k++)
            if (mapassign(h, k, k) != GORT_OK)
                fail("mapassign failed");
        insert = (now_ns() - t) / (double)big;
    }
    printf("RESULT map_insert_1m %.2f ns/op\n", insert);
    map_lookups(h, big, n / 10, true);
    printf("RESULT map_lookup_1m %.2f ns/op\n", map_lookups(h, big, n, true));
    printf("RESULT map_miss_1m %.2f ns/op\n", map_lookups(h, big, n, false));
    gort_keep_alive(small);
    gort_keep_alive(h);
}

/* ---- context trees ---- */

enum { TREE_NODES = 10000, TREE_ROUNDS = 20 };

typedef struct ctx_slot {
    gort_context *c;
} ctx_slot;
static const gort_type ctx_slot_type = GORT_TYPE(ctx_slot, "ctx", GORT_PTR_FIELD(ctx_slot, c));

static void context_main(void *arg)
{
    (void)arg;
    ctx_slot *nodes = gort_new_array(&ctx_slot_type, TREE_NODES);
    if (nodes == NULL)
        fail("allocation failed");
    double build = 0, cancel = 0;
    int rounds = TREE_ROUNDS / (int)scale_div > 2 ? TREE_ROUNDS / (int)scale_div : 2;
    for (int round = -1; round < rounds; round++) { /* -1: warm-up */
        uint64_t r = 88172645463325252ull + (uint64_t)round;
        gort_context *root;
        double t = now_ns();
        if (gort_context_with_cancel(gort_context_background(), &root) != GORT_OK)
            fail("WithCancel failed");
        GORT_STORE(nodes[0].c, root);
        for (int i = 1; i < TREE_NODES; i++) {
            r = xs(r);
            gort_context *c;
            if (gort_context_with_cancel(nodes[r % (uint64_t)i].c, &c) != GORT_OK ||
                gort_context_done(c) == NULL)
                fail("WithCancel failed");
            GORT_STORE(nodes[i].c, c);
        }
        double t1 = now_ns();
        gort_context_cancel(root);
        double t2 = now_ns();
        if (gort_context_err(nodes[TREE_NODES - 1].c) != GORT_ECANCELED)
            fail("tree not cancelled");
        if (round >= 0) {
            build += t1 - t;
            cancel += t2 - t1;
        }
    }
    printf("RESULT context_tree_build %.1f ns/context\n", build / rounds / TREE_NODES);
    printf("RESULT context_tree_cancel %.1f us/tree\n", cancel / rounds / 1000.0);
    gort_keep_alive(nodes);
}

int main(int argc, char **argv)
{
    bench_args("bench_syncmap", argc, argv);
    static const char *kinds[] = {"syncmap", "rwmutex", "mutex"};
    for (int p = 1; p <= BENCH_MAX_PROCS; p++)
        for (int k = 0; k < 3; k++)
            if (procs_wanted(p) && wanted(kinds[k])) {
                kind = kinds[k];
                run(p, readheavy_main, 10000000);
            }
    if (wanted("map"))
        run(1, map_main, 10000000);
    if (wanted("context"))
        run(1, context_main, 0);
    printf("INFO gort maps: _pN = N Ps (GOMAXPROCS), 2 goroutines either way\n");
    return 0;
}
