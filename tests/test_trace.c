/*
 * test_trace.c — the runtime watched live (gort/trace.h): the event rings
 * (phases in order for every cycle, pauses bracketed, a slow reader losing
 * the oldest events and counting them while the writer never waits) and
 * the heap's page map (the same picture as gort_heap_snapshot on a quiet
 * heap, never a torn span while goroutines allocate and the collector
 * sweeps), and the Chrome trace export (known events written exactly as
 * the JS reader writes them; a trace started and stopped around a
 * workload, valid JSON with every lane).
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

/* A test's drain starts past what the rings already hold: they outlive a
 * run of the runtime, and an earlier test in this process (without ctest,
 * every test runs in one) left its events there. */
static void drain_reset(void)
{
    memset(&cursor, 0, sizeof cursor);
    uint64_t lost = 0;
    while (gort_trace_read(&cursor, batch, sizeof batch / sizeof batch[0], &lost) == sizeof batch / sizeof batch[0])
        ;
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

/* A read that returns fewer events than it had room for has read every
 * ring to its end, even when records it copied were dropped (a full ring's
 * oldest slot, which a writer may hold): a reader can stop there. Two
 * wrapped rings read with room for one ring and a few more. */
TEST(trace_short_read_means_every_ring_was_read)
{
    trace_procs(2);
    gort_trace_cursor c = {0};
    uint64_t lost = 0;
    while (gort_trace_read(&c, batch, sizeof batch / sizeof batch[0], &lost) > 0)
        ; /* to the present */
    const uint64_t written = CAP + 10;
    for (int lane = 0; lane < 2; lane++) {
        for (uint64_t seq = 0; seq < written; seq++)
            trace_event_at(lane, KIND_OF(seq), gort_trace_rings()->epoch + (int64_t)seq, seq);
    }
    const size_t room = CAP + 5;
    uint64_t got = 0, lost_total = 0;
    size_t n;
    do {
        n = gort_trace_read(&c, batch, room, &lost);
        got += n;
        lost_total += lost;
    } while (n == room);
    CHECK_EQ(gort_trace_read(&c, batch, room, &lost), 0);
    CHECK_EQ(got + lost_total, 2 * written);
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
        /* Nothing writes the map on a quiet heap: an arena still held is
         * a writer count gone wrong (a stray store on its generation). */
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

/* ---- goroutine events ---- */

#define GO_PAIRS 3
#define GO_ROUNDS 40
#define GO_YIELDS 5
#define GO_SLEEP_NS (2 * (int64_t)1000000)

enum go_role { ROLE_PINGER, ROLE_ECHO, ROLE_SLEEPER, ROLE_YIELDER, ROLES };

typedef struct go_pair {
    gort_chan *ping, *pong;
    int index;
} go_pair;

static go_pair go_pairs[GO_PAIRS];
static gort_waitgroup go_wg = GORT_WAITGROUP_INIT;
static uint64_t role_goid[ROLES][GO_PAIRS];

static void go_echo(void *arg)
{
    go_pair *p = arg;
    role_goid[ROLE_ECHO][p->index] = gort_goid();
    int v;
    bool ok;
    while (gort_chan_recv(p->ping, &v, &ok) == GORT_OK && ok) {
        v++;
        gort_chan_send(p->pong, &v);
    }
    gort_waitgroup_done(&go_wg);
}

static void go_pinger(void *arg)
{
    go_pair *p = arg;
    role_goid[ROLE_PINGER][p->index] = gort_goid();
    for (int r = 0; r < GO_ROUNDS; r++) {
        int v = r;
        bool ok;
        gort_chan_send(p->ping, &v);
        gort_chan_recv(p->pong, &v, &ok);
        CHECK_EQ(v, r + 1);
    }
    gort_chan_close(p->ping);
    gort_waitgroup_done(&go_wg);
}

static void go_sleeper(void *arg)
{
    (void)arg;
    role_goid[ROLE_SLEEPER][0] = gort_goid();
    gort_sleep(GO_SLEEP_NS);
    gort_waitgroup_done(&go_wg);
}

static void go_yielder(void *arg)
{
    (void)arg;
    role_goid[ROLE_YIELDER][0] = gort_goid();
    for (int i = 0; i < GO_YIELDS; i++)
        gort_yield();
    gort_waitgroup_done(&go_wg);
}

static void goevents_main(void *arg)
{
    (void)arg;
    gort_chan *keep[2 * GO_PAIRS]; /* the channels' roots: this stack */
    memset(role_goid, 0, sizeof role_goid);
    gort_waitgroup_add(&go_wg, 2 * GO_PAIRS + 2);
    for (int i = 0; i < GO_PAIRS; i++) {
        go_pairs[i] = (go_pair){make_int_chan(0), make_int_chan(0), i};
        keep[2 * i] = go_pairs[i].ping;
        keep[2 * i + 1] = go_pairs[i].pong;
        REQUIRE(gort_go(go_echo, &go_pairs[i]) == GORT_OK);
        REQUIRE(gort_go(go_pinger, &go_pairs[i]) == GORT_OK);
    }
    REQUIRE(gort_go(go_sleeper, NULL) == GORT_OK);
    REQUIRE(gort_go(go_yielder, NULL) == GORT_OK);
    gort_waitgroup_wait(&go_wg);
    for (int i = 0; i < 2 * GO_PAIRS; i++)
        CHECK(keep[i] != NULL);
    drain();
}

static bool is_go_event(uint16_t kind) { return kind >= GORT_EV_GO_CREATE && kind <= GORT_EV_GO_END; }
static uint64_t go_event_goid(const gort_trace_event *e)
{
    return e->kind == GORT_EV_GO_BLOCK ? e->arg >> 8 : e->arg;
}

/* One goroutine's events, counted. */
typedef struct go_story {
    int count[GORT_EV_GO_END + 1];
    int blocks_by_reason[GORT_WAIT_FINALIZER + 1];
    uint64_t created_at, first_start, ended_at, last_time;
} go_story;

static go_story story_of(uint64_t goid)
{
    go_story s = {.first_start = UINT64_MAX};
    for (size_t i = 0; i < ndrained; i++) {
        const gort_trace_event *e = &drained[i];
        if (!is_go_event(e->kind) || go_event_goid(e) != goid)
            continue;
        s.count[e->kind]++;
        if (e->kind == GORT_EV_GO_BLOCK && (e->arg & 0xff) <= GORT_WAIT_FINALIZER)
            s.blocks_by_reason[e->arg & 0xff]++;
        if (e->kind == GORT_EV_GO_CREATE)
            s.created_at = e->time;
        if (e->kind == GORT_EV_GO_START && e->time < s.first_start)
            s.first_start = e->time;
        if (e->kind == GORT_EV_GO_END)
            s.ended_at = e->time;
        if (e->time > s.last_time)
            s.last_time = e->time;
    }
    return s;
}

/* Every goroutine made and ended while watched: created once, then each
 * start ended by a block, a stop or its end, each block undone by an
 * unblock; and the end the last of its events. */
static void check_whole_story(uint64_t goid)
{
    go_story s = story_of(goid);
    CHECK(goid != 0);
    CHECK_EQ(s.count[GORT_EV_GO_CREATE], 1);
    CHECK_EQ(s.count[GORT_EV_GO_END], 1);
    CHECK_EQ(s.count[GORT_EV_GO_START], 1 + s.count[GORT_EV_GO_BLOCK] + s.count[GORT_EV_GO_STOP]);
    CHECK_EQ(s.count[GORT_EV_GO_UNBLOCK], s.count[GORT_EV_GO_BLOCK]);
    CHECK(s.created_at <= s.first_start);
    CHECK_EQ(s.ended_at, s.last_time);
}

TEST(trace_goroutine_events_follow_each_goroutine)
{
    drain_reset();
    CHECK_EQ(gort_trace_goroutines(1), GORT_OK);
    run_main(2, goevents_main, NULL);
    CHECK_EQ(gort_trace_goroutines(0), GORT_OK);
    drain();
    CHECK_EQ(nlost, 0);

    /* A P runs one goroutine at a time: on each lane (in its ring's
     * order) a start is followed by that goroutine's block, stop or end
     * before the next start. */
    for (uint16_t lane = 0; lane < 2; lane++) {
        uint64_t running = 0;
        int starts = 0;
        for (size_t i = 0; i < ndrained; i++) {
            const gort_trace_event *e = &drained[i];
            if (e->lane != lane || !is_go_event(e->kind))
                continue;
            uint64_t goid = go_event_goid(e);
            if (e->kind == GORT_EV_GO_START) {
                CHECK_EQ(running, 0);
                running = goid;
                starts++;
            } else if (e->kind == GORT_EV_GO_BLOCK || e->kind == GORT_EV_GO_STOP || e->kind == GORT_EV_GO_END) {
                CHECK_EQ(goid, running);
                running = 0;
            }
        }
        CHECK(starts > 0 || lane == 1);
    }
    for (size_t i = 0; i < ndrained; i++)
        CHECK(!is_go_event(drained[i].kind) || drained[i].lane < 2);

    int pair_blocks = 0;
    for (int i = 0; i < GO_PAIRS; i++) {
        for (int role = ROLE_PINGER; role <= ROLE_ECHO; role++) {
            uint64_t goid = role_goid[role][i];
            check_whole_story(goid);
            go_story s = story_of(goid);
            /* They wait only for each other. */
            CHECK_EQ(s.blocks_by_reason[GORT_WAIT_CHAN_SEND] + s.blocks_by_reason[GORT_WAIT_CHAN_RECEIVE],
                     s.count[GORT_EV_GO_BLOCK]);
            pair_blocks += s.count[GORT_EV_GO_BLOCK];
        }
    }
    /* In each round of an unbuffered ping-pong one side at least waits. */
    CHECK(pair_blocks >= GO_PAIRS * GO_ROUNDS);

    check_whole_story(role_goid[ROLE_SLEEPER][0]);
    go_story sleeper = story_of(role_goid[ROLE_SLEEPER][0]);
    CHECK_EQ(sleeper.count[GORT_EV_GO_BLOCK], 1);
    CHECK_EQ(sleeper.blocks_by_reason[GORT_WAIT_SLEEP], 1);
    CHECK(sleeper.ended_at - sleeper.created_at >= (uint64_t)GO_SLEEP_NS);

    check_whole_story(role_goid[ROLE_YIELDER][0]);
    go_story yielder = story_of(role_goid[ROLE_YIELDER][0]);
    CHECK(yielder.count[GORT_EV_GO_STOP] >= GO_YIELDS);
    CHECK_EQ(yielder.count[GORT_EV_GO_BLOCK], 0);
}

TEST(trace_goroutine_events_only_while_a_reader_wants_them)
{
    CHECK_EQ(gort_trace_goroutines(0), GORT_ESTATE); /* none wanted them */
    drain_reset();
    run_main(2, goevents_main, NULL);
    drain();
    size_t go_events = 0, states = 0;
    for (size_t i = 0; i < ndrained; i++) {
        go_events += is_go_event(drained[i].kind);
        states += drained[i].kind == GORT_EV_STATE;
    }
    CHECK_EQ(go_events, 0);
    CHECK(states > 0);
    /* Two readers: events until the last one leaves. */
    CHECK_EQ(gort_trace_goroutines(1), GORT_OK);
    CHECK_EQ(gort_trace_goroutines(1), GORT_OK);
    CHECK_EQ(gort_trace_goroutines(0), GORT_OK);
    drain_reset();
    run_main(2, goevents_main, NULL);
    drain();
    go_events = 0;
    for (size_t i = 0; i < ndrained; i++)
        go_events += is_go_event(drained[i].kind);
    CHECK(go_events > 0);
    CHECK_EQ(gort_trace_goroutines(0), GORT_OK);
    CHECK_EQ(gort_trace_goroutines(0), GORT_ESTATE);
}

/* ---- the Chrome trace ---- */

/* Whether text is one JSON value and nothing else (RFC 8259's grammar;
 * strings are not checked for valid UTF-8). */
static const char *json_value(const char *p, int depth);

static const char *json_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || p[i] == 0)
                        return NULL;
                p += 4;
            } else if (*p == 0 || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
    }
    return p + 1;
}

