/*
 * fuzz.h — what gort's libFuzzer targets share: a reader that decodes a
 * fuzzer's bytes into small numbers (reading past the end gives zeros, so
 * every input decodes to some program), the failure report that ends a run
 * with the input saved by libFuzzer, and the sanitizer settings every target
 * runs under.
 *
 * Invariants: decoding never reads outside the input; a target reports a
 * broken expectation through FUZZ_EXPECT, which aborts, so that libFuzzer
 * keeps the input as a crash artifact.
 */
#ifndef GORT_FUZZ_H
#define GORT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct fuzz_reader {
    const uint8_t *data;
    size_t size;
    size_t pos;
} fuzz_reader;

static inline fuzz_reader fuzz_reader_of(const uint8_t *data, size_t size)
{
    return (fuzz_reader){.data = data, .size = size, .pos = 0};
}

static inline bool fuzz_more(const fuzz_reader *r) { return r->pos < r->size; }

static inline uint8_t fuzz_byte(fuzz_reader *r)
{
    return r->pos < r->size ? r->data[r->pos++] : 0;
}

/* A number in [0, n), n >= 1. */
static inline unsigned fuzz_below(fuzz_reader *r, unsigned n) { return fuzz_byte(r) % n; }

static inline uint16_t fuzz_u16(fuzz_reader *r)
{
    uint16_t lo = fuzz_byte(r);
    return (uint16_t)(lo | (uint16_t)(fuzz_byte(r) << 8));
}

/* A broken expectation: print it and abort (libFuzzer saves the input). */
#define FUZZ_EXPECT(cond, ...)                                                   \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "fuzz: %s:%d: expected %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            abort();                                                             \
        }                                                                        \
    } while (0)

#endif
