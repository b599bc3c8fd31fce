/*
 * tracechrome.c — the event rings (gort/trace.h) as a Chrome trace, the
 * JSON object format that Perfetto and chrome://tracing open: a writer of a
 * list of events (gort_trace_write_chrome), and Go's runtime/trace shape
 * around it (gort_trace_start, gort_trace_stop), to which the rings'
 * writers hand their records while a trace runs. The picture is the one the JS
 * reader's chromeTrace (src/js/observe.js) draws from the same events: the
 * same thread ids, names, categories and args, in the same order, so that a
 * trace looks the same whichever side wrote it.
 *
 * Invariants:
 *  - the writer never changes its caller's events: it sorts a copy, stably,
 *    by time, and at one instant a pause's begin first and its end last
 *    (a P's lane turns "stopping" before whatever else happened then, and
 *    back after it);
 *  - a slice is written when the next state of its lane (or the end of the
 *    events) closes it, and a goroutine's flows with its slice, so the
 *    output is a function of the sorted events alone; every allocation is
 *    made before the first byte is written;
 *  - one trace at a time: tracing.on changes only under tracing.lock, which
 *    start and stop hold while they set up or take down a trace (never
 *    while writing one);
 *  - while a trace runs, its buffer and each ring's taken_to are the drain
 *    thread's; stop joins the thread before it touches them;
 *  - a trace has every record its rings were written after it started and
 *    before it stopped, or counts it lost (only when memory ran out);
 *  - the drain thread is no M: it holds no P and takes no lock of the
 *    runtime, and the runtime never waits for it, so a runtime stops and a
 *    program ends whether or not a trace is running; a ring's writer only
 *    copies half a ring and pushes it, without a lock, once a half.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort/error.h"
#include "gort/gc.h"
#include "gort/trace.h"
#include "lock.h"
#include "observe.h"
#include "prim/prim.h"

/* ---- the writer ---- */

/* Chrome trace ids, the JS reader's: P p is tid p, its goroutines' lane
 * GOROUTINES_TID_BASE + p. */
#define PID 1
#define COLLECTOR_TID 1000
#define PHASES_TID 2000
#define STW_TID 2001
#define GOROUTINES_TID_BASE 3000

/* enum gort_trace_state, enum gort_gc_phase and enum gort_wait_reason as
 * the JS reader names them (Go's waitReason strings for the last). */
