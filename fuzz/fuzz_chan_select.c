/*
 * fuzz_chan_select.c — libFuzzer target: channel and select programs.
 *
 * An input decodes into a small program: up to FZ_MAX_CHANS channels of
 * several capacities and up to FZ_MAX_WORKERS goroutines, each with a list
 * of operations (blocking and non-blocking sends and receives, selects with
 * and without default over send, receive, nil and timer cases, closes,
 * yields, sleeps). Each input runs twice:
 *
 *  1. sequentially, every operation in order on one goroutine, checked
 *     step by step against a reference model of the channels (a FIFO of at
 *     most cap values and a closed flag each): a blocking operation or a
 *     select without default runs only when the model says it cannot block;
 *  2. concurrently, each goroutine its own operations, on 1 to 3
 *     processors; then the main goroutine closes every channel and drains
 *     it. Checked: every value is received at most once, in FIFO order per
 *     channel and sender as each receiver sees it; a value whose send
 *     succeeded is received exactly once (none lost at a close) and a value
 *     whose send failed never is; exactly one close of a channel succeeds;
 *     and when the runtime reports a deadlock, it is one: no goroutine is
 *     blocked on an operation that could proceed.
 *
 * Invariants of the target itself: every channel and timer channel is held
 * in a goroutine's locals while it is used (C globals are no roots); the
 * record of what each goroutine waits on is written before the operation
 * and cleared after it, so that after a deadlock it says what is blocked.
 */
#include <gort/gort.h>
#include <stdatomic.h>
#include <string.h>

#include "fuzz.h"

enum {
    FZ_MAX_CHANS = 4,
    FZ_MAX_WORKERS = 4,
    FZ_MAX_OPS = 96,
    FZ_MAX_CAP = 8,
    FZ_MAX_CASES = 4,
    /* sequence numbers per (goroutine, channel): at most one per op */
    FZ_MAX_SEQ = FZ_MAX_OPS * FZ_MAX_CASES + 1,
    /* the longest timer or sleep an input may ask for */
    FZ_MAX_SLEEP_NS = 200000,
};

enum fz_kind {
    OP_SEND,
    OP_TRYSEND,
    OP_RECV,
    OP_TRYRECV,
    OP_SELECT,
    OP_CLOSE,
    OP_YIELD,
    OP_SLEEP,
    OP_KINDS,
};

enum fz_case_kind {
    CASE_SEND,
    CASE_RECV,
    CASE_NIL,
    CASE_TIMER,
    CASE_KINDS,
};

typedef struct fz_case {
    uint8_t kind;
    uint8_t ch;
} fz_case;

typedef struct fz_op {
    uint8_t g; /* the worker that runs it in the concurrent phase */
    uint8_t kind;
    uint8_t ch;
    uint8_t ncases;
    bool has_default;
    uint32_t sleep_ns;
    fz_case cases[FZ_MAX_CASES];
} fz_op;

typedef struct fz_program {
    int procs;
    int nchans;
    size_t cap[FZ_MAX_CHANS];
    int nworkers;
    int nops;
    fz_op ops[FZ_MAX_OPS];
} fz_program;

static const size_t fz_caps[] = {0, 1, 2, 3, 5, 8};

static void decode(fz_program *p, const uint8_t *data, size_t size)
{
    fuzz_reader r = fuzz_reader_of(data, size);
    memset(p, 0, sizeof *p);
    p->procs = 1 + (int)fuzz_below(&r, 3);
    p->nchans = 1 + (int)fuzz_below(&r, FZ_MAX_CHANS);
    for (int c = 0; c < p->nchans; c++)
        p->cap[c] = fz_caps[fuzz_below(&r, sizeof fz_caps / sizeof fz_caps[0])];
    p->nworkers = 1 + (int)fuzz_below(&r, FZ_MAX_WORKERS);
    while (fuzz_more(&r) && p->nops < FZ_MAX_OPS) {
        fz_op *op = &p->ops[p->nops++];
        uint8_t b = fuzz_byte(&r);
        op->kind = (uint8_t)(b % OP_KINDS);
        op->g = (uint8_t)((b >> 4) % p->nworkers);
        op->ch = (uint8_t)fuzz_below(&r, (unsigned)p->nchans);
        if (op->kind == OP_SELECT) {
            uint8_t shape = fuzz_byte(&r);
            op->has_default = shape & 1;
            op->ncases = (uint8_t)((shape >> 1) % (FZ_MAX_CASES + 1));
            for (int k = 0; k < op->ncases; k++) {
                uint8_t cb = fuzz_byte(&r);
                op->cases[k].kind = (uint8_t)(cb % CASE_KINDS);
                op->cases[k].ch = (uint8_t)((cb >> 2) % p->nchans);
            }
        } else if (op->kind == OP_SLEEP) {
            op->sleep_ns = (uint32_t)fuzz_byte(&r) * (FZ_MAX_SLEEP_NS / 255);
        }
    }
}

