/*
 * prim/wasm/fiber.c — fibers on WebAssembly, switched inside wasm with
 * Binaryen's Asyncify called directly (its asyncify.* intrinsics): no
 * JavaScript runs in a switch.
 *
 * How a switch goes. Every thread that switches fibers runs one loop,
 * gort_fiber_loop, at the bottom of its wasm call stack: the thread's own
 * fiber (its stack, Go's g0) calls it to switch away, and it returns when
 * some fiber switches back to the thread. Every other fiber's call chain
 * starts with its entry function, called by that loop. A fiber switches by
 * starting an Asyncify unwind (gort_fiber_suspend, called by
 * prim_fiber_switch, which fiber.h inlines into its caller): each
 * instrumented frame of the chain saves its wasm locals and call position
 * into the fiber's Asyncify buffer and returns, up to the loop, which stops
 * the unwind and then either calls the next fiber's entry function afresh
 * (a new fiber) or starts a rewind and calls it again, which re-enters the
 * saved chain frame by frame down to gort_fiber_suspend, which stops the
 * rewind and returns into the code after the switch. The thread's own
 * fiber never unwinds: its frames stay on the wasm stack below the loop
 * while other fibers run above it. The loop also moves the C stack pointer
 * and the stack-overflow check's limits, so a fiber resumes on whichever
 * worker switches to it: the rewind needs only the module's code, which
 * every worker shares, and the saved state, which is all in linear memory.
 *
 * Invariants:
 *  - Two functions drive the unwind and the rewind: gort_fiber_suspend (it
 *    calls start_unwind and stop_rewind: never instrumented itself, it makes
 *    its callers instrumented) and gort_fiber_loop (it calls stop_unwind and
 *    start_rewind: never instrumented, and it does not make its callers so).
 *    Binaryen inlines a function that has a single caller before Asyncify
 *    runs, and either one merged into its caller would change what is
 *    instrumented (the loop inlined into the thread's scheduler would stop
 *    the scheduler's code from being instrumented): both are exported
 *    (EMSCRIPTEN_KEEPALIVE), a use Binaryen's inliner cannot remove, and
 *    noinline for LLVM. Neither may look noreturn to LLVM, nor may the call
 *    of an entry function in the loop, or LLVM drops the code after them.
 *  - The collector never needs what the thread's own fiber keeps in wasm
 *    locals while it waits in the loop (those locals are not in memory): a
 *    thread's fiber runs the scheduler, which holds only runtime structures
 *    allocated outside the collected heap (m, p, g, sudog); every pointer
 *    into the heap that a stack holds is a goroutine's, and the collector
 *    scans a goroutine only while it is switched out, when its locals are in
 *    its Asyncify buffer (prim_fiber_scan_ranges). The running fiber's
 *    locals are never scanned, as natively its registers are not.
 *  - A fiber's region [stack, stack + size) is split: the high
 *    PRIM_FIBER_ASYNCIFY_BYTES(size) bytes are its Asyncify buffer (filled
 *    upwards), the rest its C stack (growing down towards the low end, like
 *    a native stack). Nothing but the C stack itself writes the region's
 *    low end, so a caller's guard zone there stays intact until the stack
 *    really runs into it.
 *  - A fiber's state says who may touch it: new and suspended fibers wait to
 *    be resumed, and resuming swaps the state atomically, so that a fiber
 *    resumed twice, while it runs or after it exited ends the program with a
 *    fatal error instead of running one chain twice. A fiber is suspended
 *    only once its unwind is complete: whatever the next fiber does (the
 *    scheduler hands the old goroutine to other threads) sees its whole
 *    state in memory.
 *  - A thread's own fiber is resumed only on its thread, by a fiber that
 *    switches to it while that thread's loop runs.
 *  - The stack-overflow check (-sSTACK_OVERFLOW_CHECK=2, a Binaryen pass
 *    that checks every move of the C stack pointer) keeps its limits in
 *    globals that only its generated __set_stack_limits sets, an export C
 *    cannot name. fiber_lib.js puts that export into the function table, in
 *    the slot of check_limits_install, the first time a thread enters the
 *    loop; from then on the loop sets the limits with a call through the
 *    table. A module whose check cannot be set so stops with a fatal error
 *    at its first switch.
 *  - No switch may happen while a chain passes through JavaScript (a JS
 *    import that called back into an export): Asyncify cannot save JS frames.
 *  - Binaryen's asyncify-asserts (which emcc adds with ASSERTIONS) trap on
 *    any change of the Asyncify state in an uninstrumented function, which
 *    is what gort_fiber_suspend and the loop are for: emscripten.cmake turns
 *    them off.
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
 * Asyncify buffer, some 500 release frames. A suspended chain that does not
 * fit its buffer is reported when its unwind ends (the unwind has then
 * written past the buffer: the program stops at once).
 */
