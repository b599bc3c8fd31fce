/*
 * prim/posix/thread.c — thread services both platforms get from POSIX
 * threads (Emscripten's pthreads are Web Workers): starting, joining and
 * ending the runtime's threads.
 */
#include <pthread.h>
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
