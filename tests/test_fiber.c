/*
 * test_fiber.c — tests of prim/fiber.h: switching on one thread, a new
 * fiber's argument and the reuse of stacks, fibers migrating between threads,
 * deep call chains suspended and resumed, threads (pool workers on wasm)
 * reused after fibers, a thread that returns from its start routine after
 * switching, on wasm the fatal errors of fibers resumed when they must not
 * be, and natively the floating-point control state of each fiber and the
 * guard page of a stack.
 *
 * Every test runs its fibers on threads it creates; most end them with
 * pthread_exit (which a thread that switched must be able to use), one
 * returns. A thread-local is read only through a non-inlined call after a
 * switch, since the code after a switch may be running on another thread.
 *
 * The ping-pong test prints the cost of a switch (not asserted); the deep
 * recursion test prints what a suspended frame costs.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prim/fiber.h"
#include "prim/prim.h"
#include "testing.h"

#define THREAD_DEADLINE_NS (300 * (int64_t)1000000000)

/* ---- threads that end with pthread_exit, joined with a deadline ---- */

struct test_thread {
    void (*fn)(void *);
    void *arg;
    atomic_int done;
    pthread_t id;
};

static void *test_thread_main(void *p)
{
    struct test_thread *t = p;
    t->fn(t->arg);
    atomic_store(&t->done, 1);
    pthread_exit(NULL);
}

static bool thread_start(struct test_thread *t, void (*fn)(void *), void *arg)
{
    t->fn = fn;
    t->arg = arg;
    atomic_init(&t->done, 0);
    return pthread_create(&t->id, NULL, test_thread_main, t) == 0;
}

/* A thread stuck in a broken switch must fail the test, not hang it. */
static bool thread_join(struct test_thread *t)
{
    int64_t deadline = prim_nanotime() + THREAD_DEADLINE_NS;
    while (!atomic_load(&t->done)) {
        if (prim_nanotime() > deadline)
            return false;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    pthread_join(t->id, NULL);
    return true;
}

static uint64_t checksum(const uint64_t *words, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ words[i]) * 0x100000001b3ull;
    return h;
}

/* ---- ping-pong on one thread ---- */

enum {
    PING_PONG_ROUNDS = 50000,     /* two switches a round: 100,000 */
    PING_PONG_THREAD_EVERY = 1000, /* how often ping visits the thread fiber */
    PING_PONG_STACK = 64 * 1024,
    PING_LOCALS = 32,
    PONG_LOCALS = 17,
};

struct ping_pong {
    prim_fiber thread, ping, pong, bare;
    long switches;
    long errors;
    bool ping_done;
    double ping_sum;
    size_t thread_saved, shallow_saved; /* bytes saved by suspended fibers */
};

static void ping_entry(void *arg)
{
    struct ping_pong *pp = arg;
    uint64_t seed = 1, local[PING_LOCALS];
    for (int i = 0; i < PING_LOCALS; i++)
        local[i] = testing_rand(&seed);
    volatile uint64_t *inner = &local[5];
    double sum = 0;
    for (long i = 0; i < PING_PONG_ROUNDS; i++) {
        local[i % PING_LOCALS] += (uint64_t)i;
        sum += 0.5;
        uint64_t expect = checksum(local, PING_LOCALS), expect_inner = *inner;
        pp->switches++;
        prim_fiber_switch(&pp->ping, &pp->pong);
        if (checksum(local, PING_LOCALS) != expect || *inner != expect_inner)
            pp->errors++;
        if (i == 1) {
            pp->thread_saved = prim_fiber_saved_bytes(&pp->thread);
            pp->shallow_saved = prim_fiber_saved_bytes(&pp->pong);
        }
        if (i % PING_PONG_THREAD_EVERY == 0) {
            pp->switches++;
            prim_fiber_switch(&pp->ping, &pp->thread);
            if (checksum(local, PING_LOCALS) != expect)
                pp->errors++;
        }
    }
    pp->ping_sum = sum;
    pp->ping_done = true;
    pp->switches++;
    prim_fiber_exit(&pp->ping, &pp->thread);
}

static void pong_entry(void *arg)
{
    struct ping_pong *pp = arg;
    uint64_t seed = 2, local[PONG_LOCALS];
    for (int i = 0; i < PONG_LOCALS; i++)
        local[i] = testing_rand(&seed);
    long rounds = 0;
    while (!pp->ping_done) {
        local[rounds % PONG_LOCALS] ^= (uint64_t)rounds << 7;
        uint64_t expect = checksum(local, PONG_LOCALS);
        rounds++;
        pp->switches++;
        prim_fiber_switch(&pp->pong, &pp->ping);
        if (checksum(local, PONG_LOCALS) != expect)
            pp->errors++;
    }
    if (rounds != PING_PONG_ROUNDS)
        pp->errors++;
    pp->switches++;
    prim_fiber_exit(&pp->pong, &pp->thread);
}

