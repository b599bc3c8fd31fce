/*
 * test_syncmap.c — tests of sync.Map (include/gort/syncmap.h,
 * src/syncmap.c): every operation's results one by one, the nil map and its
 * code; the paths of Go's design taken deliberately and checked in the
 * map's inner state (a key added to the dirty map, misses, promotion of the
 * dirty map, a deleted entry expunged when a dirty map is made and brought
 * back by a store, an expunged key dropped by the next promotion, a dirty
 * key deleted and compared under the lock); Range with a callback that
 * writes to the map; a model-based test in which many goroutines apply
 * random operations to random keys of one map and to a plain model under a
 * per-key lock, checking every result, while Range and collections run
 * beside them, with word keys and with heap string keys compared by
 * content; counters incremented with CompareAndSwap of heap-allocated
 * values by many goroutines while the collector runs, which must lose no
 * increment; and old read-only maps reclaimed by the collector once no
 * reader holds them.
 */
#include <gort/gort.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "map.h"
#include "syncmap.h"
#include "testing.h"
#include "testing_rt.h"

/* A write returned GORT_OK, a word equal to want and a flag equal to
 * want_flag. */
#define CHECK_WRITE(call, got, want, flag, want_flag) \
    do {                                              \
        CHECK_EQ((call), GORT_OK);                    \
        CHECK_EQ((got), (want));                      \
        CHECK((flag) == (want_flag));                 \
    } while (0)

static syncmap_state state_of(gort_syncmap *m)
{
    syncmap_state st;
    syncmap_read_state(m, &st);
    return st;
}

/* ---- one by one ---- */

TEST(syncmap_operations)
{
    gort_syncmap *m = gort_syncmap_make(NULL);
    REQUIRE(m != NULL);
    uintptr_t v = 99;
    bool loaded = true;
    CHECK(!gort_syncmap_load(m, 1, &v));
    CHECK_EQ(v, 0);
    CHECK_EQ(gort_syncmap_store(m, 1, 10), GORT_OK);
    CHECK(gort_syncmap_load(m, 1, &v));
    CHECK_EQ(v, 10);
    /* Zero is a value like any other (values are boxed). */
    CHECK_EQ(gort_syncmap_store(m, 0, 0), GORT_OK);
    v = 99;
    CHECK(gort_syncmap_load(m, 0, &v));
    CHECK_EQ(v, 0);
    CHECK(gort_syncmap_load(m, 0, NULL));

    uintptr_t actual = 0;
    CHECK_WRITE(gort_syncmap_load_or_store(m, 1, 11, &actual, &loaded), actual, 10, loaded, true);
    CHECK_WRITE(gort_syncmap_load_or_store(m, 2, 20, &actual, &loaded), actual, 20, loaded, false);
    CHECK_EQ(gort_syncmap_load_or_store(m, 2, 21, NULL, NULL), GORT_OK);
    CHECK(gort_syncmap_load(m, 2, &v));
    CHECK_EQ(v, 20);

    uintptr_t prev = 0;
    CHECK_WRITE(gort_syncmap_swap(m, 2, 22, &prev, &loaded), prev, 20, loaded, true);
    CHECK_WRITE(gort_syncmap_swap(m, 3, 30, &prev, &loaded), prev, 0, loaded, false);

    bool swapped = true;
    CHECK_WRITE(gort_syncmap_compare_and_swap(m, 3, 31, 32, &swapped), 0, 0, swapped, false);
    CHECK_WRITE(gort_syncmap_compare_and_swap(m, 3, 30, 33, &swapped), 0, 0, swapped, true);
    CHECK(gort_syncmap_load(m, 3, &v));
    CHECK_EQ(v, 33);
    /* Never adds a key. */
    CHECK_WRITE(gort_syncmap_compare_and_swap(m, 4, 0, 40, &swapped), 0, 0, swapped, false);
    CHECK(!gort_syncmap_load(m, 4, NULL));

    CHECK(!gort_syncmap_compare_and_delete(m, 3, 30));
    CHECK(gort_syncmap_compare_and_delete(m, 3, 33));
    CHECK(!gort_syncmap_load(m, 3, NULL));
    CHECK(!gort_syncmap_compare_and_delete(m, 3, 33));

    CHECK(gort_syncmap_load_and_delete(m, 2, &v));
    CHECK_EQ(v, 22);
    CHECK(!gort_syncmap_load_and_delete(m, 2, &v));
    CHECK_EQ(v, 0);
    gort_syncmap_delete(m, 1);
    gort_syncmap_delete(m, 1);
    CHECK(!gort_syncmap_load(m, 1, NULL));
    /* Deleted keys come back. */
    CHECK_WRITE(gort_syncmap_load_or_store(m, 1, 12, &actual, &loaded), actual, 12, loaded, false);
}

