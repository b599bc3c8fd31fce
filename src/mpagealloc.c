/*
 * mpagealloc.c — the page allocator: a bitmap of the heap's pages under a
 * radix tree of free-run summaries, after Go's pageAlloc (mpagealloc.go).
 *
 * The bitmap `used` has one bit per page, 1 when the page is in use or not in
 * the heap; bit k of word w is page 64*w + k, so low bits are low pages. The
 * pages form chunks of PAGEALLOC_CHUNK_PAGES; each chunk has a leaf summary
 * (free pages at its start, longest free run, free pages at its end) and the
 * leaves sit under a complete binary tree whose nodes summarise their subtree.
 * First fit walks down from the root, choosing the leftmost place a run fits,
 * and only reads a chunk's bitmap once the run is known to lie inside it.
 *
 * Invariants (pagealloc_verify checks them all):
 *  - A leaf always equals the summary recomputed from its chunk's bits, and an
 *    internal node always equals the combination of its two children.
 *  - Leaves past the last chunk, and bits past max_pages, say "in use": the
 *    padding can never be allocated.
 *  - A page is free only if it is in the heap (used == 0 implies in_heap == 1);
 *    in_heap bits are only ever set, so a page never leaves the heap.
 *  - free_pages equals the number of 0 bits in `used`.
 *  - Summary fields never exceed max_pages, which is at most 2^31, so they fit
 *    uint32_t and the sum of two of them cannot overflow.
 */
#include "mpagealloc.h"

#include <string.h>

#include "prim/prim.h"
#include "runtime.h"

#define WORD_BITS 64
#define CHUNK_SHIFT 9
#define CHUNK_WORDS (PAGEALLOC_CHUNK_PAGES / WORD_BITS)
/* Keeps every summary field, and any sum of two, inside uint32_t. */
#define PAGEALLOC_MAX_PAGES ((size_t)1 << 31)

_Static_assert(PAGEALLOC_CHUNK_PAGES == 1 << CHUNK_SHIFT, "CHUNK_SHIFT");
_Static_assert(PAGEALLOC_CHUNK_PAGES % WORD_BITS == 0, "chunks are whole words");

static const pagealloc_summary chunk_all_free = {
    PAGEALLOC_CHUNK_PAGES, PAGEALLOC_CHUNK_PAGES, PAGEALLOC_CHUNK_PAGES};

static inline uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

/* Free pages at the bottom of a word (its low bits). */
static inline unsigned free_head(uint64_t used)
{
    return used ? (unsigned)__builtin_ctzll(used) : WORD_BITS;
}

/* Free pages at the top of a word (its high bits). */
static inline unsigned free_tail(uint64_t used)
{
    return used ? (unsigned)__builtin_clzll(used) : WORD_BITS;
}

/* Bit p of the result is set when bits p .. p+len-1 of `ones` are all set.
 * Each step at most doubles the run length already proven, so a run of len
 * takes O(log len) steps; zeros shifted in from the top end every run there. */
static inline uint64_t run_starts(uint64_t ones, unsigned len)
{
    uint64_t starts = ones;
    unsigned proven = 1;
    while (proven < len && starts) {
        unsigned step = proven < len - proven ? proven : len - proven;
        starts &= starts >> step;
        proven += step;
    }
    return starts;
}

/* The longest run of free pages inside one word, in O(log 64): double the
 * proven length while a run that long exists, then binary-search the rest. */
static unsigned longest_free_in_word(uint64_t used)
{
    uint64_t starts = ~used;
    unsigned len = 1;
    if (!starts)
        return 0;
    while (len < WORD_BITS) {
        uint64_t longer = starts & (starts >> len);
        if (!longer)
            break;
        starts = longer;
        len *= 2;
    }
    for (unsigned step = len / 2; step > 0; step /= 2) {
        uint64_t longer = starts & (starts >> step);
        if (longer) {
            starts = longer;
            len += step;
        }
    }
    return len;
}

/* Masks selecting, within the first and last word of [first, first+n), the
 * bits of the range. */
static inline uint64_t head_mask(size_t first) { return ~(uint64_t)0 << (first % WORD_BITS); }
static inline uint64_t tail_mask(size_t last)
{
    return ~(uint64_t)0 >> (WORD_BITS - 1 - last % WORD_BITS);
}

static void set_bits(uint64_t *words, size_t first, size_t n, bool value)
{
    size_t last = first + n - 1;
    size_t w = first / WORD_BITS, last_w = last / WORD_BITS;
    uint64_t mask = head_mask(first);
    for (; w <= last_w; w++, mask = ~(uint64_t)0) {
        if (w == last_w)
            mask &= tail_mask(last);
        if (value)
            words[w] |= mask;
        else
            words[w] &= ~mask;
    }
}

#ifdef GORT_DEBUG /* only the assertions check preconditions */
/* True when every bit of [first, first+n) equals `value`. */
static bool bits_all(const uint64_t *words, size_t first, size_t n, bool value)
{
    size_t last = first + n - 1;
    size_t w = first / WORD_BITS, last_w = last / WORD_BITS;
    uint64_t mask = head_mask(first);
    for (; w <= last_w; w++, mask = ~(uint64_t)0) {
        if (w == last_w)
            mask &= tail_mask(last);
        if ((words[w] & mask) != (value ? mask : 0))
            return false;
    }
    return true;
}

