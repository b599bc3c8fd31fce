/*
 * test_select.c — tests of select (gort_select, src/select.c) and of timers
 * as channels (gort_after, gort_timer, gort_ticker): fairness among ready
 * cases (each chosen about equally often over many rounds, with loose
 * bounds), with the stack and the heap-sorted paths; a blocked select woken
 * by several racing senders fires exactly one case and withdraws the
 * others; the same channel in several cases, in both directions; default,
 * nil channels, zero cases and invalid arguments; closed channels, before
 * and while blocked; goroutines selecting over the same channels in
 * different orders, mixing sends and receives, never deadlock; plain
 * pthreads blocked in select beside goroutines; an asynchronous waiter's
 * select (started, polled, finished); a select MPMC stress with checksums;
 * `select {}` reported as a deadlock; timeouts with After, Timer
 * stop/reset, Ticker ticks, stop and reset.
 *
 * Every wait for another goroutine polls with a deadline (AWAIT), so that a
 * broken select fails its test instead of hanging it.
 */
#define _GNU_SOURCE
#include <gort/gort.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "prim/prim.h"
#include "runtime2.h"
#include "testing.h"
#include "testing_rt.h"

#define MS ((int64_t)1000000)






/* Fails unless each of n counts out of `rounds` draws is within 8 standard
 * deviations of rounds/n (binomial): loose enough never to flake, tight
 * enough to catch a case that is favoured or starved. */
static void check_spread(const long *counts, int n, long rounds, const char *what)
{
    double p = 1.0 / n, mean = (double)rounds * p;
    double var = (double)rounds * p * (1 - p), sd = var;
    for (int i = 0; i < 60; i++) /* Newton's square root: no libm needed */
        sd = 0.5 * (sd + var / sd);
    long lo = (long)(mean - 8 * sd), hi = (long)(mean + 8 * sd);
    for (int i = 0; i < n; i++)
        if (counts[i] < lo || counts[i] > hi) {
            testing_fail(__FILE__, __LINE__, "%s: case %d chosen %ld times, want %ld..%ld", what,
                         i, counts[i], lo, hi);
            return;
        }
}

/* ---- fairness ---- */

#ifdef TESTING_TSAN
enum { FAIR_ROUNDS = 10000, FAIR_MANY = 100, FAIR_MANY_ROUNDS = 20000 };
#else
enum { FAIR_ROUNDS = 40000, FAIR_MANY = 100, FAIR_MANY_ROUNDS = 100000 };
#endif

static void fairness_main(void *arg)
{
    (void)arg;
    long counts[FAIR_MANY];
    int v = 0, out;

    /* Four receive cases, always ready (each refilled when chosen). */
    gort_chan *c[4];
    for (int i = 0; i < 4; i++) {
        REQUIRE((c[i] = make_int_chan(1)) != NULL);
        CHECK_EQ(gort_chan_send(c[i], &i), GORT_OK);
    }
    memset(counts, 0, sizeof counts);
    for (int r = 0; r < FAIR_ROUNDS; r++) {
        gort_select_case cases[4];
        for (int i = 0; i < 4; i++)
            cases[i] = GORT_RECV_CASE(c[i], &out);
        int k = gort_select(cases, 4, r % 2 == 0); /* with and without default */
        REQUIRE(k >= 0 && k < 4);
        CHECK_EQ(out, k);
        CHECK(cases[k].ok);
        counts[k]++;
        CHECK_EQ(gort_chan_send(c[k], &k), GORT_OK);
    }
    check_spread(counts, 4, FAIR_ROUNDS, "4 ready receives");

    /* Two sends with room and two ready receives. */
    gort_chan *s0 = make_int_chan(1), *s1 = make_int_chan(1);
    REQUIRE(s0 != NULL && s1 != NULL);
    memset(counts, 0, sizeof counts);
    for (int r = 0; r < FAIR_ROUNDS; r++) {
        gort_select_case cases[4] = {GORT_SEND_CASE(s0, &v), GORT_RECV_CASE(c[0], &out),
                                     GORT_SEND_CASE(s1, &v), GORT_RECV_CASE(c[1], &out)};
        int k = gort_select(cases, 4, false);
        REQUIRE(k >= 0 && k < 4);
        counts[k]++;
        /* Put everything back as it was. */
        if (k == 0)
            CHECK_EQ(gort_chan_tryrecv(s0, NULL, NULL), GORT_OK);
        else if (k == 2)
            CHECK_EQ(gort_chan_tryrecv(s1, NULL, NULL), GORT_OK);
        else
            CHECK_EQ(gort_chan_send(k == 1 ? c[0] : c[1], &v), GORT_OK);
    }
    check_spread(counts, 4, FAIR_ROUNDS, "2 sends + 2 receives");

    /* The same channel twice (and a nil case, never chosen). */
    gort_chan *d = make_int_chan(4);
    REQUIRE(d != NULL);
    memset(counts, 0, sizeof counts);
    for (int r = 0; r < FAIR_ROUNDS; r++) {
        CHECK_EQ(gort_chan_send(d, &r), GORT_OK);
        gort_select_case cases[3] = {GORT_RECV_CASE(d, &out), GORT_RECV_CASE(NULL, &out),
                                     GORT_RECV_CASE(d, &out)};
        int k = gort_select(cases, 3, false);
        REQUIRE(k == 0 || k == 2);
        CHECK_EQ(out, r);
        counts[k]++;
    }
    counts[1] = counts[2];
    check_spread(counts, 2, FAIR_ROUNDS, "one channel twice");

    /* Many cases: the orders live on the heap and the lock order is
     * heap-sorted. */
    gort_chan *many[FAIR_MANY];
    for (int i = 0; i < FAIR_MANY; i++) {
        REQUIRE((many[i] = make_int_chan(1)) != NULL);
        CHECK_EQ(gort_chan_send(many[i], &i), GORT_OK);
    }
    static gort_select_case mcases[FAIR_MANY];
    memset(counts, 0, sizeof counts);
    for (int r = 0; r < FAIR_MANY_ROUNDS; r++) {
        /* Cases in a scrambled order, so lock order differs from case order. */
        for (int i = 0; i < FAIR_MANY; i++)
            mcases[i] = GORT_RECV_CASE(many[(i * 37) % FAIR_MANY], &out);
        int k = gort_select(mcases, FAIR_MANY, false);
        REQUIRE(k >= 0 && k < FAIR_MANY);
        CHECK_EQ(out, (k * 37) % FAIR_MANY);
        counts[k]++;
        CHECK_EQ(gort_chan_send(many[(k * 37) % FAIR_MANY], &out), GORT_OK);
    }
    check_spread(counts, FAIR_MANY, FAIR_MANY_ROUNDS, "100 ready receives");
}