static bool count_range(uintptr_t key, uintptr_t value, void *arg)
{
    (void)key;
    (void)value;
    (*(int *)arg)++;
    return true;
}

TEST(syncmap_nil_map)
{
    uintptr_t v = 5, actual = 5, prev = 5;
    bool loaded = true, swapped = true;
    CHECK(!gort_syncmap_load(NULL, 1, &v));
    CHECK_EQ(v, 0);
    CHECK(!gort_syncmap_load_and_delete(NULL, 1, &v));
    gort_syncmap_delete(NULL, 1);
    CHECK(!gort_syncmap_compare_and_delete(NULL, 1, 0));
    int n = 0;
    gort_syncmap_range(NULL, count_range, &n);
    CHECK_EQ(n, 0);
    CHECK_EQ(gort_syncmap_store(NULL, 1, 2), GORT_ENILMAP);
    CHECK_EQ(gort_syncmap_load_or_store(NULL, 1, 2, &actual, &loaded), GORT_ENILMAP);
    CHECK_EQ(actual, 0);
    CHECK(!loaded);
    CHECK_EQ(gort_syncmap_swap(NULL, 1, 2, &prev, &loaded), GORT_ENILMAP);
    CHECK_EQ(prev, 0);
    CHECK_EQ(gort_syncmap_compare_and_swap(NULL, 1, 2, 3, &swapped), GORT_ENILMAP);
    CHECK(!swapped);
    CHECK(strcmp(gort_strerror(GORT_ENILMAP), "assignment to entry in nil map") == 0);
}

/* ---- the paths of the design ---- */

