/*
 * Allocation from several threads at once: every object is handed out once,
 * and every byte written into it survives the others' allocations.
 */
#include <gort/gort.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mheap.h"
#include "testing.h"

#define THREADS 4
#define OBJECTS_PER_THREAD 1000000

struct chain {
    struct chain *next;
    uint64_t tag;
};
static const gort_type chain_type =
    GORT_TYPE(struct chain, "chain", GORT_PTR_FIELD(struct chain, next));

struct record {
    unsigned char *p;
    uint32_t size;
};

struct worker {
    int id;
    struct record *records;
    long failures;
};

/* Mostly small objects across the classes up to 256 B, some tiny, some up to
 * 32 KB and a few large: about 150 B on average, so that the test touches
 * well under a gigabyte. */
static uint32_t pick_size(uint64_t *rng)
{
    uint64_t r = testing_rand(rng);
    uint32_t below = (uint32_t)(r >> 16);
    unsigned slot = (unsigned)(r % 256);
    if (slot == 0)
        return below % 128 == 0 ? 40000 + below % 100000 : 1024 + below % 31744;
    if (slot <= 16)
        return 1 + below % 15; /* tiny */
    if (slot <= 32)
        return 48; /* a typed chain link */
    return 16 + below % 241;
}

static unsigned char pattern(int id, size_t i, size_t k) { return (unsigned char)(id * 131 + i * 7 + k); }

static void *allocate_and_fill(void *arg)
{
    struct worker *w = arg;
    uint64_t rng = 0x1234 + (uint64_t)w->id;
    struct chain *prev = NULL;
    for (size_t i = 0; i < OBJECTS_PER_THREAD; i++) {
        uint32_t size = pick_size(&rng);
        unsigned char *p;
        if (size == 48) { /* a typed object, linked to the previous one */
            struct chain *c = gort_new(&chain_type);
            if (c != NULL) {
                if (c->next != NULL || c->tag != 0)
                    w->failures++;
                c->next = prev;
                c->tag = i;
                prev = c;
                w->records[i] = (struct record){(unsigned char *)c, 0};
                continue;
            }
            p = NULL;
        } else {
            p = gort_alloc_bytes(size);
        }
        if (p == NULL) {
            w->failures++;
            break;
        }
        /* Fresh memory must be zero; then stamp it with a pattern that is
         * unique to this thread and object. */
        if (p[0] != 0 || p[size - 1] != 0 || (size > 16 && p[size / 2] != 0))
            w->failures++;
        size_t stride = size > 64 ? size / 16 : 1;
        for (size_t k = 0; k < size; k += stride)
            p[k] = pattern(w->id, i, k);
        p[size - 1] = pattern(w->id, i, size - 1);
        w->records[i] = (struct record){p, size};
    }
    gort_flush_cache();
    return NULL;
}

static int compare_records(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct record *)a)->p;
    uintptr_t y = (uintptr_t)((const struct record *)b)->p;
    return x < y ? -1 : x > y;
}

TEST(malloc_threads_never_share_an_object)
{
    static struct worker workers[THREADS];
    pthread_t threads[THREADS];
    gort_memstats before, after;
    gort_flush_cache();
    gort_read_memstats(&before);
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (struct worker){t, calloc(OBJECTS_PER_THREAD, sizeof(struct record)), 0};
        REQUIRE(workers[t].records != NULL);
        REQUIRE(pthread_create(&threads[t], NULL, allocate_and_fill, &workers[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    gort_read_memstats(&after);

    /* Every pattern intact, every object found whole. */
    for (int t = 0; t < THREADS; t++) {
        struct worker *w = &workers[t];
        CHECK_EQ(w->failures, 0);
        for (size_t i = 0; i < OBJECTS_PER_THREAD; i++) {
            struct record r = w->records[i];
            if (r.size == 0) { /* a chain link: its tag and its place in the chain */
                struct chain *c = (struct chain *)r.p;
                REQUIRE(c->tag == i);
                REQUIRE(c->next == NULL || c->next->tag < i);
                continue;
            }
            size_t stride = r.size > 64 ? r.size / 16 : 1;
            for (size_t k = 0; k < r.size; k += stride)
                REQUIRE(r.p[k] == pattern(t, i, k));
            REQUIRE(r.p[r.size - 1] == pattern(t, i, r.size - 1));
            gort_object_info info;
            REQUIRE(gort_find_object(r.p + r.size - 1, &info));
            REQUIRE(info.size >= r.size);
            REQUIRE(r.size < TINY_SIZE || info.base == r.p);
        }
    }
    /* No two objects overlap, across all threads. */
    size_t total = (size_t)THREADS * OBJECTS_PER_THREAD;
    struct record *all = malloc(total * sizeof *all);
    REQUIRE(all != NULL);
    for (int t = 0; t < THREADS; t++)
        memcpy(all + (size_t)t * OBJECTS_PER_THREAD, workers[t].records,
               OBJECTS_PER_THREAD * sizeof *all);
    qsort(all, total, sizeof *all, compare_records);
    for (size_t i = 1; i < total; i++) {
        size_t size = all[i - 1].size ? all[i - 1].size : sizeof(struct chain);
        REQUIRE((uintptr_t)all[i - 1].p + size <= (uintptr_t)all[i].p);
    }
    free(all);
    /* The threads flushed their caches: the counts are exact. */
    CHECK_EQ(after.mallocs - before.mallocs, total);
    CHECK(mheap_verify());
    for (int t = 0; t < THREADS; t++)
        free(workers[t].records);
}

static void *allocate_until_exit(void *arg)
{
    for (int i = 0; i < 1000; i++)
        gort_alloc_bytes(64);
    return arg; /* no flush of its own */
}

/* Threads that hold no p share one cache: whatever one of them allocated
 * is flushed by any other. */
TEST(malloc_threads_without_a_p_share_one_cache)
{
    gort_memstats before, after;
    gort_flush_cache();
    gort_read_memstats(&before);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, allocate_until_exit, NULL) == 0);
    pthread_join(t, NULL);
    gort_flush_cache();
    gort_read_memstats(&after);
    CHECK_EQ(after.by_size[size_to_class(64)].mallocs - before.by_size[size_to_class(64)].mallocs,
             1000);
}
