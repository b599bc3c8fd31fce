/*
 * thread.c — threads for workers that attach to a runtime. A Web Worker or
 * worker_threads Worker that the user created joins the runtime as a thread
 * of the wasm module: it instantiates the module on the shared memory and
 * adopts a pthread made here, with its stack and thread pointer, as a pool
 * worker adopts the pthread it is told to run. It can then call the runtime
 * like any thread that is not a goroutine, and block in it.
 *
 * A worker cannot make its own pthread (it is not a thread of the module
 * until it has one), so slots hold pthreads made ahead of need: pthread_create
 * with adopted_thread as the start routine makes the thread's memory and
 * nothing else (lib.js keeps Emscripten from handing it to a pool worker).
 *
 * Invariants: a slot holds 0 or a pthread no worker has adopted; a worker
 * takes one by swapping the slot to 0 (JS, Atomics), and gives it back when
 * it detaches by storing it into an empty slot; adopted pthreads never
 * exit, so their memory is never freed under a worker.
 */
#include <emscripten/emscripten.h>
#include <pthread.h>

#include "bridge.h"

/* Stack of a worker's thread: the runtime's calls need little; a worker's
 * JS runs on its own engine stack. */
#define ADOPTED_STACK_SIZE ((size_t)128 << 10)

/* Never runs: its address marks the pthreads made for adoption. */
static void *adopted_thread(void *arg) { return arg; }

EMSCRIPTEN_KEEPALIVE uintptr_t gort_js_adopted_start(void) { return (uintptr_t)adopted_thread; }

/* Fills every empty slot with a fresh pthread to adopt; returns how many
 * slots it filled. From any thread of the module, several at once. */
EMSCRIPTEN_KEEPALIVE int gort_js_slots_fill(js_runtime_state *state)
{
    JS_CALL;
    int filled = 0;
    for (int i = 0; i < JS_THREAD_SLOTS; i++) {
        if (atomic_load(&state->slots[i]) != 0)
            continue;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, ADOPTED_STACK_SIZE);
        pthread_t t;
        int err = pthread_create(&t, &attr, adopted_thread, NULL);
        pthread_attr_destroy(&attr);
        if (err != 0)
            break;
        /* Another thread may fill slots meanwhile: t goes to the first that
         * is still empty. */
        for (int j = i; j < JS_THREAD_SLOTS; j++) {
            uint32_t empty = 0;
            if (atomic_compare_exchange_strong(&state->slots[j], &empty, (uint32_t)(uintptr_t)t)) {
                filled++;
                break;
            }
        }
    }
    return filled;
}
