/*
 * panic.c — fatal errors. A fatal error is a broken runtime invariant or an
 * exhausted resource the runtime cannot recover from; misuse by a caller is
 * never fatal (it returns an error code instead).
 */
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

/* The longest fatal error line written whole. */
#define FATAL_LINE_BYTES 512

_Noreturn void gort_throw(const char *msg)
{
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
    fprintf(stderr, "fatal error: runtime assertion failed: %s (%s:%d)\n", cond, file, line);
    fflush(stderr);
    abort();
}
#endif
