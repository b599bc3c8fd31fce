/*
 * prim/native/fiber.c — fibers on 64-bit Linux (x86-64, aarch64): a switch
 * pushes the callee-saved registers and the floating-point control state on
 * the running stack, stores the stack pointer in `from`, loads to's stack
 * pointer and pops the same frame there. No system call, no signal mask.
 *
 * Invariants:
 *  - A suspended fiber's `sp` points at a saved frame laid out as the switch
 *    routine pops it (SWITCH_FRAME_BYTES); a new fiber gets a hand-built
 *    frame whose return address is the trampoline, which calls fiber_start.
 *  - Everything caller-saved is dead across the switch call by the ABI, so
 *    only callee-saved state travels in the frame.
 *  - Under ASan every switch is bracketed by start/finish_switch_fiber with
 *    the destination's stack bounds; under TSan every fiber has a TSan
 *    context and __tsan_switch_to_fiber (synchronizing) precedes the switch.
 *  - A stack handed to prim_fiber_init is unpoisoned for ASan, since frames
 *    of a fiber that exited never returned and left their redzones poisoned.
 *  - A thread fiber knows its thread's stack bounds (ASan needs them to
 *    switch back to it).
 *
 * A switch returns to another stack's return address, so it cannot run with
 * x86 CET shadow stacks enabled (Linux turns them on only for programs that
 * ask for them).
 */
#define _GNU_SOURCE
#include "../fiber.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIBER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FIBER_TSAN 1
#endif
#endif

#ifdef FIBER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* Saves the callee-saved state on the current stack, stores the stack
 * pointer in *save_sp and continues on new_sp's saved frame. */
__attribute__((visibility("hidden"))) void prim_fiber_swap_context_(void **save_sp, void *new_sp);
/* First return address of a new fiber: calls fiber_start(fiber), both taken
 * from registers the first switch loads from the hand-built frame. */
__attribute__((visibility("hidden"))) extern char prim_fiber_trampoline_[];

#if defined(__x86_64__)

/* Frame, from the saved sp up: MXCSR (4 bytes) and x87 control word (2) in
 * one 8-byte slot, r15, r14, r13, r12, rbx, rbp, return address. */
#define SWITCH_FRAME_BYTES 64
enum { SLOT_R12 = 4, SLOT_RBX = 5, SLOT_RBP = 6, SLOT_RET = 7 };

__asm__(".text\n"
        ".globl prim_fiber_swap_context_\n"
        ".hidden prim_fiber_swap_context_\n"
        ".type prim_fiber_swap_context_,@function\n"
        ".p2align 4\n"
        "prim_fiber_swap_context_:\n"
        "  .cfi_startproc\n"
        /* The CFA stays rsp-relative with the same offsets on both stacks,
         * so unwind information holds across the stack change. */
        "  pushq %rbp\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  pushq %rbx\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  pushq %r12\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  pushq %r13\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  pushq %r14\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  pushq %r15\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  subq $8, %rsp\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  stmxcsr (%rsp)\n"
        "  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  addq $8, %rsp\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  popq %r15\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  popq %r14\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  popq %r13\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  popq %r12\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  popq %rbx\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  popq %rbp\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size prim_fiber_swap_context_, .-prim_fiber_swap_context_\n"
        /* Entered by `ret` with rsp 16-byte aligned, rbx = the fiber and
         * r12 = fiber_start. rip is marked undefined so that debuggers and
         * unwinders see the bottom of the fiber's stack here. */
        ".globl prim_fiber_trampoline_\n"
        ".hidden prim_fiber_trampoline_\n"
        ".type prim_fiber_trampoline_,@function\n"
        ".p2align 4\n"
        "prim_fiber_trampoline_:\n"
        "  .cfi_startproc\n"
        "  .cfi_undefined rip\n"
        "  movq %rbx, %rdi\n"
        "  callq *%r12\n"
        "  ud2\n"
        "  .cfi_endproc\n"
        ".size prim_fiber_trampoline_, .-prim_fiber_trampoline_\n");

static void fp_control_capture(uint64_t *slot)
{
    uint32_t mxcsr;
    uint16_t x87cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(x87cw));
    *slot = mxcsr | (uint64_t)x87cw << 32;
}

#elif defined(__aarch64__)

