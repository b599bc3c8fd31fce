/*
 * export.c — the module's table of goroutines JS starts by name
 * (GORT_EXPORT_GO, gort/js.h), and the starting itself: JS builds an
 * argument record (gort_js_go_args_new, one setter per argument), then
 * gort_js_go_start starts the goroutine, which closes the record's done
 * channel when its function returns (JS awaits that close).
 *
 * Invariants:
 *  - the table is written only by constructors, before the runtime or any
 *    thread but the loading one exists, and read only afterwards;
 *  - every channel and context of a record is held by a handle of the
 *    record's own from the setter until the goroutine's function has
 *    returned (a record lives in C memory, which the collector does not
 *    scan); the done channel likewise;
 *  - a record belongs to JS until gort_js_go_start succeeds, then to the
 *    goroutine, which frees it; on failure JS frees it
 *    (gort_js_go_args_free).
 */
#include <emscripten/emscripten.h>
#include <stdlib.h>
#include <string.h>

#include "gort/gort.h"
#include "gort/js.h"
#include "bridge.h"
#include "chan.h"
#include "mgc.h"
#include "runtime2.h"

enum go_arg_kind {
    GO_ARG_NONE = 0,
    GO_ARG_NUMBER,
    GO_ARG_STRING,
    GO_ARG_CHAN,
    GO_ARG_CONTEXT,
};

typedef struct go_arg {
    enum go_arg_kind kind;
    gort_handle handle; /* a channel's or context's, 0 for the nil channel */
    double number;
    char *string;
} go_arg;

struct gort_js_args {
    const gort_js_export *export;
    gort_handle done; /* a chan struct{} closed when the function returns */
    int nargs;
    go_arg arg[];
};

/* The largest number of arguments one goroutine takes from JS. */
#define GO_MAX_ARGS 16

static gort_js_export *exports;

void gort_js_export_go(gort_js_export *e)
{
    for (gort_js_export **pe = &exports; *pe != NULL; pe = &(*pe)->next) {
        if (strcmp((*pe)->name, e->name) == 0) {
            e->next = (*pe)->next;
            *pe = e;
            return;
        }
    }
    e->next = exports;
    exports = e;
}

