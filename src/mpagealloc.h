/*
 * mpagealloc.h — the page allocator of the heap (Go's pageAlloc): which pages
 * of the heap's address range are free, and the lowest run of free pages of a
 * given length.
 *
 * Pages are named by index, 0 .. max_pages-1, relative to the heap base; the
 * caller (mheap) converts addresses and holds its lock around every call, so
 * nothing here is thread-safe on its own.
 *
 * A page is in one of three states: not in the heap (never grown), free, or in
 * use. Every page starts not in the heap; pagealloc_grow makes pages free,
 * pagealloc_alloc makes free pages in use, pagealloc_free makes them free again.
 * Pages never leave the heap.
 */
#ifndef GORT_MPAGEALLOC_H
#define GORT_MPAGEALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pages summarised by one leaf of the tree: 512 pages = 4 MB with 8 KB pages.
 * A power of two and a multiple of 64 (the bitmap's word). */
#define PAGEALLOC_CHUNK_PAGES 512

/* Returned by pagealloc_alloc when no run of the requested length is free. */
#define PAGEALLOC_FAILED ((size_t)-1)

/* The free runs of a range of pages (a chunk, or a subtree of chunks). */
typedef struct pagealloc_summary {
    uint32_t start; /* free pages at the beginning of the range */
    uint32_t max;   /* longest run of free pages anywhere in the range */
    uint32_t end;   /* free pages at the end of the range */
} pagealloc_summary;

typedef struct pagealloc pagealloc;

/* Defined here so that mheap can embed it; only mpagealloc.c touches the
 * fields (tests may read them). */
struct pagealloc {
    uint64_t *used;          /* one bit per page: 1 = in use or not in heap */
    uint64_t *in_heap;       /* one bit per page: 1 = grown into the heap */
    pagealloc_summary *tree; /* complete binary tree; tree[1] is the root and
                                chunk c's leaf is tree[nleaves + c] */
    size_t max_pages;        /* pages the heap's range can hold */
    size_t nchunks;          /* chunks covering max_pages */
    size_t nleaves;          /* nchunks rounded up to a power of two */
    size_t free_pages;       /* free pages in the heap */
};

/* Prepares `pa` for a heap range of `max_pages` pages (1 .. 2^31); every page
 * starts not in the heap. The bitmaps and the tree come from prim_sys_alloc
 * (about max_pages/4 bytes) and are never returned; throws when the system
 * has no memory for them. */
void pagealloc_init(pagealloc *pa, size_t max_pages);

/* Adds pages [first, first+npages) to the heap as free pages. They must lie in
 * the range and must never have been grown before (asserted). */
void pagealloc_grow(pagealloc *pa, size_t first, size_t npages);

/* First fit: finds the lowest-index run of `npages` free pages (npages > 0),
 * marks it in use and returns its first page; PAGEALLOC_FAILED when no run
 * that long is free. The run may span any number of chunks. O(log chunks)
 * to find the run, plus the chunks it covers to mark it. */
size_t pagealloc_alloc(pagealloc *pa, size_t npages);

/* Makes the in-use pages [first, first+npages) free again (npages > 0); they
 * join any free neighbours into one run. Asserted: the run lies in the range,
 * was grown, and every page of it is in use (no double free). */
void pagealloc_free(pagealloc *pa, size_t first, size_t npages);

/* Free pages in the heap. O(1). */
size_t pagealloc_free_pages(const pagealloc *pa);

/* Longest run of free pages: the largest npages pagealloc_alloc can
 * satisfy right now. O(1). */
size_t pagealloc_largest_free_run(const pagealloc *pa);

/* True when page `page` (< max_pages) is in the heap and free. */
bool pagealloc_page_free(const pagealloc *pa, size_t page);

/* Recomputes every summary and the free-page count from the bitmaps, with
 * code independent of the fast paths, and checks that no page outside the
 * heap is free. False on any mismatch. O(max_pages): for debug builds and
 * tests. */
bool pagealloc_verify(const pagealloc *pa);

#endif
