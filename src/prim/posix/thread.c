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

/*
 * A few hooks for a thread's end, each a pthread key whose destructor
 * (pthread runs it at a thread's end when the thread set a value) calls
 * its fn. A hook's fn is set once, under hooks_lock; its key is made
 * before the fn is published.
 */
#define EXIT_HOOKS 4

static struct {
    void (*_Atomic fn)(void *);
    pthread_key_t key;
} hooks[EXIT_HOOKS];
static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;

static void run_hook(int i, void *arg)
{
    void (*fn)(void *) = atomic_load_explicit(&hooks[i].fn, memory_order_acquire);
    if (fn != NULL)
        fn(arg);
}

static void hook0(void *arg) { run_hook(0, arg); }
static void hook1(void *arg) { run_hook(1, arg); }
static void hook2(void *arg) { run_hook(2, arg); }
static void hook3(void *arg) { run_hook(3, arg); }
static void (*const hook_destructors[EXIT_HOOKS])(void *) = {hook0, hook1, hook2, hook3};

/* fn's hook, made on its first use; -1 when none can be had. */
static int hook_of(void (*fn)(void *))
{
    for (int i = 0; i < EXIT_HOOKS; i++)
        if (atomic_load_explicit(&hooks[i].fn, memory_order_acquire) == fn)
            return i;
    int found = -1;
    pthread_mutex_lock(&hooks_lock);
    for (int i = 0; i < EXIT_HOOKS && found < 0; i++) {
        void (*had)(void *) = atomic_load_explicit(&hooks[i].fn, memory_order_relaxed);
        if (had == fn)
            found = i;
        else if (had == NULL) {
            if (pthread_key_create(&hooks[i].key, hook_destructors[i]) == 0) {
                atomic_store_explicit(&hooks[i].fn, fn, memory_order_release);
                found = i;
            }
            break;
        }
    }
    pthread_mutex_unlock(&hooks_lock);
    return found;
}

bool prim_thread_at_exit(void (*fn)(void *), void *arg)
{
    int i = hook_of(fn);
    return i >= 0 && pthread_setspecific(hooks[i].key, arg) == 0;
}
