/*
 * workloads.c — the package module's workloads: programs that exercise the
 * allocator, the collector and the scheduler in the ways real programs do,
 * for the playground and the examples. JS starts each with rt.go(name, ctx,
 * report, ...parameters) and stops it by cancelling ctx.
 *
 *  binary_trees(depth)                 Go's binary-trees, round after round
 *                                      (an op: a node of a short-lived tree)
 *  alloc_churn(live_mb, small_pct, large_pct)
 *                                      objects of mixed sizes replaced at
 *                                      random, the live set held near live_mb
 *  lru_cache(capacity, value_bytes)    an LRU cache under a skewed key stream
 *  fragmenter(live_mb)                 mixed sizes, every other one dropped,
 *                                      the holes refilled with other sizes
 *  large_churn(live_mb, object_kb)     large objects (own spans) replaced
 *  barrier_storm(objects)              old objects' pointers rewritten all
 *                                      the time (the write barrier's work)
 *  pipeline(stages, width)             a fan-out pipeline of goroutines
 *                                      passing heap messages over channels
 *  spawn_storm(per_round)              rounds of short goroutines
 *  request_loop(live_mb, work_kb)      requests against a live set: each
 *                                      one's latency, the cost of the
 *                                      collector as a user sees it
 *  set_throttle(permille)              every workload sleeps that share of
 *                                      its time (0: none)
 *  set_seed(seed)                      the workloads started from now on
 *                                      draw their random choices from seed
 *                                      (0, the default: the streams they
 *                                      always drew); the same seed, the
 *                                      same choices
 *
 * Reports: about every REPORT_INTERVAL_NS a workload sends a JSON object on
 * report ({ workload, seed, ops, checksumErrors, sleptMs, final: false, ... }),
 * sleptMs being the time the throttle made it sleep, dropped when
 * the channel is full, and when ctx is done a last one with final: true,
 * which waits until it is taken (or the channel is closed).
 *
 * Invariants: every object a workload keeps carries a check word derived
 * from what it holds; a workload verifies the objects it reads or drops and
 * counts every mismatch in checksumErrors (a collector that freed a live
 * object, or a write barrier that lost a pointer, shows there as a nonzero
 * count). Pointers are stored in heap objects only through GORT_STORE; the
 * tables of pointers a workload keeps are heap arrays it holds in locals
 * (a goroutine's stack is a root).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort/gort.h"
#include "gort/js.h"

#define MB ((int64_t)1 << 20)
#define REPORT_INTERVAL_NS ((int64_t)250 * 1000 * 1000)
/* Operations between two looks at the clock (for reports and the
 * throttle), for workloads whose operations take a microsecond or so. */
#define OPS_PER_CLOCK_CHECK 64
#define REPORT_BYTES 1024
#define MAX_THROTTLE_PERMILLE 950

static atomic_int throttle_permille;

static void set_throttle(gort_js_args *args)
{
    double p = gort_js_number(args, 0);
    atomic_store(&throttle_permille, p < 0 ? 0 : p > MAX_THROTTLE_PERMILLE ? MAX_THROTTLE_PERMILLE : (int)p);
}
GORT_EXPORT_GO(set_throttle, "number permille");

/* Seeds above this are taken modulo it: JS numbers are exact below 2^53. */
#define SEED_LIMIT ((double)((uint64_t)1 << 53))

static _Atomic uint64_t workload_seed;

static void set_seed(gort_js_args *args)
{
    double s = gort_js_number(args, 0);
    atomic_store(&workload_seed, s >= 0 && s < SEED_LIMIT ? (uint64_t)s : 0);
}
GORT_EXPORT_GO(set_seed, "number seed");

/* ---- what every workload shares ---- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r)
{
    /* xorshift64* */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(rng *r, uint64_t n) { return n == 0 ? 0 : next(r) % n; }

/* A workload's generator: its own stream, moved by the run's seed (seed 0
 * leaves it as it was; xorshift needs a state other than 0). */
static rng seeded(uint64_t stream, uint64_t seed)
{
    uint64_t s = stream ^ seed * 0x9E3779B97F4A7C15ULL;
    return (rng){s != 0 ? s : stream};
}

/* The check word of a value derived from a and b. */
static uint64_t check_of(uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x632BE59BD9B4E019ULL);
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    return x ^ (x >> 29);
}

typedef struct run {
    const char *name;
    uint64_t seed; /* set_seed's, as the workload started */
    gort_context *ctx;
    gort_chan *report;
    int64_t last_report;
    int64_t ran_since; /* the throttle's: when this stretch of work began */
    int64_t slept;     /* ns the throttle made it sleep */
    unsigned ops_per_clock;
    unsigned until_clock;
    double ops;
    double checksum_errors;
} run;

