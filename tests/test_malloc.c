/* The allocator through its public API and its internal invariants. */
#include <gort/gort.h>
#include <string.h>

#include "mcache.h"
#include "mheap.h"
#include "testing.h"

struct pair {
    struct pair *next;
    long value;
    void *payload;
};
static const gort_type pair_type = GORT_TYPE(
    struct pair, "pair", GORT_PTR_FIELD(struct pair, next) | GORT_PTR_FIELD(struct pair, payload));

TEST(malloc_objects_are_zeroed_aligned_and_distinct)
{
    enum { N = 20000 };
    static struct pair *objs[N];
    for (int i = 0; i < N; i++) {
        struct pair *p = gort_new(&pair_type);
        REQUIRE(p != NULL);
        CHECK(((uintptr_t)p % 8) == 0);
        REQUIRE(p->next == NULL && p->value == 0 && p->payload == NULL);
        p->value = i;
        p->next = i > 0 ? objs[i - 1] : NULL;
        objs[i] = p;
    }
    for (int i = 0; i < N; i++)
        REQUIRE(objs[i]->value == i && objs[i]->next == (i > 0 ? objs[i - 1] : NULL));
}

TEST(malloc_heap_bits_follow_the_type)
{
    struct pair *p = gort_new(&pair_type);
    uintptr_t base = (uintptr_t)p;
    CHECK(heap_bits_is_pointer(base + offsetof(struct pair, next)));
    CHECK(!heap_bits_is_pointer(base + offsetof(struct pair, value)));
    CHECK(heap_bits_is_pointer(base + offsetof(struct pair, payload)));
    /* An array repeats the pattern for every element. */
    struct pair *arr = gort_new_array(&pair_type, 7);
    for (int i = 0; i < 7; i++) {
        CHECK(heap_bits_is_pointer((uintptr_t)&arr[i].next));
        CHECK(!heap_bits_is_pointer((uintptr_t)&arr[i].value));
        CHECK(heap_bits_is_pointer((uintptr_t)&arr[i].payload));
    }
    gort_object_info info;
    REQUIRE(gort_find_object(p, &info));
    CHECK(!info.noscan);
    void *raw = gort_alloc_bytes(24);
    REQUIRE(gort_find_object(raw, &info));
    CHECK(info.noscan);
}

struct fanout {
    long id;
    struct fanout *kids[5];
    long weight;
};

static const gort_type fanout_type =
    GORT_TYPE(struct fanout, "fanout", GORT_PTR_ARRAY_FIELD(struct fanout, kids, 5));

TEST(malloc_ptr_array_field_marks_each_element)
{
    CHECK_EQ(fanout_type.ptrwords, offsetof(struct fanout, weight) / sizeof(void *));
    struct fanout *f = gort_new(&fanout_type);
    REQUIRE(f != NULL);
    uintptr_t base = (uintptr_t)f;
    CHECK(!heap_bits_is_pointer(base + offsetof(struct fanout, id)));
    for (int i = 0; i < 5; i++)
        CHECK(heap_bits_is_pointer((uintptr_t)&f->kids[i]));
    CHECK(!heap_bits_is_pointer(base + offsetof(struct fanout, weight)));
}

TEST(malloc_rejects_bad_requests)
{
    gort_type odd = {"odd", 3 * sizeof(void *) + 1, 1, 1, NULL};
    CHECK(gort_new(&odd) == NULL);
    gort_type outside = {"outside", sizeof(void *), 2, 2, NULL};
    CHECK(gort_new(&outside) == NULL);
    gort_type no_mask = {"no_mask", 100 * sizeof(void *), 100, 0, NULL};
    CHECK(gort_new(&no_mask) == NULL);
    /* Pointer words past the first 64 come from ptrmask. */
    static const uint64_t long_mask[2] = {1, 1};
    gort_type wide = {"wide", 100 * sizeof(void *), 65, 0, long_mask};
    void **w = gort_new(&wide);
    REQUIRE(w != NULL);
    CHECK(heap_bits_is_pointer((uintptr_t)&w[0]));
    CHECK(!heap_bits_is_pointer((uintptr_t)&w[1]));
    CHECK(heap_bits_is_pointer((uintptr_t)&w[64]));
    CHECK(!heap_bits_is_pointer((uintptr_t)&w[99]));
    CHECK(gort_new_array(&pair_type, SIZE_MAX / 2) == NULL);
    /* Zero-sized requests all get the same non-NULL address. */
    CHECK(gort_alloc_bytes(0) != NULL);
    CHECK(gort_alloc_bytes(0) == gort_alloc_bytes(0));
    /* The heap is still usable. */
    CHECK(gort_new(&pair_type) != NULL);
}

TEST(malloc_tiny_objects_share_blocks_and_stay_aligned)
{
    unsigned char *prev = NULL;
    int shared = 0;
    for (int i = 0; i < 1000; i++) {
        size_t size = 1 + (size_t)(i % 15);
        unsigned char *p = gort_alloc_bytes(size);
        REQUIRE(p != NULL);
        for (size_t k = 0; k < size; k++)
            REQUIRE(p[k] == 0);
        memset(p, 0xAB, size);
        if ((size & 7) == 0)
            CHECK((uintptr_t)p % 8 == 0);
        else if ((size & 3) == 0)
            CHECK((uintptr_t)p % 4 == 0);
        else if ((size & 1) == 0)
            CHECK((uintptr_t)p % 2 == 0);
        gort_object_info info;
        REQUIRE(gort_find_object(p, &info));
        CHECK_EQ(info.size, 16);
        if (prev != NULL && (uintptr_t)info.base == ((uintptr_t)prev & ~(uintptr_t)15))
            shared++;
        prev = p;
    }
    CHECK(shared > 100);
}

TEST(malloc_every_size_class_round_trips)
{
    for (size_t size = 1; size <= MAX_SMALL_SIZE; size += (size < 1024 ? 1 : 97)) {
        unsigned char *p = gort_alloc_bytes(size);
        REQUIRE(p != NULL);
        memset(p, (int)size, size);
        gort_object_info info;
        REQUIRE(gort_find_object(p + size - 1, &info));
        REQUIRE(info.base == p || size < TINY_SIZE);
        REQUIRE(info.size >= size);
        if (size >= TINY_SIZE)
            REQUIRE(info.size == class_to_size[size_to_class(size)]);
    }
    CHECK(mheap_verify());
}

TEST(malloc_version_is_stamped)
{
    const char *v = gort_version();
    CHECK(v != NULL && strlen(v) > 0 && strchr(v, '.') != NULL);
    const char *variant = gort_build_variant();
    CHECK(strcmp(variant, "debug") == 0 || strcmp(variant, "release") == 0);
}
