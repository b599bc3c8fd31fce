/*
 * test_gc.c — the collector: what it frees, what it keeps (goroutine
 * locals across parks, handles, root regions, channels), the seed's
 * write-barrier walk-throughs driven step by step, the checkmark
 * verification, finalizers, pacing, and a heap-graph stress test with a
 * checksum in every object.
 */
#include <gort/gort.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "mgc.h"
#include "mheap.h"
#include "prim/prim.h"
#include "testing.h"
#include "testing_rt.h"

typedef struct node {
    struct node *left;
    struct node *right;
    uint64_t id;
    uint64_t payload;
    uint64_t check; /* check_of(id, payload) while the node is intact */
} node;

static const gort_type node_type =
    GORT_TYPE(node, "node", GORT_PTR_FIELD(node, left) | GORT_PTR_FIELD(node, right));

/* A *node value (channel elements, arrays of pointers). */
static const gort_type node_ptr_type = {"*node", sizeof(void *), 1, 1, NULL};

static uint64_t check_of(uint64_t id, uint64_t payload)
{
    uint64_t x = id * 0x9e3779b97f4a7c15ull ^ payload;
    x ^= x >> 31;
    return x * 0xbf58476d1ce4e5b9ull;
}

static node *new_node(uint64_t id)
{
    node *n = gort_new(&node_type);
    if (n == NULL)
        return NULL;
    n->id = id;
    n->payload = id * 7 + 3;
    n->check = check_of(n->id, n->payload);
    return n;
}

static bool node_intact(const node *n) { return n->check == check_of(n->id, n->payload); }

static gort_config config_with(int procs, const char *godebug)
{
    return (gort_config){.procs = procs, .godebug = godebug};
}

/* ---- what the collector frees ---- */

static void frees_main(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_gc(), GORT_OK);
    static gort_memstats before, after;
    gort_read_memstats(&before);
    for (int i = 0; i < 100000; i++)
        CHECK(new_node((uint64_t)i) != NULL);
    CHECK_EQ(gort_gc(), GORT_OK);
    gort_read_memstats(&after);
    CHECK(after.num_gc > before.num_gc);
    /* A few may linger in registers or a stale stack word of this goroutine. */
    CHECK(after.frees - before.frees >= 99000);
    CHECK(after.sweep_remaining == 0);
}

TEST(gc_frees_unreachable_objects)
{
    gort_config cfg = config_with(2, NULL);
    CHECK_EQ(gort_main(&cfg, frees_main, NULL), GORT_OK);
}

/* A tree of depth d, built away from the caller's frame: only the handle
 * comes back, so no stale stack word keeps the tree. */
__attribute__((noinline)) static node *build_tree(int depth, uint64_t *next_id)
{
    node *n = new_node((*next_id)++);
    if (n != NULL && depth > 0) {
        GORT_STORE(n->left, build_tree(depth - 1, next_id));
        GORT_STORE(n->right, build_tree(depth - 1, next_id));
    }
    return n;
}

static uint64_t check_tree(const node *n, uint64_t *count)
{
    if (n == NULL)
        return 0;
    (*count)++;
    uint64_t bad = node_intact(n) ? 0 : 1;
    return bad + check_tree(n->left, count) + check_tree(n->right, count);
}

__attribute__((noinline)) static gort_handle tree_in_handle(int depth)
{
    uint64_t id = 1;
    return gort_handle_new(build_tree(depth, &id));
}

static void baseline_main(void *arg)
{
    (void)arg;
    gort_gc();
    gort_gc();
    static gort_memstats base, held, after;
    gort_read_memstats(&base);
    gort_handle h = tree_in_handle(14); /* 32,767 nodes */
    REQUIRE(h != 0);
    gort_gc();
    gort_read_memstats(&held);
    uint64_t count = 0;
    CHECK_EQ(check_tree(gort_handle_get(h), &count), 0);
    CHECK_EQ(count, 32767);
    CHECK(held.heap_objects >= base.heap_objects + 32767);
    CHECK_EQ(gort_handle_delete(h), GORT_OK);
    CHECK_EQ(gort_handle_delete(h), GORT_EINVAL);
    CHECK(gort_handle_get(h) == NULL);
    /* check_tree's recursion left node pointers in words below this frame
     * that the collector's park would occupy unwritten (conservatively
     * scanned, one would keep the tree). */
    sched_scrub_stack();
    gort_gc();
    gort_gc();
    gort_read_memstats(&after);
    if (after.heap_objects > base.heap_objects + 64)
        testing_fail(__FILE__, __LINE__, "heap objects: base %llu, held %llu, after %llu",
                     (unsigned long long)base.heap_objects, (unsigned long long)held.heap_objects,
                     (unsigned long long)after.heap_objects);
    CHECK(after.heap_marked < held.heap_marked);
}

TEST(gc_handle_keeps_a_tree_and_the_heap_returns_to_its_baseline)
{
    gort_config cfg = config_with(2, "gccheckmark=1");
    CHECK_EQ(gort_main(&cfg, baseline_main, NULL), GORT_OK);
}

/* A handle used after its deletion (JS's stale copy of a disposed channel's)
 * must not reach the object its slot holds next. */
static void stale_handle_main(void *arg)
{
    (void)arg;
    node *a = new_node(1), *b = new_node(2);
    gort_handle first = gort_handle_new(a);
    REQUIRE(first != 0);
    CHECK_EQ(gort_handle_delete(first), GORT_OK);
    gort_handle next = gort_handle_new(b); /* the slot first had */
    REQUIRE(next != 0);
    CHECK(next != first);
    CHECK(gort_handle_get(first) == NULL);
    CHECK_EQ(gort_handle_set(first, a), GORT_EINVAL);
    CHECK_EQ(gort_handle_delete(first), GORT_EINVAL);
    CHECK(gort_handle_get(next) == b);
    /* Every number stays below 2^31, a slot's included when its generation
     * wraps; the number comes back only then. */
    gort_handle h = next;
    int until_again = 0;
    for (int k = 1; k <= 1000; k++) {
        CHECK_EQ(gort_handle_delete(h), GORT_OK);
        h = gort_handle_new(b);
        CHECK(h != 0 && h < (1u << 31));
        if (h == next && until_again == 0)
            until_again = k;
    }
    CHECK_EQ(until_again, 512);
    CHECK_EQ(gort_handle_delete(h), GORT_OK);
}

TEST(gc_handle_deleted_never_reaches_the_next_object_of_its_slot)
{
    run_main(1, stale_handle_main, NULL);
}

/* A handle made with a kind gives its object only to a lookup of that kind;
 * handles_delete_owned deletes the handles of one owner and no other's. */
