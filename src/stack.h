/*
 * stack.h — goroutine stacks (Go's stack.go, for stacks that cannot move):
 * carved from slabs, kept on free lists by size, each with a guard zone at its
 * low end that is checked (natively) whenever its goroutine switches away.
 */
#ifndef GORT_STACK_H
#define GORT_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes at the low end of every stack that the goroutine must never reach;
 * natively they hold a pattern checked at every switch (on wasm the stack
 * pointer itself is checked at every move). Under AddressSanitizer, whose
 * frames carry redzones and can be larger than 512 bytes, a frame could step
 * over a narrow zone into the stack below without touching it: there the
 * zone (poisoned) is wider than any frame the tests make. */
#if defined(__SANITIZE_ADDRESS__)
#define STACK_GUARD_BYTES ((size_t)4096)
#else
#define STACK_GUARD_BYTES ((size_t)512)
#endif

/* The largest stack a goroutine may ask for (Go's maxstacksize: 1 GB on
 * 64-bit hosts, 250 MB on 32-bit ones): a request past it fails as out of
 * memory, before any rounding of its size can overflow. */
#define STACK_MAX_BYTES ((size_t)(sizeof(void *) == 8 ? 1000000000 : 250000000))

/* A stack of `size` bytes (a multiple of 4 KB), guard zone included; NULL
 * when memory is exhausted or size is over STACK_MAX_BYTES. */
void *stackalloc(size_t size);
void stackfree(void *stack, size_t size);

/* Bytes of stacks handed out and not freed, and bytes obtained for stacks. */
void stack_read_stats(uint64_t *inuse, uint64_t *sys);

/* Fills the guard zone of a stack about to run a new goroutine (after
 * prim_fiber_init, which may clear sanitizer state for the whole stack). */
void stack_guard_set(void *stack);

/* False when the guard zone of the stack was written: the goroutine ran off
 * its stack. */
bool stack_guard_intact(const void *stack);

#endif
