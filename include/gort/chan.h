/*
 * gort/chan.h — Go's channels and select, and timers as channels (Go's
 * time.After, time.NewTimer, time.NewTicker).
 *
 * A channel carries values of one element type, copied in and out through
 * pointers: the sender passes a pointer to the value, the receiver a pointer
 * to where the value goes. Channels live on the gort heap (as in Go, close is
 * not needed to free one); a buffered channel's buffer is typed by the
 * channel's gort_type, so pointers held in it are visible to the collector.
 *
 * The semantics are Go's, every one of them:
 *  - an unbuffered channel hands a value over directly: a send completes
 *    when a receiver has taken the value (the receiver copies straight from
 *    the sender's element while the sender waits);
 *  - a buffered channel queues up to cap values in order (FIFO per channel,
 *    so FIFO per sender);
 *  - the NULL channel is Go's nil channel: send and receive on it block
 *    forever (a goroutine blocked there counts for deadlock detection), a
 *    select case on it is never ready, and closing it is an error;
 *  - close wakes every waiting receiver (they get the zero value and
 *    ok = false) and every waiting sender (they get GORT_ECLOSED); receives
 *    drain a closed channel's buffer before they report ok = false;
 *  - waiters are served in arrival order, whatever kind they are:
 *    goroutines (parked, their P runs something else) and plain threads that
 *    are not goroutines (blocked on a futex; on the web, Atomics.wait, so not
 *    a browser's main thread) wait in the same queues.
 *
 * Misuse that Go reports as a panic returns a distinct code (gort/error.h,
 * gort_strerror gives Go's text) and leaves the channel and the runtime as
 * they were, usable. Every operation is a safepoint.
 *
 * Element pointers passed to a blocking call must stay valid until it
 * returns (another goroutine copies through them meanwhile); a stack
 * variable of the caller is the usual choice.
 */
#ifndef GORT_CHAN_H
#define GORT_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "malloc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A channel (Go's chan T). Opaque; NULL is the nil channel. */
typedef struct gort_chan gort_chan;

/* The largest element a channel may carry, in bytes (Go's limit: 64 KB). */
#define GORT_CHAN_MAX_ELEM ((size_t)65535)

/* The largest buffer a channel may have, in bytes (cap * element size):
 * 1 TB on 64-bit hosts, 2 GB on wasm32 (whose memory is 4 GB in all). */
#define GORT_CHAN_MAX_BUFFER ((size_t)1 << (sizeof(void *) == 8 ? 40 : 31))

/*
 * make(chan T, cap): a new channel of elements of type `elem` with a buffer
 * of `cap` elements (0: unbuffered) in *c. Returns GORT_OK, or, with *c
 * NULL (c itself must not be NULL: GORT_EINVAL):
 *  - GORT_EELEMTYPE (Go's panic "makechan: invalid channel element type")
 *    when elem is NULL or malformed (pointer words outside it, a size not
 *    made of words) or its size is over GORT_CHAN_MAX_ELEM;
 *  - GORT_ECHANSIZE (Go's panic "makechan: size out of range") when the
 *    buffer, cap * elem->size bytes, is over GORT_CHAN_MAX_BUFFER;
 *  - GORT_ENOMEM (Go's "runtime: out of memory") when the heap cannot grow
 *    to hold the channel and its buffer.
 */
int gort_chan_new(const gort_type *elem, size_t cap, gort_chan **c);

/*
 * A channel of pointer-free elements of `elemsize` bytes (ints, floats,
 * structs without heap pointers): gort_chan_new without a type. elemsize
 * may be 0 (Go's chan struct{}: only the events count). Codes as for
 * gort_chan_new (GORT_EELEMTYPE: elemsize over GORT_CHAN_MAX_ELEM).
 */
int gort_chan_new_bytes(size_t elemsize, size_t cap, gort_chan **c);

/* gort_chan_new and gort_chan_new_bytes returning the channel, or NULL for
 * any failure (gort_chan_new says which). */