static const char *json_digits(const char *p)
{
    if (*p < '0' || *p > '9')
        return NULL;
    while (*p >= '0' && *p <= '9')
        p++;
    return p;
}

static const char *json_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if ((p = json_digits(p)) == NULL)
        return NULL;
    if (*p == '.' && (p = json_digits(p + 1)) == NULL)
        return NULL;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        p = json_digits(p);
    }
    return p;
}

static const char *json_value(const char *p, int depth)
{
    if (depth > 64)
        return NULL;
    p = json_space(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = json_space(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                if ((p = json_string(json_space(p))) == NULL || *(p = json_space(p)) != ':')
                    return NULL;
                p++;
            }
            if ((p = json_value(p, depth + 1)) == NULL)
                return NULL;
            p = json_space(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (*p == '"')
        return json_string(p);
    if (*p == '-' || (*p >= '0' && *p <= '9'))
        return json_number(p);
    for (const char *const *lit = (const char *const[]){"true", "false", "null", NULL}; *lit; lit++)
        if (strncmp(p, *lit, strlen(*lit)) == 0)
            return p + strlen(*lit);
    return NULL;
}

static bool json_valid(const char *text)
{
    const char *end = json_value(text, 0);
    return end != NULL && *json_space(end) == 0;
}

TEST(trace_json_check_tells_valid_from_broken)
{
    CHECK(json_valid("{\"a\":[1,-2.5e3,\"x\\\"y\",true,null,{}],\"b\":{\"c\":[]}}\n"));
    CHECK(!json_valid("{\"a\":[1,2}"));
    CHECK(!json_valid("{\"a\":1,}"));
    CHECK(!json_valid("{\"a\":01}"));
    CHECK(!json_valid("{\"a\":1} {}"));
    CHECK(!json_valid("[1.]"));
}

/* Writes events with gort_trace_write_chrome to memory: the text (free it),
 * NULL when the call did not return GORT_OK. */
static char *chrome_json(const gort_trace_event *events, size_t n, uint64_t lost, int nprocs)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (f == NULL)
        return NULL;
    int rc = gort_trace_write_chrome(f, events, n, lost, nprocs);
    fclose(f);
    if (rc != GORT_OK) {
        testing_fail(__FILE__, __LINE__, "gort_trace_write_chrome: %s", gort_strerror(rc));
        free(text);
        return NULL;
    }
    return text;
}

#define EV(t, kind, lane, arg) {(t), GORT_EV_##kind, (lane), 0, (uint64_t)(arg)}
#define COLL GORT_TRACE_COLLECTOR
#define PHASE(cycle, ph) ((uint64_t)(cycle) << 8 | GORT_GC_##ph)

/*
 * Two Ps and the collector, ring after ring as gort_trace_read gives them.
 * G1 (on P0) makes G5 and waits to receive; G5 (on P1) unblocks G1 and
 * yields; cycle 3's sweep termination is a pause asked by the collector at
 * 10 us, when P0 also turns to assisting (the pause's begin goes first: P0
 * assists, not "stopping", until it stops) and P1 is stopping until it
 * stops at 11 us; P0 restarts the world at 15 us, when the mark begins
 * (its end goes last). Then the cycle's summary; G5 runs again and ends,
 * G1 runs again (the arrow from G5's unblock ends here) and ends.
 */
static const gort_trace_event synthetic[] = {
    /* P0's ring */
    EV(1000, STATE, 0, GORT_TRACE_RUNNING),
    EV(2000, GO_START, 0, 1),
    EV(3000, GO_CREATE, 0, 5),
    EV(4000, GO_BLOCK, 0, 1 << 8 | GORT_WAIT_CHAN_RECEIVE),
    EV(10000, STATE, 0, GORT_TRACE_ASSIST),
    EV(10500, STATE, 0, GORT_TRACE_STOPPED),
    EV(15000, STW_END, 0, 5000),
    EV(20000, GO_START, 0, 1),
    EV(22000, GO_END, 0, 1),
    EV(23000, STATE, 0, GORT_TRACE_IDLE),
    /* P1's */
    EV(1500, STATE, 1, GORT_TRACE_RUNNING),
    EV(5000, GO_START, 1, 5),
    EV(8000, GO_UNBLOCK, 1, 1),
    EV(9000, GO_STOP, 1, 5),
    EV(11000, STATE, 1, GORT_TRACE_STOPPED),
    EV(16000, GO_START, 1, 5),
    EV(18000, GO_END, 1, 5),
    EV(24000, STATE, 1, GORT_TRACE_IDLE),
    /* the collector's */
    EV(10000, STW_BEGIN, COLL, 2),
    EV(10000, GC_PHASE, COLL, PHASE(3, SWEEP_TERMINATION)),
    EV(12000, STW_STOPPED, COLL, 2000),
    EV(15000, GC_PHASE, COLL, PHASE(3, MARK)),
    EV(15000, STATE, COLL, GORT_TRACE_MARK),
    EV(19000, STATE, COLL, GORT_TRACE_IDLE),
    EV(19000, GC_PHASE, COLL, PHASE(3, MARK_TERMINATION)),
    EV(19500, GC_PHASE, COLL, PHASE(3, SWEEP)),
    EV(19600, CYCLE_LIVE_START, COLL, 3000),
    EV(19600, CYCLE_LIVE_END, COLL, 4096),
    EV(19600, CYCLE_MARKED, COLL, 2048),
    EV(19600, CYCLE_GOAL, COLL, 8192),
    EV(19600, CYCLE_TRIGGER, COLL, 7000),
    EV(19600, CYCLE_END, COLL, 3),
    EV(21000, GC_PHASE, COLL, PHASE(3, OFF)),
};

/* What the JS reader's chromeTrace() makes of them (JSON.stringify's, an
 * event a line). */
static const char synthetic_json[] =
    "{\"traceEvents\":[\n"
    "{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\"gort\"}},\n"
    "{\"ph\":\"M\",\"pid\":1,\"tid\":1000,\"name\":\"thread_name\",\"args\":{\"name\":\"collector\"}},\n"
    "{\"ph\":\"M\",\"pid\":1,\"tid\":2000,\"name\":\"thread_name\",\"args\":{\"name\":\"GC phases\"}},\n"
    "{\"ph\":\"M\",\"pid\":1,\"tid\":2001,\"name\":\"thread_name\",\"args\":{\"name\":\"stop-the-world\"}},\n"
    "{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"thread_name\",\"args\":{\"name\":\"P0\"}},\n"
    "{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":0}},\n"
    "{\"ph\":\"M\",\"pid\":1,\"tid\":3000,\"name\":\"thread_name\",\"args\":{\"name\":\"P0 goroutines\"}},\n"
    "{\"ph\":\"M\",\"pid\":1,\"tid\":3000,\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":1}},\n"
    "{\"ph\":\"M\",\"pid\":1,\"tid\":1,\"name\":\"thread_name\",\"args\":{\"name\":\"P1\"}},\n"
    "{\"ph\":\"M\",\"pid\":1,\"tid\":1,\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":2}},\n"
    "{\"ph\":\"M\",\"pid\":1,\"tid\":3001,\"name\":\"thread_name\",\"args\":{\"name\":\"P1 goroutines\"}},\n"
    "{\"ph\":\"M\",\"pid\":1,\"tid\":3001,\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":3}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":3000,\"name\":\"G1\",\"cat\":\"goroutine\",\"ts\":2,\"dur\":2,"
    "\"args\":{\"goid\":1,\"ended\":\"chan receive\"}},\n"
    "{\"ph\":\"s\",\"pid\":1,\"tid\":3000,\"id\":1,\"name\":\"ready\",\"cat\":\"goroutine\",\"ts\":3,"
    "\"args\":{\"goid\":5,\"by\":\"go\"}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":3001,\"name\":\"G5\",\"cat\":\"goroutine\",\"ts\":5,\"dur\":4,"
    "\"args\":{\"goid\":5,\"ended\":\"yield\"}},\n"
    "{\"ph\":\"s\",\"pid\":1,\"tid\":3001,\"id\":2,\"name\":\"ready\",\"cat\":\"goroutine\",\"ts\":8,"
    "\"args\":{\"goid\":1,\"by\":\"unblock\"}},\n"
    "{\"ph\":\"f\",\"bp\":\"e\",\"pid\":1,\"tid\":3001,\"id\":1,\"name\":\"ready\",\"cat\":\"goroutine\",\"ts\":5.001},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":0,\"name\":\"running\",\"cat\":\"sched\",\"ts\":1,\"dur\":9,\"args\":{}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"name\":\"running\",\"cat\":\"sched\",\"ts\":1.5,\"dur\":8.5,\"args\":{}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":0,\"name\":\"assist\",\"cat\":\"sched\",\"ts\":10,\"dur\":0.5,\"args\":{}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"name\":\"stopping\",\"cat\":\"sched\",\"ts\":10,\"dur\":1,\"args\":{}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":2000,\"name\":\"sweep termination\",\"cat\":\"gc\",\"ts\":10,\"dur\":5,"
    "\"args\":{\"cycle\":3}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":2001,\"name\":\"stop-the-world\",\"cat\":\"gc\",\"ts\":10,\"dur\":5,"
    "\"args\":{\"pause_us\":5}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":0,\"name\":\"stopped\",\"cat\":\"sched\",\"ts\":10.5,\"dur\":4.5,\"args\":{}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"name\":\"stopped\",\"cat\":\"sched\",\"ts\":11,\"dur\":4,\"args\":{}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":3001,\"name\":\"G5\",\"cat\":\"goroutine\",\"ts\":16,\"dur\":2,"
    "\"args\":{\"goid\":5,\"ended\":\"end\"}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":1000,\"name\":\"mark\",\"cat\":\"sched\",\"ts\":15,\"dur\":4,\"args\":{}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":2000,\"name\":\"mark\",\"cat\":\"gc\",\"ts\":15,\"dur\":4,\"args\":{\"cycle\":3}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":2000,\"name\":\"mark termination\",\"cat\":\"gc\",\"ts\":19,\"dur\":0.5,"
    "\"args\":{\"cycle\":3}},\n"
    "{\"ph\":\"C\",\"pid\":1,\"name\":\"heap live\",\"ts\":19.6,\"args\":{\"bytes\":4096}},\n"
    "{\"ph\":\"C\",\"pid\":1,\"name\":\"heap marked\",\"ts\":19.6,\"args\":{\"bytes\":2048}},\n"
    "{\"ph\":\"C\",\"pid\":1,\"name\":\"heap goal\",\"ts\":19.6,\"args\":{\"bytes\":8192}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":2000,\"name\":\"sweep\",\"cat\":\"gc\",\"ts\":19.5,\"dur\":1.5,"
    "\"args\":{\"cycle\":3}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":3000,\"name\":\"G1\",\"cat\":\"goroutine\",\"ts\":20,\"dur\":2,"
    "\"args\":{\"goid\":1,\"ended\":\"end\"}},\n"
    "{\"ph\":\"f\",\"bp\":\"e\",\"pid\":1,\"tid\":3000,\"id\":2,\"name\":\"ready\",\"cat\":\"goroutine\",\"ts\":20.001},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":0,\"name\":\"running\",\"cat\":\"sched\",\"ts\":15,\"dur\":8,\"args\":{}},\n"
    "{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"name\":\"running\",\"cat\":\"sched\",\"ts\":15,\"dur\":9,\"args\":{}}\n"
    "],\"displayTimeUnit\":\"ms\",\"otherData\":{\"source\":\"gort\",\"lost\":7}}\n";

