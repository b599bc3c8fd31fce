/*
 * test_pagealloc.c — the page allocator against a reference model: a byte per
 * page (not in heap / free / in use) and a plain first-fit scan, which is slow
 * but obviously right. Every result of pagealloc_alloc must be exactly the
 * reference's first fit, and the summaries must survive pagealloc_verify.
 */
#include <stdlib.h>
#include <string.h>

#include "mpagealloc.h"
#include "runtime.h"
#include "testing.h"

#define CHUNK PAGEALLOC_CHUNK_PAGES
/* Small enough that whole-range checks stay cheap, big enough for 128 chunks
 * and a tree seven levels deep. */
#define SMALL_MAX_PAGES ((size_t)1 << 16)

enum { PAGE_ABSENT, PAGE_FREE, PAGE_USED };

/* ---- the reference model ---- */

/* The lowest run of n free pages. Each window is checked from its end, so a
 * used page found there moves the next window past it in one step. */
static size_t ref_first_fit(const uint8_t *ref, size_t max_pages, size_t n)
{
    size_t first = 0;
    while (n <= max_pages && first <= max_pages - n) {
        size_t end = first + n;
        while (end > first && ref[end - 1] == PAGE_FREE)
            end--;
        if (end == first)
            return first;
        first = end;
    }
    return PAGEALLOC_FAILED;
}

static size_t ref_largest_free_run(const uint8_t *ref, size_t max_pages)
{
    size_t best = 0, run = 0;
    for (size_t p = 0; p < max_pages; p++) {
        run = ref[p] == PAGE_FREE ? run + 1 : 0;
        if (run > best)
            best = run;
    }
    return best;
}

static size_t ref_count(const uint8_t *ref, size_t max_pages, int state)
{
    size_t count = 0;
    for (size_t p = 0; p < max_pages; p++)
        count += ref[p] == state;
    return count;
}

static void ref_set(uint8_t *ref, size_t first, size_t n, int state)
{
    memset(ref + first, state, n);
}

static bool ref_all(const uint8_t *ref, size_t first, size_t n, int state)
{
    for (size_t p = first; p < first + n; p++)
        if (ref[p] != state)
            return false;
    return true;
}

/* Everything the allocator can report about the whole heap matches the model. */
static void check_against_ref(const pagealloc *pa, const uint8_t *ref, size_t max_pages)
{
    CHECK(pagealloc_verify(pa));
    CHECK_EQ(pagealloc_free_pages(pa), ref_count(ref, max_pages, PAGE_FREE));
    CHECK_EQ(pagealloc_largest_free_run(pa), ref_largest_free_run(ref, max_pages));
    for (size_t p = 0; p < max_pages; p++)
        if (pagealloc_page_free(pa, p) != (ref[p] == PAGE_FREE)) {
            CHECK_EQ(p, PAGEALLOC_FAILED); /* reports the first page that differs */
            break;
        }
}

/* Grows [first, first+n) in both and checks the pages became usable. */
static void grow_both(pagealloc *pa, uint8_t *ref, size_t first, size_t n)
{
    size_t free_before = pagealloc_free_pages(pa);
    CHECK(ref_all(ref, first, n, PAGE_ABSENT));
    pagealloc_grow(pa, first, n);
    ref_set(ref, first, n, PAGE_FREE);
    CHECK_EQ(pagealloc_free_pages(pa), free_before + n);
    CHECK(pagealloc_largest_free_run(pa) >= n);
    CHECK(pagealloc_page_free(pa, first));
    CHECK(pagealloc_page_free(pa, first + n / 2));
    CHECK(pagealloc_page_free(pa, first + n - 1));
}

/* ---- the model test ---- */

#define MODEL_OPS 200000
#define MODEL_MAX_LIVE 1024
#define MODEL_CHECK_EVERY 2000

/* Mostly small spans, sometimes large objects, rarely more than a chunk. */
static size_t model_run_length(uint64_t *rng)
{
    uint64_t kind = testing_rand(rng) % 1000;
    if (kind < 850)
        return 1 + testing_rand(rng) % 16;
    if (kind < 995)
        return 1 + testing_rand(rng) % 2000;
    return CHUNK + 1 + testing_rand(rng) % (4 * CHUNK);
}

