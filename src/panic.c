/*
 * panic.c — fatal errors. A fatal error is a broken runtime invariant or an
 * exhausted resource the runtime cannot recover from; misuse by a caller is
 * never fatal (it returns an error code instead).
 */
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

_Noreturn void gort_throw(const char *msg)
{
    fprintf(stderr, "fatal error: %s\n", msg);
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
