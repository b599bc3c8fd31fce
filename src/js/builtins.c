/*
 * builtins.c — goroutines of the package's own module that JS starts by
 * name (rt.go): small programs that talk to JS through channels, for tests
 * and examples. Each takes channels by handle and numbers; it owns the
 * handles it is given (gort_js_go duplicates the caller's) and deletes them
 * once it holds the channels in locals (a goroutine's stack is a root).
 *
 *  echo(in, out)      every value received on in is sent on out, in order;
 *                     when in is closed and drained, out is closed.
 *  primes(out, n)     the first n primes (i32 or f64 elements) by Go's
 *                     concurrent prime sieve, one goroutine per prime
 *                     found, then out is closed.
 *  churn(done, n)     allocates n binary trees of depth 12 (about 300 KB
 *                     each, dropped at once: collector work), then sends n
 *                     on done (i32 or f64).
 *  overflow()         recurses without bound: the runtime ends with
 *                     'fatal error: stack overflow' (what JS sees of a
 *                     fatal error, for tests).
 */
#include <emscripten/emscripten.h>
#include <stdlib.h>
#include <string.h>

#include "gort/gort.h"
#include "bridge.h"

#define GO_MAX_ARGS 4

typedef struct go_args {
    uint32_t handles[GO_MAX_ARGS];
    double numbers[GO_MAX_ARGS];
} go_args;

/* Takes the channel of handle i out of a and deletes the handle. */
static gort_chan *take_chan(go_args *a, int i)
{
    gort_chan *c = a->handles[i] != 0 ? gort_handle_get(a->handles[i]) : NULL;
    if (a->handles[i] != 0)
        gort_handle_delete(a->handles[i]);
    a->handles[i] = 0;
    return c;
}

static void echo(void *arg)
{
    go_args *a = arg;
    gort_chan *in = take_chan(a, 0), *out = take_chan(a, 1);
    free(a);
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

static void primes(void *arg)
{
    go_args *a = arg;
    gort_chan *out = take_chan(a, 0);
    int64_t n = (int64_t)a->numbers[1];
    free(a);
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

static void churn(void *arg)
{
    go_args *a = arg;
    gort_chan *done = take_chan(a, 0);
    int64_t n = (int64_t)a->numbers[1];
    free(a);
    for (int64_t i = 0; i < n; i++)
        make_tree(CHURN_TREE_DEPTH);
    send_number(done, n);
}

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

static void overflow(void *arg)
{
    free(arg);
    recurse(NULL, UINT32_MAX);
}

static const struct builtin {
    const char *name;
    void (*fn)(void *);
} builtins[] = {
    {"echo", echo},
    {"primes", primes},
    {"churn", churn},
    {"overflow", overflow},
};

/*
 * Starts the builtin named name with nargs arguments: handles[i] (a
 * channel's handle, duplicated for the goroutine) or numbers[i]. GORT_OK;
 * GORT_EINVAL for an unknown name or too many arguments; GORT_ENOMEM.
 */
EMSCRIPTEN_KEEPALIVE int gort_js_go(const char *name, const uint32_t *handles, const double *numbers,
                                    int nargs)
{
    if (nargs < 0 || nargs > GO_MAX_ARGS)
        return GORT_EINVAL;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (strcmp(builtins[i].name, name) != 0)
            continue;
        go_args *a = calloc(1, sizeof *a);
        if (a == NULL)
            return GORT_ENOMEM;
        for (int j = 0; j < nargs; j++) {
            void *obj = handles[j] != 0 ? gort_handle_get(handles[j]) : NULL;
            a->handles[j] = obj != NULL ? gort_handle_new(obj) : 0;
            a->numbers[j] = numbers[j];
        }
        int err = gort_go(builtins[i].fn, a);
        if (err != GORT_OK) {
            for (int j = 0; j < nargs; j++)
                if (a->handles[j] != 0)
                    gort_handle_delete(a->handles[j]);
            free(a);
        }
        return err;
    }
    return GORT_EINVAL;
}
