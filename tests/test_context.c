/*
 * test_context.c — tests of context (include/gort/context.h,
 * src/context.c): the roots, misuse codes and Go's texts; Done, Err,
 * Deadline and Value through chains of every kind; contexts born cancelled;
 * random trees of thousands of contexts cancelled from the root, from the
 * middle and by a deadline, with goroutines selecting on their Done
 * channels, checking every context's Err, Done and Deadline and that no
 * child link or timer is left behind (the counters of
 * gort_read_context_stats, and the runtime's pending timers); a chain deep
 * enough that recursion would overflow a goroutine's stack; early
 * cancellation stopping the timer; many goroutines and a plain thread
 * creating and cancelling children of one parent while it is cancelled and
 * collections run; and contexts reclaimed by the collector once cancelled,
 * while an uncancelled child stays as long as its parent and a pending
 * deadline keeps its context.
 *
 * Waits for other goroutines poll with a deadline (AWAIT) or block on a
 * channel the test knows will be closed; nothing asserts how long anything
 * took, only that no deadline fires early.
 */
#define _GNU_SOURCE
#include <gort/gort.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "testing.h"
#include "testing_rt.h"
#include "timer.h"

#define HOUR_NS (3600 * (int64_t)1000000000)

/* Done is closed: a receive that need not wait reports the channel closed. */
static bool done_closed(gort_chan *done)
{
    bool ok = true;
    return done != NULL && gort_chan_tryrecv(done, NULL, &ok) == GORT_OK && !ok;
}

static bool done_open(gort_chan *done)
{
    bool ok;
    return done != NULL && gort_chan_tryrecv(done, NULL, &ok) == GORT_EWOULDBLOCK;
}

static gort_context_stats stats_now(void)
{
    gort_context_stats s;
    gort_read_context_stats(&s);
    return s;
}

/* Keys: addresses of objects of this file (Go's unexported key type). */
static const char key_user, key_request, key_unused;

/* ---- the roots, misuse and texts ---- */

TEST(context_roots_and_misuse)
{
    gort_context *bg = gort_context_background(), *todo = gort_context_todo();
    CHECK(bg != NULL && todo != NULL && bg != todo);
    CHECK(gort_context_background() == bg);
    CHECK(gort_context_done(bg) == NULL);
    CHECK(gort_context_done(todo) == NULL);
    CHECK_EQ(gort_context_err(bg), GORT_OK);
    int64_t d = 42;
    CHECK(!gort_context_deadline(todo, &d));
    CHECK_EQ(d, 0);
    CHECK(gort_context_value(bg, &key_user) == NULL);
    CHECK_EQ(gort_context_cancel(bg), GORT_EINVAL);
    CHECK_EQ(gort_context_cancel(NULL), GORT_EINVAL);

    gort_context *c = (gort_context *)&d;
    CHECK_EQ(gort_context_with_cancel(NULL, &c), GORT_ENILCONTEXT);
    CHECK(c == NULL);
    c = (gort_context *)&d;
    CHECK_EQ(gort_context_with_deadline(NULL, 0, &c), GORT_ENILCONTEXT);
    CHECK(c == NULL);
    CHECK_EQ(gort_context_with_timeout(NULL, 1, &c), GORT_ENILCONTEXT);
    CHECK_EQ(gort_context_with_value(NULL, &key_user, NULL, &c), GORT_ENILCONTEXT);
    CHECK_EQ(gort_context_with_value(bg, NULL, NULL, &c), GORT_ENILKEY);
    CHECK(c == NULL);
    /* A deadline in the future needs the runtime's timers; none runs. */
    CHECK_EQ(gort_context_with_timeout(bg, HOUR_NS, &c), GORT_ESTATE);
    CHECK(c == NULL);
    /* One already past needs no timer: born cancelled. */
    CHECK_EQ(gort_context_with_timeout(bg, 0, &c), GORT_OK);
    REQUIRE(c != NULL);
    CHECK_EQ(gort_context_err(c), GORT_EDEADLINE);
    CHECK(done_closed(gort_context_done(c)));

    gort_context *v;
    REQUIRE(gort_context_with_value(bg, &key_user, (void *)"alice", &v) == GORT_OK);
    CHECK_EQ(gort_context_cancel(v), GORT_EINVAL);

    CHECK(strcmp(gort_strerror(GORT_ECANCELED), "context canceled") == 0);
    CHECK(strcmp(gort_strerror(GORT_EDEADLINE), "context deadline exceeded") == 0);
    CHECK(strcmp(gort_strerror(GORT_ENILCONTEXT), "cannot create context from nil parent") == 0);
    CHECK(strcmp(gort_strerror(GORT_ENILKEY), "nil key") == 0);
}

/* ---- one context, step by step ---- */

