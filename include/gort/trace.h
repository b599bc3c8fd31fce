/*
 * gort/trace.h — the runtime watched while it runs: an event stream and the
 * heap's page map, kept in memory that a reader on another thread reads with
 * plain loads (on wasm: shared memory that JavaScript reads without calling
 * into the module). The runtime never waits for a reader and never allocates
 * for one.
 *
 * Events. Each P has a ring of fixed-size records that only the P's holder
 * writes (or, while no thread holds the P, the scheduler with its lock); the
 * collector thread has a ring of its own. A ring overwrites its oldest
 * records: a reader that falls behind loses events, and learns how many. A
 * reader keeps one cursor per ring (gort_trace_cursor) and calls
 * gort_trace_read; a JS reader follows the same protocol on the memory
 * (src/js/observe.js):
 *
 *   head = atomic load of ring->head (events ever written to the ring);
 *   copy the records [max(cursor, head - capacity), head);
 *   head2 = atomic load of ring->head again;
 *   records with index <= head2 - capacity may have been overwritten during
 *   the copy: drop them and count them lost (with those below
 *   head - capacity). So a reader a whole ring behind gets the newest
 *   capacity - 1 records: the oldest slot may be in a writer's hands.
 *
 * gort_trace_write_chrome turns events into a Chrome trace, the picture the
 * JS reader draws; gort_trace_start and gort_trace_stop record one as Go's
 * runtime/trace does.
 *
 * Page map. One record per heap page, per arena, updated when a span is
 * made, freed, swept, cached or given back by a cache (never per
 * allocation), each arena with a generation word: gen << 8 | writers. A
 * writer that makes or frees a span adds 1 before it writes and
 * (1 << 8) - 1 after (all the arenas a span crosses); the other events
 * rewrite only a span's counts, sweepgen and flags in its first record and
 * then add 1 << 8. A reader that saw no writer and the same word before and
 * after its copy holds a consistent arena (gort_heapmap_read): every span
 * whole, its counts each from one side or the other of an event. Beside
 * the records, each page has two counters of the collector's work there
 * (gort_heapmap_work: the write barrier's shades, the assists' scans),
 * which only move and are read without the generation protocol.
 */
#ifndef GORT_TRACE_H
#define GORT_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What an event says; arg's meaning depends on it. */
enum gort_trace_kind {
    GORT_EV_NONE = 0,
    /* The collector entered a phase: arg = enum gort_gc_phase | cycle << 8.
     * Collector ring. */
    GORT_EV_GC_PHASE = 1,
    /* The ring's lane (a P, or the collector) changed state: arg = enum
     * gort_trace_state. */
    GORT_EV_STATE = 2,
    /* Every P was asked to stop (stop-the-world): arg = GOMAXPROCS. The
     * event's time is the request's. Ps that were running are stopping
     * until their GORT_TRACE_STOPPED event. */
    GORT_EV_STW_BEGIN = 3,
    /* The last P stopped: arg = the stopping time in ns. */
    GORT_EV_STW_STOPPED = 4,
    /* The world starts again: arg = the pause in ns (from the request).
     * Each stopped P goes back to the state it had before the request. */
    GORT_EV_STW_END = 5,
    /* A cycle's summary, written by the collector right after its mark
     * termination, in this order (arg in bytes unless said otherwise). */
    GORT_EV_CYCLE_LIVE_START = 8, /* heap_live when the cycle started */
    GORT_EV_CYCLE_LIVE_END = 9,   /* heap_live when the mark ended */
    GORT_EV_CYCLE_MARKED = 10,    /* bytes marked: live after the cycle */
    GORT_EV_CYCLE_GOAL = 11,      /* the next cycle's heap goal */
    GORT_EV_CYCLE_TRIGGER = 12,   /* heap_live at which the next one starts */
    /* The assist ratio the cycle began with: scan work owed per byte
     * allocated, as the bits of an IEEE double. */
    GORT_EV_CYCLE_ASSIST_RATIO = 13,
    GORT_EV_CYCLE_ASSIST_NS = 14, /* time mutators spent assisting */
    GORT_EV_CYCLE_MARK_NS = 15,   /* the concurrent mark, wall time */
    /* Last of a summary: arg = the cycle's number. */
    GORT_EV_CYCLE_END = 16,
    /* Goroutine events (Go's execution tracer), written only while a reader
     * wants them (gort_trace_goroutines), in the ring of the P whose thread
     * did the thing; a thread without a P (an embedder's, or JS's) writes
     * none. arg = the goroutine's id, and for GORT_EV_GO_BLOCK its wait
     * reason: goid << 8 | enum gort_wait_reason. */
    GORT_EV_GO_CREATE = 20,  /* made runnable for the first time (by the P's goroutine) */
    GORT_EV_GO_START = 21,   /* starts (or resumes) running on the P */
    GORT_EV_GO_BLOCK = 22,   /* parks: runs no more until unblocked */
    GORT_EV_GO_UNBLOCK = 23, /* made runnable again (by the P's goroutine, or its timers) */
    GORT_EV_GO_STOP = 24,    /* leaves the P but stays runnable (a yield, a stop-the-world) */
    GORT_EV_GO_END = 25,     /* returned or called gort_goexit */
};