static const char *const state_names[] = {"idle", "running", "assist", "sweep", "stopped", "mark"};
static const char *const phase_names[] = {"off", "sweep termination", "mark", "mark termination", "sweep"};
static const char *const wait_reasons[] = {
    "", "chan send", "chan receive", "select", "select (no cases)", "sleep", "sync.Mutex.Lock",
    "sync.RWMutex.Lock", "sync.RWMutex.RLock", "semacquire", "sync.WaitGroup.Wait", "GC",
    "stopping the world", "finalizer wait",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(COUNT(state_names) == GORT_TRACE_MARK + 1, "a name per lane state");
_Static_assert(COUNT(phase_names) == GORT_GC_SWEEP + 1, "a name per phase");
_Static_assert(COUNT(wait_reasons) == GORT_WAIT_FINALIZER + 1, "a string per wait reason");

/* Lanes of state slices: the Ps' (by id), the collector's, the phases'. */
enum { SLOT_COLLECTOR = GORT_TRACE_COLLECTOR, SLOT_PHASES, SLOTS };
/* A P's lane between a stop request and its stop (never in a ring). */
#define STOPPING UINT32_MAX

#define NONE SIZE_MAX

/* The open slice of a lane: a state (STOPPING included) or a phase. */
typedef struct slice {
    bool open;
    uint32_t value;
    uint64_t since;
    uint64_t cycle; /* a phase's */
    uint64_t seq;   /* the order slices began in: the last ones close in it */
} slice;

/* An arrow from where a goroutine was made runnable to its next run. */
typedef struct flow {
    uint64_t time, goid;
    bool by_go; /* created (else unblocked) */
    size_t next_out, next_in;
} flow;

/* A goroutine running on a P, with the flows that leave and enter its run. */
typedef struct run {
    bool on;
    uint64_t goid, since, seq;
    size_t out_first, out_last;
    size_t in_first;
} run;

/* The flows waiting for a goroutine's next start (open addressing by goid;
 * an entry, once made, stays: at most one per goroutine ever made
 * runnable). */
typedef struct waiting {
    bool used;
    uint64_t goid;
    size_t first, last;
} waiting;

typedef struct writer {
    FILE *w;
    int nprocs;
    bool first_event;
    uint64_t seq;
    slice slices[SLOTS];
    uint32_t saved[GORT_TRACE_COLLECTOR]; /* a P's state to go back to after a pause */
    run runs[GORT_TRACE_COLLECTOR];
    flow *flows;
    size_t nflows;
    waiting *waiting;
    size_t waiting_mask;
    bool stw_open;
    uint64_t stw_at;
} writer;

static int rank(const gort_trace_event *e)
{
    return e->kind == GORT_EV_STW_BEGIN ? 0 : e->kind == GORT_EV_STW_END ? 2 : 1;
}

static bool goes_before(const gort_trace_event *a, const gort_trace_event *b)
{
    return a->time != b->time ? a->time < b->time : rank(a) < rank(b);
}

/* The end of the run of events in order that starts at i. */
static size_t run_end(const gort_trace_event *ev, size_t i, size_t n)
{
    while (++i < n && !goes_before(&ev[i], &ev[i - 1]))
        ;
    return i;
}

/*
 * A stable merge sort that merges the runs already in order (each ring's
 * events are, or nearly: a list of r rings sorts in about log2(r) passes):
 * ev and tmp hold n events each; returns the one that holds them sorted.
 */
static gort_trace_event *sort_events(gort_trace_event *ev, gort_trace_event *tmp, size_t n)
{
    for (;;) {
        if (n == 0 || run_end(ev, 0, n) == n)
            return ev;
        size_t mid;
        for (size_t lo = 0; lo < n;) {
            mid = run_end(ev, lo, n);
            size_t hi = mid < n ? run_end(ev, mid, n) : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = goes_before(&ev[j], &ev[i]) ? ev[j++] : ev[i++];
            memcpy(&tmp[k], &ev[i], (mid - i) * sizeof *ev);
            k += mid - i;
            memcpy(&tmp[k], &ev[j], (hi - j) * sizeof *ev);
            lo = hi;
        }
        gort_trace_event *t = ev;
        ev = tmp;
        tmp = t;
    }
}

static bool is_go_event(uint16_t kind) { return kind >= GORT_EV_GO_CREATE && kind <= GORT_EV_GO_END; }

/*
 * A time as JavaScript prints ns / 1000 (the JS reader's microseconds),
 * from quarter nanoseconds (a flow's end may sit a quarter of a slice
 * inside it): an exact decimal of at most five places, which for any
 * realistic time is also the shortest that reads back as the same double.
 */
static void put_us(FILE *w, uint64_t quarters)
{
    unsigned frac = (unsigned)(quarters % 4000) * 25;
    fprintf(w, "%llu", (unsigned long long)(quarters / 4000));
    if (frac == 0)
        return;
    char digits[8];
    int len = snprintf(digits, sizeof digits, "%05u", frac);
    while (digits[len - 1] == '0')
        len--;
    fprintf(w, ".%.*s", len, digits);
}

#define Q(ns) ((uint64_t)(ns) * 4)

static void next_event(writer *wr)
{
    fputs(wr->first_event ? "\n" : ",\n", wr->w);
    wr->first_event = false;
}

static void put_thread_meta(writer *wr, int tid, const char *name, int sort_index)
{
    next_event(wr);
    fprintf(wr->w, "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_name\",\"args\":{\"name\":\"%s\"}}",
            PID, tid, name);
    if (sort_index < 0)
        return;
    next_event(wr);
    fprintf(wr->w, "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":%d}}",
            PID, tid, sort_index);
}