TEST(syncmap_promotion_and_expunge)
{
    gort_syncmap *m = gort_syncmap_make(NULL);
    REQUIRE(m != NULL);
    syncmap_state st = state_of(m);
    CHECK_EQ(st.read_len, 0);
    CHECK(!st.amended && !st.has_dirty);

    /* New keys go to a dirty map; the read-only map is marked amended. */
    for (uintptr_t k = 1; k <= 8; k++)
        REQUIRE(gort_syncmap_store(m, k, k * 10) == GORT_OK);
    st = state_of(m);
    CHECK_EQ(st.read_len, 0);
    CHECK(st.amended && st.has_dirty);
    CHECK_EQ(st.dirty_len, 8);
    CHECK_EQ(syncmap_entry_state(m, 5, true), ENTRY_VALUE);
    CHECK_EQ(syncmap_entry_state(m, 5, false), ENTRY_ABSENT);

    /* Each load that has to look in the dirty map is a miss; a miss for a
     * key nobody has counts too. At len(dirty) misses, the dirty map is
     * promoted. */
    for (int i = 0; i < 7; i++) {
        uintptr_t v = 0;
        CHECK(i == 6 ? !gort_syncmap_load(m, 100, &v) : gort_syncmap_load(m, 1 + (uintptr_t)i, &v));
        CHECK_EQ(v, i == 6 ? 0 : (1 + (uintptr_t)i) * 10);
    }
    st = state_of(m);
    CHECK_EQ(st.misses, 7);
    CHECK_EQ(st.promotions, 0);
    CHECK(gort_syncmap_load(m, 8, NULL));
    st = state_of(m);
    CHECK_EQ(st.promotions, 1);
    CHECK_EQ(st.read_len, 8);
    CHECK(!st.amended && !st.has_dirty);
    CHECK_EQ(st.misses, 0);
    /* Loads of promoted keys take no lock and count nothing. */
    for (uintptr_t k = 1; k <= 8; k++)
        CHECK(gort_syncmap_load(m, k, NULL));
    CHECK_EQ(state_of(m).misses, 0);
    /* Nor do stores to keys already present: no dirty map appears. */
    CHECK_EQ(gort_syncmap_store(m, 4, 41), GORT_OK);
    CHECK(!state_of(m).has_dirty);

    /* Deleting a promoted key leaves a nil entry in the read-only map. */
    gort_syncmap_delete(m, 3);
    gort_syncmap_delete(m, 6);
    CHECK_EQ(syncmap_entry_state(m, 3, false), ENTRY_DELETED);
    CHECK(!state_of(m).has_dirty);
    /* The next new key makes a dirty map from the read-only one: the nil
     * entries are expunged and left out of it. */
    CHECK_EQ(gort_syncmap_store(m, 9, 90), GORT_OK);
    st = state_of(m);
    CHECK(st.amended && st.has_dirty);
    CHECK_EQ(st.dirty_len, 7); /* 8 promoted - 2 deleted + 1 new */
    CHECK_EQ(syncmap_entry_state(m, 3, false), ENTRY_EXPUNGED);
    CHECK_EQ(syncmap_entry_state(m, 3, true), ENTRY_ABSENT);
    CHECK_EQ(syncmap_entry_state(m, 4, true), ENTRY_VALUE);
    CHECK(!gort_syncmap_load(m, 3, NULL));
    CHECK_EQ(state_of(m).misses, 0); /* found in read.m (expunged): no miss */
    /* Operations that find an expunged entry: CompareAndSwap and
     * CompareAndDelete have nothing to compare, delete nothing to delete. */
    bool swapped = true;
    CHECK_WRITE(gort_syncmap_compare_and_swap(m, 3, 0, 1, &swapped), 0, 0, swapped, false);
    CHECK(!gort_syncmap_compare_and_delete(m, 3, 0));
    CHECK(!gort_syncmap_load_and_delete(m, 3, NULL));
    CHECK_EQ(syncmap_entry_state(m, 3, false), ENTRY_EXPUNGED);
    /* A store brings an expunged entry back, into the dirty map too. */
    uintptr_t prev = 7;
    bool loaded = true;
    CHECK_WRITE(gort_syncmap_swap(m, 3, 33, &prev, &loaded), prev, 0, loaded, false);
    CHECK_EQ(syncmap_entry_state(m, 3, false), ENTRY_VALUE);
    CHECK_EQ(syncmap_entry_state(m, 3, true), ENTRY_VALUE);
    CHECK_EQ(state_of(m).dirty_len, 8);
    /* LoadOrStore does too. */
    uintptr_t actual = 0;
    CHECK_EQ(syncmap_entry_state(m, 6, false), ENTRY_EXPUNGED);
    CHECK_WRITE(gort_syncmap_load_or_store(m, 6, 66, &actual, &loaded), actual, 66, loaded, false);
    CHECK_EQ(syncmap_entry_state(m, 6, true), ENTRY_VALUE);
    CHECK_EQ(state_of(m).dirty_len, 9);

    /* A key only in the dirty map: CompareAndSwap works on it under the
     * lock, LoadAndDelete takes it out of the dirty map; both are misses. */
    CHECK_WRITE(gort_syncmap_compare_and_swap(m, 9, 90, 91, &swapped), 0, 0, swapped, true);
    CHECK_EQ(state_of(m).misses, 1);
    uintptr_t v = 0;
    CHECK(gort_syncmap_load_and_delete(m, 9, &v));
    CHECK_EQ(v, 91);
    CHECK_EQ(syncmap_entry_state(m, 9, true), ENTRY_ABSENT);
    CHECK_EQ(state_of(m).misses, 2);
    /* CompareAndDelete leaves the key in the dirty map (nil). */
    CHECK_EQ(gort_syncmap_store(m, 10, 100), GORT_OK);
    CHECK(gort_syncmap_compare_and_delete(m, 10, 100));
    CHECK_EQ(syncmap_entry_state(m, 10, true), ENTRY_DELETED);

    /* Delete 5, and make misses until a promotion: the dirty map (with 5
     * and 10 deleted in it) becomes the read-only map. */
    gort_syncmap_delete(m, 5);
    CHECK_EQ(syncmap_entry_state(m, 5, false), ENTRY_DELETED);
    uint64_t promotions = state_of(m).promotions;
    for (int i = 0; i < 100 && state_of(m).promotions == promotions; i++)
        gort_syncmap_load(m, 1000, NULL);
    st = state_of(m);
    CHECK_EQ(st.promotions, promotions + 1);
    CHECK(!st.has_dirty);
    CHECK_EQ(syncmap_entry_state(m, 10, false), ENTRY_DELETED);
    CHECK_EQ(syncmap_entry_state(m, 5, false), ENTRY_DELETED);
    /* One more new key: 5 and 10 are expunged now, and after the next
     * promotion they are gone from the read-only map altogether. */
    CHECK_EQ(gort_syncmap_store(m, 11, 110), GORT_OK);
    CHECK_EQ(syncmap_entry_state(m, 5, false), ENTRY_EXPUNGED);
    CHECK_EQ(syncmap_entry_state(m, 10, false), ENTRY_EXPUNGED);
    int n = 0;
    gort_syncmap_range(m, count_range, &n); /* Range promotes */
    st = state_of(m);
    CHECK_EQ(st.promotions, promotions + 2);
    CHECK_EQ(syncmap_entry_state(m, 5, false), ENTRY_ABSENT);
    CHECK_EQ(syncmap_entry_state(m, 10, false), ENTRY_ABSENT);
    /* Left: 1, 2, 3, 4, 6, 7, 8, 11. */
    CHECK_EQ(n, 8);
    CHECK_EQ(st.read_len, 8);
    uintptr_t want[][2] = {{1, 10}, {2, 20}, {3, 33}, {4, 41}, {6, 66}, {7, 70}, {8, 80}, {11, 110}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK(gort_syncmap_load(m, want[i][0], &v));
        CHECK_EQ(v, want[i][1]);
    }
}