gort_chan *gort_chan_make(const gort_type *elem, size_t cap);
gort_chan *gort_chan_make_bytes(size_t elemsize, size_t cap);

/*
 * c <- *elem: sends a copy of the element at `elem`, waiting until a
 * receiver takes it (unbuffered) or the buffer has room. Returns GORT_OK;
 * GORT_ECLOSED (Go's panic "send on closed channel") when c is closed, or
 * is closed while the sender waits: the value is then not sent; GORT_EINVAL
 * when elem is NULL and the elements are not zero-sized. On the nil channel
 * it blocks forever.
 */
int gort_chan_send(gort_chan *c, const void *elem);

/*
 * v, ok := <-c: waits for a value and copies it to `elem` (NULL discards
 * it). *ok (ok may be NULL) is true when the value was sent, false when c is
 * closed and drained: *elem is then zeroed. Always returns GORT_OK. On the
 * nil channel it blocks forever.
 */
int gort_chan_recv(gort_chan *c, void *elem, bool *ok);

/*
 * select { case c <- *elem: default: }: sends only if that needs no wait
 * (a receiver waits, or the buffer has room). GORT_OK when sent,
 * GORT_EWOULDBLOCK when not (always on the nil channel), GORT_ECLOSED (Go's
 * panic "send on closed channel") when c is closed, GORT_EINVAL as for
 * gort_chan_send. A channel that is obviously not ready is seen so without
 * taking its lock.
 */
int gort_chan_trysend(gort_chan *c, const void *elem);

/*
 * select { case v, ok := <-c: default: }: receives only if that needs no
 * wait (a value is buffered, a sender waits, or c is closed). GORT_OK when
 * it received (*ok as for gort_chan_recv), GORT_EWOULDBLOCK when not (always
 * on the nil channel); *elem and *ok are untouched then. Lock-free when c is
 * obviously empty.
 */
int gort_chan_tryrecv(gort_chan *c, void *elem, bool *ok);

/*
 * close(c): no more values will be sent. Waiting receivers get the zero
 * value with ok = false (after the buffer drains), waiting senders get
 * GORT_ECLOSED. Returns GORT_OK; GORT_ECLOSENIL (Go's panic "close of nil
 * channel") when c is NULL; GORT_ECLOSECLOSED (Go's panic "close of closed
 * channel") when c is already closed — nothing changes then.
 */
int gort_chan_close(gort_chan *c);

/* len(c): values buffered now (0 for NULL or unbuffered). */
size_t gort_chan_len(const gort_chan *c);

/* cap(c): the buffer's size in elements (0 for NULL or unbuffered). */
size_t gort_chan_cap(const gort_chan *c);

/* The size of c's elements in bytes (0 for NULL). */
size_t gort_chan_elemsize(const gort_chan *c);

/* ---- select ---- */

typedef enum gort_select_dir {
    GORT_SELECT_RECV = 0, /* case v, ok := <-chan */
    GORT_SELECT_SEND = 1, /* case chan <- *elem */
} gort_select_dir;

/* One case of a select. */
typedef struct gort_select_case {
    gort_chan *chan;     /* NULL: the case is never ready (Go's nil channel) */
    gort_select_dir dir;
    /* Send: the value to send. Receive: where the value goes (NULL
     * discards it); written only when this case is the one chosen. */
    void *elem;
    /* Out, for the chosen case only. Receive: true when the value was
     * sent, false when it is the zero value of a closed channel. Send: true
     * when sent, false when the channel was closed (-GORT_ECLOSED). */
    bool ok;
} gort_select_case;

/* Case initializers: GORT_SEND_CASE(c, &v), GORT_RECV_CASE(c, &v). */
#define GORT_SEND_CASE(c, elem_ptr) \
    ((gort_select_case){.chan = (c), .dir = GORT_SELECT_SEND, .elem = (void *)(elem_ptr)})
#define GORT_RECV_CASE(c, elem_ptr) \
    ((gort_select_case){.chan = (c), .dir = GORT_SELECT_RECV, .elem = (elem_ptr)})

