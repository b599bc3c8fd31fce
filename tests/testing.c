/*
 * testing.c — the driver of the C tests: `gort_tests` runs every registered
 * test, `gort_tests NAME...` runs the named ones, `gort_tests --list` prints
 * the names. Output follows `go test -v`; the last line is 'N passed, N failed'
 * and the exit status is non-zero when anything failed.
 */
#define _POSIX_C_SOURCE 200809L
#include "testing.h"

#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifndef __EMSCRIPTEN__
#include <sys/wait.h>
#include <unistd.h>
#endif

#define TESTING_MAX_TESTS 256

static struct {
    const char *name;
    testing_fn fn;
    const char *death_expect; /* NULL for an ordinary test */
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
    tests[ntests].death_expect = NULL;
    ntests++;
}

void testing_register_death(const char *name, testing_fn fn, const char *expect)
{
    testing_register(name, fn);
    tests[ntests - 1].death_expect = expect;
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

#ifndef __EMSCRIPTEN__
/* Runs death test i in a child; true when the child died and its output
 * matched. */
static bool run_death_in_child(int i)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        tests[i].fn();
        fflush(NULL);
        _exit(0); /* survived: the parent reports the failure */
    }
    close(fds[1]);
    static char output[1 << 16];
    size_t n = 0;
    ssize_t got;
    while ((got = read(fds[0], output + n, sizeof output - 1 - n)) > 0)
        n += (size_t)got;
    output[n] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    bool died = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    regex_t re;
    bool matched = false;
    if (regcomp(&re, tests[i].death_expect, REG_EXTENDED | REG_NOSUB) == 0) {
        matched = regexec(&re, output, 0, NULL, 0) == 0;
        regfree(&re);
    }
    if (!died)
        printf("    the child did not die\n");
    if (!matched)
        printf("    its output does not match /%s/:\n%s\n", tests[i].death_expect, output);
    return died && matched;
}
#endif

static bool run_one(int i)
{
    double start = now_ms();
    current_failed = false;
    printf("=== RUN   %s\n", tests[i].name);
    fflush(stdout);
    if (tests[i].death_expect != NULL) {
#ifdef __EMSCRIPTEN__
        tests[i].fn(); /* the harness expects this process to die */
        current_failed = true;
#else
        current_failed = !run_death_in_child(i);
#endif
    } else {
        tests[i].fn();
    }
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
        for (int k = 0; k < ntests; k++)
            for (int i = 0; i < ntests; i++)
                if (tests[i].name == names[k]) {
                    if (tests[i].death_expect != NULL)
                        printf("%s death %s\n", names[k], tests[i].death_expect);
                    else
                        printf("%s\n", names[k]);
                }
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
#ifdef __EMSCRIPTEN__
        for (int i = 0; i < ntests; i++)
            if (tests[i].death_expect == NULL) /* run one by one by the harness */
                run_one(i) ? passed++ : failed++;
#else
        for (int i = 0; i < ntests; i++)
            run_one(i) ? passed++ : failed++;
#endif
    }
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}
