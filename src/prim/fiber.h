/*
 * fiber.h — user-level context switching, the ground the goroutine scheduler
 * stands on: a fiber is a C stack plus the saved state of a suspended call
 * chain, and one call switches from the running fiber straight to another.
 * A thread's own stack becomes a fiber too (the M's g0), so the scheduler can
 * switch between goroutines and its scheduling context alike.
 *
 * Two implementations: prim/native/fiber.c (x86-64 and aarch64 Linux: a
 * hand-written register switch, no system call) and prim/wasm/fiber.c
 * (Asyncify driven from wasm: a suspended fiber's wasm locals are unwound
 * into its Asyncify buffer and rewound on resume, with no JavaScript in the
 * switch).
 *
 * Invariants and rules:
 *  - A fiber runs on at most one thread at a time, but a suspended fiber may be
 *    resumed by any thread: state never refers to the thread it last ran on.
 *  - While a fiber is suspended its whole state is in memory: natively in its
 *    C stack below `sp`; on wasm in its C stack and its Asyncify buffer.
 *  - Never keep the address of a thread-local variable across a switch: the
 *    code after the switch may run on another thread, and compilers assume
 *    the thread pointer does not change inside a function. Read thread-locals
 *    through a non-inlined call made after the switch (pthread_self() is
 *    declared const by glibc and may be reused across a switch, too).
 *  - A fiber's stack (and the prim_fiber itself) may be reused or freed once
 *    the fiber has left for good (with prim_fiber_exit, or by staying
 *    suspended for ever) and prim_fiber_destroy has been called on it.
 *  - Sanitizers: natively under ASan and TSan every switch is reported to the
 *    sanitizer (stack bounds, fake stacks, per-fiber TSan contexts), so
 *    sanitized builds see fibers as distinct stacks.
 *  - wasm only: a fiber must not switch while its call chain passes through
 *    JavaScript (a JS function that called back into wasm): Asyncify cannot
 *    save JS frames. A thread's own fiber never unwinds, so the thread's
 *    call chain below it may hold JS frames (main() under JS's __call_main
 *    may switch) and a thread may return from its start routine.
 *    src/prim/wasm/fiber_lib.js must be linked (--js-library): it lets the
 *    switch set the stack-overflow check's limits from wasm.
 */
#ifndef GORT_PRIM_FIBER_H
#define GORT_PRIM_FIBER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct prim_fiber prim_fiber;

/* A fiber's saved context. Callers embed it (in a G or an M) and touch no
 * field: the layout is the platform's. */
struct prim_fiber {
#ifdef __EMSCRIPTEN__
    struct {                 /* Asyncify's data, read by its generated code: */
        char *pos;           /* where the next saved byte goes */
        char *end;           /* the buffer's end */
    } asyncify;
    char *asyncify_lo;       /* where the Asyncify buffer starts (a thread's: NULL) */
    void *stack_ptr;         /* C stack pointer while suspended */
    void *stack_base;        /* the C stack's highest address */
    void *stack_limit;       /* the lowest address the C stack may reach */
    _Atomic uint32_t state;  /* new, suspended, resuming, running, exited */
    bool thread;             /* a thread's own stack: never unwinds */
#else
    void *sp;                /* stack pointer of the suspended context */
    void *stack_lo;          /* lowest usable byte of the stack */
    size_t stack_size;       /* bytes usable above stack_lo */
    void *asan_fake_stack;   /* ASan's fake stack while suspended */
    void *tsan_fiber;        /* TSan's context for this fiber */
    int tsan_owned;          /* the TSan context was created by us */
#endif
    void (*entry)(void *);   /* a new fiber's function, called on first entry */
    void *arg;
};

/* Makes f stand for the calling thread's own stack, so that the thread can
 * switch away to fibers and be switched back to (Go's g0). f must only ever
 * be resumed on this same thread. On wasm the thread's chain stays where it
 * is while other fibers run above it: f needs no Asyncify buffer. */
void prim_fiber_init_thread(prim_fiber *f);

/* Prepares f to run entry(arg) on [stack, stack + stack_size) when it is
 * first switched to. entry must never return: it ends with prim_fiber_exit.
 * stack should come from prim_stack_alloc (any 16-byte aligned memory works)
 * and be at least PRIM_FIBER_MIN_STACK bytes.
 *
 * On wasm the high end of the region, PRIM_FIBER_ASYNCIFY_BYTES(stack_size)
 * bytes, becomes the fiber's Asyncify buffer (the wasm locals of its call
 * chain while it is suspended; a switch whose chain does not fit traps with
 * 'unreachable') and the rest, below it, its C stack. Both grow with the
 * depth of the call chain, so one region sized for the deepest chain serves
 * both. On both platforms the fiber writes the low end of the region only
 * when its C stack grows that deep, so a caller may keep a guard zone there. */
void prim_fiber_init(prim_fiber *f, void *stack, size_t stack_size,
                     void (*entry)(void *), void *arg);

/* Saves the running context in `from` (which must be the running fiber) and
 * resumes `to`, on this thread, wherever `to` last ran. Returns when some
 * thread switches back to `from`. `to` must be suspended: new, or stopped in
 * prim_fiber_switch, and not being resumed by another thread (on wasm a
 * fiber resumed while it runs, twice, or after it exited is a fatal error). */
