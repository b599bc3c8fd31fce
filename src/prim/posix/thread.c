/*
 * prim/posix/thread.c — thread services both platforms get from POSIX
 * threads (Emscripten's pthreads are Web Workers): starting, joining and
 * ending the runtime's threads, and a hook for any thread's end.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../../runtime.h"
#include "../prim.h"

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

static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool exit_key_made;
static void (*_Atomic exit_fn)(void *);

/* pthread runs a key's destructor at a thread's end when its value is set. */
static void exit_hook(void *arg)
{
    void (*fn)(void *) = atomic_load(&exit_fn);
    if (fn != NULL)
        fn(arg);
}

static void exit_key_make(void) { exit_key_made = pthread_key_create(&exit_key, exit_hook) == 0; }

bool prim_thread_at_exit(void (*fn)(void *), void *arg)
{
    pthread_once(&exit_key_once, exit_key_make);
    if (!exit_key_made)
        return false;
    void (*none)(void *) = NULL;
    atomic_compare_exchange_strong(&exit_fn, &none, fn);
    return pthread_setspecific(exit_key, arg) == 0;
}
