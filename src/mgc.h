/*
 * mgc.h — the collector's shared state and internal interface: phase,
 * write-barrier and black-allocation switches, the pacer's figures, and the
 * calls the allocator, the scheduler and the channels make into the
 * collector. Split over files as Go splits it: mgc.c (the cycle), mgcmark.c
 * (marking and roots), mbarrier.c (the write barrier), mgcsweep.c
 * (sweeping), mgcpacer.c (when to collect and how much to assist), mfinal.c
 * (finalizers), handle.c (handles and root regions).
 *
 * Invariants:
 *  - writeBarrier_enabled is true exactly while gcphase is MARK or
 *    MARK_TERMINATION, and both change only with the world stopped (and the
 *    external-allocation lock held), so no mutator sees half a change;
 *  - gcBlackenEnabled is true exactly during MARK: objects allocated then
 *    are born marked (black);
 *  - between two cycles every gcmarkBits is zero: sweeping clears it, new
 *    spans start clear, and an abandoned cycle clears them all.
 */
#ifndef GORT_MGC_H
#define GORT_MGC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gort/gc.h"
#include "mcache.h"
#include "mgcwork.h"
#include "mheap.h"
#include "prim/prim.h"
#include "runtime2.h"

extern _Atomic uint32_t gcphase; /* enum gort_gc_phase */
extern atomic_bool writeBarrier_enabled;
extern atomic_bool gcBlackenEnabled;

/* Threads without a p allocate from one shared cache under this lock; the
 * collector's stop-the-world phases hold it too, which stops them as the
 * world stops goroutines. A cache line of their own: a worker that sends
 * values from JS takes the lock for every one, and beside data that other
 * threads write, taking it cost ~14% of such a sender's time in a profile
 * (the line was elsewhere each time), against nothing measurable alone. */
typedef struct extalloc_state {
    _Alignas(PRIM_CACHE_LINE) mutex lock;
    mcache *cache;
} extalloc_state;
extern extalloc_state extalloc;

/* For a thread without a p (a JS party): allocates n pointer-free bytes and
 * stores their address into *root, a word of a root region, shading it as
 * the write barrier would; both under extalloc.lock, so that no collection
 * can begin and end between the allocation and the store. NULL when the
 * heap cannot grow. */
void *mallocgc_external_into(void **root, size_t n);
/* The same for a thread that must not wait for the lock (try mode): *busy
 * is set, and nothing done, when extalloc.lock is not free at once. */
void *mallocgc_external_try_into(void **root, size_t n, bool *busy);

/* A thread in try mode may take extalloc.lock ahead of an operation whose
 * copies run the write barrier (extalloc_try_hold: false when it is not free
 * at once), so that the barrier of a thread without a p, which shades under
 * that lock, never waits inside the operation; extalloc_release_hold lets it
 * go. extalloc_held_here: whether this thread holds it so. */
bool extalloc_try_hold(void);
void extalloc_release_hold(void);
bool extalloc_held_here(void);

/* Whether objects of type t can be allocated: a type with pointers is made
 * of whole words and its pointer mask lies inside it (gort_new's check). */
bool malloc_type_is_valid(const gort_type *t);

/* ---- marking (mgcmark.c) ---- */

/* Marks the object containing p, if p points into an allocated heap object,
 * and queues it for scanning when it holds pointers. */
void shade(uintptr_t p, gcwork *w);
/* shade, for the write barrier: also counts a white object it shaded on
 * the page map (heapmap_note_shade), where the playground flashes it. */
void shade_barrier(uintptr_t p, gcwork *w);
/* Marks a just-allocated object (black allocation during mark); its bytes
 * are counted in c until mark termination collects them. */
void gc_mark_new_object(mcache *c, mspan *s, uintptr_t obj);
/* Adds a cache's black-allocated bytes to the cycle's marked bytes. */
void gc_flush_black_bytes(mcache *c);
/* Scans [lo, hi) conservatively: every aligned word that points into a heap
 * object shades it. */
void scan_conservative(uintptr_t lo, uintptr_t hi, gcwork *w);
/* Scans grey objects until none is left or `budget` bytes were scanned
 * (budget < 0: no limit). Returns the bytes scanned. */
int64_t gc_drain(gcwork *w, int64_t budget);
/* The roots that may change while the world runs (root regions, handles,
 * timers, finalizers): scanned during concurrent mark. */
void gc_mark_roots(gcwork *w);
/* The allocation caches' tiny blocks: shaded with the world stopped. */
void gc_mark_tiny_blocks(gcwork *w);

