/*
 * test_chan.c — tests of channels (include/gort/chan.h, src/chan.c): Go's
 * classic channel programs rewritten in C (the concurrent prime sieve, a
 * fan-out/fan-in pipeline), FIFO order per sender, every non-blocking
 * operation on every kind of channel (nil, unbuffered, buffered empty, full
 * and partly full, closed), the unbuffered hand-off and the buffered
 * "blocked sender moves to the tail" rule, zero-size elements, close while
 * senders and receivers wait, misuse codes, typed buffers, a model-based
 * test (random non-blocking operations checked step by step against a
 * sequential queue model, and random concurrent operations checked against
 * what a channel may return: only values sent, each once, in order per
 * sender, counts adding up), an MPMC stress with checksums and close storms
 * on every P, plain pthreads and goroutines in the same queues (served in
 * arrival order), asynchronous waiters (the JS main thread's kind, played by
 * a thread that polls) beside them, channels between threads with no
 * runtime at all, and a deadlock on a nil channel reported by gort_main.
 *
 * Every wait for another goroutine polls with a deadline (AWAIT), so that a
 * broken channel fails its test instead of hanging it. Waiting for a
 * goroutine to block reads the channel's queues under its lock (chan.h).
 */
#define _GNU_SOURCE
#include <gort/gort.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chan.h"
#include "prim/prim.h"
#include "runtime2.h"
#include "testing.h"
#include "testing_rt.h"





/* The P the calling goroutine runs on, as a bit. */
static unsigned current_p_bit(void)
{
    m *mp = getm();
    int id = mp != NULL && mp->p != NULL ? mp->p->id : -1;
    return id >= 0 && id < 32 ? 1u << id : 0;
}


/* ---- Go's concurrent prime sieve ---- */

enum { SIEVE_PRIMES = 200 };

typedef struct sieve_filter {
    gort_chan *in, *out;
    int prime;
} sieve_filter;

static struct {
    sieve_filter filters[SIEVE_PRIMES];
    int primes[SIEVE_PRIMES];
    gort_waitgroup done;
    atomic_int errors;
} sieve;

/* Sends 2, 3, 4, ... until its channel is closed. */
static void sieve_generate(void *arg)
{
    gort_chan *ch = arg;
    for (int i = 2;; i++) {
        int r = gort_chan_send(ch, &i);
        if (r == GORT_ECLOSED)
            break;
        if (r != GORT_OK)
            atomic_fetch_add(&sieve.errors, 1);
    }
    gort_waitgroup_done(&sieve.done);
}

/* Copies the values not divisible by its prime from in to out; when in is
 * closed, closes out. */
static void sieve_filter_run(void *arg)
{
    sieve_filter *f = arg;
    for (;;) {
        int v = -1;
        bool ok = true;
        gort_chan_recv(f->in, &v, &ok);
        if (!ok) {
            if (v != 0)
                atomic_fetch_add(&sieve.errors, 1); /* the zero value */
            break;
        }
        if (v % f->prime != 0 && gort_chan_send(f->out, &v) != GORT_OK)
            atomic_fetch_add(&sieve.errors, 1);
    }
    if (gort_chan_close(f->out) != GORT_OK)
        atomic_fetch_add(&sieve.errors, 1);
    gort_waitgroup_done(&sieve.done);
}

static void sieve_main(void *arg)
{
    (void)arg;
    gort_chan *first = make_int_chan(0);
    REQUIRE(first != NULL);
    gort_waitgroup_add(&sieve.done, 1);
    REQUIRE(gort_go(sieve_generate, first) == GORT_OK);
    gort_chan *ch = first;
    for (int i = 0; i < SIEVE_PRIMES; i++) {
        int prime = 0;
        bool ok = false;
        gort_chan_recv(ch, &prime, &ok);
        REQUIRE(ok);
        sieve.primes[i] = prime;
        gort_chan *next = make_int_chan(i % 3 == 0 ? 0 : (size_t)(i % 5)); /* mixed kinds */
        REQUIRE(next != NULL);
        sieve.filters[i] = (sieve_filter){ch, next, prime};
        gort_waitgroup_add(&sieve.done, 1);
        REQUIRE(gort_go(sieve_filter_run, &sieve.filters[i]) == GORT_OK);
        ch = next;
    }
    /* Shut the chain down from its head: the generator's send fails, each
     * filter sees its input closed and closes its output; drain the tail. */
    CHECK_EQ(gort_chan_close(first), GORT_OK);
    for (;;) {
        int v;
        bool ok;
        gort_chan_recv(ch, &v, &ok);
        if (!ok)
            break;
    }
    gort_waitgroup_wait(&sieve.done);
}

TEST(chan_prime_sieve)
{
    memset(&sieve, 0, sizeof sieve);
    run_main(4, sieve_main, NULL);
    /* The first primes by trial division. */
    int n = 0;
    for (int v = 2; n < SIEVE_PRIMES; v++) {
        bool prime = true;
        for (int d = 2; d * d <= v; d++)
            if (v % d == 0)
                prime = false;
        if (!prime)
            continue;
        if (sieve.primes[n] != v) {
            testing_fail(__FILE__, __LINE__, "prime %d: got %d, want %d", n, sieve.primes[n], v);
            break;
        }
        n++;
    }
    CHECK_EQ(sieve.primes[SIEVE_PRIMES - 1], 1223);
    CHECK_EQ(atomic_load(&sieve.errors), 0);
}

/* ---- a pipeline of stages, fanned out and in ---- */

enum {
    PIPE_STAGES = 5,
    PIPE_WORKERS = 3,
};
#define PIPE_N TESTING_SCALE(60000)

typedef struct pipe_stage {
    gort_chan *in, *out;
    int64_t add;
    gort_waitgroup workers; /* the last worker out closes `out` */
} pipe_stage;

static struct {
    pipe_stage stages[PIPE_STAGES];
    atomic_int errors;
    atomic_uint ps;
} pipe_;

static void pipe_source(void *arg)
{
    gort_chan *out = arg;
    for (int64_t v = 1; v <= (int64_t)PIPE_N; v++)
        if (gort_chan_send(out, &v) != GORT_OK)
            atomic_fetch_add(&pipe_.errors, 1);
    CHECK_EQ(gort_chan_close(out), GORT_OK);
}

static void pipe_worker(void *arg)
{
    pipe_stage *s = arg;
    int64_t v;
    bool ok;
    for (;;) {
        gort_chan_recv(s->in, &v, &ok);
        if (!ok)
            break;
        v += s->add;
        if (gort_chan_send(s->out, &v) != GORT_OK)
            atomic_fetch_add(&pipe_.errors, 1);
    }
    atomic_fetch_or(&pipe_.ps, current_p_bit());
    gort_waitgroup_done(&s->workers);
}

/* Closes a stage's output once all its workers are done. */
static void pipe_closer(void *arg)
{
    pipe_stage *s = arg;
    gort_waitgroup_wait(&s->workers);
    CHECK_EQ(gort_chan_close(s->out), GORT_OK);
}

static void pipe_main(void *arg)
{
    (void)arg;
    static const size_t caps[PIPE_STAGES + 1] = {0, 1, 16, 0, 128, 3};
    gort_chan *chans[PIPE_STAGES + 1];
    for (int i = 0; i <= PIPE_STAGES; i++)
        REQUIRE((chans[i] = gort_chan_make_bytes(sizeof(int64_t), caps[i])) != NULL);
    REQUIRE(gort_go(pipe_source, chans[0]) == GORT_OK);
    int64_t add_total = 0;
    for (int i = 0; i < PIPE_STAGES; i++) {
        pipe_stage *s = &pipe_.stages[i];
        s->in = chans[i];
        s->out = chans[i + 1];
        s->add = 1000 * (i + 1);
        add_total += s->add;
        gort_waitgroup_add(&s->workers, PIPE_WORKERS);
        for (int w = 0; w < PIPE_WORKERS; w++)
            REQUIRE(gort_go(pipe_worker, s) == GORT_OK);
        REQUIRE(gort_go(pipe_closer, s) == GORT_OK);
    }
    int64_t count = 0, sum = 0, sumsq = 0;
    int64_t v;
    bool ok;
    for (;;) {
        gort_chan_recv(chans[PIPE_STAGES], &v, &ok);
        if (!ok)
            break;
        count++;
        sum += v;
        sumsq += (v - add_total) * (v - add_total);
    }
    int64_t n = PIPE_N;
    CHECK_EQ(count, n);
    CHECK_EQ(sum, n * (n + 1) / 2 + n * add_total);
    CHECK_EQ(sumsq, n * (n + 1) * (2 * n + 1) / 6);
}

TEST(chan_pipeline_of_stages)
{
    memset(&pipe_, 0, sizeof pipe_);
    run_main(4, pipe_main, NULL);
    CHECK_EQ(atomic_load(&pipe_.errors), 0);
    printf("    %lld values through %d stages x %d workers, Ps used mask 0x%x\n", (long long)PIPE_N,
           PIPE_STAGES, PIPE_WORKERS, atomic_load(&pipe_.ps));
}

/* ---- FIFO order per sender ---- */

enum { FIFO_SENDERS = 8, FIFO_THREAD_SENDER = FIFO_SENDERS };
#define FIFO_PER_SENDER TESTING_SCALE(4000)

static struct {
    gort_chan *c;
    atomic_int errors;
    atomic_int senders_done;
} fifo;

static void fifo_send_all(uint64_t id)
{
    for (uint64_t seq = 0; seq < (uint64_t)FIFO_PER_SENDER; seq++) {
        uint64_t v = id << 32 | seq;
        if (gort_chan_send(fifo.c, &v) != GORT_OK)
            atomic_fetch_add(&fifo.errors, 1);
        if (seq % 64 == id)
            gort_yield(); /* shuffle the interleaving */
    }
    atomic_fetch_add(&fifo.senders_done, 1);
}

static void fifo_sender(void *arg) { fifo_send_all((uintptr_t)arg); }

static void *fifo_thread(void *arg)
{
    fifo_send_all((uintptr_t)arg);
    return NULL;
}

