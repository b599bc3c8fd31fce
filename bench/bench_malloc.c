/*
 * bench_malloc.c — allocation throughput of gort against the system
 * allocator (glibc natively, Emscripten's dlmalloc on wasm), in the shape of
 * the Go peer program: allocate N pointer-free objects of 16, 64 or 256 bytes,
 * write the first byte, keep the last 1024 in a ring; on 1 thread and with the
 * N allocations split over 2 threads (wall-clock ns per allocation).
 *
 * gort has no collector yet, so its objects are never freed: it allocates
 * fresh memory throughout, and N is kept small enough to fit in wasm32. The
 * system allocator frees the object leaving the ring, as Go's collector would.
 *
 * Prints one line per figure: RESULT <name> <value> <unit>.
 */
#define _POSIX_C_SOURCE 200809L
#include <gort/gort.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 1024
#define ALLOCS_PER_RUN 1000000

enum allocator { GORT, SYSTEM };

struct job {
    enum allocator which;
    size_t size;
    long n;
    long checksum;
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *run_job(void *arg)
{
    struct job *j = arg;
    unsigned char *ring[RING] = {0};
    if (j->which == GORT) {
        for (long i = 0; i < j->n; i++) {
            unsigned char *p = gort_alloc_bytes(j->size);
            p[0] = (unsigned char)i;
            ring[i & (RING - 1)] = p;
        }
    } else {
        for (long i = 0; i < j->n; i++) {
            unsigned char **slot = &ring[i & (RING - 1)];
            free(*slot);
            unsigned char *p = malloc(j->size);
            p[0] = (unsigned char)i;
            *slot = p;
        }
    }
    for (int i = 0; i < RING; i++)
        j->checksum += ring[i] ? ring[i][0] : 0;
    if (j->which == SYSTEM)
        for (int i = 0; i < RING; i++)
            free(ring[i]);
    return NULL;
}

static double measure(enum allocator which, size_t size, int threads)
{
    struct job jobs[2];
    pthread_t tids[2];
    long per_thread = ALLOCS_PER_RUN / threads;
    double start = now_ns();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct job){which, size, per_thread, 0};
        if (threads == 1)
            run_job(&jobs[t]);
        else
            pthread_create(&tids[t], NULL, run_job, &jobs[t]);
    }
    if (threads > 1)
        for (int t = 0; t < threads; t++)
            pthread_join(tids[t], NULL);
    double elapsed = now_ns() - start;
    return elapsed / (double)(per_thread * threads);
}

int main(void)
{
    static const size_t sizes[] = {16, 64, 256};
    /* Warm up both allocators (and, for gort, map the first arenas). */
    measure(GORT, 64, 1);
    measure(SYSTEM, 64, 1);
    for (int s = 0; s < 3; s++) {
        for (int threads = 1; threads <= 2; threads++) {
            const char *suffix = threads == 1 ? "p1" : "par2";
            printf("RESULT gort_alloc_%zu_%s %.2f ns/alloc\n", sizes[s], suffix,
                   measure(GORT, sizes[s], threads));
            printf("RESULT system_malloc_%zu_%s %.2f ns/alloc\n", sizes[s], suffix,
                   measure(SYSTEM, sizes[s], threads));
            fflush(stdout);
        }
    }
    gort_flush_cache();
    gort_memstats st;
    gort_read_memstats(&st);
    printf("INFO gort heap_sys=%lluMB mallocs=%llu\n", (unsigned long long)(st.heap_sys >> 20),
           (unsigned long long)st.mallocs);
    return 0;
}