TEST(context_cancel_once_and_twice)
{
    gort_context_stats s0 = stats_now();
    gort_context *c;
    REQUIRE(gort_context_with_cancel(gort_context_background(), &c) == GORT_OK);
    gort_chan *done = gort_context_done(c);
    REQUIRE(done != NULL);
    CHECK(gort_context_done(c) == done);
    CHECK(done_open(done));
    CHECK_EQ(gort_context_err(c), GORT_OK);
    CHECK_EQ(gort_chan_elemsize(done), 0);
    gort_context_stats s1 = stats_now();
    CHECK_EQ(s1.created - s0.created, 1);
    CHECK_EQ(s1.children, s0.children); /* Background links nobody */

    CHECK_EQ(gort_context_cancel(c), GORT_OK);
    CHECK(done_closed(done));
    CHECK(gort_context_done(c) == done);
    CHECK_EQ(gort_context_err(c), GORT_ECANCELED);
    CHECK_EQ(gort_context_cancel(c), GORT_OK);
    CHECK_EQ(gort_context_err(c), GORT_ECANCELED);
    gort_context_stats s2 = stats_now();
    CHECK_EQ(s2.canceled - s0.canceled, 1);

    /* Done asked for the first time after the cancellation: closed. */
    gort_context *late;
    REQUIRE(gort_context_with_cancel(gort_context_background(), &late) == GORT_OK);
    CHECK_EQ(gort_context_cancel(late), GORT_OK);
    CHECK(done_closed(gort_context_done(late)));
}

TEST(context_values_and_delegation)
{
    gort_context *bg = gort_context_background();
    gort_context *v1, *v2, *c, *v3, *shadow;
    REQUIRE(gort_context_with_value(bg, &key_user, (void *)"alice", &v1) == GORT_OK);
    REQUIRE(gort_context_with_value(v1, &key_request, (void *)"r1", &v2) == GORT_OK);
    /* Values over Background alone: never cancelled, no Done. */
    CHECK(gort_context_done(v2) == NULL);
    CHECK_EQ(gort_context_err(v2), GORT_OK);
    REQUIRE(gort_context_with_cancel(v2, &c) == GORT_OK);
    REQUIRE(gort_context_with_value(c, &key_unused, NULL, &v3) == GORT_OK);
    REQUIRE(gort_context_with_value(v3, &key_user, (void *)"bob", &shadow) == GORT_OK);

    CHECK(strcmp(gort_context_value(v3, &key_user), "alice") == 0);
    CHECK(strcmp(gort_context_value(v3, &key_request), "r1") == 0);
    CHECK(strcmp(gort_context_value(shadow, &key_user), "bob") == 0);
    CHECK(strcmp(gort_context_value(shadow, &key_request), "r1") == 0);
    CHECK(gort_context_value(v1, &key_request) == NULL); /* only upwards */
    CHECK(gort_context_value(shadow, &key_unused) == NULL); /* stored NULL */
    /* A key is an address: another object with equal contents is another
     * key. */
    static const char other_key = 0;
    CHECK(gort_context_value(shadow, &other_key) == NULL);

    /* Done and Err of a value context are its cancelable ancestor's. */
    gort_chan *done = gort_context_done(shadow);
    REQUIRE(done != NULL);
    CHECK(gort_context_done(c) == done);
    CHECK(gort_context_done(v3) == done);
    CHECK_EQ(gort_context_err(shadow), GORT_OK);
    CHECK_EQ(gort_context_cancel(c), GORT_OK);
    CHECK_EQ(gort_context_err(shadow), GORT_ECANCELED);
    CHECK(done_closed(done));
    /* Values outlive cancellation. */
    CHECK(strcmp(gort_context_value(shadow, &key_user), "bob") == 0);
}

/* ---- deadlines ---- */

