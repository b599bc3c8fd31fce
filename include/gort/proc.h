/*
 * gort/proc.h — goroutines: starting the runtime, spawning, yielding,
 * sleeping.
 *
 * gort runs goroutines on an M:N scheduler as Go does: GOMAXPROCS logical
 * processors (P), each with a run queue, served by worker threads (M); a
 * goroutine (G) that blocks parks and lets its P run another. Preemption is
 * cooperative: a goroutine gives up its P only at a safepoint — a blocking
 * operation, gort_yield, gort_sleep, an allocation, or gort_safepoint — when
 * it blocks, when the collector asks, or when it has run a time slice (10 ms,
 * Go's) while another goroutine or a due timer waits for its P; that last
 * one is looked at where it allocates from a fresh span. A goroutine that
 * loops without any of these keeps its P (on wasm no signal can interrupt
 * it).
 *
 * Goroutine code may run on any worker thread, and on another one after each
 * park: do not keep the address of a thread-local variable across a call that
 * may park.
 */
#ifndef GORT_PROC_H
#define GORT_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_config {
    /* Logical processors (GOMAXPROCS); 0 means the number of CPUs. On wasm
     * the worker pool must have at least this many free workers. */
    int procs;
    /* Default stack size of a goroutine in bytes; 0 means
     * GORT_DEFAULT_STACK_SIZE. Rounded up to a multiple of 512 bytes. */
    size_t stack_size;
    /* Debug settings in Go's GODEBUG syntax, e.g. "gctrace=1,gccheckmark=1":
     * gctrace=1 prints a line per collection on stderr in Go's format;
     * gccheckmark=1 verifies each collection's mark with the world stopped
     * and aborts with a report if a reachable object was left unmarked;
     * gcstoptheworld=1 runs each collection's mark with the world stopped
     * (both also change live: gort/gc.h).
     * NULL reads the GODEBUG environment variable instead. */
    const char *godebug;
} gort_config;

/*
 * The stack a goroutine gets unless it asks otherwise, and the smallest it
 * may ask for. Measured (bench/bench_proc.c prints the figures): printf with
 * floating-point and long double conversions takes about 10.6 KB of C stack
 * natively (glibc) and 1.5 KB on wasm, where wasm locals live in the engine
 * and a parked goroutine's are saved in the Asyncify half of its stack (the
 * upper half; a shallow park saves about 200 bytes). The defaults leave a
 * margin of about 6x (native) and 5x (wasm) over printf. The smallest stack
 * suffices for a goroutine that computes and parks, not for printf.
 */
#ifdef __EMSCRIPTEN__
#define GORT_DEFAULT_STACK_SIZE ((size_t)16384)
#define GORT_MIN_STACK_SIZE ((size_t)3584)
#else
#define GORT_DEFAULT_STACK_SIZE ((size_t)65536)
#define GORT_MIN_STACK_SIZE ((size_t)16384)
#endif

/*
 * Starts the runtime with `config` (NULL for defaults), runs fn(arg) as
 * goroutine 1 and returns when it returns, as a Go program ends when main
 * returns: goroutines still running are abandoned and the runtime stops.
 * Returns GORT_OK, GORT_EDEADLOCK when every goroutine blocked with nothing
 * left to wake one, GORT_ENOMEM, or GORT_ESTATE when a runtime is already
 * running. The calling thread blocks until then; it must be allowed to block
 * (on the web, a worker). gort_main may be called again after it returns.
 */
int gort_main(const gort_config *config, void (*fn)(void *), void *arg);

/* Starts fn(arg) in a new goroutine (Go's `go` statement), from a goroutine
 * or from any thread while the runtime runs. GORT_OK, GORT_ENOMEM,
 * GORT_EINVAL (fn NULL) or GORT_ESTATE (no runtime). */
int gort_go(void (*fn)(void *), void *arg);

/* Like gort_go with a stack of stack_size bytes (at least
 * GORT_MIN_STACK_SIZE, else GORT_EINVAL). */
