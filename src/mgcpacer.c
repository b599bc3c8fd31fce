/*
 * mgcpacer.c — when to collect and how hard mutators help (Go's
 * mgcpacer.go, simplified): the heap goal is the live heap of the last
 * cycle times 1 + GOGC/100, lowered when the memory limit nears; a cycle
 * starts at a trigger between the live heap and the goal, and the trigger
 * adapts so that marking ends near the goal; while marking, each allocation
 * owes scan work in proportion to what marking still has to do over the
 * room left before the goal (mutator assists).
 *
 * Invariants:
 *  - heap_marked <= trigger <= goal whenever collection is on; trigger and
 *    goal are UINT64_MAX when it is off (GOGC < 0, no memory limit);
 *  - heap_live only grows between cycles (sweeping does not lower it: freed
 *    slots are counted again when a cache takes their span); mark
 *    termination resets it to the bytes marked.
 */
#include <stdint.h>

#include "mgc.h"
#include "stack.h"

/* The smallest goal at GOGC=100 (Go's heapMinimum): tiny heaps do not
 * collect constantly. Scaled by GOGC/100. */
#define HEAP_MINIMUM ((uint64_t)4 << 20)
/* Where in the runway (goal - marked) the first cycles trigger, and the
 * bounds and step of its adaptation. */
#define TRIGGER_RATIO_INITIAL 0.7
#define TRIGGER_RATIO_MIN 0.4
#define TRIGGER_RATIO_MAX 0.95
#define TRIGGER_RATIO_STEP 0.05
/* Below this much room before the goal, assists are priced as if this
 * much were left, so the price stays finite. */
#define ASSIST_MIN_RUNWAY ((uint64_t)64 << 10)
/* Under a memory limit the goal keeps at least this share of the live heap
 * as room, so a heap that does not fit does not collect back to back
 * forever (Go caps that with its CPU limiter). */
#define LIMIT_MIN_RUNWAY_SHIFT 4
/* The share of the memory limit (1/4) left for the free slots of in-use
 * spans, which count against the limit but not in heap_live. */
#define LIMIT_FRAGMENTATION_SHIFT 2
/* The trigger ratio while the memory limit sets the goal. */
#define LIMIT_TRIGGER_RATIO 0.5

gc_controller gcController = {
    .gc_percent = 100,
    .memory_limit = INT64_MAX,
    .trigger = HEAP_MINIMUM * 7 / 10,
    .goal = HEAP_MINIMUM,
    .trigger_ratio = TRIGGER_RATIO_INITIAL,
};

uint64_t gc_nonheap_bytes(void)
{
    uint64_t stack_inuse = 0, stack_sys = 0;
    stack_read_stats(&stack_inuse, &stack_sys);
    return stack_sys + atomic_load(&mheap_.arena_meta_bytes) + sched_goroutine_sys_bytes();
}

void gc_controller_commit(void)
{
    uint64_t marked = atomic_load(&gcController.heap_marked);
    int32_t percent = atomic_load(&gcController.gc_percent);
    int64_t limit = atomic_load(&gcController.memory_limit);
    uint64_t goal = UINT64_MAX;
    double ratio = gcController.trigger_ratio;
    if (percent >= 0) {
        goal = marked + marked / 100 * (uint64_t)percent;
        uint64_t minimum = HEAP_MINIMUM / 100 * (uint64_t)percent;
        if (goal < minimum)
            goal = minimum;
    }
    if (limit != INT64_MAX) {
        uint64_t nonheap = gc_nonheap_bytes();
        uint64_t limit_goal = (uint64_t)limit > nonheap ? (uint64_t)limit - nonheap : 0;
        /* Spans hold free slots too: heap pages in use exceed heap_live. */
        limit_goal -= limit_goal >> LIMIT_FRAGMENTATION_SHIFT;
        uint64_t floor = marked + (marked >> LIMIT_MIN_RUNWAY_SHIFT) + ASSIST_MIN_RUNWAY;
        if (limit_goal < floor)
            limit_goal = floor;
        if (limit_goal < goal) {
            goal = limit_goal;
            /* Near the limit, start early: overshooting it is what the
             * limit is there to prevent. */
            if (ratio > LIMIT_TRIGGER_RATIO)
                ratio = LIMIT_TRIGGER_RATIO;
        }
    }
    uint64_t trigger = UINT64_MAX;
    if (goal != UINT64_MAX)
        trigger = marked + (uint64_t)((double)(goal - marked) * ratio);
    atomic_store(&gcController.goal, goal);
    atomic_store(&gcController.trigger, trigger);
}

void gc_controller_end_cycle(uint64_t heap_live_at_end)
{
    uint64_t goal = atomic_load(&gcController.goal);
    uint64_t trigger = atomic_load(&gcController.trigger);
    if (goal == UINT64_MAX)
        return;
    double r = gcController.trigger_ratio;
    if (heap_live_at_end > goal)
        r -= TRIGGER_RATIO_STEP; /* marking took too long: start earlier */
    else if (heap_live_at_end < trigger + (goal - trigger) / 2)
        r += TRIGGER_RATIO_STEP; /* finished with room to spare: later */
    if (r < TRIGGER_RATIO_MIN)
        r = TRIGGER_RATIO_MIN;
    if (r > TRIGGER_RATIO_MAX)
        r = TRIGGER_RATIO_MAX;
    gcController.trigger_ratio = r;
}

int64_t gc_assist_work_for(uint64_t bytes)
{
    uint64_t expected = atomic_load_explicit(&gcController.scan_work_expected, memory_order_relaxed);
    uint64_t done = atomic_load_explicit(&gcController.scan_work_done, memory_order_relaxed);
    uint64_t live = atomic_load_explicit(&gcController.heap_live, memory_order_relaxed);
    uint64_t goal = atomic_load_explicit(&gcController.goal, memory_order_relaxed);
    uint64_t work_left = expected > done ? expected - done : expected / 10 + 1;
    uint64_t runway = goal > live ? goal - live : 0;
    if (runway < ASSIST_MIN_RUNWAY)
        runway = ASSIST_MIN_RUNWAY;
    double per_byte = (double)work_left / (double)runway;
    return (int64_t)((double)bytes * per_byte) + 1;
}

void gc_note_alloc(mcache *c, uint64_t bytes)
{
    uint64_t live = atomic_fetch_add_explicit(&gcController.heap_live, bytes, memory_order_relaxed) +
                    bytes;
    if (live >= atomic_load_explicit(&gcController.trigger, memory_order_relaxed) &&
        atomic_load_explicit(&gcphase, memory_order_relaxed) == GORT_GC_OFF)
        gc_start_auto();
    if (atomic_load_explicit(&gcBlackenEnabled, memory_order_relaxed) && !c->shared)
        gc_assist_alloc(c, bytes);
}

int gort_set_gc_percent(int percent)
{
    int old = atomic_exchange(&gcController.gc_percent, percent < 0 ? -1 : percent);
    gc_controller_commit();
    return old;
}

int64_t gort_set_memory_limit(int64_t limit)
{
    if (limit < 0)
        return atomic_load(&gcController.memory_limit);
    int64_t old = atomic_exchange(&gcController.memory_limit, limit);
    gc_controller_commit();
    return old;
}
