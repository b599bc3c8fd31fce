/*
 * sizeclasses.c — computes the size-class tables at start-up with the rules
 * Go's runtime uses to generate its own (mksizeclasses.go): step sizes by an
 * alignment that grows with the size, give each size the fewest pages that keep
 * tail waste <= 1/8, merge neighbours that would pack the same number of
 * objects into the same pages, then grow each class to the largest size that
 * still packs that many objects. The result is Go's 67 classes.
 *
 * Invariants: see sizeclasses.h; the tables are written once, before any
 * thread allocates, and only read afterwards.
 */
#include "sizeclasses.h"

#include "lock.h"
#include "runtime.h"

uint32_t class_to_size[NUM_SIZE_CLASSES];
uint8_t class_to_npages[NUM_SIZE_CLASSES];
uint32_t class_to_div_mul[NUM_SIZE_CLASSES];
uint8_t size_to_class8[SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1];
uint8_t size_to_class128[(32768 - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1];

/* A span may waste at most 1/TAIL_WASTE_DIVISOR of its bytes. */
#define TAIL_WASTE_DIVISOR 8

static int is_power_of_two(uint32_t x) { return (x & (x - 1)) == 0; }

static uint32_t alignment_for(uint32_t size, uint32_t align)
{
    if (!is_power_of_two(size))
        return align;
    if (size >= 2048)
        return 256;
    if (size >= 128)
        return size / 8;
    if (size >= 32)
        return 16; /* keeps two-word objects two-word aligned on 64-bit */
    return align;
}

static void build_tables(void)
{
    unsigned n = 1; /* class 0 stays zero: large objects */
    uint32_t align = 8;
    for (uint32_t size = align; size <= MAX_SMALL_SIZE; size += align) {
        align = alignment_for(size, align);
        uint32_t alloc = PAGE_SIZE;
        while (alloc % size > alloc / TAIL_WASTE_DIVISOR)
            alloc += PAGE_SIZE;
        uint32_t npages = alloc / PAGE_SIZE;
        if (n > 1 && npages == class_to_npages[n - 1] &&
            alloc / size == alloc / class_to_size[n - 1]) {
            class_to_size[n - 1] = size;
            continue;
        }
        if (n == NUM_SIZE_CLASSES)
            gort_throw("sizeclasses: too many size classes");
        class_to_size[n] = size;
        class_to_npages[n] = (uint8_t)npages;
        n++;
    }
    if (n != NUM_SIZE_CLASSES)
        gort_throw("sizeclasses: wrong number of size classes");

    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        uint32_t span_bytes = class_to_npages[c] * (uint32_t)PAGE_SIZE;
        uint32_t grown = (span_bytes / (span_bytes / class_to_size[c])) & ~(LARGE_SIZE_DIV - 1u);
        if (grown > class_to_size[c])
            class_to_size[c] = grown;
        class_to_div_mul[c] = UINT32_MAX / class_to_size[c] + 1;
    }

    unsigned c = 1;
    for (uint32_t i = 0; i < sizeof size_to_class8; i++) {
        uint32_t size = i * SMALL_SIZE_DIV;
        while (class_to_size[c] < size)
            c++;
        size_to_class8[i] = (uint8_t)c;
    }
    for (uint32_t i = 0; i < sizeof size_to_class128; i++) {
        uint32_t size = SMALL_SIZE_MAX + i * LARGE_SIZE_DIV;
        while (class_to_size[c] < size)
            c++;
        size_to_class128[i] = (uint8_t)c;
    }
}

void sizeclasses_init(void)
{
    static once built = ONCE_INIT;
    once_do(&built, build_tables);
}