static void deadlines_main(void *arg)
{
    (void)arg;
    gort_context *bg = gort_context_background();
    gort_context_stats s0 = stats_now();
    int timers0 = timers_pending();
    int64_t now = gort_nanotime();
    int64_t far = now + HOUR_NS;

    gort_context *t1, *later, *earlier, *v, *c, *gone;
    REQUIRE(gort_context_with_deadline(bg, far, &t1) == GORT_OK);
    int64_t d = 0;
    CHECK(gort_context_deadline(t1, &d));
    CHECK_EQ(d, far);
    CHECK_EQ(stats_now().timers - s0.timers, 1);
    CHECK_EQ(timers_pending() - timers0, 1);
    /* A later deadline than the parent's is the parent's: no timer. */
    REQUIRE(gort_context_with_deadline(t1, far + 1000, &later) == GORT_OK);
    CHECK(gort_context_deadline(later, &d));
    CHECK_EQ(d, far);
    CHECK_EQ(stats_now().timers - s0.timers, 1);
    /* An earlier one is its own. */
    REQUIRE(gort_context_with_deadline(later, far - 1000, &earlier) == GORT_OK);
    CHECK(gort_context_deadline(earlier, &d));
    CHECK_EQ(d, far - 1000);
    CHECK_EQ(stats_now().timers - s0.timers, 2);
    /* Values and cancel contexts report their ancestors' deadline. */
    REQUIRE(gort_context_with_value(earlier, &key_user, NULL, &v) == GORT_OK);
    REQUIRE(gort_context_with_cancel(v, &c) == GORT_OK);
    CHECK(gort_context_deadline(c, &d));
    CHECK_EQ(d, far - 1000);
    /* Past deadlines: born cancelled, no timer. */
    REQUIRE(gort_context_with_deadline(c, now - 1, &gone) == GORT_OK);
    CHECK_EQ(gort_context_err(gone), GORT_EDEADLINE);
    CHECK(done_closed(gort_context_done(gone)));
    CHECK_EQ(stats_now().timers - s0.timers, 2);
    CHECK_EQ(gort_context_err(c), GORT_OK); /* the parent is untouched */

    /* Cancelling early stops both timers, the runtime's too. */
    CHECK_EQ(gort_context_cancel(t1), GORT_OK);
    CHECK_EQ(gort_context_err(earlier), GORT_ECANCELED);
    CHECK_EQ(gort_context_err(c), GORT_ECANCELED);
    gort_context_stats s1 = stats_now();
    CHECK_EQ(s1.timers, s0.timers);
    CHECK_EQ(s1.timers_stopped - s0.timers_stopped, 2);
    CHECK_EQ(s1.timers_fired, s0.timers_fired);
    CHECK_EQ(s1.children, s0.children);
    CHECK_EQ(timers_pending(), timers0);

    /* A short timeout fires: Err is deadline exceeded, never early. */
    gort_context *soon;
    int64_t start = gort_nanotime();
    REQUIRE(gort_context_with_timeout(bg, 2000000, &soon) == GORT_OK);
    CHECK(gort_context_deadline(soon, &d));
    CHECK(d >= start + 2000000);
    gort_chan *done = gort_context_done(soon);
    REQUIRE(done != NULL);
    bool ok = true;
    CHECK_EQ(gort_chan_recv(done, NULL, &ok), GORT_OK);
    CHECK(!ok);
    CHECK(gort_nanotime() >= d);
    CHECK_EQ(gort_context_err(soon), GORT_EDEADLINE);
    gort_context_stats s2 = stats_now();
    CHECK_EQ(s2.timers, s0.timers);
    CHECK_EQ(s2.timers_fired - s1.timers_fired, 1);
    /* Its cancel function still works, and does nothing. */
    CHECK_EQ(gort_context_cancel(soon), GORT_OK);
    CHECK_EQ(gort_context_err(soon), GORT_EDEADLINE);
    CHECK_EQ(stats_now().timers_stopped, s2.timers_stopped);
    CHECK_EQ(timers_pending(), timers0);
}

TEST(context_deadlines)
{
    run_main(2, deadlines_main, NULL);
}

/* ---- born cancelled ---- */

TEST(context_born_cancelled)
{
    gort_context *bg = gort_context_background();
    gort_context *p, *v, *c1, *c2, *c3;
    REQUIRE(gort_context_with_cancel(bg, &p) == GORT_OK);
    REQUIRE(gort_context_with_value(p, &key_user, NULL, &v) == GORT_OK);
    REQUIRE(gort_context_cancel(p) == GORT_OK);
    gort_context_stats s0 = stats_now();
    REQUIRE(gort_context_with_cancel(v, &c1) == GORT_OK);
    REQUIRE(gort_context_with_deadline(c1, 0, &c2) == GORT_OK);
    REQUIRE(gort_context_with_cancel(c2, &c3) == GORT_OK);
    /* The parent's Err, not deadline exceeded, even for a past deadline. */
    CHECK_EQ(gort_context_err(c1), GORT_ECANCELED);
    CHECK_EQ(gort_context_err(c2), GORT_ECANCELED);
    CHECK_EQ(gort_context_err(c3), GORT_ECANCELED);
    CHECK(done_closed(gort_context_done(c3)));
    gort_context_stats s1 = stats_now();
    CHECK_EQ(s1.children, s0.children);
    CHECK_EQ(s1.canceled - s0.canceled, 3);
    CHECK_EQ(s1.timers, s0.timers);
    /* A deadline-exceeded parent passes its own Err on. */
    gort_context *dp, *dc;
    REQUIRE(gort_context_with_timeout(bg, -5, &dp) == GORT_OK);
    REQUIRE(gort_context_with_cancel(dp, &dc) == GORT_OK);
    CHECK_EQ(gort_context_err(dc), GORT_EDEADLINE);
}

/* ---- trees ---- */

enum { NODE_CANCEL, NODE_VALUE, NODE_TIMER };

#define TREE_N TESTING_SCALE(10000)
#define TREE_WATCHERS 64

/* A random tree: node 0 is the root, each other node's parent comes
 * before it. The contexts live in a heap array (C globals are no roots);
 * the shape lives here. */
static struct {
    int parent[10000];
    unsigned char kind[10000];
    bool in_subtree[10000];
    int64_t deadline[10000]; /* expected Deadline, 0: none */
    int cancelable;          /* nodes made by WithCancel or WithDeadline */
    int timers;              /* of them, with a timer of their own */
    gort_waitgroup watchers;
    atomic_int watchers_done;
    atomic_int watcher_errors;
} tree;

/* Builds the tree under root (node 0, made by the caller). A node asking
 * for a deadline asks for one `min_timeout` from now or, with
 * timers_earlier, just before its parent's. */
