/* Properties of the size-class table that the allocator relies on. */
#include "runtime.h"
#include "sizeclasses.h"
#include "testing.h"

TEST(sizeclasses_count_and_order)
{
    sizeclasses_init();
    CHECK_EQ(class_to_size[0], 0);
    CHECK_EQ(class_to_size[1], 8);
    CHECK_EQ(class_to_size[NUM_SIZE_CLASSES - 1], MAX_SMALL_SIZE);
    for (unsigned c = 2; c < NUM_SIZE_CLASSES; c++)
        CHECK(class_to_size[c] > class_to_size[c - 1]);
    CHECK_EQ(NUM_SPAN_CLASSES, 136);
}

TEST(sizeclasses_alignment)
{
    sizeclasses_init();
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        uint32_t size = class_to_size[c];
        CHECK_EQ(size % 8, 0);
        if (size >= 32)
            CHECK_EQ(size % 16, 0);
        /* Power-of-two classes keep their natural alignment up to a page. */
        if ((size & (size - 1)) == 0 && size <= PAGE_SIZE)
            CHECK_EQ((class_to_npages[c] * PAGE_SIZE) % size, 0);
    }
}

TEST(sizeclasses_tail_waste)
{
    sizeclasses_init();
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        uint32_t span = class_to_npages[c] * (uint32_t)PAGE_SIZE;
        uint32_t waste = span % class_to_size[c];
        if (waste > span / 8)
            testing_fail(__FILE__, __LINE__, "class %u (%u B) wastes %u of %u", c,
                         class_to_size[c], waste, span);
        CHECK(span / class_to_size[c] >= 1);
        CHECK(span / class_to_size[c] <= PAGE_SIZE / 8);
    }
}

TEST(sizeclasses_every_size_maps_to_smallest_fit)
{
    sizeclasses_init();
    for (size_t size = 1; size <= MAX_SMALL_SIZE; size++) {
        unsigned c = size_to_class(size);
        REQUIRE(c >= 1 && c < NUM_SIZE_CLASSES);
        REQUIRE(class_to_size[c] >= size);
        REQUIRE(class_to_size[c - 1] < size);
    }
}

TEST(sizeclasses_division_by_multiplication)
{
    sizeclasses_init();
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        uint32_t size = class_to_size[c];
        uint32_t span = class_to_npages[c] * (uint32_t)PAGE_SIZE;
        for (uint32_t off = 0; off < span; off++) {
            uint32_t got = (uint32_t)(((uint64_t)off * class_to_div_mul[c]) >> 32);
            if (got != off / size) {
                testing_fail(__FILE__, __LINE__, "class %u offset %u: %u != %u", c, off, got,
                             off / size);
                return;
            }
        }
    }
}