TEST(select_fairness_among_ready_cases)
{
    run_main(1, fairness_main, NULL);
}

/* ---- a blocked select fires exactly one case ---- */

enum { ONE_CHANS = 4 };
#define ONE_ROUNDS TESTING_SCALE(300)

static struct {
    gort_chan *c[ONE_CHANS];
    atomic_int senders_done;
} one;

static void one_sender(void *arg)
{
    int i = (int)(intptr_t)arg;
    int v = 1000 + i;
    CHECK_EQ(gort_chan_send(one.c[i], &v), GORT_OK);
    atomic_fetch_add(&one.senders_done, 1);
}

/* Blocks in a select over the four channels; returns the value. */
static int one_select(void)
{
    int vals[ONE_CHANS] = {-1, -1, -1, -1};
    gort_select_case cases[ONE_CHANS];
    for (int i = 0; i < ONE_CHANS; i++)
        cases[i] = GORT_RECV_CASE(one.c[i], &vals[i]);
    int k = gort_select(cases, ONE_CHANS, false);
    if (k < 0 || k >= ONE_CHANS) {
        testing_fail(__FILE__, __LINE__, "select returned %d", k);
        return -1;
    }
    for (int i = 0; i < ONE_CHANS; i++)
        if (i != k && vals[i] != -1)
            testing_fail(__FILE__, __LINE__, "case %d written though %d fired", i, k);
    CHECK(cases[k].ok);
    CHECK_EQ(vals[k], 1000 + k);
    return vals[k];
}

static int senders_blocked(void)
{
    int n = 0;
    for (int i = 0; i < ONE_CHANS; i++)
        n += SENDQ_LEN(one.c[i]);
    return n;
}

static void one_select_goroutine(void *arg)
{
    (void)arg;
    one_select();
}

static struct {
    atomic_int state; /* 0 idle, 1 go, 2 done */
    atomic_int value;
    atomic_bool quit;
} one_thread;

static void *one_selector_thread(void *arg)
{
    (void)arg;
    for (;;) {
        while (atomic_load(&one_thread.state) != 1) {
            if (atomic_load(&one_thread.quit))
                return NULL;
            gort_yield();
        }
        atomic_store(&one_thread.value, one_select());
        atomic_store(&one_thread.state, 2);
    }
}

static void one_main(void *arg)
{
    bool on_thread = arg != NULL;
    pthread_t t;
    if (on_thread) {
        atomic_store(&keeper_stop, false);
        REQUIRE(gort_go(keeper, NULL) == GORT_OK);
        REQUIRE(pthread_create(&t, NULL, one_selector_thread, NULL) == 0);
    }
    for (int round = 0; round < (int)ONE_ROUNDS; round++) {
        for (int i = 0; i < ONE_CHANS; i++)
            REQUIRE((one.c[i] = make_int_chan(round % 2 == 0 ? 0 : 1)) != NULL);
        atomic_store(&one.senders_done, 0);
        bool buffered = round % 2 == 1;
        if (on_thread)
            atomic_store(&one_thread.state, 1);
        else
            REQUIRE(gort_go(one_select_goroutine, NULL) == GORT_OK);
        bool asleep = true;
        for (int i = 0; i < ONE_CHANS; i++)
            asleep = asleep && AWAIT(RECVQ_LEN(one.c[i]) == 1);
        if (!asleep)
            return;
        for (intptr_t i = 0; i < ONE_CHANS; i++)
            REQUIRE(gort_go(one_sender, (void *)i) == GORT_OK);
        if (on_thread) {
            if (!AWAIT(atomic_load(&one_thread.state) == 2))
                return;
            atomic_store(&one_thread.state, 0);
        }
        /* Exactly one sender's value went to the select, which left no
         * sudog behind: unbuffered, the other senders wait; buffered, their
         * values wait in the buffers. */
        if (!AWAIT(atomic_load(&one.senders_done) == (buffered ? ONE_CHANS : 1)))
            return;
        if (!buffered && !AWAIT(senders_blocked() == ONE_CHANS - 1))
            return;
        int blocked = senders_blocked();
        size_t buffered_values = 0;
        for (int i = 0; i < ONE_CHANS; i++) {
            CHECK_EQ(RECVQ_LEN(one.c[i]), 0);
            buffered_values += gort_chan_len(one.c[i]);
        }
        CHECK_EQ(atomic_load(&one.senders_done), buffered ? ONE_CHANS : 1);
        CHECK_EQ(blocked, buffered ? 0 : ONE_CHANS - 1);
        CHECK_EQ(buffered_values, buffered ? ONE_CHANS - 1 : 0);
        /* Take the rest. */
        for (int k = 1; k < ONE_CHANS; k++)
            one_select();
        if (!AWAIT(atomic_load(&one.senders_done) == ONE_CHANS))
            return;
        REQUIRE(!testing_failed());
    }
    if (on_thread) {
        atomic_store(&one_thread.quit, true);
        pthread_join(t, NULL);
        atomic_store(&keeper_stop, true);
    }
}

