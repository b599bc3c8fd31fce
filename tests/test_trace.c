/*
 * test_trace.c — the runtime watched live (gort/trace.h): the event rings
 * (phases in order for every cycle, pauses bracketed, a slow reader losing
 * the oldest events and counting them while the writer never waits) and
 * the heap's page map (the same picture as gort_heap_snapshot on a quiet
 * heap, never a torn span while goroutines allocate and the collector
 * sweeps).
 */
#include <gort/gort.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "observe.h"
#include "testing.h"
#include "testing_rt.h"

#define CAP GORT_TRACE_RING_EVENTS

/* ---- the rings ---- */

/* Events a test drains (static: goroutine stacks are small on wasm). */
#define DRAIN_MAX (64 * 1024)
static gort_trace_event drained[DRAIN_MAX];
static gort_trace_event batch[8 * 1024];
static gort_trace_cursor cursor;
static size_t ndrained;
static uint64_t nlost;

static void drain(void)
{
    for (;;) {
        uint64_t lost = 0;
        size_t n = gort_trace_read(&cursor, batch, sizeof batch / sizeof batch[0], &lost);
        nlost += lost;
        for (size_t i = 0; i < n && ndrained < DRAIN_MAX; i++)
            drained[ndrained++] = batch[i];
        if (n < sizeof batch / sizeof batch[0])
            return;
    }
}

static void drain_reset(void)
{
    memset(&cursor, 0, sizeof cursor);
    ndrained = 0;
    nlost = 0;
}

static int by_time(const void *a, const void *b)
{
    const gort_trace_event *x = a, *y = b;
    return x->time < y->time ? -1 : x->time > y->time;
}

typedef struct node {
    struct node *left, *right;
} node;
static const gort_type node_type =
    GORT_TYPE(node, "trace.node", GORT_PTR_FIELD(node, left) | GORT_PTR_FIELD(node, right));

static node *tree(int depth)
{
    node *n = gort_new(&node_type);
    if (n != NULL && depth > 0) {
        GORT_STORE(n->left, tree(depth - 1));
        GORT_STORE(n->right, tree(depth - 1));
    }
    return n;
}

#define CYCLES_FORCED 6

static void cycles_main(void *arg)
{
    (void)arg;
    drain();
    for (int i = 0; i < CYCLES_FORCED; i++) {
        /* Garbage enough for automatic cycles between the forced ones. */
        for (int k = 0; k < 40; k++) {
            tree(10);
            drain();
        }
        REQUIRE(gort_gc() == GORT_OK);
        drain();
    }
}

TEST(trace_phases_in_order_for_every_cycle)
{
    drain_reset();
    run_main(2, cycles_main, NULL);
    drain();
    CHECK_EQ(nlost, 0);
    uint32_t cycle = 0;        /* the cycle whose phases we follow */
    uint32_t next_phase = GORT_GC_SWEEP_TERMINATION;
    int complete = 0, summaries = 0, begins = 0, ends = 0;
    int64_t begin_time = -1;
    for (size_t i = 0; i < ndrained; i++) {
        const gort_trace_event *e = &drained[i];
        if (e->lane != GORT_TRACE_COLLECTOR)
            continue;
        if (e->kind == GORT_EV_GC_PHASE) {
            uint32_t ph = (uint32_t)(e->arg & 0xff), n = (uint32_t)(e->arg >> 8);
            if (ph == GORT_GC_SWEEP_TERMINATION) {
                /* A new cycle: the one before it went through all five phases. */
                CHECK(cycle == 0 || next_phase == GORT_GC_SWEEP_TERMINATION);
                CHECK(cycle == 0 || n == cycle + 1);
                cycle = n;
                next_phase = GORT_GC_MARK;
                continue;
            }
            if (cycle == 0)
                continue; /* the tail of a cycle the reader joined late */
            CHECK_EQ(ph, next_phase);
            CHECK_EQ(n, cycle);
            if (ph == GORT_GC_OFF) {
                complete++;
                next_phase = GORT_GC_SWEEP_TERMINATION;
            } else {
                next_phase = ph + 1 > GORT_GC_SWEEP ? GORT_GC_OFF : ph + 1;
            }
        } else if (e->kind == GORT_EV_CYCLE_END) {
            CHECK_EQ(e->arg, cycle);
            CHECK_EQ(next_phase, GORT_GC_OFF); /* written in the sweep phase */
            summaries++;
        } else if (e->kind == GORT_EV_STW_BEGIN) {
            CHECK_EQ(e->arg, 2);
            begins++;
        }
    }
    /* Pauses: each begin is followed by its end (in some P's ring, or the
     * collector's), whose argument is the pause. */
    qsort(drained, ndrained, sizeof drained[0], by_time);
    begin_time = -1;
    for (size_t i = 0; i < ndrained; i++) {
        const gort_trace_event *e = &drained[i];
        if (e->kind == GORT_EV_STW_BEGIN) {
            CHECK(begin_time < 0);
            begin_time = (int64_t)e->time;
        } else if (e->kind == GORT_EV_STW_END) {
            CHECK(begin_time >= 0);
            CHECK_EQ(e->arg, (int64_t)e->time - begin_time);
            begin_time = -1;
            ends++;
        } else if (e->kind == GORT_EV_STATE) {
            CHECK(e->arg <= GORT_TRACE_MARK);
            CHECK(e->lane < 2 || e->lane == GORT_TRACE_COLLECTOR);
        }
    }
    CHECK(complete >= CYCLES_FORCED);
    CHECK(summaries >= CYCLES_FORCED);
    CHECK_EQ(begins, ends);
    CHECK(begins >= 2 * complete);
}

