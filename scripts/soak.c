/*
 * soak.c — gort under a mixed workload for a long time (`npm run soak`,
 * scripts/soak.sh, natively and as wasm): `gort_soak --seconds N`.
 *
 * The workload, all at once: a producer hands jobs (id and checksum) through
 * a buffered channel to workers, waiting in a select with a timer; each
 * worker builds a tree of typed objects per job (garbage that keeps the
 * collector cycling), checks it, and answers through an unbuffered channel,
 * now and then from a goroutine it spawns for the job, which then dies; a
 * consumer checks every answer; a ticker goroutine checks its ticks; a
 * context goroutine derives contexts that time out or are cancelled and
 * checks when and how they end; two goroutines churn a sync.Map, each on its
 * own keys against its own model.
 *
 * Every second it prints the time, jobs done, goroutines, heap in use and
 * live after the last cycle, cycles and the longest pause of the second.
 * It fails (exit status 1, the reason on stderr) on any loss (a job without
 * its answer, a checksum that differs, a sync.Map or context that disagrees
 * with its model), a stall (a second in which no job completed, a ticker or
 * a context timeout more than STALL_NS late) or a leak (the live heap after
 * a collection, or the goroutine count, at the end above what it was after
 * the warm-up by more than LEAK_SLACK, while the live set is steady; after
 * the workload stops, goroutines back to one).
 */
#include <gort/gort.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS ((int64_t)1000000)
#define SEC (1000 * MS)
/* Lateness that counts as a stall: far beyond any pause or wake-up. */
#define STALL_NS (2 * SEC)
/* Growth of the live heap that counts as a leak once warm. */
#define LEAK_SLACK_BYTES ((uint64_t)8 << 20)
#define LEAK_SLACK_RATIO 1.5
#define WARMUP_SECONDS 3
#define WORKERS 4
#define TREE_DEPTH 8
#define MAP_KEYS 64

struct node {
    struct node *left, *right;
    uint64_t value;
};
static const gort_type node_type = GORT_TYPE(
    struct node, "soak.node", GORT_PTR_FIELD(struct node, left) | GORT_PTR_FIELD(struct node, right));

typedef struct job {
    uint64_t id, sum;
} job;

static struct {
    atomic_bool stop;
    atomic_long produced, answered, failures;
    atomic_long ticks, contexts;
    atomic_long map_ops;
    atomic_int services; /* service goroutines still running */
    atomic_llong pause_max_ns; /* the longest pause since the last report */
} soak;

static void fail(const char *what, unsigned long long a, unsigned long long b)
{
    if (atomic_fetch_add(&soak.failures, 1) < 10)
        fprintf(stderr, "soak: FAIL: %s (%llu, %llu)\n", what, a, b);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    return x;
}

static struct node *build(int depth, uint64_t seed)
{
    struct node *n = gort_new(&node_type);
    if (n == NULL)
        return NULL;
    n->value = seed;
    if (depth > 0) {
        GORT_STORE(n->left, build(depth - 1, mix(seed + 1)));
        GORT_STORE(n->right, build(depth - 1, mix(seed + 2)));
    }
    return n;
}

static uint64_t tree_sum(const struct node *n)
{
    return n == NULL ? 0 : n->value + tree_sum(n->left) + tree_sum(n->right);
}

/* A job's answer: its id and a sum the consumer can check (the tree's sum,
 * which the worker compares with a second build). */
static bool work(const job *j, job *answer)
{
    struct node *a = build(TREE_DEPTH, j->id), *b = build(TREE_DEPTH, j->id);
    if (a == NULL || b == NULL)
        return false;
    answer->id = j->id;
    answer->sum = tree_sum(a);
    if (answer->sum != tree_sum(b))
        fail("two trees built alike differ", answer->sum, tree_sum(b));
    return true;
}

typedef struct channels {
    gort_chan *jobs, *answers;
} channels;

static channels chans; /* also held by every goroutine's locals */

typedef struct child_task {
    job j;
    gort_chan *answers;
} child_task;

static void child(void *arg)
{
    child_task t = *(child_task *)arg;
    free(arg);
    job answer;
    if (work(&t.j, &answer))
        gort_chan_send(t.answers, &answer);
    else
        fail("out of memory in a child", t.j.id, 0);
}

static void worker(void *arg)
{
    (void)arg;
    gort_chan *jobs = chans.jobs, *answers = chans.answers;
    job j, answer;
    bool ok;
    while (gort_chan_recv(jobs, &j, &ok) == GORT_OK && ok) {
        if (mix(j.id) % 8 == 0) {
            /* A goroutine of its own for this job, which then dies. */
            child_task *t = malloc(sizeof *t);
            t->j = j;
            t->answers = answers;
            if (gort_go(child, t) != GORT_OK)
                fail("gort_go", j.id, 0);
            continue;
        }
        if (work(&j, &answer))
            gort_chan_send(answers, &answer);
        else
            fail("out of memory in a worker", j.id, 0);
    }
    atomic_fetch_sub(&soak.services, 1);
}