TEST(select_blocked_fires_exactly_one_case)
{
    memset(&one, 0, sizeof one);
    run_main(4, one_main, NULL);
}

TEST(select_blocked_on_a_pthread)
{
    memset(&one, 0, sizeof one);
    memset(&one_thread, 0, sizeof one_thread);
    run_main(3, one_main, (void *)1);
}

/* ---- the same channel in several cases ---- */

static struct {
    gort_chan *c;
    atomic_int result;
    atomic_int done;
    int value;
} same;

static void same_two_recvs(void *arg)
{
    (void)arg;
    int a = -1, b = -1;
    gort_select_case cases[2] = {GORT_RECV_CASE(same.c, &a), GORT_RECV_CASE(same.c, &b)};
    int k = gort_select(cases, 2, false);
    atomic_store(&same.result, k);
    same.value = k == 0 ? a : b;
    atomic_store(&same.done, 1);
}

static void same_send_and_recv(void *arg)
{
    (void)arg;
    int out = 7, in = -1;
    gort_select_case cases[2] = {GORT_SEND_CASE(same.c, &out), GORT_RECV_CASE(same.c, &in)};
    int k = gort_select(cases, 2, false);
    atomic_store(&same.result, k);
    same.value = in;
    atomic_store(&same.done, 1);
}

static void same_main(void *arg)
{
    (void)arg;
    for (int round = 0; round < 50; round++) {
        REQUIRE((same.c = make_int_chan(0)) != NULL);
        /* Two receive cases on one channel: one fires, both withdrawn. */
        atomic_store(&same.done, 0);
        REQUIRE(gort_go(same_two_recvs, NULL) == GORT_OK);
        if (!AWAIT(RECVQ_LEN(same.c) == 2))
            return;
        int v = 55;
        CHECK_EQ(gort_chan_send(same.c, &v), GORT_OK);
        AWAIT(atomic_load(&same.done));
        CHECK(atomic_load(&same.result) == 0 || atomic_load(&same.result) == 1);
        CHECK_EQ(same.value, 55);
        CHECK_EQ(RECVQ_LEN(same.c), 0);

        /* Send and receive on one unbuffered channel: they cannot match
         * each other; a receiver fires the send case... */
        atomic_store(&same.done, 0);
        REQUIRE(gort_go(same_send_and_recv, NULL) == GORT_OK);
        if (!AWAIT(RECVQ_LEN(same.c) == 1 && SENDQ_LEN(same.c) == 1))
            return;
        int got = 0;
        bool ok;
        gort_chan_recv(same.c, &got, &ok);
        CHECK_EQ(got, 7);
        AWAIT(atomic_load(&same.done));
        CHECK_EQ(atomic_load(&same.result), 0);
        CHECK_EQ(RECVQ_LEN(same.c), 0);
        CHECK_EQ(SENDQ_LEN(same.c), 0);
        /* ...and a sender fires the receive case. */
        atomic_store(&same.done, 0);
        REQUIRE(gort_go(same_send_and_recv, NULL) == GORT_OK);
        if (!AWAIT(RECVQ_LEN(same.c) == 1 && SENDQ_LEN(same.c) == 1))
            return;
        v = 66;
        CHECK_EQ(gort_chan_send(same.c, &v), GORT_OK);
        AWAIT(atomic_load(&same.done));
        CHECK_EQ(atomic_load(&same.result), 1);
        CHECK_EQ(same.value, 66);
        CHECK_EQ(RECVQ_LEN(same.c), 0);
        CHECK_EQ(SENDQ_LEN(same.c), 0);
        /* Close fires one of them: the receive (ok false) or the send
         * (-GORT_ECLOSED). */
        atomic_store(&same.done, 0);
        REQUIRE(gort_go(same_send_and_recv, NULL) == GORT_OK);
        if (!AWAIT(RECVQ_LEN(same.c) == 1 && SENDQ_LEN(same.c) == 1))
            return;
        CHECK_EQ(gort_chan_close(same.c), GORT_OK);
        AWAIT(atomic_load(&same.done));
        int r = atomic_load(&same.result);
        CHECK(r == 1 || r == -GORT_ECLOSED);
        if (r == 1)
            CHECK_EQ(same.value, 0);
        CHECK_EQ(RECVQ_LEN(same.c), 0);
        CHECK_EQ(SENDQ_LEN(same.c), 0);
    }
}

TEST(select_same_channel_in_several_cases)
{
    memset(&same, 0, sizeof same);
    run_main(2, same_main, NULL);
}

