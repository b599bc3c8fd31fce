/*
 * demo.c — an allocator workload: builds a few binary trees of typed nodes on
 * the gort heap, fills pointer-free buffers of mixed sizes, then prints the
 * heap's statistics and a map of its first arena (one character per page).
 */
#include <gort/gort.h>
#include <stdio.h>
#include <string.h>

struct node {
    struct node *left, *right;
    long long value;
};
static const gort_type node_type = GORT_TYPE(
    struct node, "node", GORT_PTR_FIELD(struct node, left) | GORT_PTR_FIELD(struct node, right));

static struct node *build(int depth, long long *count)
{
    struct node *n = gort_new(&node_type);
    n->value = ++*count;
    if (depth > 0) {
        n->left = build(depth - 1, count);
        n->right = build(depth - 1, count);
    }
    return n;
}

static long long check(const struct node *n)
{
    return n->left == NULL ? n->value : n->value + check(n->left) + check(n->right);
}

int main(void)
{
    long long count = 0;
    struct node *tree = build(16, &count);
    printf("gort %s (%s): built a tree of %lld nodes, checksum %lld\n", gort_version(),
           gort_build_variant(), count, check(tree));
    size_t sizes[] = {12, 100, 1000, 5000, 40000, 300000};
    for (int round = 0; round < 200; round++) {
        size_t n = sizes[round % 6];
        memset(gort_alloc_bytes(n), round, n);
    }
    gort_flush_cache();
    gort_memstats st;
    gort_read_memstats(&st);
    printf("heap_sys %.1f MB  heap_inuse %.1f MB  heap_alloc %.1f MB  objects %llu  spans %llu  "
           "arenas %llu\n",
           st.heap_sys / 1e6, st.heap_inuse / 1e6, st.heap_alloc / 1e6,
           (unsigned long long)st.heap_objects, (unsigned long long)st.mspan_inuse,
           (unsigned long long)st.arenas);
    printf("by size class (objects):");
    for (int c = 0; c < GORT_NUM_SIZE_CLASSES; c++)
        if (st.by_size[c].mallocs != 0)
            printf(" %u B: %llu", st.by_size[c].size, (unsigned long long)st.by_size[c].mallocs);
    printf("\n");

    static gort_page_record pages[1 << 14];
    size_t per_arena = gort_pages_per_arena();
    size_t n = gort_heap_snapshot(pages, per_arena);
    printf("first arena of %zu (one mark per page: '.' free, 'S' span start, '-' rest):\n",
           n / per_arena);
    size_t shown = per_arena < 512 ? per_arena : 512;
    for (size_t i = 0; i < shown; i++) {
        putchar(".S-"[pages[i].state]);
        if (i % 64 == 63)
            putchar('\n');
    }
    return 0;
}
