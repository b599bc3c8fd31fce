/*
 * sizeclasses.h — the size classes of small objects, as Go's runtime has them:
 * 67 classes from 8 B to 32 KB plus class 0 for large objects. A span class
 * pairs a size class with a noscan bit (spanclass = sizeclass<<1 | noscan), so
 * pointer-free objects live in spans the collector never scans.
 *
 * Invariants (checked by tests/test_sizeclasses.c):
 *  - class sizes strictly increase; every size is a multiple of 8 (of 16 from
 *    32 B on, so pointer words are aligned on every target);
 *  - a class's span wastes at most 1/8 of its bytes at the tail;
 *  - size_to_class(n) is the smallest class whose size is >= n;
 *  - object index = (offset * div_mul) >> 32 is exact for every offset inside
 *    a span of the class.
 */
#ifndef GORT_SIZECLASSES_H
#define GORT_SIZECLASSES_H

#include <stddef.h>
#include <stdint.h>

#define NUM_SIZE_CLASSES 68 /* class 0 (large) and 67 small classes */
#define NUM_SPAN_CLASSES (NUM_SIZE_CLASSES << 1)
#define SMALL_SIZE_MAX 1024 /* up to here the lookup table steps by 8 B */
#define SMALL_SIZE_DIV 8
#define LARGE_SIZE_DIV 128 /* above SMALL_SIZE_MAX it steps by 128 B */

typedef uint8_t spanclass;

extern uint32_t class_to_size[NUM_SIZE_CLASSES];
extern uint8_t class_to_npages[NUM_SIZE_CLASSES];
extern uint32_t class_to_div_mul[NUM_SIZE_CLASSES];
extern uint8_t size_to_class8[SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1];
extern uint8_t size_to_class128[(32768 - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1];

/* Builds the tables; idempotent, called before the heap's first use. */
void sizeclasses_init(void);

static inline unsigned size_to_class(size_t size)
{
    if (size <= SMALL_SIZE_MAX - 8)
        return size_to_class8[(size + SMALL_SIZE_DIV - 1) / SMALL_SIZE_DIV];
    return size_to_class128[(size - SMALL_SIZE_MAX + LARGE_SIZE_DIV - 1) / LARGE_SIZE_DIV];
}

static inline spanclass make_spanclass(unsigned sizeclass, int noscan)
{
    return (spanclass)(sizeclass << 1 | (noscan != 0));
}
static inline unsigned spanclass_sizeclass(spanclass sc) { return sc >> 1; }
static inline int spanclass_noscan(spanclass sc) { return sc & 1; }

#endif