static void handle_kinds_and_owners_main(void *arg)
{
    (void)arg;
    node *a = new_node(1), *b = new_node(2);
    gort_handle plain = gort_handle_new(a);
    gort_handle chan_kind = handles_new_kind(a, 1);
    REQUIRE(plain != 0 && chan_kind != 0);
    CHECK(handles_get_kind(chan_kind, 1) == a);
    CHECK(handles_get_kind(chan_kind, 2) == NULL);
    CHECK(handles_get_kind(plain, 1) == NULL);
    CHECK(gort_handle_get(chan_kind) == a); /* the public lookup asks no kind */
    CHECK_EQ(handles_kind(chan_kind), 1);
    CHECK_EQ(handles_kind(plain), 0);

    uint32_t before = handles_live();
    enum { OWNED = 300 }; /* more than one batch of handles_delete_owned's */
    gort_handle owned[OWNED];
    handles_owner_set(7);
    for (int i = 0; i < OWNED; i++)
        REQUIRE((owned[i] = handles_new_kind(i % 2 ? a : b, 2)) != 0);
    handles_owner_set(8);
    gort_handle other = gort_handle_new(b);
    gort_handle unowned = handles_new_for(b, 2, 0); /* whatever the thread's owner */
    handles_owner_set(0);
    REQUIRE(other != 0 && unowned != 0);
    CHECK_EQ(handles_live(), before + OWNED + 2);
    CHECK_EQ(handles_delete_owned(7), (uint32_t)OWNED);
    for (int i = 0; i < OWNED; i++)
        CHECK(gort_handle_get(owned[i]) == NULL);
    CHECK(gort_handle_get(other) == b);
    CHECK(handles_get_kind(unowned, 2) == b);
    CHECK_EQ(handles_delete_owned(7), 0u);
    CHECK_EQ(handles_delete_owned(8), 1u);
    CHECK(gort_handle_get(other) == NULL);
    /* A slot freed and made again by another owner is not the old owner's. */
    gort_handle reused = gort_handle_new(a);
    CHECK_EQ(handles_delete_owned(7), 0u);
    CHECK(gort_handle_get(reused) == a);
    CHECK_EQ(handles_live(), before + 2);
    for (gort_handle *h = (gort_handle[]){plain, chan_kind, unowned, reused}, *end = h + 4; h < end; h++)
        CHECK_EQ(gort_handle_delete(*h), GORT_OK);
}

TEST(gc_handle_kinds_and_owners)
{
    run_main(1, handle_kinds_and_owners_main, NULL);
}

/* ---- goroutine locals across parks ---- */

typedef struct locals_test {
    gort_chan *tick;
    atomic_bool stop;
    atomic_int cycles;
    gort_waitgroup stopped; /* the collecting goroutine is done with this struct */
} locals_test;

/* Collects, and ticks after each collection, until told to stop. */
static void collector_loop(void *arg)
{
    locals_test *t = arg;
    int v = 0;
    while (!atomic_load(&t->stop)) {
        gort_gc();
        atomic_fetch_add(&t->cycles, 1);
        gort_chan_send(t->tick, &v);
    }
    gort_chan_close(t->tick);
}

static void locals_main(void *arg)
{
    (void)arg;
    locals_test t = {.tick = make_int_chan(0)};
    /* A list held only in this goroutine's local variable. */
    node *head = NULL;
    for (uint64_t i = 0; i < 2000; i++) {
        node *n = new_node(i);
        REQUIRE(n != NULL);
        GORT_STORE(n->left, head);
        head = n;
    }
    REQUIRE(gort_go(collector_loop, &t) == GORT_OK);
    int v = 0;
    for (int round = 0; round < 20; round++) {
        /* Parks while a collection runs, then makes garbage. */
        gort_chan_recv(t.tick, &v, NULL);
        for (int i = 0; i < 5000; i++)
            new_node(1000000 + (uint64_t)i);
        uint64_t n = 0, bad = 0;
        for (node *p = head; p != NULL; p = p->left, n++)
            bad += !node_intact(p) || p->id != 1999 - n;
        CHECK_EQ(n, 2000);
        CHECK_EQ(bad, 0);
    }
    atomic_store(&t.stop, true);
    bool ok = true;
    while (ok)
        gort_chan_recv(t.tick, &v, &ok); /* until the collector closes it */
    CHECK(atomic_load(&t.cycles) >= 20);
}

TEST(gc_keeps_objects_held_only_in_goroutine_locals_across_parks)
{
    gort_config cfg = config_with(2, "gccheckmark=1");
    CHECK_EQ(gort_main(&cfg, locals_main, NULL), GORT_OK);
}

/* A goroutine that never parks: its stack is scanned when it switches out
 * at a safepoint for that, and it stops in place for the pauses (with
 * checkmark on, it switches out for them too). */
static void collect_until_stopped(void *arg)
{
    locals_test *t = arg;
    while (!atomic_load(&t->stop)) {
        gort_gc();
        atomic_fetch_add(&t->cycles, 1);
    }
    gort_waitgroup_done(&t->stopped);
}

/* Starts collect_until_stopped on t, which lives on the caller's stack. */
static void start_collecting(locals_test *t)
{
    gort_waitgroup_add(&t->stopped, 1);
    REQUIRE(gort_go(collect_until_stopped, t) == GORT_OK);
}

/* Stops it and waits until it no longer touches t: the goroutine count
 * going down is no synchronization, and t's stack frame is reused after. */
static void stop_collecting(locals_test *t)
{
    atomic_store(&t->stop, true);
    gort_waitgroup_wait(&t->stopped);
}

static void busy_locals_main(void *arg)
{
    (void)arg;
    locals_test t = {0};
    node *head = NULL; /* held only here */
    for (uint64_t i = 0; i < 2000; i++) {
        node *n = new_node(i);
        REQUIRE(n != NULL);
        GORT_STORE(n->left, head);
        head = n;
    }
    start_collecting(&t);
    int64_t deadline = gort_nanotime() + 60 * (int64_t)1000000000;
    uint64_t rounds = 0, bad = 0, count_errors = 0;
    while (atomic_load(&t.cycles) < 30 && gort_nanotime() < deadline) {
        for (int i = 0; i < 2000; i++)
            new_node(1000000 + (uint64_t)i); /* garbage; each allocation a safepoint */
        uint64_t n = 0;
        for (node *p = head; p != NULL; p = p->left, n++) {
            bad += !node_intact(p) || p->id != 1999 - n;
            gort_safepoint();
        }
        count_errors += n != 2000;
        rounds++;
    }
    stop_collecting(&t);
    CHECK(atomic_load(&t.cycles) >= 30);
    CHECK_EQ(bad, 0);
    CHECK_EQ(count_errors, 0);
    CHECK(rounds > 0);
}

TEST(gc_keeps_locals_of_a_goroutine_that_never_parks)
{
    gort_config cfg = config_with(2, NULL);
    CHECK_EQ(gort_main(&cfg, busy_locals_main, NULL), GORT_OK);
}

TEST(gc_keeps_locals_of_a_goroutine_that_never_parks_under_checkmark)
{
    gort_config cfg = config_with(2, "gccheckmark=1");
    CHECK_EQ(gort_main(&cfg, busy_locals_main, NULL), GORT_OK);
}

/* A goroutine clears a large pointer-free object in chunks, with safepoints
 * between them, while collections run: what it gets back is all zero, also
 * where the pages held an earlier object's bytes. */
#define LARGE_BYTES ((size_t)3 << 20)

__attribute__((noinline)) static void fill_and_drop_large(void)
{
    unsigned char *p = gort_alloc_bytes(LARGE_BYTES);
    if (p != NULL)
        memset(p, 0xab, LARGE_BYTES);
}

static void large_zeroed_main(void *arg)
{
    (void)arg;
    locals_test t = {0};
    start_collecting(&t);
    size_t dirty_bytes = 0;
    int rounds = 0;
    for (; rounds < 20; rounds++) {
        fill_and_drop_large();
        sched_scrub_stack();
        gort_gc(); /* the dropped object's pages go back to the heap */
        unsigned char *q = gort_alloc_bytes(LARGE_BYTES);
        REQUIRE(q != NULL);
        for (size_t i = 0; i < LARGE_BYTES; i++)
            dirty_bytes += q[i] != 0;
    }
    stop_collecting(&t);
    CHECK_EQ(dirty_bytes, 0);
    CHECK(atomic_load(&t.cycles) > 0);
}

TEST(gc_large_pointer_free_objects_come_back_zeroed)
{
    gort_config cfg = config_with(2, NULL);
    CHECK_EQ(gort_main(&cfg, large_zeroed_main, NULL), GORT_OK);
}