typedef struct run {
    size_t first, npages;
} run;

TEST(pagealloc_model_random)
{
    const size_t max_pages = SMALL_MAX_PAGES, arena = PAGES_PER_ARENA;
    const size_t narenas = max_pages / arena;
    /* Leave a quarter of the arenas ungrown, so allocations also fail for
     * good and ungrown holes sit between grown arenas. */
    const size_t grow_limit = narenas * 3 / 4;
    uint64_t rng = 0x9a6e;
    pagealloc pa;
    uint8_t *ref = calloc(max_pages, 1);
    size_t *arena_order = malloc(narenas * sizeof *arena_order);
    run *live = malloc(MODEL_MAX_LIVE * sizeof *live);
    size_t nlive = 0, ngrown = 0, nfailed = 0, nbig = 0, nfreed = 0;
    REQUIRE(ref && arena_order && live && grow_limit >= 2);

    /* Arenas join in random order, as if other mappings took some addresses. */
    for (size_t i = 0; i < narenas; i++)
        arena_order[i] = i;
    for (size_t i = narenas - 1; i > 0; i--) {
        size_t j = testing_rand(&rng) % (i + 1), t = arena_order[i];
        arena_order[i] = arena_order[j];
        arena_order[j] = t;
    }

    pagealloc_init(&pa, max_pages);
    CHECK_EQ(pagealloc_alloc(&pa, 1), PAGEALLOC_FAILED);
    for (long op = 0; op < MODEL_OPS && !testing_failed(); op++) {
        bool alloc = nlive == 0 || (nlive < MODEL_MAX_LIVE && testing_rand(&rng) % 2);
        if (alloc) {
            size_t n = model_run_length(&rng);
            size_t got = pagealloc_alloc(&pa, n);
            while (got == PAGEALLOC_FAILED && ngrown < grow_limit) {
                CHECK_EQ(ref_first_fit(ref, max_pages, n), PAGEALLOC_FAILED);
                grow_both(&pa, ref, arena_order[ngrown++] * arena, arena);
                got = pagealloc_alloc(&pa, n);
                if (n <= arena)
                    CHECK(got != PAGEALLOC_FAILED); /* the new arena alone fits it */
            }
            size_t want = ref_first_fit(ref, max_pages, n);
            CHECK_EQ(got, want);
            if (got == PAGEALLOC_FAILED || got != want) {
                nfailed++;
                continue;
            }
            CHECK(ref_all(ref, got, n, PAGE_FREE)); /* no overlap, never ungrown */
            ref_set(ref, got, n, PAGE_USED);
            live[nlive++] = (run){got, n};
            nbig += n > CHUNK;
        } else {
            size_t i = testing_rand(&rng) % nlive;
            run r = live[i];
            live[i] = live[--nlive];
            pagealloc_free(&pa, r.first, r.npages);
            ref_set(ref, r.first, r.npages, PAGE_FREE);
            CHECK(pagealloc_page_free(&pa, r.first));
            CHECK(pagealloc_page_free(&pa, r.first + r.npages - 1));
            nfreed++;
        }
        size_t page = testing_rand(&rng) % max_pages;
        CHECK_EQ(pagealloc_page_free(&pa, page), ref[page] == PAGE_FREE);
        if (op % MODEL_CHECK_EVERY == 0)
            check_against_ref(&pa, ref, max_pages);
    }
    check_against_ref(&pa, ref, max_pages);

    /* The run must have exercised every path it is meant to. */
    CHECK_EQ(ngrown, grow_limit);
    CHECK(nfailed > 100);
    CHECK(nbig > 100);
    CHECK(nfreed > MODEL_OPS / 4);

    /* Freeing everything coalesces each group of adjacent grown arenas. */
    while (nlive > 0) {
        run r = live[--nlive];
        pagealloc_free(&pa, r.first, r.npages);
        ref_set(ref, r.first, r.npages, PAGE_FREE);
    }
    check_against_ref(&pa, ref, max_pages);
    CHECK_EQ(pagealloc_free_pages(&pa), grow_limit * arena);
    free(live);
    free(arena_order);
    free(ref);
}

