/*
 * mgcmark.c — marking: greying objects, scanning them precisely from their
 * heap bits or conservatively (stacks, root regions), draining the grey
 * work, mutator assists, and the verification re-mark (checkmark).
 *
 * Tri-color, as the seed describes it: white = mark bit clear; grey = mark
 * bit set and the object queued in a work buffer; black = mark bit set and
 * the object scanned (its scan bit set, for the heap snapshot's view).
 *
 * Invariants:
 *  - a mark bit goes from 0 to 1 only by an atomic OR, and whoever sets it
 *    queues the object (unless its span is noscan: then it is black at once),
 *    so every grey object is scanned exactly once;
 *  - only allocated objects are marked: a word that points at a free slot or
 *    outside any span (stale stack data, say) is ignored;
 *  - the scanners read memory that mutators may be writing: every pointer
 *    they act on is re-checked against the heap's metadata, so a torn or
 *    stale value can only keep an object alive, never corrupt the heap. That
 *    is why they are exempt from the sanitizers' race and redzone checks.
 */
#include <stdio.h>
#include <string.h>

#include "mgc.h"
#include "observe.h"
#include "prim/prim.h"
#include "timer.h"

#if defined(__clang__) || defined(__GNUC__)
#define GC_SCANNER __attribute__((no_sanitize("address", "thread", "undefined"), noinline))
#else
#define GC_SCANNER
#endif

/* How many objects a drain scans between looks at the world: whether the
 * cycle was abandoned, and whether idle markers need some of its work. */
#define DRAIN_CHECK_OBJECTS 256
/* Grey objects a drain takes ahead of the one it scans, each fetched into
 * the cache as it is taken (the scan's first load of an object was half
 * of a native mark's samples, a miss). wasm has no prefetch: none ahead. */
#ifdef __wasm__
#define SCAN_AHEAD 0
#else
#define SCAN_AHEAD 8
#endif
/* An assist scans at most this much between looks at whether the world is
 * stopping: it must not hold up a stop-the-world for long. */
#define ASSIST_CHUNK_BYTES ((int64_t)32 << 10)
/* An assist waits for marking only once the heap passed its goal by 1/8:
 * short of that, forgiving the work costs less than waiting for it. */
#define ASSIST_WAIT_OVERSHOOT_SHIFT 3

static _Atomic uint64_t marked_bytes;
/* Stack and root-region bytes this cycle's mark scanned (not checkmark's). */
static _Atomic uint64_t stack_scanned_bytes, globals_scanned_bytes;
atomic_int gc_assists_running;
/* True while gc_checkmark re-marks: greyobject then sets scan bits as
 * check marks and verifies mark bits. */
static bool checkmark_mode;
/* Whether a checkmark failure may be reported for the object being
 * greyed: only for edges that are certainly pointers (see gc_checkmark). */
static bool checkmark_precise;

void gc_flush_black_bytes(mcache *c)
{
    atomic_fetch_add_explicit(&marked_bytes, c->gc_black_bytes, memory_order_relaxed);
    c->gc_black_bytes = 0;
}

void gcw_flush_marked(gcwork *w)
{
    if (w->bytes_marked != 0) {
        atomic_fetch_add_explicit(&marked_bytes, w->bytes_marked, memory_order_relaxed);
        w->bytes_marked = 0;
    }
}

uint64_t gc_marked_bytes(void) { return atomic_load_explicit(&marked_bytes, memory_order_relaxed); }
void gc_mark_reset(void)
{
    atomic_store(&marked_bytes, 0);
    atomic_store(&stack_scanned_bytes, 0);
    atomic_store(&globals_scanned_bytes, 0);
}

void gc_mark_publish_scan(void)
{
    atomic_store(&gcController.heap_scan, atomic_load(&gcController.scan_work_done));
    atomic_store(&gcController.stack_scan, atomic_load(&stack_scanned_bytes));
    atomic_store(&gcController.globals_scan, atomic_load(&globals_scanned_bytes));
}

static inline bool bit_test(const uint64_t *bits, uintptr_t i)
{
    const uint8_t *bytes = (const uint8_t *)bits;
    return (__atomic_load_n(&bytes[i / 8], __ATOMIC_RELAXED) >> (i % 8)) & 1;
}

/* Sets bit i; true when this call set it. Bytes, not words: a byte is the
 * unit every target can OR atomically, and bit i of the word array is bit
 * i % 8 of byte i / 8 on the little-endian targets gort runs on. */