static void put_metadata(writer *wr, bool goroutines)
{
    next_event(wr);
    fprintf(wr->w, "{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\",\"args\":{\"name\":\"gort\"}}", PID);
    put_thread_meta(wr, COLLECTOR_TID, "collector", -1);
    put_thread_meta(wr, PHASES_TID, "GC phases", -1);
    put_thread_meta(wr, STW_TID, "stop-the-world", -1);
    for (int p = 0; p < wr->nprocs; p++) {
        char name[32];
        snprintf(name, sizeof name, "P%d", p);
        put_thread_meta(wr, p, name, 2 * p);
        if (!goroutines)
            continue;
        snprintf(name, sizeof name, "P%d goroutines", p);
        put_thread_meta(wr, GOROUTINES_TID_BASE + p, name, 2 * p + 1);
    }
}

static void put_slice_name(FILE *w, int slot, const slice *s)
{
    if (slot == SLOT_PHASES) {
        if (s->value < COUNT(phase_names))
            fputs(phase_names[s->value], w);
        else
            fprintf(w, "phase %u", s->value);
    } else if (s->value == STOPPING) {
        fputs("stopping", w);
    } else if (s->value < COUNT(state_names)) {
        fputs(state_names[s->value], w);
    } else {
        fprintf(w, "state %u", s->value);
    }
}

/* Idle lanes and the collector's "off" draw nothing. */
static bool draws_nothing(int slot, const slice *s)
{
    return slot == SLOT_PHASES ? s->value == GORT_GC_OFF : s->value == GORT_TRACE_IDLE;
}

static void close_slice(writer *wr, int slot, uint64_t t)
{
    slice *s = &wr->slices[slot];
    if (!s->open)
        return;
    s->open = false;
    if (t <= s->since || draws_nothing(slot, s))
        return;
    int tid = slot == SLOT_COLLECTOR ? COLLECTOR_TID : slot == SLOT_PHASES ? PHASES_TID : slot;
    next_event(wr);
    fprintf(wr->w, "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"name\":\"", PID, tid);
    put_slice_name(wr->w, slot, s);
    fprintf(wr->w, "\",\"cat\":\"%s\",\"ts\":", slot == SLOT_PHASES ? "gc" : "sched");
    put_us(wr->w, Q(s->since));
    fputs(",\"dur\":", wr->w);
    put_us(wr->w, Q(t - s->since));
    if (slot == SLOT_PHASES)
        fprintf(wr->w, ",\"args\":{\"cycle\":%llu}}", (unsigned long long)s->cycle);
    else
        fputs(",\"args\":{}}", wr->w);
}

static void begin_slice(writer *wr, int slot, uint32_t value, uint64_t t, uint64_t cycle)
{
    close_slice(wr, slot, t);
    wr->slices[slot] = (slice){.open = true, .value = value, .since = t, .cycle = cycle, .seq = ++wr->seq};
}

static void stw_begin(writer *wr, uint64_t t)
{
    wr->stw_open = true;
    wr->stw_at = t;
    for (int p = 0; p < wr->nprocs; p++) {
        const slice *s = &wr->slices[p];
        bool idle = s->open && s->value == GORT_TRACE_IDLE;
        wr->saved[p] = idle ? GORT_TRACE_IDLE : GORT_TRACE_RUNNING;
        if (!s->open || s->value != GORT_TRACE_STOPPED)
            begin_slice(wr, p, STOPPING, t, 0);
    }
}

static void stw_end(writer *wr, uint64_t t, uint64_t pause_ns)
{
    if (wr->stw_open) {
        next_event(wr);
        fprintf(wr->w, "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"name\":\"stop-the-world\",\"cat\":\"gc\",\"ts\":",
                PID, STW_TID);
        put_us(wr->w, Q(wr->stw_at));
        fputs(",\"dur\":", wr->w);
        put_us(wr->w, Q(t - wr->stw_at));
        fputs(",\"args\":{\"pause_us\":", wr->w);
        put_us(wr->w, Q(pause_ns));
        fputs("}}", wr->w);
    }
    wr->stw_open = false;
    for (int p = 0; p < wr->nprocs; p++) {
        const slice *s = &wr->slices[p];
        if (s->open && (s->value == GORT_TRACE_STOPPED || s->value == STOPPING))
            begin_slice(wr, p, wr->saved[p], t, 0);
    }
}