/* Small objects come back zeroed from spans the sweep emptied or thinned,
 * however the sweep found them: lazily for an allocation (a span with
 * nothing live stays the allocating cache's, its old bytes in it), in the
 * background, or not yet. A ring keeps some of each size alive so that spans
 * are swept partly full as well as empty. */
#define ZEROED_RING 256
#define ZEROED_PER_ROUND 2000
#define ZEROED_CYCLES 20

static void small_zeroed_main(void *arg)
{
    (void)arg;
    static const size_t sizes[] = {32, 256, 1024, 4096};
    enum { NSIZES = sizeof sizes / sizeof sizes[0] };
    void **ring = heap_ptr_array(ZEROED_RING);
    REQUIRE(ring != NULL);
    static gort_memstats before, now;
    gort_read_memstats(&before);
    size_t dirty_bytes = 0, allocs = 0;
    int64_t deadline = gort_nanotime() + DEADLINE_NS;
    do {
        for (int i = 0; i < ZEROED_PER_ROUND; i++) {
            size_t size = sizes[i % NSIZES];
            unsigned char *p = gort_alloc_bytes(size);
            REQUIRE(p != NULL);
            for (size_t b = 0; b < size; b++)
                dirty_bytes += p[b] != 0;
            memset(p, 0xab, size);
            GORT_STORE(ring[allocs++ % ZEROED_RING], p);
        }
        gort_read_memstats(&now);
    } while (now.num_gc < before.num_gc + ZEROED_CYCLES && gort_nanotime() < deadline);
    CHECK_EQ(dirty_bytes, 0);
    CHECK(now.num_gc >= before.num_gc + ZEROED_CYCLES);
}

TEST(gc_small_objects_come_back_zeroed_from_swept_spans)
{
    gort_config cfg = config_with(2, NULL);
    CHECK_EQ(gort_main(&cfg, small_zeroed_main, NULL), GORT_OK);
}

/* Where arenas are contiguous a span can cross from one arena into the
 * next, and a small object's slot with it. The bits of the words past the
 * boundary belong in the next arena's heap bitmap: written past the end of
 * the first arena's bitmap instead, they landed on whatever the system
 * allocator had put after it (on wasm, the arena's page map, whose
 * generation word then lost a writer). */
#define STRADDLE_SLOT_BYTES 32768 /* the largest size class: one object, four pages */
/* Enough heap to cross a few arena boundaries that are contiguous on both
 * platforms (on wasm, arenas come in contiguous batches once the heap has
 * grown a little). */
#define STRADDLE_BUDGET_BYTES ((size_t)256 << 20)

static void straddle_main(void *arg)
{
    (void)arg;
    size_t per = STRADDLE_SLOT_BYTES / sizeof(node);
    size_t cap = 2 * (STRADDLE_BUDGET_BYTES / STRADDLE_SLOT_BYTES);
    void **keep = heap_ptr_array(cap);
    REQUIRE(keep != NULL);
    uint64_t rnd = 11;
    node *across = NULL;
    for (size_t i = 0; i + 1 < cap && across == NULL; i += 2) {
        node *a = gort_new_array(&node_type, per);
        REQUIRE(a != NULL);
        GORT_STORE(keep[i], a);
        if ((uintptr_t)a >> ARENA_SHIFT != ((uintptr_t)&a[per] - 1) >> ARENA_SHIFT)
            across = a;
        /* Pages of other sizes between them move where the next one starts. */
        void *filler = gort_alloc_bytes(PAGE_SIZE * (1 + testing_rand(&rnd) % 3) - 16);
        REQUIRE(filler != NULL);
        GORT_STORE(keep[i + 1], filler);
    }
    REQUIRE(across != NULL);
    uintptr_t boundary = (((uintptr_t)across >> ARENA_SHIFT) + 1) << ARENA_SHIFT;
    size_t past = 0;
    for (size_t k = 0; k < per; k++) {
        CHECK(heap_bits_is_pointer((uintptr_t)&across[k].left));
        CHECK(heap_bits_is_pointer((uintptr_t)&across[k].right));
        CHECK(!heap_bits_is_pointer((uintptr_t)&across[k].id));
        CHECK(!heap_bits_is_pointer((uintptr_t)&across[k].check));
        if ((uintptr_t)&across[k] >= boundary) {
            GORT_STORE(across[k].left, new_node(k));
            past++;
        }
    }
    REQUIRE(past > 0);
    /* Only the straddling object keeps what hangs from its far side. */
    for (size_t i = 0; i < cap; i++)
        GORT_STORE(keep[i], NULL);
    GORT_STORE(keep[0], across);
    for (int round = 0; round < 2; round++) {
        REQUIRE(gort_gc() == GORT_OK);
        for (int i = 0; i < 20000; i++)
            REQUIRE(new_node(1u << 30) != NULL); /* reuses what was freed */
    }
    size_t intact = 0;
    for (size_t k = 0; k < per; k++)
        if ((uintptr_t)&across[k] >= boundary)
            intact += across[k].left != NULL && node_intact(across[k].left) && across[k].left->id == k;
    CHECK_EQ(intact, past);
}

TEST(gc_object_across_two_arenas_keeps_its_pointer_bits_in_each)
{
    gort_config cfg = config_with(2, NULL);
    CHECK_EQ(gort_main(&cfg, straddle_main, NULL), GORT_OK);
}

/* ---- the seed's write-barrier walk-throughs ---- */

typedef struct barrier_test {
    node *grey;       /* reachable from the stack: grey when marking starts */
    atomic_int gc_done;
} barrier_test;

static void run_gc(void *arg)
{
    barrier_test *t = arg;
    gort_gc();
    atomic_store(&t->gc_done, 1);
}

/* grey -> white, built by a goroutine that hands over `grey` and dies:
 * no stack but the dead one's ever held `white`, so only `grey` leads to
 * it when the stacks are scanned. */
static void build_grey_with_white_child(void *arg)
{
    node *g = new_node(1);
    if (g != NULL)
        GORT_STORE(g->left, new_node(2));
    gort_chan_send(arg, &g);
}

static node *grey_with_white_child(void)
{
    gort_chan *c = gort_chan_make(&node_ptr_type, 1);
    node *g = NULL;
    if (c == NULL || gort_go(build_grey_with_white_child, c) != GORT_OK)
        return NULL;
    gort_chan_recv(c, &g, NULL);
    AWAIT(gort_num_goroutine() == 1); /* the builder's stack is gone */
    return g;
}

static int object_color(const void *obj)
{
    static uint8_t colors[1024];
    gort_object_info info;
    if (!gort_find_object(obj, &info) || gort_heap_span_colors(info.span, colors, 1024) <= info.index)
        return -1;
    return colors[info.index];
}

/* Starts a cycle and holds it right after the stack scan. */
static void hold_marking(barrier_test *t)
{
    atomic_store(&gc_test_hold_mark, true);
    REQUIRE(gort_go(run_gc, t) == GORT_OK);
    AWAIT(atomic_load(&gc_test_held) == 1);
    CHECK_EQ(gort_gc_phase(), GORT_GC_MARK);
}

static void release_marking(barrier_test *t)
{
    atomic_store(&gc_test_hold_mark, false);
    prim_futex_wake(&gc_test_held, 1);
    AWAIT(atomic_load(&t->gc_done) == 1);
}

/* Seed: "a black object is given a pointer to a white object, and the
 * only other path to it is deleted". The black object is one allocated
 * during mark; the insertion barrier shades the white object. */
__attribute__((noinline)) static void move_white_into_black(barrier_test *t, node *black)
{
    GORT_STORE(black->left, t->grey->left);
    GORT_STORE(t->grey->left, NULL);
}