/* Range's callback may write to the map: it runs without the lock. */
static bool range_writer(uintptr_t key, uintptr_t value, void *arg)
{
    gort_syncmap *m = arg;
    if (key % 2 == 0)
        gort_syncmap_delete(m, key);
    else
        gort_syncmap_store(m, key + 1000, value);
    return true;
}

static bool range_stop(uintptr_t key, uintptr_t value, void *arg)
{
    (void)key;
    (void)value;
    return ++*(int *)arg < 5;
}

TEST(syncmap_range_writes_and_stops)
{
    gort_syncmap *m = gort_syncmap_make(NULL);
    REQUIRE(m != NULL);
    for (uintptr_t k = 0; k < 100; k++)
        REQUIRE(gort_syncmap_store(m, k, k * 2) == GORT_OK);
    gort_syncmap_range(m, range_writer, m);
    for (uintptr_t k = 0; k < 100; k++) {
        uintptr_t v = 0;
        CHECK_EQ(gort_syncmap_load(m, k, &v), k % 2 == 1);
        if (k % 2 == 1) {
            CHECK(gort_syncmap_load(m, k + 1000, &v));
            CHECK_EQ(v, k * 2);
        }
    }
    int n = 0;
    gort_syncmap_range(m, range_stop, &n);
    CHECK_EQ(n, 5);
}

/* ---- model-based, many goroutines ---- */

enum { MODEL_KEYS = 512, MODEL_WORKERS = 8 };
#define MODEL_OPS TESTING_SCALE(40000)

/* Values name their key and a sequence number: v = key << 20 | seq. */
#define VALUE(key, seq) ((uintptr_t)(key) << 20 | (uintptr_t)(seq))
#define VALUE_KEY(v) ((v) >> 20)
#define VALUE_SEQ(v) ((v) & 0xfffff)

static struct {
    gort_syncmap *m;
    bool string_keys;
    gort_mutex locks[MODEL_KEYS]; /* serialise each key's operations */
    bool present[MODEL_KEYS];
    uintptr_t value[MODEL_KEYS];
    atomic_uint seq[MODEL_KEYS];  /* the highest sequence number handed out */
    atomic_int errors;
    atomic_int ranges;
    atomic_int workers_done;
    atomic_bool stop_ranging;
    gort_waitgroup wg;
} model;