/* Frame, from the saved sp up: x19..x28, x29 (frame pointer), x30 (return
 * address), d8..d15, FPCR, padding to keep sp 16-byte aligned. */
#define SWITCH_FRAME_BYTES 176
enum { SLOT_X19 = 0, SLOT_X20 = 1, SLOT_X29 = 10, SLOT_X30 = 11, SLOT_FPCR = 20 };

__asm__(".text\n"
        ".globl prim_fiber_swap_context_\n"
        ".hidden prim_fiber_swap_context_\n"
        ".type prim_fiber_swap_context_,%function\n"
        ".p2align 4\n"
        "prim_fiber_swap_context_:\n"
        "  .cfi_startproc\n"
        "  sub sp, sp, #176\n"
        "  .cfi_def_cfa_offset 176\n"
        "  stp x19, x20, [sp, #0]\n"
        "  stp x21, x22, [sp, #16]\n"
        "  stp x23, x24, [sp, #32]\n"
        "  stp x25, x26, [sp, #48]\n"
        "  stp x27, x28, [sp, #64]\n"
        "  stp x29, x30, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n"
        "  stp d10, d11, [sp, #112]\n"
        "  stp d12, d13, [sp, #128]\n"
        "  stp d14, d15, [sp, #144]\n"
        "  mrs x9, fpcr\n"
        "  str x9, [sp, #160]\n"
        "  mov x10, sp\n"
        "  str x10, [x0]\n"
        "  mov sp, x1\n"
        /* Writing FPCR can stall the pipeline; skip it when unchanged. */
        "  ldr x10, [sp, #160]\n"
        "  cmp x9, x10\n"
        "  b.eq 1f\n"
        "  msr fpcr, x10\n"
        "1:\n"
        "  ldp x19, x20, [sp, #0]\n"
        "  ldp x21, x22, [sp, #16]\n"
        "  ldp x23, x24, [sp, #32]\n"
        "  ldp x25, x26, [sp, #48]\n"
        "  ldp x27, x28, [sp, #64]\n"
        "  ldp x29, x30, [sp, #80]\n"
        "  ldp d8, d9, [sp, #96]\n"
        "  ldp d10, d11, [sp, #112]\n"
        "  ldp d12, d13, [sp, #128]\n"
        "  ldp d14, d15, [sp, #144]\n"
        "  add sp, sp, #176\n"
        "  .cfi_def_cfa_offset 0\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size prim_fiber_swap_context_, .-prim_fiber_swap_context_\n"
        /* Entered by `ret` with x19 = the fiber and x20 = fiber_start. */
        ".globl prim_fiber_trampoline_\n"
        ".hidden prim_fiber_trampoline_\n"
        ".type prim_fiber_trampoline_,%function\n"
        ".p2align 4\n"
        "prim_fiber_trampoline_:\n"
        "  .cfi_startproc\n"
        "  .cfi_undefined x30\n"
        "  mov x0, x19\n"
        "  blr x20\n"
        "  brk #0\n"
        "  .cfi_endproc\n"
        ".size prim_fiber_trampoline_, .-prim_fiber_trampoline_\n");

static void fp_control_capture(uint64_t *slot)
{
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    *slot = fpcr;
}

#else
#error "gort fibers: no context switch for this architecture (x86-64 and aarch64 only)"
#endif

/* Runs on the new fiber's stack, called from the trampoline. */
static _Noreturn void fiber_start(prim_fiber *self)
{
#ifdef FIBER_ASAN
    /* A new fiber has no fake stack to restore. */
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    self->entry(self->arg);
    gort_throw("runtime: fiber entry function returned");
}