static const gort_js_export *lookup(const char *name)
{
    for (const gort_js_export *e = exports; e != NULL; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

int gort_js_nargs(const gort_js_args *args) { return args->nargs; }

static const go_arg *arg_of(const gort_js_args *args, int i, enum go_arg_kind kind)
{
    if (i < 0 || i >= args->nargs || args->arg[i].kind != kind)
        return NULL;
    return &args->arg[i];
}

double gort_js_number(const gort_js_args *args, int i)
{
    const go_arg *a = arg_of(args, i, GO_ARG_NUMBER);
    return a != NULL ? a->number : 0;
}

const char *gort_js_string(const gort_js_args *args, int i)
{
    const go_arg *a = arg_of(args, i, GO_ARG_STRING);
    return a != NULL && a->string != NULL ? a->string : "";
}

gort_chan *gort_js_chan(const gort_js_args *args, int i)
{
    const go_arg *a = arg_of(args, i, GO_ARG_CHAN);
    return a != NULL ? handles_get_kind(a->handle, JS_HANDLE_CHAN) : NULL;
}

gort_context *gort_js_context(const gort_js_args *args, int i)
{
    const go_arg *a = arg_of(args, i, GO_ARG_CONTEXT);
    return a != NULL ? handles_get_kind(a->handle, JS_HANDLE_CONTEXT) : NULL;
}

/* The parameter list of the exported goroutine named name, or NULL. */
EMSCRIPTEN_KEEPALIVE const char *gort_js_go_params(const char *name)
{
    JS_CALL;
    const gort_js_export *e = lookup(name);
    return e != NULL ? e->params : NULL;
}

/* The names of the exported goroutines, NUL-separated, ending with an empty
 * name; the caller frees it. NULL when out of memory. */
EMSCRIPTEN_KEEPALIVE char *gort_js_go_names(void)
{
    JS_CALL;
    size_t n = 1;
    for (const gort_js_export *e = exports; e != NULL; e = e->next)
        n += strlen(e->name) + 1;
    char *names = malloc(n), *at = names;
    if (names == NULL)
        return NULL;
    for (const gort_js_export *e = exports; e != NULL; e = e->next) {
        size_t len = strlen(e->name) + 1;
        memcpy(at, e->name, len);
        at += len;
    }
    *at = '\0';
    return names;
}

/* A record for nargs arguments of the goroutine named name; NULL for an
 * unknown name, too many arguments or no memory (JS tells them apart). */
EMSCRIPTEN_KEEPALIVE gort_js_args *gort_js_go_args_new(const char *name, int nargs)
{
    JS_CALL;
    const gort_js_export *e = lookup(name);
    if (e == NULL || nargs < 0 || nargs > GO_MAX_ARGS)
        return NULL;
    gort_js_args *a = calloc(1, sizeof *a + (size_t)nargs * sizeof(go_arg));
    if (a == NULL)
        return NULL;
    a->export = e;
    a->nargs = nargs;
    return a;
}

EMSCRIPTEN_KEEPALIVE void gort_js_go_args_free(gort_js_args *a)
{
    JS_CALL;
    if (a == NULL)
        return;
    for (int i = 0; i < a->nargs; i++) {
        if (a->arg[i].handle != 0)
            gort_handle_delete(a->arg[i].handle);
        free(a->arg[i].string);
    }
    if (a->done != 0)
        gort_handle_delete(a->done);
    free(a);
}

EMSCRIPTEN_KEEPALIVE void gort_js_go_arg_number(gort_js_args *a, int i, double x)
{
    JS_CALL;
    a->arg[i] = (go_arg){.kind = GO_ARG_NUMBER, .number = x};
}

/* Copies s. GORT_OK or GORT_ENOMEM. */
EMSCRIPTEN_KEEPALIVE int gort_js_go_arg_string(gort_js_args *a, int i, const char *s)
{
    JS_CALL;
    char *copy = strdup(s);
    if (copy == NULL)
        return GORT_ENOMEM;
    a->arg[i] = (go_arg){.kind = GO_ARG_STRING, .string = copy};
    return GORT_OK;
}

/* The object of handle h (a channel, or 0 for the nil channel; a context)
 * held by a handle of the record's. GORT_OK or GORT_ENOMEM. */
EMSCRIPTEN_KEEPALIVE int gort_js_go_arg_handle(gort_js_args *a, int i, uint32_t h, int is_context)
{
    JS_CALL;
    enum js_handle_kind kind = is_context ? JS_HANDLE_CONTEXT : JS_HANDLE_CHAN;
    void *obj = h != 0 ? handles_get_kind(h, kind) : NULL;
    gort_handle own = 0;
    /* Held by the goroutine's record, which the goroutine frees: not by the
     * realm that started it, which may be gone first. */
    if (obj != NULL && (own = handles_new_for(obj, kind, 0)) == 0)
        return GORT_ENOMEM;
    a->arg[i] = (go_arg){.kind = is_context ? GO_ARG_CONTEXT : GO_ARG_CHAN, .handle = own};
    return GORT_OK;
}

static void go_trampoline(void *arg)
{
    gort_js_args *a = arg;
    a->export->fn(a);
    gort_chan_close(handles_get_kind(a->done, JS_HANDLE_CHAN));
    gort_js_go_args_free(a);
}

/*
 * Starts the record's goroutine; when its function returns, the channel of
 * handle done (a chan struct{}) is closed. The goroutine's id (a positive
 * number), or a negative gort_error: -GORT_ENOMEM, -GORT_ESTATE.
 */
EMSCRIPTEN_KEEPALIVE double gort_js_go_start(gort_js_args *a, uint32_t done)
{
    JS_CALL;
    js_note_activity();
    gort_chan *c = handles_get_kind(done, JS_HANDLE_CHAN);
    if (c == NULL)
        return -GORT_EINVAL;
    if ((a->done = handles_new_for(c, JS_HANDLE_CHAN, 0)) == 0)
        return -GORT_ENOMEM;
    uint64_t goid = newgoid();
    int err = go_with_goid(go_trampoline, a, goid);
    if (err != GORT_OK) {
        gort_handle_delete(a->done);
        a->done = 0;
        return -err;
    }
    return (double)goid;
}

int gort_js_send_bytes(gort_chan *c, const void *s, size_t len, bool block)
{
    /* A channel of JS values holds payload pointers: one traced word. */
    if (c == NULL || c->elemsize != sizeof(void *) || c->elemtype == NULL || (c->elemtype->ptrbits & 1) == 0 ||
        len > JS_MAX_PAYLOAD)
        return GORT_EINVAL;
    /* What bridge.c's gort_js_payload_new makes: the length, then the
     * bytes, the size rounded to the header's alignment. */
    size_t size = (sizeof(uint32_t) + len + sizeof(uint32_t) - 1) & ~(sizeof(uint32_t) - 1);
    uint32_t *payload = gort_alloc_bytes(size);
    if (payload == NULL)
        return GORT_ENOMEM;
    *payload = (uint32_t)len;
    memcpy(payload + 1, s, len);
    if (block)
        return gort_chan_send(c, &payload);
    gort_select_case send = GORT_SEND_CASE(c, &payload);
    int chosen = gort_select(&send, 1, true);
    return chosen == 0 ? GORT_OK : chosen == GORT_SELECT_DEFAULT ? GORT_EWOULDBLOCK : -chosen;
}