/* ops_per_clock: operations between two looks at the clock, fewer for
 * workloads whose operations are long. */
static void run_init(run *r, const char *name, gort_js_args *args, unsigned ops_per_clock)
{
    *r = (run){.name = name, .ctx = gort_js_context(args, 0), .report = gort_js_chan(args, 1),
               .seed = atomic_load(&workload_seed)};
    r->last_report = r->ran_since = gort_nanotime();
    r->ops_per_clock = r->until_clock = ops_per_clock;
}

static bool run_stopped(run *r) { return gort_context_err(r->ctx) != GORT_OK; }

/* Sends a report with the extra fields fmt gives (",\"name\":value..."). */
static void report(run *r, bool final, const char *fmt, ...)
{
    char text[REPORT_BYTES];
    int n = snprintf(text, sizeof text,
                     "{\"workload\":\"%s\",\"seed\":%llu,\"ops\":%.0f,\"checksumErrors\":%.0f,\"sleptMs\":%.1f,\"final\":%s",
                     r->name, (unsigned long long)r->seed, r->ops, r->checksum_errors, (double)r->slept / 1e6, final ? "true" : "false");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(text + n, sizeof text - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof text - 2)
        n = (int)sizeof text - 2;
    text[n++] = '}';
    gort_js_send_bytes(r->report, text, (size_t)n, final);
}

/*
 * Counts one operation; true when a report is due. Every
 * OPS_PER_CLOCK_CHECK operations it reads the clock, and sleeps as the
 * throttle says: permille of the time asleep.
 */
static bool run_op(run *r)
{
    r->ops++;
    if (--r->until_clock > 0)
        return false;
    r->until_clock = r->ops_per_clock;
    int64_t now = gort_nanotime();
    int p = atomic_load_explicit(&throttle_permille, memory_order_relaxed);
    if (p > 0) {
        gort_sleep((now - r->ran_since) * p / (1000 - p));
        int64_t woke = gort_nanotime();
        r->slept += woke - now;
        now = woke;
    }
    r->ran_since = now;
    if (now - r->last_report < REPORT_INTERVAL_NS)
        return false;
    r->last_report = now;
    return true;
}

/* run_op for an operation worth n of the workload's units: a workload whose
 * operations differ in size counts units, so that its ops per second compare
 * from one stretch of it to the next (the page's A/B). */
static bool run_ops(run *r, double n)
{
    r->ops += n - 1;
    return run_op(r);
}

/* A heap array of n pointers (a table the collector traces). */
static const gort_type ptr_slot_type = {.name = "workload pointer table", .size = sizeof(void *), .ptrwords = 1, .ptrbits = 1};

static void **new_table(size_t n) { return gort_new_array(&ptr_slot_type, n); }

/* The slots of a workload that keeps objects at random: a heap table of n
 * pointers and, in C memory (pointer-free), each slot's check word. False,
 * with the final report sent, when either cannot be had. */
static bool new_slots(run *r, size_t n, void ***slots, uint64_t **checks)
{
    *slots = new_table(n);
    *checks = calloc(n, sizeof **checks);
    if (*slots != NULL && *checks != NULL)
        return true;
    free(*checks);
    report(r, true, ",\"error\":\"out of memory\"");
    return false;
}

/* A pointer-free block: its size and check word, the bytes, and the check
 * word again at its end (a block overwritten or reused shows it). */
typedef struct block {
    uint64_t size;
    uint64_t check;
} block;

static block *new_block(size_t size, uint64_t check)
{
    size = size < sizeof(block) + sizeof(uint64_t) ? sizeof(block) + sizeof(uint64_t) : size & ~(size_t)7;
    block *b = gort_alloc_bytes(size);
    if (b == NULL)
        return NULL;
    b->size = size;
    b->check = check;
    memcpy((char *)b + size - sizeof(uint64_t), &check, sizeof check);
    return b;
}

static bool block_ok(const block *b, uint64_t check)
{
    uint64_t tail;
    if (b->check != check || b->size < sizeof(block) + sizeof tail)
        return false;
    memcpy(&tail, (const char *)b + b->size - sizeof tail, sizeof tail);
    return tail == check;
}

/* ---- binary_trees ---- */

typedef struct tree {
    struct tree *left, *right;
} tree;

static const gort_type tree_type =
    GORT_TYPE(tree, "binary-trees node", GORT_PTR_FIELD(tree, left) | GORT_PTR_FIELD(tree, right));

static tree *bottom_up(int depth)
{
    tree *t = gort_new(&tree_type);
    if (t != NULL && depth > 0) {
        GORT_STORE(t->left, bottom_up(depth - 1));
        GORT_STORE(t->right, bottom_up(depth - 1));
    }
    return t;
}