/* ---- targeted tests ---- */

/* Allocates three adjacent runs and a guard page after them, frees the three
 * in every order, and expects their combined length back at the first run's
 * index: the free space behind the guard is larger, so only a coalesced run
 * can be the first fit. */
TEST(pagealloc_coalesce)
{
    static const struct {
        size_t at, len[3];
    } layouts[] = {
        {0, {5, 7, 9}},
        {500, {10, 10, 600}},       /* crosses the chunk boundaries at 512, 1024 */
        {1000, {30, 2 * CHUNK, 3}}, /* the middle run covers whole chunks */
        {CHUNK - 1, {1, 1, 1}},
    };
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                     {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    const size_t grown = 8 * CHUNK;
    pagealloc pa;
    pagealloc_init(&pa, SMALL_MAX_PAGES);
    pagealloc_grow(&pa, 0, grown);
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
        for (int o = 0; o < 6; o++) {
            size_t at = layouts[l].at, first[3], total = 0;
            if (at > 0)
                CHECK_EQ(pagealloc_alloc(&pa, at), 0);
            for (int i = 0; i < 3; i++) {
                first[i] = pagealloc_alloc(&pa, layouts[l].len[i]);
                CHECK_EQ(first[i], at + total);
                total += layouts[l].len[i];
            }
            size_t guard = pagealloc_alloc(&pa, 1);
            CHECK_EQ(guard, at + total);
            REQUIRE(!testing_failed());
            for (int k = 0; k < 3; k++) {
                int i = orders[o][k];
                pagealloc_free(&pa, first[i], layouts[l].len[i]);
                CHECK(pagealloc_verify(&pa));
            }
            CHECK_EQ(pagealloc_free_pages(&pa), grown - at - 1);
            size_t whole = pagealloc_alloc(&pa, total);
            CHECK_EQ(whole, at);
            CHECK_EQ(pagealloc_free_pages(&pa), grown - at - 1 - total);
            pagealloc_free(&pa, whole, total);
            pagealloc_free(&pa, guard, 1);
            if (at > 0)
                pagealloc_free(&pa, 0, at);
            CHECK(pagealloc_verify(&pa));
            CHECK_EQ(pagealloc_largest_free_run(&pa), grown);
            REQUIRE(!testing_failed());
        }
    }
}

TEST(pagealloc_run_spans_many_chunks)
{
    const size_t grown = 64 * CHUNK, big = 40 * CHUNK;
    pagealloc pa;
    pagealloc_init(&pa, SMALL_MAX_PAGES);
    pagealloc_grow(&pa, 0, grown);
    CHECK_EQ(pagealloc_largest_free_run(&pa), grown);

    CHECK_EQ(pagealloc_alloc(&pa, 10), 0);
    CHECK_EQ(pagealloc_alloc(&pa, big), 10);
    CHECK(!pagealloc_page_free(&pa, 10));
    CHECK(!pagealloc_page_free(&pa, 10 + big - 1));
    CHECK(pagealloc_page_free(&pa, 10 + big));
    CHECK_EQ(pagealloc_free_pages(&pa), grown - 10 - big);
    CHECK_EQ(pagealloc_largest_free_run(&pa), grown - 10 - big);
    CHECK(pagealloc_verify(&pa));

    /* Another 40 chunks do not fit behind it any more. */
    CHECK_EQ(pagealloc_alloc(&pa, big), PAGEALLOC_FAILED);
    pagealloc_free(&pa, 10, big);
    CHECK_EQ(pagealloc_largest_free_run(&pa), grown - 10);
    CHECK_EQ(pagealloc_alloc(&pa, big), 10);

    /* [0,10) is too short for 11 pages; the first fit is behind the big run. */
    pagealloc_free(&pa, 0, 10);
    CHECK_EQ(pagealloc_alloc(&pa, 11), 10 + big);
    CHECK_EQ(pagealloc_alloc(&pa, 10), 0);
    size_t rest = grown - (10 + big + 11);
    CHECK_EQ(pagealloc_alloc(&pa, rest), 10 + big + 11);
    CHECK_EQ(pagealloc_free_pages(&pa), 0);
    CHECK_EQ(pagealloc_largest_free_run(&pa), 0);
    CHECK_EQ(pagealloc_alloc(&pa, 1), PAGEALLOC_FAILED);
    CHECK(pagealloc_verify(&pa));

    pagealloc_free(&pa, 0, 10);
    pagealloc_free(&pa, 10, big);
    pagealloc_free(&pa, 10 + big, 11);
    pagealloc_free(&pa, 10 + big + 11, rest);
    CHECK_EQ(pagealloc_alloc(&pa, grown), 0);
    CHECK_EQ(pagealloc_alloc(&pa, 1), PAGEALLOC_FAILED);
    pagealloc_free(&pa, 0, grown);
    CHECK(pagealloc_verify(&pa));
}