#define NSYNTHETIC (sizeof synthetic / sizeof synthetic[0])

/* Prints where two texts part, to make a broken export's failure readable. */
static void check_same_text(const char *got, const char *want)
{
    size_t i = 0;
    while (got[i] != 0 && got[i] == want[i])
        i++;
    if (got[i] == want[i])
        return;
    size_t from = i > 80 ? i - 80 : 0;
    testing_fail(__FILE__, __LINE__, "the texts part at byte %zu:\n got: ...%.160s\nwant: ...%.160s", i,
                 got + from, want + from);
}

TEST(trace_chrome_export_of_known_events)
{
    gort_trace_event events[NSYNTHETIC];
    memcpy(events, synthetic, sizeof events);
    char *text = chrome_json(events, NSYNTHETIC, 7, 2);
    REQUIRE(text != NULL);
    CHECK(memcmp(events, synthetic, sizeof events) == 0); /* sorted a copy */
    CHECK(json_valid(text));
    check_same_text(text, synthetic_json);
    free(text);

    /* The rings in another order draw the same picture: the events are
     * sorted by time, a pause's begin first and its end last at one
     * instant (P0's assist at the pause's request, P0's restart of the
     * world with the mark's start), and otherwise in the order given
     * (a ring's own order: the collector's at 19 and 19.6 us). */
    gort_trace_event rings[NSYNTHETIC];
    size_t n = 0;
    for (int lane = GORT_TRACE_COLLECTOR; lane >= 0; lane--)
        for (size_t i = 0; i < NSYNTHETIC; i++)
            if (synthetic[i].lane == lane)
                rings[n++] = synthetic[i];
    REQUIRE(n == NSYNTHETIC);
    text = chrome_json(rings, n, 7, 2);
    REQUIRE(text != NULL);
    check_same_text(text, synthetic_json);
    free(text);
}