static void fifo_main(void *arg)
{
    size_t cap = (uintptr_t)arg;
    atomic_store(&keeper_stop, false);
    REQUIRE(gort_go(keeper, NULL) == GORT_OK);
    REQUIRE((fifo.c = gort_chan_make_bytes(sizeof(uint64_t), cap)) != NULL);
    for (uintptr_t i = 0; i < FIFO_SENDERS; i++)
        REQUIRE(gort_go(fifo_sender, (void *)i) == GORT_OK);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, fifo_thread, (void *)(uintptr_t)FIFO_THREAD_SENDER) == 0);
    uint64_t next[FIFO_SENDERS + 1] = {0};
    long total = (long)(FIFO_SENDERS + 1) * FIFO_PER_SENDER;
    for (long k = 0; k < total; k++) {
        uint64_t v;
        bool ok;
        gort_chan_recv(fifo.c, &v, &ok);
        REQUIRE(ok);
        uint64_t id = v >> 32, seq = v & 0xffffffffu;
        REQUIRE(id <= FIFO_SENDERS);
        if (seq != next[id]) {
            testing_fail(__FILE__, __LINE__, "cap %zu: sender %llu: got seq %llu, want %llu", cap,
                         (unsigned long long)id, (unsigned long long)seq,
                         (unsigned long long)next[id]);
            break;
        }
        next[id]++;
    }
    pthread_join(t, NULL);
    /* The last sends have returned (or are about to): their senders finish. */
    AWAIT(atomic_load(&fifo.senders_done) == FIFO_SENDERS + 1);
    atomic_store(&keeper_stop, true);
    CHECK_EQ(gort_chan_len(fifo.c), 0);
    CHECK_EQ(gort_chan_tryrecv(fifo.c, NULL, NULL), GORT_EWOULDBLOCK);
}

TEST(chan_fifo_per_sender)
{
    static const size_t caps[] = {0, 1, 7, 256};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        memset(&fifo, 0, sizeof fifo);
        run_main(4, fifo_main, (void *)(uintptr_t)caps[i]);
        CHECK_EQ(atomic_load(&fifo.errors), 0);
        CHECK_EQ(atomic_load(&fifo.senders_done), FIFO_SENDERS + 1);
    }
}

/* ---- non-blocking operations on every kind of channel ---- */

static struct {
    gort_chan *c;
    atomic_int got;
    atomic_int done;
} nb;

static void nb_blocked_receiver(void *arg)
{
    (void)arg;
    int v = -1;
    bool ok = false;
    gort_chan_recv(nb.c, &v, &ok);
    atomic_store(&nb.got, ok ? v : -100);
    atomic_store(&nb.done, 1);
}

static void nb_blocked_sender(void *arg)
{
    int v = (int)(intptr_t)arg;
    CHECK_EQ(gort_chan_send(nb.c, &v), GORT_OK);
    atomic_store(&nb.done, 1);
}

static void nb_main(void *arg)
{
    (void)arg;
    int v = 7, out = -1;
    bool ok = true;

    /* nil: never ready. */
    CHECK_EQ(gort_chan_trysend(NULL, &v), GORT_EWOULDBLOCK);
    CHECK_EQ(gort_chan_tryrecv(NULL, &out, &ok), GORT_EWOULDBLOCK);
    CHECK_EQ(out, -1); /* untouched */
    CHECK(ok);
    CHECK_EQ(gort_chan_len(NULL), 0);
    CHECK_EQ(gort_chan_cap(NULL), 0);

    /* Unbuffered, nobody waiting: neither direction is ready. */
    gort_chan *u = make_int_chan(0);
    REQUIRE(u != NULL);
    CHECK_EQ(gort_chan_trysend(u, &v), GORT_EWOULDBLOCK);
    CHECK_EQ(gort_chan_tryrecv(u, &out, &ok), GORT_EWOULDBLOCK);
    CHECK_EQ(gort_chan_len(u), 0);
    CHECK_EQ(gort_chan_cap(u), 0);
    /* With a receiver waiting, a send is ready (and hands the value over). */
    nb.c = u;
    atomic_store(&nb.done, 0);
    REQUIRE(gort_go(nb_blocked_receiver, NULL) == GORT_OK);
    if (!AWAIT(RECVQ_LEN(u) == 1))
        return;
    CHECK_EQ(gort_chan_tryrecv(u, &out, &ok), GORT_EWOULDBLOCK); /* receivers do not match */
    v = 41;
    CHECK_EQ(gort_chan_trysend(u, &v), GORT_OK);
    AWAIT(atomic_load(&nb.done));
    CHECK_EQ(atomic_load(&nb.got), 41);
    /* With a sender waiting, a receive is ready. */
    atomic_store(&nb.done, 0);
    REQUIRE(gort_go(nb_blocked_sender, (void *)(intptr_t)42) == GORT_OK);
    if (!AWAIT(SENDQ_LEN(u) == 1))
        return;
    CHECK_EQ(gort_chan_trysend(u, &v), GORT_EWOULDBLOCK); /* senders do not match */
    out = 0;
    ok = false;
    CHECK_EQ(gort_chan_tryrecv(u, &out, &ok), GORT_OK);
    CHECK_EQ(out, 42);
    CHECK(ok);
    AWAIT(atomic_load(&nb.done));

    /* Buffered: empty, partly full, full. */
    gort_chan *b = make_int_chan(3);
    REQUIRE(b != NULL);
    CHECK_EQ(gort_chan_cap(b), 3);
    CHECK_EQ(gort_chan_tryrecv(b, &out, &ok), GORT_EWOULDBLOCK);
    for (int i = 1; i <= 3; i++) {
        CHECK_EQ(gort_chan_trysend(b, &i), GORT_OK);
        CHECK_EQ(gort_chan_len(b), (size_t)i);
    }
    v = 4;
    CHECK_EQ(gort_chan_trysend(b, &v), GORT_EWOULDBLOCK); /* full */
    CHECK_EQ(gort_chan_len(b), 3);
    CHECK_EQ(gort_chan_tryrecv(b, &out, &ok), GORT_OK);
    CHECK_EQ(out, 1);
    CHECK_EQ(gort_chan_trysend(b, &v), GORT_OK); /* wraps around the ring */
    for (int want = 2; want <= 4; want++) {
        CHECK_EQ(gort_chan_tryrecv(b, &out, &ok), GORT_OK);
        CHECK_EQ(out, want);
        CHECK(ok);
    }
    CHECK_EQ(gort_chan_tryrecv(b, &out, &ok), GORT_EWOULDBLOCK);

    /* Closed, with a value left: it comes first, then the zero value. */
    v = 99;
    CHECK_EQ(gort_chan_trysend(b, &v), GORT_OK);
    CHECK_EQ(gort_chan_close(b), GORT_OK);
    CHECK_EQ(gort_chan_trysend(b, &v), GORT_ECLOSED);
    CHECK_EQ(gort_chan_send(b, &v), GORT_ECLOSED);
    CHECK_EQ(gort_chan_len(b), 1); /* the failed sends changed nothing */
    CHECK_EQ(gort_chan_tryrecv(b, &out, &ok), GORT_OK);
    CHECK_EQ(out, 99);
    CHECK(ok);
    for (int i = 0; i < 3; i++) {
        out = 5;
        ok = true;
        CHECK_EQ(gort_chan_tryrecv(b, &out, &ok), GORT_OK);
        CHECK_EQ(out, 0);
        CHECK(!ok);
        out = 5;
        ok = true;
        CHECK_EQ(gort_chan_recv(b, &out, &ok), GORT_OK); /* never blocks now */
        CHECK_EQ(out, 0);
        CHECK(!ok);
    }
    /* Closed unbuffered. */
    CHECK_EQ(gort_chan_close(u), GORT_OK);
    CHECK_EQ(gort_chan_trysend(u, &v), GORT_ECLOSED);
    out = 5;
    CHECK_EQ(gort_chan_tryrecv(u, &out, &ok), GORT_OK);
    CHECK_EQ(out, 0);
    CHECK(!ok);
    /* NULL out pointers are allowed on receive. */
    CHECK_EQ(gort_chan_tryrecv(u, NULL, NULL), GORT_OK);
    CHECK_EQ(gort_chan_recv(u, NULL, NULL), GORT_OK);
}

TEST(chan_nonblocking_on_every_kind)
{
    run_main(2, nb_main, NULL);
}

/* ---- the hand-off rules ---- */

static struct {
    gort_chan *c;
    atomic_int stage;
    int value; /* plain: the sender's element */
} ho;

/* Sends its own stack variable, then overwrites it: the receiver must have
 * the value sent (it copied it before the send returned). */
static void ho_sender(void *arg)
{
    (void)arg;
    int v = 1234;
    CHECK_EQ(gort_chan_send(ho.c, &v), GORT_OK);
    v = -1;
    atomic_store(&ho.stage, 1);
    (void)v;
}

static void ho_tail_sender(void *arg)
{
    int v = (int)(intptr_t)arg;
    CHECK_EQ(gort_chan_send(ho.c, &v), GORT_OK);
    atomic_fetch_add(&ho.stage, 1);
}

static void ho_main(void *arg)
{
    (void)arg;
    /* Unbuffered: a blocked sender returns only once a receiver took the
     * value, which comes straight from the sender's element. */
    REQUIRE((ho.c = make_int_chan(0)) != NULL);
    REQUIRE(gort_go(ho_sender, NULL) == GORT_OK);
    if (!AWAIT(SENDQ_LEN(ho.c) == 1))
        return;
    for (int i = 0; i < 100; i++)
        gort_yield();
    CHECK_EQ(atomic_load(&ho.stage), 0); /* still blocked */
    int got = 0;
    bool ok;
    gort_chan_recv(ho.c, &got, &ok);
    CHECK_EQ(got, 1234);
    AWAIT(atomic_load(&ho.stage) == 1);

    /* Buffered and full: the receiver takes the head and the blocked
     * sender's value goes in at the tail, so order is kept. */
    REQUIRE((ho.c = make_int_chan(2)) != NULL);
    atomic_store(&ho.stage, 0);
    int one = 1, two = 2;
    CHECK_EQ(gort_chan_send(ho.c, &one), GORT_OK);
    CHECK_EQ(gort_chan_send(ho.c, &two), GORT_OK);
    REQUIRE(gort_go(ho_tail_sender, (void *)3) == GORT_OK);
    if (!AWAIT(SENDQ_LEN(ho.c) == 1))
        return;
    REQUIRE(gort_go(ho_tail_sender, (void *)4) == GORT_OK);
    if (!AWAIT(SENDQ_LEN(ho.c) == 2))
        return;
    gort_chan_recv(ho.c, &got, &ok);
    CHECK_EQ(got, 1);
    /* The first sender was let in by that receive, under the lock. */
    CHECK_EQ(gort_chan_len(ho.c), 2);
    CHECK_EQ(SENDQ_LEN(ho.c), 1);
    for (int want = 2; want <= 4; want++) {
        gort_chan_recv(ho.c, &got, &ok);
        CHECK_EQ(got, want);
    }
    AWAIT(atomic_load(&ho.stage) == 2);
    CHECK_EQ(gort_chan_len(ho.c), 0);
}

