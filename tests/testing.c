/*
 * testing.c — the driver of the C tests: `gort_tests` runs every registered
 * test, `gort_tests NAME...` runs the named ones, `gort_tests --list` prints
 * the names. Output follows `go test -v`; the last line is 'N passed, N failed'
 * and the exit status is non-zero when anything failed.
 */
#define _POSIX_C_SOURCE 200809L
#include "testing.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TESTING_MAX_TESTS 256

static struct {
    const char *name;
    testing_fn fn;
} tests[TESTING_MAX_TESTS];
static int ntests;
static bool current_failed;

void testing_register(const char *name, testing_fn fn)
{
    if (ntests == TESTING_MAX_TESTS) {
        fprintf(stderr, "testing: too many tests\n");
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

void testing_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    current_failed = true;
    fprintf(stdout, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

bool testing_failed(void) { return current_failed; }

uint64_t testing_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool run_one(int i)
{
    double start = now_ms();
    current_failed = false;
    printf("=== RUN   %s\n", tests[i].name);
    fflush(stdout);
    tests[i].fn();
    printf("--- %s: %s (%.0f ms)\n", current_failed ? "FAIL" : "PASS", tests[i].name,
           now_ms() - start);
    fflush(stdout);
    return !current_failed;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        const char *names[TESTING_MAX_TESTS];
        for (int i = 0; i < ntests; i++)
            names[i] = tests[i].name;
        qsort(names, ntests, sizeof names[0], compare_names);
        for (int i = 0; i < ntests; i++)
            printf("%s\n", names[i]);
        return 0;
    }
    if (argc > 1) {
        for (int a = 1; a < argc; a++) {
            int found = -1;
            for (int i = 0; i < ntests; i++)
                if (strcmp(tests[i].name, argv[a]) == 0)
                    found = i;
            if (found < 0) {
                printf("no test named %s\n", argv[a]);
                failed++;
                continue;
            }
            run_one(found) ? passed++ : failed++;
        }
    } else {
        for (int i = 0; i < ntests; i++)
            run_one(i) ? passed++ : failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}
