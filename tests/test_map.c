/*
 * test_map.c — tests of the runtime's hash map (src/map.h, src/map.c): a
 * model-based test (random inserts, updates, deletes and lookups checked
 * step by step against an array, with full iterations checked now and
 * then), keys that all collide (probes that cross every group, tombstones
 * and their reuse), the load invariant after every operation, rehashing
 * that only drops tombstones, sizing hints, deleting during iteration,
 * clear, string keys on the heap with their own hash and equality, and
 * maps whose keys and elements are the only references to heap objects
 * surviving collections.
 */
#include <gort/gort.h>
#include <string.h>

#include "map.h"
#include "testing.h"
#include "testing_rt.h"

/* growth_left + count + tombstones == 7 per group: the load invariant. */
static bool load_invariant_holds(const hmap *h)
{
    map_stats st;
    map_read_stats(h, &st);
    return st.growth_left + maplen(h) + st.tombstones == st.groups * 7;
}

static const maptype scalar_map = {NULL, NULL, false, false};

/* ---- model-based ---- */

enum { MODEL_KEYS = 700, MODEL_STEPS = 200000 };

static struct {
    bool present[MODEL_KEYS];
    uintptr_t value[MODEL_KEYS];
    size_t count;
    unsigned seen[MODEL_KEYS];
} model;

/* Keys are spread over the word so that the hash, not the key, decides
 * where they go; 0 is a key like any other. */
static uintptr_t model_key(unsigned i) { return (uintptr_t)i * 0x10001u; }

/* Iterates h and checks that it holds exactly the model's entries, each
 * once. */
static void check_iteration(const hmap *h)
{
    memset(model.seen, 0, sizeof model.seen);
    hiter it;
    mapiterinit(&it, h);
    size_t n = 0;
    while (mapiternext(&it)) {
        REQUIRE(it.key % 0x10001u == 0 && it.key / 0x10001u < MODEL_KEYS);
        unsigned i = (unsigned)(it.key / 0x10001u);
        CHECK(model.present[i]);
        CHECK_EQ(it.elem, model.value[i]);
        model.seen[i]++;
        n++;
    }
    CHECK_EQ(n, model.count);
    for (unsigned i = 0; i < MODEL_KEYS; i++)
        CHECK_EQ(model.seen[i], model.present[i] ? 1 : 0);
}

static void run_model(const maptype *t, uint64_t seed)
{
    memset(&model, 0, sizeof model);
    hmap *h = makemap(t, 0);
    REQUIRE(h != NULL);
    uint64_t rng = seed;
    for (int step = 0; step < MODEL_STEPS; step++) {
        uint64_t r = testing_rand(&rng);
        /* Phases bias the mix so that the table fills up, drains and
         * fills again: growth, tombstones and rehashes all happen. */
        bool filling = (step / 20000) % 2 == 0;
        unsigned i = (unsigned)(r % MODEL_KEYS);
        uintptr_t k = model_key(i);
        unsigned op = (unsigned)((r >> 32) % 10);
        if (op < (filling ? 6u : 3u)) {
            uintptr_t v = (uintptr_t)(r >> 20);
            REQUIRE(mapassign(h, k, v) == GORT_OK);
            if (!model.present[i])
                model.count++;
            model.present[i] = true;
            model.value[i] = v;
        } else if (op < 8) {
            uintptr_t old = 12345;
            bool had = mapdelete(h, k, &old);
            REQUIRE(had == model.present[i]);
            CHECK_EQ(old, had ? model.value[i] : 0);
            if (had)
                model.count--;
            model.present[i] = false;
            model.value[i] = 0;
        } else {
            uintptr_t v = 12345;
            bool ok = mapaccess2(h, k, &v);
            REQUIRE(ok == model.present[i]);
            CHECK_EQ(v, ok ? model.value[i] : 0);
        }
        REQUIRE(maplen(h) == model.count);
        REQUIRE(load_invariant_holds(h));
        if (step % 5000 == 0)
            check_iteration(h);
    }
    for (unsigned i = 0; i < MODEL_KEYS; i++) {
        uintptr_t v;
        CHECK_EQ(mapaccess2(h, model_key(i), &v), model.present[i]);
    }
    check_iteration(h);
}