/* Switches straight back, for ever: the cost of a switch alone. */
static void bare_entry(void *arg)
{
    struct ping_pong *pp = arg;
    for (;;)
        prim_fiber_switch(&pp->bare, &pp->thread);
}

/* ns per switch between the thread and a fiber that does nothing else. */
static double bare_switch_ns(struct ping_pong *pp, void *stack)
{
    prim_fiber_init(&pp->bare, stack, PING_PONG_STACK, bare_entry, pp);
    prim_fiber_switch(&pp->thread, &pp->bare); /* first entry, not timed */
    int64_t start = prim_nanotime();
    for (long i = 0; i < PING_PONG_ROUNDS; i++)
        prim_fiber_switch(&pp->thread, &pp->bare);
    int64_t elapsed = prim_nanotime() - start;
    prim_fiber_destroy(&pp->bare); /* abandoned while suspended */
    return (double)elapsed / (2.0 * PING_PONG_ROUNDS);
}

static void ping_pong_thread(void *arg)
{
    struct ping_pong *pp = arg;
    void *ping_stack = prim_stack_alloc(PING_PONG_STACK);
    void *pong_stack = prim_stack_alloc(PING_PONG_STACK);
    if (ping_stack == NULL || pong_stack == NULL) {
        pp->errors++;
        return;
    }
    prim_fiber_init_thread(&pp->thread);
    prim_fiber_init(&pp->ping, ping_stack, PING_PONG_STACK, ping_entry, pp);
    prim_fiber_init(&pp->pong, pong_stack, PING_PONG_STACK, pong_entry, pp);

    uint64_t seed = 3, local[8];
    for (int i = 0; i < 8; i++)
        local[i] = testing_rand(&seed);
    uint64_t expect = checksum(local, 8);
    int64_t start = prim_nanotime();
    while (!pp->ping_done) {
        pp->switches++;
        prim_fiber_switch(&pp->thread, &pp->ping);
        if (checksum(local, 8) != expect)
            pp->errors++;
    }
    int64_t elapsed = prim_nanotime() - start;
    pp->switches++;
    prim_fiber_switch(&pp->thread, &pp->pong); /* lets pong see ping_done and exit */
    printf("    %ld checked switches, %.1f ns each with the checks; saved while suspended:"
           " %zu bytes by a fiber in its entry function, %zu by the thread\n",
           pp->switches, (double)elapsed / (double)pp->switches, pp->shallow_saved,
           pp->thread_saved);
    printf("    a switch alone: %.1f ns\n", bare_switch_ns(pp, ping_stack));

    prim_fiber_destroy(&pp->ping);
    prim_fiber_destroy(&pp->pong);
    prim_fiber_destroy(&pp->thread);
    prim_stack_free(ping_stack, PING_PONG_STACK);
    prim_stack_free(pong_stack, PING_PONG_STACK);
}

TEST(fiber_ping_pong)
{
    static struct ping_pong pp;
    memset(&pp, 0, sizeof pp);
    struct test_thread t;
    REQUIRE(thread_start(&t, ping_pong_thread, &pp));
    REQUIRE(thread_join(&t));
    CHECK_EQ(pp.errors, 0);
    CHECK(pp.ping_done);
    CHECK(pp.switches >= 2 * PING_PONG_ROUNDS);
    CHECK(pp.ping_sum == 0.5 * PING_PONG_ROUNDS);
    CHECK(pp.shallow_saved > 0 && pp.shallow_saved < PING_PONG_STACK);
#ifdef __EMSCRIPTEN__
    CHECK_EQ(pp.thread_saved, 0); /* a thread's own fiber never unwinds */
#else
    CHECK(pp.thread_saved > 0);
#endif
}

/* ---- a new fiber's argument; stacks reused by a second generation ---- */

enum { GEN_FIBERS = 6, GEN_STACK = 128 * 1024, GEN_DEPTH = 24, GEN_VISITS = 3 };

struct gen_record {
    struct generations *gens;
    int index;
    void *arg_seen;
    int visits;
    bool finished;
    long errors;
    uint64_t result;
};