/* Every run length at every offset that matters to the tree and the words:
 * a filler run pushes the run to `offset`, where first fit must put it. */
TEST(pagealloc_run_at_every_alignment)
{
    static const size_t offsets[] = {0,   1,    2,    63,   64,   65,   127,  448,  500,
                                     511, 512,  513,  575,  1000, 1023, 1024, 1025, 1535,
                                     1536, 2047, 2048, 2049, 3583, 4095, 4096, 4097};
    static const size_t lengths[] = {1,   2,   3,   31,   32,   33,   63,   64,   65,   127,
                                     128, 129, 511, 512,  513,  1000, 1023, 1024, 1025, 1536,
                                     2048, 2049, 3000, 4096, 4097};
    const size_t grown = 32 * CHUNK; /* room for filler, run and a hole */
    pagealloc pa;
    pagealloc_init(&pa, SMALL_MAX_PAGES);
    pagealloc_grow(&pa, 0, grown);
    for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
            size_t at = offsets[o], n = lengths[l];
            if (at > 0)
                CHECK_EQ(pagealloc_alloc(&pa, at), 0);
            CHECK_EQ(pagealloc_alloc(&pa, n), at);
            CHECK(!pagealloc_page_free(&pa, at + n - 1));
            CHECK(pagealloc_page_free(&pa, at + n));
            CHECK_EQ(pagealloc_largest_free_run(&pa), grown - at - n);
            CHECK(pagealloc_verify(&pa));
            /* Freeing the filler leaves a hole of exactly `at` pages in front. */
            if (at > 0) {
                pagealloc_free(&pa, 0, at);
                CHECK_EQ(pagealloc_alloc(&pa, at + 1), at + n);
                CHECK_EQ(pagealloc_alloc(&pa, at), 0);
                pagealloc_free(&pa, at + n, at + 1);
                pagealloc_free(&pa, 0, at);
            }
            pagealloc_free(&pa, at, n);
            CHECK_EQ(pagealloc_largest_free_run(&pa), grown);
            REQUIRE(!testing_failed());
        }
    }
    CHECK(pagealloc_verify(&pa));
}

/* Grown regions separated by pages never grown, some one page wide and one on
 * a chunk boundary: no run may cover an ungrown page. */