static void put_counter(writer *wr, const char *name, uint64_t t, uint64_t bytes)
{
    next_event(wr);
    fprintf(wr->w, "{\"ph\":\"C\",\"pid\":%d,\"name\":\"%s\",\"ts\":", PID, name);
    put_us(wr->w, Q(t));
    fprintf(wr->w, ",\"args\":{\"bytes\":%llu}}", (unsigned long long)bytes);
}

static waiting *waiting_for(writer *wr, uint64_t goid, bool make)
{
    size_t i = (size_t)((goid * 0x9e3779b97f4a7c15ull) >> 32) & wr->waiting_mask;
    for (;; i = (i + 1) & wr->waiting_mask) {
        waiting *e = &wr->waiting[i];
        if (e->used && e->goid == goid)
            return e;
        if (!e->used) {
            if (!make)
                return NULL;
            *e = (waiting){.used = true, .goid = goid, .first = NONE, .last = NONE};
            return e;
        }
    }
}

/* The goroutine on lane's P left it at t (how: why, as its slice's args
 * say); its slice and flows are written if it ran for any time. */
static void go_leave(writer *wr, int lane, uint64_t t, const char *how)
{
    run *r = &wr->runs[lane];
    if (!r->on)
        return;
    r->on = false;
    if (t <= r->since)
        return;
    FILE *w = wr->w;
    int tid = GOROUTINES_TID_BASE + lane;
    next_event(wr);
    fprintf(w, "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"name\":\"G%llu\",\"cat\":\"goroutine\",\"ts\":", PID, tid,
            (unsigned long long)r->goid);
    put_us(w, Q(r->since));
    fputs(",\"dur\":", w);
    put_us(w, Q(t - r->since));
    fprintf(w, ",\"args\":{\"goid\":%llu,\"ended\":\"%s\"}}", (unsigned long long)r->goid, how);
    /* Each end a nanosecond (at most a quarter of the slice) inside it, so
     * that no viewer binds it to the slice before or after. */
    uint64_t inset = t - r->since < 4 ? t - r->since : 4;
    uint64_t lo = Q(r->since) + inset, hi = Q(t) - inset;
    for (size_t f = r->out_first; f != NONE; f = wr->flows[f].next_out) {
        const flow *fl = &wr->flows[f];
        uint64_t at = Q(fl->time) < lo ? lo : Q(fl->time);
        next_event(wr);
        fprintf(w, "{\"ph\":\"s\",\"pid\":%d,\"tid\":%d,\"id\":%zu,\"name\":\"ready\",\"cat\":\"goroutine\",\"ts\":",
                PID, tid, f + 1);
        put_us(w, at > hi ? hi : at);
        fprintf(w, ",\"args\":{\"goid\":%llu,\"by\":\"%s\"}}", (unsigned long long)fl->goid,
                fl->by_go ? "go" : "unblock");
    }
    for (size_t f = r->in_first; f != NONE; f = wr->flows[f].next_in) {
        next_event(wr);
        fprintf(w,
                "{\"ph\":\"f\",\"bp\":\"e\",\"pid\":%d,\"tid\":%d,\"id\":%zu,\"name\":\"ready\",\"cat\":\"goroutine\","
                "\"ts\":",
                PID, tid, f + 1);
        put_us(w, lo);
        fputs("}", w);
    }
}