struct generations {
    prim_fiber thread;
    prim_fiber fibers[GEN_FIBERS];
    void *stacks[GEN_FIBERS];
    struct gen_record records[GEN_FIBERS];
    struct gen_record *running[GEN_FIBERS]; /* the record each fiber runs */
    int current;   /* which fiber the thread is running */
    long errors;
    size_t saved_min, saved_max;
};

/* First generation: frames full of arrays (ASan puts redzones around them),
 * left behind, never unwound: by an exit from the deepest one, or by staying
 * suspended there for ever. */
static __attribute__((noinline)) void gen1_descend(struct gen_record *r, int depth)
{
    volatile uint64_t pad[6];
    for (int i = 0; i < 6; i++)
        pad[i] = (uint64_t)depth * 6 + (uint64_t)i;
    if (depth > GEN_DEPTH) /* never: tells the compiler the recursion ends */
        return;
    if (depth < GEN_DEPTH) {
        gen1_descend(r, depth + 1);
    } else {
        struct generations *g = r->gens;
        prim_fiber *self = &g->fibers[g->current];
        for (r->visits = 0; r->visits < GEN_VISITS; r->visits++)
            prim_fiber_switch(self, &g->thread);
        r->finished = true;
        /* Neither way unwinds these frames: odd fibers exit, even ones stay
         * suspended here and are abandoned. */
        if (r->index % 2 == 1)
            prim_fiber_exit(self, &g->thread);
        prim_fiber_switch(self, &g->thread);
        r->errors++; /* resumed after being abandoned */
    }
    (void)pad[0];
}

static void gen1_entry(void *arg)
{
    struct gen_record *r = arg;
    r->arg_seen = arg;
    gen1_descend(r, 0);
}

/* Second generation: different frames on the same stacks, with structs
 * passed by value (the caller's outgoing argument area is not part of any
 * ASan-instrumented frame, so stale poison there would be reported). */
struct gen_block {
    uint64_t words[12];
};

static __attribute__((noinline)) uint64_t gen2_descend(struct gen_record *r, struct gen_block b,
                                                        int depth)
{
    uint64_t local[3] = {b.words[0], b.words[11], (uint64_t)depth};
    uint64_t below = 0;
    if (depth < GEN_DEPTH) {
        struct gen_block next = b;
        for (int i = 0; i < 12; i++)
            next.words[i] += (uint64_t)depth;
        below = gen2_descend(r, next, depth + 1);
    } else {
        struct generations *g = r->gens;
        for (r->visits = 0; r->visits < GEN_VISITS; r->visits++)
            prim_fiber_switch(&g->fibers[g->current], &g->thread);
    }
    return below + local[0] + local[1] + local[2];
}

static void gen2_entry(void *arg)
{
    struct gen_record *r = arg;
    r->arg_seen = arg;
    struct gen_block b;
    for (int i = 0; i < 12; i++)
        b.words[i] = (uint64_t)r->index * 100 + (uint64_t)i;
    r->result = gen2_descend(r, b, 0);
    r->finished = true;
    struct generations *g = r->gens;
    prim_fiber_exit(&g->fibers[g->current], &g->thread);
}

/* What gen2_descend computes, without fibers. */
static uint64_t gen2_expected(int index)
{
    uint64_t total = 0, w0 = (uint64_t)index * 100, w11 = w0 + 11;
    for (int depth = 0; depth <= GEN_DEPTH; depth++) {
        total += w0 + w11 + (uint64_t)depth;
        w0 += (uint64_t)depth;
        w11 += (uint64_t)depth;
    }
    return total;
}

/* Runs every fiber of a generation round-robin until all have exited. */
static void run_generation(struct generations *g)
{
    for (bool any = true; any;) {
        any = false;
        for (int i = 0; i < GEN_FIBERS; i++) {
            struct gen_record *r = g->running[i];
            if (r->finished)
                continue;
            any = true;
            g->current = i;
            prim_fiber_switch(&g->thread, &g->fibers[i]);
            if (!r->finished) {
                size_t saved = prim_fiber_saved_bytes(&g->fibers[i]);
                if (saved < g->saved_min)
                    g->saved_min = saved;
                if (saved > g->saved_max)
                    g->saved_max = saved;
            }
        }
    }
}