#include "../fiber.h"

#include <emscripten/emscripten.h>
#include <emscripten/stack.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../runtime.h"

/* Binaryen's Asyncify intrinsics, replaced by direct calls when the pass
 * runs (they never reach JS). */
#define ASYNCIFY_INTRINSIC(name) __attribute__((import_module("asyncify"), import_name(name)))
ASYNCIFY_INTRINSIC("start_unwind") void asyncify_start_unwind(void *data);
ASYNCIFY_INTRINSIC("stop_unwind") void asyncify_stop_unwind(void);
ASYNCIFY_INTRINSIC("start_rewind") void asyncify_start_rewind(void *data);
ASYNCIFY_INTRINSIC("stop_rewind") void asyncify_stop_rewind(void);

/* Emscripten's own stack-pointer setter (compiler-rt's stack_ops.S). */
void stackRestore(uintptr_t sp);

/* Puts the stack-overflow check's setter into the function table at `slot`
 * (fiber_lib.js). Returns 0 when the module has no such check. */
extern int gort_fiber_install_check_limits(uintptr_t slot);

_Static_assert(offsetof(prim_fiber, asyncify.end) == offsetof(prim_fiber, asyncify.pos) + 4,
               "Asyncify's data: the current position, then the end, 32-bit each");

/* What a thread that switches fibers keeps (fiber.h). */
_Thread_local struct prim_fiber_thread prim_fiber_thread;

/* ---- the stack-overflow check's limits ---- */

typedef void (*check_limits_fn)(uintptr_t base, uintptr_t limit);

static void check_limits_install(uintptr_t base, uintptr_t limit);

/* Read through a volatile pointer: the call must stay a call through the
 * table, whose slot fiber_lib.js rewrites. */
static check_limits_fn volatile check_limits = check_limits_install;

/* The first call on each thread's module instance lands here, in the slot
 * that fiber_lib.js then fills with the check's own setter. It sets no
 * limits: its own epilogue moves the stack pointer, which must still pass
 * the check in force. */
static void check_limits_install(uintptr_t base, uintptr_t limit)
{
    (void)base;
    (void)limit;
    check_limits_fn slot = check_limits_install;
    if (!gort_fiber_install_check_limits((uintptr_t)slot))
        gort_throw("runtime: the stack-overflow check's limits cannot be set from wasm");
}

/* Makes f's C stack the running one: its limits for the check and for
 * Emscripten's own queries, then the stack pointer (in this order: moving
 * the pointer is itself checked). */
static inline __attribute__((always_inline)) void enter_stack(const prim_fiber *f)
{
    check_limits((uintptr_t)f->stack_base, (uintptr_t)f->stack_limit);
    emscripten_stack_set_limits(f->stack_base, f->stack_limit);
    stackRestore((uintptr_t)f->stack_ptr);
}

/* ---- the switch ---- */

enum {
    FIBER_NEW,       /* initialized, never run */
    FIBER_SUSPENDED, /* unwound: its whole state is in memory */
    FIBER_RESUMING,  /* being rewound */
    FIBER_RUNNING,
    FIBER_EXITED,    /* left for good */
};

/* The top of a switching chain: starts the unwind, or, when the chain is
 * being rewound, ends the rewind so that the code after the switch runs. */
EMSCRIPTEN_KEEPALIVE __attribute__((noinline)) void gort_fiber_suspend(prim_fiber *self)
{
    if (atomic_load_explicit(&self->state, memory_order_relaxed) == FIBER_RESUMING) {
        atomic_store_explicit(&self->state, FIBER_RUNNING, memory_order_relaxed);
        asyncify_stop_rewind();
        return;
    }
    /* Prologues are skipped while a chain is rewound: the pointer must be
     * back below every frame of the chain when it runs again. */
    self->stack_ptr = (void *)emscripten_stack_get_current();
    asyncify_start_unwind(&self->asyncify);
}

/* The thread's loop: runs `to` and every fiber it switches to, until one
 * switches back to `self`, the thread's own fiber. */
