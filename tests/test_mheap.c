/* The page heap, large objects, arena growth, statistics and snapshots. */
#include <gort/gort.h>
#include <string.h>

#include "mcache.h"
#include "mheap.h"
#include "testing.h"

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

TEST(mheap_freed_pages_are_reused_and_rezeroed)
{
    mheap_init();
    mspan *s = mheap_alloc(3, 0);
    REQUIRE(s != NULL);
    uintptr_t start = s->startaddr;
    memset((void *)start, 0x5A, 3 * PAGE_SIZE);
    gort_memstats before;
    gort_read_memstats(&before);
    mheap_free_span(s);
    gort_memstats after;
    gort_read_memstats(&after);
    CHECK_EQ(before.heap_inuse - after.heap_inuse, 3 * PAGE_SIZE);
    CHECK(span_of(start) == NULL);
    CHECK(mheap_verify());
    /* First fit hands the same pages out again; they are known dirty. */
    mspan *again = mheap_alloc(3, 0);
    REQUIRE(again != NULL);
    CHECK_EQ(again->startaddr, start);
    CHECK(again->needzero);
    mheap_free_span(again);
    /* Through the public API the object comes back zeroed. */
    unsigned char *obj = gort_alloc_bytes(3 * PAGE_SIZE);
    REQUIRE(obj != NULL);
    CHECK_EQ((uintptr_t)obj, start);
    CHECK(all_zero(obj, 3 * PAGE_SIZE));
}

TEST(mheap_adjacent_free_spans_coalesce)
{
    mheap_init();
    enum { RUN = 100 }; /* three runs fit in one arena on every target */
    mspan *probe = mheap_alloc(3 * RUN, 0);
    REQUIRE(probe != NULL);
    uintptr_t where = probe->startaddr;
    mheap_free_span(probe);
    mspan *a = mheap_alloc(RUN, 0), *b = mheap_alloc(RUN, 0), *c = mheap_alloc(RUN, 0);
    REQUIRE(a && b && c);
    /* The first fit of RUN pages is no higher than the first fit of 3*RUN. */
    CHECK(a->startaddr <= where);
    bool contiguous = b->startaddr == a->startaddr + RUN * PAGE_SIZE &&
                      c->startaddr == b->startaddr + RUN * PAGE_SIZE;
    uintptr_t first = a->startaddr;
    mheap_free_span(b);
    mheap_free_span(a);
    mheap_free_span(c);
    CHECK(mheap_verify());
    gort_memstats before;
    gort_read_memstats(&before);
    mspan *whole = mheap_alloc(3 * RUN, 0);
    REQUIRE(whole != NULL);
    gort_memstats after;
    gort_read_memstats(&after);
    CHECK_EQ(after.heap_sys, before.heap_sys); /* no growth was needed */
    if (contiguous)
        CHECK(whole->startaddr <= first);
    mheap_free_span(whole);
}

TEST(mheap_large_objects)
{
    static const size_t sizes[] = {MAX_SMALL_SIZE + 1, 100000, 1 << 20, 10 << 20, 70 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t size = sizes[i];
        unsigned char *p = gort_alloc_bytes(size);
        REQUIRE(p != NULL);
        CHECK((uintptr_t)p % PAGE_SIZE == 0);
        CHECK(p[0] == 0 && p[size / 2] == 0 && p[size - 1] == 0);
        memset(p, 0xC3, size);
        for (size_t off = 0; off < size; off += size / 97 + 1) {
            gort_object_info info;
            REQUIRE(gort_find_object(p + off, &info));
            REQUIRE(info.base == p);
            REQUIRE(info.sizeclass == 0 && info.noscan);
            REQUIRE(info.size >= size && info.size - size < PAGE_SIZE);
        }
        gort_object_info info;
        CHECK(gort_find_object(p + size - 1, &info) && info.base == p);
    }
    /* A large scan object keeps its type in the span. */
    struct big {
        void *ptrs[10000]; /* over 32 KB on every target */
        char tail[8];
    };
    static const gort_type big_type = GORT_TYPE(struct big, "big", 1);
    struct big *b = gort_new(&big_type);
    REQUIRE(b != NULL);
    mspan *s = span_of((uintptr_t)b);
    REQUIRE(s != NULL);
    CHECK(s->largetype == &big_type && s->largecount == 1);
    CHECK(!spanclass_noscan(s->spanclass));
    CHECK(mheap_verify());
}