static inline bool bit_test_and_set(uint64_t *bits, uintptr_t i)
{
    uint8_t *bytes = (uint8_t *)bits;
    uint8_t mask = (uint8_t)(1u << (i % 8));
    if (__atomic_load_n(&bytes[i / 8], __ATOMIC_RELAXED) & mask)
        return false;
    return !(__atomic_fetch_or(&bytes[i / 8], mask, __ATOMIC_RELAXED) & mask);
}

/* The allocated object containing p: its span and index. */
static inline bool find_object(uintptr_t p, mspan **sp, uintptr_t *index)
{
    heap_arena *ha = arena_of(p);
    if (ha == NULL)
        return false;
    mspan *s = atomic_load_explicit(&ha->spans[(p - ha->base) >> PAGE_SHIFT], memory_order_acquire);
    if (s == NULL || atomic_load_explicit(&s->state, memory_order_relaxed) != MSPAN_IN_USE ||
        p < s->startaddr || p >= s->limit)
        return false;
    uintptr_t i = spanclass_sizeclass(s->spanclass) == 0 ? 0 : mspan_object_index(s, p);
    if (!mspan_is_allocated(s, i))
        return false;
    *sp = s;
    *index = i;
    return true;
}

_Noreturn static void checkmark_failed(mspan *s, uintptr_t i)
{
    uintptr_t base = s->startaddr + i * s->elemsize;
    fprintf(stderr,
            "runtime: checkmark found unmarked object %#lx (span %#lx, size class %u, "
            "%lu bytes)\n",
            (unsigned long)base, (unsigned long)s->startaddr,
            (unsigned)spanclass_sizeclass(s->spanclass), (unsigned long)s->elemsize);
    gort_throw("checkmark found unmarked object");
}

/* True when this call turned the object from white. */
static inline bool greyobject(mspan *s, uintptr_t i, gcwork *w)
{
    if (unlikely(checkmark_mode)) {
        if (!bit_test(s->gcmarkBits, i)) {
            if (checkmark_precise)
                checkmark_failed(s, i);
            return false; /* see gc_checkmark: conservative roots may be stale */
        }
        if (!bit_test_and_set(s->scanBits, i))
            return false;
    } else {
        if (!bit_test_and_set(s->gcmarkBits, i))
            return false;
        w->bytes_marked += s->elemsize;
    }
    if (!spanclass_noscan(s->spanclass))
        gcw_put(w, s->startaddr + i * s->elemsize);
    return true;
}

void shade(uintptr_t p, gcwork *w)
{
    mspan *s;
    uintptr_t i;
    if (find_object(p, &s, &i))
        greyobject(s, i, w);
}

void shade_barrier(uintptr_t p, gcwork *w)
{
    mspan *s;
    uintptr_t i;
    if (find_object(p, &s, &i) && greyobject(s, i, w))
        heapmap_note_shade(s->startaddr + i * s->elemsize);
}

void gc_mark_new_object(mcache *c, mspan *s, uintptr_t obj)
{
    uintptr_t i = spanclass_sizeclass(s->spanclass) == 0 ? 0 : mspan_object_index(s, obj);
    if (bit_test_and_set(s->gcmarkBits, i))
        c->gc_black_bytes += s->elemsize;
    /* Born black: nothing in it yet to scan. */
    bit_test_and_set(s->scanBits, i);
}

GC_SCANNER void scan_conservative(uintptr_t lo, uintptr_t hi, gcwork *w)
{
    lo = round_up(lo, PTR_SIZE);
    for (uintptr_t a = lo; a + PTR_SIZE <= hi; a += PTR_SIZE) {
        uintptr_t v = *(volatile uintptr_t *)a;
        if (v != 0)
            shade(v, w);
    }
}

/* Shades the pointer words of [b, b + nwords words) that the heap bitmap
 * marks. */