static void model_error(const char *what, unsigned k, uintptr_t got, uintptr_t want)
{
    if (atomic_fetch_add(&model.errors, 1) < 10)
        printf("    key %u: %s: got %#lx, want %#lx\n", k, what, (unsigned long)got, (unsigned long)want);
}

/* The key as the map sees it: the number, or a fresh heap string with it
 * (equal by content to the one the map stored, never the same object). */
static uintptr_t model_key(unsigned k)
{
    if (!model.string_keys)
        return k;
    char buf[16];
    int n = snprintf(buf, sizeof buf, "k%u", k);
    char *s = gort_alloc_bytes((size_t)n + 1);
    if (s == NULL)
        return 0;
    memcpy(s, buf, (size_t)n + 1);
    return (uintptr_t)s;
}

static unsigned key_number(uintptr_t key)
{
    if (!model.string_keys)
        return (unsigned)key;
    unsigned k = 0;
    return sscanf((const char *)key, "k%u", &k) == 1 ? k : ~0u;
}

static uintptr_t string_hash(uintptr_t key, uintptr_t seed)
{
    const char *s = (const char *)key;
    return gort_hash_bytes(s, strlen(s), seed);
}

static bool string_equal(uintptr_t a, uintptr_t b) { return strcmp((const char *)a, (const char *)b) == 0; }

/* One random operation on key k, applied to the map and to the model under
 * k's lock, with every result compared. */
static void model_op(uint64_t r, unsigned k)
{
    gort_syncmap *m = model.m;
    uintptr_t key = model_key(k);
    if (key == 0 && model.string_keys) {
        model_error("allocation", k, 0, 0);
        return;
    }
    uintptr_t fresh = VALUE(k, atomic_fetch_add(&model.seq[k], 1) + 1);
    gort_mutex_lock(&model.locks[k]);
    bool had = model.present[k];
    uintptr_t cur = model.value[k];
    uintptr_t got = 0, got2 = 0;
    bool flag = false;
    switch ((r >> 16) % 9) {
    case 0: /* Load */
        flag = gort_syncmap_load(m, key, &got);
        if (flag != had || got != (had ? cur : 0))
            model_error("Load", k, got, cur);
        break;
    case 1: /* Store */
        if (gort_syncmap_store(m, key, fresh) != GORT_OK)
            model_error("Store failed", k, 0, 0);
        model.present[k] = true;
        model.value[k] = fresh;
        break;
    case 2: /* LoadOrStore */
        if (gort_syncmap_load_or_store(m, key, fresh, &got, &flag) != GORT_OK || flag != had ||
            got != (had ? cur : fresh))
            model_error("LoadOrStore", k, got, had ? cur : fresh);
        if (!had) {
            model.present[k] = true;
            model.value[k] = fresh;
        }
        break;
    case 3: /* LoadAndDelete */
        flag = gort_syncmap_load_and_delete(m, key, &got);
        if (flag != had || got != (had ? cur : 0))
            model_error("LoadAndDelete", k, got, cur);
        model.present[k] = false;
        break;
    case 4: /* Delete */
        gort_syncmap_delete(m, key);
        model.present[k] = false;
        break;
    case 5: /* Swap */
        if (gort_syncmap_swap(m, key, fresh, &got, &flag) != GORT_OK || flag != had ||
            got != (had ? cur : 0))
            model_error("Swap", k, got, cur);
        model.present[k] = true;
        model.value[k] = fresh;
        break;
    case 6: { /* CompareAndSwap, with the right old value or a wrong one */
        uintptr_t old = (r >> 40) % 3 != 0 ? cur : cur + 1;
        bool want = had && old == cur;
        if (gort_syncmap_compare_and_swap(m, key, old, fresh, &flag) != GORT_OK || flag != want)
            model_error("CompareAndSwap", k, flag, want);
        if (want)
            model.value[k] = fresh;
        break;
    }
    case 7: { /* CompareAndDelete */
        uintptr_t old = (r >> 40) % 3 != 0 ? cur : cur + 1;
        bool want = had && old == cur;
        flag = gort_syncmap_compare_and_delete(m, key, old);
        if (flag != want)
            model_error("CompareAndDelete", k, flag, want);
        if (want)
            model.present[k] = false;
        break;
    }
    default: /* Load twice: the second sees the first's answer */
        flag = gort_syncmap_load(m, key, &got);
        if (gort_syncmap_load(m, key, &got2) != flag || got2 != got || flag != had)
            model_error("Load twice", k, got2, got);
        break;
    }
    gort_mutex_unlock(&model.locks[k]);
}