static int64_t item_check(const tree *t)
{
    if (t == NULL)
        return 0;
    return t->left == NULL ? 1 : 1 + item_check(t->left) + item_check(t->right);
}

#define TREES_MIN_DEPTH 4
#define TREES_MAX_DEPTH 21

static void binary_trees(gort_js_args *args)
{
    run r;
    run_init(&r, "binary_trees", args, 4);
    int max_depth = (int)gort_js_number(args, 2);
    max_depth = max_depth < TREES_MIN_DEPTH + 2 ? TREES_MIN_DEPTH + 2 : max_depth > TREES_MAX_DEPTH ? TREES_MAX_DEPTH : max_depth;
    double rounds = 0;
    while (!run_stopped(&r)) {
        tree *stretch = bottom_up(max_depth + 1);
        if (item_check(stretch) != ((int64_t)1 << (max_depth + 2)) - 1)
            r.checksum_errors++;
        stretch = NULL;
        tree *long_lived = bottom_up(max_depth);
        for (int d = TREES_MIN_DEPTH; d <= max_depth && !run_stopped(&r); d += 2) {
            int64_t iterations = (int64_t)1 << (max_depth - d + TREES_MIN_DEPTH), check = 0;
            for (int64_t i = 0; i < iterations && !run_stopped(&r); i++) {
                check += item_check(bottom_up(d));
                /* A round goes from many small trees to a few large ones. */
                if (run_ops(&r, (double)(((int64_t)1 << (d + 1)) - 1)))
                    report(&r, false, ",\"round\":%.0f,\"depth\":%d", rounds, d);
                if (check != (i + 1) * (((int64_t)1 << (d + 1)) - 1)) {
                    r.checksum_errors++;
                    check = (i + 1) * (((int64_t)1 << (d + 1)) - 1);
                }
            }
        }
        if (item_check(long_lived) != ((int64_t)1 << (max_depth + 1)) - 1)
            r.checksum_errors++;
        rounds++;
    }
    report(&r, true, ",\"rounds\":%.0f", rounds);
}
GORT_EXPORT_GO(binary_trees, "context ctx, chan report, number depth");

/* ---- alloc_churn ---- */

/* A small object with a pointer: to a block it checks. */
typedef struct cell {
    block *link;
    uint64_t link_check;
    uint64_t check;
    uint64_t pad;
} cell;

static const gort_type cell_type = GORT_TYPE(cell, "churn cell", GORT_PTR_FIELD(cell, link));

enum { SIZE_SMALL_MAX = 512, SIZE_MEDIUM_MIN = 1024, SIZE_MEDIUM_MAX = 32 * 1024, SIZE_LARGE_MAX = 256 * 1024 };

static size_t churn_size(rng *g, int small_pct, int large_pct)
{
    uint64_t pick = below(g, 100);
    if ((int)pick < small_pct)
        return 16 + below(g, SIZE_SMALL_MAX - 16);
    if ((int)pick >= 100 - large_pct)
        return SIZE_MEDIUM_MAX + 1 + below(g, SIZE_LARGE_MAX - SIZE_MEDIUM_MAX);
    return SIZE_MEDIUM_MIN + below(g, SIZE_MEDIUM_MAX - SIZE_MEDIUM_MIN);
}

static size_t clamp_size(double v, size_t lo, size_t hi) { return v < (double)lo ? lo : v > (double)hi ? hi : (size_t)v; }