TEST(mheap_grows_by_whole_arenas)
{
    gort_memstats before;
    gort_read_memstats(&before);
    /* Fill every idle page first, then five arenas more. */
    size_t chunk = ARENA_BYTES / 4;
    size_t chunks = (size_t)(before.heap_idle / chunk) + 4 * 5;
    for (size_t i = 0; i < chunks; i++) {
        unsigned char *p = gort_alloc_bytes(chunk);
        REQUIRE(p != NULL);
        p[0] = 1;
        p[chunk - 1] = 1;
    }
    gort_memstats after;
    gort_read_memstats(&after);
    CHECK(after.arenas >= before.arenas + 5);
    CHECK_EQ(after.heap_sys % ARENA_BYTES, 0);
    CHECK_EQ(after.heap_sys, after.arenas * ARENA_BYTES);
    CHECK_EQ(after.heap_idle, after.heap_sys - after.heap_inuse);
    uintptr_t bases[HEAP_MAX_ARENAS];
    size_t n = gort_heap_arenas(bases, HEAP_MAX_ARENAS);
    CHECK_EQ(n, after.arenas);
    for (size_t i = 0; i < n; i++) {
        CHECK(bases[i] % ARENA_BYTES == 0);
        CHECK(gort_in_heap((void *)bases[i]));
        CHECK(gort_in_heap((void *)(bases[i] + ARENA_BYTES - 1)));
    }
    CHECK(mheap_verify());
}

TEST(mheap_interior_pointers_for_every_object_kind)
{
    /* Every small size class, scan and noscan, and tiny blocks. */
    mheap_init();
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        size_t size = class_to_size[c];
        gort_type t = {"probe", size, 1, 1, NULL};
        for (int scan = 0; scan < 2; scan++) {
            unsigned char *p = scan ? gort_new(&t) : gort_alloc_bytes(size);
            REQUIRE(p != NULL);
            for (size_t off = 0; off < size; off += size / 7 + 1) {
                gort_object_info info;
                REQUIRE(gort_find_object(p + off, &info));
                bool tiny = size < TINY_SIZE && !scan;
                REQUIRE(info.size == (tiny ? TINY_SIZE : size));
                REQUIRE(info.sizeclass == (tiny ? 2 : c));
                if (size >= TINY_SIZE || scan)
                    REQUIRE(info.base == p);
                REQUIRE(info.noscan == !scan);
                REQUIRE(info.spanclass == (info.sizeclass << 1 | info.noscan));
            }
        }
    }
    /* Addresses that are not objects: outside the heap, a free slot, a free
     * page. */
    int local;
    gort_object_info info;
    CHECK(!gort_find_object(&local, &info));
    CHECK(!gort_in_heap(&local));
    CHECK(!gort_find_object(NULL, &info));
    unsigned char *p = gort_alloc_bytes(2048);
    mspan *s = span_of((uintptr_t)p);
    REQUIRE(s != NULL);
    uintptr_t next = (uintptr_t)p + 2048;
    if (next < s->limit && !mspan_is_allocated(s, mspan_object_index(s, next)))
        CHECK(!gort_find_object((void *)next, &info));
    mspan *free_run = mheap_alloc(1, 0);
    REQUIRE(free_run != NULL);
    uintptr_t page = free_run->startaddr;
    mheap_free_span(free_run);
    CHECK(!gort_find_object((void *)page, &info));
    CHECK(gort_in_heap((void *)page));
}

TEST(mstats_count_exactly_after_flush)
{
    gort_flush_cache();
    gort_memstats before, after;
    gort_read_memstats(&before);
    unsigned c = size_to_class(100);
    for (int i = 0; i < 1000; i++)
        gort_alloc_bytes(100);
    for (int i = 0; i < 300; i++)
        gort_alloc_bytes(4); /* tiny */
    gort_alloc_bytes(MAX_SMALL_SIZE + 1);
    gort_flush_cache();
    gort_read_memstats(&after);
    CHECK_EQ(after.by_size[c].mallocs - before.by_size[c].mallocs, 1000);
    CHECK_EQ(after.by_size[0].mallocs - before.by_size[0].mallocs, 1);
    CHECK_EQ(after.mallocs - before.mallocs, 1000 + 300 + 1);
    /* 300 four-byte objects fill 75 tiny blocks of 16 bytes. */
    CHECK_EQ(after.by_size[2].mallocs - before.by_size[2].mallocs, 75);
    CHECK_EQ(after.heap_alloc - before.heap_alloc,
             1000 * class_to_size[c] + 75 * 16 + round_up(MAX_SMALL_SIZE + 1, PAGE_SIZE));
    CHECK_EQ(after.heap_objects, after.mallocs - after.frees);
    CHECK(after.heap_inuse >= after.heap_alloc);
    CHECK_EQ(after.by_size[c].size, class_to_size[c]);
}