static void generations_thread(void *arg)
{
    struct generations *g = arg;
    prim_fiber_init_thread(&g->thread);
    g->saved_min = (size_t)-1;

    for (int i = 0; i < GEN_FIBERS; i++) {
        g->stacks[i] = prim_stack_alloc(GEN_STACK);
        if (g->stacks[i] == NULL) {
            g->errors++;
            return;
        }
        g->records[i] = (struct gen_record){.gens = g, .index = i};
        g->running[i] = &g->records[i];
        prim_fiber_init(&g->fibers[i], g->stacks[i], GEN_STACK, gen1_entry, &g->records[i]);
    }
    run_generation(g);
    for (int i = 0; i < GEN_FIBERS; i++) {
        if (g->records[i].arg_seen != &g->records[i] || g->records[i].visits != GEN_VISITS ||
            g->records[i].errors != 0)
            g->errors++;
        prim_fiber_destroy(&g->fibers[i]);
    }

    /* The same stacks and fiber structs, each with another record. A stale
     * redzone left on a reused stack would make ASan report the new frames. */
    for (int i = 0; i < GEN_FIBERS; i++) {
        int r = GEN_FIBERS - 1 - i;
        g->records[r] = (struct gen_record){.gens = g, .index = r};
        g->running[i] = &g->records[r];
        prim_fiber_init(&g->fibers[i], g->stacks[i], GEN_STACK, gen2_entry, &g->records[r]);
    }
    run_generation(g);
    for (int i = 0; i < GEN_FIBERS; i++) {
        struct gen_record *r = &g->records[i];
        if (r->arg_seen != r || r->visits != GEN_VISITS || r->result != gen2_expected(r->index))
            g->errors++;
        prim_fiber_destroy(&g->fibers[i]);
        prim_stack_free(g->stacks[i], GEN_STACK);
    }
    prim_fiber_destroy(&g->thread);
}

TEST(fiber_entry_arg_and_stack_reuse)
{
    static struct generations g;
    memset(&g, 0, sizeof g);
    struct test_thread t;
    REQUIRE(thread_start(&t, generations_thread, &g));
    REQUIRE(thread_join(&t));
    CHECK_EQ(g.errors, 0);
    for (int i = 0; i < GEN_FIBERS; i++) {
        CHECK(g.records[i].finished);
        CHECK_EQ(g.records[i].result, gen2_expected(i));
    }
    /* A suspended fiber's saved state is something, and inside its stack. */
    CHECK(g.saved_min > 0);
    CHECK(g.saved_max < GEN_STACK);
}

/* ---- migration between threads ---- */

enum {
    MIG_THREADS = 3,
    MIG_FIBERS = 48,
    MIG_ROUNDS = 100,
    MIG_STACK = 64 * 1024,
    MIG_LOCALS = 24,
    MIG_STAY_EVERY = 4, /* every 4th fiber may also resume where it last ran */
};

static _Thread_local int worker_index = -1;

/* Which test thread is running the caller, read afresh on every call. */
static __attribute__((noinline)) int current_worker(void)
{
    return *(volatile int *)&worker_index;
}

struct mig_fiber {
    prim_fiber fiber;
    void *stack;
    int id;
    bool may_stay;        /* may resume on the thread it last ran on */
    prim_fiber *home;     /* the fiber of the thread running it */
    int home_worker;      /* that thread's index */
    int last_worker;      /* -1 before its first run */
    int rounds;
    bool finished;
    long migrations, stays, errors;
    signed char ran_on[MIG_ROUNDS];
};

struct mig_world {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct mig_fiber *queue[MIG_FIBERS];
    int queued;
    int finished;
    struct mig_fiber fibers[MIG_FIBERS];
};

struct mig_thread_arg {
    struct mig_world *world;
    int index;
    long resumed;
};

static void mig_entry(void *arg)
{
    struct mig_fiber *m = arg;
    uint64_t seed = (uint64_t)m->id + 100, local[MIG_LOCALS];
    for (int i = 0; i < MIG_LOCALS; i++)
        local[i] = testing_rand(&seed);
    volatile uint64_t *inner = &local[7];
    uint64_t inner_expect = *inner, expect = checksum(local, MIG_LOCALS);
    int last = -1;
    for (int r = 0; r < MIG_ROUNDS; r++) {
        int w = current_worker();
        m->ran_on[r] = (signed char)w;
        if (w != m->home_worker)
            m->errors++;
        if (last >= 0) {
            if (w != last)
                m->migrations++;
            else if (m->may_stay)
                m->stays++;
            else
                m->errors++;
        }
        if (checksum(local, MIG_LOCALS) != expect || *inner != inner_expect)
            m->errors++;
        local[r % MIG_LOCALS] = local[r % MIG_LOCALS] * 31 + (uint64_t)w;
        if (r % MIG_LOCALS == 7)
            inner_expect = *inner;
        expect = checksum(local, MIG_LOCALS);
        last = w;
        m->last_worker = w;
        m->rounds++;
        prim_fiber_switch(&m->fiber, m->home);
    }
    if (checksum(local, MIG_LOCALS) != expect)
        m->errors++;
    m->finished = true;
    prim_fiber_exit(&m->fiber, m->home);
}