TEST(map_model)
{
    run_model(&scalar_map, 1);
}

/* Every key hashes alike: one probe sequence holds them all, so lookups
 * cross groups, deletes leave tombstones in full groups, and inserts reuse
 * them. */
static uintptr_t collide_hash(uintptr_t key, uintptr_t seed)
{
    (void)key;
    (void)seed;
    return 0x2a5;
}

TEST(map_model_collisions)
{
    static const maptype collide = {collide_hash, NULL, false, false};
    run_model(&collide, 2);
}

/* Hashes that differ only above the 7 bits kept in the control bytes:
 * every slot of a group matches the probe's byte and the keys decide. */
static uintptr_t same_h2_hash(uintptr_t key, uintptr_t seed)
{
    return gort_hash_word(key, seed) << 7 | 0x15;
}

TEST(map_model_same_h2)
{
    static const maptype same_h2 = {same_h2_hash, NULL, false, false};
    run_model(&same_h2, 3);
}

TEST(map_tombstones_reused_and_dropped)
{
    static const maptype collide = {collide_hash, NULL, false, false};
    hmap *h = makemap(&collide, 0);
    REQUIRE(h != NULL);
    /* 56 keys in 8 groups, all on one probe sequence: full to the limit. */
    for (uintptr_t k = 0; k < 56; k++)
        REQUIRE(mapassign(h, k, k + 1) == GORT_OK);
    map_stats st;
    map_read_stats(h, &st);
    CHECK_EQ(st.groups, 8);
    CHECK_EQ(st.growth_left, 0);
    CHECK_EQ(st.tombstones, 0);
    /* Deleting from full groups leaves tombstones (a probe must go on
     * past them); at most the last group, which has an empty slot, frees
     * slots outright. */
    for (uintptr_t k = 0; k < 40; k++)
        REQUIRE(mapdelete(h, k, NULL));
    map_read_stats(h, &st);
    CHECK(st.tombstones >= 33);
    CHECK_EQ(maplen(h), 16);
    CHECK(load_invariant_holds(h));
    /* The keys behind the tombstones are still found. */
    for (uintptr_t k = 40; k < 56; k++) {
        uintptr_t v = 0;
        CHECK(mapaccess2(h, k, &v));
        CHECK_EQ(v, k + 1);
    }
    /* New keys take the tombstones first: no rehash, same groups. */
    size_t tomb = st.tombstones;
    for (uintptr_t k = 100; k < 100 + tomb; k++)
        REQUIRE(mapassign(h, k, k) == GORT_OK);
    map_read_stats(h, &st);
    CHECK_EQ(st.groups, 8);
    CHECK_EQ(st.tombstones, 0);
    /* Empty the table to a few keys and churn: with fewer than half live,
     * running out of room rehashes at the same size, dropping tombstones. */
    hiter it;
    mapiterinit(&it, h);
    size_t left = maplen(h);
    while (mapiternext(&it) && left > 4) {
        REQUIRE(mapdelete(h, it.key, NULL));
        left--;
    }
    CHECK_EQ(maplen(h), 4);
    for (uintptr_t k = 1000; k < 3000; k++) {
        REQUIRE(mapassign(h, k, k) == GORT_OK);
        REQUIRE(mapdelete(h, k, NULL));
        REQUIRE(load_invariant_holds(h));
    }
    map_read_stats(h, &st);
    CHECK_EQ(st.groups, 8);
    CHECK_EQ(maplen(h), 4);
}