TEST(mstats_heap_snapshot_describes_every_page)
{
    unsigned char *large = gort_alloc_bytes(5 * PAGE_SIZE);
    unsigned char *small = gort_alloc_bytes(512);
    REQUIRE(large && small);
    gort_flush_cache();
    gort_memstats st;
    gort_read_memstats(&st);
    size_t per_arena = gort_pages_per_arena();
    CHECK_EQ(per_arena, PAGES_PER_ARENA);
    CHECK_EQ(gort_page_size(), PAGE_SIZE);
    size_t needed = gort_heap_snapshot(NULL, 0);
    CHECK_EQ(needed, st.arenas * per_arena);
    gort_page_record *pages = gort_alloc_bytes(needed * sizeof *pages);
    uintptr_t *bases = gort_alloc_bytes(st.arenas * sizeof *bases);
    REQUIRE(pages && bases);
    gort_read_memstats(&st); /* the two buffers may have grown the heap */
    size_t narenas = gort_heap_arenas(bases, st.arenas);
    REQUIRE(narenas == st.arenas);
    REQUIRE(gort_heap_snapshot(pages, narenas * per_arena) == narenas * per_arena);
    uint64_t free_pages = 0, span_pages = 0;
    for (size_t i = 0; i < narenas * per_arena; i++) {
        if (pages[i].state == GORT_PAGE_FREE)
            free_pages++;
        else
            span_pages++;
    }
    CHECK_EQ(free_pages * PAGE_SIZE, st.heap_idle);
    CHECK_EQ(span_pages * PAGE_SIZE, st.heap_inuse);

    size_t index = 0;
    bool found = false;
    for (size_t a = 0; a < narenas; a++)
        if ((uintptr_t)large >= bases[a] && (uintptr_t)large < bases[a] + ARENA_BYTES) {
            index = a * per_arena + ((uintptr_t)large - bases[a]) / PAGE_SIZE;
            found = true;
        }
    REQUIRE(found);
    CHECK_EQ(pages[index].state, GORT_PAGE_SPAN_START);
    CHECK_EQ(pages[index].npages, 5);
    CHECK_EQ(pages[index].spanclass, 1); /* class 0, noscan */
    CHECK_EQ(pages[index].inuse, 1);
    for (size_t k = 1; k < 5; k++)
        CHECK_EQ(pages[index + k].state, GORT_PAGE_SPAN_REST);

    mspan *s = span_of((uintptr_t)small);
    REQUIRE(s != NULL);
    for (size_t a = 0; a < narenas; a++)
        if (s->startaddr >= bases[a] && s->startaddr < bases[a] + ARENA_BYTES)
            index = a * per_arena + (s->startaddr - bases[a]) / PAGE_SIZE;
    CHECK_EQ(pages[index].state, GORT_PAGE_SPAN_START);
    CHECK_EQ(pages[index].spanclass, make_spanclass(size_to_class(512), 1));
    CHECK_EQ(pages[index].nelems, PAGE_SIZE / 512);
    CHECK(pages[index].inuse >= 1);
}

TEST(mheap_grows_past_one_gigabyte)
{
    enum { OBJECTS = 80 };
    const size_t size = 16u << 20; /* 80 x 16 MB = 1.25 GB */
    static unsigned char *objs[OBJECTS];
    for (int i = 0; i < OBJECTS; i++) {
        objs[i] = gort_alloc_bytes(size);
        REQUIRE(objs[i] != NULL);
        objs[i][0] = (unsigned char)i;
        objs[i][size - 1] = (unsigned char)~i;
    }
    gort_memstats st;
    gort_read_memstats(&st);
    CHECK(st.heap_sys > (1ull << 30));
    CHECK(st.heap_alloc >= (uint64_t)OBJECTS * size);
    for (int i = 0; i < OBJECTS; i++) {
        CHECK(objs[i][0] == (unsigned char)i && objs[i][size - 1] == (unsigned char)~i);
        gort_object_info info;
        CHECK(gort_find_object(objs[i] + size / 2, &info) && info.base == objs[i]);
    }
    /* Objects in the highest arenas are addressable from C; on wasm32 they
     * lie above 1 GB of linear memory. */
    uintptr_t highest = 0;
    for (int i = 0; i < OBJECTS; i++)
        if ((uintptr_t)objs[i] > highest)
            highest = (uintptr_t)objs[i];
    CHECK(highest - mheap_.base > (1u << 30));
}