/* A value: worker << 48 | channel << 40 | seq, seq from 1 (never zero, the
 * zero value of a closed channel's receive). */
static uint64_t value_of(int g, int ch, uint32_t seq)
{
    return (uint64_t)g << 48 | (uint64_t)ch << 40 | seq;
}

/* ---- phase 1: sequential, against the model ---- */

typedef struct model_chan {
    uint64_t q[FZ_MAX_CAP];
    size_t head, len, cap;
    bool closed;
} model_chan;

static bool model_can_send(const model_chan *m) { return m->closed || m->len < m->cap; }
static bool model_can_recv(const model_chan *m) { return m->closed || m->len > 0; }

/* A send the model says completes: OK into the buffer, or ECLOSED. */
static int model_send(model_chan *m, uint64_t v)
{
    if (m->closed)
        return GORT_ECLOSED;
    m->q[(m->head + m->len++) % m->cap] = v;
    return GORT_OK;
}

/* A receive the model says completes: the head value, or the zero value
 * with ok false once closed and drained. */
static uint64_t model_recv(model_chan *m, bool *ok)
{
    if (m->len == 0) {
        *ok = false;
        return 0;
    }
    uint64_t v = m->q[m->head];
    m->head = (m->head + 1) % m->cap;
    m->len--;
    *ok = true;
    return v;
}

static const fz_program *seq_program;