static bool build_tree(gort_context **nodes, uint64_t seed, int64_t min_timeout, bool timers_earlier)
{
    uint64_t rng = seed;
    int64_t root_deadline = 0;
    gort_context_deadline(nodes[0], &root_deadline);
    tree.parent[0] = -1;
    tree.kind[0] = NODE_CANCEL;
    tree.deadline[0] = root_deadline;
    tree.cancelable = 1;
    tree.timers = 0;
    for (int i = 1; i < (int)TREE_N; i++) {
        uint64_t r = testing_rand(&rng);
        int p = (int)(r % (uint64_t)i);
        /* Bias towards recent nodes so that the tree is deep as well as
         * wide. */
        if ((r >> 40) % 2 == 0 && i > 8)
            p = i - 1 - (int)((r >> 20) % 8);
        unsigned k = (unsigned)((r >> 50) % 20);
        gort_context *c = NULL;
        tree.parent[i] = p;
        tree.deadline[i] = tree.deadline[p];
        if (k < 3) {
            tree.kind[i] = NODE_VALUE;
            if (gort_context_with_value(nodes[p], &key_user, (void *)(intptr_t)i, &c) != GORT_OK)
                return false;
        } else if (k < 5) {
            /* A deadline: earlier than the parent's (its own timer) or, in
             * trees that must not fire, an hour away. */
            int64_t when = timers_earlier && tree.deadline[p] != 0
                               ? tree.deadline[p] - 1 - (int64_t)((r >> 8) % 1000)
                               : gort_nanotime() + min_timeout + (int64_t)(r % 1000);
            bool own = tree.deadline[p] == 0 || when < tree.deadline[p];
            tree.kind[i] = own ? NODE_TIMER : NODE_CANCEL;
            if (own) {
                tree.deadline[i] = when;
                tree.timers++;
            }
            tree.cancelable++;
            if (gort_context_with_deadline(nodes[p], when, &c) != GORT_OK)
                return false;
        } else {
            tree.kind[i] = NODE_CANCEL;
            tree.cancelable++;
            if (gort_context_with_cancel(nodes[p], &c) != GORT_OK)
                return false;
        }
        GORT_STORE(nodes[i], c);
        /* Half the Done channels exist before the cancellation. */
        if (r % 2 == 0 && gort_context_done(c) == NULL)
            return false;
    }
    return true;
}

/* Nearest value node's payload from i up, as Value should find it. */
static intptr_t expected_value(int i)
{
    for (; i >= 0; i = tree.parent[i])
        if (tree.kind[i] == NODE_VALUE)
            return i;
    return 0;
}

static void check_tree(gort_context **nodes, int err_in, int err_out)
{
    int bad = 0;
    for (int i = 0; i < (int)TREE_N && bad < 5; i++) {
        gort_context *c = nodes[i];
        int want = tree.in_subtree[i] ? err_in : err_out;
        int64_t d = 0;
        bool has = gort_context_deadline(c, &d);
        gort_chan *done = gort_context_done(c);
        bool ok = gort_context_err(c) == want && has == (tree.deadline[i] != 0) &&
                  d == tree.deadline[i] &&
                  (intptr_t)gort_context_value(c, &key_user) == expected_value(i) &&
                  (want == GORT_OK ? done_open(done) : done_closed(done));
        if (!ok) {
            testing_fail(__FILE__, __LINE__, "node %d (kind %d, parent %d): err %d want %d", i,
                         tree.kind[i], tree.parent[i], gort_context_err(c), want);
            bad++;
        }
    }
}

/* Waits in a select on a node's Done and on a channel nobody sends on. */
static void watcher(void *arg)
{
    gort_context *c = arg;
    gort_chan *never = gort_chan_make_bytes(sizeof(int), 0);
    gort_chan *done = gort_context_done(c);
    int v;
    gort_select_case cases[2] = {GORT_RECV_CASE(never, &v), GORT_RECV_CASE(done, NULL)};
    int chosen = gort_select(cases, 2, false);
    if (chosen != 1 || cases[1].ok || gort_context_err(c) == GORT_OK)
        atomic_fetch_add(&tree.watcher_errors, 1);
    atomic_fetch_add(&tree.watchers_done, 1);
    gort_waitgroup_done(&tree.watchers);
}

/* Starts watchers on nodes of the subtree and waits until each is parked
 * in its select; returns how many. */
static int start_watchers(gort_context **nodes)
{
    int n = 0;
    for (int i = 0; i < (int)TREE_N && n < TREE_WATCHERS; i += (int)TREE_N / TREE_WATCHERS) {
        if (!tree.in_subtree[i])
            continue;
        gort_waitgroup_add(&tree.watchers, 1);
        if (gort_go(watcher, nodes[i]) != GORT_OK) {
            gort_waitgroup_done(&tree.watchers);
            testing_fail(__FILE__, __LINE__, "gort_go failed");
            break;
        }
        /* Its channel has a receiver queued (or is closed: a deadline). */
        gort_chan *done = gort_context_done(nodes[i]);
        AWAIT(RECVQ_LEN((hchan *)done) > 0 || gort_context_err(nodes[i]) != GORT_OK);
        n++;
    }
    return n;
}