static bool in_range(const pagealloc *pa, size_t first, size_t npages)
{
    return npages > 0 && first < pa->max_pages && npages <= pa->max_pages - first;
}
#endif

static pagealloc_summary summarize_chunk(const uint64_t *words)
{
    uint32_t start = 0, max = 0, run = 0; /* run: free pages ending here */
    bool seen_used = false;
    for (size_t i = 0; i < CHUNK_WORDS; i++) {
        uint64_t used = words[i];
        if (used == 0) {
            run += WORD_BITS;
            continue;
        }
        uint32_t head = free_head(used);
        if (!seen_used) {
            start = run + head;
            seen_used = true;
        }
        max = max_u32(max, run + head);
        /* A word with no more free pages than max cannot hold a longer run. */
        if ((uint32_t)(WORD_BITS - __builtin_popcountll(used)) > max)
            max = max_u32(max, longest_free_in_word(used));
        run = free_tail(used);
    }
    if (!seen_used)
        return chunk_all_free;
    return (pagealloc_summary){start, max_u32(max, run), run};
}

/* The summary of two adjacent ranges of `half` pages each. */
static pagealloc_summary combine(pagealloc_summary left, pagealloc_summary right, size_t half)
{
    pagealloc_summary s;
    s.start = left.start == half ? left.start + right.start : left.start;
    s.end = right.end == half ? right.end + left.end : right.end;
    s.max = max_u32(max_u32(left.max, right.max), left.end + right.start);
    return s;
}

/* Recomputes the leaves of the chunks that [first, first+npages) touches and
 * then, level by level, only their ancestors. */
static void update_summaries(pagealloc *pa, size_t first, size_t npages)
{
    size_t lo = first >> CHUNK_SHIFT, hi = (first + npages - 1) >> CHUNK_SHIFT;
    for (size_t c = lo; c <= hi; c++)
        pa->tree[pa->nleaves + c] = summarize_chunk(&pa->used[c * CHUNK_WORDS]);
    size_t child_pages = PAGEALLOC_CHUNK_PAGES;
    for (lo += pa->nleaves, hi += pa->nleaves; lo > 1; child_pages *= 2) {
        lo /= 2;
        hi /= 2;
        for (size_t node = lo; node <= hi; node++)
            pa->tree[node] = combine(pa->tree[2 * node], pa->tree[2 * node + 1], child_pages);
    }
}

/* The offset of the first run of npages free pages in a chunk that its
 * summary says holds one. Walks the words once, carrying the free pages at
 * the end of the words already seen so that runs across words are found. */
static size_t find_in_chunk(const uint64_t *words, size_t npages)
{
    size_t run = 0;
    for (size_t i = 0; i < CHUNK_WORDS; i++) {
        uint64_t used = words[i];
        if (run + free_head(used) >= npages)
            return i * WORD_BITS - run;
        if (used == 0) {
            run += WORD_BITS;
            continue;
        }
        if (npages < WORD_BITS) {
            uint64_t starts = run_starts(~used, (unsigned)npages);
            if (starts)
                return i * WORD_BITS + (size_t)__builtin_ctzll(starts);
        }
        run = free_tail(used);
    }
    gort_throw("pagealloc: a chunk's summary promises a run its bits lack");
}

/* The lowest-index run of npages free pages, or PAGEALLOC_FAILED.
 *
 * Invariant of the descent: the first fit starts inside the current node.
 * Then if the left child holds a run that long, the first fit is there (a run
 * crossing the middle starts no earlier than the left child's end run, which
 * would itself be a fit or lie after one). Otherwise, if the left child's end
 * run plus the right child's start run is long enough, that is the first fit,
 * however many chunks it covers. Otherwise it lies in the right child. At a
 * leaf, the run cannot cross the chunk's end (an ancestor would have seen the
 * crossing), so it lies wholly inside the chunk. */
static size_t find_first_fit(const pagealloc *pa, size_t npages)
{
    const pagealloc_summary *tree = pa->tree;
    if (tree[1].max < npages)
        return PAGEALLOC_FAILED;
    size_t node = 1, base = 0, half = pa->nleaves * PAGEALLOC_CHUNK_PAGES;
    while (node < pa->nleaves) {
        const pagealloc_summary *left = &tree[2 * node], *right = &tree[2 * node + 1];
        half /= 2;
        if (left->max >= npages) {
            node = 2 * node;
        } else if ((size_t)left->end + right->start >= npages) {
            return base + half - left->end;
        } else {
            node = 2 * node + 1;
            base += half;
        }
    }
    gort_assert(tree[node].max >= npages);
    return base + find_in_chunk(&pa->used[base / WORD_BITS], npages);
}

