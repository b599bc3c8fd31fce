/*
 * demo.c — a small gort program: eight goroutines on two processors each
 * build a binary tree of typed nodes on the gort heap (yielding as they go),
 * sleep, and check their tree; then the heap's statistics, the scheduler's,
 * and a map of the heap's first arena (one character per page).
 */
#include <gort/gort.h>
#include <stdio.h>
#include <stdint.h>
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

#define TREES 8
#define DEPTH 14

static gort_waitgroup done;
static long long checksums[TREES];

static void tree_worker(void *arg)
{
    long long count = (long long)(intptr_t)arg << 32;
    struct node *tree = build(DEPTH, &count);
    gort_yield();
    gort_sleep(1000000); /* parked on a timer: another goroutine runs here */
    checksums[(intptr_t)arg] = check(tree);
    size_t sizes[] = {12, 100, 1000, 5000, 40000};
    for (int round = 0; round < 50; round++)
        memset(gort_alloc_bytes(sizes[round % 5]), round, sizes[round % 5]);
    gort_waitgroup_done(&done);
}

static void program(void *arg)
{
    (void)arg;
    gort_waitgroup_add(&done, TREES);
    for (intptr_t i = 0; i < TREES; i++)
        gort_go(tree_worker, (void *)i);
    gort_waitgroup_wait(&done);
}

int main(void)
{
    gort_config cfg = {.procs = 2};
    int64_t start = gort_nanotime();
    int rc = gort_main(&cfg, program, NULL);
    if (rc != GORT_OK) {
        fprintf(stderr, "gort_main: %s\n", gort_strerror(rc));
        return 1;
    }
    printf("gort %s (%s): %d goroutines on %d processors built %d trees of %d nodes in %.1f ms\n",
           gort_version(), gort_build_variant(), TREES, cfg.procs, TREES, (1 << (DEPTH + 1)) - 1,
           (gort_nanotime() - start) / 1e6);
    printf("tree checksums:");
    for (int i = 0; i < TREES; i++)
        printf(" %lld", checksums[i] & 0xffffffff);
    printf("\n");
    gort_sched_stats ss;
    gort_read_sched_stats(&ss);
    printf("scheduler: %llu goroutines created, %llu stolen, %llu resumed on another thread\n",
           (unsigned long long)ss.goroutines_created, (unsigned long long)ss.steals,
           (unsigned long long)ss.migrations);
    static gort_memstats st;
    gort_read_memstats(&st);
    printf("collector: %u cycles, %.3f ms stopped in all, %llu objects freed, %.1f%% of the CPU\n",
           st.num_gc, st.pause_total_ns / 1e6, (unsigned long long)st.frees,
           st.gc_cpu_fraction * 100);
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