TEST(pagealloc_heap_with_holes)
{
    static const struct {
        size_t first, npages;
    } regions[] = {
        {0, 1000},
        {1001, 499},                    /* one-page hole at 1000 */
        {3 * CHUNK - 5, 5},             /* ends on a chunk boundary ... */
        {3 * CHUNK + 1, 2 * CHUNK - 1}, /* ... and a one-page hole at 3 * CHUNK */
        {10000, 10000},
        {SMALL_MAX_PAGES - 300, 300},   /* the last page of the range */
    };
    const size_t max_pages = SMALL_MAX_PAGES;
    uint64_t rng = 7;
    pagealloc pa;
    uint8_t *ref = calloc(max_pages, 1);
    REQUIRE(ref);
    pagealloc_init(&pa, max_pages);
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++)
        grow_both(&pa, ref, regions[i].first, regions[i].npages);
    check_against_ref(&pa, ref, max_pages);
    CHECK_EQ(pagealloc_largest_free_run(&pa), 10000);

    /* 1,001 pages would fit at 0 if the hole at 1000 counted. */
    CHECK_EQ(pagealloc_alloc(&pa, 1001), 3 * CHUNK + 1);
    pagealloc_free(&pa, 3 * CHUNK + 1, 1001);
    CHECK_EQ(pagealloc_alloc(&pa, 1000), 0);
    pagealloc_free(&pa, 0, 1000);
    /* 1,024 pages would fit at 3 * CHUNK - 5 if the hole at 3 * CHUNK counted. */
    CHECK_EQ(pagealloc_alloc(&pa, 2 * CHUNK), 10000);
    pagealloc_free(&pa, 10000, 2 * CHUNK);
    CHECK_EQ(pagealloc_alloc(&pa, 2 * CHUNK - 1), 3 * CHUNK + 1);
    pagealloc_free(&pa, 3 * CHUNK + 1, 2 * CHUNK - 1);
    /* With the first two regions taken, 6 pages would fit across that hole. */
    CHECK_EQ(pagealloc_alloc(&pa, 1000), 0);
    CHECK_EQ(pagealloc_alloc(&pa, 499), 1001);
    CHECK_EQ(pagealloc_alloc(&pa, 6), 3 * CHUNK + 1);
    CHECK_EQ(pagealloc_alloc(&pa, 5), 3 * CHUNK - 5);
    pagealloc_free(&pa, 3 * CHUNK - 5, 5);
    pagealloc_free(&pa, 3 * CHUNK + 1, 6);
    pagealloc_free(&pa, 1001, 499);
    pagealloc_free(&pa, 0, 1000);
    check_against_ref(&pa, ref, max_pages);

    /* Fill the heap with random runs, then single pages, until nothing fits:
     * every page handed out was grown and handed out once. */
    size_t handed_out = 0;
    for (;;) {
        size_t n = 1 + testing_rand(&rng) % 64;
        size_t got = pagealloc_alloc(&pa, n);
        if (got == PAGEALLOC_FAILED) {
            n = 1;
            got = pagealloc_alloc(&pa, n);
            if (got == PAGEALLOC_FAILED)
                break;
        }
        CHECK_EQ(got, ref_first_fit(ref, max_pages, n));
        REQUIRE(got < max_pages && n <= max_pages - got && ref_all(ref, got, n, PAGE_FREE));
        ref_set(ref, got, n, PAGE_USED);
        handed_out += n;
    }
    CHECK_EQ(handed_out, ref_count(ref, max_pages, PAGE_USED));
    CHECK_EQ(pagealloc_free_pages(&pa), 0);
    check_against_ref(&pa, ref, max_pages);

    /* Growing the hole at 1000 bridges [0,1000) and [1001,1500) once free. */
    grow_both(&pa, ref, 1000, 1);
    CHECK_EQ(pagealloc_alloc(&pa, 1), 1000);
    pagealloc_free(&pa, 0, 1500);
    ref_set(ref, 0, 1500, PAGE_FREE);
    CHECK_EQ(pagealloc_alloc(&pa, 1500), 0);
    ref_set(ref, 0, 1500, PAGE_USED);
    check_against_ref(&pa, ref, max_pages);
    free(ref);
}

/* The real size of the heap's range: init, the last arena, and one run of
 * every page. */