TEST(chan_unbuffered_handoff_and_full_buffer_tail)
{
    memset(&ho, 0, sizeof ho);
    run_main(2, ho_main, NULL);
}

/* ---- zero-size elements ---- */

static struct {
    gort_chan *c;
    atomic_long received;
} zs;

static void zs_sender(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++)
        CHECK_EQ(gort_chan_send(zs.c, NULL), GORT_OK);
}

static void zs_receiver(void *arg)
{
    (void)arg;
    bool ok;
    for (;;) {
        gort_chan_recv(zs.c, NULL, &ok);
        if (!ok)
            break;
        atomic_fetch_add(&zs.received, 1);
    }
}

static void zs_main(void *arg)
{
    (void)arg;
    for (size_t cap = 0; cap <= 5; cap += 5) {
        REQUIRE((zs.c = gort_chan_make_bytes(0, cap)) != NULL);
        CHECK_EQ(gort_chan_elemsize(zs.c), 0);
        if (cap > 0) {
            for (size_t i = 0; i < cap; i++)
                CHECK_EQ(gort_chan_trysend(zs.c, NULL), GORT_OK);
            CHECK_EQ(gort_chan_len(zs.c), cap);
            CHECK_EQ(gort_chan_trysend(zs.c, NULL), GORT_EWOULDBLOCK);
            char dummy = 'x';
            CHECK_EQ(gort_chan_tryrecv(zs.c, &dummy, NULL), GORT_OK); /* writes nothing */
            CHECK_EQ(dummy, 'x');
            CHECK_EQ(gort_chan_len(zs.c), cap - 1);
            while (gort_chan_tryrecv(zs.c, NULL, NULL) == GORT_OK)
                ;
            CHECK_EQ(gort_chan_len(zs.c), 0);
        }
        atomic_store(&zs.received, 0);
        for (int s = 0; s < 4; s++)
            REQUIRE(gort_go(zs_sender, (void *)(intptr_t)2500) == GORT_OK);
        for (int r = 0; r < 3; r++)
            REQUIRE(gort_go(zs_receiver, NULL) == GORT_OK);
        if (!AWAIT(atomic_load(&zs.received) == 10000))
            return;
        CHECK_EQ(gort_chan_close(zs.c), GORT_OK);
        AWAIT(RECVQ_LEN(zs.c) == 0 && gort_num_goroutine() == 1);
        CHECK_EQ(atomic_load(&zs.received), 10000);
    }
}

TEST(chan_zero_size_elements)
{
    memset(&zs, 0, sizeof zs);
    run_main(4, zs_main, NULL);
}

/* ---- close while senders and receivers wait ---- */

enum { CW_RECEIVERS = 6, CW_SENDERS = 5 };

static struct {
    gort_chan *empty; /* receivers wait here */
    gort_chan *full;  /* senders wait here */
    atomic_int recv_zero_notok;
    atomic_int send_closed;
    atomic_int wrong;
} cw;

static void cw_receiver(void *arg)
{
    (void)arg;
    long v = 0x5a5a5a5a;
    bool ok = true;
    gort_chan_recv(cw.empty, &v, &ok);
    if (!ok && v == 0)
        atomic_fetch_add(&cw.recv_zero_notok, 1);
    else
        atomic_fetch_add(&cw.wrong, 1);
}

static void *cw_thread_receiver(void *arg)
{
    cw_receiver(arg);
    return NULL;
}

static void cw_sender(void *arg)
{
    long v = (long)(intptr_t)arg;
    int r = gort_chan_send(cw.full, &v);
    if (r == GORT_ECLOSED)
        atomic_fetch_add(&cw.send_closed, 1);
    else
        atomic_fetch_add(&cw.wrong, 1);
}

static void *cw_thread_sender(void *arg)
{
    cw_sender(arg);
    return NULL;
}

static void cw_main(void *arg)
{
    (void)arg;
    atomic_store(&keeper_stop, false);
    REQUIRE(gort_go(keeper, NULL) == GORT_OK);
    REQUIRE((cw.empty = gort_chan_make_bytes(sizeof(long), 0)) != NULL);
    REQUIRE((cw.full = gort_chan_make_bytes(sizeof(long), 2)) != NULL);
    long a = 10, b = 20;
    CHECK_EQ(gort_chan_send(cw.full, &a), GORT_OK);
    CHECK_EQ(gort_chan_send(cw.full, &b), GORT_OK);
    for (int i = 0; i < CW_RECEIVERS - 1; i++)
        REQUIRE(gort_go(cw_receiver, NULL) == GORT_OK);
    for (int i = 0; i < CW_SENDERS - 1; i++)
        REQUIRE(gort_go(cw_sender, (void *)(intptr_t)(100 + i)) == GORT_OK);
    pthread_t tr, ts;
    REQUIRE(pthread_create(&tr, NULL, cw_thread_receiver, NULL) == 0);
    REQUIRE(pthread_create(&ts, NULL, cw_thread_sender, (void *)(intptr_t)200) == 0);
    if (!AWAIT(RECVQ_LEN(cw.empty) == CW_RECEIVERS && SENDQ_LEN(cw.full) == CW_SENDERS))
        return;
    CHECK_EQ(gort_chan_close(cw.empty), GORT_OK);
    CHECK_EQ(gort_chan_close(cw.full), GORT_OK);
    AWAIT(atomic_load(&cw.recv_zero_notok) + atomic_load(&cw.send_closed) +
              atomic_load(&cw.wrong) ==
          CW_RECEIVERS + CW_SENDERS);
    pthread_join(tr, NULL);
    pthread_join(ts, NULL);
    CHECK_EQ(RECVQ_LEN(cw.empty), 0);
    CHECK_EQ(SENDQ_LEN(cw.full), 0);
    /* The buffered values were not lost to the close, and no blocked
     * sender's value got in. */
    long v;
    bool ok;
    CHECK_EQ(gort_chan_len(cw.full), 2);
    gort_chan_recv(cw.full, &v, &ok);
    CHECK(ok && v == 10);
    gort_chan_recv(cw.full, &v, &ok);
    CHECK(ok && v == 20);
    gort_chan_recv(cw.full, &v, &ok);
    CHECK(!ok && v == 0);
    /* Misuse after all that: codes, and the channels stay usable. */
    CHECK_EQ(gort_chan_close(cw.empty), GORT_ECLOSECLOSED);
    CHECK_EQ(gort_chan_close(NULL), GORT_ECLOSENIL);
    gort_chan_recv(cw.empty, &v, &ok);
    CHECK(!ok);
    atomic_store(&keeper_stop, true);
}

TEST(chan_close_wakes_blocked_senders_and_receivers)
{
    memset(&cw, 0, sizeof cw);
    run_main(2, cw_main, NULL);
    CHECK_EQ(atomic_load(&cw.recv_zero_notok), CW_RECEIVERS);
    CHECK_EQ(atomic_load(&cw.send_closed), CW_SENDERS);
    CHECK_EQ(atomic_load(&cw.wrong), 0);
}

/* ---- misuse, limits, typed buffers ---- */

struct node {
    struct node *next;
    long value;
};
static const gort_type node_ptr_type = GORT_TYPE(struct node *, "*node", 1);
static const gort_type node_type =
    GORT_TYPE(struct node, "node", GORT_PTR_FIELD(struct node, next));

static void misuse_main(void *arg)
{
    (void)arg;
    CHECK(strcmp(gort_strerror(GORT_ECLOSED), "send on closed channel") == 0);
    CHECK(strcmp(gort_strerror(GORT_ECLOSECLOSED), "close of closed channel") == 0);
    CHECK(strcmp(gort_strerror(GORT_ECLOSENIL), "close of nil channel") == 0);

    CHECK(gort_chan_make(NULL, 1) == NULL);
    CHECK(gort_chan_make_bytes(GORT_CHAN_MAX_ELEM + 1, 0) == NULL);
    CHECK(gort_chan_make_bytes(8, SIZE_MAX / 4) == NULL); /* size out of range */
    gort_chan *big = gort_chan_make_bytes(GORT_CHAN_MAX_ELEM, 2);
    CHECK(big != NULL);

    gort_chan *c = make_int_chan(1);
    REQUIRE(c != NULL);
    CHECK_EQ(gort_chan_send(c, NULL), GORT_EINVAL);
    CHECK_EQ(gort_chan_trysend(c, NULL), GORT_EINVAL);
    CHECK_EQ(gort_chan_len(c), 0);
    CHECK_EQ(gort_chan_close(NULL), GORT_ECLOSENIL);
    CHECK_EQ(gort_chan_close(c), GORT_OK);
    CHECK_EQ(gort_chan_close(c), GORT_ECLOSECLOSED);
    int v = 3;
    CHECK_EQ(gort_chan_send(c, &v), GORT_ECLOSED);
    CHECK_EQ(gort_chan_len(c), 0);
    bool ok = true;
    CHECK_EQ(gort_chan_recv(c, &v, &ok), GORT_OK);
    CHECK(!ok);

    /* Pointer elements: the buffer is typed (the collector scans it),
     * pointer-free ones share one noscan object with the header. */
    gort_chan *pc = gort_chan_make(&node_ptr_type, 4);
    REQUIRE(pc != NULL);
    gort_object_info info;
    CHECK(gort_find_object(pc->buf, &info));
    CHECK(!info.noscan);
    CHECK(gort_find_object(pc, &info));
    CHECK(!info.noscan);
    gort_chan *sc = make_int_chan(4);
    REQUIRE(sc != NULL);
    CHECK(gort_find_object(sc->buf, &info));
    CHECK(info.noscan);
    CHECK(info.base == (void *)sc);
    /* Pointers and whole structs travel intact. */
    struct node *n = gort_new(&node_type);
    REQUIRE(n != NULL);
    n->value = 77;
    CHECK_EQ(gort_chan_send(pc, &n), GORT_OK);
    struct node *m_ = NULL;
    CHECK_EQ(gort_chan_recv(pc, &m_, &ok), GORT_OK);
    CHECK(m_ == n && m_->value == 77);
    gort_chan *nc = gort_chan_make(&node_type, 2);
    REQUIRE(nc != NULL);
    CHECK_EQ(gort_chan_elemsize(nc), sizeof(struct node));
    struct node in = {n, 5}, out_ = {0};
    CHECK_EQ(gort_chan_send(nc, &in), GORT_OK);
    CHECK_EQ(gort_chan_recv(nc, &out_, &ok), GORT_OK);
    CHECK(out_.next == n && out_.value == 5);
}