static void producer(void *arg)
{
    (void)arg;
    gort_chan *jobs = chans.jobs;
    uint64_t id = 0;
    while (!atomic_load(&soak.stop)) {
        job j = {.id = ++id};
        /* Waits for room with a timer beside it, as a client with a
         * deadline would; a timeout retries the same job. */
        while (!atomic_load(&soak.stop)) {
            gort_chan *timeout = gort_after(50 * MS);
            gort_select_case cases[2] = {GORT_SEND_CASE(jobs, &j), GORT_RECV_CASE(timeout, NULL)};
            int k = gort_select(cases, 2, false);
            if (k == 0) {
                atomic_fetch_add(&soak.produced, 1);
                break;
            }
            if (k != 1)
                fail("producer's select", (unsigned long long)k, 0);
        }
    }
    gort_chan_close(jobs);
    atomic_fetch_sub(&soak.services, 1);
}

static void consumer(void *arg)
{
    (void)arg;
    gort_chan *answers = chans.answers;
    job a;
    bool ok;
    while (gort_chan_recv(answers, &a, &ok) == GORT_OK && ok) {
        /* Recompute what the answer must be, from the id alone. */
        struct node *t = build(TREE_DEPTH, a.id);
        if (t == NULL || tree_sum(t) != a.sum)
            fail("an answer's checksum differs", a.id, a.sum);
        atomic_fetch_add(&soak.answered, 1);
    }
    atomic_fetch_sub(&soak.services, 1);
}

static void ticker(void *arg)
{
    (void)arg;
    gort_ticker *t = gort_ticker_make(10 * MS);
    int64_t last = gort_nanotime(), when;
    bool ok;
    while (!atomic_load(&soak.stop) && gort_chan_recv(gort_ticker_chan(t), &when, &ok) == GORT_OK) {
        int64_t now = gort_nanotime();
        if (now - last > STALL_NS)
            fail("a ticker stalled (ms)", (unsigned long long)((now - last) / MS), 0);
        last = now;
        atomic_fetch_add(&soak.ticks, 1);
    }
    gort_ticker_stop(t);
    atomic_fetch_sub(&soak.services, 1);
}

static void contexts(void *arg)
{
    (void)arg;
    uint64_t n = 0;
    while (!atomic_load(&soak.stop)) {
        gort_context *parent, *ctx;
        if (gort_context_with_cancel(gort_context_background(), &parent) != GORT_OK ||
            gort_context_with_timeout(parent, 2 * MS, &ctx) != GORT_OK) {
            fail("a context could not be made", n, 0);
            break;
        }
        if (++n % 2 == 0) {
            /* Cancelled from above, before its deadline unless this
             * goroutine was held up past it. */
            gort_context_cancel(parent);
            int64_t deadline = 0;
            gort_context_deadline(ctx, &deadline);
            int err = gort_context_err(ctx);
            if (err != GORT_ECANCELED && !(err == GORT_EDEADLINE && gort_nanotime() >= deadline))
                fail("a cancelled parent's child has Err", (unsigned long long)err, 0);
        } else {
            int64_t start = gort_nanotime();
            gort_chan *guard = gort_after(STALL_NS);
            gort_select_case cases[2] = {GORT_RECV_CASE(gort_context_done(ctx), NULL),
                                         GORT_RECV_CASE(guard, NULL)};
            if (gort_select(cases, 2, false) != 0)
                fail("a 2 ms timeout stalled (ms)", (unsigned long long)((gort_nanotime() - start) / MS), 0);
            else if (gort_context_err(ctx) != GORT_EDEADLINE)
                fail("a timed-out context has Err", (unsigned long long)gort_context_err(ctx), 0);
            gort_context_cancel(ctx);
            gort_context_cancel(parent);
        }
        atomic_fetch_add(&soak.contexts, 1);
    }
    atomic_fetch_sub(&soak.services, 1);
}

static void map_churn(void *arg)
{
    int lane = (int)(intptr_t)arg;
    gort_syncmap *m = gort_syncmap_make(NULL);
    gort_handle h = gort_handle_new(m);
    uintptr_t model[MAP_KEYS / 2] = {0};
    uint64_t r = 0x1234 + (uint64_t)lane;
    while (!atomic_load(&soak.stop)) {
        r = mix(r + 1);
        size_t i = r % (MAP_KEYS / 2);
        uintptr_t key = i * 2 + (uintptr_t)lane, v = (uintptr_t)(r >> 8) | 1, got = 0;
        switch ((r >> 40) % 4) {
        case 0:
            gort_syncmap_store(m, key, v);
            model[i] = v;
            break;
        case 1:
            if (gort_syncmap_load(m, key, &got) != (model[i] != 0) || got != model[i])
                fail("sync.Map Load disagrees with the model", key, got);
            break;
        case 2:
            gort_syncmap_delete(m, key);
            model[i] = 0;
            break;
        default:
            if (gort_syncmap_load_and_delete(m, key, &got) != (model[i] != 0) || got != model[i])
                fail("sync.Map LoadAndDelete disagrees with the model", key, got);
            model[i] = 0;
            break;
        }
        if (atomic_fetch_add(&soak.map_ops, 1) % 64 == 0)
            gort_yield();
    }
    gort_handle_delete(h);
    atomic_fetch_sub(&soak.services, 1);
}

