/*
 * test_heapmap.c — the page map's work counters (gort_heapmap_work): the
 * write barrier's shades and the assists' scans counted on the pages where
 * they happen, under a barrier storm (old objects' links rewritten all the
 * time while the collector runs); still while the collector is off. And
 * the types a span records for its objects (mspan.types), by which a viewer
 * names an object's type.
 */
#include <gort/gort.h>
#include <stdlib.h>
#include <string.h>

#include "mheap.h"
#include "testing.h"
#include "testing_rt.h"

#define LINKS 4
#define NODES 20000
/* How long the storm may run before the counters must have moved. */
#define STORM_DEADLINE_NS (60 * (int64_t)1000000000)
/* Rewires between two looks at the counters. */
#define REWIRES_PER_LOOK 20000

typedef struct storm_node {
    struct storm_node *links[LINKS];
    uint64_t id;
} storm_node;

static const gort_type storm_node_type =
    GORT_TYPE(storm_node, "storm node", GORT_PTR_ARRAY_FIELD(storm_node, links, LINKS));

/* The counters of every arena: a copy per arena, GORT_HEAPMAP_MAX_ARENAS x pages. */
static gort_heapmap_work *seen;

static void counters_copy(gort_heapmap_work *to)
{
    const gort_heapmap_header *hm = gort_heapmap();
    uint32_t n = __atomic_load_n(&hm->narenas, __ATOMIC_ACQUIRE);
    size_t pages = gort_pages_per_arena();
    for (uint32_t a = 0; a < n; a++) {
        const gort_heapmap_work *w = gort_heapmap_work_of(hm->arenas[a]);
        for (size_t i = 0; i < pages; i++) {
            to[a * pages + i].shades = __atomic_load_n(&w[i].shades, __ATOMIC_RELAXED);
            to[a * pages + i].assists = __atomic_load_n(&w[i].assists, __ATOMIC_RELAXED);
        }
    }
}

/* Pages whose shade / assist counters moved since `before`. */
static void counters_moved(const gort_heapmap_work *before, const gort_heapmap_work *now,
                           size_t *shades, size_t *assists)
{
    size_t n = GORT_HEAPMAP_MAX_ARENAS * gort_pages_per_arena();
    *shades = *assists = 0;
    for (size_t i = 0; i < n; i++) {
        *shades += before[i].shades != now[i].shades;
        *assists += before[i].assists != now[i].assists;
    }
}

static void make_nodes(storm_node **nodes, uint64_t *rnd)
{
    for (size_t i = 0; i < NODES; i++) {
        storm_node *s = gort_new(&storm_node_type);
        REQUIRE(s != NULL);
        s->id = i;
        GORT_STORE(nodes[i], s);
    }
    for (size_t i = 0; i < NODES; i++)
        for (int l = 0; l < LINKS; l++)
            GORT_STORE(nodes[i]->links[l], nodes[testing_rand(rnd) % NODES]);
}

/* Rewires links and replaces some nodes (allocation during mark: assists). */
static void storm(storm_node **nodes, uint64_t *rnd, int rewires)
{
    for (int k = 0; k < rewires; k++) {
        storm_node *a = nodes[testing_rand(rnd) % NODES];
        GORT_STORE(a->links[testing_rand(rnd) % LINKS], nodes[testing_rand(rnd) % NODES]);
        if (k % 4 == 0) {
            storm_node *s = gort_new(&storm_node_type);
            REQUIRE(s != NULL);
            s->id = (uint64_t)k;
            GORT_STORE(nodes[testing_rand(rnd) % NODES], s);
        }
    }
}

static struct {
    size_t still_shades, still_assists; /* moved with the collector off */
    size_t shades, assists;             /* moved while it ran */
} moved;