static void go_event(writer *wr, const gort_trace_event *e)
{
    int lane = e->lane;
    if (lane == GORT_TRACE_COLLECTOR)
        return; /* the collector runs no goroutine */
    run *r = &wr->runs[lane];
    switch (e->kind) {
    case GORT_EV_GO_START: {
        go_leave(wr, lane, e->time, "unknown");
        waiting *q = waiting_for(wr, e->arg, false);
        *r = (run){.on = true, .goid = e->arg, .since = e->time, .seq = ++wr->seq,
                   .out_first = NONE, .out_last = NONE, .in_first = q != NULL ? q->first : NONE};
        if (q != NULL)
            q->first = q->last = NONE;
        break;
    }
    case GORT_EV_GO_BLOCK: {
        unsigned reason = (unsigned)(e->arg & 0xff);
        char text[24];
        if (reason < COUNT(wait_reasons))
            go_leave(wr, lane, e->time, wait_reasons[reason]);
        else {
            snprintf(text, sizeof text, "reason %u", reason);
            go_leave(wr, lane, e->time, text);
        }
        break;
    }
    case GORT_EV_GO_STOP:
        go_leave(wr, lane, e->time, "yield");
        break;
    case GORT_EV_GO_END:
        go_leave(wr, lane, e->time, "end");
        break;
    default: {
        /* Created or unblocked: an arrow only from a goroutine (a P's own
         * scheduler, running timers, has no slice to start it from). */
        if (!r->on)
            return;
        size_t f = wr->nflows++;
        wr->flows[f] = (flow){.time = e->time, .goid = e->arg, .by_go = e->kind == GORT_EV_GO_CREATE,
                              .next_out = NONE, .next_in = NONE};
        if (r->out_last == NONE)
            r->out_first = f;
        else
            wr->flows[r->out_last].next_out = f;
        r->out_last = f;
        waiting *q = waiting_for(wr, e->arg, true);
        if (q->last == NONE)
            q->first = f;
        else
            wr->flows[q->last].next_in = f;
        q->last = f;
        break;
    }
    }
}

static void write_event(writer *wr, const gort_trace_event *e)
{
    uint64_t t = e->time;
    if (is_go_event(e->kind)) {
        go_event(wr, e);
        return;
    }
    switch (e->kind) {
    case GORT_EV_STATE:
        begin_slice(wr, e->lane, (uint32_t)e->arg, t, 0);
        break;
    case GORT_EV_GC_PHASE:
        begin_slice(wr, SLOT_PHASES, (uint32_t)(e->arg & 0xff), t, e->arg >> 8);
        break;
    case GORT_EV_STW_BEGIN:
        stw_begin(wr, t);
        break;
    case GORT_EV_STW_END:
        stw_end(wr, t, e->arg);
        break;
    case GORT_EV_CYCLE_LIVE_END:
        put_counter(wr, "heap live", t, e->arg);
        break;
    case GORT_EV_CYCLE_MARKED:
        put_counter(wr, "heap marked", t, e->arg);
        break;
    case GORT_EV_CYCLE_GOAL:
        put_counter(wr, "heap goal", t, e->arg);
        break;
    default:
        break;
    }
}

/* The slot of the open slice (or the P of the run) that began first; -1
 * when none is open. */
static int oldest_open(const writer *wr, bool runs)
{
    int oldest = -1;
    uint64_t first = UINT64_MAX;
    for (int i = 0; i < (runs ? GORT_TRACE_COLLECTOR : SLOTS); i++) {
        bool open = runs ? wr->runs[i].on : wr->slices[i].open;
        uint64_t seq = runs ? wr->runs[i].seq : wr->slices[i].seq;
        if (open && seq < first) {
            oldest = i;
            first = seq;
        }
    }
    return oldest;
}

/* What is still open when the events end closes there, oldest begun first. */
static void write_ends(writer *wr, uint64_t end)
{
    for (int slot; (slot = oldest_open(wr, false)) >= 0;)
        close_slice(wr, slot, end);
    for (int p; (p = oldest_open(wr, true)) >= 0;)
        go_leave(wr, p, end, "running");
}