static void alloc_churn(gort_js_args *args)
{
    run r;
    run_init(&r, "alloc_churn", args, OPS_PER_CLOCK_CHECK);
    int64_t live_target = (int64_t)clamp_size(gort_js_number(args, 2), 1, 1024) * MB;
    int small_pct = (int)clamp_size(gort_js_number(args, 3), 0, 100);
    int large_pct = (int)clamp_size(gort_js_number(args, 4), 0, 100 - (size_t)small_pct);
    size_t nslots = clamp_size((double)live_target / 64, 1024, 1 << 20);
    void **slots;
    uint64_t *checks;
    if (!new_slots(&r, nslots, &slots, &checks))
        return;
    rng g = seeded(0x5eed, r.seed);
    int64_t live = 0;
    double cells = 0;
    while (!run_stopped(&r)) {
        size_t i = below(&g, nslots);
        if (slots[i] != NULL) {
            /* The heap says which kind the slot holds: a live object it
             * cannot find is an error like a wrong check word. */
            gort_object_info info;
            if (!gort_find_object(slots[i], &info)) {
                r.checksum_errors++;
            } else if (info.noscan) {
                block *b = slots[i];
                if (!block_ok(b, checks[i]))
                    r.checksum_errors++;
                live -= (int64_t)b->size;
            } else {
                cell *c = slots[i];
                if (c->check != checks[i] || (c->link != NULL && !block_ok(c->link, c->link_check)))
                    r.checksum_errors++;
                live -= (int64_t)sizeof(cell);
                cells--;
            }
            GORT_STORE(slots[i], NULL);
        }
        if (live < live_target) {
            uint64_t check = check_of(i, (uint64_t)r.ops);
            if (below(&g, 4) == 0) {
                /* A cell holding another slot's block: that block stays
                 * alive through the cell after its slot lets it go. */
                cell *c = gort_new(&cell_type);
                size_t j = below(&g, nslots);
                void *other = slots[j];
                gort_object_info info;
                if (c != NULL && other != NULL && gort_find_object(other, &info) && info.noscan) {
                    GORT_STORE(c->link, (block *)other);
                    c->link_check = checks[j];
                }
                if (c != NULL) {
                    c->check = check;
                    GORT_STORE(slots[i], c);
                    live += (int64_t)sizeof(cell);
                    cells++;
                }
            } else {
                block *b = new_block(churn_size(&g, small_pct, large_pct), check);
                if (b != NULL) {
                    GORT_STORE(slots[i], b);
                    live += (int64_t)b->size;
                }
            }
            checks[i] = check;
        }
        if (run_op(&r))
            report(&r, false, ",\"liveBytes\":%.0f,\"cells\":%.0f", (double)live, cells);
    }
    free(checks);
    report(&r, true, ",\"liveBytes\":%.0f,\"cells\":%.0f", (double)live, cells);
}
GORT_EXPORT_GO(alloc_churn, "context ctx, chan report, number live_mb, number small_pct, number large_pct");

/* ---- lru_cache ---- */

typedef struct lru_entry {
    struct lru_entry *prev, *next; /* recency list, most recent first */
    struct lru_entry *chain;       /* the bucket's chain */
    block *value;
    uint64_t key;
    uint64_t version;
} lru_entry;

static const gort_type lru_entry_type = GORT_TYPE(lru_entry, "lru entry",
    GORT_PTR_FIELD(lru_entry, prev) | GORT_PTR_FIELD(lru_entry, next) | GORT_PTR_FIELD(lru_entry, chain) |
        GORT_PTR_FIELD(lru_entry, value));

typedef struct lru {
    lru_entry *head, *tail;
    lru_entry **buckets; /* a heap table of nbuckets chains */
} lru;

static const gort_type lru_type = GORT_TYPE(lru, "lru cache",
    GORT_PTR_FIELD(lru, head) | GORT_PTR_FIELD(lru, tail) | GORT_PTR_FIELD(lru, buckets));

static void lru_unlink(lru *c, lru_entry *e)
{
    if (e->prev != NULL)
        GORT_STORE(e->prev->next, e->next);
    else
        GORT_STORE(c->head, e->next);
    if (e->next != NULL)
        GORT_STORE(e->next->prev, e->prev);
    else
        GORT_STORE(c->tail, e->prev);
    GORT_STORE(e->prev, NULL);
    GORT_STORE(e->next, NULL);
}

static void lru_push_front(lru *c, lru_entry *e)
{
    GORT_STORE(e->next, c->head);
    if (c->head != NULL)
        GORT_STORE(c->head->prev, e);
    GORT_STORE(c->head, e);
    if (c->tail == NULL)
        GORT_STORE(c->tail, e);
}