static void storm_main(void *arg)
{
    (void)arg;
    size_t cells = GORT_HEAPMAP_MAX_ARENAS * gort_pages_per_arena();
    seen = calloc(cells, sizeof *seen);
    gort_heapmap_work *now = calloc(cells, sizeof *now);
    REQUIRE(seen != NULL && now != NULL);
    uint64_t rnd = 11;

    /* With the collector off, the barrier is off: nothing is counted. */
    gort_set_gc_percent(-1);
    storm_node **nodes = (storm_node **)heap_ptr_array(NODES);
    make_nodes(nodes, &rnd);
    counters_copy(seen);
    storm(nodes, &rnd, 50000);
    counters_copy(now);
    counters_moved(seen, now, &moved.still_shades, &moved.still_assists);

    /* Collections back to back while the storm goes on. */
    gort_set_gc_percent(10);
    REQUIRE(gc_loop_start());
    int64_t deadline = gort_nanotime() + STORM_DEADLINE_NS;
    size_t shades = 0, assists = 0;
    while ((moved.shades == 0 || moved.assists == 0) && gort_nanotime() < deadline) {
        storm(nodes, &rnd, REWIRES_PER_LOOK);
        counters_copy(now);
        counters_moved(seen, now, &shades, &assists);
        moved.shades = shades;
        moved.assists = assists;
    }
    gc_loop_stop();
    gort_set_gc_percent(100);
    gort_keep_alive(nodes);
    free(seen);
    free(now);
}

TEST(heapmap_counts_barrier_shades_and_assists_where_they_happen)
{
    run_main(2, storm_main, NULL);
    CHECK_EQ(moved.still_shades, 0);
    CHECK_EQ(moved.still_assists, 0);
    CHECK(moved.shades > 0);
    CHECK(moved.assists > 0);
}

/* ---- the types a span records ---- */

typedef struct pair {
    struct pair *next;
    long value;
} pair;
typedef struct pair_other {
    struct pair_other *next;
    long other;
} pair_other;
static const gort_type pair_type = GORT_TYPE(pair, "pair", GORT_PTR_FIELD(pair, next));
static const gort_type pair_other_type =
    GORT_TYPE(pair_other, "pair other", GORT_PTR_FIELD(pair_other, next));
typedef struct big {
    struct big *next;
    char bytes[100000];
} big;
static const gort_type big_type = GORT_TYPE(big, "big", GORT_PTR_FIELD(big, next));

/* Whether obj's span lists a type whose name begins with `name` (NULL:
 * untyped bytes). */
static bool span_names(const void *obj, const char *name)
{
    const mspan *s = span_of((uintptr_t)obj);
    if (s == NULL)
        return false;
    for (unsigned k = 0; k < s->ntypes; k++) {
        if (s->types[k] == NULL ? name == NULL
                                : name != NULL && strncmp(s->types[k]->name, name, strlen(name)) == 0)
            return true;
    }
    return false;
}

/* The type code the span of obj keeps for it (mspan.typecodes): -1 when it
 * keeps none. */
static int type_code(const void *obj)
{
    const mspan *s = span_of((uintptr_t)obj);
    if (s == NULL || s->typecodes == NULL)
        return -1;
    uintptr_t i = mspan_object_index(s, (uintptr_t)obj);
    unsigned per_byte = 8 / SPAN_TYPE_CODE_BITS;
    return (s->typecodes[i / per_byte] >> (i % per_byte * SPAN_TYPE_CODE_BITS)) & SPAN_TYPE_CODE_MASK;
}

/* Whether obj's span names t as obj's own type: its one type, or the type
 * of obj's code (SPAN_TYPE_OTHER: a type not on the list, which is full). */
static bool span_names_exactly(const void *obj, const gort_type *t)
{
    const mspan *s = span_of((uintptr_t)obj);
    if (s->ntypes == 1)
        return s->types[0] == t && s->typecodes == NULL;
    int code = type_code(obj);
    if (code == SPAN_TYPE_OTHER) {
        for (unsigned k = 0; k < s->ntypes; k++)
            if (s->types[k] == t)
                return false;
        return s->types_more;
    }
    return code >= 0 && (unsigned)code < s->ntypes && s->types[code] == t;
}

#define MIXED_OBJECTS 300