TEST(trace_chrome_export_without_goroutine_events_or_events)
{
    /* No goroutine events: no goroutine lanes. */
    gort_trace_event events[NSYNTHETIC];
    size_t n = 0;
    for (size_t i = 0; i < NSYNTHETIC; i++)
        if (!is_go_event(synthetic[i].kind))
            events[n++] = synthetic[i];
    char *text = chrome_json(events, n, 0, 2);
    REQUIRE(text != NULL);
    CHECK(json_valid(text));
    CHECK(strstr(text, "goroutine") == NULL);
    CHECK(strstr(text, "\"name\":\"stop-the-world\",\"cat\":\"gc\",\"ts\":10,\"dur\":5") != NULL);
    free(text);

    /* None at all: the lanes' names, nothing else. */
    text = chrome_json(NULL, 0, 0, 1);
    REQUIRE(text != NULL);
    CHECK(json_valid(text));
    CHECK(strstr(text, "\"name\":\"P0\"") != NULL);
    CHECK(strstr(text, "\"ph\":\"X\"") == NULL);
    CHECK(strstr(text, "\"lost\":0}") != NULL);
    free(text);
}

TEST(trace_chrome_export_refuses_bad_arguments_and_reports_write_errors)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    REQUIRE(f != NULL);
    CHECK_EQ(gort_trace_write_chrome(NULL, synthetic, NSYNTHETIC, 0, 2), GORT_EINVAL);
    CHECK_EQ(gort_trace_write_chrome(f, NULL, 1, 0, 2), GORT_EINVAL);
    CHECK_EQ(gort_trace_write_chrome(f, synthetic, NSYNTHETIC, 0, -1), GORT_EINVAL);
    CHECK_EQ(gort_trace_write_chrome(f, synthetic, NSYNTHETIC, 0, GORT_TRACE_COLLECTOR + 1), GORT_EINVAL);
    gort_trace_event bad = EV(1, STATE, GORT_TRACE_COLLECTOR + 1, GORT_TRACE_RUNNING);
    CHECK_EQ(gort_trace_write_chrome(f, &bad, 1, 0, 2), GORT_EINVAL);
    fflush(f);
    CHECK_EQ(size, 0); /* refused before writing */
    fclose(f);
    free(text);

    /* A stream that cannot be written. */
    static char buf[64];
    f = fmemopen(buf, sizeof buf, "r");
    REQUIRE(f != NULL);
    CHECK_EQ(gort_trace_write_chrome(f, synthetic, NSYNTHETIC, 0, 2), GORT_EWRITE);
    fclose(f);
    CHECK(strcmp(gort_strerror(GORT_EWRITE), "short write") == 0);
}