static void black_gets_white_main(void *arg)
{
    (void)arg;
    barrier_test t = {0};
    t.grey = grey_with_white_child();
    REQUIRE(t.grey != NULL);
    hold_marking(&t);
    node *black = new_node(3); /* allocated during mark: black */
    REQUIRE(black != NULL);
    /* The heap's view for the playground: three colors, live. */
    CHECK_EQ(object_color(t.grey), GORT_OBJECT_GREY);
    CHECK_EQ(object_color(t.grey->left), GORT_OBJECT_WHITE);
    CHECK_EQ(object_color(black), GORT_OBJECT_BLACK);
    move_white_into_black(&t, black);
    release_marking(&t);
    gort_gc(); /* a second cycle sweeps whatever the first missed */
    CHECK(black->left != NULL);
    CHECK(node_intact(black->left));
    CHECK_EQ(black->left->id, 2);
    gort_object_info info;
    CHECK(gort_find_object(black->left, &info));
}

TEST(gc_barrier_black_object_given_a_white_pointer)
{
    gort_config cfg = config_with(2, "gccheckmark=1");
    CHECK_EQ(gort_main(&cfg, black_gets_white_main, NULL), GORT_OK);
}

/* Seed: "a grey object loses its only path to a white object" while a
 * goroutine whose stack was already scanned keeps the white one: the
 * deletion barrier shades it. */
__attribute__((noinline)) static node *take_white_from_grey(barrier_test *t)
{
    node *white = t->grey->left;
    GORT_STORE(t->grey->left, NULL);
    return white;
}

static void grey_loses_path_main(void *arg)
{
    (void)arg;
    barrier_test t = {0};
    t.grey = grey_with_white_child();
    REQUIRE(t.grey != NULL);
    hold_marking(&t);
    node *kept = take_white_from_grey(&t);
    release_marking(&t);
    gort_gc();
    for (int i = 0; i < 20000; i++)
        new_node(100 + (uint64_t)i); /* would reuse the slot if it was freed */
    CHECK(node_intact(kept));
    CHECK_EQ(kept->id, 2);
    gort_object_info info;
    CHECK(gort_find_object(kept, &info));
    gort_keep_alive(kept);
}

TEST(gc_barrier_grey_object_loses_its_only_path_to_a_white_one)
{
    gort_config cfg = config_with(2, "gccheckmark=1");
    CHECK_EQ(gort_main(&cfg, grey_loses_path_main, NULL), GORT_OK);
}

/* A plain store that breaks the rule: checkmark catches the lost object. */
__attribute__((noinline)) static void move_without_barrier(barrier_test *t, node *black)
{
    black->left = t->grey->left;
    t->grey->left = NULL;
}

static gort_handle broken_handle;

static void checkmark_main(void *arg)
{
    (void)arg;
    barrier_test t = {0};
    t.grey = grey_with_white_child();
    REQUIRE(t.grey != NULL);
    hold_marking(&t);
    node *black = new_node(3);
    REQUIRE(black != NULL);
    broken_handle = gort_handle_new(black);
    move_without_barrier(&t, black);
    release_marking(&t);
}

DEATH_TEST(gc_checkmark_reports_an_object_a_plain_store_hid,
           "checkmark found unmarked object")
{
    gort_config cfg = config_with(2, "gccheckmark=1");
    gort_main(&cfg, checkmark_main, NULL);
}

static void checkmark_live_main(void *arg)
{
    /* Off at start (GODEBUG says nothing); on from the next cycle. */
    CHECK_EQ(gort_set_gc_checkmark(true), false);
    checkmark_main(arg);
}

DEATH_TEST(gc_checkmark_turned_on_live_reports_an_object_a_plain_store_hid,
           "checkmark found unmarked object")
{
    gort_config cfg = config_with(2, "");
    gort_main(&cfg, checkmark_live_main, NULL);
}

/* ---- the stop-the-world collector (gcstoptheworld=1, live) ---- */

#define STW_TREES 8
#define STW_WORKERS 3

static gort_mutex stw_lock = GORT_MUTEX_INIT;

typedef struct stw_test {
    node *trees[STW_TREES];
    atomic_bool stop;
    atomic_int done;
    gort_waitgroup wg;
} stw_test;

/* Makes garbage and moves subtrees between the trees (barrier work while
 * the collector is concurrent), keeping every tree whole. */
static void stw_worker(void *arg)
{
    stw_test *t = arg;
    uint64_t rng = (uint64_t)gort_goid() * 977;
    while (!atomic_load(&t->stop)) {
        for (int i = 0; i < 200; i++)
            new_node(0);
        int a = (int)(testing_rand(&rng) % STW_TREES), b = (int)(testing_rand(&rng) % STW_TREES);
        if (a != b) {
            gort_mutex_lock(&stw_lock);
            node *l = t->trees[a]->left;
            GORT_STORE(t->trees[a]->left, t->trees[b]->left);
            GORT_STORE(t->trees[b]->left, l);
            gort_mutex_unlock(&stw_lock);
        }
        gort_yield();
    }
    gort_waitgroup_done(&t->wg);
}

static uint64_t gc_pause_count(void)
{
    static uint64_t counts[256];
    gort_metric_sample s = {.name = "/sched/pauses/total/gc:seconds"};
    s.value.hist.counts = counts;
    s.value.hist.counts_cap = sizeof counts / sizeof counts[0];
    gort_read_metrics(&s, 1);
    CHECK(s.value.hist.ncounts <= s.value.hist.counts_cap);
    uint64_t n = 0;
    for (size_t i = 0; i < s.value.hist.ncounts; i++)
        n += counts[i];
    return n;
}

/* Runs `cycles` collections with the workers going (GOGC off: no others);
 * returns the pauses per cycle they made. */
static uint64_t stw_pauses_per_cycle(int cycles)
{
    uint64_t pauses = gc_pause_count();
    static gort_memstats before, after;
    gort_read_memstats(&before);
    for (int i = 0; i < cycles; i++)
        CHECK_EQ(gort_gc(), GORT_OK);
    gort_read_memstats(&after);
    CHECK_EQ(after.num_gc, before.num_gc + (uint32_t)cycles);
    return (gc_pause_count() - pauses) / (uint64_t)cycles;
}

static void stw_start(stw_test *t)
{
    CHECK_EQ(gort_add_roots(t->trees, sizeof t->trees), GORT_OK);
    uint64_t id = 1;
    for (int i = 0; i < STW_TREES; i++)
        GORT_STORE(t->trees[i], build_tree(8, &id));
    gort_waitgroup_add(&t->wg, STW_WORKERS);
    for (int i = 0; i < STW_WORKERS; i++)
        REQUIRE(gort_go(stw_worker, t) == GORT_OK);
}

static void stw_finish(stw_test *t)
{
    atomic_store(&t->stop, true);
    gort_waitgroup_wait(&t->wg);
    uint64_t nodes = 0;
    for (int i = 0; i < STW_TREES; i++)
        CHECK_EQ(check_tree(t->trees[i], &nodes), 0);
    CHECK_EQ(nodes, (uint64_t)STW_TREES * 511); /* depth 8: 2^9 - 1 nodes */
    CHECK_EQ(gort_remove_roots(t->trees), GORT_OK);
}

static void stw_live_main(void *arg)
{
    stw_test *t = arg;
    stw_start(t);
    /* Concurrent: two pauses a cycle. */
    CHECK_EQ(stw_pauses_per_cycle(4), 2);
    /* Stop-the-world from the next cycle on (checked by checkmark): one. */
    CHECK_EQ(gort_set_gc_stop_the_world(true), false);
    CHECK_EQ(gort_set_gc_checkmark(true), false);
    CHECK_EQ(stw_pauses_per_cycle(8), 1);
    /* And back. */
    CHECK_EQ(gort_set_gc_stop_the_world(false), true);
    CHECK_EQ(stw_pauses_per_cycle(4), 2);
    stw_finish(t);
}