EMSCRIPTEN_KEEPALIVE __attribute__((noinline)) void gort_fiber_loop(prim_fiber *self,
                                                                     prim_fiber *to)
{
    struct prim_fiber_thread *t = &prim_fiber_thread; /* the loop never migrates */
    if (t->self != NULL)
        gort_throw("runtime: a thread's fiber switched away from inside a fiber");
    t->self = self;
    self->stack_ptr = (void *)emscripten_stack_get_current();
    /* The limits in force: the first time on this module instance, the
     * call installs the setter instead. */
    check_limits((uintptr_t)self->stack_base, (uintptr_t)self->stack_limit);
    while (to != self) {
        if (to->thread)
            gort_throw("runtime: a thread's own fiber resumed on another thread");
        uint32_t was = atomic_exchange(&to->state, FIBER_RESUMING);
        if (was != FIBER_NEW && was != FIBER_SUSPENDED)
            gort_throw(was == FIBER_EXITED ? "runtime: resuming a fiber that exited"
                                           : "runtime: resuming a fiber that is not suspended");
        enter_stack(to);
        t->running = to;
        t->next = NULL;
        t->exiting = false;
        /* The entry function is the bottom frame of every fiber's chain: a
         * rewind calls it again, and its saved frame takes it to where the
         * chain left. */
        if (was == FIBER_NEW)
            atomic_store_explicit(&to->state, FIBER_RUNNING, memory_order_relaxed);
        else
            asyncify_start_rewind(&to->asyncify);
        to->entry(to->arg);
        /* Back here only by the unwind of to's switch. */
        prim_fiber *from = to;
        to = t->next;
        if (to == NULL)
            gort_throw("runtime: fiber entry function returned");
        if ((uintptr_t)from->asyncify.pos > (uintptr_t)from->asyncify.end)
            gort_throw("runtime: a suspended fiber's call chain overflowed its Asyncify buffer");
        asyncify_stop_unwind();
        atomic_store_explicit(&from->state, t->exiting ? FIBER_EXITED : FIBER_SUSPENDED,
                              memory_order_release);
    }
    t->running = NULL;
    t->self = NULL;
    enter_stack(self);
}

void prim_fiber_not_running(void)
{
    gort_throw("runtime: switching away from a fiber that is not running");
}

void prim_fiber_exit(prim_fiber *from, prim_fiber *to)
{
    if (from->thread)
        gort_throw("runtime: a thread's own fiber cannot exit");
    struct prim_fiber_thread *t = &prim_fiber_thread;
    if (t->running != from)
        prim_fiber_not_running();
    t->next = to;
    t->exiting = true;
    /* The unwind saves the dying chain into from's buffer; nothing reads it
     * again, and nothing touches from once `to` runs. */
    gort_fiber_suspend(from);
    gort_throw("runtime: a fiber that exited was resumed");
}

/* ---- setting up ---- */

void prim_fiber_init_thread(prim_fiber *f)
{
    *f = (prim_fiber){.thread = true};
    f->stack_base = (void *)emscripten_stack_get_base();
    f->stack_limit = (void *)emscripten_stack_get_end();
    atomic_init(&f->state, FIBER_RUNNING);
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
    f->stack_base = top;
    f->stack_limit = stack;
    f->stack_ptr = top;
    f->asyncify_lo = top;
    f->asyncify.pos = top;
    f->asyncify.end = top + PRIM_FIBER_ASYNCIFY_BYTES(stack_size);
    atomic_init(&f->state, FIBER_NEW);
}

void prim_fiber_destroy(prim_fiber *f)
{
    /* Nothing was acquired; a destroyed fiber is never resumed. */
    atomic_store(&f->state, FIBER_EXITED);
}

size_t prim_fiber_saved_bytes(const prim_fiber *f)
{
    if (f->asyncify_lo == NULL)
        return 0; /* a thread's fiber never unwinds */
    return (size_t)(f->asyncify.pos - f->asyncify_lo);
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
    uintptr_t sp = (uintptr_t)f->stack_ptr, base = (uintptr_t)f->stack_base;
    if (!f->thread && sp != 0 && sp < base) {
        lo[n] = sp;
        hi[n] = base;
        n++;
    }
    uintptr_t alo = (uintptr_t)f->asyncify_lo, ahi = (uintptr_t)f->asyncify.pos;
    if (alo != 0 && ahi > alo) {
        lo[n] = alo;
        hi[n] = ahi;
        n++;
    }
    return n;
}