/* ---- default, nil, zero cases, invalid arguments, closed channels ---- */

static struct {
    gort_chan *c;
    atomic_int result;
    atomic_int ok;
    atomic_int value;
    atomic_int done;
} cl;

static void cl_blocked_send(void *arg)
{
    (void)arg;
    int v = 5;
    gort_select_case cases[2] = {GORT_SEND_CASE(cl.c, &v), GORT_RECV_CASE(NULL, NULL)};
    atomic_store(&cl.result, gort_select(cases, 2, false));
    atomic_store(&cl.ok, cases[0].ok);
    atomic_store(&cl.done, 1);
}

static void cl_blocked_recv(void *arg)
{
    (void)arg;
    int v = 5;
    gort_select_case cases[2] = {GORT_RECV_CASE(NULL, NULL), GORT_RECV_CASE(cl.c, &v)};
    atomic_store(&cl.result, gort_select(cases, 2, false));
    atomic_store(&cl.ok, cases[1].ok);
    atomic_store(&cl.value, v);
    atomic_store(&cl.done, 1);
}

static void edges_main(void *arg)
{
    (void)arg;
    int v = 1, out = -1;
    CHECK_EQ(gort_select(NULL, 0, true), GORT_SELECT_DEFAULT);
    gort_select_case nils[3] = {GORT_RECV_CASE(NULL, &out), GORT_SEND_CASE(NULL, &v),
                                GORT_RECV_CASE(NULL, NULL)};
    CHECK_EQ(gort_select(nils, 3, true), GORT_SELECT_DEFAULT);
    CHECK_EQ(gort_select(nils, 1, true), GORT_SELECT_DEFAULT);
    CHECK_EQ(out, -1);

    gort_chan *c = make_int_chan(2);
    REQUIRE(c != NULL);
    /* Nothing ready: default. */
    gort_select_case rc[2] = {GORT_RECV_CASE(c, &out), GORT_RECV_CASE(NULL, &out)};
    CHECK_EQ(gort_select(rc, 2, true), GORT_SELECT_DEFAULT);
    CHECK_EQ(out, -1);
    /* Nil cases beside a ready one are never chosen. */
    gort_select_case mix[3] = {GORT_RECV_CASE(NULL, &out), GORT_SEND_CASE(c, &v),
                               GORT_SEND_CASE(NULL, &v)};
    CHECK_EQ(gort_select(mix, 3, false), 1);
    CHECK(mix[1].ok);
    CHECK_EQ(gort_chan_len(c), 1);

    /* Invalid arguments change nothing. */
    gort_select_case bad_dir = {.chan = c, .dir = (gort_select_dir)7, .elem = &v};
    CHECK_EQ(gort_select(&bad_dir, 1, true), -GORT_EINVAL);
    gort_select_case no_elem[2] = {GORT_SEND_CASE(c, NULL), GORT_RECV_CASE(NULL, NULL)};
    CHECK_EQ(gort_select(no_elem, 2, true), -GORT_EINVAL);
    CHECK_EQ(gort_select(NULL, 1, true), -GORT_EINVAL);
    CHECK_EQ(gort_select(rc, -1, true), -GORT_EINVAL);
    CHECK_EQ(gort_select(rc, GORT_SELECT_MAX_CASES + 1, true), -GORT_EINVAL);
    CHECK_EQ(gort_chan_len(c), 1);

    /* Closed: a receive case proceeds (buffer first, then zero, ok false),
     * a send case is an error. */
    CHECK_EQ(gort_chan_close(c), GORT_OK);
    gort_select_case both[2] = {GORT_RECV_CASE(c, &out), GORT_RECV_CASE(NULL, NULL)};
    CHECK_EQ(gort_select(both, 2, true), 0);
    CHECK(both[0].ok);
    CHECK_EQ(out, 1);
    out = 9;
    CHECK_EQ(gort_select(both, 2, false), 0);
    CHECK(!both[0].ok);
    CHECK_EQ(out, 0);
    gort_select_case snd[2] = {GORT_SEND_CASE(c, &v), GORT_RECV_CASE(NULL, NULL)};
    snd[0].ok = true;
    CHECK_EQ(gort_select(snd, 2, true), -GORT_ECLOSED);
    CHECK(!snd[0].ok);
    CHECK_EQ(gort_select(snd, 1, false), -GORT_ECLOSED);

    /* Blocked, then closed. */
    REQUIRE((cl.c = make_int_chan(0)) != NULL);
    REQUIRE(gort_go(cl_blocked_send, NULL) == GORT_OK);
    if (!AWAIT(SENDQ_LEN(cl.c) == 1))
        return;
    CHECK_EQ(gort_chan_close(cl.c), GORT_OK);
    AWAIT(atomic_load(&cl.done));
    CHECK_EQ(atomic_load(&cl.result), -GORT_ECLOSED);
    CHECK_EQ(atomic_load(&cl.ok), 0);
    REQUIRE((cl.c = make_int_chan(3)) != NULL);
    atomic_store(&cl.done, 0);
    REQUIRE(gort_go(cl_blocked_recv, NULL) == GORT_OK);
    if (!AWAIT(RECVQ_LEN(cl.c) == 1))
        return;
    CHECK_EQ(gort_chan_close(cl.c), GORT_OK);
    AWAIT(atomic_load(&cl.done));
    CHECK_EQ(atomic_load(&cl.result), 1);
    CHECK_EQ(atomic_load(&cl.ok), 0);
    CHECK_EQ(atomic_load(&cl.value), 0);
}