TEST(chan_misuse_codes_limits_and_typed_buffers)
{
    run_main(1, misuse_main, NULL);
}

/* ---- deadlock on a nil channel ---- */

static void nil_recv_main(void *arg)
{
    (void)arg;
    int v;
    gort_chan_recv(NULL, &v, NULL);
    testing_fail(__FILE__, __LINE__, "a receive on the nil channel returned");
}

static void nil_send_main(void *arg)
{
    (void)arg;
    int v = 1;
    REQUIRE(gort_go(nil_recv_main, NULL) == GORT_OK); /* blocks too */
    gort_chan_send(NULL, &v);
    testing_fail(__FILE__, __LINE__, "a send on the nil channel returned");
}

static void unbuffered_alone_main(void *arg)
{
    (void)arg;
    gort_chan *c = make_int_chan(0);
    int v = 1;
    gort_chan_send(c, &v); /* no receiver will ever come */
}

static void ok_main(void *arg) { *(int *)arg = 1; }

TEST(chan_nil_channel_deadlock_is_reported)
{
    gort_config cfg = {.procs = 2};
    CHECK_EQ(gort_main(&cfg, nil_recv_main, NULL), GORT_EDEADLOCK);
    CHECK_EQ(gort_main(&cfg, nil_send_main, NULL), GORT_EDEADLOCK);
    CHECK_EQ(gort_main(&cfg, unbuffered_alone_main, NULL), GORT_EDEADLOCK);
    int ran = 0;
    CHECK_EQ(gort_main(&cfg, ok_main, &ran), GORT_OK); /* usable again */
    CHECK_EQ(ran, 1);
}

/* ---- model-based: one goroutine, random non-blocking ops vs a queue ---- */

#define MODEL_STEPS TESTING_SCALE(20000)

static void model_single_run(size_t cap, uint64_t seed, int *failures)
{
    gort_chan *c = gort_chan_make_bytes(sizeof(uint32_t), cap);
    if (c == NULL) {
        (*failures)++;
        return;
    }
    /* The model: a ring of at most cap values, and closed. */
    uint32_t q[64];
    size_t head = 0, len = 0;
    bool closed = false;
    uint32_t next_value = 1;
    for (long step = 0; step < (long)MODEL_STEPS && *failures == 0; step++) {
        uint64_t r = testing_rand(&seed) % 100;
        int got;
        uint32_t v = 0xdeadbeef;
        bool ok = true;
#define MODEL_EXPECT(cond)                                                                  \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            testing_fail(__FILE__, __LINE__, "cap %zu step %ld op %llu: %s", cap, step,     \
                         (unsigned long long)r, #cond);                                     \
            (*failures)++;                                                                  \
        }                                                                                   \
    } while (0)
        if (r < 40) { /* trysend */
            uint32_t x = next_value;
            got = gort_chan_trysend(c, &x);
            if (closed) {
                MODEL_EXPECT(got == GORT_ECLOSED);
            } else if (len < cap) {
                MODEL_EXPECT(got == GORT_OK);
                q[(head + len++) % cap] = next_value++;
            } else {
                MODEL_EXPECT(got == GORT_EWOULDBLOCK);
            }
        } else if (r < 80) { /* tryrecv */
            got = gort_chan_tryrecv(c, &v, &ok);
            if (len > 0) {
                MODEL_EXPECT(got == GORT_OK && ok && v == q[head]);
                head = (head + 1) % cap;
                len--;
            } else if (closed) {
                MODEL_EXPECT(got == GORT_OK && !ok && v == 0);
            } else {
                MODEL_EXPECT(got == GORT_EWOULDBLOCK && v == 0xdeadbeef && ok);
            }
        } else if (r < 88) { /* blocking send, when the model says it won't block */
            if (closed || len < cap) {
                uint32_t x = next_value;
                got = gort_chan_send(c, &x);
                if (closed) {
                    MODEL_EXPECT(got == GORT_ECLOSED);
                } else {
                    MODEL_EXPECT(got == GORT_OK);
                    q[(head + len++) % cap] = next_value++;
                }
            }
        } else if (r < 96) { /* blocking receive, likewise */
            if (closed || len > 0) {
                got = gort_chan_recv(c, &v, &ok);
                MODEL_EXPECT(got == GORT_OK);
                if (len > 0) {
                    MODEL_EXPECT(ok && v == q[head]);
                    head = (head + 1) % cap;
                    len--;
                } else {
                    MODEL_EXPECT(!ok && v == 0);
                }
            }
        } else if (r < 97) { /* close, rarely: then the channel is drained */
            got = gort_chan_close(c);
            MODEL_EXPECT(got == (closed ? GORT_ECLOSECLOSED : GORT_OK));
            closed = true;
        } else if (r < 99) { /* a select over the channel both ways, with default */
            uint32_t x = next_value;
            gort_select_case cases[3] = {GORT_SEND_CASE(c, &x), GORT_RECV_CASE(c, &v),
                                         GORT_RECV_CASE(NULL, &v)};
            got = gort_select(cases, 3, true);
            bool can_send = !closed && len < cap, can_recv = len > 0 || closed;
            if (got == 0) {
                MODEL_EXPECT(can_send && cases[0].ok);
                if (can_send)
                    q[(head + len++) % cap] = next_value++;
            } else if (got == 1) {
                MODEL_EXPECT(can_recv);
                if (len > 0) {
                    MODEL_EXPECT(cases[1].ok && v == q[head]);
                    head = (head + 1) % cap;
                    len--;
                } else {
                    MODEL_EXPECT(!cases[1].ok && v == 0);
                }
            } else if (got == -GORT_ECLOSED) {
                MODEL_EXPECT(closed && !cases[0].ok);
            } else {
                MODEL_EXPECT(got == GORT_SELECT_DEFAULT && !can_send && !can_recv && !closed);
            }
        } else { /* len and cap */
            MODEL_EXPECT(gort_chan_len(c) == len && gort_chan_cap(c) == cap);
        }
#undef MODEL_EXPECT
        if (closed && len == 0 && testing_rand(&seed) % 50 == 0) {
            /* Start over on a fresh channel now and then. */
            c = gort_chan_make_bytes(sizeof(uint32_t), cap);
            if (c == NULL) {
                (*failures)++;
                return;
            }
            closed = false;
            head = 0;
        }
    }
}

static void model_single_main(void *arg)
{
    (void)arg;
    static const size_t caps[] = {0, 1, 2, 3, 8, 64};
    int failures = 0;
    for (size_t i = 0; i < sizeof caps / sizeof caps[0] && failures == 0; i++)
        for (uint64_t seed = 1; seed <= 3 && failures == 0; seed++)
            model_single_run(caps[i], seed * 7919 + caps[i], &failures);
}

TEST(chan_model_single_goroutine)
{
    run_main(1, model_single_main, NULL);
}

/* ---- model-based: several goroutines at random, checked against what a
 * channel may return ---- */

enum {
    MM_CHANS = 3,
    MM_SENDERS = 6,
    MM_RECEIVERS = 5,
};
#define MM_OPS TESTING_SCALE(6000)

static struct {
    gort_chan *c[MM_CHANS];
    size_t cap[MM_CHANS];
    /* sent[s][ch]: values sender s got GORT_OK for on channel ch; their
     * seqs are 0..sent-1. */
    atomic_long sent[MM_SENDERS][MM_CHANS];
    atomic_llong received_total;
    atomic_llong sent_total;
    atomic_uchar *seen; /* per (sender, chan, seq): received how often */
    atomic_int violations;
    atomic_int senders_done;
    atomic_int receivers_done;
    atomic_bool closed;
    atomic_int after_close_ok_sends;
} mm;

static long mm_index(int s, int ch, long seq) { return ((long)s * MM_CHANS + ch) * MM_OPS + seq; }

static void mm_violation(const char *what, uint64_t v)
{
    if (atomic_fetch_add(&mm.violations, 1) < 5)
        printf("    violation: %s (value 0x%llx)\n", what, (unsigned long long)v);
}

/* Value: sender << 48 | chan << 40 | seq. */
static void mm_sender(void *arg)
{
    int s = (int)(intptr_t)arg;
    uint64_t seed = 0x1234 + (uint64_t)s * 77;
    long seq[MM_CHANS] = {0};
    for (long op = 0; op < (long)MM_OPS; op++) {
        int ch = (int)(testing_rand(&seed) % MM_CHANS);
        uint64_t v = (uint64_t)s << 48 | (uint64_t)ch << 40 | (uint64_t)seq[ch];
        int kind = (int)(testing_rand(&seed) % 4);
        int r;
        if (kind == 0 || kind == 1) {
            r = gort_chan_send(mm.c[ch], &v);
        } else if (kind == 2) {
            r = gort_chan_trysend(mm.c[ch], &v);
        } else {
            gort_select_case cases[2] = {GORT_SEND_CASE(mm.c[ch], &v), GORT_RECV_CASE(NULL, NULL)};
            int k = gort_select(cases, 2, testing_rand(&seed) % 2 == 0);
            r = k == 0 ? GORT_OK : k == GORT_SELECT_DEFAULT ? GORT_EWOULDBLOCK : -k;
        }
        if (r == GORT_OK) {
            atomic_store(&mm.sent[s][ch], ++seq[ch]);
            atomic_fetch_add(&mm.sent_total, 1);
        } else if (r != GORT_EWOULDBLOCK) {
            mm_violation("a send failed", (uint64_t)r);
        }
        if (testing_rand(&seed) % 16 == 0)
            gort_yield();
    }
    atomic_fetch_add(&mm.senders_done, 1);
}

