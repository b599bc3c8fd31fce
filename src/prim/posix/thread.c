/*
 * prim/posix/thread.c — thread services both platforms get from POSIX
 * threads (Emscripten's pthreads are Web Workers): starting and joining the
 * runtime's threads, and the thread-exit hook.
 *
 * Invariant: the hook runs at most once per thread, from the pthread key
 * destructor, after which the thread has none.
 */
#include <pthread.h>
#include <stdlib.h>

#include "../../runtime.h"
#include "../prim.h"

struct exit_hook {
    void (*fn)(void *);
    void *arg;
};

static _Thread_local struct exit_hook thread_hook;
static pthread_key_t hook_key;
static pthread_once_t hook_key_once = PTHREAD_ONCE_INIT;

static void run_hook(void *value)
{
    struct exit_hook *h = value;
    void (*fn)(void *) = h->fn;
    h->fn = NULL;
    if (fn != NULL)
        fn(h->arg);
}

static void make_key(void)
{
    if (pthread_key_create(&hook_key, run_hook) != 0)
        gort_throw("runtime: cannot create the thread-exit key");
}

void prim_at_thread_exit(void (*fn)(void *), void *arg)
{
    pthread_once(&hook_key_once, make_key);
    thread_hook.fn = fn;
    thread_hook.arg = arg;
    pthread_setspecific(hook_key, fn != NULL ? &thread_hook : NULL);
}

bool prim_thread_start(prim_thread *t, void *(*fn)(void *), void *arg)
{
    pthread_t tid;
    if (pthread_create(&tid, NULL, fn, arg) != 0)
        return false;
    t->handle = (uintptr_t)tid;
    return true;
}

void prim_thread_join(prim_thread *t) { pthread_join((pthread_t)t->handle, NULL); }

_Noreturn void prim_thread_exit(void) { pthread_exit(NULL); }