TEST(select_default_nil_invalid_and_closed)
{
    memset(&cl, 0, sizeof cl);
    run_main(2, edges_main, NULL);
}

static void empty_select_main(void *arg)
{
    (void)arg;
    gort_select(NULL, 0, false); /* select {} */
    testing_fail(__FILE__, __LINE__, "select {} returned");
}

static void nil_cases_select_main(void *arg)
{
    (void)arg;
    int v = 1;
    gort_select_case cases[2] = {GORT_RECV_CASE(NULL, &v), GORT_SEND_CASE(NULL, &v)};
    gort_select(cases, 2, false);
    testing_fail(__FILE__, __LINE__, "a select over nil channels returned");
}

static void ok_main(void *arg) { *(int *)arg = 1; }

TEST(select_with_no_ready_case_ever_is_a_deadlock)
{
    gort_config cfg = {.procs = 2};
    CHECK_EQ(gort_main(&cfg, empty_select_main, NULL), GORT_EDEADLOCK);
    CHECK_EQ(gort_main(&cfg, nil_cases_select_main, NULL), GORT_EDEADLOCK);
    int ran = 0;
    CHECK_EQ(gort_main(&cfg, ok_main, &ran), GORT_OK);
    CHECK_EQ(ran, 1);
}

/* ---- selects over the same channels in different orders ---- */

enum { LO_CHANS = 4, LO_GOROUTINES = 12 };
#define LO_TARGET TESTING_SCALE(40000)

static struct {
    gort_chan *c[LO_CHANS];
    gort_chan *stop;
    atomic_llong sends, recvs;
    atomic_llong sent_sum, recv_sum;
    atomic_int errors;
    gort_waitgroup wg;
} lo;

static void lo_worker(void *arg)
{
    uint64_t seed = 99 + (uintptr_t)arg * 1237;
    int64_t value = (int64_t)(uintptr_t)arg * 1000000;
    for (;;) {
        /* Every channel once or twice, each a send or a receive, in a random
         * order, plus the stop case. */
        gort_select_case cases[2 * LO_CHANS + 1];
        int64_t in[2 * LO_CHANS + 1], out = value;
        int spec[2 * LO_CHANS + 1]; /* channel << 1 | send; -1 for stop */
        int n = 0;
        for (int i = 0; i < LO_CHANS; i++) {
            int times = 1 + (int)(testing_rand(&seed) % 2);
            for (int t = 0; t < times; t++)
                spec[n++] = i << 1 | (int)(testing_rand(&seed) % 2);
        }
        spec[n++] = -1;
        for (int i = n - 1; i > 0; i--) { /* shuffle */
            int j = (int)(testing_rand(&seed) % (uint64_t)(i + 1));
            int t = spec[i];
            spec[i] = spec[j];
            spec[j] = t;
        }
        for (int i = 0; i < n; i++) {
            if (spec[i] < 0)
                cases[i] = GORT_RECV_CASE(lo.stop, NULL);
            else if (spec[i] & 1)
                cases[i] = GORT_SEND_CASE(lo.c[spec[i] >> 1], &out);
            else
                cases[i] = GORT_RECV_CASE(lo.c[spec[i] >> 1], &in[i]);
        }
        int k = gort_select(cases, n, false);
        if (k < 0 || k >= n) {
            atomic_fetch_add(&lo.errors, 1);
            break;
        }
        if (cases[k].chan == lo.stop)
            break;
        if (!cases[k].ok) {
            atomic_fetch_add(&lo.errors, 1);
            break;
        }
        if (cases[k].dir == GORT_SELECT_SEND) {
            atomic_fetch_add(&lo.sends, 1);
            atomic_fetch_add(&lo.sent_sum, value);
            value++;
        } else {
            atomic_fetch_add(&lo.recvs, 1);
            atomic_fetch_add(&lo.recv_sum, in[k]);
        }
    }
    gort_waitgroup_done(&lo.wg);
}

static void lo_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < LO_CHANS; i++)
        REQUIRE((lo.c[i] = gort_chan_make_bytes(sizeof(int64_t), i == 0 ? 0 : (size_t)i)) != NULL);
    REQUIRE((lo.stop = gort_chan_make_bytes(0, 0)) != NULL);
    gort_waitgroup_add(&lo.wg, LO_GOROUTINES);
    for (intptr_t i = 0; i < LO_GOROUTINES; i++)
        REQUIRE(gort_go(lo_worker, (void *)i) == GORT_OK);
    AWAIT(atomic_load(&lo.sends) >= (int64_t)LO_TARGET || atomic_load(&lo.errors) != 0);
    CHECK_EQ(gort_chan_close(lo.stop), GORT_OK);
    gort_waitgroup_wait(&lo.wg);
    /* Whatever is still buffered was sent but not received. */
    int64_t buffered = 0;
    for (int i = 0; i < LO_CHANS; i++) {
        int64_t v;
        while (gort_chan_tryrecv(lo.c[i], &v, NULL) == GORT_OK) {
            buffered++;
            atomic_fetch_add(&lo.recv_sum, v);
        }
    }
    CHECK_EQ(atomic_load(&lo.errors), 0);
    CHECK_EQ(atomic_load(&lo.recvs) + buffered, atomic_load(&lo.sends));
    CHECK_EQ(atomic_load(&lo.recv_sum), atomic_load(&lo.sent_sum));
}