/* Writes ev[0 .. n), which it sorts in place. */
static int write_events(FILE *w, gort_trace_event *ev, size_t n, uint64_t lost, int nprocs)
{
    bool goroutines = false;
    size_t readies = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].lane > GORT_TRACE_COLLECTOR)
            return GORT_EINVAL;
        goroutines |= is_go_event(ev[i].kind);
        readies += ev[i].kind == GORT_EV_GO_CREATE || ev[i].kind == GORT_EV_GO_UNBLOCK;
    }
    size_t slots = 16;
    while (slots < 2 * readies)
        slots *= 2;
    writer *wr = calloc(1, sizeof *wr);
    gort_trace_event *tmp = n > 0 ? malloc(n * sizeof *tmp) : NULL;
    flow *flows = readies > 0 ? malloc(readies * sizeof *flows) : NULL;
    waiting *table = calloc(slots, sizeof *table);
    if (wr == NULL || (n > 0 && tmp == NULL) || (readies > 0 && flows == NULL) || table == NULL) {
        free(wr);
        free(tmp);
        free(flows);
        free(table);
        return GORT_ENOMEM;
    }
    const gort_trace_event *sorted = sort_events(ev, tmp, n);
    wr->w = w;
    wr->nprocs = nprocs;
    wr->first_event = true;
    wr->flows = flows;
    wr->waiting = table;
    wr->waiting_mask = slots - 1;
    for (int p = 0; p < GORT_TRACE_COLLECTOR; p++)
        wr->saved[p] = GORT_TRACE_RUNNING;

    fputs("{\"traceEvents\":[", w);
    put_metadata(wr, goroutines);
    for (size_t i = 0; i < n; i++)
        write_event(wr, &sorted[i]);
    write_ends(wr, n > 0 ? sorted[n - 1].time : 0);
    fprintf(w, "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"source\":\"gort\",\"lost\":%llu}}\n",
            (unsigned long long)lost);

    free(wr);
    free(tmp);
    free(flows);
    free(table);
    return fflush(w) != 0 || ferror(w) ? GORT_EWRITE : GORT_OK;
}

int gort_trace_write_chrome(FILE *w, const gort_trace_event *events, size_t n, uint64_t lost, int nprocs)
{
    if (w == NULL || (events == NULL && n > 0) || nprocs < 0 || nprocs > GORT_TRACE_COLLECTOR)
        return GORT_EINVAL;
    gort_trace_event *copy = NULL;
    if (n > 0) {
        if (n > SIZE_MAX / sizeof *copy || (copy = malloc(n * sizeof *copy)) == NULL)
            return GORT_ENOMEM;
        memcpy(copy, events, n * sizeof *copy);
    }
    int rc = write_events(w, copy, n, lost, nprocs);
    free(copy);
    return rc;
}

/* ---- a trace that runs (Go's runtime/trace) ---- */

/*
 * While a trace runs, each ring's writer hands every half ring it completes
 * to the trace (trace_spill): a copy of TRACE_SPILL_EVENTS records, pushed
 * onto a list the drain thread takes at its period. The rings then lose
 * nothing however late the drain thread runs (on a loaded machine it waited
 * milliseconds for a core, and a ring of a busy P fills in about one), as
 * Go's writers hand full buffers to its trace reader; what a trace holds in
 * memory grows with it, as Go's does. At stop, what each ring wrote after
 * its last spill is read from the ring itself.
 */
#define DRAIN_PERIOD_NS ((int64_t)1000 * 1000)

typedef struct spill {
    struct spill *next;
    int lane;
    uint32_t end; /* the ring index after its last record */
    gort_trace_event events[TRACE_SPILL_EVENTS];
} spill;

_Static_assert(GORT_TRACE_RING_EVENTS % TRACE_SPILL_EVENTS == 0, "spills are whole parts of a ring");

/* Writers look at spill_on at each half ring and push onto `spilled`
 * (newest first) while counted in `spillers`: stop turns spill_on off,
 * then waits for spillers to be 0 before it takes the list, so no spill
 * comes after the trace it belonged to has been written. */
static atomic_bool spill_on;
static atomic_int spillers;
static _Atomic(spill *) spilled;