/* Waits (with a deadline) for the watchers to leave their selects. */
static void wait_watchers(int n)
{
    if (AWAIT(atomic_load(&tree.watchers_done) == n))
        gort_waitgroup_wait(&tree.watchers);
}

static int links_in_subtree(void)
{
    int n = 0;
    for (int i = 1; i < (int)TREE_N; i++)
        n += tree.in_subtree[i] && tree.kind[i] != NODE_VALUE;
    return n;
}

/* The node array and a tree in it: a root made by WithCancel (root_timeout
 * 0) or WithTimeout, and TREE_N - 1 contexts below (build_tree). NULL, and
 * a failure, when any of it cannot be made. */
static gort_context **plant_tree(int64_t root_timeout, uint64_t seed)
{
    gort_context **nodes = (gort_context **)heap_ptr_array(TREE_N);
    if (nodes == NULL)
        return NULL;
    gort_context *root;
    gort_context *bg = gort_context_background();
    if ((root_timeout > 0 ? gort_context_with_timeout(bg, root_timeout, &root)
                          : gort_context_with_cancel(bg, &root)) != GORT_OK) {
        testing_fail(__FILE__, __LINE__, "no root");
        return NULL;
    }
    GORT_STORE(nodes[0], root);
    /* With a deadline at the root, each deadline below is earlier than its
     * parent's; without, an hour away (they never fire). */
    if (!build_tree(nodes, seed, root_timeout > 0 ? 0 : HOUR_NS, root_timeout > 0)) {
        testing_fail(__FILE__, __LINE__, "building the tree failed");
        return NULL;
    }
    return nodes;
}

/* Runs a tree test as goroutine 1 on 2 Ps (with the collector's
 * verification, for a test that collects). */
static void run_tree_test(void (*fn)(void *), bool checkmark)
{
    memset(&tree, 0, sizeof tree);
    if (checkmark)
        run_main_checkmark(2, fn, NULL);
    else
        run_main(2, fn, NULL);
}

static void tree_root_main(void *arg)
{
    (void)arg;
    gort_context_stats s0 = stats_now();
    int timers0 = timers_pending();
    REQUIRE(gc_loop_start()); /* the whole test beside collections */
    gort_context **nodes = plant_tree(0, 11);
    REQUIRE(nodes != NULL);
    gort_context *root = nodes[0];
    gort_context_stats s1 = stats_now();
    CHECK_EQ(s1.created - s0.created, tree.cancelable);
    CHECK_EQ(s1.children - s0.children, tree.cancelable - 1);
    CHECK_EQ(s1.timers - s0.timers, tree.timers);
    CHECK_EQ(timers_pending() - timers0, tree.timers);
    CHECK(tree.timers > 0);
    for (int i = 0; i < (int)TREE_N; i++)
        tree.in_subtree[i] = true;
    check_tree(nodes, GORT_OK, GORT_OK);

    int watchers = start_watchers(nodes);
    CHECK(watchers > TREE_WATCHERS / 2);
    CHECK_EQ(atomic_load(&tree.watchers_done), 0);
    CHECK_EQ(gort_context_cancel(root), GORT_OK);
    wait_watchers(watchers);
    CHECK_EQ(atomic_load(&tree.watchers_done), watchers);
    CHECK_EQ(atomic_load(&tree.watcher_errors), 0);

    check_tree(nodes, GORT_ECANCELED, GORT_ECANCELED);
    gort_context_stats s2 = stats_now();
    CHECK_EQ(s2.canceled - s0.canceled, tree.cancelable);
    CHECK_EQ(s2.children, s0.children);
    CHECK_EQ(s2.timers, s0.timers);
    CHECK_EQ(s2.timers_stopped - s1.timers_stopped, tree.timers);
    CHECK_EQ(timers_pending(), timers0);
    gc_loop_stop();
    gort_keep_alive(nodes);
}

TEST(context_tree_cancel_from_root) { run_tree_test(tree_root_main, true); }

