/*
 * gort/gc.h — the garbage collector: a concurrent, non-moving tri-color
 * mark-sweep collector, Go's design. It runs while gort_main runs: a
 * background thread marks while goroutines keep running, allocating
 * goroutines help when they outpace it, and freed objects are swept lazily.
 *
 * What keeps an object alive (the roots): goroutine stacks (scanned
 * conservatively: any word that points anywhere inside an object keeps it),
 * the arguments of goroutines not yet started, regions registered with
 * gort_add_roots, handles, channels' buffers and waiters, pending timers,
 * and objects waiting for their finalizer. Inside the heap, only the words a
 * gort_type marks as pointers are followed.
 *
 * THE RULE. While the collector marks, it must hear of every pointer store
 * into the heap. So every store of a heap pointer into a heap object or into
 * a registered root region goes through gort_store (or GORT_STORE), and
 * every copy of a typed value that holds pointers into such memory goes
 * through gort_typedmemmove. Stores into local variables (the stack) need
 * nothing. A plain store of a pointer into a heap object may lose the object
 * it points to; under GORT_DEBUG builds the verification mode
 * (gccheckmark) reports such losses.
 *
 * Threads that are not goroutines are not scanned: a thread that is not a
 * goroutine keeps the objects it uses alive through a handle, a root region
 * or a reachable object (as C code may not keep Go pointers in Go). The last
 * 8 objects such a thread allocated are kept for it, so that what it has just
 * made lives until it has stored it there.
 */
#ifndef GORT_GC_H
#define GORT_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "malloc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The write barrier's switch, read inline by gort_store: nonzero while a
 * collection marks. Set only by the collector. */
extern struct gort_write_barrier {
    uint32_t enabled;
} gort_writeBarrier;

/* A relaxed store: an atomic one natively (so race detectors see it), a
 * plain one on wasm, where every atomic store is sequentially consistent
 * and costs an exchange. */
#ifdef __wasm__
#define GORT_STORE_RELAXED_(slot, value) (*(void **)(slot) = (void *)(value))
#else
#define GORT_STORE_RELAXED_(slot, value) \
    __atomic_store_n((void **)(slot), (void *)(value), __ATOMIC_RELAXED)
#endif

/* The slow path of gort_store (the collector is marking). */
void gort_store_slow(void *slot, const void *value, int order);

/*
 * Stores the pointer `value` into the pointer-sized word at `slot` (a field
 * of a heap object or of a root region), telling the collector (Go's write
 * barrier: the old and the new pointer are shaded). While no collection
 * marks it costs one load and one branch more than a plain store. The store
 * itself is relaxed: it orders nothing (as a plain store in Go); use
 * gort_store_release to publish an object to threads that read it without a
 * lock.
 */
static inline void gort_store(void *slot, const void *value)
{
    if (__builtin_expect(__atomic_load_n(&gort_writeBarrier.enabled, __ATOMIC_RELAXED) != 0, 0))
        gort_store_slow(slot, value, __ATOMIC_RELAXED);
    else
        GORT_STORE_RELAXED_(slot, value);
}

/* gort_store with release order: whatever the caller wrote before is
 * visible to a thread that loads `value` from `slot` with acquire order (Go's
 * atomic.Pointer.Store). */
static inline void gort_store_release(void *slot, const void *value)
{
    if (__builtin_expect(__atomic_load_n(&gort_writeBarrier.enabled, __ATOMIC_RELAXED) != 0, 0))
        gort_store_slow(slot, value, __ATOMIC_RELEASE);
    else
        __atomic_store_n((void **)slot, (void *)value, __ATOMIC_RELEASE);
}

/* gort_store for an lvalue of pointer type: GORT_STORE(node->next, other). */
#define GORT_STORE(lvalue, value) gort_store((void *)&(lvalue), (const void *)(value))

/* Copies one value of type t from src to dst (dst in the heap or in a root
 * region) with the write barrier for each pointer word. */
void gort_typedmemmove(const gort_type *t, void *dst, const void *src);

/*
 * Registers [start, start + size) as a root region (a global or a block of
 * C memory that holds heap pointers): every aligned word of it is scanned
 * conservatively. Stores into it must use gort_store. Returns GORT_OK, or
 * GORT_EINVAL for a NULL or empty region, GORT_ENOMEM when the table cannot
 * grow.
 */
int gort_add_roots(void *start, size_t size);
/* Unregisters the region starting at start; GORT_EINVAL if none does. */
int gort_remove_roots(void *start);

/*
 * A handle: a reference to a heap object held outside the heap and the
 * stacks (by C code on any thread, and by JavaScript). The object stays
 * alive until the handle is deleted. 0 is never a valid handle, and no
 * handle is 2^31 or more. A deleted handle stays dead: the handles made
 * later are other numbers (the table reuses a number after 512 deletions
 * of its slot).
 */
