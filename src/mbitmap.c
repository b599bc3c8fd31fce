/*
 * mbitmap.c — the bitmaps of the heap: a span's allocBits with the allocCache
 * window over them (finding the next free slot by count-trailing-zeros), and
 * the arena's heap bitmap that says which words of small objects hold
 * pointers.
 *
 * Invariants:
 *  - allocCache bit k stands for object freeindex + k, and is 1 when that
 *    object is free (the complement of allocBits, shifted);
 *  - a heap bitmap bit is meaningful only inside an allocated object of a scan
 *    span: allocation rewrites every bit of the slot, so stale bits of freed
 *    objects never leak into a new one;
 *  - spans start on pages and a page's heap bits fill whole 64-bit words, so
 *    two spans never share a bitmap word;
 *  - a word's bit is in the bitmap of the word's own arena, also for the
 *    words of an object whose slot runs from one arena into the next
 *    (heap_bits_word), so every bitmap is written only inside its bounds.
 */
#include <string.h>

#include "mheap.h"

void mspan_init_objects(mspan *s)
{
    memset(s->allocBits, 0, sizeof s->bits[0]);
    memset(s->gcmarkBits, 0, sizeof s->bits[0]);
    s->freeindex = 0;
    s->allocCount = 0;
    s->allocCache = ~(uint64_t)0;
}

void mspan_refill_alloc_cache(mspan *s, uint16_t whichword)
{
    s->allocCache = ~s->allocBits[whichword];
}

static inline unsigned ctz_or_64(uint64_t x) { return x ? (unsigned)__builtin_ctzll(x) : 64; }

/* The index of the next free object at or after freeindex, advancing
 * freeindex past it; nelems when the span is full. */
uint16_t mspan_next_free_index(mspan *s)
{
    unsigned index = s->freeindex;
    unsigned nelems = s->nelems;
    if (index == nelems)
        return (uint16_t)nelems;
    unsigned bit = ctz_or_64(s->allocCache);
    while (bit == 64) {
        index = (index + 64) & ~63u; /* next group of 64 objects */
        if (index >= nelems) {
            OWNER_STORE(s->freeindex, (uint16_t)nelems);
            return (uint16_t)nelems;
        }
        mspan_refill_alloc_cache(s, (uint16_t)(index / 64));
        bit = ctz_or_64(s->allocCache);
    }
    unsigned result = index + bit;
    if (result >= nelems) {
        OWNER_STORE(s->freeindex, (uint16_t)nelems);
        return (uint16_t)nelems;
    }
    s->allocCache = s->allocCache >> bit >> 1;
    index = result + 1;
    if (index % 64 == 0 && index != nelems)
        mspan_refill_alloc_cache(s, (uint16_t)(index / 64));
    OWNER_STORE(s->freeindex, (uint16_t)index);
    return (uint16_t)result;
}

bool mspan_is_allocated(const mspan *s, uintptr_t index)
{
    if (index < SHARED_LOAD(s->freeindex))
        return true;
    /* Shared loads: mspan_is_allocated_racing_sweep reads them beside a sweep. */
    return (SHARED_LOAD(SHARED_LOAD(s->allocBits)[index / 64]) >> (index % 64)) & 1;
}

static void heap_bits_clear(heap_arena *ha, uintptr_t first, uintptr_t n)
{
    uintptr_t end = first + n;
    while (first < end) {
        unsigned shift = first % 64;
        uintptr_t take = 64 - shift;
        if (take > end - first)
            take = end - first;
        uint64_t mask = (take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1)) << shift;
        *heap_bits_word(ha, first) &= ~mask;
        first += take;
    }
}

void heap_bits_set_type(uintptr_t x, uintptr_t slot_size, size_t data_size, const gort_type *t)
{
    heap_arena *ha = arena_of(x);
    uintptr_t first = (x - ha->base) / PTR_SIZE;
    uintptr_t slot_words = slot_size / PTR_SIZE;
    unsigned shift = first % 64;
    /* The common case, one value whose slot lies in one bitmap word: a
     * single read-modify-write of that word, without the general loops
     * (whose division and spills cost most of an allocation on wasm). */
    if (data_size == t->size && t->ptrwords <= 64 && shift + slot_words <= 64) {
        uint64_t slot_mask = (~(uint64_t)0 >> (64 - slot_words)) << shift;
        uint64_t *word = heap_bits_word(ha, first);
        *word = (*word & ~slot_mask) | (t->ptrbits << shift);
        return;
    }
    heap_bits_clear(ha, first, slot_words);
    uintptr_t elem_words = t->size / PTR_SIZE;
    uintptr_t nelems = data_size / t->size;
    size_t mask_words = (t->ptrwords + 63) / 64;
    const uint64_t *mask = t->ptrwords <= 64 ? &t->ptrbits : t->ptrmask;
    /* Visit only the pointer words: cost follows the pointers, not the size. */
    for (uintptr_t e = 0; e < nelems; e++) {
        uintptr_t elem_first = first + e * elem_words;
        for (size_t m = 0; m < mask_words; m++) {
            uint64_t bits = mask[m];
            while (bits != 0) {
                uintptr_t w = elem_first + m * 64 + (uintptr_t)__builtin_ctzll(bits);
                *heap_bits_word(ha, w) |= (uint64_t)1 << (w % 64);
                bits &= bits - 1;
            }
        }
    }
}

bool heap_bits_is_pointer(uintptr_t p)
{
    heap_arena *ha = arena_of(p);
    uintptr_t w = (p - ha->base) / PTR_SIZE;
    return (*heap_bits_word(ha, w) >> (w % 64)) & 1;
}