static void stw_godebug_main(void *arg)
{
    stw_test *t = arg;
    stw_start(t);
    CHECK_EQ(stw_pauses_per_cycle(4), 1);
    CHECK_EQ(gort_set_gc_stop_the_world(false), true);
    CHECK_EQ(gort_set_gc_checkmark(false), false);
    stw_finish(t);
}

TEST(gc_stop_the_world_mode_marks_in_one_pause_while_running)
{
    static stw_test t;
    int gogc = gort_set_gc_percent(-1);
    memset(&t, 0, sizeof t);
    gort_config cfg = config_with(4, "");
    CHECK_EQ(gort_main(&cfg, stw_live_main, &t), GORT_OK);
    /* A new runtime takes GODEBUG's settings again. */
    memset(&t, 0, sizeof t);
    cfg = config_with(2, "gcstoptheworld=1");
    CHECK_EQ(gort_main(&cfg, stw_godebug_main, &t), GORT_OK);
    gort_set_gc_percent(gogc);
}

/* ---- roots: regions, channels ---- */

static node *global_root[4];

static void regions_main(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_add_roots(global_root, sizeof global_root), GORT_OK);
    CHECK_EQ(gort_add_roots(NULL, 8), GORT_EINVAL);
    uint64_t id = 10;
    for (int i = 0; i < 4; i++)
        GORT_STORE(global_root[i], build_tree(6, &id));
    for (int round = 0; round < 3; round++) {
        gort_gc();
        for (int i = 0; i < 20000; i++)
            new_node(0);
    }
    for (int i = 0; i < 4; i++) {
        uint64_t count = 0;
        CHECK_EQ(check_tree(global_root[i], &count), 0);
        CHECK_EQ(count, 127);
    }
    CHECK_EQ(gort_remove_roots(global_root), GORT_OK);
    CHECK_EQ(gort_remove_roots(global_root), GORT_EINVAL);
    memset(global_root, 0, sizeof global_root);
}

TEST(gc_registered_root_region_keeps_its_objects)
{
    gort_config cfg = config_with(2, "gccheckmark=1");
    CHECK_EQ(gort_main(&cfg, regions_main, NULL), GORT_OK);
}

static atomic_int chan_finalized;

static void count_finalized(void *obj, void *arg)
{
    (void)obj;
    atomic_fetch_add((atomic_int *)arg, 1);
}

__attribute__((noinline)) static void make_dropped_channels(int n)
{
    for (int i = 0; i < n; i++) {
        gort_chan *c = gort_chan_make(&node_ptr_type, 4);
        REQUIRE(c != NULL);
        node *v = new_node((uint64_t)i);
        gort_chan_send(c, &v); /* a buffered pointer: the buffer is scanned */
        CHECK_EQ(gort_set_finalizer(c, count_finalized, &chan_finalized), GORT_OK);
    }
}

static void blocked_receiver(void *arg)
{
    gort_chan *c = arg;
    node *v = NULL;
    gort_chan_recv(c, &v, NULL); /* never sent to: parked for ever */
}

__attribute__((noinline)) static void start_blocked_receivers(int n, atomic_int *finalized)
{
    for (int i = 0; i < n; i++) {
        gort_chan *c = gort_chan_make(&node_ptr_type, 0);
        REQUIRE(c != NULL);
        CHECK_EQ(gort_set_finalizer(c, count_finalized, finalized), GORT_OK);
        REQUIRE(gort_go(blocked_receiver, c) == GORT_OK);
    }
}

static void channels_main(void *arg)
{
    (void)arg;
    atomic_int kept_finalized = 0;
    make_dropped_channels(100);
    start_blocked_receivers(10, &kept_finalized);
    AWAIT(gort_num_goroutine() == 11);
    gort_gc();
    gort_gc();
    AWAIT(atomic_load(&chan_finalized) == 100);
    /* Goroutines are roots, as in Go: a channel a blocked goroutine waits
     * on stays, with it. */
    CHECK_EQ(atomic_load(&kept_finalized), 0);
    /* Buffered values of live channels survive. */
    gort_chan *live = gort_chan_make(&node_ptr_type, 8);
    for (uint64_t i = 0; i < 8; i++) {
        node *v = new_node(500 + i);
        gort_chan_send(live, &v);
    }
    gort_gc();
    for (int i = 0; i < 20000; i++)
        new_node(0);
    for (uint64_t i = 0; i < 8; i++) {
        node *v = NULL;
        gort_chan_recv(live, &v, NULL);
        CHECK(v != NULL && node_intact(v) && v->id == 500 + i);
    }
}

TEST(gc_collects_unreachable_channels_and_keeps_buffered_values)
{
    gort_config cfg = config_with(2, "gccheckmark=1");
    CHECK_EQ(gort_main(&cfg, channels_main, NULL), GORT_OK);
}

/* ---- finalizers ---- */

#define FIN_OBJECTS 200

static atomic_int fin_runs[FIN_OBJECTS];

static void fin_record(void *obj, void *arg)
{
    (void)arg;
    node *n = obj;
    if (n->id < FIN_OBJECTS && node_intact(n))
        atomic_fetch_add(&fin_runs[n->id], 1);
}

__attribute__((noinline)) static gort_handle finalizable_objects(void)
{
    /* Even ids stay reachable through an array held by a handle. */
    node **kept = gort_new_array(&node_ptr_type, FIN_OBJECTS / 2);
    for (uint64_t i = 0; i < FIN_OBJECTS; i++) {
        node *n = new_node(i);
        CHECK_EQ(gort_set_finalizer(n, fin_record, NULL), GORT_OK);
        if (i % 2 == 0)
            GORT_STORE(kept[i / 2], n);
    }
    return gort_handle_new(kept);
}

static void finalizers_main(void *arg)
{
    (void)arg;
    node *n = new_node(0);
    CHECK_EQ(gort_set_finalizer((char *)n + 8, fin_record, NULL), GORT_EINVAL);
    CHECK_EQ(gort_set_finalizer(NULL, fin_record, NULL), GORT_EINVAL);
    gort_handle h = finalizable_objects();
    REQUIRE(h != 0);
    for (int round = 0; round < 4; round++)
        gort_gc();
    int odd = 0;
    AWAIT(({
        odd = 0;
        for (int i = 1; i < FIN_OBJECTS; i += 2)
            odd += atomic_load(&fin_runs[i]);
        odd == FIN_OBJECTS / 2;
    }));
    for (int i = 0; i < FIN_OBJECTS; i++)
        CHECK_EQ(atomic_load(&fin_runs[i]), i % 2 ? 1 : 0);
    gort_handle_delete(h);
    for (int round = 0; round < 3; round++)
        gort_gc();
    /* The finalizer goroutine runs them one after another: wait for all. */
    AWAIT(({
        int even = 0;
        for (int i = 0; i < FIN_OBJECTS; i += 2)
            even += atomic_load(&fin_runs[i]) != 0;
        even == FIN_OBJECTS / 2;
    }));
    for (int i = 0; i < FIN_OBJECTS; i++)
        CHECK_EQ(atomic_load(&fin_runs[i]), 1);
    CHECK_EQ(gort_num_goroutine(), 1); /* the finalizer goroutine is not counted */
}

TEST(gc_finalizers_run_once_for_unreachable_objects_only)
{
    gort_config cfg = config_with(2, "gccheckmark=1");
    CHECK_EQ(gort_main(&cfg, finalizers_main, NULL), GORT_OK);
}

/* ---- the heap-graph stress test ---- */

#ifdef TESTING_TSAN
#define STRESS_CYCLES 100
#else
#define STRESS_CYCLES 1000
#endif
#define STRESS_WORKERS 4
#define STRESS_ROOTS 64