static void on_gc_event(const gort_gc_event *e, void *arg)
{
    (void)arg;
    int64_t pause = e->stw_sweep_term_ns > e->stw_mark_term_ns ? e->stw_sweep_term_ns : e->stw_mark_term_ns;
    long long cur = atomic_load(&soak.pause_max_ns);
    while (pause > cur && !atomic_compare_exchange_weak(&soak.pause_max_ns, &cur, pause)) {
    }
}

static int seconds = 60;

static void soak_main(void *arg)
{
    (void)arg;
    gort_chan *jobs = gort_chan_make_bytes(sizeof(job), 64), *answers = gort_chan_make_bytes(sizeof(job), 0);
    if (jobs == NULL || answers == NULL) {
        fail("channels", 0, 0);
        return;
    }
    chans.jobs = jobs;
    chans.answers = answers;
    gort_set_gc_event_hook(on_gc_event, NULL);
    int nservices = 0;
    for (int i = 0; i < WORKERS; i++, nservices++)
        gort_go(worker, NULL);
    gort_go(producer, NULL), nservices++;
    gort_go(consumer, NULL), nservices++;
    gort_go(ticker, NULL), nservices++;
    gort_go(contexts, NULL), nservices++;
    gort_go(map_churn, (void *)0), nservices++;
    gort_go(map_churn, (void *)1), nservices++;
    atomic_store(&soak.services, nservices);

    static gort_memstats ms;
    uint64_t warm_live = 0, last_live = 0;
    int warm_goroutines = 0;
    long last_answered = 0;
    for (int s = 1; s <= seconds && atomic_load(&soak.failures) == 0; s++) {
        gort_sleep(SEC);
        long answered = atomic_load(&soak.answered);
        gort_read_memstats(&ms);
        int goroutines = gort_num_goroutine();
        long long pause = atomic_exchange(&soak.pause_max_ns, 0);
        printf("soak: %4ds jobs %8ld (+%5ld) goroutines %4d heap in use %6.1f MB live %6.1f MB "
               "cycles %5u longest pause %7.1f us ticks %6ld contexts %7ld map ops %9ld\n",
               s, answered, answered - last_answered, goroutines, ms.heap_inuse / 1e6,
               ms.heap_marked / 1e6, ms.num_gc, pause / 1e3, atomic_load(&soak.ticks),
               atomic_load(&soak.contexts), atomic_load(&soak.map_ops));
        fflush(stdout);
        if (answered == last_answered)
            fail("a second without a job done (s)", (unsigned long long)s, 0);
        last_answered = answered;
        last_live = ms.heap_marked;
        if (s == WARMUP_SECONDS) {
            warm_live = ms.heap_marked;
            warm_goroutines = goroutines;
        }
    }
    if (seconds >= 2 * WARMUP_SECONDS && warm_live != 0 &&
        last_live > (uint64_t)(warm_live * LEAK_SLACK_RATIO) + LEAK_SLACK_BYTES)
        fail("the live heap grew (bytes after warm-up, at the end)", warm_live, last_live);

    /* Stop: the producer closes jobs, the workers drain it and end, the
     * answers that children still owe arrive; then answers closes and the
     * consumer ends. */
    atomic_store(&soak.stop, true);
    while (atomic_load(&soak.services) > 1) /* the consumer */
        gort_sleep(MS);
    int64_t deadline = gort_nanotime() + STALL_NS;
    while (atomic_load(&soak.answered) < atomic_load(&soak.produced) && gort_nanotime() < deadline)
        gort_sleep(MS);
    gort_chan_close(answers);
    while (atomic_load(&soak.services) > 0)
        gort_sleep(MS);
    long produced = atomic_load(&soak.produced), answered = atomic_load(&soak.answered);
    if (produced != answered)
        fail("jobs lost (produced, answered)", (unsigned long long)produced, (unsigned long long)answered);
    for (int i = 0; i < 100 && gort_num_goroutine() > 1; i++)
        gort_sleep(10 * MS);
    if (gort_num_goroutine() != 1)
        fail("goroutines left after the workload (and during warm-up)", (unsigned long long)gort_num_goroutine(),
             (unsigned long long)warm_goroutines);
    gort_gc();
    gort_read_memstats(&ms);
    printf("soak: done: %ld jobs, %u cycles, %.1f MB live after the workload, %ld failures\n", answered,
           ms.num_gc, ms.heap_marked / 1e6, atomic_load(&soak.failures));
    gort_set_gc_event_hook(NULL, NULL);
}

int main(int argc, char **argv)
{
    int procs = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--procs") == 0 && i + 1 < argc)
            procs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: gort_soak [--seconds N] [--procs P]\n");
            return 2;
        }
    }
    gort_config cfg = {.procs = procs};
    int rc = gort_main(&cfg, soak_main, NULL);
    if (rc != GORT_OK) {
        fprintf(stderr, "soak: gort_main: %s\n", gort_strerror(rc));
        return 1;
    }
    return atomic_load(&soak.failures) == 0 ? 0 : 1;
}