void prim_fiber_init_thread(prim_fiber *f)
{
    *f = (prim_fiber){0};
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        gort_throw("runtime: cannot find the thread's stack");
    if (pthread_attr_getstack(&attr, &f->stack_lo, &f->stack_size) != 0)
        gort_throw("runtime: cannot find the thread's stack");
    pthread_attr_destroy(&attr);
#ifdef FIBER_TSAN
    f->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void *prim_fiber_first_frame(void *stack, size_t stack_size)
{
    /* Inside the switch frame prim_fiber_init writes. */
    return (void *)((((uintptr_t)stack + stack_size) & ~(uintptr_t)15) - 16);
}

void prim_fiber_init(prim_fiber *f, void *stack, size_t stack_size, void (*entry)(void *),
                     void *arg)
{
    if (stack_size < PRIM_FIBER_MIN_STACK || ((uintptr_t)stack & 15) != 0)
        gort_throw("runtime: fiber stack too small or misaligned");
    *f = (prim_fiber){.stack_lo = stack, .stack_size = stack_size, .entry = entry, .arg = arg};
#ifdef FIBER_ASAN
    __asan_unpoison_memory_region(stack, stack_size);
#endif
#ifdef FIBER_TSAN
    f->tsan_fiber = __tsan_create_fiber(0);
    f->tsan_owned = 1;
#endif

    uintptr_t top = ((uintptr_t)stack + stack_size) & ~(uintptr_t)15;
    uint64_t *frame = (uint64_t *)(top - SWITCH_FRAME_BYTES);
    for (size_t i = 0; i < SWITCH_FRAME_BYTES / sizeof(uint64_t); i++)
        frame[i] = 0;
#if defined(__x86_64__)
    /* The trampoline is "returned to" with rsp = top: 16-byte aligned, as a
     * call instruction needs; rbp = 0 ends frame-pointer walks. */
    fp_control_capture(&frame[0]);
    frame[SLOT_R12] = (uint64_t)(uintptr_t)fiber_start;
    frame[SLOT_RBX] = (uint64_t)(uintptr_t)f;
    frame[SLOT_RBP] = 0;
    frame[SLOT_RET] = (uint64_t)(uintptr_t)prim_fiber_trampoline_;
#elif defined(__aarch64__)
    fp_control_capture(&frame[SLOT_FPCR]);
    frame[SLOT_X19] = (uint64_t)(uintptr_t)f;
    frame[SLOT_X20] = (uint64_t)(uintptr_t)fiber_start;
    frame[SLOT_X29] = 0;
    frame[SLOT_X30] = (uint64_t)(uintptr_t)prim_fiber_trampoline_;
#endif
    f->sp = frame;
}

void prim_fiber_switch(prim_fiber *from, prim_fiber *to)
{
#ifdef FIBER_ASAN
    __sanitizer_start_switch_fiber(&from->asan_fake_stack, to->stack_lo, to->stack_size);
#endif
#ifdef FIBER_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    prim_fiber_swap_context_(&from->sp, to->sp);
#ifdef FIBER_ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake_stack, NULL, NULL);
#endif
}

void prim_fiber_exit(prim_fiber *from, prim_fiber *to)
{
#ifdef FIBER_ASAN
    /* NULL: this stack is left for good, so ASan drops its fake stack. */
    __sanitizer_start_switch_fiber(NULL, to->stack_lo, to->stack_size);
#endif
#ifdef FIBER_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    prim_fiber_swap_context_(&from->sp, to->sp);
    gort_throw("runtime: a fiber that exited was resumed");
}

void prim_fiber_destroy(prim_fiber *f)
{
#ifdef FIBER_TSAN
    if (f->tsan_owned)
        __tsan_destroy_fiber(f->tsan_fiber);
#endif
    f->tsan_fiber = NULL;
    f->tsan_owned = 0;
}

size_t prim_fiber_saved_bytes(const prim_fiber *f)
{
    if (f->stack_lo == NULL || f->sp == NULL)
        return 0;
    return (size_t)((char *)f->stack_lo + f->stack_size - (char *)f->sp);
}

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

void *prim_stack_alloc(size_t size)
{
    size_t page = page_size();
    size = round_up(size, page);
    char *base = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    if (mprotect(base, page, PROT_NONE) != 0) {
        munmap(base, size + page);
        return NULL;
    }
    return base + page;
}

void prim_stack_free(void *stack, size_t size)
{
    size_t page = page_size();
    size = round_up(size, page);
#ifdef FIBER_ASAN
    /* The shadow outlives the mapping: leave no stale redzones behind. */
    __asan_unpoison_memory_region(stack, size);
#endif
    munmap((char *)stack - page, size + page);
}

int prim_fiber_scan_ranges(const prim_fiber *f, uintptr_t lo[2], uintptr_t hi[2])
{
    if (f->stack_lo == NULL || f->sp == NULL)
        return 0;
    lo[0] = (uintptr_t)f->sp;
    hi[0] = (uintptr_t)f->stack_lo + f->stack_size;
    return 1;
}