static void tree_middle_main(void *arg)
{
    (void)arg;
    gort_context_stats s0 = stats_now();
    gort_context **nodes = plant_tree(0, 12);
    REQUIRE(nodes != NULL);
    gort_context *root = nodes[0];
    gort_context_stats s1 = stats_now();

    /* The cancel node with the largest subtree short of the whole tree
     * (not the root, nor a child of it if a deeper one is big enough). */
    int best = -1, best_size = 0;
    static int size[10000];
    for (int i = (int)TREE_N - 1; i >= 0; i--)
        size[i] = 1;
    for (int i = (int)TREE_N - 1; i > 0; i--)
        size[tree.parent[i]] += size[i];
    for (int i = 1; i < (int)TREE_N; i++)
        if (tree.kind[i] != NODE_VALUE && size[i] > best_size && size[i] < (int)TREE_N / 2) {
            best = i;
            best_size = size[i];
        }
    REQUIRE(best > 0 && best_size > 10);
    for (int i = 0; i < (int)TREE_N; i++)
        tree.in_subtree[i] = i == best || (i > best && tree.in_subtree[tree.parent[i]]);
    int links = links_in_subtree(); /* best's own link counted too */
    int timers_in = 0;
    for (int i = 0; i < (int)TREE_N; i++)
        timers_in += tree.in_subtree[i] && tree.kind[i] == NODE_TIMER;

    int watchers = start_watchers(nodes);
    CHECK(watchers > 0);
    CHECK_EQ(gort_context_cancel(nodes[best]), GORT_OK);
    wait_watchers(watchers);
    CHECK_EQ(atomic_load(&tree.watcher_errors), 0);

    check_tree(nodes, GORT_ECANCELED, GORT_OK);
    gort_context_stats s2 = stats_now();
    CHECK_EQ(s1.children - s2.children, links);
    CHECK_EQ(s2.canceled - s1.canceled, links);
    CHECK_EQ(s1.timers - s2.timers, timers_in);
    printf("    cancelled a subtree of %d contexts (%d links, %d timers) out of %d\n", best_size,
           links, timers_in, (int)TREE_N);

    /* The siblings' links survived: cancelling the root reaches the rest. */
    CHECK_EQ(gort_context_cancel(root), GORT_OK);
    for (int i = 0; i < (int)TREE_N; i++)
        tree.in_subtree[i] = true;
    check_tree(nodes, GORT_ECANCELED, GORT_ECANCELED);
    gort_context_stats s3 = stats_now();
    CHECK_EQ(s3.children, s0.children);
    CHECK_EQ(s3.timers, s0.timers);
    CHECK_EQ(s3.canceled - s0.canceled, tree.cancelable);
    gort_keep_alive(nodes);
}

TEST(context_tree_cancel_from_middle) { run_tree_test(tree_middle_main, false); }

static void tree_deadline_main(void *arg)
{
    (void)arg;
    gort_context_stats s0 = stats_now();
    int timers0 = timers_pending();
    /* Some timers below fire on their own before the root's, the rest are
     * stopped by an ancestor's. (Should the root fire before the tree is
     * built, the rest is born cancelled, by deadline all the same.) */
    gort_context **nodes = plant_tree(500000000, 13);
    REQUIRE(nodes != NULL);
    gort_context *root = nodes[0];
    gort_context_stats sb = stats_now();
    int64_t armed = (sb.timers - s0.timers) + (int64_t)(sb.timers_fired - s0.timers_fired) +
                    (int64_t)(sb.timers_stopped - s0.timers_stopped);
    CHECK(armed >= 1 && armed <= tree.timers + 1);
    for (int i = 0; i < (int)TREE_N; i++)
        tree.in_subtree[i] = true;
    int watchers = start_watchers(nodes);
    CHECK(watchers > 0);

    gort_chan *done = gort_context_done(root);
    REQUIRE(done != NULL);
    bool ok = true;
    gort_chan_recv(done, NULL, &ok);
    CHECK(!ok);
    int64_t d = 0;
    CHECK(gort_context_deadline(root, &d));
    CHECK(gort_nanotime() >= d);
    wait_watchers(watchers);
    CHECK_EQ(atomic_load(&tree.watcher_errors), 0);
    check_tree(nodes, GORT_EDEADLINE, GORT_EDEADLINE);
    gort_context_stats s1 = stats_now();
    CHECK_EQ(s1.children, s0.children);
    CHECK_EQ(s1.timers, s0.timers);
    CHECK_EQ(s1.canceled - s0.canceled, tree.cancelable);
    /* Each arming (the root's too) ended once: fired or stopped. */
    CHECK_EQ((int64_t)(s1.timers_fired - s0.timers_fired) + (int64_t)(s1.timers_stopped - s0.timers_stopped),
             armed);
    CHECK(s1.timers_fired - s0.timers_fired >= 1);
    CHECK_EQ(timers_pending(), timers0);
    printf("    %lld timers: %llu fired, %llu stopped\n", (long long)armed,
           (unsigned long long)(s1.timers_fired - s0.timers_fired),
           (unsigned long long)(s1.timers_stopped - s0.timers_stopped));
    gort_keep_alive(nodes);
}

TEST(context_tree_cancel_by_deadline) { run_tree_test(tree_deadline_main, false); }

/* A chain: each context the child of the one before. Recursive
 * cancellation would need a stack frame per level. */
#define CHAIN_N 20000

static void chain_main(void *arg)
{
    (void)arg;
    gort_context **nodes = (gort_context **)heap_ptr_array(CHAIN_N);
    REQUIRE(nodes != NULL);
    gort_context_stats s0 = stats_now();
    gort_context *c = gort_context_background();
    for (int i = 0; i < (int)CHAIN_N; i++) {
        REQUIRE(gort_context_with_cancel(c, &c) == GORT_OK);
        GORT_STORE(nodes[i], c);
    }
    gort_chan *last = gort_context_done(c);
    CHECK_EQ(stats_now().children - s0.children, (int64_t)CHAIN_N - 1);
    CHECK_EQ(gort_context_cancel(nodes[0]), GORT_OK);
    CHECK(done_closed(last));
    for (int i = 0; i < (int)CHAIN_N; i++)
        if (gort_context_err(nodes[i]) != GORT_ECANCELED) {
            CHECK_EQ(gort_context_err(nodes[i]), GORT_ECANCELED);
            break;
        }
    CHECK_EQ(stats_now().children, s0.children);
    gort_keep_alive(nodes);
}