static void model_worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 7919;
    for (int i = 0; i < (int)MODEL_OPS; i++) {
        uint64_t r = testing_rand(&rng);
        /* A few hot keys take most operations: contention on entries. */
        unsigned k = (unsigned)(r % 4 == 0 ? r % 8 : r % MODEL_KEYS);
        model_op(r, k);
        if (i % 64 == 0)
            gort_yield();
    }
    atomic_fetch_add(&model.workers_done, 1);
    gort_waitgroup_done(&model.wg);
}

/* What Range may return while writers run: each key at most once, only
 * values made for that key, none newer than handed out so far. */
static bool range_check(uintptr_t key, uintptr_t value, void *arg)
{
    unsigned char *seen = arg;
    unsigned k = key_number(key);
    if (k >= MODEL_KEYS || seen[k]++ != 0 || VALUE_KEY(value) != k || VALUE_SEQ(value) == 0 ||
        VALUE_SEQ(value) > atomic_load(&model.seq[k]))
        model_error("Range", k, value, 0);
    return true;
}

static void model_ranger(void *arg)
{
    (void)arg;
    static unsigned char seen[MODEL_KEYS];
    while (!atomic_load(&model.stop_ranging)) {
        memset(seen, 0, sizeof seen);
        gort_syncmap_range(model.m, range_check, seen);
        atomic_fetch_add(&model.ranges, 1);
        gort_yield();
    }
    gort_waitgroup_done(&model.wg);
}

static void model_main(void *arg)
{
    static const gort_maptype strings = {string_hash, string_equal, NULL, true, false};
    (void)arg;
    gort_syncmap *m = gort_syncmap_make(model.string_keys ? &strings : NULL);
    REQUIRE(m != NULL);
    model.m = m;
    REQUIRE(gc_loop_start());
    gort_waitgroup_add(&model.wg, MODEL_WORKERS + 1);
    REQUIRE(gort_go(model_ranger, NULL) == GORT_OK);
    for (uintptr_t w = 0; w < MODEL_WORKERS; w++)
        REQUIRE(gort_go(model_worker, (void *)(w + 1)) == GORT_OK);
    AWAIT(atomic_load(&model.workers_done) == MODEL_WORKERS);
    atomic_store(&model.stop_ranging, true);
    gort_waitgroup_wait(&model.wg);
    gc_loop_stop();

    /* At rest, the map and the model agree exactly. */
    size_t n = 0;
    for (unsigned k = 0; k < MODEL_KEYS; k++) {
        uintptr_t v = 0;
        bool ok = gort_syncmap_load(m, model_key(k), &v);
        if (ok != model.present[k] || v != (model.present[k] ? model.value[k] : 0))
            model_error("final Load", k, v, model.value[k]);
        n += model.present[k];
    }
    static unsigned char seen[MODEL_KEYS];
    memset(seen, 0, sizeof seen);
    gort_syncmap_range(m, range_check, seen);
    size_t ranged = 0;
    for (unsigned k = 0; k < MODEL_KEYS; k++)
        ranged += seen[k];
    CHECK_EQ(ranged, n);
    syncmap_state st = state_of(m);
    printf("    %d ops, %d ranges, %llu promotions, %zu keys left\n",
           MODEL_WORKERS * (int)MODEL_OPS, atomic_load(&model.ranges),
           (unsigned long long)st.promotions, n);
    CHECK(st.promotions > 0);
    gort_keep_alive(m);
}

static void run_model(bool string_keys)
{
    memset(&model, 0, sizeof model);
    model.string_keys = string_keys;
    run_main_checkmark(4, model_main, NULL);
    CHECK_EQ(atomic_load(&model.errors), 0);
}

TEST(syncmap_model_word_keys) { run_model(false); }

TEST(syncmap_model_string_keys) { run_model(true); }

/* ---- no lost updates while the collector runs ---- */