/* Why a goroutine blocked (GORT_EV_GO_BLOCK), Go's waitReason strings. */
enum gort_wait_reason {
    GORT_WAIT_NONE = 0,
    GORT_WAIT_CHAN_SEND = 1,           /* "chan send" */
    GORT_WAIT_CHAN_RECEIVE = 2,        /* "chan receive" */
    GORT_WAIT_SELECT = 3,              /* "select" */
    GORT_WAIT_SELECT_NO_CASES = 4,     /* "select (no cases)" */
    GORT_WAIT_SLEEP = 5,               /* "sleep" */
    GORT_WAIT_SYNC_MUTEX_LOCK = 6,     /* "sync.Mutex.Lock" */
    GORT_WAIT_SYNC_RWMUTEX_LOCK = 7,   /* "sync.RWMutex.Lock" */
    GORT_WAIT_SYNC_RWMUTEX_RLOCK = 8,  /* "sync.RWMutex.RLock" */
    GORT_WAIT_SEMACQUIRE = 9,          /* "semacquire" */
    GORT_WAIT_SYNC_WAITGROUP = 10,     /* "sync.WaitGroup.Wait" */
    GORT_WAIT_GC = 11,                 /* "GC" (waits for a cycle: gort_gc) */
    GORT_WAIT_STOPPED = 12,            /* "stopping the world" */
    GORT_WAIT_FINALIZER = 13,          /* "finalizer wait" */
};

/* A lane's state (GORT_EV_STATE). A P's lane: idle (no thread holds it),
 * running (its thread runs goroutines or looks for them: user code),
 * assisting (an allocation pays scan work), sweeping (an allocation sweeps
 * spans before it takes fresh pages), stopped (for a stop-the-world).
 * The collector's lane: marking (its dedicated mark work), sweeping (in the
 * background) or idle. "Stopping" is never written: it is a running P
 * between GORT_EV_STW_BEGIN and its GORT_TRACE_STOPPED. */
enum gort_trace_state {
    GORT_TRACE_IDLE = 0,
    GORT_TRACE_RUNNING = 1,
    GORT_TRACE_ASSIST = 2,
    GORT_TRACE_SWEEP = 3,
    GORT_TRACE_STOPPED = 4,
    GORT_TRACE_MARK = 5,
};

/* One event: 24 bytes. time is in ns since the runtime's trace epoch (the
 * first runtime start of the process), on gort_nanotime's clock. */
typedef struct gort_trace_event {
    uint64_t time;
    uint16_t kind; /* enum gort_trace_kind */
    uint16_t lane; /* the P's id, or GORT_TRACE_COLLECTOR */
    uint32_t reserved;
    uint64_t arg;
} gort_trace_event;

/* Records per ring (a power of two). */
#define GORT_TRACE_RING_EVENTS 4096
/* Rings 0 .. GOMAXPROCS-1 are the Ps'; this one is the collector's. */
#define GORT_TRACE_COLLECTOR 256
#define GORT_TRACE_RINGS (GORT_TRACE_COLLECTOR + 1)

typedef struct gort_trace_ring {
    uint32_t head; /* events written so far (wraps at 2^32); atomic */
    uint32_t reserved;
    gort_trace_event events[GORT_TRACE_RING_EVENTS];
} gort_trace_ring;

/* Where the rings are: rings[i] is NULL until lane i first exists. */
typedef struct gort_trace_header {
    uint32_t ring_events;     /* GORT_TRACE_RING_EVENTS */
    uint32_t nprocs;          /* GOMAXPROCS of the runtime running or last run; atomic */
    int64_t epoch;            /* gort_nanotime at the trace epoch */
    /* Readers that want goroutine events (GORT_EV_GO_*): while 0 none is
     * written. A reader adds 1 (an atomic add; gort_trace_goroutines) and
     * takes it back when done; a JS reader adds to this word in the shared
     * memory itself. */
    uint32_t goroutine_readers;
    uint32_t reserved;
    gort_trace_ring *rings[GORT_TRACE_RINGS];
} gort_trace_header;

/* The rings (never moves). */
const gort_trace_header *gort_trace_rings(void);