TEST(context_deep_chain)
{
    /* Twice the smallest stack: a frame per level would not fit. */
    gort_config cfg = {.procs = 1, .stack_size = 2 * GORT_MIN_STACK_SIZE};
    CHECK_EQ(gort_main(&cfg, chain_main, NULL), GORT_OK);
}

/* ---- races ---- */

enum { RACE_WORKERS = 8 };
#define RACE_ROUNDS TESTING_SCALE(4000)

static struct {
    gort_context *parent;
    gort_waitgroup wg;
    atomic_int made;
    atomic_int errors;
    atomic_bool thread_done;
} race;

/* Each worker makes children and grandchildren of the shared parent (some
 * with deadlines), asks for their Done channels, and cancels some of them,
 * some twice, while the main goroutine cancels the parent midway. */
static void race_worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    gort_context **mine = (gort_context **)heap_ptr_array(2 * RACE_ROUNDS);
    if (mine == NULL) {
        atomic_fetch_add(&race.errors, 1);
        gort_waitgroup_done(&race.wg);
        return;
    }
    for (int i = 0; i < (int)RACE_ROUNDS; i++) {
        uint64_t r = testing_rand(&rng);
        gort_context *c, *g;
        int rc = r % 4 == 0 ? gort_context_with_timeout(race.parent, HOUR_NS, &c)
                            : gort_context_with_cancel(race.parent, &c);
        if (rc != GORT_OK || gort_context_with_cancel(c, &g) != GORT_OK) {
            atomic_fetch_add(&race.errors, 1);
            break;
        }
        GORT_STORE(mine[2 * i], c);
        GORT_STORE(mine[2 * i + 1], g);
        atomic_fetch_add(&race.made, 2);
        if ((r >> 8) % 2 == 0)
            (void)gort_context_done(g);
        if ((r >> 9) % 3 == 0) {
            gort_context_cancel(c);
            if (gort_context_err(g) != GORT_ECANCELED)
                atomic_fetch_add(&race.errors, 1);
        }
        if ((r >> 11) % 5 == 0)
            gort_context_cancel(g);
        if ((r >> 13) % 7 == 0)
            gort_context_cancel(c);
        if ((r >> 16) % 16 == 0)
            gort_yield();
    }
    /* Once the parent's Err reports its cancellation (Done is closed
     * first; Err waits for the whole subtree), every one of them is
     * cancelled. */
    gort_chan *pdone = gort_context_done(race.parent);
    bool ok;
    gort_chan_recv(pdone, NULL, &ok);
    if (gort_context_err(race.parent) != GORT_ECANCELED)
        atomic_fetch_add(&race.errors, 1);
    for (int i = 0; i < 2 * (int)RACE_ROUNDS; i++) {
        if (mine[i] != NULL && (gort_context_err(mine[i]) == GORT_OK ||
                                !done_closed(gort_context_done(mine[i]))))
            atomic_fetch_add(&race.errors, 1);
    }
    gort_keep_alive(mine);
    gort_waitgroup_done(&race.wg);
}

enum { THREAD_CONTEXTS = 200 };

/* A plain thread cancels contexts beside the goroutines: children of the
 * shared parent that main made, each with a child of its own, their Done
 * channels made. A thread that is not a goroutine is no root for the
 * collector: it reaches them through a handle (gort/gc.h), and allocates
 * nothing itself. */
static void *race_thread(void *arg)
{
    gort_handle h = (gort_handle)(uintptr_t)arg;
    for (int i = 0; i < THREAD_CONTEXTS; i++) {
        gort_context **cs = gort_handle_get(h);
        gort_context *c = cs[2 * i], *child = cs[2 * i + 1];
        if (gort_context_cancel(c) != GORT_OK || gort_context_cancel(c) != GORT_OK ||
            gort_context_err(child) != GORT_ECANCELED || !done_closed(gort_context_done(child)))
            atomic_fetch_add(&race.errors, 1);
    }
    atomic_store(&race.thread_done, true);
    return NULL;
}