static void mm_receiver(void *arg)
{
    int me = (int)(intptr_t)arg;
    uint64_t seed = 0x9876 + (uint64_t)me * 31;
    /* Per-sender FIFO, as this receiver sees it: seqs from one sender on
     * one channel only grow. */
    long last[MM_SENDERS][MM_CHANS];
    for (int s = 0; s < MM_SENDERS; s++)
        for (int ch = 0; ch < MM_CHANS; ch++)
            last[s][ch] = -1;
    bool open[MM_CHANS] = {true, true, true};
    int nopen = MM_CHANS;
    while (nopen > 0) {
        uint64_t v = 0xffffffffffffffffull;
        bool ok = false;
        int ch = (int)(testing_rand(&seed) % MM_CHANS);
        int kind = (int)(testing_rand(&seed) % 3);
        int r;
        if (kind == 0) {
            /* Blocking receives only on this receiver's own channel (or
             * the select below over all of them): with every channel
             * served by some receiver, senders blocked on one channel and
             * receivers blocked on another cannot wait for each other. */
            ch = me % MM_CHANS;
            if (!open[ch])
                kind = 2;
        }
        if (kind == 1 && !open[ch])
            continue;
        if (kind == 0) {
            r = gort_chan_recv(mm.c[ch], &v, &ok);
        } else if (kind == 1) {
            r = gort_chan_tryrecv(mm.c[ch], &v, &ok);
            if (r == GORT_EWOULDBLOCK) {
                gort_yield();
                continue;
            }
        } else {
            /* A select over all open channels: which one fired tells ch. */
            gort_select_case cases[MM_CHANS];
            uint64_t vs[MM_CHANS];
            for (int k = 0; k < MM_CHANS; k++)
                cases[k] = GORT_RECV_CASE(open[k] ? mm.c[k] : NULL, &vs[k]);
            int k = gort_select(cases, MM_CHANS, false);
            if (k < 0 || k >= MM_CHANS) {
                mm_violation("select returned no case", (uint64_t)k);
                break;
            }
            ch = k;
            v = vs[k];
            ok = cases[k].ok;
            r = GORT_OK;
        }
        if (r != GORT_OK) {
            mm_violation("a receive failed", (uint64_t)r);
            break;
        }
        if (!ok) {
            if (v != 0)
                mm_violation("closed receive without the zero value", v);
            if (!atomic_load(&mm.closed))
                mm_violation("ok=false before close", v);
            open[ch] = false;
            nopen--;
            continue;
        }
        int s = (int)(v >> 48), vch = (int)(v >> 40 & 0xff);
        long seq = (long)(v & 0xffffffffffull);
        if (s >= MM_SENDERS || vch != ch || seq >= (long)MM_OPS) {
            mm_violation("a value never sent", v);
            continue;
        }
        /* Only values whose send has begun can arrive: the sender's count
         * reaches seq+1 when that send returns, which may be just after. */
        if (seq > atomic_load(&mm.sent[s][ch]))
            mm_violation("a value from the future", v);
        if (seq <= last[s][ch])
            mm_violation("per-sender FIFO broken", v);
        last[s][ch] = seq;
        if (atomic_fetch_add(&mm.seen[mm_index(s, ch, seq)], 1) != 0)
            mm_violation("a value received twice", v);
        atomic_fetch_add(&mm.received_total, 1);
    }
    atomic_fetch_add(&mm.receivers_done, 1);
}

static void mm_main(void *arg)
{
    (void)arg;
    static const size_t caps[MM_CHANS] = {0, 1, 5};
    for (int ch = 0; ch < MM_CHANS; ch++) {
        mm.cap[ch] = caps[ch];
        REQUIRE((mm.c[ch] = gort_chan_make_bytes(sizeof(uint64_t), caps[ch])) != NULL);
    }
    for (intptr_t r = 0; r < MM_RECEIVERS; r++)
        REQUIRE(gort_go(mm_receiver, (void *)r) == GORT_OK);
    for (intptr_t s = 0; s < MM_SENDERS; s++)
        REQUIRE(gort_go(mm_sender, (void *)s) == GORT_OK);
    if (!AWAIT(atomic_load(&mm.senders_done) == MM_SENDERS))
        return;
    atomic_store(&mm.closed, true);
    for (int ch = 0; ch < MM_CHANS; ch++)
        CHECK_EQ(gort_chan_close(mm.c[ch]), GORT_OK);
    /* After close: every send fails, on every path. */
    uint64_t v = 1;
    for (int ch = 0; ch < MM_CHANS; ch++) {
        CHECK_EQ(gort_chan_send(mm.c[ch], &v), GORT_ECLOSED);
        CHECK_EQ(gort_chan_trysend(mm.c[ch], &v), GORT_ECLOSED);
        gort_select_case cs = GORT_SEND_CASE(mm.c[ch], &v);
        CHECK_EQ(gort_select(&cs, 1, true), -GORT_ECLOSED);
    }
    AWAIT(atomic_load(&mm.receivers_done) == MM_RECEIVERS);
}

TEST(chan_model_concurrent_ops)
{
    memset(&mm, 0, sizeof mm);
    size_t nseen = (size_t)MM_SENDERS * MM_CHANS * MM_OPS;
    mm.seen = calloc(nseen, sizeof *mm.seen);
    REQUIRE(mm.seen != NULL);
    run_main(4, mm_main, NULL);
    CHECK_EQ(atomic_load(&mm.violations), 0);
    /* Counts add up: every value sent was received exactly once. */
    CHECK_EQ(atomic_load(&mm.received_total), atomic_load(&mm.sent_total));
    long missing = 0;
    for (int s = 0; s < MM_SENDERS; s++)
        for (int ch = 0; ch < MM_CHANS; ch++)
            for (long seq = 0; seq < atomic_load(&mm.sent[s][ch]); seq++)
                if (atomic_load(&mm.seen[mm_index(s, ch, seq)]) != 1)
                    missing++;
    CHECK_EQ(missing, 0);
    printf("    %lld values sent and received by %d senders and %d receivers\n",
           atomic_load(&mm.sent_total), MM_SENDERS, MM_RECEIVERS);
    free(mm.seen);
}

/* ---- MPMC stress with checksums and close storms ---- */

enum {
    ST_CHANS = 8,
    ST_PRODUCERS = 3, /* per channel */
    ST_CONSUMERS = 2, /* per channel */
#ifdef TESTING_TSAN
    ST_PER_PRODUCER = 500,
    ST_ROUNDS = 12,
#else
    ST_PER_PRODUCER = 2000,
    ST_ROUNDS = 40,
#endif
};

static struct {
    gort_chan *c[ST_CHANS];
    long limit[ST_CHANS];         /* sends before this producer seq are fine; after, close races */
    atomic_long sent_ok[ST_CHANS][ST_PRODUCERS]; /* GORT_OK sends (a prefix of seqs) */
    atomic_llong sent_sum, recv_sum;
    atomic_llong sent_n, recv_n;
    atomic_uchar seen[ST_CHANS][ST_PRODUCERS][ST_PER_PRODUCER];
    atomic_int errors;
    atomic_uint ps;
    gort_waitgroup wg;
    gort_waitgroup producers;
} st;

static void st_producer(void *arg)
{
    intptr_t id = (intptr_t)arg;
    int ch = (int)(id / ST_PRODUCERS), p = (int)(id % ST_PRODUCERS);
    for (long seq = 0; seq < ST_PER_PRODUCER; seq++) {
        uint64_t v = (uint64_t)ch << 40 | (uint64_t)p << 32 | (uint64_t)seq;
        int r = gort_chan_send(st.c[ch], &v);
        if (r == GORT_ECLOSED)
            break; /* the storm came: this and the rest are not sent */
        if (r != GORT_OK) {
            atomic_fetch_add(&st.errors, 1);
            break;
        }
        atomic_store(&st.sent_ok[ch][p], seq + 1);
        atomic_fetch_add(&st.sent_sum, (long long)(v * 2654435761u % 1000003));
        atomic_fetch_add(&st.sent_n, 1);
    }
    atomic_fetch_or(&st.ps, current_p_bit());
    gort_waitgroup_done(&st.producers);
    gort_waitgroup_done(&st.wg);
}

static void st_consumer(void *arg)
{
    int ch = (int)(intptr_t)arg;
    for (;;) {
        uint64_t v;
        bool ok;
        gort_chan_recv(st.c[ch], &v, &ok);
        if (!ok)
            break;
        int vch = (int)(v >> 40), p = (int)(v >> 32 & 0xff);
        long seq = (long)(v & 0xffffffffu);
        if (vch != ch || p >= ST_PRODUCERS || seq >= ST_PER_PRODUCER ||
            atomic_fetch_add(&st.seen[vch][p][seq], 1) != 0) {
            atomic_fetch_add(&st.errors, 1);
            continue;
        }
        atomic_fetch_add(&st.recv_sum, (long long)(v * 2654435761u % 1000003));
        atomic_fetch_add(&st.recv_n, 1);
    }
    atomic_fetch_or(&st.ps, current_p_bit());
    gort_waitgroup_done(&st.wg);
}

/* Closes a channel while its producers are still at it (the storm), at a
 * point that varies by round. */
static void st_closer(void *arg)
{
    int ch = (int)(intptr_t)arg;
    for (long i = 0; i < st.limit[ch]; i++)
        gort_yield();
    if (gort_chan_close(st.c[ch]) != GORT_OK)
        atomic_fetch_add(&st.errors, 1);
    gort_waitgroup_done(&st.wg);
}

static void st_main(void *arg)
{
    (void)arg;
    uint64_t seed = 42;
    static const size_t caps[] = {0, 1, 16, 1024};
    for (int round = 0; round < (int)ST_ROUNDS; round++) {
        memset(st.seen, 0, sizeof st.seen);
        memset(st.sent_ok, 0, sizeof st.sent_ok);
        bool storm = round % 2 == 1;
        for (int ch = 0; ch < ST_CHANS; ch++) {
            REQUIRE((st.c[ch] = gort_chan_make_bytes(sizeof(uint64_t),
                                                     caps[testing_rand(&seed) % 4])) != NULL);
            st.limit[ch] = (long)(testing_rand(&seed) % 3000);
        }
        gort_waitgroup_add(&st.wg, ST_CHANS * (ST_PRODUCERS + ST_CONSUMERS + (storm ? 1 : 0)));
        gort_waitgroup_add(&st.producers, ST_CHANS * ST_PRODUCERS);
        for (intptr_t ch = 0; ch < ST_CHANS; ch++) {
            for (int k = 0; k < ST_CONSUMERS; k++)
                REQUIRE(gort_go(st_consumer, (void *)ch) == GORT_OK);
            for (int p = 0; p < ST_PRODUCERS; p++)
                REQUIRE(gort_go(st_producer, (void *)(ch * ST_PRODUCERS + p)) == GORT_OK);
            if (storm)
                REQUIRE(gort_go(st_closer, (void *)ch) == GORT_OK);
        }
        if (!storm) {
            /* A calm round: close once every producer is done. */
            gort_waitgroup_wait(&st.producers);
            for (int ch = 0; ch < ST_CHANS; ch++)
                CHECK_EQ(gort_chan_close(st.c[ch]), GORT_OK);
        }
        gort_waitgroup_wait(&st.wg);
        gort_waitgroup_wait(&st.producers);
        /* Exactly the values whose send returned GORT_OK were received,
         * each once. */
        for (int ch = 0; ch < ST_CHANS; ch++)
            for (int p = 0; p < ST_PRODUCERS; p++) {
                long ok_n = atomic_load(&st.sent_ok[ch][p]);
                if (!storm && ok_n != ST_PER_PRODUCER)
                    atomic_fetch_add(&st.errors, 1);
                for (long seq = 0; seq < ST_PER_PRODUCER; seq++)
                    if (atomic_load(&st.seen[ch][p][seq]) != (seq < ok_n ? 1 : 0)) {
                        atomic_fetch_add(&st.errors, 1);
                        break;
                    }
            }
        REQUIRE(atomic_load(&st.errors) == 0);
    }
}