/* Goroutine stacks are scanned during the concurrent mark, each while its
 * goroutine is switched out (Go's suspendG): by the collector for
 * goroutines parked or waiting to run, by the m that is about to run one,
 * and by a running one itself, which switches out at its next safepoint for
 * it. A stack is scanned once per cycle; goroutines created during the mark
 * start scanned (their argument shaded), and the hybrid barrier keeps
 * scanned stacks black. */
#define STACKSCAN_BUSY 1u
/* Bumped by each cycle's sweep termination. */
extern _Atomic uint32_t gc_stack_epoch;
/* From sweep termination until every goroutine's stack is scanned. */
static inline bool gc_stacks_pending(void) { return safepoint_requested(SAFEPOINT_STACK_SCAN); }
static inline bool gc_stack_scanned(const g *gp)
{
    return atomic_load(&((g *)gp)->stackscan) == atomic_load(&gc_stack_epoch) << 1;
}
/* A collector pass over every goroutine: scans the stacks that are
 * switched out; returns how many are left (their goroutines run). */
size_t gc_scan_stacks(gcwork *w);
/* Called by the m about to switch to gp (its fiber_live already set), while
 * stacks are pending: waits for a scan of gp's stack in progress, or scans
 * it itself. */
void gc_scan_stack_before_run(g *gp);
/* Shades what a heap object points to, leaving the object as it is. */
void gc_scan_fields(uintptr_t obj, gcwork *w);
/* Whether the object at obj (a base address) is marked. */
bool gc_is_marked(uintptr_t obj);
/* Bytes marked in this cycle so far. */
uint64_t gc_marked_bytes(void);
/* At sweep termination: the cycle's marked and scanned counts start at 0. */
void gc_mark_reset(void);
/* At mark termination: the cycle's scan counts become gcController's. */
void gc_mark_publish_scan(void);
/* Verification (gccheckmark): re-marks everything from the roots with the
 * world stopped and throws if it reaches an object the mark left white. */
void gc_checkmark(void);
/* Zeroes every span's mark bits (after an abandoned cycle). */
void gc_clear_all_marks(void);

/* Allocation during mark pays for itself with scan work (mutator assist). */
void gc_assist_alloc(mcache *c, uint64_t bytes);
extern atomic_int gc_assists_running;

/* ---- write barrier (mbarrier.c) ---- */

/* Shades p if the barrier is on (a pointer stored where marking may already
 * have looked, outside gort_store). */
void write_barrier_shade(uintptr_t p);
/* Moves the p's buffered barrier pointers to w (shading them). */
void wbbuf_flush(p *pp, gcwork *w);
/* The barrier for a typed copy of `size` bytes (whole values of t) into
 * dst: shades the pointers about to be overwritten and those copied in. */
void bulk_barrier_pre_write(const gort_type *t, void *dst, const void *src, size_t size);

/* ---- sweeping (mgcsweep.c) ---- */

/* Sweeps a span taken off its mcentral's unswept list; returns false when
 * the span was freed to the heap (it held nothing live and preserve was
 * false). A small-object span swept with preserve stays in use, however
 * empty, for the caller to allocate from (Go's sweep(preserve)). */
bool mspan_sweep(mspan *s, bool preserve);
/* Calls read(s, arg), for a thread that holds neither s nor its mcentral
 * and may race s's sweep (which swaps and clears its bitmaps), until one
 * call began and ended inside no sweep of s: waits out a sweep in progress,
 * and calls again when one began meanwhile. read reads the bitmaps with
 * SHARED_LOAD (their words, and allocBits and gcmarkBits themselves) and
 * keeps what it found only through arg, which the last call overwrites. */
void mspan_read_racing_sweep(const mspan *s, void (*read)(const mspan *s, void *arg), void *arg);
/* mspan_is_allocated beside s's sweep (mspan_read_racing_sweep). */
bool mspan_is_allocated_racing_sweep(const mspan *s, uintptr_t index);
/* Sweeps one unswept span; false when none is left. */
bool sweepone(void);
/* Sweeps spans until at least npages pages went back to the heap or
 * nothing is left to sweep (before the heap grows). */
void sweep_reclaim(size_t npages);
/* Spans not yet swept in this cycle. */
extern atomic_size_t sweep_remaining;
/* Makes every in-use span unswept (mark termination). */
void sweep_start_cycle(void);

/* ---- pacing (mgcpacer.c) ---- */

