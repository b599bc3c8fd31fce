/*
 * gort/mstats.h — memory statistics and heap snapshots.
 *
 * gort_read_memstats fills a structure in the spirit of Go's runtime.MemStats.
 * gort_heap_snapshot describes every page of the heap in a compact record, for
 * the playground's live view and for tools; it holds the heap lock for one
 * arena at a time, so allocation is never stopped for long.
 */
#ifndef GORT_MSTATS_H
#define GORT_MSTATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GORT_NUM_SIZE_CLASSES 68

typedef struct gort_memstats {
    /* Bytes of allocated heap objects (small objects count their size
     * class's size; tiny objects count the 16-byte blocks they share). */
    uint64_t heap_alloc;
    /* Bytes of heap memory obtained from the system (whole arenas). */
    uint64_t heap_sys;
    /* Bytes in spans that hold objects or belong to a thread's cache. */
    uint64_t heap_inuse;
    /* Bytes in free pages: heap_sys - heap_inuse. */
    uint64_t heap_idle;
    /* Live objects: mallocs - frees. */
    uint64_t heap_objects;
    /* Objects allocated and freed since start (tiny allocations count one
     * each). */
    uint64_t mallocs;
    uint64_t frees;
    /* Spans in use and the bytes of runtime metadata for them. */
    uint64_t mspan_inuse;
    /* Arenas mapped and bytes of runtime metadata for them (page maps and
     * bitmaps, outside the heap). */
    uint64_t arenas;
    uint64_t arena_meta_sys;
    /* Goroutine stacks: bytes held by goroutines (live, or dead and kept
     * for reuse), and bytes obtained from the system for stacks. */
    uint64_t stack_inuse;
    uint64_t stack_sys;
    /* Bytes obtained for goroutine descriptors and waiter records (Go's g
     * and sudog). */
    uint64_t goroutine_sys;
    /* The collector (Go's NumGC, NumForcedGC, PauseTotalNs, PauseNs,
     * LastGC, NextGC, GCCPUFraction). pause_ns[(num_gc + 255) % 256] is the
     * latest cycle's stop-the-world time (both pauses summed); last_gc is
     * when the latest cycle's mark ended, in gort_nanotime's clock. */
    uint32_t num_gc;
    uint32_t num_forced_gc;
    uint64_t pause_total_ns;
    uint64_t pause_ns[256];
    int64_t last_gc;
    /* The heap goal: heap_live at which the next cycle should end. */
    uint64_t next_gc;
    /* Bytes marked live by the last cycle, and the pacer's count of bytes
     * allocated since plus those (Go's heapLive). */
    uint64_t heap_marked;
    uint64_t heap_live;
    /* Share of the available CPU (procs x time since the first runtime
     * start) spent collecting: pauses x procs, marking and assists. */
    double gc_cpu_fraction;
    /* Finalizers queued so far, and spans still to sweep this cycle. */
    uint64_t finalizers_queued;
    uint64_t sweep_remaining;
    /* Per size class: object size, objects allocated, objects freed
     * (class 0 describes large objects, size 0). */
    struct {
        uint32_t size;
        uint64_t mallocs;
        uint64_t frees;
    } by_size[GORT_NUM_SIZE_CLASSES];
} gort_memstats;

/*
 * Fills *stats. The structure is about 4 KB: on wasm, where a goroutine's
 * default C stack is 8 KB, keep it in static or heap memory rather than in
 * a local variable. Objects counted as allocated include the free slots of spans
 * that threads hold in their caches (as Go's accounting does between
 * collections): the figures are exact for threads that have exited or called
 * gort_flush_cache.
 */
void gort_read_memstats(gort_memstats *stats);

/* Hands the calling thread's allocation cache back to the heap, so that the
 * statistics count exactly what it allocated. Its next allocation takes a
 * fresh cache. */
void gort_flush_cache(void);

enum gort_page_state {
    GORT_PAGE_FREE = 0,       /* free page of a mapped arena */
    GORT_PAGE_SPAN_START = 1, /* first page of an in-use span */
    GORT_PAGE_SPAN_REST = 2,  /* further page of the span before it */
};

/* Where a span is in the collector's sweep (its sweepgen against the
 * heap's). */
enum gort_sweep_state {
    GORT_SPAN_SWEPT = 0,    /* swept this cycle (or allocated since) */
    GORT_SPAN_UNSWEPT = 1,  /* marked last cycle, waiting for the sweeper */
    GORT_SPAN_SWEEPING = 2, /* being swept right now */
};

/* One page of the heap. For GORT_PAGE_SPAN_START, the span's class, its
 * objects and its collector state; the other kinds carry zeros. */
typedef struct gort_page_record {
    uint8_t state;     /* enum gort_page_state */
    uint8_t spanclass; /* sizeclass << 1 | noscan */
    uint16_t nelems;   /* object slots in the span */
    uint16_t inuse;    /* slots allocated */
    uint16_t npages;   /* the span's length in pages, saturated at 65535 */
    uint16_t marked;   /* slots with their mark bit set */
    uint8_t sweep;     /* enum gort_sweep_state */
    uint8_t reserved;
} gort_page_record;

/* The tri-color state of one object slot, as the collector sees it now. */
enum gort_object_color {
    GORT_OBJECT_FREE = 0,  /* not allocated */
    GORT_OBJECT_WHITE = 1, /* allocated, not (yet) marked */
    GORT_OBJECT_GREY = 2,  /* marked, waiting to be scanned */
    GORT_OBJECT_BLACK = 3, /* marked and scanned (or holding no pointers) */
};

/*
 * Writes the color of each object slot of the span that starts at `span`
 * (a GORT_PAGE_SPAN_START page's address: arena base + page index x page
 * size) to colors[0 .. max), one enum gort_object_color per byte, and
 * returns the span's slot count (0 when no span starts there). A snapshot
 * taken while the collector runs: colors only ever darken during a mark.
 */
size_t gort_heap_span_colors(uintptr_t span, uint8_t *colors, size_t max);

/* Bytes per heap page and pages per arena on this target (8 KB; 512 pages
 * on wasm32, 8,192 on 64-bit hosts). */
size_t gort_page_size(void);
size_t gort_pages_per_arena(void);

/*
 * Writes the base addresses of the heap's arenas, in the order they were
 * mapped, to bases[0 .. max), and returns how many arenas there are (which
 * may exceed max).
 */
size_t gort_heap_arenas(uintptr_t *bases, size_t max);

/*
 * Writes one record per page of every arena, arena after arena in the order
 * of gort_heap_arenas, to pages[0 .. max), and returns the number of records
 * the whole heap needs (arenas x pages per arena), which may exceed max.
 */
size_t gort_heap_snapshot(gort_page_record *pages, size_t max);

#ifdef __cplusplus
}
#endif

#endif