typedef uint32_t gort_handle;
/* A new handle to obj (a heap object or NULL), or 0 when the table is full. */
gort_handle gort_handle_new(void *obj);
/* The object a handle refers to (NULL for handle 0 or a deleted handle). */
void *gort_handle_get(gort_handle h);
/* Makes h refer to obj instead. GORT_EINVAL for a handle not in use. */
int gort_handle_set(gort_handle h, void *obj);
/* Deletes h; the object may then be collected. GORT_EINVAL for a handle not
 * in use. */
int gort_handle_delete(gort_handle h);

/*
 * Runs a full collection and waits for it, sweep included (Go's
 * runtime.GC). From a goroutine it parks; from another thread it sleeps.
 * GORT_ESTATE when no runtime is running.
 */
int gort_gc(void);

/*
 * Sets GOGC: a collection starts when the heap has grown by this percentage
 * over what the last one left live (default 100). A negative value turns
 * automatic collection off (GOGC=off); gort_gc still works. Returns the
 * previous setting, as Go's debug.SetGCPercent.
 */
int gort_set_gc_percent(int percent);

/*
 * Sets the soft memory limit in bytes (Go's GOMEMLIMIT): the collector runs
 * more often as the runtime's memory nears it. INT64_MAX (the default) means
 * no limit; a negative value only reads the setting. Returns the previous
 * limit.
 */
int64_t gort_set_memory_limit(int64_t limit);

/*
 * GODEBUG's gccheckmark, live: from the next cycle on (a cycle keeps the
 * setting it began with), mark termination re-marks everything from the
 * roots with the world stopped, every goroutine switched out, and ends the
 * program with a fatal error if it reaches an object the concurrent mark
 * left white. Costs a second, stop-the-world mark per cycle. Returns the
 * previous setting. Callable from any thread; never waits. gort_main sets it
 * from GODEBUG (gort_config.godebug) as a runtime starts.
 */
bool gort_set_gc_checkmark(bool on);

/*
 * GODEBUG's gcstoptheworld=1, live: from the next cycle on, a cycle runs
 * sweep termination, the whole mark and mark termination in one pause, with
 * every goroutine switched out; only the sweep stays concurrent. The
 * concurrent collector's pauses are short and its mark shares the CPU with
 * goroutines; this mode shows the difference (one long pause per cycle, no
 * write barrier or assist while goroutines run). Returns the previous
 * setting. Callable from any thread; never waits. gort_main sets it from
 * GODEBUG (gcstoptheworld=1) as a runtime starts.
 */
bool gort_set_gc_stop_the_world(bool on);

/*
 * Runs fn(obj, arg) once, on the runtime's finalizer goroutine, after obj
 * becomes unreachable (Go's runtime.SetFinalizer); obj is then kept until
 * the next cycle, so fn may use it (and store it somewhere, making it
 * reachable again: the finalizer does not run twice). obj must be the base
 * of a heap object. fn NULL removes obj's finalizer. Returns GORT_OK, or
 * GORT_EINVAL when obj is not the start of a heap object.
 */
int gort_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg);

/* Keeps p reachable up to this call (Go's runtime.KeepAlive): a local
 * variable read here is live until here. */
static inline void gort_keep_alive(const void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

/* The collector's phases, as the seed notes number them. */
enum gort_gc_phase {
    GORT_GC_OFF = 0,             /* not collecting (sweeping may go on) */
    GORT_GC_SWEEP_TERMINATION,   /* world stopped: preparing the cycle */
    GORT_GC_MARK,                /* concurrent marking, write barrier on */
    GORT_GC_MARK_TERMINATION,    /* world stopped: finishing the mark */
    GORT_GC_SWEEP,               /* concurrent sweeping */
};

/* What the event hook hears: a phase change, with the cycle's figures
 * filled in when the cycle's sweep ends (phase GORT_GC_OFF). */
typedef struct gort_gc_event {
    uint32_t cycle;             /* 1 for the first collection */
    enum gort_gc_phase phase;   /* the phase just entered */
    int64_t time_ns;            /* monotonic time of the change */
    uint64_t heap_live_start;   /* bytes live when the cycle started */
    uint64_t heap_marked;       /* bytes marked: live after the cycle */
    uint64_t heap_goal;         /* goal for the next cycle */
    int64_t stw_sweep_term_ns;  /* the two pauses */
    int64_t stw_mark_term_ns;
    int64_t mark_ns;            /* concurrent mark, wall time */
} gort_gc_event;

/* Calls fn(event, arg) at every phase change, on the collector's thread (fn
 * must not block or allocate); NULL removes it. */
void gort_set_gc_event_hook(void (*fn)(const gort_gc_event *event, void *arg), void *arg);

/* The phase the collector is in now. */
enum gort_gc_phase gort_gc_phase(void);

#ifdef __cplusplus
}
#endif

#endif
