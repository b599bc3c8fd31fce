/*
 * observe.h — the calls the runtime makes so that readers can watch it
 * (gort/trace.h, gort/metrics.h): events into the rings (trace.c), span
 * events into the page map (heapmap.c), pauses and CPU time into the
 * metrics (metrics.c). None waits for a reader, none allocates from the
 * heap, and none is on a per-allocation path. The goroutine hooks, which
 * are on the per-switch path, cost one relaxed load and a branch while no
 * reader wants goroutine events (trace_goroutines_on); the scheduling
 * latency is sampled, as Go samples it, on one transition in
 * SCHED_LATENCY_PERIOD.
 *
 * Who may write a ring (each has one writer at a time, so records need no
 * lock): a P's ring, the thread holding the P, or while no thread holds it
 * (idle, or stopped and released), the holder of the scheduler's lock; the
 * collector's ring, the collector thread.
 */
#ifndef GORT_OBSERVE_H
#define GORT_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "gort/trace.h"

struct mspan;

/* ---- events (trace.c) ---- */

/* The rings' header (its goroutine_readers word is read at every hook). */
extern gort_trace_header trace_header;

/* Whether some reader wants goroutine events: callers test this before
 * anything else, so that without a reader a hook is one load and a branch. */
static inline bool trace_goroutines_on(void)
{
    return __builtin_expect(__atomic_load_n(&trace_header.goroutine_readers, __ATOMIC_RELAXED) != 0, 0);
}
/* The goroutine goid left lane's P: it ended (status G_DEAD), blocked
 * (G_WAITING with a reason) or stays runnable (G_WAITING without one: a
 * yield). */
void trace_go_leave(int lane, uint64_t goid, uint32_t status, uint8_t waitreason);

/* Makes the rings of lanes 0 .. nprocs-1 and the collector's (once each)
 * and says how many Ps run; at runtime start. */
void trace_procs(int nprocs);
/* Marks the calling thread as the collector's. */
void trace_collector_thread(void);
/* The lane of the calling thread: its P's id, GORT_TRACE_COLLECTOR, or -1
 * (a thread without a P: its events are not recorded). */
int trace_lane_self(void);
/* An event now, or at `time` (gort_nanotime's clock), into lane's ring. */
void trace_event(int lane, uint16_t kind, uint64_t arg);
void trace_event_at(int lane, uint16_t kind, int64_t time, uint64_t arg);
/* The records a ring's writer hands to a running C trace at once (half a
 * ring): trace_event_at calls trace_spill (tracechrome.c) each time a
 * ring's head reaches a multiple of it, with the ring and that head. */
#define TRACE_SPILL_EVENTS (GORT_TRACE_RING_EVENTS / 2)
void trace_spill(int lane, const gort_trace_ring *r, uint32_t end);
/* A lane's state change (GORT_EV_STATE), at `time` (<= 0: now). Also
 * counts the lanes' idle time for the CPU metrics. */
void trace_state(int lane, enum gort_trace_state state, int64_t time);

/* Stop-the-world (scheduler lock held): asked at `started` by the thread
 * of lane `lane`; every P stopped; the world starts again (lane: the
 * restarting thread's). Also record the pause for the metrics. */
void trace_stw_begin(int lane, int64_t started, int nprocs);
void trace_stw_stopped(int lane);
void trace_stw_end(int lane, bool gc);

/* An allocation sweeps spans (lazy sweeping): returns the lane it marked
 * sweeping, or -1 when nothing was recorded (no sweep pending, no P). */
int trace_sweep_begin(void);
void trace_sweep_end(int lane);

/* ---- the page map (heapmap.c) ---- */

/* The map of one arena, made before the arena is mapped (so that the heap
 * can fail a growth cleanly when there is no memory for it): NULL when
 * the system has no memory left. */
struct gort_heapmap_arena *heapmap_arena_new(void);
/* An arena was added at base, with its map from heapmap_arena_new (heap
 * lock held). */
void heapmap_add_arena(uintptr_t base, struct gort_heapmap_arena *a);
/* The span was made (heap lock held) or freed (before its pages go). */
void heapmap_span_alloc(struct mspan *s);
void heapmap_span_free(struct mspan *s);
/* The span's counts or sweep state changed; cached: a thread's cache now
 * holds it. */
void heapmap_span_update(struct mspan *s, bool cached);
/* The span was swept and stays: what it holds now is what was marked. */
void heapmap_span_swept(struct mspan *s);
/* The write barrier shaded the white object obj; an assist scanned obj
 * (gort_heapmap_work): each a relaxed load and store of the page's counter. */
void heapmap_note_shade(uintptr_t obj);
void heapmap_note_assist(uintptr_t obj);

/* ---- metrics (metrics.c) ---- */

/* A stop-the-world pause: the time to stop every P and the whole pause;
 * gc: the collector's (else "other"). */
void metrics_record_pause(int64_t stopping_ns, int64_t total_ns, bool gc);
/*
 * One goroutine transition out of running in this many starts a sample of
 * the scheduling latency (/sched/latencies: Go's gTrackingPeriod, which is
 * 8), and a sample costs two clock reads. Go's clock read is 15-20 ns;
 * natively ours took 40-45 ns on a KVM guest, where a sample in 8 cost
 * about 5% of a channel ping-pong's CPU, and on wasm a clock read is a
 * call into JavaScript (a sample about 0.4 us). So one in 32 natively, one
 * in 128 on wasm: the same distribution, fewer samples, about 1% of a
 * goroutine switch.
 */
#ifdef __EMSCRIPTEN__
#define SCHED_LATENCY_PERIOD 128
#else
#define SCHED_LATENCY_PERIOD 32
#endif
/* A goroutine ran after waiting ns runnable (a sampled transition:
 * /sched/latencies:seconds). */
void metrics_record_sched_latency(int64_t ns);
/* Time sampled goroutines spent asleep on a sync.Mutex or RWMutex, scaled
 * by the period: /sync/mutex/wait/total. */
void metrics_add_mutex_wait(int64_t ns);
/* A lane's idle spell ended (for /cpu/classes/idle). */
void metrics_add_idle(int64_t ns);
/* Time mutators spent assisting; the collector thread's mark time. */
void metrics_add_assist(int64_t ns);
void metrics_add_dedicated(int64_t ns);
/* A runtime started with nprocs Ps, or stopped (for /cpu/classes/total). */
void metrics_runtime_started(int nprocs);
void metrics_runtime_stopped(void);
/* GOMAXPROCS changed (world stopped): /cpu/classes/total counts nprocs from now on. */
void metrics_procs_changed(int nprocs);

#endif
