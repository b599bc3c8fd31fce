/*
 * builtins.c — goroutines of the package's own module that JS starts by
 * name (rt.go, GORT_EXPORT_GO): small programs that talk to JS through
 * channels, for tests and examples.
 *
 *  echo(in, out)      every value received on in is sent on out, in order;
 *                     when in is closed and drained, out is closed.
 *  primes(out, n)     the first n primes (i32 or f64 elements) by Go's
 *                     concurrent prime sieve, one goroutine per prime
 *                     found, then out is closed.
 *  churn(done, n)     allocates n binary trees of depth 12 (about 300 KB
 *                     each, dropped at once: collector work), then sends n
 *                     on done (i32 or f64).
 *  utf8len(out, s)    sends the length of s in UTF-8 bytes on out.
 *  untildone(ctx, out) waits until ctx is done, then sends its error's
 *                     code on out (12 canceled, 13 deadline exceeded).
 *  overflow()         recurses without bound: the runtime ends with
 *                     'fatal error: stack overflow' (what JS sees of a
 *                     fatal error, for tests).
 *  trap()             calls a null function: the module traps on a
 *                     runtime thread, where no C code runs to tell of it
 *                     (what JS sees of a trap, for tests).
 *  clockcheck(out, n) passes a turn n times among one goroutine per
 *                     processor, each reading gort_nanotime when its turn
 *                     comes, and sends on out (json) how many turns went
 *                     to another thread and how many readings were below
 *                     the reading before them (the runtime's clock must
 *                     run forward across threads: 0).
 *
 * And C functions a worker calls on its own thread:
 *  gort_js_overflow_this_thread() recurses without bound there: 'fatal
 *                     error: stack overflow' on a thread that runs no
 *                     goroutine.
 *  gort_js_hold_chan_lock(h, held, release, ms) holds a channel's lock
 *                     until told to let go (tests of the main thread's
 *                     try mode).
 *
 * And, on any thread, gort_js_handles_live(): how many handles are in use
 * (tests that a realm lets its handles go); gort_js_malloc_in_use(): the
 * bytes the system allocator has handed out and not had back (tests that
 * workers gone leave nothing behind); gort_js_sleeper_parked(sleeper):
 * whether that attached worker sleeps in a blocking operation (the soak
 * terminates a worker only then: inside any other part of a call, its end
 * is fatal).
 */
#include <emscripten/emscripten.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "gort/gort.h"
#include "gort/js.h"
#include "chan.h"
#include "mgc.h"
#include "prim/prim.h"
#include "bridge.h"

static void echo(gort_js_args *args)
{
    gort_chan *in = gort_js_chan(args, 0), *out = gort_js_chan(args, 1);
    uint64_t v; /* every element kind of the bridge fits; a payload pointer on the stack is a root */
    bool ok;
    for (;;) {
        v = 0;
        gort_chan_recv(in, &v, &ok);
        if (!ok)
            break;
        if (gort_chan_send(out, &v) != GORT_OK)
            return; /* out was closed by someone else */
    }
    gort_chan_close(out);
}
GORT_EXPORT_GO(echo, "chan in, chan out");

/* Sends a number as the channel's element kind. */
static int send_number(gort_chan *c, int64_t n)
{
    if (gort_chan_elemsize(c) == sizeof(int32_t)) {
        int32_t v = (int32_t)n;
        return gort_chan_send(c, &v);
    }
    double v = (double)n;
    return gort_chan_send(c, &v);
}

static void utf8len(gort_js_args *args)
{
    send_number(gort_js_chan(args, 0), (int64_t)strlen(gort_js_string(args, 1)));
}
GORT_EXPORT_GO(utf8len, "chan out, string s");

static void untildone(gort_js_args *args)
{
    gort_context *ctx = gort_js_context(args, 0);
    gort_chan_recv(gort_context_done(ctx), NULL, NULL);
    send_number(gort_js_chan(args, 1), gort_context_err(ctx));
}
GORT_EXPORT_GO(untildone, "context ctx, chan out");

typedef struct filter_args {
    gort_chan *in, *out;
    int64_t prime;
} filter_args;