#ifdef __EMSCRIPTEN__
static inline void prim_fiber_switch(prim_fiber *from, prim_fiber *to);
#else
void prim_fiber_switch(prim_fiber *from, prim_fiber *to);
#endif

/* Like prim_fiber_switch, but `from` leaves for good: it is never resumed,
 * and once `to` runs, from's stack may be reused and from may be destroyed
 * (by another fiber) and initialized again. */
_Noreturn void prim_fiber_exit(prim_fiber *from, prim_fiber *to);

/* Releases what prim_fiber_init or prim_fiber_init_thread acquired (a TSan
 * context). f must not be resumed afterwards (on wasm that is a fatal
 * error); it must not be running, except that a thread may destroy its own
 * thread fiber while running on its own stack (before it exits). */
void prim_fiber_destroy(prim_fiber *f);

/* For a suspended fiber: how many bytes its saved call chain occupies —
 * natively the part of its C stack in use, on wasm the part of its Asyncify
 * buffer in use. For sizing stacks and buffers, and for tests. (Natively a
 * thread fiber counts from the top of the thread's stack mapping, which
 * also holds the thread's static TLS; on wasm a thread fiber saves nothing.) */
size_t prim_fiber_saved_bytes(const prim_fiber *f);

/* For the collector: the memory that holds a suspended fiber's state, as up
 * to two address ranges [lo[i], hi[i]) — natively the used part of its C
 * stack (the switch pushed its registers there), on wasm the used part of
 * its C stack and of its Asyncify buffer (its wasm locals). Returns how many
 * ranges it wrote. Meaningful only while f is suspended. */
int prim_fiber_scan_ranges(const prim_fiber *f, uintptr_t lo[2], uintptr_t hi[2]);

/* 16 bytes inside a fiber stack laid out by prim_fiber_init(stack,
 * stack_size) that every fiber run on it has written: the top of its C
 * stack, where the first frame goes. The rest of a stack's pages may never
 * have been touched (wasm's buffer half, a deep stack's low end). */
void *prim_fiber_first_frame(void *stack, size_t stack_size);

/* A stack for a fiber, `size` usable bytes, page aligned. Natively it is
 * mmap'ed with a PROT_NONE guard page just below it, so running off the low
 * end faults instead of corrupting memory; on wasm it is plain aligned heap
 * memory (overflow is caught only by -sSTACK_OVERFLOW_CHECK). Returns NULL
 * when memory is exhausted. */
void *prim_stack_alloc(size_t size);

/* Frees a stack from prim_stack_alloc; size as given to it. */
void prim_stack_free(void *stack, size_t size);

/* The smallest stack prim_fiber_init accepts. */
#ifdef __EMSCRIPTEN__
/* wasm keeps a suspended chain's locals in the Asyncify half: a goroutine
 * that only parks needs a few hundred bytes of each half. */
#define PRIM_FIBER_MIN_STACK ((size_t)2048)
#else
#define PRIM_FIBER_MIN_STACK ((size_t)8192)
#endif

/* How many fibers may exist at once (initialized, not yet destroyed): no
 * limit but memory, except under ThreadSanitizer, whose runtime (gcc 12,
 * clang 14) gives every fiber one of its 8,128 thread slots, threads
 * included, and dies when they run out (Go's race detector had the same
 * limit). Tests that create many goroutines scale down to this. */
#if defined(__SANITIZE_THREAD__)
#define PRIM_FIBER_MAX_LIVE ((size_t)8000)
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PRIM_FIBER_MAX_LIVE ((size_t)8000)
#endif
#endif
#ifndef PRIM_FIBER_MAX_LIVE
#define PRIM_FIBER_MAX_LIVE SIZE_MAX
#endif

#ifdef __EMSCRIPTEN__
/* wasm: prim_fiber_switch is inlined into its caller, whose frame is then
 * the last one a suspending chain saves (every saved frame is unwound and
 * rewound, costing every switch twice); the rest is prim/wasm/fiber.c's. */
struct prim_fiber_thread {
    prim_fiber *self;    /* the thread's own fiber, while its loop runs */
    prim_fiber *running; /* the fiber whose chain runs above the loop */
    prim_fiber *next;    /* where the running fiber's switch goes */
    bool exiting;        /* the running fiber leaves for good */
};
extern _Thread_local struct prim_fiber_thread prim_fiber_thread;
void gort_fiber_suspend(prim_fiber *self);
void gort_fiber_loop(prim_fiber *self, prim_fiber *to);
_Noreturn void prim_fiber_not_running(void);

static inline void prim_fiber_switch(prim_fiber *from, prim_fiber *to)
{
    if (from->thread) {
        gort_fiber_loop(from, to);
        return;
    }
    struct prim_fiber_thread *t = &prim_fiber_thread;
    if (t->running != from)
        prim_fiber_not_running();
    t->next = to;
    t->exiting = false;
    gort_fiber_suspend(from);
    /* Resumed, perhaps on another thread: t is stale. */
}

/* The share of a fiber's stack region that holds its Asyncify buffer: half
 * (measured, see wasm/fiber.c), a multiple of 16 bytes. */
#define PRIM_FIBER_ASYNCIFY_BYTES(stack_size) (((stack_size) / 2) & ~(size_t)15)
#endif

#endif