static void run_sequential(void *arg)
{
    (void)arg;
    const fz_program *p = seq_program;
    gort_chan *chans[FZ_MAX_CHANS];
    model_chan model[FZ_MAX_CHANS];
    memset(model, 0, sizeof model);
    for (int c = 0; c < p->nchans; c++) {
        chans[c] = gort_chan_make_bytes(sizeof(uint64_t), p->cap[c]);
        FUZZ_EXPECT(chans[c] != NULL, "channel %d of cap %zu", c, p->cap[c]);
        model[c].cap = p->cap[c];
    }
    uint32_t seq = 1;
    for (int i = 0; i < p->nops; i++) {
        const fz_op *op = &p->ops[i];
        gort_chan *c = chans[op->ch];
        model_chan *m = &model[op->ch];
        uint64_t v = value_of(0, op->ch, seq), got = UINT64_MAX, want;
        bool ok = true, want_ok;
        int rc;
        switch (op->kind) {
        case OP_SEND:
            if (!model_can_send(m))
                break;
            rc = gort_chan_send(c, &v);
            FUZZ_EXPECT(rc == model_send(m, v), "op %d: send returned %d", i, rc);
            seq++;
            break;
        case OP_TRYSEND:
            rc = gort_chan_trysend(c, &v);
            FUZZ_EXPECT(rc == (model_can_send(m) ? model_send(m, v) : GORT_EWOULDBLOCK),
                        "op %d: trysend returned %d", i, rc);
            seq++;
            break;
        case OP_RECV:
            if (!model_can_recv(m))
                break;
            rc = gort_chan_recv(c, &got, &ok);
            want = model_recv(m, &want_ok);
            FUZZ_EXPECT(rc == GORT_OK && got == want && ok == want_ok,
                        "op %d: recv %d got %llx ok %d, want %llx ok %d", i, rc,
                        (unsigned long long)got, ok, (unsigned long long)want, want_ok);
            break;
        case OP_TRYRECV:
            rc = gort_chan_tryrecv(c, &got, &ok);
            if (model_can_recv(m)) {
                want = model_recv(m, &want_ok);
                FUZZ_EXPECT(rc == GORT_OK && got == want && ok == want_ok,
                            "op %d: tryrecv %d got %llx ok %d", i, rc, (unsigned long long)got, ok);
            } else {
                FUZZ_EXPECT(rc == GORT_EWOULDBLOCK && got == UINT64_MAX && ok,
                            "op %d: tryrecv on an empty channel returned %d", i, rc);
            }
            break;
        case OP_SELECT: {
            /* Timer cases are nil cases here: when a timer fires is not
             * the model's to say. */
            gort_select_case cases[FZ_MAX_CASES];
            uint64_t vals[FZ_MAX_CASES];
            bool ready[FZ_MAX_CASES], any_ready = false;
            for (int k = 0; k < op->ncases; k++) {
                const fz_case *fc = &op->cases[k];
                model_chan *cm = &model[fc->ch];
                vals[k] = fc->kind == CASE_SEND ? value_of(0, fc->ch, seq + (uint32_t)k) : UINT64_MAX;
                if (fc->kind == CASE_SEND)
                    cases[k] = GORT_SEND_CASE(chans[fc->ch], &vals[k]);
                else if (fc->kind == CASE_RECV)
                    cases[k] = GORT_RECV_CASE(chans[fc->ch], &vals[k]);
                else
                    cases[k] = GORT_RECV_CASE(NULL, &vals[k]);
                ready[k] = fc->kind == CASE_SEND   ? model_can_send(cm)
                           : fc->kind == CASE_RECV ? model_can_recv(cm)
                                                   : false;
                any_ready |= ready[k];
            }
            seq += op->ncases;
            if (!any_ready && !op->has_default)
                break; /* would block forever: the model runs alone */
            rc = gort_select(cases, op->ncases, op->has_default);
            if (!any_ready) {
                FUZZ_EXPECT(rc == GORT_SELECT_DEFAULT, "op %d: select returned %d, want default", i, rc);
                break;
            }
            int k = rc >= 0 ? rc : -1;
            if (rc == -GORT_ECLOSED) {
                /* Which closed send case was chosen is not said; one was. */
                bool some = false;
                for (int j = 0; j < op->ncases; j++)
                    some |= op->cases[j].kind == CASE_SEND && model[op->cases[j].ch].closed;
                FUZZ_EXPECT(some, "op %d: select said closed with no closed send case", i);
                break;
            }
            FUZZ_EXPECT(k >= 0 && k < op->ncases && ready[k], "op %d: select chose %d", i, rc);
            const fz_case *fc = &op->cases[k];
            model_chan *cm = &model[fc->ch];
            if (fc->kind == CASE_SEND) {
                FUZZ_EXPECT(!cm->closed, "op %d: a send case on a closed channel proceeded", i);
                FUZZ_EXPECT(cases[k].ok, "op %d: the sent case says not ok", i);
                model_send(cm, vals[k]);
            } else {
                want = model_recv(cm, &want_ok);
                FUZZ_EXPECT(vals[k] == want && cases[k].ok == want_ok,
                            "op %d: select received %llx ok %d, want %llx ok %d", i,
                            (unsigned long long)vals[k], cases[k].ok, (unsigned long long)want,
                            want_ok);
            }
            for (int j = 0; j < op->ncases; j++)
                if (j != k && op->cases[j].kind == CASE_RECV)
                    FUZZ_EXPECT(vals[j] == UINT64_MAX, "op %d: case %d not chosen was written", i, j);
            break;
        }
        case OP_CLOSE:
            rc = gort_chan_close(c);
            FUZZ_EXPECT(rc == (m->closed ? GORT_ECLOSECLOSED : GORT_OK), "op %d: close returned %d", i, rc);
            m->closed = true;
            break;
        default:
            break; /* yields and sleeps change nothing here */
        }
        for (int k = 0; k < p->nchans; k++)
            FUZZ_EXPECT(gort_chan_len(chans[k]) == model[k].len && gort_chan_cap(chans[k]) == p->cap[k],
                        "op %d: channel %d has len %zu, the model %zu", i, k, gort_chan_len(chans[k]),
                        model[k].len);
    }
    for (int k = 0; k < p->nchans; k++)
        gort_keep_alive(chans[k]);
}

/* ---- phase 2: concurrent, against the invariants ---- */

enum { SENT_PENDING = 0, SENT_OK, SENT_FAILED };