typedef struct stress {
    atomic_bool stop;
    atomic_int cycles;
    atomic_uint_fast64_t next_id;
    atomic_int workers_done;
    atomic_uint_fast64_t verified;
    gort_waitgroup wg;
} stress;

static const gort_type roots_type = {"[64]*node", STRESS_ROOTS * sizeof(void *), STRESS_ROOTS,
                                     ~(uint64_t)0, NULL};

/* Walks up to `budget` nodes of the left chain from n, checking each and
 * the node each points to on the right (the graph has cycles: no
 * recursion); returns the damaged ones. */
static uint64_t verify_walk(const node *n, int *budget)
{
    uint64_t bad = 0;
    while (n != NULL && (*budget)-- > 0) {
        bad += !node_intact(n);
        if (n->right != NULL)
            bad += !node_intact(n->right);
        n = n->left;
    }
    return bad;
}

static void stress_worker(void *arg)
{
    stress *st = arg;
    uint64_t rng = (uint64_t)gort_goid() * 0x1234567ull;
    node **roots = gort_new(&roots_type); /* held in this local only */
    REQUIRE(roots != NULL);
    while (!atomic_load(&st->stop)) {
        uint64_t r = testing_rand(&rng);
        unsigned slot = (unsigned)(r % STRESS_ROOTS);
        switch ((r >> 8) % 8) {
        case 0: case 1: case 2: { /* a new node, maybe hanging off a root */
            node *n = new_node(atomic_fetch_add(&st->next_id, 1));
            REQUIRE(n != NULL);
            GORT_STORE(n->left, roots[slot]);
            GORT_STORE(roots[slot], n);
            break;
        }
        case 3: { /* rewire: a root's node points at another root's */
            node *a = roots[slot], *b = roots[(r >> 16) % STRESS_ROOTS];
            if (a != NULL)
                GORT_STORE(a->right, b);
            break;
        }
        case 4: /* drop a root */
            GORT_STORE(roots[slot], NULL);
            break;
        case 5: { /* move a subgraph between roots, cutting the old path */
            unsigned to = (unsigned)((r >> 16) % STRESS_ROOTS);
            node *a = roots[slot];
            if (a != NULL && a->left != NULL) {
                GORT_STORE(roots[to], a->left);
                GORT_STORE(a->left, NULL);
            }
            break;
        }
        default: { /* verify */
            int budget = 256;
            uint64_t bad = verify_walk(roots[slot], &budget);
            if (bad != 0)
                testing_fail(__FILE__, __LINE__, "%llu damaged nodes", (unsigned long long)bad);
            atomic_fetch_add(&st->verified, (uint64_t)(256 - budget));
            break;
        }
        }
        /* Long chains make verification slow: cut them now and then. */
        if ((r >> 40) % 64 == 0)
            GORT_STORE(roots[slot], NULL);
        if (testing_failed())
            break;
    }
    for (int i = 0; i < STRESS_ROOTS; i++) {
        int budget = 1 << 20;
        CHECK_EQ(verify_walk(roots[i], &budget), 0);
    }
    gort_waitgroup_done(&st->wg);
}

static void stress_main(void *arg)
{
    (void)arg;
    stress st = {0};
    atomic_store(&st.next_id, 1);
    gort_gc();
    gort_gc();
    static gort_memstats base, end;
    gort_read_memstats(&base);
    gort_waitgroup_add(&st.wg, STRESS_WORKERS);
    for (int i = 0; i < STRESS_WORKERS; i++)
        REQUIRE(gort_go(stress_worker, &st) == GORT_OK);
    while (atomic_load(&st.cycles) < STRESS_CYCLES && !testing_failed()) {
        CHECK_EQ(gort_gc(), GORT_OK);
        atomic_fetch_add(&st.cycles, 1);
    }
    atomic_store(&st.stop, true);
    gort_waitgroup_wait(&st.wg);
    CHECK(atomic_load(&st.verified) > 0);
    /* Everything is dropped now: the heap returns to where it was. */
    gort_gc();
    gort_gc();
    gort_read_memstats(&end);
    CHECK(end.num_gc >= base.num_gc + STRESS_CYCLES);
    CHECK(end.heap_objects <= base.heap_objects + 256);
}

TEST(gc_heap_graph_stress_with_checkmark)
{
    gort_config cfg = config_with(4, "gccheckmark=1");
    CHECK_EQ(gort_main(&cfg, stress_main, NULL), GORT_OK);
}

/* ---- finding live objects while spans are swept ---- */

/* A few spans of live objects, found over and over while collections one
 * after another sweep those spans: every sweep rewrites the bits a find
 * reads. */
#define FIND_LIVE 512
#define FIND_CYCLES 400
/* Color reads take the heap lock once per object and slow every cycle (400
 * took 8 s under ThreadSanitizer): 100 cycles still race thousands of sweeps. */
#define FIND_COLORS_CYCLES 100

typedef struct find_test {
    int cycles;
    atomic_bool done;
    gort_waitgroup wg;
} find_test;

static void find_collector(void *arg)
{
    find_test *t = arg;
    for (int i = 0; i < t->cycles && !testing_failed(); i++)
        CHECK_EQ(gort_gc(), GORT_OK);
    atomic_store(&t->done, true);
    gort_waitgroup_done(&t->wg);
}

/* What find_main reads while the spans are swept. */
enum find_read { FIND_OBJECTS, FIND_COLORS };

/* Arenas a test of the whole heap's snapshot looks through. */
#define SNAPSHOT_ARENAS 64

/* Whether the live object obj's slot shows allocated in its span's colors,
 * and (given pages) its span in the whole heap's snapshot: a span that
 * starts there with as many slots, one of them at least in use. */
static bool colors_show_live(const void *obj, gort_page_record *pages, size_t npages)
{
    int color = object_color(obj);
    if (color < 0 || color == GORT_OBJECT_FREE)
        return false;
    if (pages == NULL)
        return true;
    gort_object_info info;
    uintptr_t bases[SNAPSHOT_ARENAS];
    if (!gort_find_object(obj, &info))
        return false;
    size_t narenas = gort_heap_arenas(bases, SNAPSHOT_ARENAS);
    size_t per_arena = gort_pages_per_arena(), n = gort_heap_snapshot(pages, npages);
    for (size_t a = 0; a < narenas && a < SNAPSHOT_ARENAS; a++) {
        size_t page = (info.span - bases[a]) / gort_page_size();
        if (info.span < bases[a] || page >= per_arena)
            continue;
        const gort_page_record *r = &pages[a * per_arena + page];
        return a * per_arena + page < n && r->state == GORT_PAGE_SPAN_START &&
               r->nelems == gort_heap_span_colors(info.span, NULL, 0) && r->inuse >= 1;
    }
    return false;
}

static void find_main(void *arg)
{
    enum find_read read = (enum find_read)(uintptr_t)arg;
    static find_test t;
    t.cycles = read == FIND_COLORS ? FIND_COLORS_CYCLES : FIND_CYCLES;
    atomic_store(&t.done, false);
    node **live = gort_new_array(&node_ptr_type, FIND_LIVE);
    REQUIRE(live != NULL);
    for (int i = 0; i < FIND_LIVE; i++)
        GORT_STORE(live[i], new_node((uint64_t)i));
    size_t npages = gort_heap_snapshot(NULL, 0) + 4 * gort_pages_per_arena();
    gort_page_record *pages = read == FIND_COLORS ? calloc(npages, sizeof *pages) : NULL;
    REQUIRE(read != FIND_COLORS || pages != NULL);
    gort_waitgroup_add(&t.wg, 1);
    REQUIRE(gort_go(find_collector, &t) == GORT_OK);
    uint64_t finds = 0, misses = 0;
    while (!atomic_load(&t.done)) {
        for (int k = 0; k < FIND_LIVE; k++) {
            gort_object_info info;
            if (read == FIND_COLORS) {
                /* The whole heap once a pass: it takes the heap lock per arena. */
                if (!colors_show_live(live[k], k == 0 ? pages : NULL, npages))
                    misses++;
            } else if (!gort_find_object(live[k], &info) || info.base != live[k] || info.noscan) {
                misses++;
            }
        }
        finds += FIND_LIVE;
        gort_safepoint();
    }
    gort_waitgroup_wait(&t.wg);
    for (int i = 0; i < FIND_LIVE; i++)
        CHECK(node_intact(live[i]));
    CHECK(finds > 0);
    CHECK_EQ(misses, 0);
    free(pages);
}

