/*
 * stack.c — allocation of goroutine stacks. Small stacks are carved from
 * slabs of STACK_SLAB_BYTES (one system allocation, one guard page, per slab)
 * so that a hundred thousand goroutines cost a few hundred system mappings,
 * not two hundred thousand; stacks larger than a quarter slab get their own
 * system allocation. Freed stacks wait on a free list per size.
 *
 * Overflow: hardware guard pages per stack would take a mapping each, and
 * Linux allows about 65,000. Instead every stack starts with a guard zone
 * filled with a pattern: the scheduler checks it whenever the goroutine
 * switches away, and a goroutine that ran into it ends the program with Go's
 * "fatal error: stack overflow". Debug builds under AddressSanitizer also
 * poison the zone, so the first write into it is reported on the spot. On
 * wasm the stack pointer itself is checked at every move, so the zone holds
 * no pattern there.
 *
 * Invariants:
 *  - a free stack holds its free-list node (the next one, and its own base)
 *    in the 16 bytes where its goroutines' first frame went
 *    (prim_fiber_first_frame), and nothing else: those bytes are in a page
 *    the goroutine touched, where the stack's low end may never have been
 *    (on wasm, freeing 100,000 stacks at exit faulted in 100,000 pages); the
 *    guard zone is written when a goroutine starts on it;
 *  - slabs are never returned: stacks are reused;
 *  - natively a slab's stacks begin STACK_SLAB_SKEW bytes into it, so that
 *    each stack's guard zone ends the page where the stack below it keeps
 *    its first frames.
 */
#include "stack.h"

#include <stdint.h>
#include <string.h>

#include "lock.h"
#include "prim/fiber.h"
#include "runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#define STACK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STACK_ASAN 1
#endif
#endif
#ifdef STACK_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define STACK_SLAB_BYTES ((size_t)1 << 20)
#define STACK_MAX_SIZES 8 /* distinct small sizes with their own free list */
#define STACK_GUARD_PATTERN 0x5ac4d0ffee0dd1e5ull

/* Natively, where a goroutine starting on a stack writes its guard zone, a
 * slab's stacks begin STACK_SLAB_SKEW bytes into its first page, so that each
 * zone fills the end of the page where the stack below it keeps its first
 * frames: a goroutine on a fresh stack faults in one new page where it took
 * two (its zone's, its first frame's), which made up most of a cold spawn
 * (100,000 goroutines, 26 us each on a VM whose page faults are dear), and a
 * parked goroutine holds a page less. (Under AddressSanitizer the zone is a
 * whole page: no skew.) On wasm nothing writes the zone. */
#define STACK_PAGE_BYTES ((size_t)4096)
#ifdef __EMSCRIPTEN__
#define STACK_SLAB_SKEW ((size_t)0)
#else
#define STACK_SLAB_SKEW ((STACK_PAGE_BYTES - STACK_GUARD_BYTES % STACK_PAGE_BYTES) % STACK_PAGE_BYTES)
#endif
_Static_assert(STACK_SLAB_SKEW % 16 == 0, "a skewed stack stays 16-byte aligned");

struct free_stack {
    struct free_stack *next;
    void *stack;
};
_Static_assert(sizeof(struct free_stack) <= 16, "a free-stack node fits in a first frame");

/* Where a free stack keeps its node: the goroutines' fiber starts above the
 * guard zone (newproc). */
static struct free_stack *free_node(void *stack, size_t size)
{
    return prim_fiber_first_frame((char *)stack + STACK_GUARD_BYTES, size - STACK_GUARD_BYTES);
}

static struct {
    mutex lock;
    struct {
        size_t size;
        struct free_stack *list;
    } pools[STACK_MAX_SIZES];
    char *slab;       /* unused tail of the current slab */
    size_t slab_left;
    _Atomic uint64_t inuse;
    _Atomic uint64_t sys;
} stacks = {.lock = MUTEX_INIT};

/* On wasm every move of the C stack pointer is checked against the fiber's
 * limits, which stop short of the zone (-sSTACK_OVERFLOW_CHECK=2): the zone
 * is only room for the report there, and writing a pattern into it would
 * touch one more page of fresh memory per goroutine spawned. */