GC_SCANNER static void scan_heap_bits(uintptr_t b, uintptr_t nwords, gcwork *w)
{
    heap_arena *ha = arena_of(b);
    uintptr_t first = (b - ha->base) / PTR_SIZE;
    uintptr_t end = first + nwords;
    for (uintptr_t word = first / 64; word * 64 < end; word++) {
        uint64_t bits = *heap_bits_word(ha, word * 64);
        uintptr_t base_index = word * 64;
        if (base_index < first)
            bits &= ~(uint64_t)0 << (first - base_index);
        if (end - base_index < 64)
            bits &= ((uint64_t)1 << (end - base_index)) - 1;
        while (bits != 0) {
            uintptr_t k = base_index + (uintptr_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            uintptr_t v = *(volatile uintptr_t *)(ha->base + k * PTR_SIZE);
            if (v != 0)
                shade(v, w);
        }
    }
}

/* Shades the pointers of a large object from its type. */
GC_SCANNER static void scan_large(mspan *s, uintptr_t b, gcwork *w)
{
    const gort_type *t = s->largetype;
    if (t == NULL)
        return; /* noscan, or still being set up (then it is born black) */
    const uint64_t *mask = t->ptrwords <= 64 ? &t->ptrbits : t->ptrmask;
    size_t mask_words = (t->ptrwords + 63) / 64;
    for (size_t e = 0; e < s->largecount; e++) {
        uintptr_t value = b + e * t->size;
        for (size_t m = 0; m < mask_words; m++) {
            uint64_t bits = mask[m];
            while (bits != 0) {
                uintptr_t k = m * 64 + (uintptr_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                uintptr_t v = *(volatile uintptr_t *)(value + k * PTR_SIZE);
                if (v != 0)
                    shade(v, w);
            }
        }
    }
}

/* Blackens a grey object; returns the bytes scanned. */
static uintptr_t scanobject(uintptr_t b, gcwork *w)
{
    mspan *s = span_of(b);
    if (s == NULL)
        gort_throw("scanobject: grey object outside the heap");
    uintptr_t i;
    if (spanclass_sizeclass(s->spanclass) == 0) {
        scan_large(s, b, w);
        i = 0;
    } else {
        scan_heap_bits(b, s->elemsize / PTR_SIZE, w);
        i = mspan_object_index(s, b);
    }
    if (!checkmark_mode)
        bit_test_and_set(s->scanBits, i);
    return s->elemsize;
}

void gc_scan_fields(uintptr_t obj, gcwork *w)
{
    mspan *s = span_of(obj);
    if (s == NULL || spanclass_noscan(s->spanclass))
        return;
    if (spanclass_sizeclass(s->spanclass) == 0)
        scan_large(s, obj, w);
    else
        scan_heap_bits(obj, s->elemsize / PTR_SIZE, w);
}

bool gc_is_marked(uintptr_t obj)
{
    mspan *s;
    uintptr_t i;
    return find_object(obj, &s, &i) && bit_test(s->gcmarkBits, i);
}

extern atomic_bool gc_abandon; /* mgc.c: the runtime is stopping */

/* The objects a drain has taken but not scanned yet, oldest first. */
typedef struct scan_ahead {
    uintptr_t obj[SCAN_AHEAD + 1];
    unsigned head, count;
} scan_ahead;

/* The next object to scan, after topping up what is taken ahead; 0 when
 * there is none. */
static inline uintptr_t next_grey(scan_ahead *q, gcwork *w)
{
    while (q->count < SCAN_AHEAD + 1) {
        uintptr_t obj = gcw_tryget(w);
        if (obj == 0)
            break;
        __builtin_prefetch((const void *)obj);
        q->obj[(q->head + q->count++) % (SCAN_AHEAD + 1)] = obj;
    }
    if (q->count == 0)
        return 0;
    uintptr_t obj = q->obj[q->head];
    q->head = (q->head + 1) % (SCAN_AHEAD + 1);
    q->count--;
    return obj;
}

/* Gives what was taken ahead back, for whoever drains next. */
static void return_ahead(scan_ahead *q, gcwork *w)
{
    for (; q->count > 0; q->count--, q->head = (q->head + 1) % (SCAN_AHEAD + 1))
        gcw_put(w, q->obj[q->head]);
}

/* gc_drain; assist: the caller is a mutator's assist, whose scans are
 * counted on the page map (heapmap_note_assist) once per run of objects
 * of one page. */
static int64_t drain(gcwork *w, int64_t budget, bool assist)
{
    int64_t scanned = 0;
    unsigned n = 0;
    uintptr_t counted_page = 0;
    scan_ahead ahead = {.count = 0};
    for (;;) {
        if (++n % DRAIN_CHECK_OBJECTS == 0) {
            if (atomic_load_explicit(&gc_abandon, memory_order_relaxed))
                break;
            gcw_balance(w);
        }
        uintptr_t b = next_grey(&ahead, w);
        if (b == 0)
            break;
        scanned += (int64_t)scanobject(b, w);
        if (assist && (b >> PAGE_SHIFT) != counted_page) {
            counted_page = b >> PAGE_SHIFT;
            heapmap_note_assist(b);
        }
        if (budget >= 0 && scanned >= budget)
            break;
    }
    return_ahead(&ahead, w);
    gcw_flush_marked(w);
    if (!checkmark_mode)
        atomic_fetch_add_explicit(&gcController.scan_work_done, (uint64_t)scanned,
                                  memory_order_relaxed);
    return scanned;
}

int64_t gc_drain(gcwork *w, int64_t budget) { return drain(w, budget, false); }

/* ---- roots ---- */

_Atomic uint32_t gc_stack_epoch;

/* Scans a switched-out goroutine's stack, and the argument it started
 * with; returns the stack bytes scanned. */
static size_t scan_stack(g *gp, gcwork *w)
{
    shade((uintptr_t)gp->arg, w);
    uintptr_t lo[2], hi[2];
    int n = prim_fiber_scan_ranges(&gp->fiber, lo, hi);
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        scan_conservative(lo[i], hi[i], w);
        bytes += hi[i] - lo[i];
    }
    return bytes;
}

/* A stack of this cycle's mark scanned: counted for /gc/scan/stack. */
static void scan_stack_counted(g *gp, gcwork *w)
{
    atomic_fetch_add_explicit(&stack_scanned_bytes, scan_stack(gp, w), memory_order_relaxed);
}

/* For checkmark, with the world stopped and every goroutine switched out. */
static void scan_goroutine(g *gp, void *arg)
{
    uint32_t status = atomic_load(&gp->atomicstatus);
    if (status == G_DEAD || status == G_IDLE)
        return;
    if (atomic_load(&gp->fiber_live))
        gort_throw("runtime: a goroutine runs while the world is stopped");
    scan_stack(gp, arg);
}

typedef struct stack_pass {
    gcwork *w;
    uint32_t scanned;  /* the stackscan value of a stack scanned this cycle */
    size_t left;
} stack_pass;

/* The collector's part of the suspendG handshake: claim the stack (BUSY),
 * then look whether its fiber runs; an m about to run it sets fiber_live,
 * then looks at the claim (gc_scan_stack_before_run). Both sequentially
 * consistent: at least one of the two sees the other. */
static void scan_stack_pass(g *gp, void *arg)
{
    stack_pass *ps = arg;
    uint32_t status = atomic_load(&gp->atomicstatus);
    if (status == G_DEAD || status == G_IDLE)
        return; /* a dead stack holds nothing; a reused g starts scanned */
    uint32_t s = atomic_load(&gp->stackscan);
    if (s == ps->scanned)
        return;
    if ((s & STACKSCAN_BUSY) == 0 &&
        atomic_compare_exchange_strong(&gp->stackscan, &s, ps->scanned | STACKSCAN_BUSY)) {
        if (!atomic_load(&gp->fiber_live)) {
            scan_stack_counted(gp, ps->w);
            atomic_store(&gp->stackscan, ps->scanned);
            return;
        }
        atomic_store(&gp->stackscan, s); /* it runs: it scans at its safepoint */
    }
    ps->left++;
}

size_t gc_scan_stacks(gcwork *w)
{
    stack_pass ps = {.w = w, .scanned = atomic_load(&gc_stack_epoch) << 1};
    sched_each_g(scan_stack_pass, &ps);
    return ps.left;
}

void gc_scan_stack_before_run(g *gp)
{
    uint32_t scanned = atomic_load(&gc_stack_epoch) << 1;
    uint32_t s = atomic_load(&gp->stackscan);
    for (;;) {
        if (s == scanned)
            return;
        if (s & STACKSCAN_BUSY) {
            /* The collector scans it now: a stack is a few KB. */
            prim_osyield();
            s = atomic_load(&gp->stackscan);
            continue;
        }
        if (atomic_compare_exchange_weak(&gp->stackscan, &s, scanned | STACKSCAN_BUSY))
            break;
    }
    gcwork w = {0};
    scan_stack_counted(gp, &w);
    gcw_dispose(&w);
    atomic_store(&gp->stackscan, scanned);
}

static void shade_tiny_block(p *pp, void *arg)
{
    if (pp->mcache != NULL && pp->mcache->tiny != 0)
        shade(pp->mcache->tiny, arg);
}

void gc_mark_tiny_blocks(gcwork *w)
{
    /* A tiny block may get more objects during mark: it must not stay
     * white (Go's gcMarkTinyAllocs). */
    sched_each_p(shade_tiny_block, w);
    if (extalloc.cache != NULL && extalloc.cache->tiny != 0)
        shade(extalloc.cache->tiny, w);
}

static void shade_timer(timer *t, void *arg)
{
    /* A timer may live inside a heap object (a channel's timer) and its
     * argument may be one (the channel). */
    shade((uintptr_t)t, arg);
    shade((uintptr_t)t->arg, arg);
}

void gc_mark_roots(gcwork *w)
{
    atomic_fetch_add_explicit(&globals_scanned_bytes, roots_mark(w), memory_order_relaxed);
    handles_mark(w);
    timers_each(shade_timer, w);
    fin_mark_roots(w);
}

/* ---- assists ---- */

void gc_assist_alloc(mcache *c, uint64_t bytes)
{
    c->gc_assist_debt += gc_assist_work_for(bytes);
    if (c->gc_assist_debt <= 0 || atomic_load_explicit(&gc_test_hold_mark, memory_order_relaxed))
        return;
    int64_t start = prim_nanotime();
    int lane = trace_lane_self();
    trace_state(lane, GORT_TRACE_ASSIST, start);
    gcwork w = {0};
    for (;;) {
        /* Counted only while it holds work: the marker ends the mark when
         * the pool is empty and no assist holds any. */
        atomic_fetch_add(&gc_assists_running, 1);
        int64_t chunk = c->gc_assist_debt < ASSIST_CHUNK_BYTES ? c->gc_assist_debt
                                                                : ASSIST_CHUNK_BYTES;
        int64_t done = drain(&w, chunk, true);
        gcw_dispose(&w);
        atomic_fetch_sub(&gc_assists_running, 1);
        c->gc_assist_debt = done >= c->gc_assist_debt ? 0 : c->gc_assist_debt - done;
        /* Near the goal, work the pool lacks is forgiven: the background
         * marker holds it. Well past it the allocation waits for marking
         * to catch up, as Go parks such an assist, but never through a
         * stop-the-world (it must reach its safepoint), while stacks wait
         * for their scan (its own may be one), or past the mark. */
        uint64_t goal = atomic_load_explicit(&gcController.goal, memory_order_relaxed);
        if (c->gc_assist_debt == 0 ||
            atomic_load_explicit(&gcController.heap_live, memory_order_relaxed) <=
                goal + (goal >> ASSIST_WAIT_OVERSHOOT_SHIFT) ||
            !atomic_load_explicit(&gcBlackenEnabled, memory_order_relaxed) ||
            sched_gcwaiting() ||
            gc_stacks_pending() ||
            atomic_load_explicit(&gc_abandon, memory_order_relaxed))
            break;
        if (done == 0)
            prim_osyield();
    }
    c->gc_assist_debt = 0;
    int64_t end = prim_nanotime();
    gc_assist_time(end - start);
    trace_state(lane, GORT_TRACE_RUNNING, end);
}

/* ---- verification ---- */

static void clear_span_bits(mspan *s, void *arg)
{
    bool *marks = arg;
    memset(*marks ? s->gcmarkBits : s->scanBits, 0, sizeof s->bits[0]);
}

void gc_clear_all_marks(void)
{
    bool marks = true;
    mheap_each_span(clear_span_bits, &marks);
    marks = false;
    mheap_each_span(clear_span_bits, &marks);
}

/*
 * With the world stopped after marking: marks again from the roots into the
 * scan bits (free at this point) and checks each object reached against the
 * mark bits. Objects reached only through conservative roots (stacks,
 * registered regions) are not reported: a stack may hold a stale word that
 * points at a dead object the mark rightly left white. Objects reached
 * through a pointer field of a marked object, or from a handle or timer,
 * are reported: that is the loss a missing write barrier causes.
 */
void gc_checkmark(void)
{
    bool marks = false;
    mheap_each_span(clear_span_bits, &marks);
    checkmark_mode = true;
    gcwork w = {0};
    checkmark_precise = false;
    sched_each_g(scan_goroutine, &w);
    roots_mark(&w);
    fin_mark_roots(&w);
    checkmark_precise = true;
    handles_mark(&w);
    timers_each(shade_timer, &w);
    gc_drain(&w, -1);
    gcw_dispose(&w);
    checkmark_mode = false;
    /* The scan bits now hold check marks; the snapshot wants blacks. */
    marks = false;
    mheap_each_span(clear_span_bits, &marks);
}
