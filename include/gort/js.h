/*
 * gort/js.h — goroutines that JavaScript starts by name. A C file of a
 * module linked with gort_wasm_module (emscripten.cmake) exports a function
 * with GORT_EXPORT_GO; JS starts it with rt.go(name, ...args) and gets a
 * Goroutine whose promise settles when the function returns.
 *
 *     static void echo(gort_js_args *args)
 *     {
 *         gort_chan *in = gort_js_chan(args, 0), *out = gort_js_chan(args, 1);
 *         ...
 *     }
 *     GORT_EXPORT_GO(echo, "chan in, chan out");
 *
 * The parameter list names each parameter's kind and name, separated by
 * commas: number (a double), string (UTF-8), chan (a channel, or the nil
 * channel) and context. JS checks the arguments against it before the
 * goroutine starts and throws a TypeError naming the parameter that does not
 * fit, so the function reads its arguments without checking their kinds.
 *
 * The arguments live until the function returns: the channels and contexts
 * are kept alive for it (held by handles, which the collector sees), the
 * strings are the function's to read, not to keep. A goroutine the function
 * starts and that outlives it must hold what it uses itself (in a typed heap
 * object, or in a handle of its own).
 *
 * Only in modules built for JS (Emscripten): natively there is no JS to start
 * goroutines by name.
 */
#ifndef GORT_JS_H
#define GORT_JS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The arguments JS passed to an exported goroutine. */
typedef struct gort_js_args gort_js_args;

/* An exported goroutine. */
typedef void (*gort_js_go_fn)(gort_js_args *args);

/* An entry of the module's table of exported goroutines. */
typedef struct gort_js_export {
    const char *name;
    const char *params;
    gort_js_go_fn fn;
    struct gort_js_export *next;
} gort_js_export;

/*
 * Adds e to the table of goroutines JS may start by name (GORT_EXPORT_GO
 * calls it before main, as a constructor). e must live as long as the module;
 * a second export of the same name replaces the first.
 */
void gort_js_export_go(gort_js_export *e);

/* Exports the function fn to JS under its own name, with the parameters
 * params (see above). At file scope. */
#define GORT_EXPORT_GO(fn, params)                                                \
    static gort_js_export gort_js_export_##fn = {#fn, params, fn, 0};              \
    __attribute__((constructor)) static void gort_js_register_##fn(void)          \
    {                                                                             \
        gort_js_export_go(&gort_js_export_##fn);                                  \
    }                                                                             \
    typedef int gort_js_export_semicolon_##fn

/* How many arguments JS passed (as many as the parameters). */
int gort_js_nargs(const gort_js_args *args);

/* Argument i as a number (0 when it is not a number parameter). */
double gort_js_number(const gort_js_args *args, int i);

/* Argument i as a NUL-terminated UTF-8 string, until the function returns
 * ("" when it is not a string parameter). */
const char *gort_js_string(const gort_js_args *args, int i);

/* Argument i as a channel (NULL for the nil channel, or when it is not a
 * channel parameter). */
gort_chan *gort_js_chan(const gort_js_args *args, int i);

/* Argument i as a context (NULL when it is not a context parameter). */
gort_context *gort_js_context(const gort_js_args *args, int i);

/*
 * Sends the len bytes at s on c, a channel JS made with a codec whose values
 * live on the gort heap ('string', 'json', 'bytes' or a user codec): JS
 * receives them decoded by the channel's codec (for 'json', s must be JSON
 * text). With block, waits as gort_chan_send does; without, sends only if
 * that needs no wait (Go's select with default). GORT_OK, GORT_EWOULDBLOCK
 * (not sent), GORT_ECLOSED, GORT_ENOMEM, or GORT_EINVAL when c's elements
 * are not such values (an 'f64', 'i32' or 'bool' channel: send the number
 * itself) or len is above 256 MB.
 */
int gort_js_send_bytes(gort_chan *c, const void *s, size_t len, bool block);

#ifdef __cplusplus
}
#endif

#endif