TEST(pagealloc_full_address_range)
{
    const size_t max_pages = HEAP_MAX_PAGES, arena = PAGES_PER_ARENA;
    const size_t last_arena = max_pages - arena;
    pagealloc pa;
    pagealloc_init(&pa, max_pages);
    CHECK_EQ(pagealloc_free_pages(&pa), 0);
    CHECK_EQ(pagealloc_largest_free_run(&pa), 0);
    CHECK_EQ(pagealloc_alloc(&pa, 1), PAGEALLOC_FAILED);
    CHECK(!pagealloc_page_free(&pa, max_pages - 1));
    CHECK(pagealloc_verify(&pa));

    pagealloc_grow(&pa, last_arena, arena);
    CHECK(pagealloc_page_free(&pa, max_pages - 1));
    CHECK_EQ(pagealloc_alloc(&pa, 1), last_arena);
    CHECK_EQ(pagealloc_alloc(&pa, arena - 1), last_arena + 1);
    CHECK_EQ(pagealloc_alloc(&pa, 1), PAGEALLOC_FAILED);
    CHECK(!pagealloc_page_free(&pa, max_pages - 1));
    pagealloc_free(&pa, last_arena, arena);

    /* First fit prefers the first arena once it is grown. */
    pagealloc_grow(&pa, 0, arena);
    CHECK_EQ(pagealloc_alloc(&pa, arena), 0);
    CHECK_EQ(pagealloc_alloc(&pa, arena), last_arena);
    pagealloc_free(&pa, 0, arena);
    pagealloc_free(&pa, last_arena, arena);
    CHECK(pagealloc_verify(&pa));

    pagealloc_grow(&pa, arena, max_pages - 2 * arena);
    CHECK_EQ(pagealloc_free_pages(&pa), max_pages);
    CHECK_EQ(pagealloc_largest_free_run(&pa), max_pages);
    CHECK_EQ(pagealloc_alloc(&pa, max_pages), 0);
    CHECK_EQ(pagealloc_alloc(&pa, 1), PAGEALLOC_FAILED);
    pagealloc_free(&pa, 0, max_pages);
    CHECK_EQ(pagealloc_alloc(&pa, max_pages - 1), 0);
    CHECK_EQ(pagealloc_alloc(&pa, 1), max_pages - 1);
    pagealloc_free(&pa, max_pages / 2, 3);
    CHECK_EQ(pagealloc_largest_free_run(&pa), 3);
    CHECK_EQ(pagealloc_alloc(&pa, 2), max_pages / 2);
    CHECK(pagealloc_verify(&pa));
}

/* A max_pages that is not a whole number of chunks: the tail of the last
 * chunk and the padding leaves must never be handed out. */
TEST(pagealloc_partial_last_chunk)
{
    const size_t max_pages = 5 * CHUNK + 77;
    pagealloc pa;
    pagealloc_init(&pa, max_pages);
    pagealloc_grow(&pa, 0, max_pages);
    CHECK_EQ(pagealloc_largest_free_run(&pa), max_pages);
    CHECK_EQ(pagealloc_alloc(&pa, max_pages + 1), PAGEALLOC_FAILED);
    CHECK_EQ(pagealloc_alloc(&pa, 5 * CHUNK), 0);
    CHECK_EQ(pagealloc_alloc(&pa, 78), PAGEALLOC_FAILED);
    CHECK_EQ(pagealloc_alloc(&pa, 77), 5 * CHUNK);
    CHECK_EQ(pagealloc_alloc(&pa, 1), PAGEALLOC_FAILED);
    CHECK(pagealloc_verify(&pa));

    pagealloc one;
    pagealloc_init(&one, 1);
    CHECK_EQ(pagealloc_alloc(&one, 1), PAGEALLOC_FAILED);
    pagealloc_grow(&one, 0, 1);
    CHECK_EQ(pagealloc_alloc(&one, 2), PAGEALLOC_FAILED);
    CHECK_EQ(pagealloc_alloc(&one, 1), 0);
    CHECK(pagealloc_verify(&one));
}

/* pagealloc_verify is what the other tests lean on: it must notice damage. */
TEST(pagealloc_verify_detects_corruption)
{
    pagealloc pa;
    pagealloc_init(&pa, SMALL_MAX_PAGES);
    pagealloc_grow(&pa, 0, 4 * CHUNK);
    CHECK_EQ(pagealloc_alloc(&pa, 100), 0);
    CHECK(pagealloc_verify(&pa));

    pa.used[3] ^= (uint64_t)1 << 5; /* a bit that disagrees with its leaf */
    CHECK(!pagealloc_verify(&pa));
    pa.used[3] ^= (uint64_t)1 << 5;

    pa.used[10 * CHUNK / 64] &= ~(uint64_t)1; /* a free page outside the heap */
    CHECK(!pagealloc_verify(&pa));
    pa.used[10 * CHUNK / 64] |= 1;

    pa.tree[pa.nleaves + 1].start--;
    CHECK(!pagealloc_verify(&pa));
    pa.tree[pa.nleaves + 1].start++;

    pa.tree[1].max++;
    CHECK(!pagealloc_verify(&pa));
    pa.tree[1].max--;

    pa.free_pages++;
    CHECK(!pagealloc_verify(&pa));
    pa.free_pages--;

    CHECK(pagealloc_verify(&pa));
}