TEST(map_hint_and_growth)
{
    hmap *h = makemap(&scalar_map, 1000);
    REQUIRE(h != NULL);
    map_stats st;
    map_read_stats(h, &st);
    size_t groups = st.groups;
    CHECK(groups * 7 >= 1000);
    CHECK(groups * 7 / 2 < 1000); /* not wildly larger */
    for (uintptr_t k = 0; k < 1000; k++)
        REQUIRE(mapassign(h, k, ~k) == GORT_OK);
    map_read_stats(h, &st);
    CHECK_EQ(st.groups, groups);
    /* Updates do not count as inserts. */
    for (uintptr_t k = 0; k < 1000; k++)
        REQUIRE(mapassign(h, k, k * 3) == GORT_OK);
    CHECK_EQ(maplen(h), 1000);
    /* Growing past it doubles, entries intact. */
    for (uintptr_t k = 1000; k < 100000; k++)
        REQUIRE(mapassign(h, k, k * 3) == GORT_OK);
    map_read_stats(h, &st);
    CHECK(st.groups > groups && (st.groups & (st.groups - 1)) == 0);
    CHECK_EQ(maplen(h), 100000);
    for (uintptr_t k = 0; k < 100000; k++) {
        uintptr_t v = 0;
        if (!mapaccess2(h, k, &v) || v != k * 3) {
            CHECK_EQ(v, k * 3);
            break;
        }
    }
    CHECK(!mapaccess2(h, 100000, NULL));
    CHECK(load_invariant_holds(h));
}

TEST(map_delete_while_iterating_and_clear)
{
    hmap *h = makemap(&scalar_map, 0);
    REQUIRE(h != NULL);
    for (uintptr_t k = 0; k < 5000; k++)
        REQUIRE(mapassign(h, k, k) == GORT_OK);
    /* Delete every entry returned, and its odd partner ahead of it: each
     * key is returned at most once and a deleted one never later. */
    static unsigned char returned[5000];
    memset(returned, 0, sizeof returned);
    hiter it;
    mapiterinit(&it, h);
    size_t n = 0;
    while (mapiternext(&it)) {
        REQUIRE(it.key < 5000);
        CHECK_EQ(it.elem, it.key);
        CHECK_EQ(returned[it.key], 0);
        returned[it.key] = 1;
        n++;
        CHECK(mapdelete(h, it.key, NULL));
        uintptr_t partner = it.key ^ 1;
        if (!returned[partner])
            CHECK(mapdelete(h, partner, NULL));
        returned[partner] = 1;
    }
    CHECK_EQ(n, 2500);
    CHECK_EQ(maplen(h), 0);
    for (uintptr_t k = 0; k < 5000; k++)
        REQUIRE(mapassign(h, k, k + 7) == GORT_OK);
    map_stats before;
    map_read_stats(h, &before);
    mapclear(h);
    CHECK_EQ(maplen(h), 0);
    map_stats after;
    map_read_stats(h, &after);
    CHECK_EQ(after.groups, before.groups);
    CHECK_EQ(after.tombstones, 0);
    CHECK(load_invariant_holds(h));
    mapiterinit(&it, h);
    CHECK(!mapiternext(&it));
    CHECK(!mapaccess2(h, 3, NULL));
    CHECK_EQ(mapassign(h, 3, 4), GORT_OK);
    uintptr_t v = 0;
    CHECK(mapaccess2(h, 3, &v));
    CHECK_EQ(v, 4);
}

/* ---- string keys on the heap ---- */

static uintptr_t string_hash(uintptr_t key, uintptr_t seed)
{
    const char *s = (const char *)key;
    return gort_hash_bytes(s, strlen(s), seed);
}

static bool string_equal(uintptr_t a, uintptr_t b) { return strcmp((const char *)a, (const char *)b) == 0; }

static const char *heap_string(const char *fmt, unsigned i)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, fmt, i);
    char *s = gort_alloc_bytes((size_t)n + 1);
    if (s != NULL)
        memcpy(s, buf, (size_t)n + 1);
    return s;
}