static void lru_cache(gort_js_args *args)
{
    run r;
    run_init(&r, "lru_cache", args, OPS_PER_CLOCK_CHECK);
    size_t capacity = clamp_size(gort_js_number(args, 2), 16, 1 << 22);
    size_t value_bytes = clamp_size(gort_js_number(args, 3), 16, 1 << 20);
    size_t nbuckets = 1;
    while (nbuckets < capacity)
        nbuckets <<= 1;
    lru *c = gort_new(&lru_type);
    lru_entry **buckets = (lru_entry **)new_table(nbuckets);
    if (c == NULL || buckets == NULL) {
        report(&r, true, ",\"error\":\"out of memory\"");
        return;
    }
    GORT_STORE(c->buckets, buckets);
    rng g = seeded(0x1ee7, r.seed);
    double hits = 0, misses = 0, size = 0;
    uint64_t keys = 2 * (uint64_t)capacity;
    while (!run_stopped(&r)) {
        /* Skewed keys: the minimum of two draws favours small keys. */
        uint64_t a = below(&g, keys), b = below(&g, keys), key = a < b ? a : b;
        size_t bucket = (size_t)(check_of(key, 0) & (nbuckets - 1));
        lru_entry *e = buckets[bucket];
        while (e != NULL && e->key != key)
            e = e->chain;
        if (e != NULL) {
            hits++;
            if (!block_ok(e->value, check_of(key, e->version)))
                r.checksum_errors++;
            lru_unlink(c, e);
            lru_push_front(c, e);
        } else {
            misses++;
            e = gort_new(&lru_entry_type);
            block *v = e != NULL ? new_block(value_bytes, check_of(key, (uint64_t)r.ops)) : NULL;
            if (v != NULL) {
                e->key = key;
                e->version = (uint64_t)r.ops;
                GORT_STORE(e->value, v);
                GORT_STORE(e->chain, buckets[bucket]);
                GORT_STORE(buckets[bucket], e);
                lru_push_front(c, e);
                size++;
            }
            if (size > (double)capacity) {
                lru_entry *old = c->tail;
                lru_unlink(c, old);
                size_t ob = (size_t)(check_of(old->key, 0) & (nbuckets - 1));
                lru_entry **p = &buckets[ob];
                while (*p != NULL && *p != old)
                    p = &(*p)->chain;
                if (*p == old)
                    GORT_STORE(*p, old->chain);
                else
                    r.checksum_errors++; /* an entry missing from its chain */
                if (!block_ok(old->value, check_of(old->key, old->version)))
                    r.checksum_errors++;
                size--;
            }
        }
        if (run_op(&r))
            report(&r, false, ",\"hits\":%.0f,\"misses\":%.0f,\"size\":%.0f", hits, misses, size);
    }
    report(&r, true, ",\"hits\":%.0f,\"misses\":%.0f,\"size\":%.0f", hits, misses, size);
}
GORT_EXPORT_GO(lru_cache, "context ctx, chan report, number capacity, number value_bytes");

/* ---- fragmenter ---- */

/* Sizes across the small size classes, in a fixed cycle. */
static const uint16_t FRAGMENT_SIZES[] = {16, 48, 96, 160, 256, 384, 640, 1024, 1536, 2048};
#define NFRAGMENT_SIZES (sizeof FRAGMENT_SIZES / sizeof FRAGMENT_SIZES[0])

static void fragmenter(gort_js_args *args)
{
    run r;
    run_init(&r, "fragmenter", args, OPS_PER_CLOCK_CHECK);
    int64_t live_target = (int64_t)clamp_size(gort_js_number(args, 2), 1, 1024) * MB;
    size_t nslots = clamp_size((double)live_target / 128, 1024, 1 << 22);
    void **slots;
    uint64_t *checks;
    if (!new_slots(&r, nslots, &slots, &checks))
        return;
    double passes = 0, live_objects = 0;
    while (!run_stopped(&r)) {
        /* Fill every empty slot, with sizes shifted by one class each pass:
         * the holes the last pass left are refilled with other sizes. */
        for (size_t i = 0; i < nslots && !run_stopped(&r); i++) {
            if (slots[i] != NULL)
                continue;
            size_t size = FRAGMENT_SIZES[(i + (size_t)passes) % NFRAGMENT_SIZES];
            checks[i] = check_of(i, (uint64_t)passes);
            block *b = new_block(size, checks[i]);
            if (b != NULL) {
                GORT_STORE(slots[i], b);
                live_objects++;
            }
            if (run_op(&r))
                report(&r, false, ",\"pass\":%.0f,\"liveObjects\":%.0f", passes, live_objects);
        }
        /* Drop every other one; check the rest. */
        for (size_t i = 0; i < nslots && !run_stopped(&r); i++) {
            if (slots[i] == NULL)
                continue;
            if (!block_ok(slots[i], checks[i]))
                r.checksum_errors++;
            if ((i + (size_t)passes) % 2 == 0) {
                GORT_STORE(slots[i], NULL);
                live_objects--;
            }
        }
        passes++;
    }
    free(checks);
    report(&r, true, ",\"pass\":%.0f,\"liveObjects\":%.0f", passes, live_objects);
}
GORT_EXPORT_GO(fragmenter, "context ctx, chan report, number live_mb");

/* ---- large_churn ---- */

static void large_churn(gort_js_args *args)
{
    run r;
    run_init(&r, "large_churn", args, 1);
    int64_t live_target = (int64_t)clamp_size(gort_js_number(args, 2), 1, 1024) * MB;
    size_t object_bytes = clamp_size(gort_js_number(args, 3), 33, 16384) * 1024;
    size_t nslots = clamp_size((double)live_target / (double)object_bytes, 2, 1 << 16);
    void **slots;
    uint64_t *checks;
    if (!new_slots(&r, nslots, &slots, &checks))
        return;
    rng g = seeded(0x1a26e, r.seed);
    while (!run_stopped(&r)) {
        size_t i = below(&g, nslots);
        if (slots[i] != NULL && !block_ok(slots[i], checks[i]))
            r.checksum_errors++;
        /* 75% to 125% of the size asked for: runs of different lengths. */
        size_t size = object_bytes * 3 / 4 + below(&g, object_bytes / 2);
        checks[i] = check_of(i, (uint64_t)r.ops);
        GORT_STORE(slots[i], new_block(size, checks[i]));
        if (run_op(&r))
            report(&r, false, ",\"slots\":%.0f", (double)nslots);
    }
    free(checks);
    report(&r, true, ",\"slots\":%.0f", (double)nslots);
}
GORT_EXPORT_GO(large_churn, "context ctx, chan report, number live_mb, number object_kb");