/* What a goroutine waits on: the op it is in, or -1. */
typedef struct blocked_on {
    atomic_int op;
    gort_chan *timer[FZ_MAX_CASES];
} blocked_on;

static struct {
    const fz_program *p;
    gort_chan *chans[FZ_MAX_CHANS];
    /* per (worker, channel, seq): what the send returned, and how often
     * the value was received */
    _Atomic uint8_t sent[FZ_MAX_WORKERS][FZ_MAX_CHANS][FZ_MAX_SEQ];
    atomic_uint received[FZ_MAX_WORKERS][FZ_MAX_CHANS][FZ_MAX_SEQ];
    atomic_int closes_ok[FZ_MAX_CHANS];
    blocked_on blocked[FZ_MAX_WORKERS];
    gort_waitgroup wg;
} cz;

/* Per receiver: the last seq it got from each (worker, channel). */
typedef struct fifo_view {
    uint32_t last[FZ_MAX_WORKERS][FZ_MAX_CHANS];
} fifo_view;

static void note_received(fifo_view *view, int ch, uint64_t v, bool ok)
{
    if (!ok) {
        FUZZ_EXPECT(v == 0, "a closed channel's receive gave %llx", (unsigned long long)v);
        return;
    }
    unsigned g = (unsigned)(v >> 48), vch = (unsigned)(v >> 40 & 0xff);
    uint32_t seq = (uint32_t)(v & 0xffffffffffull);
    FUZZ_EXPECT(g < FZ_MAX_WORKERS && vch == (unsigned)ch && seq > 0 && seq < FZ_MAX_SEQ,
                "a value never sent: %llx on channel %d", (unsigned long long)v, ch);
    FUZZ_EXPECT(atomic_load(&cz.sent[g][ch][seq]) != SENT_FAILED,
                "a value whose send failed arrived: %llx", (unsigned long long)v);
    FUZZ_EXPECT(seq > view->last[g][ch], "FIFO broken: seq %u after %u (worker %u, channel %d)", seq,
                view->last[g][ch], g, ch);
    view->last[g][ch] = seq;
    unsigned times = atomic_fetch_add(&cz.received[g][ch][seq], 1);
    FUZZ_EXPECT(times == 0, "value %llx received twice", (unsigned long long)v);
}

static void note_sent(int g, int ch, uint32_t seq, int rc)
{
    FUZZ_EXPECT(rc == GORT_OK || rc == GORT_ECLOSED || rc == GORT_EWOULDBLOCK, "a send returned %d", rc);
    atomic_store(&cz.sent[g][ch][seq], rc == GORT_OK ? SENT_OK : SENT_FAILED);
}