TEST(map_string_keys)
{
    static const maptype strings = {string_hash, string_equal, true, false};
    hmap *h = makemap(&strings, 0);
    REQUIRE(h != NULL);
    for (unsigned i = 0; i < 3000; i++) {
        const char *k = heap_string("key-%u", i);
        REQUIRE(k != NULL);
        REQUIRE(mapassign(h, (uintptr_t)k, i) == GORT_OK);
    }
    CHECK_EQ(maplen(h), 3000);
    /* Equal strings at other addresses find the same entries. */
    for (unsigned i = 0; i < 3000; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "key-%u", i);
        uintptr_t v = 0;
        if (!mapaccess2(h, (uintptr_t)buf, &v) || v != i) {
            CHECK_EQ(v, i);
            break;
        }
    }
    CHECK(!mapaccess2(h, (uintptr_t) "key-3000", NULL));
    CHECK(mapdelete(h, (uintptr_t) "key-17", NULL));
    CHECK(!mapaccess2(h, (uintptr_t) "key-17", NULL));
    CHECK_EQ(maplen(h), 2999);
    /* The same bytes hash alike under one seed, differently under
     * another (at least for one of several inputs). */
    CHECK_EQ(gort_hash_bytes("abc", 3, 7), gort_hash_bytes("abc", 3, 7));
    bool differs = false;
    for (int i = 0; i < 8; i++)
        differs |= gort_hash_bytes("abcdefghij", (size_t)i + 3, 7) !=
                   gort_hash_bytes("abcdefghij", (size_t)i + 3, 8);
    CHECK(differs);
}

/* ---- the collector sees through maps ---- */

typedef struct boxed {
    uintptr_t magic;
    uintptr_t index;
} boxed;
static const gort_type boxed_type = GORT_TYPE(boxed, "boxed", 0);

enum { GC_MAP_ENTRIES = 20000 };
#define BOX_MAGIC ((uintptr_t)0x5eed5eed)

static uintptr_t box_hash(uintptr_t key, uintptr_t seed) { return gort_hash_word(((const boxed *)key)->index, seed); }
static bool box_equal(uintptr_t a, uintptr_t b) { return ((const boxed *)a)->index == ((const boxed *)b)->index; }

/* Keys and elements are heap objects referenced only by the map: the
 * map's groups and header are the only path to them while collections run
 * beside the goroutine that fills, churns and checks it. */
static void gc_map_main(void *arg)
{
    (void)arg;
    static const maptype boxes = {box_hash, box_equal, true, true};
    hmap *h = makemap(&boxes, 0);
    REQUIRE(h != NULL);
    REQUIRE(gc_loop_start());
    for (unsigned round = 0; round < 4; round++) {
        for (uintptr_t i = 0; i < GC_MAP_ENTRIES; i++) {
            boxed *k = gort_new(&boxed_type), *v = gort_new(&boxed_type);
            REQUIRE(k != NULL && v != NULL);
            k->magic = v->magic = BOX_MAGIC;
            k->index = i;
            v->index = i * 7 + round;
            REQUIRE(mapassign(h, (uintptr_t)k, (uintptr_t)v) == GORT_OK);
        }
        /* Delete a third; their objects become garbage. */
        for (uintptr_t i = 0; i < GC_MAP_ENTRIES; i += 3) {
            boxed probe = {BOX_MAGIC, i};
            REQUIRE(mapdelete(h, (uintptr_t)&probe, NULL));
        }
        REQUIRE(gort_gc() == GORT_OK);
        /* Reuse whatever the collection freed, with other contents: a
         * live entry freed by mistake would now hold junk. */
        for (int j = 0; j < GC_MAP_ENTRIES; j++) {
            boxed *junk = gort_new(&boxed_type);
            REQUIRE(junk != NULL);
            junk->magic = ~BOX_MAGIC;
            junk->index = ~(uintptr_t)0;
        }
        hiter it;
        mapiterinit(&it, h);
        size_t n = 0;
        while (mapiternext(&it)) {
            const boxed *k = (const boxed *)it.key, *v = (const boxed *)it.elem;
            REQUIRE(k->magic == BOX_MAGIC && v->magic == BOX_MAGIC);
            REQUIRE(k->index % 3 != 0 && v->index == k->index * 7 + round);
            n++;
        }
        CHECK_EQ(n, GC_MAP_ENTRIES - (GC_MAP_ENTRIES + 2) / 3);
        /* Next round starts from an empty map: the objects of this one
         * become garbage, and their memory is reused. */
        mapclear(h);
    }
    gc_loop_stop();
}

TEST(map_survives_collection)
{
    run_main_checkmark(2, gc_map_main, NULL);
}