int gort_go_stack(void (*fn)(void *), void *arg, size_t stack_size);

#ifdef __cplusplus
#define GORT_NORETURN [[noreturn]]
#else
#define GORT_NORETURN _Noreturn
#endif

/* Ends the calling goroutine (Go's runtime.Goexit); never returns. */
GORT_NORETURN void gort_goexit(void);

/* Gives up the processor so that other goroutines run (runtime.Gosched). */
void gort_yield(void);

/* Nonzero while the runtime asks goroutines to come to a safepoint (a
 * stop-the-world, or goroutine stacks waiting for their scan). Read inline
 * by gort_safepoint; set only by the runtime. */
extern uint32_t gort_safepoint_requested;

/* What gort_safepoint does when the runtime asks for something. */
void gort_safepoint_slow(void);

/* A safepoint: lets the runtime stop this goroutine here if it must (for
 * the collector); otherwise returns at once, for the cost of a load and a
 * branch. Go's compiler puts such a check at every function entry; C code
 * gets none, so a long loop or deep recursion that neither allocates nor
 * blocks should call it: until it does, a collection waits for it, and
 * with a stop-the-world every goroutine waits too. */
static inline void gort_safepoint(void)
{
    if (__builtin_expect(__atomic_load_n(&gort_safepoint_requested, __ATOMIC_RELAXED) != 0, 0))
        gort_safepoint_slow();
}

/* Parks the calling goroutine for at least ns nanoseconds (time.Sleep);
 * from a thread that is not a goroutine, blocks that thread. */
void gort_sleep(int64_t ns);

/* Monotonic clock, in nanoseconds. */
int64_t gort_nanotime(void);

/* The calling goroutine's id (1 for the main goroutine), or 0 on a thread
 * that is not running a goroutine. */
uint64_t gort_goid(void);

/* Goroutines that exist now (runtime.NumGoroutine). A count, not a
 * synchronization: seeing a goroutine gone from it does not order what that
 * goroutine wrote before it ended; join it through a channel or a WaitGroup. */
int gort_num_goroutine(void);

/* The number of logical processors of the running runtime (GOMAXPROCS);
 * 0 when no runtime runs. */
int gort_gomaxprocs(void);

/*
 * Sets GOMAXPROCS to n while the runtime runs and returns the previous
 * setting, as Go's runtime.GOMAXPROCS(n); n < 1 only reads it. The runtime
 * makes its processors and their threads when it starts (on wasm the worker
 * pool cannot grow synchronously), so n is cut to that count, which
 * gort_gomaxprocs_limit gives: a lower setting parks the processors above n
 * and a higher one brings them back. The change stops the world for the
 * time it takes every processor to come to a safepoint, and waits for it:
 * call it from a goroutine or from a thread that may block, not from the
 * browser's main thread. Returns 0 when no runtime runs.
 */
int gort_set_gomaxprocs(int n);

/* The most GOMAXPROCS can be: the processors the running runtime started
 * with (gort_config.procs); 0 when no runtime runs. */
int gort_gomaxprocs_limit(void);

/*
 * The runtime reports a deadlock when every goroutine is blocked, no timer is
 * pending and no thread outside the runtime is blocked in it. A thread that
 * is not a goroutine and will later wake goroutines (send, unlock, Done)
 * without blocking in the runtime first should hold a keepalive meanwhile:
 * gort_keepalive(1) before, gort_keepalive(-1) once it is done.
 */
void gort_keepalive(int delta);

/* Scheduler statistics. */
typedef struct gort_sched_stats {
    uint64_t goroutines_created;
    uint64_t stw_count;         /* stop-the-world pauses so far */
    int64_t stw_max_ns;         /* the longest of them */
    int64_t stw_total_ns;
    uint64_t steals;            /* goroutines taken from another P's queue */
    uint64_t migrations;        /* goroutines resumed on another thread */
} gort_sched_stats;
void gort_read_sched_stats(gort_sched_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