TEST(chan_mpmc_stress_checksums_close_storms)
{
    memset(&st, 0, sizeof st);
    int64_t start = gort_nanotime();
    run_main(4, st_main, NULL);
    CHECK_EQ(atomic_load(&st.errors), 0);
    CHECK_EQ(atomic_load(&st.sent_n), atomic_load(&st.recv_n));
    CHECK_EQ(atomic_load(&st.sent_sum), atomic_load(&st.recv_sum));
    CHECK(__builtin_popcount(atomic_load(&st.ps)) >= 2);
    printf("    %d rounds, %lld messages, Ps mask 0x%x, %lld ms\n", (int)ST_ROUNDS,
           atomic_load(&st.recv_n), atomic_load(&st.ps),
           (long long)((gort_nanotime() - start) / 1000000));
}

/* ---- plain threads and goroutines on the same channels ---- */

#define TH_N TESTING_SCALE(20000)

static struct {
    gort_chan *to_threads;   /* goroutines send, a thread receives */
    gort_chan *from_threads; /* a thread sends, goroutines receive */
    atomic_llong thread_sum, goroutine_sum;
    atomic_llong goroutine_count;
    gort_waitgroup wg;
} th;

static void *th_receiver_thread(void *arg)
{
    (void)arg;
    int64_t sum = 0, v;
    bool ok;
    for (;;) {
        gort_chan_recv(th.to_threads, &v, &ok);
        if (!ok)
            break;
        sum += v;
    }
    atomic_store(&th.thread_sum, sum);
    return NULL;
}

static void *th_sender_thread(void *arg)
{
    (void)arg;
    for (int64_t v = 1; v <= (int64_t)TH_N; v++)
        CHECK_EQ(gort_chan_send(th.from_threads, &v), GORT_OK);
    CHECK_EQ(gort_chan_close(th.from_threads), GORT_OK);
    return NULL;
}

static void th_goroutine_sender(void *arg)
{
    int64_t base = (int64_t)(intptr_t)arg;
    for (int64_t v = 1; v <= (int64_t)TH_N / 2; v++) {
        int64_t x = base + v;
        CHECK_EQ(gort_chan_send(th.to_threads, &x), GORT_OK);
    }
    gort_waitgroup_done(&th.wg);
}

static void th_goroutine_receiver(void *arg)
{
    (void)arg;
    int64_t v;
    bool ok;
    for (;;) {
        gort_chan_recv(th.from_threads, &v, &ok);
        if (!ok)
            break;
        atomic_fetch_add(&th.goroutine_sum, v);
        atomic_fetch_add(&th.goroutine_count, 1);
    }
    gort_waitgroup_done(&th.wg);
}

/* Arrival order across kinds: goroutine, thread, goroutine queue up on an
 * unbuffered channel and are served in that order. */
static struct {
    gort_chan *c;
    int got[3]; /* value each waiter received, by arrival rank */
    atomic_int done;
} order_;

static void order_goroutine(void *arg)
{
    int rank = (int)(intptr_t)arg, v = -1;
    bool ok;
    gort_chan_recv(order_.c, &v, &ok);
    order_.got[rank] = v;
    atomic_fetch_add(&order_.done, 1);
}

static void *order_thread(void *arg)
{
    order_goroutine(arg);
    return NULL;
}

static void th_main(void *arg)
{
    (void)arg;
    atomic_store(&keeper_stop, false);
    REQUIRE(gort_go(keeper, NULL) == GORT_OK);
    REQUIRE((th.to_threads = gort_chan_make_bytes(sizeof(int64_t), 0)) != NULL);
    REQUIRE((th.from_threads = gort_chan_make_bytes(sizeof(int64_t), 4)) != NULL);
    pthread_t rt, snd;
    REQUIRE(pthread_create(&rt, NULL, th_receiver_thread, NULL) == 0);
    REQUIRE(pthread_create(&snd, NULL, th_sender_thread, NULL) == 0);
    gort_waitgroup_add(&th.wg, 5);
    REQUIRE(gort_go(th_goroutine_sender, (void *)(intptr_t)0) == GORT_OK);
    REQUIRE(gort_go(th_goroutine_sender, (void *)(intptr_t)1000000) == GORT_OK);
    for (int i = 0; i < 3; i++)
        REQUIRE(gort_go(th_goroutine_receiver, NULL) == GORT_OK);
    gort_waitgroup_wait(&th.wg);
    CHECK_EQ(gort_chan_close(th.to_threads), GORT_OK);
    pthread_join(rt, NULL);
    pthread_join(snd, NULL);
    int64_t n = TH_N, h = TH_N / 2;
    CHECK_EQ(atomic_load(&th.thread_sum), h * (h + 1) + 1000000 * h);
    CHECK_EQ(atomic_load(&th.goroutine_sum), n * (n + 1) / 2);
    CHECK_EQ(atomic_load(&th.goroutine_count), n);

    /* FIFO across waiter kinds. */
    REQUIRE((order_.c = make_int_chan(0)) != NULL);
    REQUIRE(gort_go(order_goroutine, (void *)0) == GORT_OK);
    if (!AWAIT(RECVQ_LEN(order_.c) == 1))
        return;
    pthread_t ot;
    REQUIRE(pthread_create(&ot, NULL, order_thread, (void *)1) == 0);
    if (!AWAIT(RECVQ_LEN(order_.c) == 2))
        return;
    REQUIRE(gort_go(order_goroutine, (void *)2) == GORT_OK);
    if (!AWAIT(RECVQ_LEN(order_.c) == 3))
        return;
    for (int v = 100; v < 103; v++)
        CHECK_EQ(gort_chan_send(order_.c, &v), GORT_OK);
    AWAIT(atomic_load(&order_.done) == 3);
    pthread_join(ot, NULL);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(order_.got[i], 100 + i);
    atomic_store(&keeper_stop, true);
}

TEST(chan_pthreads_and_goroutines)
{
    memset(&th, 0, sizeof th);
    memset(&order_, 0, sizeof order_);
    run_main(2, th_main, NULL);
}

/* ---- channels between plain threads, no runtime running ---- */

static struct {
    gort_chan *ping, *pong;
} pt;

static void *pt_echo(void *arg)
{
    (void)arg;
    int64_t v;
    bool ok;
    for (;;) {
        gort_chan_recv(pt.ping, &v, &ok);
        if (!ok)
            break;
        v++;
        CHECK_EQ(gort_chan_send(pt.pong, &v), GORT_OK);
    }
    return NULL;
}

TEST(chan_threads_without_runtime)
{
    REQUIRE((pt.ping = gort_chan_make_bytes(sizeof(int64_t), 0)) != NULL);
    REQUIRE((pt.pong = gort_chan_make_bytes(sizeof(int64_t), 1)) != NULL);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, pt_echo, NULL) == 0);
    int64_t sum = 0;
    for (int64_t i = 0; i < 2000; i++) {
        int64_t v = i;
        bool ok;
        CHECK_EQ(gort_chan_send(pt.ping, &v), GORT_OK);
        gort_chan_recv(pt.pong, &v, &ok);
        CHECK(ok);
        sum += v;
    }
    CHECK_EQ(gort_chan_close(pt.ping), GORT_OK);
    pthread_join(t, NULL);
    CHECK_EQ(sum, (int64_t)2000 * 1999 / 2 + 2000);
}

/* Threads that come and go, each blocked once in a receive: a thread
 * keeps the sudogs it waited with, and gives them back as it ends. Before,
 * every thread that ended took its own with it (a program starting a
 * thread per task leaked one per task). */
#define COME_AND_GO_THREADS 200

static gort_chan *come_and_go;

static void *come_and_go_thread(void *arg)
{
    (void)arg;
    int64_t v;
    bool ok;
    gort_chan_recv(come_and_go, &v, &ok);
    CHECK(ok && v == 7);
    return NULL;
}

static void come_and_go_round(void)
{
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, come_and_go_thread, NULL) == 0);
    /* The thread waits (with a sudog) before the value comes. */
    AWAIT(RECVQ_LEN(come_and_go) == 1);
    int64_t v = 7;
    CHECK_EQ(gort_chan_send(come_and_go, &v), GORT_OK);
    pthread_join(t, NULL);
}

TEST(chan_threads_that_come_and_go_keep_no_sudogs)
{
    REQUIRE((come_and_go = gort_chan_make_bytes(sizeof(int64_t), 0)) != NULL);
    for (int i = 0; i < 4; i++)
        come_and_go_round();
    gort_memstats before, after;
    gort_read_memstats(&before);
    for (int i = 0; i < COME_AND_GO_THREADS; i++)
        come_and_go_round();
    gort_read_memstats(&after);
    /* (One more is allowed: a thread's exit and the next one's wait may meet.) */
    CHECK(after.goroutine_sys - before.goroutine_sys <= prim_cache_lines_bytes(sizeof(sudog)));
}

/* ---- a thread that holds the runtime open (a JS realm's) ---- */

#define HOLD_ROUNDS 200
#define HOLD_IDLE_NS 20000000 /* the thread's time outside the runtime, holding it open */

static struct {
    gort_chan *to_thread, *to_main;
    _Atomic bool held;
    _Atomic int rounds_done;
    _Atomic bool got_last;
} hopen;

static void *hopen_thread(void *arg)
{
    (void)arg;
    sched_hold_open(true);
    atomic_store(&hopen.held, true);
    int64_t v;
    bool ok;
    for (int i = 0; i < HOLD_ROUNDS; i++) {
        gort_chan_recv(hopen.to_thread, &v, &ok);
        v++;
        gort_chan_send(hopen.to_main, &v);
    }
    /* Outside the runtime, every goroutine blocked: held open, no deadlock. */
    struct timespec idle = {0, HOLD_IDLE_NS};
    nanosleep(&idle, NULL);
    sched_hold_open(false);
    v = -1;
    gort_chan_send(hopen.to_main, &v); /* the buffer's room: never waits */
    return NULL;
}