/* A writer with no runtime: lane 0's ring, which nothing else writes then. */
#define WRITER_EVENTS (40 * CAP)
#define KIND_OF(seq) ((uint16_t)(100 + (seq) % 7))

static atomic_int writer_done;

static void *write_events(void *arg)
{
    (void)arg;
    for (uint64_t seq = 0; seq < WRITER_EVENTS; seq++)
        trace_event_at(0, KIND_OF(seq), (int64_t)seq + gort_trace_rings()->epoch, seq);
    atomic_store(&writer_done, 1);
    return NULL;
}

TEST(trace_slow_reader_loses_oldest_events_and_counts_them)
{
    trace_procs(1);
    gort_trace_cursor c = {0};
    uint64_t lost = 0;
    /* Read what the rings hold from earlier runtimes: now at their present. */
    while (gort_trace_read(&c, batch, sizeof batch / sizeof batch[0], &lost) > 0)
        ;

    /* Fewer than a ring's worth: all of them, none lost. */
    for (uint64_t seq = 0; seq < 100; seq++)
        trace_event_at(0, KIND_OF(seq), gort_trace_rings()->epoch + (int64_t)seq, seq);
    size_t n = gort_trace_read(&c, batch, sizeof batch / sizeof batch[0], &lost);
    size_t mine = 0;
    for (size_t i = 0; i < n; i++)
        mine += batch[i].lane == 0;
    CHECK_EQ(mine, 100);
    CHECK_EQ(lost, 0);

    /* A ring and a half while the reader looks away: the oldest half ring
     * is gone, counted, and what is left is the newest, in order (but the
     * oldest slot of a full ring, which a writer may be overwriting). */
    for (uint64_t seq = 0; seq < CAP + CAP / 2; seq++)
        trace_event_at(0, KIND_OF(seq), gort_trace_rings()->epoch + (int64_t)seq, seq);
    n = gort_trace_read(&c, batch, sizeof batch / sizeof batch[0], &lost);
    CHECK_EQ(lost, CAP / 2 + 1);
    uint64_t expect = CAP / 2 + 1;
    size_t from_lane0 = 0;
    for (size_t i = 0; i < n; i++) {
        if (batch[i].lane != 0)
            continue;
        CHECK_EQ(batch[i].arg, expect);
        expect++;
        from_lane0++;
    }
    CHECK_EQ(from_lane0, CAP - 1);

    /* A writer that never waits while a reader reads slowly: every event
     * the reader gets is whole (kind matches its sequence number), in order,
     * and read + lost = written. */
    atomic_store(&writer_done, 0);
    gort_trace_read(&c, batch, sizeof batch / sizeof batch[0], &lost); /* to the present */
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, write_events, NULL) == 0);
    uint64_t got = 0, lost_total = 0;
    int64_t last = -1;
    bool done = false;
    while (!done) {
        done = atomic_load(&writer_done) != 0;
        n = gort_trace_read(&c, batch, 64, &lost);
        lost_total += lost;
        for (size_t i = 0; i < n; i++) {
            if (batch[i].lane != 0)
                continue;
            CHECK_EQ(batch[i].kind, KIND_OF(batch[i].arg));
            CHECK_EQ(batch[i].time, batch[i].arg);
            CHECK((int64_t)batch[i].arg > last);
            last = (int64_t)batch[i].arg;
            got++;
        }
        if (testing_failed())
            break;
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    }
    pthread_join(t, NULL);
    do {
        n = gort_trace_read(&c, batch, sizeof batch / sizeof batch[0], &lost);
        lost_total += lost;
        for (size_t i = 0; i < n; i++)
            got += batch[i].lane == 0;
    } while (n > 0);
    CHECK_EQ(got + lost_total, WRITER_EVENTS);
    CHECK(lost_total > 0); /* the reader was slow: 64 events per 2 ms */
    CHECK(last >= 0);
}

