/*
 * error.c — Go's words for gort's error codes.
 */
#include "gort/error.h"

const char *gort_strerror(int code)
{
    switch (code) {
    case GORT_OK: return "ok";
    case GORT_EDEADLOCK: return "all goroutines are asleep - deadlock!";
    case GORT_ENOMEM: return "runtime: out of memory";
    case GORT_EINVAL: return "invalid argument";
    case GORT_ESTATE: return "runtime is not in a state to do this";
    case GORT_EUNLOCK: return "sync: unlock of unlocked mutex";
    case GORT_ERUNLOCK: return "sync: Unlock of unlocked RWMutex";
    case GORT_ENEGATIVE: return "sync: negative WaitGroup counter";
    case GORT_EWOULDBLOCK: return "operation would block";
    case GORT_ECLOSED: return "send on closed channel";
    case GORT_ECLOSECLOSED: return "close of closed channel";
    case GORT_ECLOSENIL: return "close of nil channel";
    case GORT_ECANCELED: return "context canceled";
    case GORT_EDEADLINE: return "context deadline exceeded";
    case GORT_ENILCONTEXT: return "cannot create context from nil parent";
    case GORT_ENILKEY: return "nil key";
    case GORT_ENILMAP: return "assignment to entry in nil map";
    case GORT_EELEMTYPE: return "makechan: invalid channel element type";
    case GORT_ECHANSIZE: return "makechan: size out of range";
    case GORT_EWRITE: return "short write";
    default: return "unknown error";
    }
}