static void race_main(void *arg)
{
    (void)arg;
    gort_context_stats s0 = stats_now();
    gort_context *parent;
    REQUIRE(gort_context_with_cancel(gort_context_background(), &parent) == GORT_OK);
    race.parent = parent;
    gort_context **for_thread = (gort_context **)heap_ptr_array(2 * THREAD_CONTEXTS);
    REQUIRE(for_thread != NULL);
    for (int i = 0; i < THREAD_CONTEXTS; i++) {
        gort_context *c, *child;
        REQUIRE(gort_context_with_cancel(parent, &c) == GORT_OK);
        REQUIRE(gort_context_with_cancel(c, &child) == GORT_OK);
        REQUIRE(gort_context_done(child) != NULL);
        GORT_STORE(for_thread[2 * i], c);
        GORT_STORE(for_thread[2 * i + 1], child);
    }
    gort_handle h = gort_handle_new(for_thread);
    REQUIRE(h != 0);
    REQUIRE(gc_loop_start());
    gort_waitgroup_add(&race.wg, RACE_WORKERS);
    for (uintptr_t w = 0; w < RACE_WORKERS; w++)
        REQUIRE(gort_go(race_worker, (void *)(w + 1)) == GORT_OK);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, race_thread, (void *)(uintptr_t)h) == 0);
    /* Cancel the parent once the workers are well under way. */
    AWAIT(atomic_load(&race.made) >= RACE_WORKERS * (int)RACE_ROUNDS / 2);
    CHECK_EQ(gort_context_cancel(parent), GORT_OK);
    gort_waitgroup_wait(&race.wg);
    AWAIT(atomic_load(&race.thread_done));
    pthread_join(t, NULL);
    gc_loop_stop();
    CHECK_EQ(gort_handle_delete(h), GORT_OK);
    CHECK_EQ(atomic_load(&race.errors), 0);
    gort_context_stats s1 = stats_now();
    CHECK_EQ(s1.children, s0.children);
    CHECK_EQ(s1.timers, s0.timers);
    CHECK_EQ(s1.created - s0.created, s1.canceled - s0.canceled);
    gort_keep_alive(parent);
}

TEST(context_concurrent_cancel)
{
    memset(&race, 0, sizeof race);
    run_main_checkmark(4, race_main, NULL);
}

/* ---- collection ---- */

#define COLLECT_N 300
#define COLLECT_SLACK (COLLECT_N / 100)

static struct {
    atomic_int freed; /* finalized contexts that were garbage once cancelled */
    atomic_int kept;  /* ... that their parent kept until it was cancelled */
    atomic_int timed; /* ... that their pending timer keeps */
} collected;

static void count_finalized(void *obj, void *arg)
{
    (void)obj;
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* In a frame of its own, so that no live frame holds what it makes: per
 * round, a cancelled context c with a timer child t and a value v below
 * that, its Done made (all garbage once c is cancelled), an uncancelled
 * child of `parent` (kept by the parent), and a context whose pending
 * deadline is all that keeps it. */
__attribute__((noinline)) static void make_contexts(gort_context *parent, int n)
{
    for (int i = 0; i < n; i++) {
        gort_context *c, *t, *v, *kept, *timed;
        REQUIRE(gort_context_with_cancel(gort_context_background(), &c) == GORT_OK);
        REQUIRE(gort_context_with_timeout(c, HOUR_NS, &t) == GORT_OK);
        REQUIRE(gort_context_with_value(t, &key_user, c, &v) == GORT_OK);
        REQUIRE(gort_context_done(v) != NULL);
        /* t and v point at c (their parent): c goes only after them. The
         * finalizer is on c alone, so that no finalized object (which the
         * finalizer goroutine may still hold) keeps another one. */
        CHECK_EQ(gort_set_finalizer(c, count_finalized, &collected.freed), GORT_OK);
        CHECK_EQ(gort_context_cancel(c), GORT_OK);
        REQUIRE(gort_context_with_cancel(parent, &kept) == GORT_OK);
        CHECK_EQ(gort_set_finalizer(kept, count_finalized, &collected.kept), GORT_OK);
        REQUIRE(gort_context_with_timeout(gort_context_background(), HOUR_NS, &timed) == GORT_OK);
        CHECK_EQ(gort_set_finalizer(timed, count_finalized, &collected.timed), GORT_OK);
    }
}

static void collected_main(void *arg)
{
    (void)arg;
    gort_context_stats s0 = stats_now();
    gort_context *parent;
    REQUIRE(gort_context_with_cancel(gort_context_background(), &parent) == GORT_OK);
    make_contexts(parent, COLLECT_N);
    CHECK_EQ(stats_now().children - s0.children, COLLECT_N);
    /* Stacks are scanned conservatively: a stale word in a live frame (a
     * slot not written since the stack's last use) may keep an object or
     * two; 1% may stay. Whatever must stay does, exactly. */
    AWAIT((gort_gc(), atomic_load(&collected.freed) >= COLLECT_N - COLLECT_SLACK));
    CHECK_EQ(atomic_load(&collected.kept), 0);
    CHECK_EQ(atomic_load(&collected.timed), 0);
    /* Cancelling the parent unlinks its children: now they go too. */
    CHECK_EQ(gort_context_cancel(parent), GORT_OK);
    CHECK_EQ(stats_now().children, s0.children);
    AWAIT((gort_gc(), atomic_load(&collected.kept) >= COLLECT_N - COLLECT_SLACK));
    CHECK_EQ(atomic_load(&collected.timed), 0);
    CHECK(atomic_load(&collected.freed) <= COLLECT_N && atomic_load(&collected.kept) <= COLLECT_N);
    gort_keep_alive(parent);
}

TEST(context_collected_once_cancelled)
{
    memset(&collected, 0, sizeof collected);
    run_main_checkmark(2, collected_main, NULL);
}