/* ---- barrier_storm ---- */

#define STORM_LINKS 4

typedef struct storm_node {
    struct storm_node *links[STORM_LINKS];
    uint64_t id;
    uint64_t check;
} storm_node;

static const gort_type storm_node_type =
    GORT_TYPE(storm_node, "barrier-storm node", GORT_PTR_ARRAY_FIELD(storm_node, links, STORM_LINKS));

/* Steps a walk takes from a root to check the nodes it meets. */
#define STORM_WALK 16

static void barrier_storm(gort_js_args *args)
{
    run r;
    run_init(&r, "barrier_storm", args, OPS_PER_CLOCK_CHECK);
    size_t n = clamp_size(gort_js_number(args, 2), 16, 1 << 22);
    storm_node **roots = (storm_node **)new_table(n);
    if (roots == NULL) {
        report(&r, true, ",\"error\":\"out of memory\"");
        return;
    }
    rng g = seeded(0xba55, r.seed);
    uint64_t ids = 0;
    for (size_t i = 0; i < n; i++) {
        storm_node *s = gort_new(&storm_node_type);
        if (s == NULL)
            break;
        s->id = ++ids;
        s->check = check_of(s->id, 0);
        GORT_STORE(roots[i], s);
    }
    double walks = 0;
    while (!run_stopped(&r)) {
        /* Rewire: an old node's link now points at another old node (the
         * node it pointed at may now be reachable only from elsewhere). */
        storm_node *a = roots[below(&g, n)], *b = roots[below(&g, n)];
        if (a != NULL)
            GORT_STORE(a->links[below(&g, STORM_LINKS)], b);
        /* Now and then a root lets its node go for a new one: the old node
         * lives on while some link still reaches it. */
        if (below(&g, 8) == 0) {
            storm_node *s = gort_new(&storm_node_type);
            if (s != NULL) {
                s->id = ++ids;
                s->check = check_of(s->id, 0);
                for (int k = 0; k < STORM_LINKS; k++)
                    GORT_STORE(s->links[k], roots[below(&g, n)]);
                GORT_STORE(roots[below(&g, n)], s);
            }
        }
        /* Walk from a root along links: every node met must be intact. */
        if (below(&g, 4) == 0) {
            storm_node *s = roots[below(&g, n)];
            for (int step = 0; step < STORM_WALK && s != NULL; step++) {
                if (s->check != check_of(s->id, 0))
                    r.checksum_errors++;
                s = s->links[below(&g, STORM_LINKS)];
            }
            walks++;
        }
        if (run_op(&r))
            report(&r, false, ",\"nodes\":%.0f,\"walks\":%.0f", (double)ids, walks);
    }
    report(&r, true, ",\"nodes\":%.0f,\"walks\":%.0f", (double)ids, walks);
}
GORT_EXPORT_GO(barrier_storm, "context ctx, chan report, number objects");

/* ---- pipeline ---- */

/* A message: the value and its check, copied into a new message at every
 * stage (the old one is garbage). */
typedef struct message {
    uint64_t value;
    uint64_t check;
} message;

static const gort_type message_type = GORT_TYPE(message, "pipeline message", 0);
static const gort_type message_ref_type = {.name = "pipeline message ref", .size = sizeof(void *), .ptrwords = 1, .ptrbits = 1};

typedef struct stage {
    gort_chan *in, *out;
    atomic_int *workers_left; /* in C memory: the stage's goroutines still running */
    atomic_int *errors;
} stage;

static const gort_type stage_type =
    GORT_TYPE(stage, "pipeline stage", GORT_PTR_FIELD(stage, in) | GORT_PTR_FIELD(stage, out));

static void pipeline_worker(void *arg)
{
    stage *s = arg;
    gort_chan *in = s->in, *out = s->out;
    message *m;
    bool ok;
    for (;;) {
        gort_chan_recv(in, &m, &ok);
        if (!ok)
            break;
        if (m->check != check_of(m->value, 1))
            atomic_fetch_add(s->errors, 1);
        message *copy = gort_new(&message_type);
        if (copy == NULL)
            continue; /* counted missing at the sink */
        *copy = *m;
        gort_chan_send(out, &copy);
    }
    /* The stage's last worker closes its output: the next stage drains
     * and ends in turn. */
    if (atomic_fetch_sub(s->workers_left, 1) == 1)
        gort_chan_close(out);
}