void stack_guard_set(void *stack)
{
#ifdef __EMSCRIPTEN__
    (void)stack;
#else
#ifdef STACK_ASAN
    __asan_unpoison_memory_region(stack, STACK_GUARD_BYTES); /* a reused stack */
#endif
    uint64_t *words = stack;
    for (size_t i = 0; i < STACK_GUARD_BYTES / sizeof *words; i++)
        words[i] = STACK_GUARD_PATTERN ^ i;
#ifdef STACK_ASAN
    __asan_poison_memory_region(stack, STACK_GUARD_BYTES);
#endif
#endif
}

bool stack_guard_intact(const void *stack)
{
#if defined(STACK_ASAN) || defined(__EMSCRIPTEN__)
    /* Poisoned, or (wasm) never reached: an overflow was reported already. */
    (void)stack;
    return true;
#else
    /* Every word, without a branch per word: the loop vectorizes, and an
     * intact zone (the only case that matters for speed) reads it all anyway. */
    const uint64_t *words = stack;
    uint64_t diff = 0;
    for (size_t i = 0; i < STACK_GUARD_BYTES / sizeof *words; i++)
        diff |= words[i] ^ (STACK_GUARD_PATTERN ^ i);
    return diff == 0;
#endif
}

static bool small_stack(size_t size) { return size <= STACK_SLAB_BYTES / 4; }

void *stackalloc(size_t size)
{
    void *stack = NULL;
    if (size > STACK_MAX_BYTES)
        return NULL;
    if (!small_stack(size)) {
        stack = prim_stack_alloc(size);
        if (stack != NULL)
            atomic_fetch_add(&stacks.sys, size);
    } else {
        lock(&stacks.lock);
        for (int i = 0; i < STACK_MAX_SIZES; i++) {
            if (stacks.pools[i].size == size && stacks.pools[i].list != NULL) {
                struct free_stack *fs = stacks.pools[i].list;
                stacks.pools[i].list = fs->next;
                stack = fs->stack;
                break;
            }
        }
        if (stack == NULL) {
            if (stacks.slab_left < size) {
                /* The old slab's tail is too small for this size: dropped. */
                char *slab = prim_stack_alloc(STACK_SLAB_BYTES + STACK_SLAB_SKEW);
                stacks.slab = NULL;
                stacks.slab_left = 0;
                if (slab != NULL) {
                    stacks.slab = slab + STACK_SLAB_SKEW;
                    stacks.slab_left = STACK_SLAB_BYTES;
                    atomic_fetch_add(&stacks.sys, STACK_SLAB_BYTES + STACK_SLAB_SKEW);
                }
            }
            if (stacks.slab_left >= size) {
                stack = stacks.slab;
                stacks.slab += size;
                stacks.slab_left -= size;
            }
        }
        unlock(&stacks.lock);
    }
    if (stack != NULL)
        atomic_fetch_add(&stacks.inuse, size);
    return stack;
}

void stack_read_stats(uint64_t *inuse, uint64_t *sys)
{
    *inuse = atomic_load(&stacks.inuse);
    *sys = atomic_load(&stacks.sys);
}

void stackfree(void *stack, size_t size)
{
#ifdef STACK_ASAN
    __asan_unpoison_memory_region(stack, size);
#endif
    atomic_fetch_sub(&stacks.inuse, size);
    if (!small_stack(size)) {
        prim_stack_free(stack, size);
        atomic_fetch_sub(&stacks.sys, size);
        return;
    }
    lock(&stacks.lock);
    int pool = -1;
    for (int i = 0; i < STACK_MAX_SIZES && pool < 0; i++)
        if (stacks.pools[i].size == size || stacks.pools[i].size == 0)
            pool = i;
    if (pool >= 0) {
        stacks.pools[pool].size = size;
        struct free_stack *fs = free_node(stack, size);
        fs->next = stacks.pools[pool].list;
        fs->stack = stack;
        stacks.pools[pool].list = fs;
    }
    /* Otherwise too many distinct sizes: the stack is dropped (leaked). */
    unlock(&stacks.lock);
}