TEST(select_lock_order_no_deadlock)
{
    memset(&lo, 0, sizeof lo);
    run_main(4, lo_main, NULL);
    printf("    %lld transfers between %d goroutines selecting over %d channels\n",
           atomic_load(&lo.sends), LO_GOROUTINES, LO_CHANS);
}

/* ---- select MPMC stress with checksums, goroutines and a pthread ---- */

enum { SS_CHANS = 4, SS_PRODUCERS = 5, SS_CONSUMERS = 4 };
#define SS_PER TESTING_SCALE(20000)

static struct {
    gort_chan *c[SS_CHANS];
    atomic_llong sent_sum, recv_sum, recv_n;
    atomic_uchar *seen;
    atomic_int errors;
    atomic_bool thread_done;
    gort_waitgroup producers, consumers;
} ss;

static void ss_produce(int p)
{
    for (int64_t i = 0; i < (int64_t)SS_PER; i++) {
        int64_t v = (int64_t)p * SS_PER + i;
        gort_select_case cases[SS_CHANS];
        for (int k = 0; k < SS_CHANS; k++)
            cases[k] = GORT_SEND_CASE(ss.c[k], &v);
        int k = gort_select(cases, SS_CHANS, false);
        if (k < 0 || k >= SS_CHANS || !cases[k].ok)
            atomic_fetch_add(&ss.errors, 1);
        atomic_fetch_add(&ss.sent_sum, v);
    }
}

static void ss_producer(void *arg)
{
    ss_produce((int)(intptr_t)arg);
    gort_waitgroup_done(&ss.producers);
}

static void *ss_producer_thread(void *arg)
{
    ss_produce((int)(intptr_t)arg);
    atomic_store(&ss.thread_done, true);
    return NULL;
}

static void ss_consumer(void *arg)
{
    (void)arg;
    gort_chan *open[SS_CHANS];
    memcpy(open, ss.c, sizeof open);
    int nopen = SS_CHANS;
    while (nopen > 0) {
        int64_t vals[SS_CHANS];
        gort_select_case cases[SS_CHANS];
        for (int k = 0; k < SS_CHANS; k++)
            cases[k] = GORT_RECV_CASE(open[k], &vals[k]);
        int k = gort_select(cases, SS_CHANS, false);
        if (k < 0 || k >= SS_CHANS) {
            atomic_fetch_add(&ss.errors, 1);
            break;
        }
        if (!cases[k].ok) {
            open[k] = NULL; /* closed and drained: a nil case from now on */
            nopen--;
            continue;
        }
        int64_t v = vals[k];
        if (v < 0 || v >= (int64_t)(SS_PRODUCERS + 1) * SS_PER ||
            atomic_fetch_add(&ss.seen[v], 1) != 0) {
            atomic_fetch_add(&ss.errors, 1);
            continue;
        }
        atomic_fetch_add(&ss.recv_sum, v);
        atomic_fetch_add(&ss.recv_n, 1);
    }
    gort_waitgroup_done(&ss.consumers);
}

static void ss_main(void *arg)
{
    (void)arg;
    static const size_t caps[SS_CHANS] = {0, 1, 0, 32};
    atomic_store(&keeper_stop, false);
    REQUIRE(gort_go(keeper, NULL) == GORT_OK);
    for (int k = 0; k < SS_CHANS; k++)
        REQUIRE((ss.c[k] = gort_chan_make_bytes(sizeof(int64_t), caps[k])) != NULL);
    gort_waitgroup_add(&ss.producers, SS_PRODUCERS);
    gort_waitgroup_add(&ss.consumers, SS_CONSUMERS);
    for (intptr_t i = 0; i < SS_CONSUMERS; i++)
        REQUIRE(gort_go(ss_consumer, (void *)i) == GORT_OK);
    for (intptr_t p = 0; p < SS_PRODUCERS; p++)
        REQUIRE(gort_go(ss_producer, (void *)p) == GORT_OK);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, ss_producer_thread, (void *)(intptr_t)SS_PRODUCERS) == 0);
    gort_waitgroup_wait(&ss.producers);
    AWAIT(atomic_load(&ss.thread_done));
    pthread_join(t, NULL);
    for (int k = 0; k < SS_CHANS; k++)
        CHECK_EQ(gort_chan_close(ss.c[k]), GORT_OK);
    gort_waitgroup_wait(&ss.consumers);
    atomic_store(&keeper_stop, true);
}

TEST(select_mpmc_stress_checksums)
{
    memset(&ss, 0, sizeof ss);
    ss.seen = calloc((size_t)(SS_PRODUCERS + 1) * SS_PER, 1);
    REQUIRE(ss.seen != NULL);
    int64_t start = gort_nanotime();
    run_main(4, ss_main, NULL);
    CHECK_EQ(atomic_load(&ss.errors), 0);
    CHECK_EQ(atomic_load(&ss.recv_n), (int64_t)(SS_PRODUCERS + 1) * SS_PER);
    CHECK_EQ(atomic_load(&ss.recv_sum), atomic_load(&ss.sent_sum));
    printf("    %lld messages, %lld ms\n", atomic_load(&ss.recv_n),
           (long long)((gort_nanotime() - start) / 1000000));
    free(ss.seen);
}

/* ---- timers as channels ---- */