/* gort_find_object (and gort_set_finalizer, which uses it) reads a span's
 * allocation bits while the sweeper may be rewriting them: a live object is
 * found every time. */
TEST(gc_find_object_finds_live_objects_while_their_spans_are_swept)
{
    run_main(2, find_main, (void *)(uintptr_t)FIND_OBJECTS);
}

/* The playground's and tools' reads of a span's objects (their colors) and
 * of the whole heap (the marks per span) race the sweeps that swap and clear
 * the bitmaps they read: a live object never shows free, and the snapshot
 * always shows its span whole, with an object in use. */
TEST(gc_span_colors_show_live_objects_while_their_spans_are_swept)
{
    run_main(2, find_main, (void *)(uintptr_t)FIND_COLORS);
}

/* ---- what a thread that is not a goroutine has just allocated ---- */

/* The steps of the test below, between its goroutine and its thread. */
enum { FRESH_START, FRESH_MADE, FRESH_COLLECTED, FRESH_PUBLISHED, FRESH_CHECKED };

static struct {
    atomic_int step;
    /* The channel's address, hidden from any conservative scan. */
    atomic_uintptr_t hidden;
    gort_handle h;
    atomic_int sent, received;
} fresh;

#define FRESH_HIDE 0x5a5a5a5a

static void *fresh_thread(void *arg)
{
    (void)arg;
    /* Made while no cycle runs, held only in this thread's locals (which
     * no collector scans) across whole cycles, then published. */
    gort_chan *c = gort_chan_make_bytes(sizeof(uint64_t), 1);
    atomic_store(&fresh.hidden, (uintptr_t)c ^ FRESH_HIDE);
    atomic_store(&fresh.step, FRESH_MADE);
    while (atomic_load(&fresh.step) != FRESH_COLLECTED)
        prim_osyield();
    fresh.h = gort_handle_new(c);
    c = NULL;
    atomic_store(&fresh.step, FRESH_PUBLISHED);
    while (atomic_load(&fresh.step) != FRESH_CHECKED)
        prim_osyield();
    gort_chan *back = gort_handle_get(fresh.h);
    uint64_t v = 0x1234567890abcdefull, got = 0;
    bool ok = false;
    atomic_store(&fresh.sent, gort_chan_trysend(back, &v) == GORT_OK);
    atomic_store(&fresh.received, gort_chan_tryrecv(back, &got, &ok) == GORT_OK && ok && got == v);
    gort_handle_delete(fresh.h);
    return NULL;
}

static void fresh_main(void *arg)
{
    (void)arg;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, fresh_thread, NULL) == 0);
    AWAIT(atomic_load(&fresh.step) == FRESH_MADE);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(gort_gc(), GORT_OK);
    /* Other objects where a freed channel was. */
    for (int i = 0; i < 10000; i++)
        new_node((uint64_t)i);
    atomic_store(&fresh.step, FRESH_COLLECTED);
    AWAIT(atomic_load(&fresh.step) == FRESH_PUBLISHED);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(gort_gc(), GORT_OK);
    void *c = (void *)(atomic_load(&fresh.hidden) ^ FRESH_HIDE);
    gort_object_info info;
    CHECK(gort_find_object(c, &info) && info.base == c);
    CHECK(gort_handle_get(fresh.h) == c);
    atomic_store(&fresh.step, FRESH_CHECKED);
    pthread_join(t, NULL);
    CHECK(atomic_load(&fresh.sent));
    CHECK(atomic_load(&fresh.received));
}

/* An object that a thread which is not a goroutine allocates is held only in
 * that thread's locals (not scanned) until it publishes it (a handle, a
 * timer, a reachable object): the cycles that run meanwhile keep it. */
TEST(gc_keeps_what_a_thread_that_is_not_a_goroutine_allocated_until_it_is_published)
{
    run_main(2, fresh_main, NULL);
}

/* ---- pacing ---- */

typedef struct pacer_test {
    int64_t limit;
    uint64_t peak_live;
    uint64_t peak_inuse;
} pacer_test;

#define LIVE_NODES 100000 /* about 4 MB of 40-byte nodes in 48-byte slots */

static void pacer_main(void *arg)
{
    pacer_test *t = arg;
    node **live = gort_new_array(&node_ptr_type, LIVE_NODES);
    REQUIRE(live != NULL);
    for (int i = 0; i < LIVE_NODES; i++)
        GORT_STORE(live[i], new_node((uint64_t)i));
    gort_gc();
    uint64_t rng = 7;
    static gort_memstats st;
    /* Replace live nodes at random: the live heap stays the same, and every
     * replaced node is garbage. */
    for (int i = 0; i < 30 * LIVE_NODES; i++) {
        unsigned k = (unsigned)(testing_rand(&rng) % LIVE_NODES);
        node *n = new_node((uint64_t)k);
        REQUIRE(n != NULL);
        GORT_STORE(live[k], n);
        if (i % 4096 == 0) {
            gort_read_memstats(&st);
            if (st.heap_live > t->peak_live)
                t->peak_live = st.heap_live;
            if (st.heap_inuse > t->peak_inuse)
                t->peak_inuse = st.heap_inuse;
        }
    }
    for (int i = 0; i < LIVE_NODES; i++)
        CHECK(live[i] != NULL && node_intact(live[i]) && live[i]->id == (uint64_t)i);
    gort_read_memstats(&st);
    CHECK(st.num_gc >= 5);
}

TEST(gc_pacer_keeps_the_heap_near_twice_the_live_heap)
{
    pacer_test t = {0};
    gort_set_gc_percent(100);
    gort_config cfg = config_with(2, NULL);
    CHECK_EQ(gort_main(&cfg, pacer_main, &t), GORT_OK);
    uint64_t live_bytes = (uint64_t)LIVE_NODES * 48 + LIVE_NODES * sizeof(void *);
    /* The goal is twice what the last cycle marked, and a cycle marks the
     * objects allocated while it ran (they are born black) besides the live
     * ones: up to a cycle of floating garbage on top of 2x live, more when
     * the machine is so loaded that the marker runs late (measured: 2.5x
     * to 3.3x). Without pacing the loop would reach 30x. */
    if (t.peak_live > live_bytes * 7 / 2)
        testing_fail(__FILE__, __LINE__, "peak heap_live %llu for %llu live bytes",
                     (unsigned long long)t.peak_live, (unsigned long long)live_bytes);
}

TEST(gc_memory_limit_holds_the_heap_under_it_with_gc_off)
{
    pacer_test t = {0};
    int old = gort_set_gc_percent(-1);
    int64_t limit = 16 << 20;
    gort_set_memory_limit(limit);
    gort_config cfg = config_with(2, NULL);
    CHECK_EQ(gort_main(&cfg, pacer_main, &t), GORT_OK);
    gort_set_memory_limit(INT64_MAX);
    CHECK_EQ(gort_set_gc_percent(old), -1);
    if (t.peak_inuse >= (uint64_t)limit)
        testing_fail(__FILE__, __LINE__, "peak heap_inuse %llu over the %lld-byte limit",
                     (unsigned long long)t.peak_inuse, (long long)limit);
}