/* A reader's position in every ring; zero it to start at the oldest records
 * each ring still holds. */
typedef struct gort_trace_cursor {
    uint32_t next[GORT_TRACE_RINGS];
    uint8_t started[GORT_TRACE_RINGS];
} gort_trace_cursor;

/*
 * Copies the events written since the cursor's last read, ring after ring
 * (each ring's events in order; merge by time for a timeline), to
 * out[0 .. max), advances the cursor past them and returns how many it
 * copied: fewer than max only when it read every ring to its end (what
 * does not fit is left for the next call; unless a writer keeps overtaking
 * the copy of its ring, which no P does). *lost (when not NULL) gets the
 * events the rings overwrote before this read reached them. Never blocks a
 * writer.
 */
size_t gort_trace_read(gort_trace_cursor *cursor, gort_trace_event *out, size_t max,
                       uint64_t *lost);

/*
 * on: one more reader wants goroutine events (GORT_EV_GO_*) from now on;
 * !on: one fewer (GORT_ESTATE, changing nothing, when none wanted them).
 * They cost the runtime a clock read and a record at every goroutine
 * switch, creation, park and ready while any reader wants them; with none,
 * one predictable branch at each. A ring holds GORT_TRACE_RING_EVENTS
 * records: a busy P fills it in about a millisecond, so a reader that
 * wants them all drains often. Returns GORT_OK.
 */
int gort_trace_goroutines(int on);

/* The time base of events: gort_nanotime() - epoch. */
int64_t gort_trace_now(void);

/* ---- a Chrome trace ---- */

/*
 * Writes events to w as a Chrome trace: the JSON object format that
 * Perfetto and chrome://tracing open, the picture the JS reader's
 * chromeTrace() draws from the same events. events are as gort_trace_read
 * gives them (ring after ring: they are sorted here by time, stably, and at
 * one instant a pause's begin comes first and its end last); the caller's
 * array is not changed. nprocs is GOMAXPROCS (gort_trace_rings()->nprocs):
 * the Ps whose lanes are named and which a pause stops. lost (the events
 * the reader missed) goes to otherData: {"source": "gort", "lost": lost}.
 *
 * Thread ids: P p is tid p, with its states ("idle" is not drawn;
 * "stopping" from a stop request to the P's stop); the collector's states
 * are tid 1000; "GC phases" tid 2000 (a slice per phase but "off", args
 * {cycle}); "stop-the-world" tid 2001 (a slice per pause, args {pause_us}).
 * Cycle summaries are counters: "heap live", "heap marked", "heap goal"
 * (args {bytes}). With goroutine events among them, P p also has the lane
 * "P<p> goroutines", tid 3000 + p: a slice "G<id>" per run of a goroutine,
 * args {goid, ended} where ended is how the run ended (Go's wait reason
 * string, "yield", "end"; "running" when the events end first), and a flow
 * ("ready") goes from inside the slice of the goroutine that created or
 * unblocked one to the start of that one's next run. Times (ts, dur) are in
 * microseconds of the events' time base. Sorting takes memory for about
 * three times the events (none is written when it cannot be had).
 *
 * Returns GORT_OK; GORT_EINVAL (writing nothing) for a NULL w, NULL events
 * with n > 0, nprocs outside 0 .. GORT_TRACE_COLLECTOR, or an event of no
 * lane (above GORT_TRACE_COLLECTOR); GORT_ENOMEM (writing nothing);
 * GORT_EWRITE when w failed (its error indicator is set: the output is
 * incomplete). w is flushed, not closed.
 */
int gort_trace_write_chrome(FILE *w, const gort_trace_event *events, size_t n, uint64_t lost,
                            int nprocs);

/*
 * Go's runtime/trace.Start: records the runtime's events from now until
 * gort_trace_stop, which writes them to w as a Chrome trace
 * (gort_trace_write_chrome). Goroutine events are on while it records (one
 * gort_trace_goroutines(1)). A thread of its own drains the rings as they
 * fill, into memory (24 bytes an event: a P busy switching goroutines
 * writes millions a second); what is lost anyway (a ring overwrote it
 * before the thread came, or memory ran out) is counted in the trace's
 * lost. A trace may begin before a runtime starts and go on across
 * runtimes (their events share one time base); it never keeps a runtime
 * from stopping nor a program from ending. w must stay open until the stop.
 *
 * Returns GORT_OK; GORT_ESTATE when a trace is already running (Go's
 * "tracing is already enabled"); GORT_EINVAL for a NULL w; GORT_ENOMEM
 * when its first memory or its thread could not be had.
 */
int gort_trace_start(FILE *w);

