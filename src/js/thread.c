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
 * A pthread is adopted again once its worker is done with it: a worker that
 * detaches gives it back, and so does the realm that cleans up after a
 * worker that ended without detaching (gort_js_thread_reap; its thread was
 * asleep in a blocking operation, and what its stack and thread-local
 * variables still hold, the next worker's attachment sets anew). Given
 * back, it goes to an empty slot, else to the spares, where filling the
 * slots looks first; with both full (JS_SPARE_THREADS workers gone and
 * none come since) it is kept nowhere: its memory (the stack, about
 * ADOPTED_STACK_SIZE) is not reused.
 *
 * Invariants: a slot or a spare holds 0 or a pthread no worker has adopted,
 * and a pthread is in at most one of them; a worker takes one by swapping
 * its slot to 0 (JS, Atomics), filling takes a spare the same way; adopted
 * pthreads never exit, so their memory is never freed under a worker.
 */
#include <emscripten/emscripten.h>
#include <pthread.h>
#include <stdbool.h>

#include "bridge.h"

/* Stack of a worker's thread: the runtime's calls need little; a worker's
 * JS runs on its own engine stack. */
#define ADOPTED_STACK_SIZE ((size_t)128 << 10)

/* Never runs: its address marks the pthreads made for adoption. */
static void *adopted_thread(void *arg) { return arg; }

EMSCRIPTEN_KEEPALIVE uintptr_t gort_js_adopted_start(void) { return (uintptr_t)adopted_thread; }

/* Puts t into the first empty word of words[0 .. n); false when all are full. */
static bool put_in(_Atomic uint32_t *words, int n, uint32_t t)
{
    for (int i = 0; i < n; i++) {
        uint32_t empty = 0;
        if (atomic_compare_exchange_strong(&words[i], &empty, t))
            return true;
    }
    return false;
}

/* A pthread given back earlier, or 0. */
static uint32_t take_spare(js_runtime_state *state)
{
    for (int i = 0; i < JS_SPARE_THREADS; i++) {
        if (atomic_load_explicit(&state->spare_threads[i], memory_order_relaxed) == 0)
            continue;
        uint32_t t = atomic_exchange(&state->spare_threads[i], 0);
        if (t != 0)
            return t;
    }
    return 0;
}

/* Fills every empty slot with a pthread to adopt (given back, else fresh); returns how many
 * slots it filled. From any thread of the module, several at once. */
EMSCRIPTEN_KEEPALIVE int gort_js_slots_fill(js_runtime_state *state)
{
    JS_CALL;
    int filled = 0;
    for (int i = 0; i < JS_THREAD_SLOTS; i++) {
        if (atomic_load(&state->slots[i]) != 0)
            continue;
        uint32_t t = take_spare(state);
        if (t == 0) {
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setstacksize(&attr, ADOPTED_STACK_SIZE);
            pthread_t made;
            int err = pthread_create(&made, &attr, adopted_thread, NULL);
            pthread_attr_destroy(&attr);
            if (err != 0)
                break;
            t = (uint32_t)(uintptr_t)made;
        }
        /* Another thread may fill slots meanwhile: t goes to the first that
         * is still empty, or back to the spares. */
        if (put_in(state->slots + i, JS_THREAD_SLOTS - i, t))
            filled++;
        else
            put_in(state->spare_threads, JS_SPARE_THREADS, t);
    }
    return filled;
}

void js_thread_give_back(js_runtime_state *state, uint32_t thread)
{
    if (thread != 0 && !put_in(state->slots, JS_THREAD_SLOTS, thread))
        put_in(state->spare_threads, JS_SPARE_THREADS, thread);
}