#define PIPELINE_MAX_STAGES 64
#define PIPELINE_MAX_WIDTH 64
#define PIPELINE_BUFFER 16

static void pipeline(gort_js_args *args)
{
    run r;
    run_init(&r, "pipeline", args, OPS_PER_CLOCK_CHECK);
    int nstages = (int)clamp_size(gort_js_number(args, 2), 1, PIPELINE_MAX_STAGES);
    int width = (int)clamp_size(gort_js_number(args, 3), 1, PIPELINE_MAX_WIDTH);
    atomic_int *counters = calloc((size_t)nstages + 1, sizeof *counters);
    atomic_int *errors = &counters[nstages];
    gort_chan *first = gort_chan_make(&message_ref_type, PIPELINE_BUFFER);
    gort_chan *in = first;
    if (counters == NULL || first == NULL) {
        free(counters);
        report(&r, true, ",\"error\":\"out of memory\"");
        return;
    }
    for (int i = 0; i < nstages; i++) {
        stage *s = gort_new(&stage_type);
        gort_chan *out = gort_chan_make(&message_ref_type, PIPELINE_BUFFER);
        if (s == NULL || out == NULL)
            break; /* the pipeline is shorter */
        GORT_STORE(s->in, in);
        GORT_STORE(s->out, out);
        atomic_init(&counters[i], width);
        s->workers_left = &counters[i];
        s->errors = errors;
        for (int w = 0; w < width; w++)
            if (gort_go(pipeline_worker, s) != GORT_OK && atomic_fetch_sub(&counters[i], 1) == 1)
                gort_chan_close(out);
        in = out;
    }
    gort_chan *last = in;
    /* The source: this goroutine sends 1, 2, 3, ... while a select also
     * takes what comes out of the last stage, until ctx is done; then it
     * closes the first channel and drains the rest. */
    uint64_t sent = 0, received = 0, sum = 0;
    message *pending = NULL, *got = NULL;
    gort_chan *done = gort_context_done(r.ctx);
    bool closed = false;
    for (;;) {
        if (pending == NULL && !closed) {
            pending = gort_new(&message_type);
            if (pending != NULL) {
                pending->value = sent + 1;
                pending->check = check_of(pending->value, 1);
            }
        }
        gort_select_case cases[] = {
            GORT_SEND_CASE(closed || pending == NULL ? NULL : first, &pending),
            GORT_RECV_CASE(last, &got),
            GORT_RECV_CASE(closed ? NULL : done, NULL),
        };
        int chosen = gort_select(cases, 3, false);
        if (chosen == 0) {
            sent++;
            pending = NULL;
        } else if (chosen == 1) {
            if (!cases[1].ok)
                break; /* every stage has ended */
            if (got->check != check_of(got->value, 1))
                r.checksum_errors++;
            received++;
            sum += got->value;
            if (run_op(&r))
                report(&r, false, ",\"sent\":%.0f,\"received\":%.0f", (double)sent, (double)received);
        } else if (chosen == 2) {
            closed = true;
            gort_chan_close(first);
        }
    }
    /* Every value sent came out once: their sum says so. */
    if (received != sent || sum != sent * (sent + 1) / 2)
        r.checksum_errors++;
    r.checksum_errors += atomic_load(errors);
    free(counters);
    report(&r, true, ",\"sent\":%.0f,\"received\":%.0f,\"stages\":%d,\"width\":%d", (double)sent, (double)received,
           nstages, width);
}
GORT_EXPORT_GO(pipeline, "context ctx, chan report, number stages, number width");

/* ---- spawn_storm ---- */

typedef struct spawn_round {
    gort_waitgroup wg;
    atomic_ullong sum;
} spawn_round;

typedef struct spawn_task {
    spawn_round *round; /* C memory, outlives the round's goroutines */
    uint64_t index;
} spawn_task;

static const gort_type spawn_task_type = GORT_TYPE(spawn_task, "spawn task", 0);

static void spawned(void *arg)
{
    spawn_task *t = arg;
    atomic_fetch_add(&t->round->sum, check_of(t->index, 2));
    gort_waitgroup_done(&t->round->wg);
}