/* Takes the first queued fiber this thread may run: one that last ran
 * elsewhere, unless it may stay. NULL when every fiber has finished. */
static struct mig_fiber *mig_take(struct mig_world *w, int self)
{
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->finished == MIG_FIBERS) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        for (int i = 0; i < w->queued; i++) {
            struct mig_fiber *m = w->queue[i];
            if (m->last_worker != self || m->may_stay) {
                memmove(&w->queue[i], &w->queue[i + 1], (size_t)(w->queued - i - 1) * sizeof m);
                w->queued--;
                pthread_mutex_unlock(&w->mu);
                return m;
            }
        }
        pthread_cond_wait(&w->cv, &w->mu);
    }
}

static void mig_put_back(struct mig_world *w, struct mig_fiber *m)
{
    pthread_mutex_lock(&w->mu);
    if (m->finished)
        w->finished++;
    else
        w->queue[w->queued++] = m;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void mig_thread(void *arg)
{
    struct mig_thread_arg *t = arg;
    worker_index = t->index;
    prim_fiber self;
    prim_fiber_init_thread(&self);
    for (struct mig_fiber *m; (m = mig_take(t->world, t->index)) != NULL;) {
        m->home = &self;
        m->home_worker = t->index;
        prim_fiber_switch(&self, &m->fiber);
        t->resumed++;
        mig_put_back(t->world, m);
    }
    prim_fiber_destroy(&self);
}

TEST(fiber_migration)
{
    static struct mig_world w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    for (int i = 0; i < MIG_FIBERS; i++) {
        struct mig_fiber *m = &w.fibers[i];
        m->id = i;
        m->may_stay = i % MIG_STAY_EVERY == 0;
        m->last_worker = -1;
        m->stack = prim_stack_alloc(MIG_STACK);
        REQUIRE(m->stack != NULL);
        prim_fiber_init(&m->fiber, m->stack, MIG_STACK, mig_entry, m);
        w.queue[w.queued++] = m;
    }

    struct test_thread threads[MIG_THREADS];
    struct mig_thread_arg args[MIG_THREADS];
    int64_t start = prim_nanotime();
    for (int i = 0; i < MIG_THREADS; i++) {
        args[i] = (struct mig_thread_arg){.world = &w, .index = i};
        REQUIRE(thread_start(&threads[i], mig_thread, &args[i]));
    }
    for (int i = 0; i < MIG_THREADS; i++)
        REQUIRE(thread_join(&threads[i]));
    int64_t elapsed = prim_nanotime() - start;

    long migrations = 0, stays = 0, resumed = 0;
    for (int i = 0; i < MIG_THREADS; i++)
        resumed += args[i].resumed;
    for (int i = 0; i < MIG_FIBERS; i++) {
        struct mig_fiber *m = &w.fibers[i];
        CHECK_EQ(m->errors, 0);
        CHECK(m->finished);
        CHECK_EQ(m->rounds, MIG_ROUNDS);
        /* Recorded history: a pinned-out fiber changed thread every time. */
        int changes = 0;
        for (int r = 1; r < MIG_ROUNDS; r++)
            changes += m->ran_on[r] != m->ran_on[r - 1];
        CHECK_EQ(changes, m->migrations);
        if (!m->may_stay)
            CHECK_EQ(m->migrations, MIG_ROUNDS - 1);
        migrations += m->migrations;
        stays += m->stays;
        prim_fiber_destroy(&m->fiber);
        prim_stack_free(m->stack, MIG_STACK);
    }
    CHECK_EQ(resumed, MIG_FIBERS * (MIG_ROUNDS + 1));
    CHECK_EQ(migrations + stays, MIG_FIBERS * (MIG_ROUNDS - 1));
    CHECK(migrations >= 3000);
    printf("    %ld resumptions on another thread, %ld on the same, %.0f ns per round trip\n",
           migrations, stays, (double)elapsed / (double)resumed);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
}

/* ---- a deep call chain suspended at depth ---- */

/* Frames take up to 528 bytes (clang -O0 with ASan): 2,001 of them fit. */
enum { DEEP_DEPTH = 2000, DEEP_SWITCH_EVERY = 250, DEEP_STACK = 4 * 1024 * 1024 };

struct deep {
    prim_fiber thread, fiber;
    void *stack;
    char *entry_frame;      /* a local of the fiber's entry function */
    int switches;
    long errors;
    uint64_t result;
    size_t saved_at_depth;  /* saved bytes while suspended at the deepest frame */
    size_t stack_at_depth;  /* C stack in use at the deepest frame */
    bool finished;
};

static __attribute__((noinline)) uint64_t deep_recurse(struct deep *d, int depth)
{
    volatile uint64_t frame[4];
    for (int i = 0; i < 4; i++)
        frame[i] = (uint64_t)depth * 31 + (uint64_t)i;
    uint64_t below = 0;
    if (depth < DEEP_DEPTH) {
        below = deep_recurse(d, depth + 1);
    } else {
        d->stack_at_depth = (size_t)(d->entry_frame - (char *)&frame[0]);
        d->saved_at_depth = 1; /* tells the thread to measure this suspension */
    }
    if (depth % DEEP_SWITCH_EVERY == 0 || depth == DEEP_DEPTH) {
        d->switches++;
        prim_fiber_switch(&d->fiber, &d->thread);
    }
    for (int i = 0; i < 4; i++)
        if (frame[i] != (uint64_t)depth * 31 + (uint64_t)i)
            d->errors++;
    return below + frame[0] + frame[3];
}

static void deep_entry(void *arg)
{
    struct deep *d = arg;
    volatile char here = 0;
    d->entry_frame = (char *)&here;
    d->result = deep_recurse(d, 0);
    d->finished = true;
    prim_fiber_exit(&d->fiber, &d->thread);
}

static void deep_thread(void *arg)
{
    struct deep *d = arg;
    prim_fiber_init_thread(&d->thread);
    d->stack = prim_stack_alloc(DEEP_STACK);
    if (d->stack == NULL) {
        d->errors++;
        return;
    }
    prim_fiber_init(&d->fiber, d->stack, DEEP_STACK, deep_entry, d);
    while (!d->finished) {
        prim_fiber_switch(&d->thread, &d->fiber);
        if (d->saved_at_depth == 1)
            d->saved_at_depth = prim_fiber_saved_bytes(&d->fiber);
    }
    prim_fiber_destroy(&d->fiber);
    prim_fiber_destroy(&d->thread);
    prim_stack_free(d->stack, DEEP_STACK);
}

TEST(fiber_deep_recursion)
{
    static struct deep d;
    memset(&d, 0, sizeof d);
    struct test_thread t;
    REQUIRE(thread_start(&t, deep_thread, &d));
    REQUIRE(thread_join(&t));
    uint64_t expect = 0;
    for (int depth = 0; depth <= DEEP_DEPTH; depth++)
        expect += (uint64_t)depth * 31 * 2 + 3;
    CHECK_EQ(d.errors, 0);
    CHECK(d.finished);
    CHECK_EQ(d.result, expect);
    /* At every multiple of DEEP_SWITCH_EVERY (0 included) and the deepest. */
    int switch_depths = DEEP_DEPTH / DEEP_SWITCH_EVERY + 1 + (DEEP_DEPTH % DEEP_SWITCH_EVERY != 0);
    CHECK_EQ(d.switches, switch_depths);
    printf("    suspended %d frames deep: %zu bytes saved (%.1f per frame), "
           "%zu bytes of C stack (%.1f per frame)\n",
           DEEP_DEPTH + 1, d.saved_at_depth, (double)d.saved_at_depth / (DEEP_DEPTH + 1),
           d.stack_at_depth, (double)d.stack_at_depth / (DEEP_DEPTH + 1));
}

/* ---- pool workers reused by threads that used fibers ---- */

enum { REUSE_THREADS = 12 }; /* more than the wasm pool of 8 workers */

struct reuse {
    prim_fiber thread, fiber;
    int visits;
    bool finished;
};

static void reuse_entry(void *arg)
{
    struct reuse *r = arg;
    for (r->visits = 0; r->visits < 3; r->visits++)
        prim_fiber_switch(&r->fiber, &r->thread);
    r->finished = true;
    prim_fiber_exit(&r->fiber, &r->thread);
}

static void reuse_thread(void *arg)
{
    struct reuse *r = arg;
    void *stack = prim_stack_alloc(PRIM_FIBER_MIN_STACK * 2);
    if (stack == NULL)
        return;
    prim_fiber_init_thread(&r->thread);
    prim_fiber_init(&r->fiber, stack, PRIM_FIBER_MIN_STACK * 2, reuse_entry, r);
    while (!r->finished)
        prim_fiber_switch(&r->thread, &r->fiber);
    prim_fiber_destroy(&r->fiber);
    prim_fiber_destroy(&r->thread);
    prim_stack_free(stack, PRIM_FIBER_MIN_STACK * 2);
}

TEST(fiber_thread_reuse)
{
    /* One thread at a time, so that wasm runs each on a reused worker. */
    for (int i = 0; i < REUSE_THREADS; i++) {
        static struct reuse r;
        memset(&r, 0, sizeof r);
        struct test_thread t;
        REQUIRE(thread_start(&t, reuse_thread, &r));
        REQUIRE(thread_join(&t));
        CHECK(r.finished);
        CHECK_EQ(r.visits, 3);
    }
}

/* ---- a thread that switched returns from its start routine ---- */

enum { RETURN_VISITS = 5 };

struct returner {
    prim_fiber thread, fiber;
    int visits;
    bool finished;
};

static void returner_entry(void *arg)
{
    struct returner *r = arg;
    for (r->visits = 0; r->visits < RETURN_VISITS; r->visits++)
        prim_fiber_switch(&r->fiber, &r->thread);
    r->finished = true;
    prim_fiber_exit(&r->fiber, &r->thread);
}

static void *returner_thread(void *arg)
{
    struct returner *r = arg;
    void *stack = prim_stack_alloc(PRIM_FIBER_MIN_STACK * 2);
    if (stack == NULL)
        return NULL;
    prim_fiber_init_thread(&r->thread);
    prim_fiber_init(&r->fiber, stack, PRIM_FIBER_MIN_STACK * 2, returner_entry, r);
    while (!r->finished)
        prim_fiber_switch(&r->thread, &r->fiber);
    prim_fiber_destroy(&r->fiber);
    prim_fiber_destroy(&r->thread);
    prim_stack_free(stack, PRIM_FIBER_MIN_STACK * 2);
    return r; /* what pthread_join must see */
}

TEST(fiber_thread_returns_from_its_start_routine)
{
    static struct returner r;
    memset(&r, 0, sizeof r);
    pthread_t id;
    REQUIRE(pthread_create(&id, NULL, returner_thread, &r) == 0);
    void *result = NULL;
    REQUIRE(pthread_join(id, &result) == 0);
    CHECK(result == &r);
    CHECK(r.finished);
    CHECK_EQ(r.visits, RETURN_VISITS);
}

/* ---- wasm: fibers resumed when they must not be stop the program ---- */

#ifdef __EMSCRIPTEN__
struct misuse {
    prim_fiber thread, fiber;
    void *stack;
};

static void misuse_exit_entry(void *arg)
{
    struct misuse *m = arg;
    prim_fiber_exit(&m->fiber, &m->thread);
}

static void misuse_thread(void *arg)
{
    struct misuse *m = arg;
    m->stack = prim_stack_alloc(PRIM_FIBER_MIN_STACK * 2);
    if (m->stack == NULL)
        return;
    prim_fiber_init_thread(&m->thread);
    prim_fiber_init(&m->fiber, m->stack, PRIM_FIBER_MIN_STACK * 2, misuse_exit_entry, m);
    prim_fiber_switch(&m->thread, &m->fiber);
    prim_fiber_switch(&m->thread, &m->fiber); /* it exited: fatal */
    printf("resumed an exited fiber without an error\n");
}

WASM_DEATH_TEST(fiber_resuming_an_exited_fiber_is_fatal, "fatal error: runtime: resuming a fiber that exited")
{
    static struct misuse m;
    struct test_thread t;
    REQUIRE(thread_start(&t, misuse_thread, &m));
    thread_join(&t);
}

/* A fiber running on one thread that another thread tries to resume. */
static struct {
    prim_fiber runner, thief, fiber;
    atomic_int running;
} contested;

static void contested_entry(void *arg)
{
    (void)arg;
    atomic_store(&contested.running, 1);
    for (;;) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

static void contested_runner(void *arg)
{
    (void)arg;
    void *stack = prim_stack_alloc(PRIM_FIBER_MIN_STACK * 2);
    if (stack == NULL)
        return;
    prim_fiber_init_thread(&contested.runner);
    prim_fiber_init(&contested.fiber, stack, PRIM_FIBER_MIN_STACK * 2, contested_entry, NULL);
    prim_fiber_switch(&contested.runner, &contested.fiber);
}

static void contested_thief(void *arg)
{
    (void)arg;
    while (!atomic_load(&contested.running)) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    prim_fiber_init_thread(&contested.thief);
    prim_fiber_switch(&contested.thief, &contested.fiber); /* it runs elsewhere: fatal */
    printf("resumed a running fiber without an error\n");
}

WASM_DEATH_TEST(fiber_resuming_a_running_fiber_is_fatal,
           "fatal error: runtime: resuming a fiber that is not suspended")
{
    struct test_thread runner, thief;
    REQUIRE(thread_start(&runner, contested_runner, NULL));
    REQUIRE(thread_start(&thief, contested_thief, NULL));
    thread_join(&thief);
}
#endif

/* ---- floating-point control state belongs to each fiber ---- */

#if !defined(__EMSCRIPTEN__) && (defined(__x86_64__) || defined(__aarch64__))
/* The rounding-control state: MXCSR and the x87 control word, or FPCR. */
static uint64_t fp_control_get(void)
{
#if defined(__x86_64__)
    uint32_t mxcsr;
    uint16_t x87cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(x87cw));
    return mxcsr | (uint64_t)x87cw << 32;
#else
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return fpcr;
#endif
}

static void fp_control_set(uint64_t v)
{
#if defined(__x86_64__)
    uint32_t mxcsr = (uint32_t)v;
    uint16_t x87cw = (uint16_t)(v >> 32);
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    __asm__ volatile("fldcw %0" : : "m"(x87cw));
#else
    __asm__ volatile("msr fpcr, %0" : : "r"(v));
#endif
}

/* Rounding toward zero in every unit. */
static uint64_t fp_control_toward_zero(uint64_t v)
{
#if defined(__x86_64__)
    return v | 3u << 13 | (uint64_t)(3u << 10) << 32;
#else
    return v | 3u << 22;
#endif
}

struct fp_world {
    prim_fiber thread, fiber;
    uint64_t fiber_mode;
    long errors;
    bool finished;
};

static void fp_entry(void *arg)
{
    struct fp_world *w = arg;
    w->fiber_mode = fp_control_toward_zero(fp_control_get());
    fp_control_set(w->fiber_mode);
    for (int i = 0; i < 3; i++) {
        prim_fiber_switch(&w->fiber, &w->thread);
        if (fp_control_get() != w->fiber_mode)
            w->errors++;
    }
    w->finished = true;
    prim_fiber_exit(&w->fiber, &w->thread);
}

static void fp_thread(void *arg)
{
    struct fp_world *w = arg;
    void *stack = prim_stack_alloc(PRIM_FIBER_MIN_STACK * 2);
    if (stack == NULL) {
        w->errors++;
        return;
    }
    uint64_t mode = fp_control_get();
    prim_fiber_init_thread(&w->thread);
    prim_fiber_init(&w->fiber, stack, PRIM_FIBER_MIN_STACK * 2, fp_entry, w);
    while (!w->finished) {
        prim_fiber_switch(&w->thread, &w->fiber);
        if (fp_control_get() != mode)
            w->errors++;
    }
    prim_fiber_destroy(&w->fiber);
    prim_fiber_destroy(&w->thread);
    prim_stack_free(stack, PRIM_FIBER_MIN_STACK * 2);
}

TEST(fiber_fp_control_is_per_fiber)
{
    static struct fp_world w;
    memset(&w, 0, sizeof w);
    struct test_thread t;
    REQUIRE(thread_start(&t, fp_thread, &w));
    REQUIRE(thread_join(&t));
    CHECK(w.finished);
    CHECK_EQ(w.errors, 0);
}
#endif

/* ---- the guard page below a native stack ---- */

#ifndef __EMSCRIPTEN__
/* The permissions of the mapping holding addr, from /proc/self/maps. */
static bool mapping_perms(uintptr_t addr, char perms[5])
{
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, maps) != NULL) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi)
            found = true;
    }
    fclose(maps);
    return found;
}

TEST(fiber_stack_guard_page)
{
    size_t size = 64 * 1024;
    char *stack = prim_stack_alloc(size);
    REQUIRE(stack != NULL);
    CHECK_EQ((uintptr_t)stack % 4096, 0);
    char perms[5];
    REQUIRE(mapping_perms((uintptr_t)stack - 1, perms));
    CHECK(strncmp(perms, "---", 3) == 0);
    REQUIRE(mapping_perms((uintptr_t)stack, perms));
    CHECK(strncmp(perms, "rw", 2) == 0);
    REQUIRE(mapping_perms((uintptr_t)stack + size - 1, perms));
    CHECK(strncmp(perms, "rw", 2) == 0);
    memset(stack, 0xa5, size); /* all of it usable */
    prim_stack_free(stack, size);
}
#endif