/*
 * Go's runtime/trace.Stop: ends the trace gort_trace_start began (its
 * thread stops, the rings are drained once more, the request for goroutine
 * events is taken back) and writes it to the start's w, waiting for the
 * write; then frees its memory. Its P lanes are those of the most Ps a
 * runtime had while it recorded. A new trace may start as soon as the
 * recording has ended, while this one is being written.
 *
 * Returns what gort_trace_write_chrome returns (GORT_ENOMEM: nothing
 * written); GORT_ESTATE when no trace is running.
 */
int gort_trace_stop(void);

/* ---- the heap's page map ---- */

/* One page: 12 bytes. For a span's first page, the span as its last span
 * event left it; its further pages say only that they belong to it. */
typedef struct gort_heapmap_page {
    uint8_t state;      /* enum gort_page_state (gort/mstats.h) */
    uint8_t spanclass;  /* sizeclass << 1 | noscan */
    uint16_t nelems;    /* object slots */
    /* Slots allocated at the span's last event: while a thread's cache
     * allocates from it (GORT_HEAPMAP_CACHED) the span holds more. */
    uint16_t inuse;
    /* Objects that survived the span's last sweep (marked by the cycle
     * before); a mark in progress shows in the span's bits only. */
    uint16_t marked;
    uint16_t npages;    /* the span's length, saturated at 65535 */
    /* The span's sweepgen at its last event, low 8 bits:
     * (heap sweepgen - sweepgen) & 0xff is 0 swept, 2 waiting for the
     * sweeper (gort_heapmap_sweep_state; a sweep in progress is not
     * written: it lasts microseconds). */
    uint8_t sweepgen;
    uint8_t flags;      /* GORT_HEAPMAP_* */
} gort_heapmap_page;

#define GORT_HEAPMAP_CACHED 1 /* a thread's allocation cache holds the span */

/*
 * Where the collector worked on one page, as two counters that only ever
 * move (modulo 2^16): a reader that keeps the last values it saw learns
 * which pages saw that work since, not how much (a page counted exactly a
 * multiple of 65536 times in between looks unchanged). They are written
 * where the runtime is already slow, each with a relaxed load and a
 * relaxed store, not a read-modify-write: two threads counting at once may
 * count once. They are not covered by the arena's generation word.
 */
typedef struct gort_heapmap_work {
    /* The write barrier shaded a white object starting in the page (grey,
     * or black at once when it holds no pointers). */
    uint16_t shades;
    /* A mutator assist scanned objects starting in the page (a run of
     * objects of one page scanned one after another counts once). */
    uint16_t assists;
} gort_heapmap_work;

/* The map of one arena (its base, its generation word, its pages). */
typedef struct gort_heapmap_arena {
    uint32_t gen; /* gen << 8 | writers; atomic */
    /* Bytes from the start of this struct to its gort_heapmap_work array,
     * one per page (gort_heapmap_work_of). */
    uint32_t work_offset;
    uint64_t base;
    gort_heapmap_page pages[]; /* gort_pages_per_arena() records */
} gort_heapmap_arena;

/* An arena's per-page work counters (gort_pages_per_arena() of them). */
static inline const gort_heapmap_work *gort_heapmap_work_of(const gort_heapmap_arena *a)
{
    return (const gort_heapmap_work *)(const void *)((const char *)a + a->work_offset);
}

/* The most arenas a heap has (4 GB of 4 MB arenas on wasm32, 64 GB of
 * 64 MB arenas natively). */
#define GORT_HEAPMAP_MAX_ARENAS 1024

typedef struct gort_heapmap_header {
    uint32_t narenas;  /* arenas mapped so far, in mapping order; atomic */
    uint32_t pages_per_arena;
    uint32_t page_size;
    uint32_t reserved;
    const uint32_t *sweepgen; /* the heap's sweepgen word */
    gort_heapmap_arena *arenas[GORT_HEAPMAP_MAX_ARENAS]; /* narenas of them */
} gort_heapmap_header;

/* The page map (never moves; arenas are added as the heap grows). */
const gort_heapmap_header *gort_heapmap(void);

/*
 * Copies arena `index`'s records (gort_pages_per_arena() of them) to out
 * as one consistent picture, retrying while writers are at it (at most
 * `tries` times). Returns the arena's generation (to skip arenas that did
 * not change), or -1 when the index is past the last arena or every try met
 * a writer.
 */
int64_t gort_heapmap_read(size_t index, gort_heapmap_page *out, int tries);

/* enum gort_sweep_state (gort/mstats.h) of a span-start record. */
int gort_heapmap_sweep_state(const gort_heapmap_page *page);

#ifdef __cplusplus
}
#endif

#endif