static void spawn_storm(gort_js_args *args)
{
    run r;
    run_init(&r, "spawn_storm", args, OPS_PER_CLOCK_CHECK);
    int per_round = (int)clamp_size(gort_js_number(args, 2), 1, 1 << 20);
    spawn_round *round = calloc(1, sizeof *round);
    if (round == NULL) {
        report(&r, true, ",\"error\":\"out of memory\"");
        return;
    }
    double rounds = 0;
    while (!run_stopped(&r)) {
        atomic_store(&round->sum, 0);
        uint64_t want = 0;
        int started = 0;
        gort_waitgroup_add(&round->wg, per_round);
        for (int i = 0; i < per_round; i++) {
            spawn_task *t = gort_new(&spawn_task_type);
            if (t != NULL) {
                t->round = round;
                t->index = (uint64_t)i;
            }
            if (t != NULL && gort_go(spawned, t) == GORT_OK) {
                want += check_of((uint64_t)i, 2);
                started++;
            }
            if (run_op(&r))
                report(&r, false, ",\"rounds\":%.0f,\"goroutines\":%d", rounds, gort_num_goroutine());
        }
        gort_waitgroup_add(&round->wg, started - per_round);
        gort_waitgroup_wait(&round->wg);
        if (atomic_load(&round->sum) != want)
            r.checksum_errors++;
        rounds++;
    }
    free(round);
    report(&r, true, ",\"rounds\":%.0f", rounds);
}
GORT_EXPORT_GO(spawn_storm, "context ctx, chan report, number per_round");

/* ---- request_loop ---- */

/* Latencies kept between two reports, and over the whole run for the final
 * one (a run cancelled just after a report would otherwise end on an empty
 * window); more are sampled: every other one, then every fourth, ... */
#define LATENCY_SAMPLES 8192

typedef struct latencies {
    double us[LATENCY_SAMPLES];
    int n;
    int64_t seen;
    int stride;
} latencies;

static void latency_add(latencies *l, double us)
{
    if (l->seen++ % l->stride != 0)
        return;
    if (l->n == LATENCY_SAMPLES) {
        for (int i = 0; i < LATENCY_SAMPLES / 2; i++)
            l->us[i] = l->us[2 * i];
        l->n = LATENCY_SAMPLES / 2;
        l->stride *= 2;
    }
    l->us[l->n++] = us;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report_latencies(run *r, latencies *l, double requests, bool final)
{
    qsort(l->us, (size_t)l->n, sizeof l->us[0], compare_double);
    double p50 = 0, p90 = 0, p99 = 0, max = 0;
    if (l->n > 0) {
        p50 = l->us[l->n * 50 / 100];
        p90 = l->us[l->n * 90 / 100];
        p99 = l->us[l->n * 99 / 100];
        max = l->us[l->n - 1];
    }
    report(r, final, ",\"requests\":%.0f,\"latencyUs\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f}", requests,
           p50, p90, p99, max);
    *l = (latencies){.stride = 1};
}

static void request_loop(gort_js_args *args)
{
    run r;
    run_init(&r, "request_loop", args, 4);
    int64_t live_target = (int64_t)clamp_size(gort_js_number(args, 2), 1, 1024) * MB;
    size_t work_bytes = clamp_size(gort_js_number(args, 3), 1, 16384) * 1024;
    /* The live set: a table of cells, each holding a block of session data. */
    size_t nsessions = clamp_size((double)live_target / 512, 64, 1 << 21);
    cell **sessions = (cell **)new_table(nsessions);
    latencies *window = calloc(1, sizeof *window), *whole = calloc(1, sizeof *whole);
    if (sessions == NULL || window == NULL || whole == NULL) {
        free(window);
        free(whole);
        report(&r, true, ",\"error\":\"out of memory\"");
        return;
    }
    window->stride = whole->stride = 1;
    rng g = seeded(0x4e9, r.seed);
    double requests = 0;
    while (!run_stopped(&r)) {
        int64_t start = gort_nanotime();
        /* A request: reads a session, builds its answer from work_bytes of
         * short-lived objects, and stores a new session. */
        size_t i = below(&g, nsessions);
        cell *s = sessions[i];
        if (s != NULL && (s->check != check_of(i, s->pad) || !block_ok(s->link, s->link_check)))
            r.checksum_errors++;
        uint64_t digest = 0;
        for (size_t made = 0; made < work_bytes; made += 256) {
            block *b = new_block(256, check_of(made, requests));
            if (b != NULL)
                digest ^= b->check;
        }
        cell *fresh = gort_new(&cell_type);
        block *data = new_block(384, check_of(digest, i));
        if (fresh != NULL && data != NULL) {
            fresh->pad = (uint64_t)requests;
            fresh->check = check_of(i, fresh->pad);
            fresh->link_check = data->check;
            GORT_STORE(fresh->link, data);
            GORT_STORE(sessions[i], fresh);
        }
        requests++;
        double us = (double)(gort_nanotime() - start) / 1000.0;
        latency_add(window, us);
        latency_add(whole, us);
        if (run_op(&r))
            report_latencies(&r, window, requests, false);
    }
    report_latencies(&r, whole, requests, true);
    free(window);
    free(whole);
}
GORT_EXPORT_GO(request_loop, "context ctx, chan report, number live_mb, number work_kb");