/* gort_select's result when it took the default branch. */
#define GORT_SELECT_DEFAULT (-1)

/* The most cases one select may have (Go's limit). */
#define GORT_SELECT_MAX_CASES 65536

/*
 * Go's select statement over cases[0..ncases). If one or more cases can
 * proceed now, one of them chosen uniformly at random proceeds; otherwise,
 * with has_default, it returns GORT_SELECT_DEFAULT at once; without, it
 * waits until some case can proceed, and the first to become ready is the
 * one that proceeds (the others are withdrawn). With no case (or only nil
 * channels) and no default it blocks forever, as `select {}`. The same
 * channel may appear in several cases, in either direction.
 *
 * Returns the index of the case that proceeded (its `ok` set as above);
 * GORT_SELECT_DEFAULT; -GORT_ECLOSED (Go's panic "send on closed channel")
 * when the case chosen is a send on a closed channel (that case's ok is
 * false, nothing was sent); -GORT_EINVAL when ncases is negative or above
 * GORT_SELECT_MAX_CASES, cases is NULL with ncases > 0, a dir is unknown, or
 * a send case has a NULL elem on a channel of non-zero-size elements;
 * -GORT_ENOMEM when a select of over 16 cases cannot have the memory for
 * its orders (nothing proceeded).
 */
int gort_select(gort_select_case *cases, int ncases, bool has_default);

/* ---- timers as channels ---- */

/*
 * time.After(ns): a channel (capacity 1) that receives one int64_t, the
 * monotonic time (gort_nanotime) at which it fired, once ns nanoseconds have
 * passed (at once for ns <= 0). For select timeouts. Needs a running
 * runtime (timers run in its scheduler): NULL without one, or when the heap
 * cannot grow. The channel and its timer live until the timer fires; in a
 * loop, prefer a gort_timer and reset it.
 */
gort_chan *gort_after(int64_t ns);

/*
 * time.Timer: a one-shot timer whose channel (capacity 1) receives the
 * monotonic time when it fires. NULL as for gort_after.
 */
typedef struct gort_timer gort_timer;
gort_timer *gort_timer_make(int64_t ns);
/* The channel the timer sends on (its C field in Go). */
gort_chan *gort_timer_chan(const gort_timer *t);
/* Timer.Stop: prevents the firing; true when it was still pending (false:
 * it had fired or was stopped). Does not drain the channel. Once it has
 * returned, no firing of an earlier arming is in progress. */
bool gort_timer_stop(gort_timer *t);
/* Timer.Reset: fires ns from now; true when it was pending. As in Go, call
 * it on a stopped or fired timer whose channel was drained. Without a
 * running runtime (the timer's stopped with the runtime that made it) it
 * does nothing and returns false. */
bool gort_timer_reset(gort_timer *t, int64_t ns);

/*
 * time.Ticker: a channel (capacity 1) that receives the monotonic time
 * every period_ns nanoseconds. A slow receiver misses ticks (the send never
 * waits): it is never handed a burst. NULL when period_ns <= 0 (Go's panic
 * "non-positive interval for NewTicker"), without a running runtime, or
 * when the heap cannot grow.
 */
typedef struct gort_ticker gort_ticker;
gort_ticker *gort_ticker_make(int64_t period_ns);
gort_chan *gort_ticker_chan(const gort_ticker *t);
/* Ticker.Stop: no more ticks (a tick already buffered stays there). */
void gort_ticker_stop(gort_ticker *t);
/* Ticker.Reset: stops it and starts ticking every period_ns from now.
 * GORT_OK, or GORT_EINVAL (Go's panic "non-positive interval for
 * Ticker.Reset") when period_ns <= 0, GORT_ESTATE without a running
 * runtime: the ticker is unchanged then. */
int gort_ticker_reset(gort_ticker *t, int64_t period_ns);

#ifdef __cplusplus
}
#endif

#endif
