/*
 * testing.h — the small test harness shared by every C test of gort.
 *
 * Tests register themselves with TEST(name); the driver (testing.c) runs one
 * test by name, or all of them, and ends with the line 'N passed, N failed'.
 * The same binary runs natively (under ctest and the sanitizers) and as wasm
 * (under node --test), so a test must not depend on the platform beyond what
 * the runtime's own headers say.
 */
#ifndef GORT_TESTING_H
#define GORT_TESTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef void (*testing_fn)(void);

void testing_register(const char *name, testing_fn fn);
/* A death test: its body must end the process with output that matches the
 * extended regular expression `expect` (natively it runs in a child process
 * and the driver checks; on wasm the node:test harness runs it and checks). */
void testing_register_death(const char *name, testing_fn fn, const char *expect);
/* Records a failure of the running test; the test goes on, so that one run
 * reports every broken expectation. */
void testing_fail(const char *file, int line, const char *fmt, ...);
/* True when the running test has failed so far (to stop a loop early). */
bool testing_failed(void);
/* A deterministic pseudo-random generator, seeded per test (splitmix64). */
uint64_t testing_rand(uint64_t *state);

/* ThreadSanitizer keeps a context per fiber and allows about 8,000: stress
 * tests size themselves with TESTING_SCALE(n), n natively and on wasm, n/32
 * (at least 1,000) under TSan. */
#if defined(__SANITIZE_THREAD__)
#define TESTING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TESTING_TSAN 1
#endif
#endif
#ifdef TESTING_TSAN
#define TESTING_SCALE(n) ((n) / 32 > 1000 ? (n) / 32 : ((n) < 1000 ? (n) : 1000))
#else
#define TESTING_SCALE(n) (n)
#endif

#define TEST(name)                                                          \
    static void test_##name(void);                                          \
    __attribute__((constructor)) static void testing_register_##name(void)  \
    {                                                                       \
        testing_register(#name, test_##name);                               \
    }                                                                       \
    static void test_##name(void)

#define DEATH_TEST(name, expect)                                            \
    static void test_##name(void);                                          \
    __attribute__((constructor)) static void testing_register_##name(void)  \
    {                                                                       \
        testing_register_death(#name, test_##name, expect);                 \
    }                                                                       \
    static void test_##name(void)

/* A death test of wasm builds only (what it checks cannot happen natively):
 * ctest, which registers the native tests by their TEST and DEATH_TEST
 * lines, does not list it; the wasm runner lists the binary's own tests. */
#ifdef __EMSCRIPTEN__
#define WASM_DEATH_TEST(name, expect) DEATH_TEST(name, expect)
#endif

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond))                                                        \
            testing_fail(__FILE__, __LINE__, "%s", #cond);                  \
    } while (0)

#define CHECK_EQ(a, b)                                                      \
    do {                                                                    \
        unsigned long long testing_a_ = (unsigned long long)(a);            \
        unsigned long long testing_b_ = (unsigned long long)(b);            \
        if (testing_a_ != testing_b_)                                       \
            testing_fail(__FILE__, __LINE__, "%s == %s (%llu != %llu)", #a, \
                         #b, testing_a_, testing_b_);                       \
    } while (0)

/* Stops the running test at the first failure inside a long loop. */
#define REQUIRE(cond)                                                       \
    do {                                                                    \
        if (!(cond)) {                                                      \
            testing_fail(__FILE__, __LINE__, "%s", #cond);                  \
            return;                                                         \
        }                                                                   \
    } while (0)

#endif