enum { COUNTER_KEYS = 4, COUNTER_WORKERS = 8 };
#define COUNTER_INCREMENTS TESTING_SCALE(20000)

/* A counter's value is a heap object: each increment makes a new one and
 * swaps it in with CompareAndSwap (the old one becomes garbage). */
typedef struct counter {
    uintptr_t key;
    uintptr_t count;
    struct counter *prev; /* the value it replaced: a chain the collector walks */
} counter;
static const gort_type counter_type = GORT_TYPE(counter, "counter", GORT_PTR_FIELD(counter, prev));

static bool counter_equal(uintptr_t a, uintptr_t b) { return a == b; }

static struct {
    gort_syncmap *m;
    atomic_int errors;
    atomic_long retries;
    atomic_int workers_done;
    gort_waitgroup wg;
} counters;

static void counter_worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    for (int i = 0; i < (int)COUNTER_INCREMENTS; i++) {
        uintptr_t k = (uintptr_t)(testing_rand(&rng) % COUNTER_KEYS);
        for (;;) {
            uintptr_t v = 0;
            if (!gort_syncmap_load(counters.m, k, &v)) {
                atomic_fetch_add(&counters.errors, 1);
                break;
            }
            const counter *old = (const counter *)v;
            counter *next = gort_new(&counter_type);
            if (next == NULL || old->key != k) {
                atomic_fetch_add(&counters.errors, 1);
                break;
            }
            next->key = k;
            next->count = old->count + 1;
            /* Keep only a short history: chains stay shallow. */
            if (old->count % 8 != 0)
                GORT_STORE(next->prev, old);
            bool swapped = false;
            if (gort_syncmap_compare_and_swap(counters.m, k, v, (uintptr_t)next, &swapped) != GORT_OK) {
                atomic_fetch_add(&counters.errors, 1);
                break;
            }
            if (swapped)
                break;
            atomic_fetch_add(&counters.retries, 1);
        }
        /* Fresh keys now and then: new dirty maps, promotions, expunges. */
        if (i % 256 == 0) {
            uintptr_t extra = 1000 + (uintptr_t)(testing_rand(&rng) % 64);
            counter *c = gort_new(&counter_type);
            if (c == NULL) {
                atomic_fetch_add(&counters.errors, 1);
                continue;
            }
            c->key = extra;
            gort_syncmap_store(counters.m, extra, (uintptr_t)c);
            gort_syncmap_delete(counters.m, extra ^ 1);
        }
    }
    atomic_fetch_add(&counters.workers_done, 1);
    gort_waitgroup_done(&counters.wg);
}

static bool counter_sum(uintptr_t key, uintptr_t value, void *arg)
{
    const counter *c = (const counter *)value;
    if (c->key != key)
        atomic_fetch_add(&counters.errors, 1);
    /* The history chain is intact: each older value counts one less. */
    for (const counter *p = c->prev; p != NULL; p = p->prev) {
        if (p->key != key || p->count >= c->count)
            atomic_fetch_add(&counters.errors, 1);
        c = p;
    }
    if (key < COUNTER_KEYS)
        *(uintptr_t *)arg += ((const counter *)value)->count;
    return true;
}

static void counters_main(void *arg)
{
    static const gort_maptype pointer_values = {NULL, NULL, counter_equal, false, true};
    (void)arg;
    gort_syncmap *m = gort_syncmap_make(&pointer_values);
    REQUIRE(m != NULL);
    counters.m = m;
    for (uintptr_t k = 0; k < COUNTER_KEYS; k++) {
        counter *c = gort_new(&counter_type);
        REQUIRE(c != NULL);
        c->key = k;
        REQUIRE(gort_syncmap_store(m, k, (uintptr_t)c) == GORT_OK);
    }
    gort_waitgroup_add(&counters.wg, COUNTER_WORKERS);
    REQUIRE(gc_loop_start());
    for (uintptr_t w = 0; w < COUNTER_WORKERS; w++)
        REQUIRE(gort_go(counter_worker, (void *)(w + 1)) == GORT_OK);
    if (AWAIT(atomic_load(&counters.workers_done) == COUNTER_WORKERS))
        gort_waitgroup_wait(&counters.wg);
    gc_loop_stop();
    REQUIRE(gort_gc() == GORT_OK);
    /* Reuse what the collection freed: a live counter freed by mistake
     * would now hold other contents. */
    for (int i = 0; i < 100000; i++) {
        counter *junk = gort_new(&counter_type);
        REQUIRE(junk != NULL);
        junk->key = ~(uintptr_t)0;
        junk->count = ~(uintptr_t)0;
    }
    uintptr_t total = 0;
    gort_syncmap_range(m, counter_sum, &total);
    CHECK_EQ(total, (uintptr_t)COUNTER_WORKERS * COUNTER_INCREMENTS);
    CHECK_EQ(atomic_load(&counters.errors), 0);
    printf("    %lu increments, %ld CompareAndSwap retries, %d collections\n",
           (unsigned long)total, (long)atomic_load(&counters.retries), atomic_load(&gc_loop.cycles));
    gort_keep_alive(m);
}