void trace_spill(int lane, const gort_trace_ring *r, uint32_t end)
{
    /* Orders the head this writer published before its look at spill_on,
     * as start orders spill_on before its look at the heads: a half that
     * misses the trace's start was written before the heads start read. */
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load_explicit(&spill_on, memory_order_relaxed))
        return;
    atomic_fetch_add(&spillers, 1);
    spill *sp;
    if (atomic_load(&spill_on) && (sp = malloc(sizeof *sp)) != NULL) {
        sp->lane = lane;
        sp->end = end;
        /* This writer's own records: no other writes them until it has
         * written half a ring more. (A failed malloc leaves a gap the
         * drain counts lost.) */
        for (uint32_t k = 0; k < TRACE_SPILL_EVENTS; k++)
            sp->events[k] = r->events[(end - TRACE_SPILL_EVENTS + k) & (GORT_TRACE_RING_EVENTS - 1)];
        spill *top = atomic_load_explicit(&spilled, memory_order_relaxed);
        do
            sp->next = top;
        while (!atomic_compare_exchange_weak_explicit(&spilled, &top, sp, memory_order_release,
                                                      memory_order_relaxed));
    }
    atomic_fetch_sub(&spillers, 1);
}

/* Turns spills off and waits for the writers that saw them on to have
 * pushed theirs: after it, no spill comes. */
static void spills_off(void)
{
    atomic_store(&spill_on, false);
    while (atomic_load(&spillers) != 0)
        prim_osyield();
}

static struct {
    mutex lock;
    bool on;
    FILE *w;
    prim_thread thread;
    atomic_uint stop; /* the drain thread's futex word: 1 ends it */
    /* Each ring's index up to which the trace has its records (or counted
     * them lost): the head at start, then each spill's end. */
    uint32_t taken_to[GORT_TRACE_RINGS];
    gort_trace_event *buf;
    size_t len, cap;
    uint64_t lost;
    int nprocs; /* the most Ps any runtime had while the trace ran */
} tracing;

/* Room in the buffer for n more events; false when memory ran out. */
static bool buffer_room(size_t n)
{
    if (tracing.cap - tracing.len >= n)
        return true;
    size_t cap = tracing.cap;
    while (cap - tracing.len < n)
        cap *= 2;
    gort_trace_event *b = cap < SIZE_MAX / sizeof *b ? realloc(tracing.buf, cap * sizeof *b) : NULL;
    if (b == NULL)
        return false;
    tracing.buf = b;
    tracing.cap = cap;
    return true;
}

static void note_nprocs(void)
{
    int nprocs = (int)__atomic_load_n(&gort_trace_rings()->nprocs, __ATOMIC_ACQUIRE);
    if (nprocs > tracing.nprocs)
        tracing.nprocs = nprocs < GORT_TRACE_COLLECTOR ? nprocs : GORT_TRACE_COLLECTOR;
}

/* Takes the spills pushed so far into the buffer, in the order they were
 * pushed (each ring's in its order). */
static void drain(void)
{
    spill *newest = atomic_exchange_explicit(&spilled, NULL, memory_order_acquire), *oldest = NULL;
    while (newest != NULL) {
        spill *next = newest->next;
        newest->next = oldest;
        oldest = newest;
        newest = next;
    }
    while (oldest != NULL) {
        spill *sp = oldest;
        oldest = sp->next;
        uint32_t first = sp->end - TRACE_SPILL_EVENTS, from = tracing.taken_to[sp->lane];
        if ((int32_t)(sp->end - from) > 0) {
            if ((int32_t)(first - from) > 0) { /* a spill that was never made */
                tracing.lost += first - from;
                from = first;
            }
            uint32_t n = sp->end - from;
            if (buffer_room(n)) {
                memcpy(tracing.buf + tracing.len, sp->events + (from - first), n * sizeof *tracing.buf);
                tracing.len += n;
            } else
                tracing.lost += n;
            tracing.taken_to[sp->lane] = sp->end;
        }
        free(sp);
    }
    note_nprocs();
}