static struct {
    bool one_type, two_types, bytes, tiny, large, more;
    unsigned ntypes;
    bool codes_name_each_object, codes_past_the_list;
    int mixed_wrong; /* objects of two interleaved types named wrong */
} typed;

/* Pointer-free and above the tiny allocator's sizes on every target. */
typedef struct plain {
    char bytes[32];
} plain;
static const gort_type many_types[SPAN_TYPES + 2] = {
    GORT_TYPE(plain, "t0", 0), GORT_TYPE(plain, "t1", 0), GORT_TYPE(plain, "t2", 0),
    GORT_TYPE(plain, "t3", 0), GORT_TYPE(plain, "t4", 0), GORT_TYPE(plain, "t5", 0),
};

static void types_main(void *arg)
{
    (void)arg;
    pair *a = gort_new(&pair_type);
    pair *a2 = gort_new(&pair_type);
    typed.one_type = span_names(a, "pair") && !span_names(a, "pair other");
    pair_other *b = gort_new(&pair_other_type); /* the same size class, the same cache span */
    typed.two_types = span_of((uintptr_t)a) == span_of((uintptr_t)b) && span_names(a, "pair") &&
                      span_names(b, "pair other");
    /* The objects from before the second type came keep theirs. */
    typed.codes_name_each_object = span_of((uintptr_t)a)->typecodes != NULL &&
                                   span_names_exactly(a, &pair_type) && span_names_exactly(a2, &pair_type) &&
                                   span_names_exactly(b, &pair_other_type);
    void **mixed = heap_ptr_array(MIXED_OBJECTS);
    for (int i = 0; i < MIXED_OBJECTS; i++) {
        void *o = i % 3 == 0 ? (void *)gort_new(&pair_other_type) : (void *)gort_new(&pair_type);
        GORT_STORE(mixed[i], o);
    }
    for (int i = 0; i < MIXED_OBJECTS; i++)
        if (!span_names_exactly(mixed[i], i % 3 == 0 ? &pair_other_type : &pair_type))
            typed.mixed_wrong++;
    void *bytes = gort_alloc_bytes(200);
    typed.bytes = span_names(bytes, NULL);
    void *tiny = gort_alloc_bytes(3);
    typed.tiny = span_names(tiny, "tiny block");
    big *l = gort_new(&big_type);
    typed.large = span_names(l, "big") && span_of((uintptr_t)l)->ntypes == 1;
    /* Pointer-free types of one size: one noscan span, more types than it keeps. */
    void *objs[SPAN_TYPES + 2];
    for (int k = 0; k < SPAN_TYPES + 2; k++)
        objs[k] = gort_new(&many_types[k]);
    const mspan *s = span_of((uintptr_t)objs[SPAN_TYPES + 1]);
    typed.ntypes = s->ntypes;
    typed.more = s->types_more;
    typed.codes_past_the_list = type_code(objs[SPAN_TYPES + 1]) == SPAN_TYPE_OTHER;
    for (int k = 0; k < SPAN_TYPES + 2; k++)
        typed.codes_past_the_list &= span_of((uintptr_t)objs[k]) == s && span_names_exactly(objs[k], &many_types[k]);
    for (int k = 0; k < SPAN_TYPES + 2; k++)
        gort_keep_alive(objs[k]);
    gort_keep_alive(mixed);
    gort_keep_alive(a2);
    gort_keep_alive(a);
    gort_keep_alive(b);
    gort_keep_alive(bytes);
    gort_keep_alive(tiny);
    gort_keep_alive(l);
}

TEST(heapmap_spans_name_the_types_of_their_objects)
{
    run_main(1, types_main, NULL);
    CHECK(typed.one_type);
    CHECK(typed.two_types);
    CHECK(typed.bytes);
    CHECK(typed.tiny);
    CHECK(typed.large);
    CHECK_EQ(typed.ntypes, SPAN_TYPES);
    CHECK(typed.more);
    CHECK(typed.codes_name_each_object);
    CHECK_EQ(typed.mixed_wrong, 0);
    CHECK(typed.codes_past_the_list);
}