static void worker(void *arg)
{
    int g = (int)(intptr_t)arg;
    const fz_program *p = cz.p;
    gort_chan *chans[FZ_MAX_CHANS];
    memcpy(chans, cz.chans, sizeof chans);
    fifo_view view;
    memset(&view, 0, sizeof view);
    uint32_t seq[FZ_MAX_CHANS] = {0};
    blocked_on *me = &cz.blocked[g];
    for (int i = 0; i < p->nops; i++) {
        const fz_op *op = &p->ops[i];
        if (op->g != g)
            continue;
        gort_chan *c = chans[op->ch];
        uint64_t v = 0;
        bool ok = false;
        int rc;
        atomic_store(&me->op, i);
        switch (op->kind) {
        case OP_SEND:
        case OP_TRYSEND: {
            uint32_t s = ++seq[op->ch];
            v = value_of(g, op->ch, s);
            rc = op->kind == OP_SEND ? gort_chan_send(c, &v) : gort_chan_trysend(c, &v);
            note_sent(g, op->ch, s, rc);
            break;
        }
        case OP_RECV:
            rc = gort_chan_recv(c, &v, &ok);
            FUZZ_EXPECT(rc == GORT_OK, "recv returned %d", rc);
            note_received(&view, op->ch, v, ok);
            break;
        case OP_TRYRECV:
            rc = gort_chan_tryrecv(c, &v, &ok);
            if (rc != GORT_EWOULDBLOCK)
                note_received(&view, op->ch, v, ok);
            break;
        case OP_SELECT: {
            gort_select_case cases[FZ_MAX_CASES];
            uint64_t vals[FZ_MAX_CASES];
            uint32_t seqs[FZ_MAX_CASES];
            for (int k = 0; k < op->ncases; k++) {
                const fz_case *fc = &op->cases[k];
                me->timer[k] = NULL;
                vals[k] = 0;
                if (fc->kind == CASE_SEND) {
                    seqs[k] = ++seq[fc->ch];
                    vals[k] = value_of(g, fc->ch, seqs[k]);
                    cases[k] = GORT_SEND_CASE(chans[fc->ch], &vals[k]);
                } else if (fc->kind == CASE_RECV) {
                    cases[k] = GORT_RECV_CASE(chans[fc->ch], &vals[k]);
                } else if (fc->kind == CASE_TIMER) {
                    me->timer[k] = gort_after((int64_t)(fc->ch + 1) * (FZ_MAX_SLEEP_NS / FZ_MAX_CHANS));
                    FUZZ_EXPECT(me->timer[k] != NULL, "gort_after failed");
                    cases[k] = GORT_RECV_CASE(me->timer[k], NULL);
                } else {
                    cases[k] = GORT_RECV_CASE(NULL, NULL);
                }
            }
            rc = gort_select(cases, op->ncases, op->has_default);
            FUZZ_EXPECT(rc == GORT_SELECT_DEFAULT || rc == -GORT_ECLOSED || (rc >= 0 && rc < op->ncases),
                        "select returned %d", rc);
            FUZZ_EXPECT(rc != GORT_SELECT_DEFAULT || op->has_default, "default without a default case");
            for (int k = 0; k < op->ncases; k++) {
                const fz_case *fc = &op->cases[k];
                if (fc->kind == CASE_SEND)
                    note_sent(g, fc->ch, seqs[k], k == rc ? GORT_OK : GORT_ECLOSED);
                else if (fc->kind == CASE_RECV && k == rc)
                    note_received(&view, fc->ch, vals[k], cases[k].ok);
                else if (fc->kind == CASE_RECV)
                    FUZZ_EXPECT(vals[k] == 0, "a case not chosen was written");
                else if (fc->kind == CASE_NIL)
                    FUZZ_EXPECT(k != rc, "a nil case was chosen");
            }
            break;
        }
        case OP_CLOSE:
            rc = gort_chan_close(c);
            FUZZ_EXPECT(rc == GORT_OK || rc == GORT_ECLOSECLOSED, "close returned %d", rc);
            if (rc == GORT_OK)
                atomic_fetch_add(&cz.closes_ok[op->ch], 1);
            break;
        case OP_YIELD:
            gort_yield();
            break;
        case OP_SLEEP:
            gort_sleep(op->sleep_ns);
            break;
        }
        atomic_store(&me->op, -1);
    }
    gort_waitgroup_done(&cz.wg);
}

static void run_concurrent(void *arg)
{
    (void)arg;
    const fz_program *p = cz.p;
    gort_chan *chans[FZ_MAX_CHANS] = {NULL};
    for (int c = 0; c < p->nchans; c++) {
        chans[c] = gort_chan_make_bytes(sizeof(uint64_t), p->cap[c]);
        FUZZ_EXPECT(chans[c] != NULL, "channel %d", c);
    }
    memcpy(cz.chans, chans, sizeof chans);
    gort_waitgroup_add(&cz.wg, p->nworkers);
    for (int g = 0; g < p->nworkers; g++) {
        atomic_store(&cz.blocked[g].op, -1);
        FUZZ_EXPECT(gort_go(worker, (void *)(intptr_t)g) == GORT_OK, "gort_go");
    }
    gort_waitgroup_wait(&cz.wg);
    fifo_view view;
    memset(&view, 0, sizeof view);
    for (int c = 0; c < p->nchans; c++) {
        if (gort_chan_close(chans[c]) == GORT_OK)
            atomic_fetch_add(&cz.closes_ok[c], 1);
        uint64_t v;
        bool ok = true;
        while (ok) {
            FUZZ_EXPECT(gort_chan_recv(chans[c], &v, &ok) == GORT_OK, "drain");
            note_received(&view, c, v, ok);
        }
    }
}