static void *drain_main(void *arg)
{
    (void)arg;
    while (atomic_load(&tracing.stop) == 0) {
        prim_futex_wait(&tracing.stop, 0, DRAIN_PERIOD_NS);
        if (atomic_load(&tracing.stop) != 0)
            break; /* stop drains the rest */
        drain();
    }
    return NULL;
}

/* At stop: what each ring wrote after its last spill, from the ring. */
static void read_rings_rest(void)
{
    gort_trace_cursor cursor;
    memset(&cursor, 0, sizeof cursor);
    for (int lane = 0; lane < GORT_TRACE_RINGS; lane++) {
        cursor.started[lane] = 1;
        cursor.next[lane] = tracing.taken_to[lane];
    }
    for (;;) {
        uint64_t lost = 0;
        size_t room = GORT_TRACE_RING_EVENTS;
        if (!buffer_room(room)) {
            gort_trace_event discard[64];
            size_t n = gort_trace_read(&cursor, discard, 64, &lost);
            tracing.lost += lost + n;
            if (n < 64)
                break;
            continue;
        }
        size_t n = gort_trace_read(&cursor, tracing.buf + tracing.len, room, &lost);
        tracing.len += n;
        tracing.lost += lost;
        if (n < room)
            break;
    }
}

int gort_trace_start(FILE *w)
{
    if (w == NULL)
        return GORT_EINVAL;
    lock(&tracing.lock);
    if (tracing.on) {
        unlock(&tracing.lock);
        return GORT_ESTATE;
    }
    tracing.cap = 4 * GORT_TRACE_RING_EVENTS;
    tracing.buf = malloc(tracing.cap * sizeof *tracing.buf);
    if (tracing.buf == NULL) {
        unlock(&tracing.lock);
        return GORT_ENOMEM;
    }
    tracing.len = 0;
    tracing.lost = 0;
    tracing.w = w;
    /* Asked for, and spills turned on, before the rings' present is taken:
     * none written after it is missed. What the rings held before is not
     * the trace's: it starts at each ring's head (a ring made later, at
     * its start). */
    gort_trace_goroutines(1);
    atomic_store(&spill_on, true);
    atomic_thread_fence(memory_order_seq_cst);
    const gort_trace_header *h = gort_trace_rings();
    for (int lane = 0; lane < GORT_TRACE_RINGS; lane++) {
        const gort_trace_ring *r = __atomic_load_n(&h->rings[lane], __ATOMIC_ACQUIRE);
        tracing.taken_to[lane] = r != NULL ? __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) : 0;
    }
    tracing.nprocs = 0;
    note_nprocs();
    atomic_store(&tracing.stop, 0);
    if (!prim_thread_start(&tracing.thread, drain_main, NULL)) {
        spills_off();
        drain();
        gort_trace_goroutines(0);
        free(tracing.buf);
        tracing.buf = NULL;
        unlock(&tracing.lock);
        return GORT_ENOMEM;
    }
    tracing.on = true;
    unlock(&tracing.lock);
    return GORT_OK;
}

int gort_trace_stop(void)
{
    lock(&tracing.lock);
    if (!tracing.on) {
        unlock(&tracing.lock);
        return GORT_ESTATE;
    }
    atomic_store(&tracing.stop, 1);
    prim_futex_wake(&tracing.stop, 1);
    prim_thread_join(&tracing.thread);
    spills_off();
    gort_trace_goroutines(0);
    drain();
    read_rings_rest();
    FILE *w = tracing.w;
    gort_trace_event *buf = tracing.buf;
    size_t len = tracing.len;
    uint64_t lost = tracing.lost;
    int nprocs = tracing.nprocs;
    tracing.buf = NULL;
    tracing.w = NULL;
    tracing.on = false;
    unlock(&tracing.lock);
    /* Written outside the lock: the next trace may start meanwhile. */
    int rc = write_events(w, buf, len, lost, nprocs);
    free(buf);
    return rc;
}
