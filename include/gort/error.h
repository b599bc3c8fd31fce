/*
 * gort/error.h — the codes gort's C API returns. Where Go panics or throws on
 * misuse, gort returns a distinct code, and the runtime stays usable; the
 * text of each code is Go's own message.
 */
#ifndef GORT_ERROR_H
#define GORT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gort_error {
    GORT_OK = 0,
    /* Every goroutine is blocked and nothing can wake one: Go's
     * "fatal error: all goroutines are asleep - deadlock!". */
    GORT_EDEADLOCK = 1,
    /* The heap, or memory for a goroutine's stack, could not grow:
     * Go's "runtime: out of memory". */
    GORT_ENOMEM = 2,
    /* An argument out of range (a stack size too small, a nil function). */
    GORT_EINVAL = 3,
    /* The call needs a running runtime, and none is running (or one already
     * is, for gort_main); or another state the call needs is not there (a
     * trace running for gort_trace_stop, none for gort_trace_start). */
    GORT_ESTATE = 4,
    /* sync.Mutex: unlock of an unlocked mutex: Go's
     * "fatal error: sync: unlock of unlocked mutex". */
    GORT_EUNLOCK = 5,
    /* sync.RWMutex: RUnlock or Unlock of an unlocked RWMutex. */
    GORT_ERUNLOCK = 6,
    /* sync.WaitGroup: the counter went below zero: Go's
     * "sync: negative WaitGroup counter". */
    GORT_ENEGATIVE = 7,
    /* The operation would have to wait: a non-blocking channel operation
     * found the channel not ready (Go's select with default), or the caller
     * may not block (a browser's main thread). */
    GORT_EWOULDBLOCK = 8,
    /* A send on a closed channel (or a select choosing a send case whose
     * channel is closed): Go's panic "send on closed channel". */
    GORT_ECLOSED = 9,
    /* close of a channel already closed: Go's panic
     * "close of closed channel". */
    GORT_ECLOSECLOSED = 10,
    /* close of the nil (NULL) channel: Go's panic "close of nil channel". */
    GORT_ECLOSENIL = 11,
    /* context: the context was cancelled (its Err): Go's context.Canceled,
     * "context canceled". */
    GORT_ECANCELED = 12,
    /* context: the context's deadline passed (its Err): Go's
     * context.DeadlineExceeded, "context deadline exceeded". */
    GORT_EDEADLINE = 13,
    /* context: a With function got no parent: Go's panic "cannot create
     * context from nil parent". */
    GORT_ENILCONTEXT = 14,
    /* context: WithValue got a NULL key: Go's panic "nil key". */
    GORT_ENILKEY = 15,
    /* sync.Map: a write (Store, LoadOrStore, Swap, CompareAndSwap) to the
     * NULL map: Go's panic for a nil map, "assignment to entry in nil map". */
    GORT_ENILMAP = 16,
    /* make(chan T) with an element type a channel cannot carry: NULL, a
     * malformed gort_type, or elements larger than GORT_CHAN_MAX_ELEM: Go's
     * panic "makechan: invalid channel element type". */
    GORT_EELEMTYPE = 17,
    /* make(chan T, n) whose buffer (n elements) is larger than a channel's
     * buffer may be: Go's panic "makechan: size out of range". */
    GORT_ECHANSIZE = 18,
    /* A stream the runtime wrote to failed (its error indicator is set;
     * errno says why): Go's io.ErrShortWrite, "short write". */
    GORT_EWRITE = 19,
} gort_error;

/* Go's text for an error code, e.g. "all goroutines are asleep - deadlock!". */
const char *gort_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