static const gort_type filter_args_type = GORT_TYPE(filter_args, "primes filter",
    GORT_PTR_FIELD(filter_args, in) | GORT_PTR_FIELD(filter_args, out));

static void generate(void *arg)
{
    filter_args *f = arg;
    gort_chan *out = f->out;
    for (int64_t i = 2;; i++)
        gort_chan_send(out, &i);
}

static void filter(void *arg)
{
    filter_args *f = arg;
    gort_chan *in = f->in, *out = f->out;
    int64_t prime = f->prime, i;
    for (;;) {
        gort_chan_recv(in, &i, NULL);
        if (i % prime != 0)
            gort_chan_send(out, &i);
    }
}

static void primes(gort_js_args *args)
{
    gort_chan *out = gort_js_chan(args, 0);
    int64_t n = (int64_t)gort_js_number(args, 1);
    gort_chan *ch = gort_chan_make_bytes(sizeof(int64_t), 0);
    filter_args *g = gort_new(&filter_args_type);
    if (ch == NULL || g == NULL)
        return;
    GORT_STORE(g->out, ch);
    gort_go(generate, g);
    for (int64_t k = 0; k < n; k++) {
        int64_t prime;
        gort_chan_recv(ch, &prime, NULL);
        if (send_number(out, prime) != GORT_OK)
            return;
        gort_chan *next = gort_chan_make_bytes(sizeof(int64_t), 0);
        filter_args *f = gort_new(&filter_args_type);
        if (next == NULL || f == NULL)
            return;
        GORT_STORE(f->in, ch);
        GORT_STORE(f->out, next);
        f->prime = prime;
        gort_go(filter, f);
        ch = next;
    }
    gort_chan_close(out);
    /* The generator and filters stay blocked, as in Go's sieve: goroutines
     * nobody will wake, which end with the runtime. */
}
GORT_EXPORT_GO(primes, "chan out, number n");

typedef struct tree_node {
    struct tree_node *left, *right;
} tree_node;

static const gort_type tree_node_type = GORT_TYPE(tree_node, "churn tree node",
    GORT_PTR_FIELD(tree_node, left) | GORT_PTR_FIELD(tree_node, right));

#define CHURN_TREE_DEPTH 12

static tree_node *make_tree(int depth)
{
    tree_node *n = gort_new(&tree_node_type);
    if (n != NULL && depth > 0) {
        GORT_STORE(n->left, make_tree(depth - 1));
        GORT_STORE(n->right, make_tree(depth - 1));
    }
    return n;
}

static void churn(gort_js_args *args)
{
    gort_chan *done = gort_js_chan(args, 0);
    int64_t n = (int64_t)gort_js_number(args, 1);
    for (int64_t i = 0; i < n; i++)
        make_tree(CHURN_TREE_DEPTH);
    send_number(done, n);
}
GORT_EXPORT_GO(churn, "chan done, number n");

/* Each frame keeps a buffer the compiler cannot drop; far more frames than
 * any stack holds. */
static int recurse(volatile char *previous, unsigned frames_left)
{
    volatile char frame[256];
    frame[0] = previous != NULL ? previous[0] + 1 : 0;
    if (frames_left == 0)
        return frame[0];
    return recurse(frame, frames_left - 1) + frame[0];
}

static void overflow(gort_js_args *args)
{
    recurse(NULL, UINT32_MAX);
}
GORT_EXPORT_GO(overflow, "");

/* Read through a volatile: the compiler may not see that it is null. */
static void (*volatile null_function)(void);

static void trap(gort_js_args *args)
{
    null_function();
}
GORT_EXPORT_GO(trap, "");

/* Recurses without bound on the calling thread, which is not a goroutine's
 * (an attached worker's): that thread's fatal error must end the runtime
 * for every realm, as a goroutine's does (tests/workers.test.mjs, the
 * browser page). */
EMSCRIPTEN_KEEPALIVE int gort_js_overflow_this_thread(void) { return recurse(NULL, UINT32_MAX); }

/* How often gort_js_hold_chan_lock looks at its release word. */
#define HOLD_LOOK_NS ((int64_t)1000 * 1000)