/* ---- the page map ---- */

static gort_heapmap_page *map_pages;    /* one arena's copy */
static gort_page_record *snap_pages;    /* the whole heap's snapshot */
static size_t snap_cap;

static void map_buffers(void)
{
    if (map_pages == NULL)
        map_pages = calloc(gort_pages_per_arena(), sizeof *map_pages);
    size_t need = gort_heap_snapshot(NULL, 0);
    if (need > snap_cap) {
        free(snap_pages);
        snap_cap = need + 16 * gort_pages_per_arena();
        snap_pages = calloc(snap_cap, sizeof *snap_pages);
    }
}

typedef struct blob {
    struct blob *next;
    char bytes[];
} blob;

static const size_t sizes[] = {8, 48, 200, 1024, 3000, 9000, 40000, 100000, 300000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void quiet_main(void *arg)
{
    (void)arg;
    void **keep = heap_ptr_array(4096);
    REQUIRE(keep != NULL);
    uint64_t rnd = 7;
    for (int i = 0; i < 6000; i++) {
        size_t n = sizes[testing_rand(&rnd) % NSIZES];
        void *p = testing_rand(&rnd) % 3 == 0 ? gort_new_array(&node_type, n / sizeof(node) + 1)
                                               : gort_alloc_bytes(n);
        REQUIRE(p != NULL);
        if (i % 3 == 0)
            GORT_STORE(keep[(i / 3) % 4096], p);
    }
    REQUIRE(gort_gc() == GORT_OK);
    /* Nothing allocates now: the map and the snapshot see the same heap. */
    map_buffers();
    size_t total = gort_heap_snapshot(snap_pages, snap_cap);
    REQUIRE(total <= snap_cap);
    const gort_heapmap_header *hm = gort_heapmap();
    size_t narenas = total / gort_pages_per_arena();
    CHECK_EQ(__atomic_load_n(&hm->narenas, __ATOMIC_ACQUIRE), narenas);
    size_t spans = 0, pages_in_use = 0;
    for (size_t a = 0; a < narenas; a++) {
        REQUIRE(gort_heapmap_read(a, map_pages, 100) >= 0);
        for (size_t i = 0; i < gort_pages_per_arena(); i++) {
            const gort_heapmap_page *m = &map_pages[i];
            const gort_page_record *s = &snap_pages[a * gort_pages_per_arena() + i];
            CHECK_EQ(m->state, s->state);
            if (s->state != GORT_PAGE_FREE)
                pages_in_use++;
            if (s->state != GORT_PAGE_SPAN_START)
                continue;
            spans++;
            CHECK_EQ(m->spanclass, s->spanclass);
            CHECK_EQ(m->nelems, s->nelems);
            CHECK_EQ(m->npages, s->npages);
            CHECK_EQ(m->inuse, s->inuse);
            CHECK_EQ(gort_heapmap_sweep_state(m), s->sweep);
            CHECK_EQ(m->flags & GORT_HEAPMAP_CACHED, 0);
            /* Swept by the last cycle, nothing allocated since. */
            CHECK_EQ(m->marked, m->inuse);
            if (testing_failed())
                return;
        }
    }
    uintptr_t *bases = calloc(narenas, sizeof *bases);
    REQUIRE(gort_heap_arenas(bases, narenas) == narenas);
    for (size_t a = 0; a < narenas; a++)
        CHECK_EQ(hm->arenas[a]->base, bases[a]);
    free(bases);
    CHECK(spans > 10);
    gort_memstats *ms = calloc(1, sizeof *ms);
    gort_read_memstats(ms);
    CHECK_EQ(pages_in_use * gort_page_size(), ms->heap_inuse);
    free(ms);
    gort_keep_alive(keep);
}

TEST(heapmap_agrees_with_heap_snapshot_on_a_quiet_heap) { run_main(2, quiet_main, NULL); }

/* Checks one consistent copy of an arena: every span's first page says
 * how many pages follow, and exactly those say they belong to a span. */
static bool arena_consistent(const gort_heapmap_page *pages, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const gort_heapmap_page *p = &pages[i];
        if (p->state == GORT_PAGE_FREE) {
            i++;
            continue;
        }
        if (p->state != GORT_PAGE_SPAN_START) {
            /* A rest page with no start before it: only a span that began
             * in the arena before this one may do that, at the arena's
             * start. */
            if (i != 0)
                return false;
            while (i < n && pages[i].state == GORT_PAGE_SPAN_REST)
                i++;
            continue;
        }
        if (p->npages == 0 || p->nelems == 0 || p->inuse > p->nelems || p->marked > p->nelems)
            return false;
        size_t end = i + p->npages;
        for (size_t k = i + 1; k < end && k < n; k++)
            if (pages[k].state != GORT_PAGE_SPAN_REST)
                return false;
        i = end;
    }
    return true;
}

