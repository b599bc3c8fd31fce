/*
 * panic.c — fatal errors. A fatal error is a broken runtime invariant or an
 * exhausted resource the runtime cannot recover from; misuse by a caller is
 * never fatal (it returns an error code instead).
 *
 * Invariant: the words of the first fatal error stay readable
 * (gort_fatal_message) after the thread that threw them has aborted.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

/* The longest fatal error line written whole. */
#define FATAL_LINE_BYTES 512

/* The first fatal error's words, kept for an embedder whose abort carries
 * no text (the npm package reports them as a FatalError): written once, by
 * the thread that won fatal_claimed, before it aborts. */
static char fatal_message[FATAL_LINE_BYTES];
static atomic_bool fatal_claimed;

const char *gort_fatal_message(void) { return fatal_message; }

_Noreturn void gort_throw(const char *msg)
{
    if (!atomic_exchange(&fatal_claimed, true))
        strncpy(fatal_message, msg, sizeof fatal_message - 1);
    /* One write for the whole line: two threads that fail at once do not
     * interleave their words. */
    char line[FATAL_LINE_BYTES];
    int n = snprintf(line, sizeof line, "fatal error: %s\n", msg);
    if (n < 0 || n >= (int)sizeof line)
        n = (int)sizeof line - 1, line[n - 1] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
    abort();
}

#ifdef GORT_DEBUG
_Noreturn void gort_assert_failed(const char *cond, const char *file, int line)
{
    if (!atomic_exchange(&fatal_claimed, true))
        snprintf(fatal_message, sizeof fatal_message, "runtime assertion failed: %s (%s:%d)", cond, file, line);
    fprintf(stderr, "fatal error: runtime assertion failed: %s (%s:%d)\n", cond, file, line);
    fflush(stderr);
    abort();
}
#endif
