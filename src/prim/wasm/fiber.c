/*
 * prim/wasm/fiber.c — fibers on WebAssembly with Emscripten's
 * emscripten_fiber_t and emscripten_fiber_swap (Asyncify; the JS side of the
 * switch is gort's own lean copy, fiber_lib.js and fiber_post.js, and the
 * fields are set here in C). A switch unwinds the running wasm call chain
 * into the fiber's Asyncify buffer (its locals and call positions), and the
 * JS trampoline then rewinds the destination's chain from its buffer, or
 * calls a new fiber's entry. The C stack pointer and limits travel in the
 * emscripten_fiber_t, so a fiber resumes on whichever worker switches to it.
 *
 * Invariants:
 *  - A fiber's region [stack, stack + size) is split: the high
 *    PRIM_FIBER_ASYNCIFY_BYTES(size) bytes are its Asyncify buffer (filled
 *    upwards, bounded by its limit: an overflow traps), the rest its C stack
 *    (growing down towards the low end, like a native stack). Nothing but
 *    the C stack itself writes the region's low end, so a caller's guard zone
 *    there stays intact until the stack really runs into it.
 *  - The Asyncify buffer's only pointers are the two in its header (current
 *    position and limit, inside emscripten_fiber_t), so a suspended fiber's
 *    buffer could be moved by copying it and fixing the header.
 *  - Migration between workers relies on fiber_post.js giving every worker
 *    the same Asyncify call-stack ids: the id stored at unwind on one worker
 *    names the export to call for the rewind on another.
 *
 * Sizes, measured with 3.1.6 (tests/test_fiber.c prints them). Per frame of
 * the deep-recursion test (a function with a 32-byte local array), a debug
 * build (-O0) saves 36 bytes of Asyncify data against 80 bytes of C stack,
 * a release build (-O3) 60 bytes against 32: unoptimized code keeps its
 * locals in the C stack, optimized code in wasm locals, which are what
 * Asyncify saves (code without arrays or address-taken locals uses no C
 * stack at all). Half the region for each is within a factor 1.5 of the
 * best split for either build. A shallow switch (entry function, then the
 * switch) saves about 100 bytes; a 64 KB goroutine stack thus gives 32 KB of
 * Asyncify buffer, some 500 release frames. A thread fiber saves the
 * thread's chain (start routine, scheduler loop): 88 bytes (release) to 180
 * (debug) were measured for a test thread, so 16 KB per thread leaves ample
 * room for threads that enter the scheduler from deeper in their own code.
 */
#include "../fiber.h"

#include <emscripten/stack.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../runtime.h"

/* fiber_post.js reads and writes these fields itself. */
_Static_assert(offsetof(emscripten_fiber_t, stack_base) == 0 &&
                   offsetof(emscripten_fiber_t, stack_limit) == 4 &&
                   offsetof(emscripten_fiber_t, stack_ptr) == 8 &&
                   offsetof(emscripten_fiber_t, entry) == 12 &&
                   offsetof(emscripten_fiber_t, user_data) == 16 &&
                   offsetof(emscripten_fiber_t, asyncify_data) == 20 &&
                   offsetof(asyncify_data_t, rewind_id) == 8,
               "fiber_post.js assumes emscripten 3.1.6's emscripten_fiber_t layout");

/* The entry the JS trampoline calls (through dynCall_vi) on first entry. */
static void fiber_start(void *fiber)
{
    prim_fiber *self = fiber;
    self->entry(self->arg);
    gort_throw("runtime: fiber entry function returned");
}

/* What emscripten_fiber_init and _init_from_current_context write, written
 * here instead: those are JS imports, and a goroutine is made per spawn. */
static void set_asyncify_buffer(prim_fiber *f, char *buffer, size_t bytes)
{
    f->asyncify_lo = buffer;
    f->em.asyncify_data.stack_ptr = buffer;
    f->em.asyncify_data.stack_limit = buffer + bytes;
}

void prim_fiber_init_thread(prim_fiber *f)
{
    *f = (prim_fiber){0};
    f->owned_buffer = malloc(PRIM_FIBER_THREAD_ASYNCIFY_BYTES);
    if (f->owned_buffer == NULL)
        gort_throw("runtime: cannot allocate a thread's Asyncify buffer");
    f->em.stack_base = (void *)emscripten_stack_get_base();
    f->em.stack_limit = (void *)emscripten_stack_get_end();
    set_asyncify_buffer(f, f->owned_buffer, PRIM_FIBER_THREAD_ASYNCIFY_BYTES);
}

/* The C stack's top, just below the Asyncify buffer (as prim_fiber_init). */
static char *c_stack_top(void *stack, size_t stack_size)
{
    size_t asyncify_bytes = PRIM_FIBER_ASYNCIFY_BYTES(stack_size);
    return (char *)stack + ((stack_size - asyncify_bytes) & ~(size_t)15);
}

void *prim_fiber_first_frame(void *stack, size_t stack_size)
{
    return c_stack_top(stack, stack_size) - 16;
}

void prim_fiber_init(prim_fiber *f, void *stack, size_t stack_size, void (*entry)(void *),
                     void *arg)
{
    if (stack_size < PRIM_FIBER_MIN_STACK || ((uintptr_t)stack & 15) != 0)
        gort_throw("runtime: fiber stack too small or misaligned");
    char *top = c_stack_top(stack, stack_size);
    *f = (prim_fiber){.entry = entry, .arg = arg};
    f->em.stack_base = top;
    f->em.stack_limit = stack;
    f->em.stack_ptr = top;
    f->em.entry = fiber_start;
    f->em.user_data = f;
    set_asyncify_buffer(f, top, PRIM_FIBER_ASYNCIFY_BYTES(stack_size));
}

void prim_fiber_switch(prim_fiber *from, prim_fiber *to) { emscripten_fiber_swap(&from->em, &to->em); }

void prim_fiber_exit(prim_fiber *from, prim_fiber *to)
{
    /* The unwind saves the dying chain into from's buffer; nothing reads it
     * again, and nothing touches from once `to` runs. */
    emscripten_fiber_swap(&from->em, &to->em);
    gort_throw("runtime: a fiber that exited was resumed");
}

void prim_fiber_destroy(prim_fiber *f)
{
    free(f->owned_buffer);
    f->owned_buffer = NULL;
}

size_t prim_fiber_saved_bytes(const prim_fiber *f)
{
    if (f->asyncify_lo == NULL)
        return 0;
    return (size_t)((char *)f->em.asyncify_data.stack_ptr - f->asyncify_lo);
}

void *prim_stack_alloc(size_t size)
{
    size = round_up(size, 16);
    /* Page alignment as natively, so that callers see one contract. */
    return aligned_alloc(4096, round_up(size, 4096));
}

void prim_stack_free(void *stack, size_t size) { free(stack); }

int prim_fiber_scan_ranges(const prim_fiber *f, uintptr_t lo[2], uintptr_t hi[2])
{
    int n = 0;
    uintptr_t sp = (uintptr_t)f->em.stack_ptr, base = (uintptr_t)f->em.stack_base;
    if (sp != 0 && sp < base) {
        lo[n] = sp;
        hi[n] = base;
        n++;
    }
    uintptr_t alo = (uintptr_t)f->asyncify_lo, ahi = (uintptr_t)f->em.asyncify_data.stack_ptr;
    if (alo != 0 && ahi > alo) {
        lo[n] = alo;
        hi[n] = ahi;
        n++;
    }
    return n;
}