void pagealloc_init(pagealloc *pa, size_t max_pages)
{
    gort_assert(max_pages > 0 && max_pages <= PAGEALLOC_MAX_PAGES);
    memset(pa, 0, sizeof *pa);
    pa->max_pages = max_pages;
    pa->nchunks = (max_pages + PAGEALLOC_CHUNK_PAGES - 1) >> CHUNK_SHIFT;
    pa->nleaves = 1;
    while (pa->nleaves < pa->nchunks)
        pa->nleaves *= 2;
    size_t bitmap_bytes = pa->nchunks * CHUNK_WORDS * sizeof(uint64_t);
    pa->used = prim_sys_alloc(bitmap_bytes);
    pa->in_heap = prim_sys_alloc(bitmap_bytes);
    /* A zeroed summary says "nothing free", which is right for every node. */
    pa->tree = prim_sys_alloc(2 * pa->nleaves * sizeof(pagealloc_summary));
    if (!pa->used || !pa->in_heap || !pa->tree)
        gort_throw("out of memory allocating page allocator metadata");
    memset(pa->used, 0xff, bitmap_bytes);
}

void pagealloc_grow(pagealloc *pa, size_t first, size_t npages)
{
    gort_assert(in_range(pa, first, npages));
    gort_assert(bits_all(pa->in_heap, first, npages, false));
    gort_assert(bits_all(pa->used, first, npages, true));
    set_bits(pa->in_heap, first, npages, true);
    set_bits(pa->used, first, npages, false);
    update_summaries(pa, first, npages);
    pa->free_pages += npages;
}

size_t pagealloc_alloc(pagealloc *pa, size_t npages)
{
    gort_assert(npages > 0);
    size_t first = find_first_fit(pa, npages);
    if (first == PAGEALLOC_FAILED)
        return PAGEALLOC_FAILED;
    gort_assert(in_range(pa, first, npages));
    gort_assert(bits_all(pa->used, first, npages, false));
    set_bits(pa->used, first, npages, true);
    update_summaries(pa, first, npages);
    pa->free_pages -= npages;
    return first;
}

void pagealloc_free(pagealloc *pa, size_t first, size_t npages)
{
    gort_assert(in_range(pa, first, npages));
    gort_assert(bits_all(pa->in_heap, first, npages, true));
    gort_assert(bits_all(pa->used, first, npages, true));
    set_bits(pa->used, first, npages, false);
    update_summaries(pa, first, npages);
    pa->free_pages += npages;
}

size_t pagealloc_free_pages(const pagealloc *pa) { return pa->free_pages; }

size_t pagealloc_largest_free_run(const pagealloc *pa) { return pa->tree[1].max; }

bool pagealloc_page_free(const pagealloc *pa, size_t page)
{
    gort_assert(page < pa->max_pages);
    return !(pa->used[page / WORD_BITS] >> (page % WORD_BITS) & 1);
}

/* Page by page, deliberately unlike summarize_chunk, so that verify catches a
 * mistake in the word tricks instead of repeating it. */
static pagealloc_summary summarize_chunk_slowly(const uint64_t *words)
{
    pagealloc_summary s = {0, 0, 0};
    uint32_t run = 0;
    bool seen_used = false;
    for (size_t p = 0; p < PAGEALLOC_CHUNK_PAGES; p++) {
        if (words[p / WORD_BITS] >> (p % WORD_BITS) & 1) {
            seen_used = true;
            run = 0;
            continue;
        }
        run++;
        s.max = max_u32(s.max, run);
        if (!seen_used)
            s.start = run;
    }
    s.end = run;
    return s;
}

static bool summaries_equal(pagealloc_summary a, pagealloc_summary b)
{
    return a.start == b.start && a.max == b.max && a.end == b.end;
}

bool pagealloc_verify(const pagealloc *pa)
{
    size_t nwords = pa->nchunks * CHUNK_WORDS;
    size_t free_bits = 0;
    for (size_t w = 0; w < nwords; w++) {
        if (~pa->used[w] & ~pa->in_heap[w])
            return false; /* a free page outside the heap */
        free_bits += (size_t)__builtin_popcountll(~pa->used[w]);
    }
    for (size_t page = pa->max_pages; page < nwords * WORD_BITS; page++)
        if (pa->in_heap[page / WORD_BITS] >> (page % WORD_BITS) & 1)
            return false;
    if (free_bits != pa->free_pages)
        return false;
    for (size_t c = 0; c < pa->nleaves; c++) {
        pagealloc_summary want = {0, 0, 0};
        if (c < pa->nchunks)
            want = summarize_chunk_slowly(&pa->used[c * CHUNK_WORDS]);
        if (!summaries_equal(pa->tree[pa->nleaves + c], want))
            return false;
    }
    size_t child_pages = PAGEALLOC_CHUNK_PAGES;
    for (size_t level = pa->nleaves / 2; level >= 1; level /= 2, child_pages *= 2)
        for (size_t node = level; node < 2 * level; node++)
            if (!summaries_equal(pa->tree[node], combine(pa->tree[2 * node],
                                                         pa->tree[2 * node + 1], child_pages)))
                return false;
    return true;
}