/* Takes the lock of channel h on the calling thread (an attached worker's),
 * stores 1 in *held, and keeps the lock until *release is non-zero (1) or
 * timeout_ms has passed (0); -1 for a dead handle. For tests of the main
 * thread's try mode (tests/workers.test.mjs): a main thread that waited for
 * that lock would never set *release. */
EMSCRIPTEN_KEEPALIVE int gort_js_hold_chan_lock(uint32_t h, atomic_uint *held, atomic_uint *release,
                                                double timeout_ms)
{
    JS_CALL;
    hchan *c = handles_get_kind(h, JS_HANDLE_CHAN);
    if (c == NULL)
        return -1;
    lock(&c->lock);
    atomic_store(held, 1);
    int64_t deadline = gort_nanotime() + (int64_t)(timeout_ms * 1e6);
    while (atomic_load(release) == 0 && gort_nanotime() < deadline)
        prim_futex_wait(release, 0, HOLD_LOOK_NS);
    unlock(&c->lock);
    return atomic_load(release) != 0;
}

typedef struct clock_turns {
    atomic_int turn;         /* whose turn: 0 .. players-1, or -1 when over */
    int players;
    int64_t left;            /* turns still to pass, changed by the holder */
    int64_t last;            /* the last reading, written by the holder */
    pthread_t last_thread;
    int64_t other_thread, backwards, worst_ns;
    gort_waitgroup wg;
} clock_turns;

typedef struct clock_player {
    clock_turns *t;
    int me;
} clock_player;

static void clock_player_run(void *arg)
{
    clock_player *pl = arg;
    clock_turns *t = pl->t;
    for (;;) {
        int turn = atomic_load(&t->turn);
        if (turn < 0)
            break;
        if (turn != pl->me) {
            gort_yield(); /* no preemption: let the others have the processor */
            continue;
        }
        int64_t now = gort_nanotime();
        pthread_t self = pthread_self();
        if (!pthread_equal(self, t->last_thread))
            t->other_thread++;
        if (now < t->last) {
            t->backwards++;
            if (t->last - now > t->worst_ns)
                t->worst_ns = t->last - now;
        }
        t->last = now;
        t->last_thread = self;
        atomic_store(&t->turn, --t->left > 0 ? (turn + 1) % t->players : -1);
    }
    gort_waitgroup_done(&t->wg);
}

/* Goroutines that pass the turn: one per processor, this many at most. */
#define CLOCK_MAX_PLAYERS 8

static void clockcheck(gort_js_args *args)
{
    gort_chan *out = gort_js_chan(args, 0);
    clock_turns t = {.players = gort_gomaxprocs(), .left = (int64_t)gort_js_number(args, 1)};
    if (t.players > CLOCK_MAX_PLAYERS)
        t.players = CLOCK_MAX_PLAYERS;
    if (t.players < 2)
        t.players = 2;
    if (t.left < 1)
        t.left = 1;
    t.last = gort_nanotime();
    t.last_thread = pthread_self();
    clock_player players[CLOCK_MAX_PLAYERS];
    gort_waitgroup_add(&t.wg, t.players);
    for (int i = 0; i < t.players; i++) {
        players[i] = (clock_player){&t, i};
        gort_go(clock_player_run, &players[i]);
    }
    gort_waitgroup_wait(&t.wg);
    char text[160];
    int n = snprintf(text, sizeof text, "{\"otherThread\":%lld,\"backwards\":%lld,\"worstNs\":%lld}",
                     (long long)t.other_thread, (long long)t.backwards, (long long)t.worst_ns);
    gort_js_send_bytes(out, text, (size_t)n, true);
}
GORT_EXPORT_GO(clockcheck, "chan out, number n");

EMSCRIPTEN_KEEPALIVE uint32_t gort_js_handles_live(void) { JS_CALL; return handles_live(); }

EMSCRIPTEN_KEEPALIVE int gort_js_sleeper_parked(const js_sleeper *s) { return s != NULL && s->parked != 0; }

EMSCRIPTEN_KEEPALIVE double gort_js_malloc_in_use(void)
{
    JS_CALL;
    return (double)mallinfo().uordblks;
}