static struct {
    atomic_bool stop;
    atomic_int churners;
    atomic_int reads;
    atomic_int torn;
    atomic_int busy;
} churn;

static void churner(void *arg)
{
    uint64_t rnd = (uintptr_t)arg;
    void **keep = heap_ptr_array(512);
    while (!atomic_load(&churn.stop)) {
        size_t n = sizes[testing_rand(&rnd) % NSIZES];
        void *p = gort_alloc_bytes(n);
        if (p == NULL)
            break;
        GORT_STORE(keep[testing_rand(&rnd) % 512], p);
    }
    gort_keep_alive(keep);
    atomic_fetch_sub(&churn.churners, 1);
}

static void torn_main(void *arg)
{
    (void)arg;
    atomic_store(&churn.stop, false);
    atomic_store(&churn.churners, 2);
    REQUIRE(gort_go(churner, (void *)1) == GORT_OK);
    REQUIRE(gort_go(churner, (void *)2) == GORT_OK);
    REQUIRE(gc_loop_start());
    map_buffers();
    const gort_heapmap_header *hm = gort_heapmap();
    int64_t until = gort_nanotime() + 1500 * (int64_t)1000000;
    while (gort_nanotime() < until) {
        uint32_t narenas = __atomic_load_n(&hm->narenas, __ATOMIC_ACQUIRE);
        for (uint32_t a = 0; a < narenas; a++) {
            if (gort_heapmap_read(a, map_pages, 3) < 0) {
                atomic_fetch_add(&churn.busy, 1);
                continue;
            }
            atomic_fetch_add(&churn.reads, 1);
            if (!arena_consistent(map_pages, gort_pages_per_arena()))
                atomic_fetch_add(&churn.torn, 1);
        }
        gort_yield();
    }
    atomic_store(&churn.stop, true);
    AWAIT(atomic_load(&churn.churners) == 0);
    gc_loop_stop();
}

TEST(heapmap_never_shows_a_torn_span_while_allocating_and_sweeping)
{
    run_main(3, torn_main, NULL);
    CHECK_EQ(atomic_load(&churn.torn), 0);
    CHECK(atomic_load(&churn.reads) > 10);
}