TEST(syncmap_no_lost_updates_under_collection)
{
    memset(&counters, 0, sizeof counters);
    run_main_checkmark(4, counters_main, NULL);
}

/* ---- old read-only maps go to the collector ---- */

enum { OLD_MAPS = 20 };

static atomic_int maps_finalized, held_finalized;

static void count_finalized(void *obj, void *arg)
{
    (void)obj;
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* Adds a key and loads it until the dirty map is promoted, replacing the
 * read-only map; returns the new one, with a finalizer counting on
 * `finalized`. */
__attribute__((noinline)) static hmap *next_read_map(gort_syncmap *m, uintptr_t key, atomic_int *finalized)
{
    uint64_t promotions = state_of(m).promotions;
    if (gort_syncmap_store(m, key, key) != GORT_OK)
        return NULL;
    while (state_of(m).promotions == promotions)
        gort_syncmap_load(m, key, NULL);
    hmap *r = syncmap_read_map(m);
    CHECK_EQ(gort_set_finalizer(r, count_finalized, finalized), GORT_OK);
    return r;
}

/* A reader that holds a read-only map keeps it, however many promotions
 * replace it meanwhile. */
__attribute__((noinline)) static void hold_while_replaced(gort_syncmap *m)
{
    hmap *held = next_read_map(m, 1000, &held_finalized);
    REQUIRE(held != NULL);
    int before = atomic_load(&maps_finalized);
    for (uintptr_t k = 1001; k < 1001 + OLD_MAPS; k++)
        REQUIRE(next_read_map(m, k, &maps_finalized) != NULL);
    /* The map current before `held`, and all after it but the last (but
     * one, should a stale stack word keep one: stacks are scanned
     * conservatively). */
    AWAIT((gort_gc(), atomic_load(&maps_finalized) >= before + OLD_MAPS - 1));
    CHECK_EQ(atomic_load(&held_finalized), 0);
    uintptr_t v = 0;
    CHECK(mapaccess2(held, 1000, &v)); /* its groups were kept with it */
    gort_keep_alive(held);
}

static void old_maps_main(void *arg)
{
    (void)arg;
    gort_syncmap *m = gort_syncmap_make(NULL);
    REQUIRE(m != NULL);
    for (uintptr_t k = 0; k < 100; k++)
        REQUIRE(gort_syncmap_store(m, k, k) == GORT_OK);
    /* Each promotion leaves the read-only map before it to the collector. */
    for (uintptr_t k = 100; k < 100 + OLD_MAPS; k++)
        REQUIRE(next_read_map(m, k, &maps_finalized) != NULL);
    AWAIT((gort_gc(), atomic_load(&maps_finalized) >= OLD_MAPS - 2));
    hold_while_replaced(m);
    /* Let go of it: now it goes too. */
    AWAIT((gort_gc(), atomic_load(&held_finalized) == 1));
    for (uintptr_t k = 0; k < 100 + OLD_MAPS; k++)
        CHECK(gort_syncmap_load(m, k, NULL));
    gort_keep_alive(m);
}

TEST(syncmap_old_read_maps_collected)
{
    atomic_store(&maps_finalized, 0);
    atomic_store(&held_finalized, 0);
    run_main_checkmark(2, old_maps_main, NULL);
}