/* ---- benchmarks' programs, checked ---- */

__attribute__((noinline)) static node *bottom_up(int depth)
{
    node *n = gort_new(&node_type);
    if (n != NULL && depth > 0) {
        GORT_STORE(n->left, bottom_up(depth - 1));
        GORT_STORE(n->right, bottom_up(depth - 1));
    }
    return n;
}

static int64_t item_check(const node *n)
{
    return n->left == NULL ? 1 : 1 + item_check(n->left) + item_check(n->right);
}

static void binary_trees_main(void *arg)
{
    int max_depth = *(int *)arg;
    node *stretch = bottom_up(max_depth + 1);
    CHECK_EQ(item_check(stretch), (1 << (max_depth + 2)) - 1);
    stretch = NULL;
    node *long_lived = bottom_up(max_depth);
    for (int d = 4; d <= max_depth; d += 2) {
        int iterations = 1 << (max_depth - d + 4);
        int64_t check = 0;
        for (int i = 0; i < iterations; i++)
            check += item_check(bottom_up(d));
        CHECK_EQ(check, (int64_t)iterations * ((1 << (d + 1)) - 1));
    }
    CHECK_EQ(item_check(long_lived), (1 << (max_depth + 1)) - 1);
    static gort_memstats st;
    gort_read_memstats(&st);
    CHECK(st.num_gc > 0);
}

TEST(gc_binary_trees_completes_with_correct_checks)
{
    int depth = 14;
    gort_config cfg = config_with(2, NULL);
    CHECK_EQ(gort_main(&cfg, binary_trees_main, &depth), GORT_OK);
}

/* GCBench (Boehm's), smaller: trees built top-down (children stored into a
 * node already in the tree) and bottom-up beside a long-lived tree and an
 * array of doubles, every tree counted. */
#define GCBENCH_STRETCH 14
#define GCBENCH_LONG_LIVED 12
#define GCBENCH_ARRAY 50000

static int tree_nodes(int depth) { return (1 << (depth + 1)) - 1; }

__attribute__((noinline)) static void populate(int depth, node *n)
{
    if (depth <= 0)
        return;
    GORT_STORE(n->left, new_node(0));
    GORT_STORE(n->right, new_node(0));
    populate(depth - 1, n->left);
    populate(depth - 1, n->right);
}

static int count_nodes(const node *n)
{
    return n == NULL ? 0 : 1 + count_nodes(n->left) + count_nodes(n->right);
}

static void gcbench_main(void *arg)
{
    (void)arg;
    CHECK_EQ(count_nodes(bottom_up(GCBENCH_STRETCH)), tree_nodes(GCBENCH_STRETCH));
    node *long_lived = new_node(0);
    populate(GCBENCH_LONG_LIVED, long_lived);
    double *array = gort_alloc_bytes(GCBENCH_ARRAY * sizeof(double));
    REQUIRE(array != NULL);
    for (int i = 1; i < GCBENCH_ARRAY / 2; i++)
        array[i] = 1.0 / i;
    for (int d = 4; d <= GCBENCH_LONG_LIVED; d += 2) {
        int iters = 2 * tree_nodes(GCBENCH_STRETCH) / tree_nodes(d);
        for (int i = 0; i < iters; i++) {
            node *t = new_node(0);
            populate(d, t);
            CHECK_EQ(count_nodes(t), tree_nodes(d));
            CHECK_EQ(count_nodes(bottom_up(d)), tree_nodes(d));
        }
    }
    CHECK_EQ(count_nodes(long_lived), tree_nodes(GCBENCH_LONG_LIVED));
    CHECK(array[1000] == 1.0 / 1000);
    static gort_memstats st;
    gort_read_memstats(&st);
    CHECK(st.num_gc > 0);
}

TEST(gc_gcbench_completes_with_correct_counts)
{
    gort_config cfg = config_with(2, "gccheckmark=1");
    CHECK_EQ(gort_main(&cfg, gcbench_main, NULL), GORT_OK);
}

/* ---- settings, introspection ---- */

static atomic_int events_seen[5];

static void count_event(const gort_gc_event *ev, void *arg)
{
    (void)arg;
    atomic_fetch_add(&events_seen[ev->phase], 1);
}

static void trace_main(void *arg)
{
    (void)arg;
    node *kept = new_node(1); /* a span for the snapshot below */
    gort_set_gc_event_hook(count_event, NULL);
    gort_gc();
    gort_set_gc_event_hook(NULL, NULL);
    char line[256];
    gc_last_trace(line, sizeof line);
    regex_t re;
    REQUIRE(regcomp(&re,
                    "^gc [0-9]+ @[0-9]+\\.[0-9]{3}s [0-9]+%: [0-9.]+\\+[0-9.]+\\+[0-9.]+ ms clock, "
                    "[0-9.]+\\+[0-9.]+/[0-9.]+/0\\+[0-9.]+ ms cpu, [0-9]+->[0-9]+->[0-9]+ MB, "
                    "[0-9]+ MB goal, 2 P \\(forced\\)$",
                    REG_EXTENDED) == 0);
    if (regexec(&re, line, 0, NULL, 0) != 0)
        testing_fail(__FILE__, __LINE__, "gctrace line not in Go's format: %s", line);
    regfree(&re);
    for (int ph = GORT_GC_SWEEP_TERMINATION; ph <= GORT_GC_SWEEP; ph++)
        CHECK(atomic_load(&events_seen[ph]) >= 1);
    CHECK(atomic_load(&events_seen[GORT_GC_OFF]) >= 1);
    static gort_memstats st;
    gort_read_memstats(&st);
    CHECK(st.num_forced_gc >= 1);
    CHECK(st.pause_ns[(st.num_gc + 255) % 256] > 0);
    CHECK(st.pause_total_ns >= st.pause_ns[(st.num_gc + 255) % 256]);
    CHECK(st.next_gc > 0);
    CHECK(st.gc_cpu_fraction > 0 && st.gc_cpu_fraction < 1);
    /* gort_gc waits for the sweep: every span is swept, no mark left. */
    size_t needed = gort_heap_snapshot(NULL, 0);
    gort_page_record *pages = gort_alloc_bytes(needed * sizeof *pages);
    REQUIRE(pages != NULL && gort_heap_snapshot(pages, needed) == needed);
    size_t spans = 0, unswept = 0, marked = 0;
    for (size_t i = 0; i < needed; i++) {
        if (pages[i].state != GORT_PAGE_SPAN_START)
            continue;
        spans++;
        unswept += pages[i].sweep != GORT_SPAN_SWEPT;
        marked += pages[i].marked;
    }
    CHECK(spans > 0);
    CHECK_EQ(unswept, 0);
    CHECK_EQ(marked, 0);
    CHECK(node_intact(kept));
}

TEST(gc_trace_line_events_and_memstats)
{
    gort_config cfg = config_with(2, NULL);
    CHECK_EQ(gort_main(&cfg, trace_main, NULL), GORT_OK);
}

TEST(gc_settings_and_errors)
{
    CHECK_EQ(gort_gc(), GORT_ESTATE); /* no runtime */
    int old = gort_set_gc_percent(50);
    CHECK_EQ(gort_set_gc_percent(old), 50);
    int64_t limit = gort_set_memory_limit(-1);
    CHECK_EQ(gort_set_memory_limit(1 << 30), limit);
    CHECK_EQ(gort_set_memory_limit(limit), 1 << 30);
    CHECK_EQ(gort_handle_get(0), NULL);
    CHECK_EQ(gort_handle_set(12345678, NULL), GORT_EINVAL);
    CHECK_EQ(gort_handle_delete(0), GORT_EINVAL);
}