static void timers_main(void *arg)
{
    (void)arg;
    /* A select times out with After. */
    gort_chan *never = make_int_chan(0);
    REQUIRE(never != NULL);
    int64_t start = gort_nanotime();
    gort_chan *after = gort_after(3 * MS);
    REQUIRE(after != NULL);
    CHECK_EQ(gort_chan_cap(after), 1);
    CHECK_EQ(gort_chan_elemsize(after), sizeof(int64_t));
    int v;
    int64_t fired = 0;
    gort_select_case cases[2] = {GORT_RECV_CASE(never, &v), GORT_RECV_CASE(after, &fired)};
    CHECK_EQ(gort_select(cases, 2, false), 1);
    int64_t now = gort_nanotime();
    CHECK(now - start >= 3 * MS);
    CHECK(fired >= start + 3 * MS && fired <= now);
    /* It sends once. */
    gort_sleep(2 * MS);
    CHECK_EQ(gort_chan_tryrecv(after, &fired, NULL), GORT_EWOULDBLOCK);
    /* After(0) and After(negative) fire at once (at the next look at the
     * timers). */
    bool ok;
    CHECK_EQ(gort_chan_recv(gort_after(0), &fired, &ok), GORT_OK);
    CHECK(ok);
    CHECK_EQ(gort_chan_recv(gort_after(-5), &fired, &ok), GORT_OK);

    /* Timer: stopped before it fires, it never does. (A loaded machine may
     * take longer than the timer between two lines: then it fired, and
     * stop says so, as Go's Stop does.) */
    gort_timer *t = gort_timer_make(20 * MS);
    REQUIRE(t != NULL);
    if (gort_timer_stop(t)) {
        gort_sleep(40 * MS);
        CHECK_EQ(gort_chan_tryrecv(gort_timer_chan(t), &fired, NULL), GORT_EWOULDBLOCK);
    } else {
        CHECK_EQ(gort_chan_recv(gort_timer_chan(t), &fired, &ok), GORT_OK);
    }
    CHECK(!gort_timer_stop(t));
    /* Reset on a stopped timer: it fires again, once. */
    start = gort_nanotime();
    CHECK(!gort_timer_reset(t, 2 * MS));
    CHECK_EQ(gort_chan_recv(gort_timer_chan(t), &fired, &ok), GORT_OK);
    CHECK(fired >= start + 2 * MS);
    CHECK(!gort_timer_stop(t)); /* it had fired */
    /* A timer beats a later After in a select. */
    t = gort_timer_make(1 * MS);
    REQUIRE(t != NULL);
    gort_select_case race[2] = {GORT_RECV_CASE(gort_after(500 * MS), &fired),
                                GORT_RECV_CASE(gort_timer_chan(t), &fired)};
    CHECK_EQ(gort_select(race, 2, false), 1);

    /* Ticker: ticks never early, in order; stop ends them. */
    const int64_t period = 2 * MS;
    start = gort_nanotime();
    gort_ticker *tk = gort_ticker_make(period);
    REQUIRE(tk != NULL);
    int64_t last = 0;
    for (int i = 1; i <= 5; i++) {
        int64_t tick = 0;
        CHECK_EQ(gort_chan_recv(gort_ticker_chan(tk), &tick, &ok), GORT_OK);
        CHECK(ok);
        CHECK(tick >= start + (int64_t)i * period);
        CHECK(tick > last);
        last = tick;
    }
    /* A slow reader misses ticks instead of getting a burst. */
    gort_sleep(5 * period);
    AWAIT(gort_chan_len(gort_ticker_chan(tk)) == 1);
    CHECK_EQ(gort_chan_len(gort_ticker_chan(tk)), 1);
    gort_ticker_stop(tk);
    gort_chan_tryrecv(gort_ticker_chan(tk), NULL, NULL); /* one may be buffered */
    gort_sleep(3 * period);
    CHECK_EQ(gort_chan_tryrecv(gort_ticker_chan(tk), NULL, NULL), GORT_EWOULDBLOCK);
    CHECK_EQ(gort_ticker_reset(tk, 0), GORT_EINVAL);
    CHECK_EQ(gort_ticker_reset(tk, period), GORT_OK);
    CHECK_EQ(gort_chan_recv(gort_ticker_chan(tk), NULL, &ok), GORT_OK);
    CHECK(ok);
    gort_ticker_stop(tk);
    CHECK(gort_ticker_make(0) == NULL);
    CHECK(gort_ticker_make(-1) == NULL);
}

TEST(select_timeouts_timers_and_tickers)
{
    CHECK(gort_after(MS) == NULL); /* no runtime: no timers */
    run_main(2, timers_main, NULL);
}

/* ---- select by an asynchronous waiter ---- */

static struct {
    gort_chan *c[3];
    atomic_int stage;
    atomic_int result;
    atomic_int value;
    atomic_int errors;
    atomic_bool done;
    atomic_uint doorbell; /* the fired case's wake-up rings it */
} sa;