typedef struct gc_controller {
    _Atomic int32_t gc_percent;      /* GOGC; < 0 off */
    _Atomic int64_t memory_limit;    /* GOMEMLIMIT */
    _Atomic uint64_t heap_live;      /* bytes allocated since the last mark, plus marked */
    _Atomic uint64_t heap_marked;    /* bytes marked by the last cycle */
    _Atomic uint64_t trigger;        /* heap_live at which a cycle starts */
    _Atomic uint64_t goal;           /* heap_live the cycle should end under */
    _Atomic uint64_t scan_work_expected;
    _Atomic uint64_t scan_work_done;
    _Atomic double trigger_ratio;    /* of the runway; adapted per cycle */
    /* What the last completed cycle scanned (Go's heapScan, stackScan and
     * globalsScan): heap objects' bytes, stacks' used bytes, root regions. */
    _Atomic uint64_t heap_scan;
    _Atomic uint64_t stack_scan;
    _Atomic uint64_t globals_scan;
} gc_controller;
extern gc_controller gcController;

/* Recomputes goal and trigger from heap_marked and the settings. */
void gc_controller_commit(void);
/* At mark termination: adapts the trigger to how the cycle went. */
void gc_controller_end_cycle(uint64_t heap_live_at_end);
/* Scan work an allocation of `bytes` owes during mark. */
int64_t gc_assist_work_for(uint64_t bytes);
/* Heap memory counted against the memory limit besides heap_live. */
uint64_t gc_nonheap_bytes(void);

/* Called by the allocator when a cache takes a span or a large object is
 * made: counts the bytes and starts a cycle at the trigger. */
void gc_note_alloc(mcache *c, uint64_t bytes);

/* ---- the cycle (mgc.c) ---- */

/* Starts the collector's thread with the runtime, and stops it. */
void gc_runtime_start(void);
void gc_runtime_stop(void);
/* Asks for a cycle (the trigger was reached). */
void gc_start_auto(void);
/* Wakes the collector thread to grow the heap ahead (mheap_grow_ahead). */
void gc_wake_for_heap(void);
/* Reads GODEBUG settings (gctrace=1, gccheckmark=1, gcstoptheworld=1) from the configuration's
 * string, or the environment when it is NULL. */
void gc_configure(const char *godebug);
/* Collector figures for gort_read_memstats. */
struct gort_memstats;
void gc_read_stats(struct gort_memstats *st);
/* The gctrace line of the last cycle (as GODEBUG=gctrace=1 prints it),
 * copied to buf; returns its length. */
size_t gc_last_trace(char *buf, size_t cap);
/* Time mutators spent assisting, for the CPU figures. */
void gc_assist_time(int64_t ns);

/* For tests that drive the seed's barrier walk-throughs: while
 * gc_test_hold_mark is set, a cycle stops right after scanning the stacks
 * (world running, barrier on, nothing else marked yet: assists do not
 * mark) and sets gc_test_held until the flag is cleared. */
extern atomic_bool gc_test_hold_mark;
extern atomic_uint gc_test_held;

/* ---- finalizers (mfinal.c) ---- */

/* During mark: shades what finalizable objects point to (not the objects)
 * and the queued objects. */
void fin_mark_roots(gcwork *w);
/* At mark termination: queues the finalizers of unmarked objects and marks
 * those objects; returns how many were queued. */
int fin_queue_unreachable(gcwork *w);
/* Runs the finalizer goroutine when finalizers are queued. */
void fin_wake(void);
void fin_runtime_stopped(void);

/* ---- handles and root regions (handle.c) ---- */

void handles_mark(gcwork *w);
/* How many handles are in use (for tests of who lets theirs go). */
uint32_t handles_live(void);
/* The handles the calling thread makes from now on belong to owner (0:
 * none); handles_delete_owned deletes every live handle of an owner (not
 * 0), for one that cannot let go of them itself; how many it deleted. */
void handles_owner_set(uint32_t owner);
/* A handle that says what kind of object it holds (its maker's numbering; 0
 * is gort_handle_new's); handles_get_kind gives h's object only when h is
 * of that kind (NULL otherwise, as for a dead handle); handles_kind is h's
 * kind, or -1 for a dead handle. */
gort_handle handles_new_kind(void *obj, uint8_t kind);
/* handles_new_kind with an owner of its own (0: none), whatever the calling
 * thread's is. */
gort_handle handles_new_for(void *obj, uint8_t kind, uint32_t owner);
void *handles_get_kind(gort_handle h, uint8_t kind);
int handles_kind(gort_handle h);
uint32_t handles_delete_owned(uint32_t owner);
size_t roots_mark(gcwork *w);

#endif