static void hopen_main(void *arg)
{
    (void)arg;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, hopen_thread, NULL) == 0);
    REQUIRE(pthread_detach(t) == 0);
    /* Before it holds, nothing keeps the runtime open (a sleep's timer does). */
    if (!AWAIT(atomic_load(&hopen.held)))
        return;
    int64_t v;
    bool ok;
    for (int64_t i = 0; i < HOLD_ROUNDS; i++) {
        v = i;
        CHECK_EQ(gort_chan_send(hopen.to_thread, &v), GORT_OK);
        gort_chan_recv(hopen.to_main, &v, &ok);
        CHECK(ok && v == i + 1);
        atomic_fetch_add(&hopen.rounds_done, 1);
    }
    gort_chan_recv(hopen.to_main, &v, &ok);
    atomic_store(&hopen.got_last, ok && v == -1);
    /* Nothing holds the runtime open any more: a deadlock. */
    gort_chan_recv(hopen.to_main, &v, &ok);
    testing_fail(__FILE__, __LINE__, "a receive nothing can serve returned");
}

/* A thread that holds the runtime open keeps it from reporting a deadlock
 * while it runs outside it, counts once however many times it waits in it,
 * and lets go: the deadlock that follows is reported. */
TEST(chan_thread_holding_the_runtime_open)
{
    REQUIRE((hopen.to_thread = gort_chan_make_bytes(sizeof(int64_t), 0)) != NULL);
    REQUIRE((hopen.to_main = gort_chan_make_bytes(sizeof(int64_t), 1)) != NULL);
    gort_config cfg = {.procs = 2};
    CHECK_EQ(gort_main(&cfg, hopen_main, NULL), GORT_EDEADLOCK);
    CHECK_EQ(atomic_load(&hopen.rounds_done), HOLD_ROUNDS);
    CHECK(atomic_load(&hopen.got_last));
}

/* ---- asynchronous waiters (the JS main thread's kind) ---- */

/* Withdrawing a pending asynchronous operation (an aborted JS Promise): it
 * leaves nothing behind when nobody took it, and is refused once a waker has
 * it, which then completes as usual: never a value lost or taken twice. */
TEST(chan_async_cancel_withdraws_only_what_nobody_took)
{
    gort_chan *c, *d;
    REQUIRE((c = gort_chan_make_bytes(sizeof(int), 0)) != NULL);
    REQUIRE((d = gort_chan_make_bytes(sizeof(int), 0)) != NULL);
    int v = 0, x = 5;
    bool received = false;
    sudog *p = NULL;
    /* A receive nobody served: withdrawn, and no longer a receiver. */
    CHECK_EQ(chanrecv_async(c, &v, &received, NULL, &p), GORT_EWOULDBLOCK);
    CHECK(chan_async_cancel(p, false));
    CHECK_EQ(gort_chan_trysend(c, &x), GORT_EWOULDBLOCK);
    /* A receive a sender served: refused; it completes with the value. */
    CHECK_EQ(chanrecv_async(c, &v, &received, NULL, &p), GORT_EWOULDBLOCK);
    CHECK_EQ(gort_chan_trysend(c, &x), GORT_OK);
    CHECK(!chan_async_cancel(p, false));
    CHECK(chan_async_finish(p));
    CHECK_EQ(v, 5);
    /* A send withdrawn is never received. */
    x = 6;
    CHECK_EQ(chansend_async(c, &x, NULL, &p), GORT_EWOULDBLOCK);
    CHECK(chan_async_cancel(p, true));
    CHECK_EQ(gort_chan_tryrecv(c, &v, &received), GORT_EWOULDBLOCK);
    /* Among other waiters: only the withdrawn one leaves the queue. */
    int w1 = 0, w2 = 0;
    sudog *p1 = NULL, *p2 = NULL;
    CHECK_EQ(chanrecv_async(c, &w1, &received, NULL, &p1), GORT_EWOULDBLOCK);
    CHECK_EQ(chanrecv_async(c, &w2, &received, NULL, &p2), GORT_EWOULDBLOCK);
    CHECK(chan_async_cancel(p1, false));
    x = 7;
    CHECK_EQ(gort_chan_trysend(c, &x), GORT_OK);
    CHECK(chan_async_finish(p2));
    CHECK_EQ(w2, 7);
    CHECK_EQ(w1, 0);
    /* A select nobody served: every case withdrawn. */
    gort_select_case cases[2] = {GORT_RECV_CASE(c, &v), GORT_RECV_CASE(d, &v)};
    select_async *a = NULL;
    CHECK_EQ(selectgo_async(cases, 2, NULL, NULL, &a), -GORT_EWOULDBLOCK);
    CHECK(selectgo_async_cancel(a));
    CHECK_EQ(gort_chan_trysend(c, &x), GORT_EWOULDBLOCK);
    CHECK_EQ(gort_chan_trysend(d, &x), GORT_EWOULDBLOCK);
    /* A select whose case fired: refused; it completes with that case. */
    v = 0;
    x = 8;
    CHECK_EQ(selectgo_async(cases, 2, NULL, NULL, &a), -GORT_EWOULDBLOCK);
    CHECK_EQ(gort_chan_trysend(d, &x), GORT_OK);
    CHECK(!selectgo_async_cancel(a));
    CHECK(sudog_async_poll(select_async_sudog(a)));
    CHECK_EQ(selectgo_async_finish(a), 1);
    CHECK_EQ(v, 8);
    CHECK_EQ(gort_chan_trysend(c, &x), GORT_EWOULDBLOCK);
}


/* A plain thread plays the JS main thread: it never blocks in the runtime,
 * it starts operations and polls their wake cells. */
static struct {
    gort_chan *c, *back;
    gort_chan *order; /* goroutine, async, goroutine queue up here */
    int order_got[3];
    atomic_int order_done;
    atomic_int stage;
    atomic_bool order_go; /* the first goroutine is queued: the thread's turn */
    atomic_int errors;
    atomic_uint doorbell;  /* every wake-up of the thread's operations rings it */
    unsigned rings_seen;
} as;

#define AS_EXPECT(cond)                                                                      \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            testing_fail(__FILE__, __LINE__, "%s", #cond);                                   \
            atomic_fetch_add(&as.errors, 1);                                                 \
        }                                                                                    \
    } while (0)

static void as_await(sudog *p)
{
    int64_t deadline = gort_nanotime() + DEADLINE_NS;
    while (!sudog_async_poll(p)) {
        if (gort_nanotime() > deadline) {
            AS_EXPECT(!"an async operation never completed");
            return;
        }
        gort_sleep(100000);
    }
    /* The wake-up rings the doorbell (what a JS realm awaits instead of each
     * operation's cell), right after it sets the cell. */
    while (atomic_load(&as.doorbell) == as.rings_seen && gort_nanotime() < deadline)
        prim_futex_wait(&as.doorbell, as.rings_seen, 1000000);
    unsigned rings = atomic_load(&as.doorbell);
    AS_EXPECT(rings > as.rings_seen);
    as.rings_seen = rings;
}

static void *as_thread(void *arg)
{
    (void)arg;
    sudog *p = NULL;
    int64_t v = -1;
    bool received = false;
    /* Nothing to receive yet: queued. */
    AS_EXPECT(chanrecv_async(as.c, &v, &received, &as.doorbell, &p) == GORT_EWOULDBLOCK && p != NULL);
    atomic_store(&as.stage, 1); /* a goroutine sends now */
    as_await(p);
    AS_EXPECT(chan_async_finish(p));
    AS_EXPECT(v == 42);
    /* The main goroutine waits on `back` (or is about to). */
    int64_t reply = v + 1;
    int r = chansend_async(as.back, &reply, &as.doorbell, &p);
    if (r == GORT_EWOULDBLOCK) {
        as_await(p);
        AS_EXPECT(chan_async_finish(p));
    } else {
        AS_EXPECT(r == GORT_OK);
    }

    /* A send that waits, then is completed by a receiver. */
    int64_t out = 7;
    AS_EXPECT(chansend_async(as.c, &out, &as.doorbell, &p) == GORT_EWOULDBLOCK && p != NULL);
    atomic_store(&as.stage, 2);
    as_await(p);
    AS_EXPECT(chan_async_finish(p)); /* received */
    /* A send that waits, then is failed by close. */
    AS_EXPECT(chansend_async(as.c, &out, &as.doorbell, &p) == GORT_EWOULDBLOCK && p != NULL);
    atomic_store(&as.stage, 3);
    as_await(p);
    AS_EXPECT(!chan_async_finish(p)); /* "send on closed channel" */
    AS_EXPECT(chansend_async(as.c, &out, &as.doorbell, &p) == GORT_ECLOSED);
    v = 5;
    AS_EXPECT(chanrecv_async(as.c, &v, &received, &as.doorbell, &p) == GORT_OK && !received && v == 0);
    /* The nil channel: never. */
    AS_EXPECT(chanrecv_async(NULL, &v, &received, &as.doorbell, &p) == GORT_EWOULDBLOCK && p == NULL);
    AS_EXPECT(chansend_async(NULL, &v, &as.doorbell, &p) == GORT_EWOULDBLOCK && p == NULL);

    /* Arrival order with goroutines: second of three. */
    int64_t wait_until = gort_nanotime() + DEADLINE_NS;
    while (!atomic_load(&as.order_go) && gort_nanotime() < wait_until)
        gort_sleep(100000);
    int ov = -1;
    AS_EXPECT(chanrecv_async(as.order, &ov, &received, &as.doorbell, &p) == GORT_EWOULDBLOCK);
    atomic_store(&as.stage, 4);
    as_await(p);
    AS_EXPECT(chan_async_finish(p)); /* received: a value was sent */
    as.order_got[1] = ov;
    atomic_fetch_add(&as.order_done, 1);
    gort_keepalive(-1);
    return NULL;
}

static void as_order_goroutine(void *arg)
{
    int rank = (int)(intptr_t)arg, v = -1;
    gort_chan_recv(as.order, &v, NULL);
    as.order_got[rank] = v;
    atomic_fetch_add(&as.order_done, 1);
}