/* After a deadlock: no blocked goroutine's operation can proceed. */
static void check_deadlock_is_real(const fz_program *p)
{
    /* per channel, a bit per worker waiting to receive (send) on it */
    unsigned recv_waits[FZ_MAX_CHANS] = {0}, send_waits[FZ_MAX_CHANS] = {0};
    for (int g = 0; g < p->nworkers; g++) {
        int i = atomic_load(&cz.blocked[g].op);
        if (i < 0)
            continue;
        const fz_op *op = &p->ops[i];
        unsigned bit = 1u << g;
        if (op->kind == OP_SEND)
            send_waits[op->ch] |= bit;
        else if (op->kind == OP_RECV)
            recv_waits[op->ch] |= bit;
        else if (op->kind == OP_SELECT)
            for (int k = 0; k < op->ncases; k++) {
                if (op->cases[k].kind == CASE_SEND)
                    send_waits[op->cases[k].ch] |= bit;
                if (op->cases[k].kind == CASE_RECV)
                    recv_waits[op->cases[k].ch] |= bit;
                FUZZ_EXPECT(op->cases[k].kind != CASE_TIMER || gort_chan_len(cz.blocked[g].timer[k]) == 0,
                            "deadlock reported with a fired timer's value waiting");
            }
        else
            FUZZ_EXPECT(false, "deadlock reported while worker %d was in op %d of kind %d", g, i,
                        op->kind);
    }
    for (int c = 0; c < p->nchans; c++) {
        size_t len = gort_chan_len(cz.chans[c]);
        FUZZ_EXPECT(!recv_waits[c] || len == 0, "deadlock reported with a receiver waiting on "
                                                "channel %d holding %zu values", c, len);
        FUZZ_EXPECT(!send_waits[c] || len == p->cap[c], "deadlock reported with a sender waiting on "
                                                        "channel %d with room", c);
        /* A select never pairs with itself: a sender and a receiver that
         * could meet are two different workers. */
        bool pair = recv_waits[c] != 0 && send_waits[c] != 0 &&
                    !(recv_waits[c] == send_waits[c] && (recv_waits[c] & (recv_waits[c] - 1)) == 0);
        FUZZ_EXPECT(!(pair && p->cap[c] == 0),
                    "deadlock reported with a sender and a receiver waiting on channel %d", c);
    }
}

static void check_accounting(const fz_program *p, bool deadlocked)
{
    for (int c = 0; c < p->nchans; c++) {
        /* The main goroutine closes every channel unless the workers
         * deadlocked first. */
        int closes = atomic_load(&cz.closes_ok[c]);
        FUZZ_EXPECT(deadlocked ? closes <= 1 : closes == 1, "channel %d closed successfully %d times",
                    c, closes);
    }
    for (int g = 0; g < p->nworkers; g++)
        for (int c = 0; c < p->nchans; c++)
            for (int s = 1; s < FZ_MAX_SEQ; s++) {
                unsigned sent = atomic_load(&cz.sent[g][c][s]);
                unsigned got = atomic_load(&cz.received[g][c][s]);
                FUZZ_EXPECT(got <= 1, "value received %u times", got);
                if (sent == SENT_FAILED || sent == SENT_PENDING)
                    FUZZ_EXPECT(got == 0 || (deadlocked && sent == SENT_PENDING),
                                "a value not sent (worker %d, channel %d, seq %d) was received", g, c, s);
                else if (!deadlocked)
                    FUZZ_EXPECT(got == 1, "a value sent (worker %d, channel %d, seq %d) was lost", g,
                                c, s);
            }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_program p;
    decode(&p, data, size);

    seq_program = &p;
    gort_config cfg = {.procs = 1};
    int rc = gort_main(&cfg, run_sequential, NULL);
    FUZZ_EXPECT(rc == GORT_OK, "the sequential run returned %d", rc);

    memset(&cz, 0, sizeof cz);
    cz.p = &p;
    cfg.procs = p.procs;
    rc = gort_main(&cfg, run_concurrent, NULL);
    FUZZ_EXPECT(rc == GORT_OK || rc == GORT_EDEADLOCK, "the concurrent run returned %d", rc);
    if (rc == GORT_EDEADLOCK)
        check_deadlock_is_real(&p);
    check_accounting(&p, rc == GORT_EDEADLOCK);
    return 0;
}