/* The first needle in text, or NULL: strstr, but in time linear in what
 * it passes under the sanitizers too (theirs measure the whole rest of the
 * text at each call, and a trace is megabytes of many matches). */
static const char *next_of(const char *text, const char *needle)
{
    size_t len = strlen(needle);
    for (const char *p = text; *p != 0; p++)
        if (*p == *needle && strncmp(p, needle, len) == 0)
            return p;
    return NULL;
}

/* Occurrences of needle in text. */
static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = next_of(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Checks a workload's trace: valid JSON with every lane, nothing lost
 * (the rings' writers hand the trace every half ring, however late the
 * drain thread runs), two pauses in every cycle, the goroutines'
 * hand-offs, and every flow end has its start. */
static void check_workload_trace(const char *text)
{
    REQUIRE(text != NULL);
    CHECK(json_valid(text));
    CHECK(strstr(text, "\"otherData\":{\"source\":\"gort\",\"lost\":0}") != NULL);
    CHECK(count_of(text, "\"args\":{\"name\":\"P0\"}") == 1);
    CHECK(count_of(text, "\"args\":{\"name\":\"P1\"}") == 1);
    CHECK(count_of(text, "\"args\":{\"name\":\"P1 goroutines\"}") == 1);
    CHECK(count_of(text, "\"args\":{\"name\":\"P2\"}") == 0);
    /* (A loaded machine may leave one P idle all along.) */
    CHECK(count_of(text, "\"ph\":\"X\",\"pid\":1,\"tid\":0,\"name\":\"running\",\"cat\":\"sched\"") +
              count_of(text, "\"ph\":\"X\",\"pid\":1,\"tid\":1,\"name\":\"running\",\"cat\":\"sched\"") >
          0);
    size_t marks = count_of(text, "\"ph\":\"X\",\"pid\":1,\"tid\":2000,\"name\":\"mark\",\"cat\":\"gc\"");
    CHECK(marks >= 2); /* the loop's and the last gort_gc's */
    CHECK_EQ(count_of(text, "\"ph\":\"X\",\"pid\":1,\"tid\":2000,\"name\":\"sweep termination\""), marks);
    CHECK_EQ(count_of(text, "\"tid\":2001,\"name\":\"stop-the-world\",\"cat\":\"gc\""), 2 * marks);
    CHECK(count_of(text, "\"name\":\"heap goal\"") >= marks);
    size_t slices = count_of(text, "\"cat\":\"goroutine\",\"ts\"") - count_of(text, "\"ph\":\"s\"") -
                    count_of(text, "\"ph\":\"f\"");
    CHECK(slices >= 20);
    CHECK(count_of(text, "\"ended\":\"chan receive\"") + count_of(text, "\"ended\":\"chan send\"") >= 10);
    CHECK(count_of(text, "\"ended\":\"end\"") >= 1); /* the echo's */

    /* Flow ids count up from 1: each end ('f') has its start ('s'). */
    size_t ends = 0, bad = 0, cap = 1024, *ids = calloc(cap, sizeof *ids), nids = 0;
    REQUIRE(ids != NULL);
    for (const char *p = text; (p = next_of(p, "\"ph\":\"s\"")) != NULL; p++) {
        size_t id = strtoull(next_of(p, "\"id\":") + 5, NULL, 10);
        if (nids == cap) {
            size_t *more = realloc(ids, 2 * cap * sizeof *ids);
            REQUIRE(more != NULL);
            ids = more;
            cap *= 2;
        }
        ids[nids++] = id;
    }
    for (const char *p = text; (p = next_of(p, "\"ph\":\"f\"")) != NULL; p++) {
        size_t id = strtoull(next_of(p, "\"id\":") + 5, NULL, 10);
        bool found = false;
        for (size_t i = 0; i < nids && !found; i++)
            found = ids[i] == id;
        bad += !found;
        ends++;
    }
    free(ids);
    CHECK(ends >= 5);
    CHECK_EQ(bad, 0);
}

/* Goroutines ping-ponging on channels (goevents_main) while collections
 * run back to back, and one more. */
static void traced_workload(void)
{
    REQUIRE(gc_loop_start());
    goevents_main(NULL);
    gc_loop_stop();
    CHECK_EQ(gort_gc(), GORT_OK);
}

static void traced_main(void *arg)
{
    (void)arg;
    traced_workload();
}

/* Started and stopped by goroutine 1, as a Go program does. */
static char *traced_text;
static size_t traced_size;
static int traced_rc;

static void tracing_main(void *arg)
{
    (void)arg;
    FILE *f = open_memstream(&traced_text, &traced_size);
    REQUIRE(f != NULL);
    traced_rc = gort_trace_start(f);
    if (traced_rc == GORT_OK) {
        traced_workload();
        traced_rc = gort_trace_stop();
    }
    fclose(f);
}

TEST(trace_start_stop_write_a_chrome_trace_of_a_workload)
{
    uint32_t readers = gort_trace_rings()->goroutine_readers;
    CHECK_EQ(gort_trace_stop(), GORT_ESTATE); /* none running */
    CHECK_EQ(gort_trace_start(NULL), GORT_EINVAL);

    /* Around a runtime: begun before it starts, stopped after it ended. */
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    REQUIRE(f != NULL);
    REQUIRE(gort_trace_start(f) == GORT_OK);
    CHECK_EQ(gort_trace_start(f), GORT_ESTATE); /* already running */
    CHECK_EQ(gort_trace_rings()->goroutine_readers, readers + 1);
    run_main(2, traced_main, NULL);
    CHECK_EQ(gort_trace_stop(), GORT_OK);
    CHECK_EQ(gort_trace_stop(), GORT_ESTATE);
    CHECK_EQ(gort_trace_rings()->goroutine_readers, readers);
    fclose(f);
    check_workload_trace(text);
    free(text);

    /* Again, inside the runtime. */
    traced_text = NULL;
    run_main(2, tracing_main, NULL);
    CHECK_EQ(traced_rc, GORT_OK);
    check_workload_trace(traced_text);
    free(traced_text);
    CHECK_EQ(gort_trace_rings()->goroutine_readers, readers);
}

/* Yields on one P, two events a yield, without a pause: many rings'
 * worth, faster than a drain thread that waits for a core can read them. */
#define DRAINED_YIELDS 20000

static void yields_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < DRAINED_YIELDS; i++)
        gort_yield();
}

TEST(trace_start_loses_nothing_while_the_rings_fill)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    REQUIRE(f != NULL);
    REQUIRE(gort_trace_start(f) == GORT_OK);
    run_main(1, yields_main, NULL);
    CHECK_EQ(gort_trace_stop(), GORT_OK);
    fclose(f);
    REQUIRE(text != NULL);
    CHECK(json_valid(text));
    CHECK(strstr(text, "\"lost\":0}") != NULL);
    /* Every yield's slice, from rings that each wrapped many times over. */
    CHECK_EQ(count_of(text, "\"ended\":\"yield\""), (size_t)DRAINED_YIELDS);
    free(text);
}