static void as_main(void *arg)
{
    (void)arg;
    REQUIRE((as.c = gort_chan_make_bytes(sizeof(int64_t), 0)) != NULL);
    REQUIRE((as.back = gort_chan_make_bytes(sizeof(int64_t), 0)) != NULL);
    REQUIRE((as.order = make_int_chan(0)) != NULL);
    pthread_t t;
    /* The thread wakes goroutines between its async operations, while no
     * goroutine may be runnable: it holds a keepalive meanwhile. */
    gort_keepalive(1);
    REQUIRE(pthread_create(&t, NULL, as_thread, NULL) == 0);
    if (!AWAIT(atomic_load(&as.stage) == 1 && RECVQ_LEN(as.c) == 1))
        return;
    int64_t v = 42;
    CHECK_EQ(gort_chan_send(as.c, &v), GORT_OK);
    /* Parks until the async waiter replies. */
    bool ok;
    gort_chan_recv(as.back, &v, &ok);
    CHECK(ok && v == 43);
    if (!AWAIT(atomic_load(&as.stage) == 2 && SENDQ_LEN(as.c) == 1))
        return;
    gort_chan_recv(as.c, &v, &ok);
    CHECK(ok && v == 7);
    if (!AWAIT(atomic_load(&as.stage) == 3 && SENDQ_LEN(as.c) == 1))
        return;
    CHECK_EQ(gort_chan_close(as.c), GORT_OK);

    REQUIRE(gort_go(as_order_goroutine, (void *)0) == GORT_OK);
    if (!AWAIT(RECVQ_LEN(as.order) == 1))
        return;
    atomic_store(&as.order_go, true);
    if (!AWAIT(atomic_load(&as.stage) == 4 && RECVQ_LEN(as.order) == 2))
        return;
    REQUIRE(gort_go(as_order_goroutine, (void *)2) == GORT_OK);
    if (!AWAIT(RECVQ_LEN(as.order) == 3))
        return;
    for (int i = 100; i < 103; i++)
        CHECK_EQ(gort_chan_send(as.order, &i), GORT_OK);
    AWAIT(atomic_load(&as.order_done) == 3);
    pthread_join(t, NULL);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(as.order_got[i], 100 + i);
}

TEST(chan_async_waiters)
{
    memset(&as, 0, sizeof as);
    run_main(2, as_main, NULL);
    CHECK_EQ(atomic_load(&as.errors), 0);
}


/* Try mode for a select and for withdrawals (the JS main thread's select()
 * and aborts): with one of the channels' locks taken (here by this very
 * thread: a wait would never end), selectgo_async, selectgo_async_finish,
 * selectgo_async_cancel and chan_async_cancel report busy and change
 * nothing (the select lets go of the locks it took); once the lock is free
 * they complete as usual. */
TEST(select_and_cancel_try_mode_never_wait)
{
    gort_chan *c, *d;
    REQUIRE((c = gort_chan_make_bytes(sizeof(int), 0)) != NULL);
    REQUIRE((d = gort_chan_make_bytes(sizeof(int), 0)) != NULL);
    /* The channel locked later in a select's lock order (by address): the
     * other one was taken first and must be let go. */
    gort_chan *later = (uintptr_t)c > (uintptr_t)d ? c : d;
    gort_chan *earlier = later == c ? d : c;
    sched_set_try_mode(true);
    int v = 0, x = 9;
    bool received = false;
    gort_select_case cases[2] = {GORT_RECV_CASE(c, &v), GORT_RECV_CASE(d, &v)};
    select_async *a = NULL;
    lock(&later->lock);
    CHECK_EQ(selectgo_async(cases, 2, NULL, NULL, &a), SELECT_EBUSY);
    CHECK(a == NULL);
    CHECK(lock_try(&earlier->lock));
    unlock(&earlier->lock);
    unlock(&later->lock);
    CHECK_EQ(RECVQ_LEN(c) + RECVQ_LEN(d), 0);
    /* Pending; its withdrawal busy, then done. */
    CHECK_EQ(selectgo_async(cases, 2, NULL, NULL, &a), -GORT_EWOULDBLOCK);
    REQUIRE(a != NULL);
    lock(&later->lock);
    CHECK_EQ(selectgo_async_cancel(a), CHAN_EBUSY);
    unlock(&later->lock);
    CHECK_EQ(RECVQ_LEN(c), 1);
    CHECK_EQ(RECVQ_LEN(d), 1);
    CHECK_EQ(selectgo_async_cancel(a), 1);
    CHECK_EQ(RECVQ_LEN(c) + RECVQ_LEN(d), 0);
    /* Fired through d; its finish busy, then done with d's value. */
    CHECK_EQ(selectgo_async(cases, 2, NULL, NULL, &a), -GORT_EWOULDBLOCK);
    REQUIRE(a != NULL);
    sudog *p = NULL;
    CHECK_EQ(chansend_async(d, &x, NULL, &p), GORT_OK);
    CHECK(sudog_async_poll(select_async_sudog(a)));
    lock(&later->lock);
    CHECK_EQ(selectgo_async_finish(a), SELECT_EBUSY);
    unlock(&later->lock);
    CHECK_EQ(RECVQ_LEN(c), 1); /* the case that did not fire is still queued */
    CHECK_EQ(selectgo_async_finish(a), 1);
    CHECK_EQ(v, 9);
    CHECK_EQ(RECVQ_LEN(c) + RECVQ_LEN(d), 0);
    /* A channel operation's withdrawal: busy, still queued; then withdrawn. */
    CHECK_EQ(chanrecv_async(c, &v, &received, NULL, &p), GORT_EWOULDBLOCK);
    lock(&c->lock);
    CHECK_EQ(chan_async_cancel(p, false), CHAN_EBUSY);
    unlock(&c->lock);
    CHECK_EQ(RECVQ_LEN(c), 1);
    CHECK_EQ(chan_async_cancel(p, false), 1);
    CHECK_EQ(RECVQ_LEN(c), 0);
    sched_set_try_mode(false);
}

/* Try mode (runtime2.h): a plain thread that must never wait for a lock (the
 * JS main thread) finds a channel's lock taken and gets CHAN_EBUSY with
 * nothing done; and every goroutine its hand-offs wake is readied, now or
 * from the deferred readies it flushes, while goroutines keep the
 * scheduler's lock busy. */
#define TM_HANDOFFS 2000
#define TM_YIELDERS 2

static struct {
    gort_chan *c;
    atomic_bool done;
    atomic_int errors;
    int64_t sum;
    int deferred_seen; /* hand-offs after which a ready was still deferred */
} tm;

#define TM_EXPECT(cond)                                                                      \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            testing_fail(__FILE__, __LINE__, "%s", #cond);                                   \
            atomic_fetch_add(&tm.errors, 1);                                                 \
        }                                                                                    \
    } while (0)

/* Waits for p as the JS main thread does, flushing the deferred readies
 * meanwhile (its owner must: a goroutine among them runs only then). */
static void tm_await(sudog *p)
{
    int64_t deadline = gort_nanotime() + DEADLINE_NS;
    while (!sudog_async_poll(p) && gort_nanotime() < deadline) {
        sched_flush_deferred();
        prim_osyield();
    }
    TM_EXPECT(sudog_async_poll(p));
}

static void *tm_thread(void *arg)
{
    (void)arg;
    sched_set_try_mode(true);
    sudog *p = NULL;
    int64_t v = 1;
    /* The channel's lock taken (here, by this very thread: a wait would
     * never end): busy, and nothing queued. The queues are read under the
     * lock: the receiver goroutine may queue itself at any moment before. */
    lock(&tm.c->lock);
    int receivers = queue_len_locked(tm.c, false);
    TM_EXPECT(chansend_async(tm.c, &v, NULL, &p) == CHAN_EBUSY && p == NULL);
    bool received = false;
    TM_EXPECT(chanrecv_async(tm.c, &v, &received, NULL, &p) == CHAN_EBUSY && p == NULL);
    TM_EXPECT(queue_len_locked(tm.c, true) == 0 && queue_len_locked(tm.c, false) == receivers);
    unlock(&tm.c->lock);
    for (int64_t i = 1; i <= TM_HANDOFFS; i++) {
        v = i;
        int r;
        while ((r = chansend_async(tm.c, &v, NULL, &p)) == CHAN_EBUSY)
            prim_osyield();
        if (r == GORT_EWOULDBLOCK) {
            tm_await(p);
            TM_EXPECT(chan_async_finish(p));
        } else {
            TM_EXPECT(r == GORT_OK);
        }
        if (sched_flush_deferred() > 0)
            tm.deferred_seen++;
    }
    /* Whatever waits among the deferred readies is readied once the lock is free. */
    int64_t deadline = gort_nanotime() + DEADLINE_NS;
    while (sched_flush_deferred() > 0 && gort_nanotime() < deadline)
        prim_osyield();
    TM_EXPECT(sched_deferred_count() == 0);
    sched_set_try_mode(false);
    gort_keepalive(-1);
    return NULL;
}

static void tm_receiver(void *arg)
{
    (void)arg;
    int64_t v;
    bool ok;
    for (int i = 0; i < TM_HANDOFFS; i++) {
        gort_chan_recv(tm.c, &v, &ok);
        tm.sum += v;
    }
    atomic_store(&tm.done, true);
}

static void tm_yielder(void *arg)
{
    (void)arg;
    /* Timers and idle ms: the scheduler's lock, taken over and over. */
    while (!atomic_load(&tm.done))
        gort_sleep(1000);
}

static void tm_main(void *arg)
{
    (void)arg;
    REQUIRE((tm.c = gort_chan_make_bytes(sizeof(int64_t), 0)) != NULL);
    REQUIRE(gort_go(tm_receiver, NULL) == GORT_OK);
    for (int i = 0; i < TM_YIELDERS; i++)
        REQUIRE(gort_go(tm_yielder, NULL) == GORT_OK);
    gort_keepalive(1); /* the thread's hand-offs wake goroutines meanwhile */
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, tm_thread, NULL) == 0);
    AWAIT(atomic_load(&tm.done));
    pthread_join(t, NULL);
}

TEST(chan_try_mode_never_waits_and_defers_readies)
{
    memset(&tm, 0, sizeof tm);
    run_main(2, tm_main, NULL);
    CHECK_EQ(atomic_load(&tm.errors), 0);
    CHECK(atomic_load(&tm.done));
    CHECK_EQ(tm.sum, (int64_t)TM_HANDOFFS * (TM_HANDOFFS + 1) / 2);
    printf("    %d of %d hand-offs left a deferred ready behind\n", tm.deferred_seen, TM_HANDOFFS);
}