static void *sa_thread(void *arg)
{
    (void)arg;
    int vals[3] = {-1, -1, -1};
    gort_select_case cases[3] = {GORT_RECV_CASE(sa.c[0], &vals[0]), GORT_RECV_CASE(sa.c[1], &vals[1]),
                                 GORT_RECV_CASE(sa.c[2], &vals[2])};
    select_async *p = NULL;
    int r = selectgo_async(cases, 3, &sa.doorbell, NULL, &p);
    if (r != -GORT_EWOULDBLOCK || p == NULL)
        atomic_fetch_add(&sa.errors, 1);
    atomic_store(&sa.stage, 1);
    int64_t deadline = gort_nanotime() + DEADLINE_NS;
    while (p != NULL && !sudog_async_poll(select_async_sudog(p)) && gort_nanotime() < deadline)
        gort_sleep(100000);
    /* The wake-up rings the doorbell right after it sets the cell. */
    while (atomic_load(&sa.doorbell) == 0 && gort_nanotime() < deadline)
        prim_futex_wait(&sa.doorbell, 0, 1000000);
    if (atomic_load(&sa.doorbell) == 0)
        atomic_fetch_add(&sa.errors, 1); /* woken without ringing */
    r = p != NULL ? selectgo_async_finish(p) : -1;
    atomic_store(&sa.result, r);
    atomic_store(&sa.value, r >= 0 && r < 3 ? vals[r] : -1);
    if (r >= 0 && r < 3 && !cases[r].ok)
        atomic_fetch_add(&sa.errors, 1);
    atomic_store(&sa.done, true);
    /* Ready at once: no pending. */
    int v = 9;
    CHECK_EQ(gort_chan_send(sa.c[2], &v), GORT_OK);
    r = selectgo_async(cases, 3, NULL, NULL, &p);
    if (r != 2 || p != NULL || vals[2] != 9)
        atomic_fetch_add(&sa.errors, 1);
    /* Nothing but nil channels, or nothing at all: never completes. */
    gort_select_case nils[2] = {GORT_RECV_CASE(NULL, NULL), GORT_SEND_CASE(NULL, &v)};
    if (selectgo_async(nils, 2, NULL, NULL, &p) != -GORT_EWOULDBLOCK || p != NULL)
        atomic_fetch_add(&sa.errors, 1);
    if (selectgo_async(NULL, 0, NULL, NULL, &p) != -GORT_EWOULDBLOCK || p != NULL)
        atomic_fetch_add(&sa.errors, 1);
    gort_keepalive(-1);
    return NULL;
}

static void sa_main(void *arg)
{
    (void)arg;
    REQUIRE((sa.c[0] = make_int_chan(0)) != NULL);
    REQUIRE((sa.c[1] = make_int_chan(0)) != NULL);
    REQUIRE((sa.c[2] = make_int_chan(1)) != NULL);
    pthread_t t;
    gort_keepalive(1);
    REQUIRE(pthread_create(&t, NULL, sa_thread, NULL) == 0);
    bool queued = AWAIT(atomic_load(&sa.stage) == 1 && RECVQ_LEN(sa.c[0]) == 1 &&
                        RECVQ_LEN(sa.c[1]) == 1 && RECVQ_LEN(sa.c[2]) == 1);
    int v = 77;
    if (queued)
        CHECK_EQ(gort_chan_send(sa.c[1], &v), GORT_OK);
    AWAIT(atomic_load(&sa.done) || !queued);
    pthread_join(t, NULL);
    CHECK_EQ(atomic_load(&sa.result), 1);
    CHECK_EQ(atomic_load(&sa.value), 77);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(RECVQ_LEN(sa.c[i]), 0);
    CHECK_EQ(atomic_load(&sa.errors), 0);
}

TEST(select_async_waiter)
{
    memset(&sa, 0, sizeof sa);
    run_main(2, sa_main, NULL);
}

/* ---- a channel in several cases is locked (and unlocked) once ---- */

#define DUP_ROUNDS TESTING_SCALE(20000)

static struct {
    gort_chan *c, *d;
    atomic_bool stop;
    atomic_long held;       /* times the thread held c's lock */
    atomic_long violations; /* c's lock found free while the thread held it */
} dup;

/* Takes c's lock over and over, and checks that nobody frees it under it:
 * a select that unlocked a channel once per case would. */
static void *dup_locker(void *arg)
{
    (void)arg;
    while (!atomic_load(&dup.stop)) {
        lock(&dup.c->lock);
        for (int i = 0; i < 50; i++)
            if (atomic_load(&dup.c->lock.key) == 0)
                atomic_fetch_add(&dup.violations, 1);
        atomic_fetch_add(&dup.held, 1);
        unlock(&dup.c->lock);
    }
    return NULL;
}

static void dup_main(void *arg)
{
    (void)arg;
    REQUIRE((dup.c = make_int_chan(4)) != NULL);
    REQUIRE((dup.d = make_int_chan(0)) != NULL);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, dup_locker, NULL) == 0);
    AWAIT(atomic_load(&dup.held) > 0); /* the locker runs before the selects */
    int v = 1, out;
    for (long r = 0; r < (long)DUP_ROUNDS; r++) {
        if (r % 3 == 0)
            CHECK_EQ(gort_chan_trysend(dup.c, &v), GORT_OK);
        gort_select_case cases[4] = {GORT_RECV_CASE(dup.c, &out), GORT_RECV_CASE(dup.d, &out),
                                     GORT_RECV_CASE(dup.c, &out), GORT_SEND_CASE(dup.d, &v)};
        int k = gort_select(cases, 4, true);
        CHECK(k == 0 || k == 2 || k == GORT_SELECT_DEFAULT);
    }
    atomic_store(&dup.stop, true);
    pthread_join(t, NULL);
}

TEST(select_duplicate_channel_locked_once)
{
    memset(&dup, 0, sizeof dup);
    run_main(2, dup_main, NULL);
    CHECK_EQ(atomic_load(&dup.violations), 0);
    CHECK(atomic_load(&dup.held) > 0);
}
